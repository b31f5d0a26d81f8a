// Crash tests with real processes: a child appends (or publishes snapshots) in a loop and reports what was
// acknowledged; it is SIGKILLed at a random moment; the reopened store must hold everything acknowledged.
import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { openStorage } from "../../src/storage/index.ts";
import { dataFor, entryOk, tempDir } from "./helpers.ts";

const child = path.join(import.meta.dir, "crash_child.ts");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Issue {
  lo: number;
  hi: number;
  term: number;
  acked: boolean;
}

/**
 * runAndKill starts the child, lets it work for `workMs` after it reported "start", SIGKILLs it and returns
 * its report. The report goes to a regular file (a pipe the parent does not drain would block the child).
 */
async function runAndKill(dir: string, mode: string, workMs: number): Promise<string[]> {
  const report = `${dir}.report`;
  fs.writeFileSync(report, "");
  const proc = Bun.spawn([process.execPath, child, dir, String(64 * 1024), mode], {
    stdout: Bun.file(report),
    stderr: "inherit",
    env: { ...process.env, CONSOLA_LEVEL: "1" },
  });
  const startDeadline = Date.now() + 10_000;
  while (!fs.readFileSync(report, "utf8").includes("\n") && Date.now() < startDeadline && proc.exitCode === null) await Bun.sleep(5);
  await Bun.sleep(workMs);
  proc.kill("SIGKILL");
  await proc.exited;
  expect(proc.signalCode).toBe("SIGKILL");
  const lines = fs.readFileSync(report, "utf8").split("\n").filter((l) => l.length > 0);
  fs.rmSync(report, { force: true });
  expect(lines[0]?.startsWith("start ")).toBe(true);
  return lines;
}

describe("crash safety (SIGKILL)", () => {
  test("every acknowledged append survives a kill at a random moment", async () => {
    const dir = tempDir("qklzl-crash-");
    dirs.push(dir);
    const deadline = Date.now() + 12_000;
    let iterations = 0;
    let ackedTotal = 0;
    while (iterations < 6 || (Date.now() < deadline && iterations < 40)) {
      const lines = await runAndKill(dir, "log", 50 + Math.floor(Math.random() * 400));
      const issues = new Map<number, Issue>();
      const order: number[] = [];
      let snapIndex = 0;
      for (const line of lines) {
        const [kind, a, b, c, d] = line.split(" ");
        if (kind === "issue") {
          issues.set(Number(a), { lo: Number(b), hi: Number(c), term: Number(d), acked: false });
          order.push(Number(a));
        } else if (kind === "ack") {
          issues.get(Number(a))!.acked = true;
        } else if (kind === "snap") {
          snapIndex = Number(a);
        }
      }
      const s = await openStorage({ dir, nodeId: 1, segmentBytes: 64 * 1024 });
      try {
        const log = s.log;
        expect(log.snapshotMeta().index).toBeGreaterThanOrEqual(snapIndex);
        const first = log.firstIndex();
        const last = log.lastIndex();
        expect(log.entries(first, last + 1, Infinity).every(entryOk)).toBe(true);
        let lastAckedTerm = 0;
        for (let pos = 0; pos < order.length; pos++) {
          const issue = issues.get(order[pos]!)!;
          if (!issue.acked) continue;
          ackedTotal++;
          lastAckedTerm = Math.max(lastAckedTerm, issue.term);
          for (let i = issue.lo; i <= issue.hi; i++) {
            // A later save that starts at or below i may legitimately have replaced it.
            let replaceable = false;
            for (let later = pos + 1; later < order.length && !replaceable; later++) replaceable = issues.get(order[later]!)!.lo <= i;
            if (replaceable) continue;
            if (i < first) {
              expect(i).toBeLessThanOrEqual(log.snapshotMeta().index);
              continue;
            }
            expect(log.term(i)).toBe(issue.term);
          }
        }
        expect(log.hardState().term).toBeGreaterThanOrEqual(lastAckedTerm);
        if (log.snapshotMeta().index > 0) {
          const snap = await s.snapshots.loadLatest();
          expect(snap?.meta.index).toBe(log.snapshotMeta().index);
          expect(Buffer.from(snap!.data).equals(Buffer.from(dataFor(snap!.meta.index, snap!.meta.term, 1024)))).toBe(true);
        }
      } finally {
        await s.close();
      }
      iterations++;
    }
    expect(ackedTotal).toBeGreaterThan(iterations);
    console.log(`crash test: ${iterations} kills, ${ackedTotal} acknowledged saves verified`);
  }, 60_000);

  test("a kill while publishing a snapshot leaves the previous one usable", async () => {
    const dir = tempDir("qklzl-crash-snap-");
    dirs.push(dir);
    let lastAcked = 0;
    for (let iteration = 0; iteration < 8; iteration++) {
      const lines = await runAndKill(dir, "snap", 30 + Math.floor(Math.random() * 250));
      for (const line of lines) if (line.startsWith("snap ")) lastAcked = Number(line.split(" ")[1]);
      const s = await openStorage({ dir, nodeId: 1 });
      try {
        expect(fs.readdirSync(path.join(dir, "snap")).some((n) => n.endsWith(".tmp"))).toBe(false);
        const snap = await s.snapshots.loadLatest();
        if (snap === null) {
          expect(lastAcked).toBe(0);
          continue;
        }
        expect(snap!.meta.index).toBeGreaterThanOrEqual(lastAcked);
        expect(s.log.snapshotMeta().index).toBe(snap!.meta.index);
        const want = dataFor(snap!.meta.index, 1, snap!.data.byteLength);
        expect(Buffer.from(snap!.data).equals(Buffer.from(want))).toBe(true);
      } finally {
        await s.close();
      }
    }
    expect(lastAcked).toBeGreaterThan(0);
    console.log(`snapshot crash test: newest acknowledged snapshot ${lastAcked}`);
  }, 60_000);
});
