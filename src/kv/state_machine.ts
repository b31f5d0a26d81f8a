import { Packr } from "msgpackr";
import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import { decodeCommand } from "./command.ts";
import { hashHex, pairHash } from "./hash.ts";
import { ValueArena } from "./value_arena.ts";
import type { KvCommand, KvResult } from "./types.ts";

const packr = new Packr({ useRecords: false });

/** Snapshot image: MAGIC, then frames [u32 BE length][msgpack]; frame 0 is the header, the rest [k,v,k,v…]. */
const MAGIC = new Uint8Array([0x51, 0x4b, 0x56, 0x31]); // "QKV1"
/** A slice ends after this many keys or characters, so one frame stays far below the transport frame bound. */
const slice_keys_max = 4096;
const slice_chars_max = 1024 * 1024;
/** Work done between two yields to the event loop while writing or reading an image. */
const burst_ms_max = 4;
/** A snapshot image is handed out in pieces of about this size. */
const flush_bytes = 1024 * 1024;

interface SnapshotHeader {
  index: number;
  count: number;
  hash: string;
}

/** ABSENT marks, in a copy-on-write pre-image, a key that did not exist when the snapshot began. */
const ABSENT: unique symbol = Symbol("absent");

/**
 * Cow holds, for a running snapshot, the value each key had at its start, recorded just before the key's first
 * change (ABSENT for keys created since).
 */
interface Cow {
  map: Map<string, number>;
  pre: Map<string, string | typeof ABSENT>;
}

/** SnapshotImage is a snapshot fixed at `index`, streamed by writeTo; close abandons it. */
export interface SnapshotImage {
  index: number;
  writeTo(write: (chunk: Uint8Array) => Promise<void>): Promise<void>;
  close(): void;
}

export interface KvStats {
  index: number;
  keys: number;
  hash: string;
}

/**
 * KvStateMachine is the replicated map (the FSM contract of hashicorp/raft): apply must be deterministic;
 * snapshot captures the state at the current applied index without blocking the event loop for long
 * (copy-on-write: writes made while it runs save the old value first); restore discards all previous state.
 * Values live as UTF-8 bytes in a ValueArena (the map holds each key's location there): a million keys
 * with 100-byte values take ~250 MB instead of ~450 MB as JS strings.
 */
export class KvStateMachine {
  private map = new Map<string, number>();
  private arena = new ValueArena();
  private hash = 0n;
  /** index is the last log index applied (entries of any kind) or restored. */
  private index = 0;
  private cow: Cow | null = null;

  get appliedIndex(): number {
    return this.index;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): string | undefined {
    const loc = this.map.get(key);
    return loc === undefined ? undefined : this.arena.get(loc);
  }

  stats(): KvStats {
    return { index: this.index, keys: this.map.size, hash: hashHex(this.hash) };
  }

  /** applyEntry decodes and applies the command of a normal entry at `index`. */
  applyEntry(index: number, data: Uint8Array): KvResult {
    return this.apply(index, decodeCommand(data));
  }

  apply(index: number, command: KvCommand): KvResult {
    assert(index === this.index + 1, `kv: apply ${index} after ${this.index}`);
    this.index = index;
    const key = command.key;
    const loc = this.map.get(key);
    const previous = loc === undefined ? undefined : this.arena.get(loc);
    const cow = this.cow;
    if (cow !== null && cow.map === this.map && !cow.pre.has(key)) {
      cow.pre.set(key, previous ?? ABSENT);
    }
    if (previous !== undefined) {
      this.hash ^= pairHash(key, previous);
      this.arena.free(loc!);
    }
    if (command.op === "put") {
      this.map.set(key, this.arena.put(command.value));
      this.hash ^= pairHash(key, command.value);
    } else if (loc !== undefined) {
      this.map.delete(key);
    }
    if (this.arena.wantsCompaction()) this.arena.compact(this.map);
    return { index, existed: previous !== undefined };
  }

  /** skip advances the applied index over an entry that is not a kv command (noop, conf change). */
  skip(index: number): void {
    assert(index === this.index + 1, `kv: skip ${index} after ${this.index}`);
    this.index = index;
  }

