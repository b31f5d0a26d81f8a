-- wrk: qklzl txn CAS (issue 12's API): POST /txn, if the key exists (version > 0) put a new value, else read it.
-- Random keys over BENCH_KEYS; every request is one write revision. Needs the txn route (h10).
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local C = dofile(dir .. "common.lua")
local nthreads = 0
function setup(thread) thread:set("tid", nthreads); nthreads = nthreads + 1 end
local reqs = {}
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  local hdr = { ["Content-Type"] = "application/json" }
  local value = string.rep("w", C.VSIZE)
  for i = 0, C.NKEYS - 1 do
    local k = C.key(i)
    local body = '{"compare":[{"key":"' .. k .. '","target":"version","result":">","value":0}],'
      .. '"success":[{"put":{"key":"' .. k .. '","value":"' .. value .. '"}}],'
      .. '"failure":[{"range":{"key":"' .. k .. '"}}]}'
    reqs[i] = wrk.format("POST", "/txn", hdr, body)
  end
end
function request() return reqs[math.random(0, C.NKEYS - 1)] end
done = C.done
