-- wrk: POST one JSON event per request (scripts/load.sh).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WASP_LOAD_TOKEN")
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"transactionId":"tx-%d","timestamp":"2026-11-22T05:00:00Z","eventName":"AM-ACCESS-OUTCOME","userId":"bjensen","client":{"ip":"203.0.113.7"},"request":{"operation":"GET","detail":{"path":"/files/%d"}},"response":{"status":"SUCCESSFUL"}}', n, n)
  return wrk.format(nil, nil, nil, body)
end
