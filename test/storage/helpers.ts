// Shared helpers for the storage tests: temp dirs, deterministic entries, segment file access.
import { afterAll, afterEach, beforeAll, spyOn } from "bun:test";
import { consola } from "consola";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Entry } from "../../src/raft/types.ts";
import { readRecord } from "../../src/storage/record.ts";
import { segment_header_bytes } from "../../src/storage/segment.ts";

export function tempDir(prefix = "qklzl-storage-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** tempDirsPerTest: a maker of temp dirs that are removed after each test of the file that calls it. */
export function tempDirsPerTest(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
}

/** quietWarnings silences consola's warnings for the file that calls it (torn tails are cut with a warning at almost every cut point). */
export function quietWarnings(): void {
  let quiet: ReturnType<typeof spyOn> | null = null;
  beforeAll(() => {
    quiet = spyOn(consola, "warn").mockImplementation((() => {}) as never);
  });
  afterAll(() => quiet?.mockRestore());
}

/** dataFor: deterministic payload of entry (index, term), so any entry read back can be checked. */
export function dataFor(index: number, term: number, size = 24): Uint8Array {
  const out = new Uint8Array(size);
  let x = (index * 2654435761 + term * 40503) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export function normal(index: number, term: number, size = 24): Entry {
  return { kind: "normal", index, term, data: dataFor(index, term, size) };
}

export function range(lo: number, hi: number, term: number, size = 24): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(normal(i, term, size));
  return out;
}

/** segments lists the WAL segment files of a data dir, oldest first. */
export function segments(dir: string): string[] {
  const wal = path.join(dir, "wal");
  return fs
    .readdirSync(wal)
    .filter((n) => n.endsWith(".seg"))
    .sort()
    .map((n) => path.join(wal, n));
}

export function fileSize(file: string): number {
  return fs.statSync(file).size;
}

/** recordsEnd: where a segment's valid records end (the active one is preallocated: its file is longer). */
export function recordsEnd(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = segment_header_bytes;
  for (;;) {
    const result = readRecord(bytes, view, offset);
    if (!result.ok) return offset;
    offset = result.next;
  }
}

/** recordsEndOf: recordsEnd of a segment file. */
export function recordsEndOf(file: string): number {
  return recordsEnd(fs.readFileSync(file));
}

/** entryOk: the entry's payload is the deterministic one for its (index, term). */
export function entryOk(entry: Entry): boolean {
  if (entry.kind !== "normal") return true;
  const want = dataFor(entry.index, entry.term, entry.data.byteLength);
  return Buffer.compare(Buffer.from(want), Buffer.from(entry.data)) === 0;
}
