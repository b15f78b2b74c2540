#!/usr/bin/env bash
# Installs the pinned Python and JavaScript guest toolchains and builds the
# Python and JavaScript guests from source:
#
#   componentize-py 0.25.1 (PyPI)  → venv in target/guest-tools/venv
#   componentize-js 0.23.0 (npm)   → guest-sdk-js/node_modules (npm ci, lockfile)
#
#   sample-handlers/access-anywhere-file/python → target/guests/py/access_anywhere_file.wasm
#   sample-handlers/access-anywhere-file/js     → target/guests/js/access_anywhere_file.wasm
#
# A guest whose sources, SDK, WIT and tool version are unchanged since its
# last build is not rebuilt (a stamp file beside it holds their hash).
#
# Usage: scripts/build-guests.sh            install the tools, build the guests
#        scripts/build-guests.sh --tools    only install the tools
# Needs python3 (with venv) and node/npm.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/target/guest-tools
OUT=$ROOT/target/guests
PY_PIN=0.25.1
JS_PIN=0.23.0
COMPONENTIZE_PY=$TOOLS/venv/bin/componentize-py
COMPONENTIZE_JS=$ROOT/guest-sdk-js/node_modules/@bytecodealliance/componentize-js/src/cli.js

install_tools() {
    mkdir -p "$TOOLS"
    if ! "$COMPONENTIZE_PY" --version 2>/dev/null | grep -q "$PY_PIN"; then
        echo "==> installing componentize-py $PY_PIN into $TOOLS/venv"
        python3 -m venv "$TOOLS/venv"
        "$TOOLS/venv/bin/pip" install --quiet -r guest-sdk-py/requirements.txt
    fi
    "$COMPONENTIZE_PY" --version | grep -q "$PY_PIN" || { echo "componentize-py is not $PY_PIN" >&2; exit 1; }

    # npm ci reinstalls from the lockfile; skip it when node_modules matches it.
    if ! cmp -s guest-sdk-js/package-lock.json "$TOOLS/js-lock.installed" || [ ! -f "$COMPONENTIZE_JS" ]; then
        echo "==> installing componentize-js $JS_PIN (npm ci, guest-sdk-js/package-lock.json)"
        # `npm ci` refuses a lockfile that lacks optional platform packages
        # the registry never had (e.g. @rolldown/binding-openharmony-arm64
        # of the locked version): then install the locked versions with
        # `npm install` and put the lockfile back untouched.
        if ! (cd guest-sdk-js && npm ci --no-audit --no-fund --loglevel=error 2>"$TOOLS.npm-ci.log"); then
            echo "    npm ci refused the lockfile (optional platform packages missing from the registry); npm install"
            cp guest-sdk-js/package-lock.json "$TOOLS.lock.bak"
            (cd guest-sdk-js && npm install --no-audit --no-fund --loglevel=error)
            cp "$TOOLS.lock.bak" guest-sdk-js/package-lock.json
        fi
        cp guest-sdk-js/package-lock.json "$TOOLS/js-lock.installed"
    fi
    grep -q "\"version\": \"$JS_PIN\"" guest-sdk-js/node_modules/@bytecodealliance/componentize-js/package.json \
        || { echo "componentize-js is not $JS_PIN" >&2; exit 1; }
}

# The hash of everything a guest is built from.
stamp_of() {
    { echo "$1"; cat wit/*.wit; find "${@:2}" -type f \( -name '*.py' -o -name '*.js' \) -not -path '*/node_modules/*' -print0 \
        | sort -z | xargs -0 cat; } | sha256sum | cut -d' ' -f1
}

# build_py NAME APP_DIR: componentize APP_DIR/app.py (with the SDK on the path).
build_py() {
    local name=$1 dir=$2 out=$OUT/py/$1.wasm stamp
    stamp=$(stamp_of "componentize-py $PY_PIN" "$dir" guest-sdk-py/wasp_guest)
    if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
        echo "==> $out is up to date"
        return
    fi
    mkdir -p "$OUT/py"
    echo "==> componentize-py: $dir → $out"
    local start=$SECONDS
    "$COMPONENTIZE_PY" -d wit -w handler componentize app -p "$dir" -p guest-sdk-py -o "$out.tmp" >/dev/null
    mv "$out.tmp" "$out"
    echo "$stamp" >"$out.stamp"
    echo "    $(stat -c %s "$out") bytes in $((SECONDS - start)) s"
}

# build_js NAME APP_DIR: componentize APP_DIR/app.js, with the SDK beside it.
build_js() {
    local name=$1 dir=$2 out=$OUT/js/$1.wasm stamp stage
    stamp=$(stamp_of "componentize-js $JS_PIN" "$dir" guest-sdk-js/wasp-guest.js)
    if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
        echo "==> $out is up to date"
        return
    fi
    mkdir -p "$OUT/js"
    stage=$OUT/js/$name.src
    rm -rf "$stage" && mkdir -p "$stage"
    cp "$dir"/*.js "$stage/"
    cp guest-sdk-js/wasp-guest.js "$stage/"
    echo "==> componentize-js: $dir → $out"
    local start=$SECONDS
    # Without wasi:http (`-d http fetch-event`): the host links no network.
    node "$COMPONENTIZE_JS" "$stage/app.js" --wit wit --world-name handler -d http fetch-event -o "$out.tmp" >/dev/null
    mv "$out.tmp" "$out"
    echo "$stamp" >"$out.stamp"
    echo "    $(stat -c %s "$out") bytes in $((SECONDS - start)) s"
}

install_tools
[ "${1:-}" = "--tools" ] && exit 0

build_py access_anywhere_file sample-handlers/access-anywhere-file/python
build_js access_anywhere_file sample-handlers/access-anywhere-file/js
