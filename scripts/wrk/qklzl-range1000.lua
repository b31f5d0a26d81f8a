-- wrk: qklzl range of 1,000 keys (issue 12's API): GET /kv?prefix=bench-key-&limit=1000 (linearizable; the
-- first 1,000 of the preloaded keys, as etcd-range1000.lua). Needs the range route (h10).
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local C = dofile(dir .. "common.lua")
function request() return wrk.format("GET", "/kv?prefix=bench-key-&limit=1000") end
done = C.done
