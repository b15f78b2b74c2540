#!/usr/bin/env bash
# The WASP test suite: installs what it needs, then builds and runs every test.
# Usage: scripts/test.sh   (from anywhere; needs a Rust toolchain via rustup)
set -euo pipefail
cd "$(dirname "$0")/.."

# The guests and samples are built for WebAssembly components (WASI 0.2).
rustup target add wasm32-wasip2

# RUST_BACKTRACE=1 makes every guest trap capture a native backtrace: slow and noisy.
export RUST_BACKTRACE=0

# The Python and JavaScript guests (componentize-py, componentize-js, pinned)
# are built from source; their tests fail under CI=true if they are missing.
bash scripts/build-guests.sh

# The integration tests run the `wasp` binary, so build it first.
cargo build --locked -p wasp --bin wasp
cargo test --locked --workspace
