// AppendEncoder: the hot frame, `{t:"m", m:<append>}`, written as msgpack by hand instead of through msgpackr.
// The bytes are ordinary msgpack that the receiver's generic FrameDecoder + parseFrame read exactly like
// msgpackr's own output (same types: fixmap/str/uint/bin/array), so the wire format is unchanged and a peer
// running the previous version reads these frames as before (protocol_version stays 1).
// Why: a leader sends the same entries to every follower in a Ready, and msgpackr walked each Entry object
// (keys, type checks) once per follower. Here the entries' bytes are built once and shared: the encoder keeps
// the last entries section and reuses it when the next append carries the very same Entry objects (checked
// object by object, so a different slice can never be mistaken for it).
import type { Entry, Message } from "../raft/types.ts";
import { assert } from "../shared/assert.ts";
import { FrameError, frame_header_bytes, packValue } from "./frame.ts";

type AppendMessage = Message & { type: "append" };

const utf8 = new TextEncoder();
/** key: a short ASCII string as a msgpack fixstr. */
export function key(s: string): Uint8Array {
  const b = utf8.encode(s);
  assert(b.length < 32, "fixstr key");
  const out = new Uint8Array(1 + b.length);
  out[0] = 0xa0 | b.length;
  out.set(b, 1);
  return out;
}

const k = {
  t: key("t"),
  m: key("m"),
  type: key("type"),
  append: key("append"),
  from: key("from"),
  to: key("to"),
  term: key("term"),
  prevIndex: key("prevIndex"),
  prevTerm: key("prevTerm"),
  commit: key("commit"),
  entries: key("entries"),
  kind: key("kind"),
  normal: key("normal"),
  noop: key("noop"),
  index: key("index"),
  data: key("data"),
};

/** intBytes is the msgpack size of a safe integer as written by writeInt. */
export function intBytes(n: number): number {
  if (n >= 0) {
    if (n < 0x80) return 1;
    if (n < 0x100) return 2;
    if (n < 0x10000) return 3;
    if (n < 0x100000000) return 5;
    return 9;
  }
  if (n >= -32) return 1;
  if (n >= -0x80000000) return 5;
  return 9;
}

/** Writer: a cursor over a buffer sized exactly in advance (every write is bounds-checked by the final assert). */
export class Writer {
  pos = 0;
  private view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** small: a few bytes (a key, an entry's opening) copied by a loop; TypedArray.set costs ~50 ns a call. */
  small(b: Uint8Array): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < b.length; i++) buf[p++] = b[i]!;
    this.pos = p;
  }
  byte(b: number): void {
    this.buf[this.pos++] = b;
  }
  int(n: number): void {
    const v = this.view;
    if (n >= 0) {
      if (n < 0x80) this.byte(n);
      else if (n < 0x100) {
        this.byte(0xcc);
        this.byte(n);
      } else if (n < 0x10000) {
        this.byte(0xcd);
        v.setUint16(this.pos, n);
        this.pos += 2;
      } else if (n < 0x100000000) {
        this.byte(0xce);
        v.setUint32(this.pos, n);
        this.pos += 4;
      } else {
        // Above 2^32 msgpackr itself writes a float64; any safe integer is exact in one.
        this.byte(0xcb);
        v.setFloat64(this.pos, n);
        this.pos += 8;
      }
    } else if (n >= -32) {
      this.byte(n & 0xff);
    } else if (n >= -0x80000000) {
      this.byte(0xd2);
      v.setInt32(this.pos, n);
      this.pos += 4;
    } else {
      this.byte(0xcb);
      v.setFloat64(this.pos, n);
      this.pos += 8;
    }
  }
  arrayHeader(n: number): void {
    if (n < 16) this.byte(0x90 | n);
    else if (n < 0x10000) {
      this.byte(0xdc);
      this.view.setUint16(this.pos, n);
      this.pos += 2;
    } else {
      this.byte(0xdd);
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    }
  }
  bin(b: Uint8Array): void {
    this.binHeader(b.length);
    this.bytes(b);
  }
  binHeader(n: number): void {
    if (n < 0x100) {
      this.byte(0xc4);
      this.byte(n);
    } else if (n < 0x10000) {
      this.byte(0xc5);
      this.view.setUint16(this.pos, n);
      this.pos += 2;
    } else {
      this.byte(0xc6);
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    }
  }
}

