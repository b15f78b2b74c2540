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

echo "==> wasp run: the same configuration served over HTTP (the sidecar; demo token: demo-admin-token)"
TOKEN=demo-admin-token
log=$(mktemp)
"$WASP" run --config examples/access-anywhere/audit.json --listen 127.0.0.1:0 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 600); do
    grep -q 'listening on' "$log" && break
    kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
done
url=$(sed -n 's/^wasp run: listening on //p' "$log")
echo "    listening on $url"
echo "--> POST $url/audit/access (one event)"
curl -sS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data '{"transactionId":"tx-http-1","timestamp":"2026-11-22T05:00:00Z","eventName":"AM-ACCESS-OUTCOME","userId":"carol","client":{"ip":"192.0.2.10"},"request":{"operation":"GET","detail":{"path":"/files/hr.xlsx"}},"response":{"status":"SUCCESSFUL"}}' \
    "$url/audit/access"
echo
echo "--> POST $url/audit/authentication (an NDJSON batch: the sample's authentication events)"
grep '"topic":"authentication"' examples/access-anywhere/events.ndjson |
    curl -sS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/x-ndjson' --data-binary @- "$url/audit/authentication"
echo
curl -sS -H "Authorization: Bearer $TOKEN" -X POST "$url/audit/authentication?_action=flush&handler=json-audit" >/dev/null
echo "--> GET $url/audit/authentication?_queryFilter=result eq \"FAILED\""
curl -sS -G -H "Authorization: Bearer $TOKEN" --data-urlencode '_queryFilter=result eq "FAILED"' "$url/audit/authentication"
echo
echo "--> GET $url/health"
curl -sS -H "Authorization: Bearer $TOKEN" "$url/health"
echo
echo "--> GET $url/metrics (accepted events)"
curl -sS -H "Authorization: Bearer $TOKEN" "$url/metrics" | grep '^wasp_events_accepted_total' || true
echo "--> SIGTERM: drain and stop"
kill -TERM $pid
wait $pid
sed -n 's/^wasp run: //p' "$log" | grep -v '^listening'
