-- wrk: etcd range of 1,000 keys through the JSON gateway: POST /v3/kv/range {key, range_end, limit 1000}
-- (linearizable), the prefix bench-key- as [bench-key-, bench-key.).
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local C = dofile(dir .. "common.lua")
local body = '{"key":"' .. C.b64("bench-key-") .. '","range_end":"' .. C.b64("bench-key.") .. '","limit":1000}'
local req
function init(args) req = wrk.format("POST", "/v3/kv/range", { ["Content-Type"] = "application/json" }, body) end
function request() return req end
done = C.done
