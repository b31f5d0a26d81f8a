-- Shared by the issue 12 wrk scripts (loaded with dofile from the script's own directory): base64 for etcd's
-- JSON gateway, the WRKRESULT line scripts/bench.ts parses (the same fields as ../shared/bench's scripts), and
-- per-thread seeding. Keys are bench-key-%08d over BENCH_KEYS (10000), preloaded by the bench.
local M = {}
M.NKEYS = tonumber(os.getenv("BENCH_KEYS") or "10000")
M.VSIZE = tonumber(os.getenv("BENCH_VALUE_SIZE") or "100")

local B = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
function M.b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local function ch(k) return B:sub(k + 1, k + 1) end
    out[#out + 1] = ch(math.floor(n / 262144) % 64) .. ch(math.floor(n / 4096) % 64)
      .. (b and ch(math.floor(n / 64) % 64) or "=") .. (c and ch(n % 64) or "=")
  end
  return table.concat(out)
end

function M.key(i) return string.format("bench-key-%08d", i) end

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d non2xx=%d sockerr=%d timeouts=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests, e.status,
    e.connect + e.read + e.write, e.timeout))
end

return M
