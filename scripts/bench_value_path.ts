// In-process CPU of one put's value path (issue 16, large values), figures that survive a loaded machine: what
// the leader does with a value between the request body and its arena (body decode, JSON.parse, validation,
// entry encode, WAL record, append frame, entry decode, apply), and what a follower does (frame decode, WAL
// record, entry decode, apply), for the JSON route (POST /kv) and the raw route (PUT /kv/KEY), alternated in
// rounds so that load hits both alike. `bun scripts/bench_value_path.ts [SIZE...]` (default 16384 65536 1048576).
import { isUtf8 } from "node:buffer";
import { encodeCommand, encodeRawPut, KvStateMachine, validateCommand } from "../src/kv/index.ts";
import { encodeEntries as walRecord } from "../src/storage/record.ts";
import { encodeEntries as frameSection } from "../src/transport/append_codec.ts";
import { Packr } from "msgpackr";

const unpackr = new Packr({ useRecords: false });
const utf8Strict = new TextDecoder("utf-8", { fatal: true });
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const keys = 512;

function leaderJson(body: Uint8Array, sm: KvStateMachine, index: number): void {
  const command = validateCommand(JSON.parse(utf8Strict.decode(body)));
  const data = encodeCommand(command);
  path(data, sm, index);
}

function leaderRaw(key: string, body: Uint8Array, sm: KvStateMachine, index: number): void {
  if (!isUtf8(body)) throw new Error("not UTF-8");
  path(encodeRawPut(key, body), sm, index);
}

/** path: the WAL record and the append frame's section (leader), their decode (follower), the apply. */
function path(data: Uint8Array, sm: KvStateMachine, index: number): void {
  const entry = { kind: "normal" as const, index, term: 1, data };
  walRecord([entry], null);
  const section = frameSection([entry]);
  const received = (unpackr.unpack(section) as Array<{ data: Uint8Array }>)[0]!;
  sm.applyEntry(index, new Uint8Array(received.data)); // the follower's copy (transport/wire.ts parseEntry)
}

for (const size of sizes.length > 0 ? sizes : [16384, 65536, 1048576]) {
  const value = "v".repeat(size);
  const bodies = Array.from({ length: keys }, (_, i) => new TextEncoder().encode(JSON.stringify({ op: "put", key: `bench-key-${i}`, value })));
  const raw = new TextEncoder().encode(value);
  const rounds = 6;
  const n = Math.max(20, Math.round(200_000_000 / size / 10));
  const us = { json: [] as number[], raw: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    for (const kind of round % 2 === 0 ? (["json", "raw"] as const) : (["raw", "json"] as const)) {
      const sm = new KvStateMachine();
      Bun.gc(true);
      const started = process.cpuUsage();
      for (let i = 1; i <= n; i++) {
        if (kind === "json") leaderJson(bodies[i % keys]!, sm, i);
        else leaderRaw(`bench-key-${i % keys}`, raw, sm, i);
      }
      const used = process.cpuUsage(started);
      us[kind].push((used.user + used.system) / n);
    }
  }
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
  console.log(`size=${size} puts/round=${n} json_us_per_put=${median(us.json).toFixed(1)} raw_us_per_put=${median(us.raw).toFixed(1)} ratio=${(median(us.raw) / median(us.json)).toFixed(2)} (medians of ${rounds / 1} rounds; all json ${us.json.map((v) => v.toFixed(0)).join(",")} raw ${us.raw.map((v) => v.toFixed(0)).join(",")})`);
}
