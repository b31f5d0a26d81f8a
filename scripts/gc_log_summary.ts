// gc_log_summary: one line of figures from a BUN_JSC_logGC=1 log (a node's stderr), for the cycles that start
// between two line numbers: Eden and Full cycles per 100k puts, the sum and longest of their stop-the-world
// pauses (every `p=` of a cycle is one pause), the heap at cycle start and the heap growth per put (the heap
// capacity at one cycle's start minus at the previous one's end, summed: a rough proxy of allocation, since
// JSC logs capacity, and freed cells refilled between cycles do not show; count cells with GC off for exact
// figures). scripts/ab_gc.sh calls it per node.
// usage: bun scripts/gc_log_summary.ts FILE [--from LINE] [--to LINE] [--puts N] [--label TEXT]
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
};
const file = args[0];
if (file === undefined || file.startsWith("--")) {
  console.error("usage: bun scripts/gc_log_summary.ts FILE [--from LINE] [--to LINE] [--puts N] [--label TEXT]");
  process.exit(2);
}
const lines = readFileSync(file, "utf8").split("\n");
const from = Number(option("--from", "0"));
const to = Number(option("--to", String(lines.length)));
const puts = Number(option("--puts", "0"));
const label = option("--label", file);

interface Cycle {
  kind: "Eden" | "Full";
  startKb: number;
  endKb: number;
  pauses: number[];
}
const cycles: { line: number; cycle: Cycle }[] = [];
let open: Cycle | null = null;
let openLine = 0;
for (let i = 0; i < lines.length; i++) {
  const line = lines[i]!;
  const start = /START M (\d+)kb => (Eden|Full)Collection/.exec(line);
  if (start !== null) {
    open = { kind: start[2] as "Eden" | "Full", startKb: Number(start[1]), endKb: Number(start[1]), pauses: [] };
    openLine = i;
  }
  if (open === null) continue;
  for (const m of line.matchAll(/ p=([\d.]+)ms/g)) open.pauses.push(Number(m[1]));
  const end = /=> (\d+)kb, p=[\d.]+ms \(max [\d.]+\), cycle [\d.]+ms END/.exec(line);
  if (end !== null) {
    open.endKb = Number(end[1]);
    cycles.push({ line: openLine, cycle: open });
    open = null;
  }
}

let previousEnd: number | null = null;
let allocatedKb = 0;
const inWindow: Cycle[] = [];
for (const { line, cycle } of cycles) {
  if (line >= from && line < to) {
    inWindow.push(cycle);
    if (previousEnd !== null) allocatedKb += Math.max(0, cycle.startKb - previousEnd);
  }
  previousEnd = cycle.endKb;
}
const per100k = (n: number): string => (puts > 0 ? ((n * 100_000) / puts).toFixed(1) : "-");
const pauses = inWindow.flatMap((c) => c.pauses);
const sum = pauses.reduce((a, b) => a + b, 0);
const max = pauses.reduce((a, b) => Math.max(a, b), 0);
const full = inWindow.filter((c) => c.kind === "Full");
const fullPause = full.flatMap((c) => c.pauses).reduce((a, b) => a + b, 0);
const starts = inWindow.map((c) => c.startKb / 1024);
const fmt = (x: number): string => x.toFixed(1);
console.log(
  `${label} gcs=${inWindow.length} (eden ${inWindow.length - full.length}, full ${full.length}) per100k=${per100k(inWindow.length)}` +
    ` pause_sum_ms=${fmt(sum)} per100k_ms=${per100k(sum)} ms_per_gc=${inWindow.length ? fmt(sum / inWindow.length) : "-"}` +
    ` pause_max_ms=${fmt(max)} full_pause_ms=${fmt(fullPause)}` +
    ` heap_at_start_mb=${starts.length ? `${fmt(Math.min(...starts))}-${fmt(Math.max(...starts))}` : "-"}` +
    ` heap_growth_bytes_per_put=${puts > 0 ? Math.round((allocatedKb * 1024) / puts) : "-"}`,
);
