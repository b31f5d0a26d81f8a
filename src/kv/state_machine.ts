import { Packr } from "msgpackr";
import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import { decodeCommand } from "./command.ts";
import { hashHex, pairHash } from "./hash.ts";
import type { KvCommand, KvResult } from "./types.ts";

const packr = new Packr({ useRecords: false });

/** Snapshot image: MAGIC, then frames [u32 BE length][msgpack]; frame 0 is the header, the rest [k,v,k,v…]. */
const MAGIC = new Uint8Array([0x51, 0x4b, 0x56, 0x31]); // "QKV1"
/** A slice ends after this many keys or characters, so one frame stays far below the transport frame bound. */
const slice_keys_max = 4096;
const slice_chars_max = 1024 * 1024;
/** Work done between two yields to the event loop while writing or reading an image. */
const burst_ms_max = 4;

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
  map: Map<string, string>;
  pre: Map<string, string | typeof ABSENT>;
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
 */
export class KvStateMachine {
  private map = new Map<string, string>();
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
    return this.map.get(key);
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
    const previous = this.map.get(command.key);
    const cow = this.cow;
    if (cow !== null && cow.map === this.map && !cow.pre.has(command.key)) {
      cow.pre.set(command.key, previous ?? ABSENT);
    }
    if (previous !== undefined) this.hash ^= pairHash(command.key, previous);
    if (command.op === "put") {
      this.map.set(command.key, command.value);
      this.hash ^= pairHash(command.key, command.value);
    } else {
      this.map.delete(command.key);
    }
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
    assert(this.cow === null, "kv: a snapshot is already running");
    const header: SnapshotHeader = { index: this.index, count: this.map.size, hash: hashHex(this.hash) };
    const cow: Cow = { map: this.map, pre: new Map() };
    const keys = Array.from(this.map.keys());
    this.cow = cow;
    try {
      const writer = new ImageWriter();
      writer.frame(packr.pack(header));
      let slice: string[] = [];
      let chars = 0;
      let written = 0;
      let burstStart = performance.now();
      const flush = async () => {
        if (slice.length > 0) writer.frame(packr.pack(slice));
        written += slice.length / 2;
        slice = [];
        chars = 0;
        if (performance.now() - burstStart > burst_ms_max) {
          await yieldToLoop();
          burstStart = performance.now();
        }
      };
      // The keys of the start, copied up front (~10-40 ms for 1M keys, cheaper overall than tracking which keys
      // the pass already wrote); a key changed since has its start value in the pre-image.
      for (const key of keys) {
        const pre = cow.pre.get(key);
        const value = pre === undefined ? cow.map.get(key) : pre;
        assert(value !== undefined && value !== ABSENT, "kv: a key of the start has a value");
        slice.push(key, value);
        chars += key.length + value.length;
        if (slice.length >= slice_keys_max * 2 || chars >= slice_chars_max) await flush();
      }
      await flush();
      assert(written === header.count, `kv: snapshot wrote ${written} keys, expected ${header.count}`);
      return { index: header.index, data: await writer.finish() };
    } finally {
      if (this.cow === cow) this.cow = null;
    }
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
    const map = new Map<string, string>();
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
        map.set(key, value);
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
 * ImageWriter keeps frames as separate chunks and joins them once at the end, in bursts with yields: one big
 * copy (or a doubling buffer) of a 100 MB image would stall the loop for tens of milliseconds.
 */
class ImageWriter {
  private readonly chunks: Uint8Array[] = [MAGIC];
  private length = MAGIC.length;

  frame(body: Uint8Array): void {
    const prefix = new Uint8Array(4);
    new DataView(prefix.buffer).setUint32(0, body.length);
    this.chunks.push(prefix, body);
    this.length += 4 + body.length;
  }

  async finish(): Promise<Uint8Array> {
    const image = Buffer.allocUnsafe(this.length);
    let offset = 0;
    let burstStart = performance.now();
    for (const chunk of this.chunks) {
      image.set(chunk, offset);
      offset += chunk.length;
      if (performance.now() - burstStart > burst_ms_max) {
        await yieldToLoop();
        burstStart = performance.now();
      }
    }
    assert(offset === this.length, "kv: image length");
    return new Uint8Array(image.buffer, image.byteOffset, image.length);
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