function arrayHeaderBytes(n: number): number {
  return n < 16 ? 1 : n < 0x10000 ? 3 : 5;
}

function binBytes(n: number): number {
  return (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5) + n;
}

/** entryBytes is the encoded size of one entry; conf entries (rare) go through msgpackr, pre-packed in `packed`. */
function entryBytes(e: Entry, packed: Map<Entry, Uint8Array>): number {
  const common = k.index.length + intBytes(e.index) + k.term.length + intBytes(e.term) + k.kind.length;
  if (e.kind === "normal") return 1 + common + k.normal.length + k.data.length + binBytes(e.data.length);
  if (e.kind === "noop") return 1 + common + k.noop.length;
  const b = packValue(e);
  packed.set(e, b);
  return b.length;
}

/** The constant openings of an entry, `{kind: "normal"|"noop", index:` (fixmap 4 or 3), written in one go. */
const normalHead = Uint8Array.of(0x84, ...k.kind, ...k.normal, ...k.index);
const noopHead = Uint8Array.of(0x83, ...k.kind, ...k.noop, ...k.index);

function writeEntry(w: Writer, e: Entry, packed: Map<Entry, Uint8Array>): void {
  if (e.kind === "conf") return w.bytes(packed.get(e)!);
  w.small(e.kind === "normal" ? normalHead : noopHead);
  w.int(e.index);
  w.small(k.term);
  w.int(e.term);
  if (e.kind === "normal") {
    w.small(k.data);
    w.bin(e.data);
  }
}

/**
 * part_bytes_min: an entry's data from this size is a part of its own in a section (a view, never copied
 * here); smaller data is copied in with the entry's opening (a part costs a copy call of its own later).
 */
const part_bytes_min = 1024;

/**
 * Section: the msgpack array of some entries as parts to be written one after the other: the openings (and
 * small data) in one buffer built here, large entries' data as views of the entries' own bytes. The frame's
 * bytes are the parts joined; the socket queue joins them into its reused buffer (out_queue.ts), so a large
 * value is copied once per follower into warm memory instead of into a fresh section and a fresh frame.
 */
export interface Section {
  parts: Uint8Array[];
  length: number;
}

/** sectionOf: the entries section of `entries` in parts (see Section). */
export function sectionOf(entries: readonly Entry[]): Section {
  const packed = new Map<Entry, Uint8Array>();
  let length = arrayHeaderBytes(entries.length);
  let inline = length;
  for (const e of entries) {
    const n = entryBytes(e, packed);
    length += n;
    inline += e.kind === "normal" && e.data.length >= part_bytes_min ? n - e.data.length : n;
  }
  const w = new Writer(new Uint8Array(inline));
  const parts: Uint8Array[] = [];
  let from = 0; // where the openings not yet made a part start
  w.arrayHeader(entries.length);
  for (const e of entries) {
    if (e.kind === "normal" && e.data.length >= part_bytes_min) {
      writeOpening(w, e);
      parts.push(w.buf.subarray(from, w.pos), e.data);
      from = w.pos;
    } else {
      writeEntry(w, e, packed);
    }
  }
  if (w.pos > from) parts.push(w.buf.subarray(from, w.pos));
  assert(w.pos === inline, "entries section openings size");
  return { parts, length };
}

/** writeOpening: a normal entry up to its data's bin header, the data itself left out. */
function writeOpening(w: Writer, e: Entry & { kind: "normal" }): void {
  w.small(normalHead);
  w.int(e.index);
  w.small(k.term);
  w.int(e.term);
  w.small(k.data);
  w.binHeader(e.data.length);
}