  /**
   * snapshot serializes the map as it is now (at appliedIndex), yielding to the event loop between bursts.
   * Applies may continue meanwhile; the image still shows the state at the start. One at a time.
   */
  async snapshot(): Promise<{ index: number; data: Uint8Array }> {
    const image = this.beginSnapshot();
    const chunks: Uint8Array[] = [];
    await image.writeTo(async (chunk) => {
      chunks.push(new Uint8Array(chunk)); // a copy: the writer reuses its buffer (Buffer#slice would alias it)
    });
    return { index: image.index, data: Buffer.concat(chunks) };
  }

  /**
   * beginSnapshot fixes the state to serialize now (synchronously: the image is the state at appliedIndex);
   * writeTo then streams it in ~1 MiB pieces, so a big map's image is never whole in memory. Writes applied
   * meanwhile save the old value first (copy-on-write). One at a time; close() ends it (writeTo does at its end).
   */
  beginSnapshot(): SnapshotImage {
    assert(this.cow === null, "kv: a snapshot is already running");
    const header: SnapshotHeader = { index: this.index, count: this.map.size, hash: hashHex(this.hash) };
    const cow: Cow = { map: this.map, pre: new Map() };
    // The keys of the start, copied up front (~10-40 ms for 1M keys, cheaper overall than tracking which keys
    // the pass already wrote); a key changed since has its start value in the pre-image.
    const keys = Array.from(this.map.keys());
    const arena = this.arena; // a restore meanwhile swaps in a new arena; this one stays as it was
    this.cow = cow;
    const close = () => {
      if (this.cow === cow) this.cow = null;
    };
    const writeTo = async (write: (chunk: Uint8Array) => Promise<void>) => {
      try {
        const writer = new ImageWriter(write);
        writer.frame(packr.pack(header));
        let pairs = 0;
        let bytes = 0;
        let written = 0;
        let burstStart = performance.now();
        writer.beginSlice();
        for (const key of keys) {
          const pre = cow.pre.get(key);
          bytes += writer.string(key);
          if (pre === undefined) {
            const loc = cow.map.get(key);
            assert(loc !== undefined, "kv: a key of the start has a value");
            bytes += writer.bytes(arena.bytes(loc));
          } else {
            assert(pre !== ABSENT, "kv: a key of the start has a value");
            bytes += writer.string(pre);
          }
          pairs++;
          if (pairs >= slice_keys_max || bytes >= slice_chars_max) {
            writer.endSlice(pairs);
            written += pairs;
            pairs = 0;
            bytes = 0;
            if (writer.full()) {
              await writer.flush();
              burstStart = performance.now();
            } else if (performance.now() - burstStart > burst_ms_max) {
              await yieldToLoop();
              burstStart = performance.now();
            }
            writer.beginSlice();
          }
        }
        if (pairs > 0) writer.endSlice(pairs);
        else writer.dropSlice();
        written += pairs;
        assert(written === header.count, `kv: snapshot wrote ${written} keys, expected ${header.count}`);
        await writer.flush();
      } finally {
        close();
      }
    };
    return { index: header.index, writeTo, close };
  }

  /**
   * restore replaces the whole state with an image (discarding all previous state), checking its key count
   * and hash. Parsing yields to the event loop; readers see the old map until the swap at the end.
   */
  async restore(image: Uint8Array): Promise<void> {
    const reader = new ImageReader(image);
    const header = packr.unpack(reader.next() ?? fail("missing header")) as SnapshotHeader;
    if (typeof header?.count !== "number" || typeof header.index !== "number" || typeof header.hash !== "string") {
      fail("bad header");
    }
    const map = new Map<string, number>();
    const arena = new ValueArena();
    let hash = 0n;
    let burstStart = performance.now();
    for (let frame = reader.next(); frame !== null; frame = reader.next()) {
      const pairs = packr.unpack(frame) as unknown;
      if (!Array.isArray(pairs) || pairs.length % 2 !== 0) fail("bad slice");
      for (let i = 0; i < pairs.length; i += 2) {
        const key = pairs[i] as unknown;
        const value = pairs[i + 1] as unknown;
        if (typeof key !== "string" || typeof value !== "string") fail("non-string pair");
        if (map.has(key)) fail(`duplicate key`);
        map.set(key, arena.put(value));
        hash ^= pairHash(key, value);
      }
      if (performance.now() - burstStart > burst_ms_max) {
        await yieldToLoop();
        burstStart = performance.now();
      }
    }
    if (map.size !== header.count) fail(`${map.size} keys, header says ${header.count}`);
    if (hashHex(hash) !== header.hash) fail(`hash ${hashHex(hash)}, header says ${header.hash}`);
    this.cow = null; // a snapshot still running keeps its own map and pre-image; it no longer sees writes
    this.map = map;
    this.arena = arena;
    this.hash = hash;
    this.index = header.index;
  }
}

