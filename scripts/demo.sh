#!/usr/bin/env bash
# The WASP demo: builds the Access Anywhere sample handler and the `wasp`
# binary, runs sample audit events through it, and shows where they went.
# Usage: scripts/demo.sh   (from anywhere; needs a Rust toolchain via rustup)
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-wasip2
echo "==> building the sample handler (Rust → wasm32-wasip2 component)"
cargo build --locked --profile guest --target wasm32-wasip2 -p access-anywhere-file --target-dir target/guests
mkdir -p examples/access-anywhere/handlers
cp target/guests/wasm32-wasip2/guest/access_anywhere_file.wasm examples/access-anywhere/handlers/
echo "==> building wasp"
cargo build --locked --release -p wasp --bin wasp
WASP=target/release/wasp

echo "==> wasp check"
"$WASP" check examples/access-anywhere/handlers/access_anywhere_file.wasm

echo "==> wasp keygen (the key of the tamper-evident JSON handler; kept outside its log directory)"
mkdir -p examples/access-anywhere/keys
[ -f examples/access-anywhere/keys/audit.key ] || "$WASP" keygen --out examples/access-anywhere/keys/audit.key

echo "==> wasp pipe (events: examples/access-anywhere/events.ndjson)"
rm -rf examples/access-anywhere/wasp-data/access-anywhere examples/access-anywhere/wasp-data/json-audit examples/access-anywhere/wasp-data/integrity
"$WASP" pipe --config examples/access-anywhere/audit.json --input examples/access-anywhere/events.ndjson

out=examples/access-anywhere/wasp-data/access-anywhere/audit.log
echo "==> the handler's output, $out:"
cat "$out"

echo "==> the built-in JSON handler (ForgeRock's JsonAuditEventHandler, tamper-evident): wasp verify"
"$WASP" verify examples/access-anywhere/wasp-data/json-audit --topic access --key examples/access-anywhere/keys/audit.key --suffix=-yyyy.MM.dd-HH.mm.ss.gz

echo "==> wasp query: failed logins (handlerForQueries: json-audit)"
"$WASP" query --config examples/access-anywhere/audit.json --topic authentication --filter 'result eq "failed"'
