import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";

/** A snapshot image is handed out in pieces of about this size. */
const flush_bytes = 1024 * 1024;

/** Image magics: "QKV1" (a plain map, before revisions), "QKV2" (revisions, history, dedup table). */
export const image_magic_v1 = new Uint8Array([0x51, 0x4b, 0x56, 0x31]);
export const image_magic_v2 = new Uint8Array([0x51, 0x4b, 0x56, 0x32]);

export function imageFail(why: string): never {
  throw new QklzlError("storage_corrupt", `kv snapshot image is invalid: ${why}`);
}

/**
 * ImageWriter encodes frames [u32 BE length][msgpack] into a reused buffer and hands it out about every
 * flush_bytes: values are copied as bytes from the arena (no string round trip), and the image is never
 * whole in memory. A slice frame is one msgpack array32 whose items are written one by one.
 */
export class ImageWriter {
  // Starts small (many images are tiny) and doubles up to about 2 × flush_bytes for big ones.
  private buf = Buffer.allocUnsafe(4096);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private at = 0;
  private sliceAt = -1;

  constructor(
    private readonly write: (chunk: Uint8Array) => Promise<void>,
    magic: Uint8Array,
  ) {
    this.buf.set(magic, 0);
    this.at = magic.length;
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
    assert(this.sliceAt === -1, "kv: one slice at a time");
    this.ensure(9);
    this.sliceAt = this.at;
    this.at += 4 + 5;
  }

