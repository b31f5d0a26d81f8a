// Record codec for WAL segments: [len u32][crc32 u32 over type+payload][type u8][payload], little endian.
// Pure: no I/O. Entry payloads use a fixed binary prefix (index, term as f64) so recovery of a million
// entries does not pay a msgpack decode per entry; conf changes and snapshot metas are msgpack.
import { Packr } from "msgpackr";
import { assert } from "../shared/assert.ts";
import type { ConfChange, Entry, HardState, SnapshotMeta } from "../raft/types.ts";

export const record_header_bytes = 9;
/** record_payload_bytes_max bounds one record; a larger length field is damage, never a real record. */
export const record_payload_bytes_max = 64 * 1024 * 1024;

export const RecordType = {
  entry_normal: 1,
  entry_noop: 2,
  entry_conf: 3,
  hard_state: 4,
  /** snapshot: the log's snapshot meta changed (see SnapshotRecord.install / keep). */
  snapshot: 5,
} as const;
export type RecordTypeCode = (typeof RecordType)[keyof typeof RecordType];

/**
 * SnapshotRecord replays a snapshot event deterministically. `keep` is decided when the event happens (did the
 * log hold the entry (meta.index, meta.term)?) and stored, so replay from any segment gives the same result.
 * - install false: note only; keep → entries stay, !keep → every entry is dropped.
 * - install true: keep → entries ≤ meta.index are dropped, !keep → every entry is dropped.
 */
export interface SnapshotRecord {
  meta: SnapshotMeta;
  install: boolean;
  keep: boolean;
}

export type DecodedRecord =
  | { type: "entry"; entry: Entry }
  | { type: "hard_state"; hardState: HardState }
  | { type: "snapshot"; snapshot: SnapshotRecord };

const entry_prefix_bytes = 16;
// Self-describing msgpack (no record structures), so each record decodes on its own.
const packr = new Packr({ useRecords: false });
const pack = (value: unknown): Uint8Array => packr.pack(value);
const unpack = (bytes: Uint8Array): unknown => packr.unpack(bytes);

function crcOf(buf: Uint8Array): number {
  return Bun.hash.crc32(buf) >>> 0;
}

function writeHeader(out: Uint8Array, view: DataView, offset: number, type: RecordTypeCode, payloadLen: number): void {
  view.setUint32(offset, payloadLen, true);
  out[offset + 8] = type;
  const crc = crcOf(out.subarray(offset + 8, offset + record_header_bytes + payloadLen));
  view.setUint32(offset + 4, crc, true);
}

/** freshBuffer: encodeEntries' default space, a new buffer of exactly the records' size. */
const freshBuffer = (size: number): Uint8Array => new Uint8Array(size);

/**
 * encodeEntries encodes entries as consecutive records into one buffer (one write per save). `space(size)`
 * gives the buffer to write them into, exactly `size` bytes long: the WAL hands out a reused one (wal.ts).
 */
export function encodeEntries(entries: Entry[], hardState: HardState | null, space: (size: number) => Uint8Array = freshBuffer): Uint8Array {
  const confs: (Uint8Array | null)[] = [];
  let size = hardState === null ? 0 : record_header_bytes + 24;
  for (const entry of entries) {
    const conf = entry.kind === "conf" ? pack(entry.change) : null;
    confs.push(conf);
    const body = entry.kind === "normal" ? entry.data.byteLength : conf === null ? 0 : conf.byteLength;
    if (!(entry_prefix_bytes + body <= record_payload_bytes_max)) assert(false, `entry ${entry.index} of ${body} bytes exceeds the record limit`);
    size += record_header_bytes + entry_prefix_bytes + body;
  }
  const out = space(size);
  assert(out.length === size, "record space of the asked size");
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let offset = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    assert(Number.isSafeInteger(entry.index) && entry.index > 0, "entry index is a positive integer");
    assert(Number.isSafeInteger(entry.term) && entry.term >= 0, "entry term is an integer");
    const p = offset + record_header_bytes;
    view.setFloat64(p, entry.index, true);
    view.setFloat64(p + 8, entry.term, true);
    let body = 0;
    let type: RecordTypeCode;
    if (entry.kind === "normal") {
      out.set(entry.data, p + entry_prefix_bytes);
      body = entry.data.byteLength;
      type = RecordType.entry_normal;
    } else if (entry.kind === "conf") {
      const conf = confs[i]!;
      out.set(conf, p + entry_prefix_bytes);
      body = conf.byteLength;
      type = RecordType.entry_conf;
    } else {
      type = RecordType.entry_noop;
    }
    writeHeader(out, view, offset, type, entry_prefix_bytes + body);
    offset += record_header_bytes + entry_prefix_bytes + body;
  }
  if (hardState !== null) {
    writeHardState(out, view, offset, hardState);
    offset += record_header_bytes + 24;
  }
  assert(offset === size, "encoded size matches the computed size");
  return out;
}

