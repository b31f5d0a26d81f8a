// profile_store.ts: the replicated state machine alone (no node, no disk): times every applied put and lists
// the stalls (writes above 2 ms), to find what a write pays in apply beside its own work (compactions).
//   bun scripts/profile_store.ts [writes=200000] [keys=2000] [valueBytes=1024]
import { encodeUtf8Put, KvStateMachine } from "../src/kv/index.ts";

const writes = Number(process.argv[2] ?? 200_000);
const keys = Number(process.argv[3] ?? 2_000);
const valueBytes = Number(process.argv[4] ?? 1024);
const machine = new KvStateMachine();
const value = new Uint8Array(valueBytes).fill(0x61);
const times = new Float64Array(writes);
let stalls = 0;
let worst = 0;
const started = Bun.nanoseconds();
for (let i = 1; i <= writes; i++) {
  const entry = encodeUtf8Put(`key-${(i * 7919) % keys}`, value);
  const t = Bun.nanoseconds();
  machine.applyEntry(i, entry);
  const ms = (Bun.nanoseconds() - t) / 1e6;
  times[i - 1] = ms;
  if (ms > 2) stalls++;
  if (ms > worst) worst = ms;
}
const total = (Bun.nanoseconds() - started) / 1e9;
const sorted = times.slice().sort();
const at = (q: number) => sorted[Math.min(writes - 1, Math.floor(q * writes))]!;
const memory = machine.memory();
console.log(
  `${writes} puts, ${keys} keys, ${valueBytes} B: ${(writes / total).toFixed(0)}/s; per put p50 ${(at(0.5) * 1000).toFixed(1)} µs, ` +
    `p99 ${(at(0.99) * 1000).toFixed(1)} µs, p99.9 ${(at(0.999) * 1000).toFixed(1)} µs, max ${worst.toFixed(2)} ms; ` +
    `${stalls} writes above 2 ms; arena compactions ${memory.arenaCompactions}`,
);
