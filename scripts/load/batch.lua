-- wrk: POST an NDJSON batch of WASP_LOAD_BATCH events per request
-- (scripts/load.sh). The batch is built once; the sidecar gives each event
-- its own _id.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WASP_LOAD_TOKEN")
local size = tonumber(os.getenv("WASP_LOAD_BATCH") or "1000")
local lines = {}
for i = 1, size do
  lines[i] = string.format('{"transactionId":"tx-%d","timestamp":"2026-11-22T05:00:00Z","eventName":"AM-ACCESS-OUTCOME","userId":"bjensen","client":{"ip":"203.0.113.7"},"request":{"operation":"GET","detail":{"path":"/files/%d"}},"response":{"status":"SUCCESSFUL"}}', i, i)
end
wrk.body = table.concat(lines, "\n")
