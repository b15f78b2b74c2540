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

echo "==> wasp pipe (events: examples/access-anywhere/events.ndjson)"
rm -rf examples/access-anywhere/wasp-data/access-anywhere
"$WASP" pipe --config examples/access-anywhere/audit.json --input examples/access-anywhere/events.ndjson

out=examples/access-anywhere/wasp-data/access-anywhere/audit.log
echo "==> the handler's output, $out:"
cat "$out"