  /** endSlice closes the slice with its number of items. */
  endSlice(items: number): void {
    const at = this.sliceAt;
    this.view.setUint32(at, this.at - at - 4);
    this.buf[at + 4] = 0xdd; // msgpack array32
    this.view.setUint32(at + 5, items);
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

  /** bin writes bytes as msgpack bin (they decode as bytes, not text). */
  bin(value: Uint8Array): void {
    this.ensure(5 + value.length);
    this.buf[this.at] = 0xc6;
    this.view.setUint32(this.at + 1, value.length);
    this.buf.set(value, this.at + 5);
    this.at += 5 + value.length;
  }

  /** uint writes a non-negative safe integer in the shortest msgpack form. */
  uint(n: number): void {
    if (!(Number.isSafeInteger(n) && n >= 0)) assert(false, `kv: ${n} is a non-negative integer`);
    this.ensure(9);
    if (n < 0x80) {
      this.buf[this.at++] = n;
    } else if (n < 0x100) {
      this.buf[this.at++] = 0xcc;
      this.buf[this.at++] = n;
    } else if (n < 0x10000) {
      this.buf[this.at] = 0xcd;
      this.view.setUint16(this.at + 1, n);
      this.at += 3;
    } else if (n < 0x1_0000_0000) {
      this.buf[this.at] = 0xce;
      this.view.setUint32(this.at + 1, n);
      this.at += 5;
    } else {
      this.buf[this.at] = 0xcf;
      this.view.setUint32(this.at + 1, Math.floor(n / 0x1_0000_0000));
      this.view.setUint32(this.at + 5, n % 0x1_0000_0000);
      this.at += 9;
    }
  }

  bool(b: boolean): void {
    this.ensure(1);
    this.buf[this.at++] = b ? 0xc3 : 0xc2;
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

/** imageVersion: 1 or 2 from the magic, or a storage_corrupt error. */
export function imageVersion(image: Uint8Array): 1 | 2 {
  const is = (magic: Uint8Array) => image.length >= magic.length && magic.every((byte, i) => image[i] === byte);
  if (is(image_magic_v1)) return 1;
  if (is(image_magic_v2)) return 2;
  return imageFail("bad magic");
}

/** ImageReader walks the frames of an image, checking every length against the bytes left. */
export class ImageReader {
  private offset = 4;
  private readonly view: DataView;

  constructor(private readonly image: Uint8Array) {
    imageVersion(image);
    this.view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  }

  next(): Uint8Array | null {
    if (this.offset === this.image.length) return null;
    if (this.offset + 4 > this.image.length) imageFail(`torn frame length at ${this.offset}`);
    const length = this.view.getUint32(this.offset);
    const start = this.offset + 4;
    if (start + length > this.image.length) imageFail(`frame at ${this.offset} runs past the end`);
    this.offset = start + length;
    return this.image.subarray(start, start + length);
  }
}

/**
 * FrameCursor reads the msgpack items of one frame in place (a restore's hot path: no object per item): only
 * the forms ImageWriter emits for slices (arrays, non-negative integers, booleans, str), anything else is a
 * storage_corrupt error. A str is left as bounds into the image, so a value is copied without decoding.
 */
export class FrameCursor {
  readonly buf: Buffer;
  private readonly view: DataView;
  at: number;
  readonly end: number;
  /** strStart/strEnd: the bytes of the str read last. */
  strStart = 0;
  strEnd = 0;

  /** The frame is image[start, end); positions (at, strStart, strEnd) are offsets in the whole image. */
  constructor(image: Buffer, start: number, end: number) {
    this.buf = image;
    this.view = new DataView(image.buffer, image.byteOffset, image.byteLength);
    this.at = start;
    this.end = end;
  }

  get done(): boolean {
    return this.at >= this.end;
  }

  peek(): number {
    if (this.at >= this.end) imageFail("slice ends inside an item");
    return this.buf[this.at]!;
  }

  private need(bytes: number): void {
    if (this.at + bytes > this.end) imageFail("slice ends inside an item");
  }

  /** arrayHeader: the item count of an array. */
  arrayHeader(): number {
    const b = this.peek();
    if (b >= 0x90 && b <= 0x9f) {
      this.at++;
      return b & 0x0f;
    }
    if (b === 0xdc) {
      this.need(3);
      const n = this.view.getUint16(this.at + 1);
      this.at += 3;
      return n;
    }
    if (b === 0xdd) {
      this.need(5);
      const n = this.view.getUint32(this.at + 1);
      this.at += 5;
      return n;
    }
    return imageFail(`expected an array, found type 0x${b.toString(16)}`);
  }

  /** uint: a non-negative safe integer. */
  uint(): number {
    const b = this.peek();
    const at = this.at;
    if (b < 0x80) {
      this.at++;
      return b;
    }
    if (b === 0xcc) {
      this.need(2);
      this.at += 2;
      return this.buf[at + 1]!;
    }
    if (b === 0xcd) {
      this.need(3);
      this.at += 3;
      return this.view.getUint16(at + 1);
    }
    if (b === 0xce) {
      this.need(5);
      this.at += 5;
      return this.view.getUint32(at + 1);
    }
    if (b === 0xcf) {
      this.need(9);
      this.at += 9;
      const n = this.view.getUint32(at + 1) * 0x1_0000_0000 + this.view.getUint32(at + 5);
      if (!Number.isSafeInteger(n)) imageFail(`integer ${n} is not safe`);
      return n;
    }
    return imageFail(`expected a non-negative integer, found type 0x${b.toString(16)}`);
  }

  bool(): boolean {
    const b = this.peek();
    if (b !== 0xc2 && b !== 0xc3) imageFail(`expected a boolean, found type 0x${b.toString(16)}`);
    this.at++;
    return b === 0xc3;
  }

  /** str reads a str item's header and skips its bytes, leaving their bounds in strStart / strEnd. */
  str(): void {
    const b = this.peek();
    let length: number;
    let header: number;
    if (b >= 0xa0 && b <= 0xbf) {
      length = b & 0x1f;
      header = 1;
    } else if (b === 0xd9) {
      this.need(2);
      length = this.buf[this.at + 1]!;
      header = 2;
    } else if (b === 0xda) {
      this.need(3);
      length = this.view.getUint16(this.at + 1);
      header = 3;
    } else if (b === 0xdb) {
      this.need(5);
      length = this.view.getUint32(this.at + 1);
      header = 5;
    } else {
      return imageFail(`expected a string, found type 0x${b.toString(16)}`);
    }
    this.need(header + length);
    this.strStart = this.at + header;
    this.strEnd = this.strStart + length;
    this.at = this.strEnd;
  }

  /** text: the str read last, decoded. */
  text(): string {
    return this.buf.toString("utf8", this.strStart, this.strEnd);
  }
}
