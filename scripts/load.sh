#!/usr/bin/env bash
# Ingest load test of the sidecar: `wasp run` (release build) with one
# ForgeRock JSON file handler, driven by wrk (Debian's `wrk` package) with
# single JSON events and with NDJSON batches. Prints wrk's figures and the
# events per second; docs/benchmarks.md has the results.
# Usage: scripts/load.sh [SECONDS] [CONNECTIONS] [BATCH] [DURABILITY]
#   DURABILITY: the journal's (`process`, the default, or `memory`, `fsync`).
#   WASP_BIN=path runs that binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-16}
export WASP_LOAD_BATCH=${3:-1000}
durability=${4:-process}
export WASP_LOAD_TOKEN=load-test-token

command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo; $sudo apt-get install -y wrk >/dev/null; }
if [ -n "${WASP_BIN:-}" ]; then
    WASP=$WASP_BIN
else
    cargo build --locked --release -p wasp --bin wasp
    WASP=$PWD/target/release/wasp
fi

dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
hash=$("$WASP" sidecar hash-token "$WASP_LOAD_TOKEN")
cat > "$dir/audit.json" <<JSON
{
  "eventHandlers": [{"class": "JsonAuditEventHandler",
                     "config": {"name": "json", "logDirectory": "logs", "topics": ["access"],
                                "buffering": {"maxSize": 10000, "writeInterval": "50 ms"}}}],
  "wasp": {"journal": {"durability": "$durability", "maxEvents": 1000000, "maxBytes": "1 GiB"},
           "sidecar": {"adminToken": "$hash", "maxBodyBytes": "64 MiB", "maxBatchEvents": 100000}}
}
JSON
( cd "$dir" && exec "$WASP" run --config audit.json --listen 127.0.0.1:0 2>"$dir/run.log" ) &
pid=$!
for _ in $(seq 1 300); do grep -q 'listening on' "$dir/run.log" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^wasp run: listening on //p' "$dir/run.log")
echo "wasp run at $url ($durability journal); $(nproc) CPUs; wrk with 2 threads, $connections connections, ${seconds}s each"

run() { # label script
    local out
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "scripts/load/$2" "$url/audit/access")
    echo "== $1"
    echo "$out" | grep -E 'Latency|50%|90%|99%|Requests/sec|requests in|Non-2xx'
    local rps
    rps=$(echo "$out" | sed -n 's/^Requests\/sec: *//p')
    if [ "$2" = batch.lua ]; then
        echo "events/s: $(awk -v r="$rps" -v b="$WASP_LOAD_BATCH" 'BEGIN { printf "%.0f", r * b }')"
    else
        echo "events/s: $rps"
    fi
}
run "single events (POST one JSON event per request)" single.lua
run "NDJSON batches of $WASP_LOAD_BATCH events" batch.lua

kill -TERM $pid
wait $pid || true
grep '^wasp run: handler' "$dir/run.log"
lines=$(wc -l < "$dir/wasp-data/logs/access.audit.json")
echo "events in the JSON file: $lines"
