#!/usr/bin/env bash
# The peer benchmark (issue 20): the same audit-handler logic in native Rust,
# VRL, LuaJIT, Rhai and WASP, side by side in one process; prints ns/event
# and the ratio of each to native typed Rust (results: docs/benchmarks.md).
# Usage: scripts/bench-peers.sh [ROUNDS]
# The first build compiles VRL, LuaJIT and Rhai (several minutes); the test
# suite never builds them (benches/peers is not a default member and
# scripts/test.sh excludes it).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
cargo build --locked --profile guest --target wasm32-wasip2 -p peers-guest --target-dir target/guests
cargo build --locked --release -p wasp-bench-peers
# RUST_BACKTRACE=1 makes traps capture backtraces; none is expected, but keep
# the engine in its production setting.
RUST_BACKTRACE=0 target/release/bench-peers target/guests/wasm32-wasip2/guest/peers_guest.wasm "$@"
