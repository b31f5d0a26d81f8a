// decodeAppendFrame: the receiving half of append_codec.ts. A follower gets one append frame per Ready from its
// leader; msgpackr spent most of the follower's transport time on it (reading every map key of every entry as
// a string, then parseFrame walking the generic object again). This reads the exact byte layout that
// AppendEncoder writes, field by field, and builds the checked Frame directly. Anything else (another field
// order, another integer encoding, a conf entry, a peer that packs with msgpackr, a truncated or padded body)
// returns null and goes through the generic decoder and parseFrame, which accept or refuse it as before: the
// fast path never accepts a frame the generic path would refuse, and yields the same Frame for the frames it takes.
import type { Entry, Message } from "../raft/types.ts";
import type { Frame } from "./wire.ts";

const utf8 = new TextEncoder();
const keyBytes = (s: string): Uint8Array => {
  const b = utf8.encode(s);
  const out = new Uint8Array(1 + b.length);
  out[0] = 0xa0 | b.length;
  out.set(b, 1);
  return out;
};

/** head: the frame's fixed opening, `{t: "m", m: {type: "append", from:` (fixmap 2, fixmap 8). */
const head = concat([Uint8Array.of(0x82), keyBytes("t"), keyBytes("m"), keyBytes("m"), Uint8Array.of(0x88), keyBytes("type"), keyBytes("append"), keyBytes("from")]);
const k_to = keyBytes("to");
const k_term = keyBytes("term");
const k_prevIndex = keyBytes("prevIndex");
const k_prevTerm = keyBytes("prevTerm");
const k_commit = keyBytes("commit");
const k_entries = keyBytes("entries");
/** entry openings: `{kind: "normal", index:` (fixmap 4) and `{kind: "noop", index:` (fixmap 3). */
const normalHead = concat([Uint8Array.of(0x84), keyBytes("kind"), keyBytes("normal"), keyBytes("index")]);
const noopHead = concat([Uint8Array.of(0x83), keyBytes("kind"), keyBytes("noop"), keyBytes("index")]);
const k_data = keyBytes("data");

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Reader: a cursor; any mismatch sets `pos` to -1 (the frame is left to the generic path). */
export class Reader {
  pos = 0;
  private readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  get ok(): boolean {
    return this.pos >= 0;
  }
  fail(): number {
    this.pos = -1;
    return 0;
  }
  /** match consumes `bytes` when they come next. */
  match(bytes: Uint8Array): boolean {
    const b = this.buf;
    const p = this.pos;
    if (p < 0 || p + bytes.length > b.length) return false;
    for (let i = 0; i < bytes.length; i++) if (b[p + i] !== bytes[i]) return false;
    this.pos = p + bytes.length;
    return true;
  }
  expect(bytes: Uint8Array): void {
    if (!this.match(bytes)) this.pos = -1;
  }
  /** int: a safe integer in one of the encodings AppendEncoder's writer uses. */
  int(): number {
    const b = this.buf;
    const p = this.pos;
    if (p < 0 || p >= b.length) return this.fail();
    const t = b[p]!;
    if (t < 0x80) {
      this.pos = p + 1;
      return t;
    }
    if (t >= 0xe0) {
      this.pos = p + 1;
      return t - 0x100;
    }
    const v = this.view;
    switch (t) {
      case 0xcc:
        if (p + 2 > b.length) return this.fail();
        this.pos = p + 2;
        return b[p + 1]!;
      case 0xcd:
        if (p + 3 > b.length) return this.fail();
        this.pos = p + 3;
        return v.getUint16(p + 1);
      case 0xce:
        if (p + 5 > b.length) return this.fail();
        this.pos = p + 5;
        return v.getUint32(p + 1);
      case 0xd2:
        if (p + 5 > b.length) return this.fail();
        this.pos = p + 5;
        return v.getInt32(p + 1);
      case 0xcb: {
        if (p + 9 > b.length) return this.fail();
        const n = v.getFloat64(p + 1);
        if (!Number.isSafeInteger(n)) return this.fail();
        this.pos = p + 9;
        return n;
      }
      default:
        return this.fail();
    }
  }
  /** arrayLength: a fixarray, array16 or array32 header. */
  arrayLength(): number {
    const b = this.buf;
    const p = this.pos;
    if (p < 0 || p >= b.length) return this.fail();
    const t = b[p]!;
    if ((t & 0xf0) === 0x90) {
      this.pos = p + 1;
      return t & 0x0f;
    }
    if (t === 0xdc && p + 3 <= b.length) {
      this.pos = p + 3;
      return this.view.getUint16(p + 1);
    }
    if (t === 0xdd && p + 5 <= b.length) {
      this.pos = p + 5;
      return this.view.getUint32(p + 1);
    }
    return this.fail();
  }
  /** ascii: a fixstr or str8 of ASCII bytes (null, and the cursor unchanged, for anything else). */
  ascii(): string | null {
    const b = this.buf;
    const p = this.pos;
    if (p < 0 || p >= b.length) return null;
    const t = b[p]!;
    let n: number;
    let s: number;
    if ((t & 0xe0) === 0xa0) {
      n = t & 0x1f;
      s = p + 1;
    } else if (t === 0xd9 && p + 1 < b.length) {
      n = b[p + 1]!;
      s = p + 2;
    } else {
      return null;
    }
    if (s + n > b.length) return null;
    let out = "";
    for (let i = s; i < s + n; i++) {
      const c = b[i]!;
      if (c >= 0x80) return null;
      out += String.fromCharCode(c);
    }
    this.pos = s + n;
    return out;
  }
  /**
   * bin: a bin8/16/32 value as a view of the frame body, not a copy. The body is this frame's alone (the
   * reassembled buffer, or a part of the chunk Bun handed this data callback), and an entry's data lives only
   * until the follower's WAL has copied it into its columns and apply has copied the value into the arena: a
   * copy here was a second fresh buffer per entry (at 16 KiB, four page faults) for nothing.
   */
  bin(): Uint8Array | null {
    const b = this.buf;
    const p = this.pos;
    if (p < 0 || p >= b.length) return null;
    const t = b[p]!;
    let n: number;
    let start: number;
    if (t === 0xc4 && p + 2 <= b.length) {
      n = b[p + 1]!;
      start = p + 2;
    } else if (t === 0xc5 && p + 3 <= b.length) {
      n = this.view.getUint16(p + 1);
      start = p + 3;
    } else if (t === 0xc6 && p + 5 <= b.length) {
      n = this.view.getUint32(p + 1);
      start = p + 5;
    } else {
      this.pos = -1;
      return null;
    }
    if (start + n > b.length) {
      this.pos = -1;
      return null;
    }
    this.pos = start + n;
    return b.subarray(start, start + n);
  }
}

