-- wrk: qklzl put, as ../shared/bench/qklzl-put.lua (POST /kv, random keys over BENCH_KEYS, BENCH_VALUE_SIZE-byte
-- values) plus `Authorization: Bearer $BENCH_TOKEN` on every request when BENCH_TOKEN is set (the security step of
-- scripts/bench.ts: auth on). wrk counts answers of 400 and above as non2xx; the bench refuses a row with any.
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local C = dofile(dir .. "common.lua")
local nthreads = 0
function setup(thread) thread:set("tid", nthreads); nthreads = nthreads + 1 end
local reqs = {}
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  local hdr = { ["Content-Type"] = "application/json" }
  local token = os.getenv("BENCH_TOKEN")
  if token ~= nil and token ~= "" then hdr["Authorization"] = "Bearer " .. token end
  local value = string.rep("v", C.VSIZE)
  for i = 0, C.NKEYS - 1 do
    reqs[i] = wrk.format("POST", "/kv", hdr, '{"op":"put","key":"' .. C.key(i) .. '","value":"' .. value .. '"}')
  end
end
function request() return reqs[math.random(0, C.NKEYS - 1)] end
done = C.done