function fail(why: string): never {
  throw new QklzlError("storage_corrupt", `kv snapshot image is invalid: ${why}`);
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * ImageWriter encodes frames of msgpack arrays [k, v, k, v…] into a reused buffer and hands it out about
 * every flush_bytes: values are copied as bytes from the arena (no string round trip), and the image is never
 * whole in memory (it used to exist twice, as frames and as their concatenation: ~240 MB at 1M keys).
 */
class ImageWriter {
  private buf = Buffer.allocUnsafe(2 * flush_bytes);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private at = 0;
  private sliceAt = -1;

  constructor(private readonly write: (chunk: Uint8Array) => Promise<void>) {
    this.buf.set(MAGIC, 0);
    this.at = MAGIC.length;
  }

  full(): boolean {
    return this.at >= flush_bytes;
  }

  /** flush hands out what is buffered (whole frames only) and reuses the buffer once it was taken. */
  async flush(): Promise<void> {
    assert(this.sliceAt === -1, "kv: flush between frames");
    if (this.at === 0) return;
    await this.write(this.buf.subarray(0, this.at));
    this.at = 0;
  }

  frame(body: Uint8Array): void {
    this.ensure(4 + body.length);
    this.view.setUint32(this.at, body.length);
    this.buf.set(body, this.at + 4);
    this.at += 4 + body.length;
  }

  /** beginSlice reserves a frame length and an array32 header, filled in by endSlice. */
  beginSlice(): void {
    this.ensure(9);
    this.sliceAt = this.at;
    this.at += 4 + 5;
  }

  endSlice(pairs: number): void {
    const at = this.sliceAt;
    this.view.setUint32(at, this.at - at - 4);
    this.buf[at + 4] = 0xdd; // msgpack array32
    this.view.setUint32(at + 5, pairs * 2);
    this.sliceAt = -1;
  }

  dropSlice(): void {
    this.at = this.sliceAt;
    this.sliceAt = -1;
  }

  /** string writes a msgpack str; returns its UTF-8 length. */
  string(text: string): number {
    const length = Buffer.byteLength(text, "utf8");
    this.ensure(5 + length);
    this.strHeader(length);
    this.at += this.buf.write(text, this.at, length, "utf8");
    return length;
  }

  /** bytes writes UTF-8 bytes as a msgpack str; returns their length. */
  bytes(value: Uint8Array): number {
    this.ensure(5 + value.length);
    this.strHeader(value.length);
    this.buf.set(value, this.at);
    this.at += value.length;
    return value.length;
  }

  /** ensure grows the buffer (keeping its contents) so that `more` bytes fit. */
  private ensure(more: number): void {
    if (this.at + more <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.at + more));
    bigger.set(this.buf.subarray(0, this.at), 0);
    this.buf = bigger;
    this.view = new DataView(bigger.buffer, bigger.byteOffset, bigger.byteLength);
  }

  private strHeader(length: number): void {
    if (length < 32) {
      this.buf[this.at++] = 0xa0 | length;
    } else if (length < 0x100) {
      this.buf[this.at++] = 0xd9;
      this.buf[this.at++] = length;
    } else if (length < 0x10000) {
      this.buf[this.at] = 0xda;
      this.view.setUint16(this.at + 1, length);
      this.at += 3;
    } else {
      this.buf[this.at] = 0xdb;
      this.view.setUint32(this.at + 1, length);
      this.at += 5;
    }
  }
}

/** ImageReader walks the frames of an image, checking every length against the bytes left. */
class ImageReader {
  private offset = MAGIC.length;
  private readonly view: DataView;

  constructor(private readonly image: Uint8Array) {
    if (image.length < MAGIC.length || !MAGIC.every((byte, i) => image[i] === byte)) fail("bad magic");
    this.view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  }

  next(): Uint8Array | null {
    if (this.offset === this.image.length) return null;
    if (this.offset + 4 > this.image.length) fail(`torn frame length at ${this.offset}`);
    const length = this.view.getUint32(this.offset);
    const start = this.offset + 4;
    if (start + length > this.image.length) fail(`frame at ${this.offset} runs past the end`);
    this.offset = start + length;
    return this.image.subarray(start, start + length);
  }
}
