-- wrk: etcd txn CAS through the JSON gateway: POST /v3/kv/txn, if version > 0 put, else range (as qklzl-txn.lua).
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local C = dofile(dir .. "common.lua")
local nthreads = 0
function setup(thread) thread:set("tid", nthreads); nthreads = nthreads + 1 end
local reqs = {}
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  local hdr = { ["Content-Type"] = "application/json" }
  local value = C.b64(string.rep("w", C.VSIZE))
  for i = 0, C.NKEYS - 1 do
    local k = C.b64(C.key(i))
    local body = '{"compare":[{"key":"' .. k .. '","target":"VERSION","result":"GREATER","version":"0"}],'
      .. '"success":[{"request_put":{"key":"' .. k .. '","value":"' .. value .. '"}}],'
      .. '"failure":[{"request_range":{"key":"' .. k .. '"}}]}'
    reqs[i] = wrk.format("POST", "/v3/kv/txn", hdr, body)
  end
end
function request() return reqs[math.random(0, C.NKEYS - 1)] end
done = C.done
