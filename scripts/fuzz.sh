#!/usr/bin/env bash
# Fuzzing: builds the fuzz targets of fuzz/ (cargo fuzz, libFuzzer,
# coverage-guided) and runs each for a bounded time, starting from its seeds
# (fuzz/corpus/<target>/) and every crash found before
# (fuzz/regressions/<target>/). Prints, per target, the inputs tried and the
# crashes found; exits 1 if any target crashed (the input is kept under
# fuzz/artifacts/<target>/: fix the bug, then move the input to
# fuzz/regressions/<target>/ so `cargo test` replays it forever).
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#        (default: 25 seconds, every target)
#
# Needs only the stable toolchain: the targets are built with
# `--sanitizer none` (AddressSanitizer needs nightly's -Zsanitizer; safe
# Rust needs it little), so libFuzzer's coverage instrumentation
# (-Cpasses=sancov-module, stable flags) is all there is.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-25}
shift || true
all=(ingest config query csv segment log_recovery verify)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

export RUST_BACKTRACE=0
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

cd fuzz
# The targets build in the repository's target/ (ignored by git, reused by
# later runs); fuzz/Cargo.lock is kept as committed.
target_dir=$(cd .. && pwd)/target/fuzz
cargo metadata --locked --format-version 1 -q >/dev/null
started=$(date +%s)
cargo fuzz build -O --sanitizer none --codegen-units 16 --target-dir "$target_dir"
echo "fuzz: targets built in $(( $(date +%s) - started )) s"

bin_dir=$target_dir/x86_64-unknown-linux-gnu/release
failed=()
total_inputs=0
for target in "${targets[@]}"; do
    # libFuzzer adds what it finds to the first corpus directory: a scratch
    # copy, so the committed seeds stay as they are.
    work=$target_dir/corpus/$target
    artifacts=artifacts/$target
    mkdir -p "$work" "$artifacts" "corpus/$target" "regressions/$target"
    log=$target_dir/$target.log
    mark=$target_dir/$target.mark
    touch "$mark" # artifacts newer than it are this run's
    set +e
    "$bin_dir/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "corpus/$target" "regressions/$target" >"$log" 2>&1
    code=$?
    set -e
    inputs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    inputs=${inputs:-0}
    crashes=$(find "$artifacts" -type f -newer "$mark" | wc -l)
    if [ "$code" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1 # it stopped on a crash whose input could not be written
    fi
    total_inputs=$((total_inputs + inputs))
    printf 'fuzz %-13s %9s inputs in %ss, %s crashes\n' "$target" "$inputs" "$seconds" "$crashes"
    if [ "$crashes" -gt 0 ]; then
        failed+=("$target")
        grep -m1 -A12 -E "panicked|ERROR: libFuzzer|SUMMARY" "$log" | sed 's/^/    /' || true
        find "$artifacts" -type f -newer "$mark" | sed 's/^/    input: fuzz\//' | head -5
    fi
done
echo "fuzz: ${#targets[@]} targets, $total_inputs inputs, ${#failed[@]} crashed${failed[*]:+: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
