#!/usr/bin/env bash
# Exports with proofs, timed (issue 21): writes N events through a
# tamper-evident JSON handler (`wasp pipe`, rotating every 4 MiB), then
# times `wasp export` of all of them and of a third, and `wasp
# verify-export` of each. Builds nothing: pass a wasp binary (a release
# build for meaningful figures: `cargo build --release -p wasp --bin wasp`).
# Usage: scripts/bench-export.sh PATH/TO/wasp [N=100000]
# Prints one line per step with its wall time; exits non-zero when a step
# fails. Works in a temporary directory, removed at the end.
set -euo pipefail

wasp=${1:?usage: scripts/bench-export.sh PATH/TO/wasp [N]}
n=${2:-100000}
wasp=$(cd "$(dirname "$wasp")" && pwd)/$(basename "$wasp")
[ -x "$wasp" ] || { echo "$wasp is not an executable" >&2; exit 2; }
case $n in '' | *[!0-9]*) echo "N must be a whole number (got $n)" >&2; exit 2 ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/wasp-bench-export.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir keys
"$wasp" keygen --out keys/audit.key >/dev/null
cat > audit.json <<'JSON'
{
  "config": {"handlerForQueries": "signed"},
  "eventHandlers": [{"class": "JsonAuditEventHandler", "config": {
    "name": "signed", "logDirectory": "logs", "topics": ["access"],
    "buffering": {"maxSize": 10000},
    "fileRotation": {"rotationEnabled": true, "maxFileSize": 4194304, "rotationFileSuffix": "-yyyy.MM.dd-HH.mm.ss.SSS"},
    "security": {"enabled": true, "filename": "keys/audit.key", "signatureInterval": "1 second"}
  }}]
}
JSON
awk -v n="$n" 'BEGIN {
  for (i = 0; i < n; i++) {
    user = (i % 3 == 0) ? "bjensen" : "user-" i % 1000
    printf "{\"_id\":\"e%d\",\"timestamp\":\"2026-12-05T10:00:00.000Z\",\"eventName\":\"AM-ACCESS-OUTCOME\",\"transactionId\":\"t%d\",\"userId\":\"%s\",\"response\":{\"status\":\"SUCCESSFUL\",\"statusCode\":\"200\"}}\n", i, i, user
  }
}' > events.ndjson

# Seconds (3 decimals) a command takes; its output goes to step.log.
timed() {
  local started ended
  started=$(date +%s.%N)
  if ! "$@" > step.log 2>&1; then
    cat step.log >&2
    echo "FAILED: $*" >&2
    exit 1
  fi
  ended=$(date +%s.%N)
  awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.3f", b - a }'
}

export RUST_BACKTRACE=0
t=$(timed "$wasp" pipe --config audit.json --topic access --input events.ndjson)
echo "write $n events through the signed JSON handler: $t s ($(ls wasp-data/logs | wc -l) log files, $(du -sh wasp-data/logs | cut -f1))"
t=$(timed "$wasp" export --config audit.json --topic access --filter true --out all.ndjson)
echo "wasp export, all $n events: $t s ($(du -h all.ndjson | cut -f1))"
t=$(timed "$wasp" verify-export all.ndjson --key keys/audit.key)
echo "wasp verify-export, all: $t s ($(grep -c '^PASS' step.log) PASS)"
t=$(timed "$wasp" export --config audit.json --topic access --filter 'userId eq "bjensen"' --out bjensen.ndjson)
echo "wasp export, userId eq \"bjensen\" (a third): $t s"
t=$(timed "$wasp" verify-export bjensen.ndjson --key keys/audit.key)
echo "wasp verify-export, a third: $t s"
