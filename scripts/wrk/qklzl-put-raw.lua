-- wrk: qklzl raw put (issue 16, large values): PUT /kv/KEY with Content-Type: application/octet-stream and the
-- value as the body; the same keys (bench-key-%08d over BENCH_KEYS) and BENCH_VALUE_SIZE-byte values as
-- qklzl-put.lua and ../shared/bench/etcd-put.lua, so the three compare one for one. Send it to the leader.
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local C = dofile(dir .. "common.lua")
local nthreads = 0
function setup(thread) thread:set("tid", nthreads); nthreads = nthreads + 1 end
local reqs = {}
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  local hdr = { ["Content-Type"] = "application/octet-stream" }
  local value = string.rep("v", C.VSIZE)
  for i = 0, C.NKEYS - 1 do
    reqs[i] = wrk.format("PUT", "/kv/" .. C.key(i), hdr, value)
  end
end
function request() return reqs[math.random(0, C.NKEYS - 1)] end
done = C.done
