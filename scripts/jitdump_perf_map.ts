// jitdump_perf_map.ts: names JSC's JIT code in `perf report`. Run a node with BUN_JSC_useJITDump=1
// BUN_JSC_jitDumpDirectory=DIR (read when the VM starts, so it works for the compiled binary too) under
// `perf record -k mono -g`; JSC writes DIR/jit-<tid>-<pid>.dump, a name `perf inject --jit` does not recognize.
// This reads the dump's JIT_CODE_LOAD records and writes /tmp/perf-<pid>.map, which perf reads by itself for
// the process's anonymous code: each JIT frame then shows as its tier and function (JSC-FTL:_put#Bl17zI).
// Bun's own code stays unnamed (its binary has no symbols). Use scripts/perf_attrib.ts on `perf script` output.
//   bun scripts/jitdump_perf_map.ts DIR/jit-*-PID.dump PID
import { readFileSync, writeFileSync } from "node:fs";

const [file, pid] = process.argv.slice(2);
if (file === undefined || pid === undefined) throw new Error("usage: bun scripts/jitdump_perf_map.ts DUMP PID");
const bytes = readFileSync(file);
const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
/** The jitdump layout (tools/perf/Documentation/jitdump-specification.txt): a header, then records. */
const header_size_at = 8;
const record_code_load = 0;
const load_code_addr_at = 32;
const load_code_size_at = 40;
const load_name_at = 56;
const lines: string[] = [];
let at = view.getUint32(header_size_at, true);
while (at + 16 <= bytes.length) {
  const id = view.getUint32(at, true);
  const size = view.getUint32(at + 4, true);
  if (size === 0 || at + size > bytes.length) break; // a record still being written when the process stopped
  if (id === record_code_load) {
    const addr = view.getBigUint64(at + load_code_addr_at, true);
    const codeSize = view.getBigUint64(at + load_code_size_at, true);
    let end = at + load_name_at;
    while (bytes[end] !== 0) end++;
    const name = bytes.subarray(at + load_name_at, end).toString().replace(/\s+/g, "_");
    lines.push(`${addr.toString(16)} ${codeSize.toString(16)} ${name}`);
  }
  at += size;
}
writeFileSync(`/tmp/perf-${pid}.map`, `${lines.join("\n")}\n`);
console.log(`${lines.length} JIT code blocks -> /tmp/perf-${pid}.map`);