/** decodeAppendFrame: the Frame of an append in AppendEncoder's layout, or null (use the generic decoder). */
export function decodeAppendFrame(body: Uint8Array): Frame | null {
  const r = new Reader(body);
  if (!r.match(head)) return null;
  const from = r.int();
  r.expect(k_to);
  const to = r.int();
  r.expect(k_term);
  const term = r.int();
  r.expect(k_prevIndex);
  const prevIndex = r.int();
  r.expect(k_prevTerm);
  const prevTerm = r.int();
  r.expect(k_commit);
  const commit = r.int();
  r.expect(k_entries);
  const count = r.arrayLength();
  if (!r.ok || count > body.length) return null; // each entry takes bytes: a huge count is not this layout
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    if (r.match(normalHead)) {
      const index = r.int();
      r.expect(k_term);
      const t = r.int();
      r.expect(k_data);
      const data = r.bin();
      if (data === null) return null;
      entries.push({ kind: "normal", index, term: t, data });
    } else if (r.match(noopHead)) {
      const index = r.int();
      r.expect(k_term);
      const t = r.int();
      entries.push({ kind: "noop", index, term: t });
    } else {
      return null;
    }
    if (!r.ok) return null;
  }
  // Trailing bytes: the generic decoder refuses them ("end of buffer not reached"); so must this one.
  if (!r.ok || r.pos !== body.length) return null;
  const m: Message = { type: "append", from, to, term, prevIndex, prevTerm, entries, commit } as Message;
  return { t: "m", m };
}

/** scratch_bytes_max: an append up to this size that spanned socket reads is joined in the reused scratch. */
const scratch_bytes_max = 8 * 1024 * 1024;
/** scratch: where decodeAppendPieces joins a frame to read it; nothing refers to it once it returns. */
let scratch = new Uint8Array(0);

/**
 * decodeAppendPieces: decodeAppendFrame of a frame that arrived in several socket reads, without a fresh
 * buffer for the whole frame: the pieces are joined in a reused scratch buffer and read there, then each
 * entry's data is pointed at the piece (socket chunk) holding it, or copied out when it spans two. At 16 KiB
 * values the fresh frame body was a follower's largest remaining fresh buffer. null for anything
 * decodeAppendFrame declines, or a frame past scratch_bytes_max: the caller then joins a body of its own.
 */
export function decodeAppendPieces(pieces: readonly Uint8Array[], length: number): Frame | null {
  if (length > scratch_bytes_max) return null;
  if (scratch.length < length) scratch = new Uint8Array(Math.min(scratch_bytes_max, Math.max(length, 2 * scratch.length, 64 * 1024)));
  const body = scratch.subarray(0, length);
  const starts: number[] = [];
  let at = 0;
  for (const piece of pieces) {
    starts.push(at);
    body.set(piece, at);
    at += piece.length;
  }
  if (at !== length) return null;
  const frame = decodeAppendFrame(body);
  if (frame === null || frame.t !== "m" || frame.m.type !== "append") return null;
  const entries = frame.m.entries;
  let p = 0; // entries' data come in increasing offsets: the piece search only moves forward
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.kind !== "normal") continue;
    const n = e.data.length;
    if (n === 0) {
      entries[i] = { kind: "normal", index: e.index, term: e.term, data: new Uint8Array(0) };
      continue;
    }
    const off = e.data.byteOffset - body.byteOffset;
    while (p + 1 < pieces.length && starts[p + 1]! <= off) p++;
    const from = off - starts[p]!;
    const data = from + n <= pieces[p]!.length ? pieces[p]!.subarray(from, from + n) : e.data.slice();
    entries[i] = { kind: "normal", index: e.index, term: e.term, data };
  }
  return frame;
}
