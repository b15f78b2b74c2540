#!/usr/bin/env bash
# The WASP test suite: installs what it needs, then builds and runs every test.
# Usage: scripts/test.sh   (from anywhere; needs a Rust toolchain via rustup)
set -euo pipefail
cd "$(dirname "$0")/.."

# The guests and samples are built for WebAssembly components (WASI 0.2).
rustup target add wasm32-wasip2

# fuzz/ is a workspace of its own (cargo fuzz): its lock file must follow the
# runtime's dependencies, or CI's fuzzing phase (--locked) fails. Checked
# first so a stale lock shows here, not after the whole suite.
if ! (cd fuzz && cargo metadata --locked --format-version 1 -q >/dev/null 2>&1); then
    echo "scripts/test.sh: fuzz/Cargo.lock is stale; refresh it with (cd fuzz && cargo metadata --format-version 1 -q) and commit it" >&2
    exit 1
fi

# RUST_BACKTRACE=1 makes every guest trap capture a native backtrace: slow and noisy.
export RUST_BACKTRACE=0

# Real receivers the output tests talk to: rsyslog (TCP, UDP and TLS with
# its gnutls driver), from Debian's packages.
if ! [ -x /usr/sbin/rsyslogd ] || ! [ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsyslog rsyslog-gnutls >/dev/null
    else
        echo "scripts/test.sh: rsyslog and rsyslog-gnutls are missing (apt-get install rsyslog rsyslog-gnutls); the syslog tests skip" >&2
    fi
fi

# Java's keytool and a JDK (the JCEKS tests check what WASP writes with
# Java's own reader), from Debian's packages.
if ! command -v keytool >/dev/null || ! command -v javac >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jdk-headless >/dev/null
    else
        echo "scripts/test.sh: keytool/javac are missing (apt-get install default-jdk-headless); the JCEKS tests fail under CI=true" >&2
    fi
fi

# The databases and brokers the JDBC and JMS tests use for real (each
# started only if it is down).
bash scripts/services.sh

# The Python and JavaScript guests (componentize-py, componentize-js, pinned)
# are built from source; their tests fail under CI=true if they are missing.
bash scripts/build-guests.sh

# The console's browser test (tests/all/console.rs): Debian's Chromium and
# playwright-core (pinned by tests/console/package-lock.json). Under CI=true
# that test fails, not skips, when either is missing.
console_packages=()
[ -x /usr/bin/chromium ] || console_packages+=(chromium)
command -v npm >/dev/null || console_packages+=(nodejs npm)
if [ ${#console_packages[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${console_packages[@]}" >/dev/null
    else
        echo "scripts/test.sh: ${console_packages[*]} missing (apt-get install ${console_packages[*]}); the console's browser test skips" >&2
    fi
fi
if command -v npm >/dev/null; then
    (cd tests/console && npm ci --no-audit --no-fund --loglevel=error)
else
    echo "scripts/test.sh: npm is missing; the console's browser test skips" >&2
fi

# The integration tests run the `wasp` binary, so build it first.
cargo build --locked -p wasp --bin wasp
# The peer benchmark (benches/peers: VRL, LuaJIT, Rhai) is not a test: it
# is built and run by scripts/bench-peers.sh only.
cargo test --locked --workspace --exclude wasp-bench-peers --exclude peers-guest
