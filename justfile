# WASP recipes; each mirrors a script so nothing needs `just` installed.

# Build the sample handler and run sample events through it.
demo:
    bash scripts/demo.sh

# Install what the tests need and run the whole suite.
test:
    bash scripts/test.sh

# Build every test guest and sample to wasm32-wasip2 (target/guests/).
guests:
    cargo build --profile guest --target wasm32-wasip2 -p access-anywhere-file -p ezpublish-trail -p probe -p keep-all-filter -p miscount -p not-a-handler --target-dir target/guests

# The peer benchmark: the same handler logic in native Rust, VRL, LuaJIT,
# Rhai and WASP, side by side (release build; docs/benchmarks.md).
bench-peers *ROUNDS:
    bash scripts/bench-peers.sh {{ROUNDS}}

# API docs of the runtime and the guest SDK, warnings are errors.
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p wasp -p wasp-guest

# Everything CI runs.
ci:
    bash .ci/run