function writeHardState(out: Uint8Array, view: DataView, offset: number, hs: HardState): void {
  assert(Number.isSafeInteger(hs.term) && hs.term >= 0, "hard state term is an integer");
  assert(Number.isSafeInteger(hs.commit) && hs.commit >= 0, "hard state commit is an integer");
  const p = offset + record_header_bytes;
  view.setFloat64(p, hs.term, true);
  view.setFloat64(p + 8, hs.vote, true);
  view.setFloat64(p + 16, hs.commit, true);
  writeHeader(out, view, offset, RecordType.hard_state, 24);
}

export function encodeHardState(hs: HardState): Uint8Array {
  return encodeEntries([], hs);
}

export function encodeSnapshotRecord(record: SnapshotRecord): Uint8Array {
  const body = pack({ meta: record.meta, install: record.install, keep: record.keep });
  const out = new Uint8Array(record_header_bytes + body.byteLength);
  out.set(body, record_header_bytes);
  writeHeader(out, new DataView(out.buffer), 0, RecordType.snapshot, body.byteLength);
  return out;
}

/** ReadResult: ok with the record and the offset after it; bad when the bytes at `offset` are not a valid record. */
export type ReadResult =
  | { ok: true; record: DecodedRecord; next: number }
  | { ok: false; reason: string };

/**
 * readRecord verifies and decodes the record at `offset` of `buf`. Entry data is a view into `buf` (no copy):
 * the caller keeps `buf` alive as long as the entries.
 */
export function readRecord(buf: Uint8Array, view: DataView, offset: number): ReadResult {
  const remaining = buf.byteLength - offset;
  if (remaining < record_header_bytes) return { ok: false, reason: `partial record header (${remaining} bytes)` };
  const len = view.getUint32(offset, true);
  if (len > record_payload_bytes_max) return { ok: false, reason: `record length ${len} out of range` };
  const end = offset + record_header_bytes + len;
  if (end > buf.byteLength) return { ok: false, reason: `partial record (${remaining} of ${record_header_bytes + len} bytes)` };
  const crc = view.getUint32(offset + 4, true);
  if (crcOf(buf.subarray(offset + 8, end)) !== crc) return { ok: false, reason: "CRC mismatch" };
  const type = buf[offset + 8];
  const p = offset + record_header_bytes;
  let record: DecodedRecord | null;
  try {
    record = decodePayload(buf, view, type ?? 0, p, len);
  } catch {
    record = null;
  }
  if (record === null) return { ok: false, reason: `malformed record of type ${type}` };
  return { ok: true, record, next: end };
}

function decodePayload(buf: Uint8Array, view: DataView, type: number, p: number, len: number): DecodedRecord | null {
  if (type === RecordType.entry_normal || type === RecordType.entry_noop || type === RecordType.entry_conf) {
    if (len < entry_prefix_bytes) return null;
    const index = view.getFloat64(p, true);
    const term = view.getFloat64(p + 8, true);
    if (!Number.isSafeInteger(index) || index <= 0 || !Number.isSafeInteger(term) || term < 0) return null;
    const bodyStart = p + entry_prefix_bytes;
    const bodyLen = len - entry_prefix_bytes;
    if (type === RecordType.entry_noop) return bodyLen === 0 ? { type: "entry", entry: { kind: "noop", index, term } } : null;
    if (type === RecordType.entry_normal) {
      const data = new Uint8Array(buf.buffer, buf.byteOffset + bodyStart, bodyLen);
      return { type: "entry", entry: { kind: "normal", index, term, data } };
    }
    const change = unpack(buf.subarray(bodyStart, bodyStart + bodyLen)) as ConfChange;
    return { type: "entry", entry: { kind: "conf", index, term, change } };
  }
  if (type === RecordType.hard_state) {
    if (len !== 24) return null;
    const hardState = { term: view.getFloat64(p, true), vote: view.getFloat64(p + 8, true), commit: view.getFloat64(p + 16, true) };
    return { type: "hard_state", hardState };
  }
  if (type === RecordType.snapshot) {
    const snapshot = unpack(buf.subarray(p, p + len)) as SnapshotRecord;
    if (typeof snapshot !== "object" || snapshot === null || typeof snapshot.meta?.index !== "number") return null;
    return { type: "snapshot", snapshot };
  }
  return null;
}