/** joinParts: the parts as one buffer. */
export function joinParts(parts: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  assert(at === length, "joined parts length");
  return out;
}

/** encodeEntries: the msgpack array of `entries`, exactly as msgpackr's reader expects it. */
export function encodeEntries(entries: readonly Entry[]): Uint8Array {
  const section = sectionOf(entries);
  return joinParts(section.parts, section.length);
}

/** frameHead: `{t: "m", m: {type: "append", from:` (fixmap 2, fixmap 8), the same for every append. */
const frameHead = Uint8Array.of(0x82, ...k.t, ...k.m, ...k.m, 0x88, ...k.type, ...k.append, ...k.from);

export class AppendEncoder {
  /** The last entries section built, and the Entry objects it holds (compared by identity). */
  private lastEntries: readonly Entry[] = [];
  private lastSection: Section = sectionOf([]);
  /** shared counts frames that reused the previous section (for tests and the benchmark notes). */
  shared = 0;
  built = 0;

  /** section returns the encoded entries, reusing the previous section when they are the same objects. */
  private section(entries: readonly Entry[]): Section {
    const last = this.lastEntries;
    let same = last.length === entries.length;
    for (let i = 0; same && i < entries.length; i++) same = last[i] === entries[i];
    if (same) {
      this.shared++;
      return this.lastSection;
    }
    this.built++;
    this.lastSection = sectionOf(entries);
    // A copy of the array (not the caller's, which it may reuse); the Entry objects themselves are immutable.
    this.lastEntries = entries.slice();
    return this.lastSection;
  }

  /** encode builds the whole length-prefixed frame for an append; throws FrameError past bytesMax. */
  encode(m: AppendMessage, bytesMax: number): Uint8Array {
    const parts = this.encodeParts(m, bytesMax);
    return joinParts([parts.head, ...parts.section.parts], parts.head.length + parts.section.length);
  }

  /**
   * encodeParts: the same frame as encode, as the length prefix and the message's fields (a few dozen bytes,
   * per follower), then the entries section's parts (Section), shared by every follower sent the same
   * entries. The transport queues them as one frame (OutQueue.push) and joins them in its reused buffer, so
   * neither the section nor a follower's frame is a fresh copy of the values (at 16 KiB values those copies,
   * and their page faults, were the leader's largest).
   */
  encodeParts(m: AppendMessage, bytesMax: number): { head: Uint8Array; section: Section } {
    const section = this.section(m.entries);
    const fields =
      1 + k.type.length + k.append.length +
      k.from.length + intBytes(m.from) + k.to.length + intBytes(m.to) + k.term.length + intBytes(m.term) +
      k.prevIndex.length + intBytes(m.prevIndex) + k.prevTerm.length + intBytes(m.prevTerm) +
      k.commit.length + intBytes(m.commit) + k.entries.length;
    const body = 1 + k.t.length + k.m.length + k.m.length + fields + section.length;
    if (body > bytesMax) throw new FrameError(`frame of ${body} bytes exceeds ${bytesMax}`);
    const w = new Writer(new Uint8Array(frame_header_bytes + body - section.length));
    w.byte(body >>> 24);
    w.byte((body >>> 16) & 0xff);
    w.byte((body >>> 8) & 0xff);
    w.byte(body & 0xff);
    w.small(frameHead);
    w.int(m.from);
    w.small(k.to);
    w.int(m.to);
    w.small(k.term);
    w.int(m.term);
    w.small(k.prevIndex);
    w.int(m.prevIndex);
    w.small(k.prevTerm);
    w.int(m.prevTerm);
    w.small(k.commit);
    w.int(m.commit);
    w.small(k.entries);
    assert(w.pos === w.buf.length, "append frame head size");
    return { head: w.buf, section };
  }
}
