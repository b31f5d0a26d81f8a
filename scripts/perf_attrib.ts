// perf_attrib.ts: where a thread's CPU goes by JS function, from `perf script` of a `perf record -g` whose JIT
// frames are named (scripts/jitdump_perf_map.ts). Each sample goes to its innermost named JS frame, so the
// native runtime work a function calls (Bun/JSC builtins, allocation, syscalls) counts to that function, with
// its split into JIT code / native / kernel / libc; samples with no JS frame on the stack (the event loop's own
// work: socket reads and writes, HTTP parsing, answers) are split by their syscall.
//   perf script -i perf.data > samples.txt; bun scripts/perf_attrib.ts samples.txt [TOP]
import { readFileSync } from "node:fs";

const [file, topArg] = process.argv.slice(2);
if (file === undefined) throw new Error("usage: bun scripts/perf_attrib.ts PERF_SCRIPT_OUTPUT [TOP]");
const top = Number(topArg ?? 30);
const byFunction = new Map<string, number>();
const byFunctionKind = new Map<string, number>();
const withoutJs = new Map<string, number>();
let total = 0;
const kindOf = (frame: string): string =>
  frame.includes("[kernel") ? "kernel" : frame.includes("/tmp/perf-") ? "jit" : frame.includes("libc") ? "libc" : "native";
const add = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);
for (const block of readFileSync(file, "utf8").split("\n\n")) {
  const frames = block
    .split("\n")
    .filter((line) => line.startsWith("\t"))
    .map((line) => line.trim());
  if (frames.length === 0) continue;
  total++;
  const js = frames.find((f) => f.includes("/tmp/perf-"));
  if (js === undefined) {
    const syscall = frames.find((f) => /__x64_sys_|__sys_|do_epoll|ksys_/.test(f));
    const leaf = kindOf(frames[0]!);
    add(withoutJs, leaf === "kernel" ? `kernel ${syscall?.split(" ")[1]?.replace(/\+0x.*/, "") ?? "(interrupt or fault)"}` : leaf);
    continue;
  }
  const name = js.split(" ")[1]!.replace(/\+0x[0-9a-f]+$/, "").replace(/^JSC-(FTL|DFG|Baseline|LLInt)[^:]*:_?/, "");
  add(byFunction, name);
  add(byFunctionKind, `${name}|${kindOf(frames[0]!)}`);
}
const pct = (n: number): string => `${((100 * n) / total).toFixed(2).padStart(6)}%`;
console.log(`${total} samples`);
console.log("by innermost JS function (its own JIT code / the native, kernel and libc code it called):");
for (const [name, n] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  const split = ["jit", "native", "kernel", "libc"].map((k) => `${k} ${Math.round((100 * (byFunctionKind.get(`${name}|${k}`) ?? 0)) / n)}%`).join(", ");
  console.log(`${pct(n)}  ${name}  (${split})`);
}
const sumWithout = [...withoutJs.values()].reduce((a, b) => a + b, 0);
console.log(`no JS frame on the stack: ${pct(sumWithout)}`);
for (const [what, n] of [...withoutJs].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${pct(n)}  ${what}`);
