// Segment file layout: a 32-byte header then records (record.ts).
// Header: magic "QKLZLWAL" | version u32 | crc32 of bytes 16..32 u32 | seq f64 | firstIndex f64 (little endian).
// Segments are named by sequence number; firstIndex (the log's lastIndex + 1 at creation) is informational.
import * as path from "node:path";

export const segment_header_bytes = 32;
export const segment_format_version = 1;
const segment_magic = new TextEncoder().encode("QKLZLWAL");

export interface SegmentHeader {
  seq: number;
  firstIndex: number;
}

export function segmentName(seq: number): string {
  return `${String(seq).padStart(16, "0")}.seg`;
}

/** parseSegmentName gives the sequence number of a segment file name, or null for other files. */
export function parseSegmentName(name: string): number | null {
  const m = /^(\d{16})\.seg$/.exec(name);
  return m === null ? null : Number(m[1]);
}

export function segmentPath(walDir: string, seq: number): string {
  return path.join(walDir, segmentName(seq));
}

export function encodeSegmentHeader(header: SegmentHeader): Uint8Array {
  const out = new Uint8Array(segment_header_bytes);
  const view = new DataView(out.buffer);
  out.set(segment_magic, 0);
  view.setUint32(8, segment_format_version, true);
  view.setFloat64(16, header.seq, true);
  view.setFloat64(24, header.firstIndex, true);
  view.setUint32(12, Bun.hash.crc32(out.subarray(16, 32)) >>> 0, true);
  return out;
}

/** decodeSegmentHeader returns the header, or a reason why the first bytes are not a valid header. */
export function decodeSegmentHeader(buf: Uint8Array): SegmentHeader | string {
  if (buf.byteLength < segment_header_bytes) return `file of ${buf.byteLength} bytes is shorter than a segment header`;
  for (let i = 0; i < segment_magic.length; i++) if (buf[i] !== segment_magic[i]) return "bad segment magic";
  const view = new DataView(buf.buffer, buf.byteOffset, segment_header_bytes);
  const version = view.getUint32(8, true);
  if (version !== segment_format_version) return `unsupported segment version ${version}`;
  if ((Bun.hash.crc32(buf.subarray(16, 32)) >>> 0) !== view.getUint32(12, true)) return "segment header CRC mismatch";
  return { seq: view.getFloat64(16, true), firstIndex: view.getFloat64(24, true) };
}
