// The few bytes of etcd's v3 protocol the gRPC bench sends and checks, encoded by hand: a PutRequest or a
// RangeRequest in a gRPC frame, and the response header's revision. A load generator that costs little CPU
// leaves the shared cores to the servers it measures (etcdserverpb field numbers from api/etcdserverpb/rpc.proto).

/** varint appends an unsigned varint (lengths here are far below 2^31). */
function varint(out: number[], value: number): void {
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
}

function bytesField(out: number[], field: number, bytes: Uint8Array): void {
  varint(out, (field << 3) | 2);
  varint(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** grpcFrame: the 5-byte gRPC message prefix (not compressed, big-endian length) and the message. */
export function grpcFrame(message: number[]): Uint8Array {
  const frame = new Uint8Array(5 + message.length);
  new DataView(frame.buffer).setUint32(1, message.length);
  frame.set(message, 5);
  return frame;
}

const utf8 = new TextEncoder();

/** putFrame: PutRequest{key = 1, value = 2}, framed. */
export function putFrame(key: string, value: Uint8Array): Uint8Array {
  const message: number[] = [];
  bytesField(message, 1, utf8.encode(key));
  bytesField(message, 2, value);
  return grpcFrame(message);
}

/** rangeFrame: RangeRequest{key = 1}, linearizable (serializable = 7 left false), framed. */
export function rangeFrame(key: string): Uint8Array {
  const message: number[] = [];
  bytesField(message, 1, utf8.encode(key));
  return grpcFrame(message);
}

interface Field {
  field: number;
  wire: number;
  /** value: the varint's value, or the offset of a length-delimited field's bytes. */
  value: number;
  length: number;
}

function* fields(buf: Uint8Array, start: number, end: number): Generator<Field> {
  let at = start;
  const read = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (at >= end) throw new Error("truncated varint");
      const b = buf[at++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  };
  while (at < end) {
    const tag = read();
    const wire = tag & 7;
    const field = Math.floor(tag / 8);
    if (wire === 0) yield { field, wire, value: read(), length: 0 };
    else if (wire === 2) {
      const length = read();
      if (at + length > end) throw new Error("truncated field");
      yield { field, wire, value: at, length };
      at += length;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new Error(`unexpected wire type ${wire}`);
  }
}

export interface WireAnswer {
  /** revision: ResponseHeader.revision (field 1 → field 3). */
  revision: number;
  /** kvs: RangeResponse.kvs entries (field 2); 0 for a PutResponse. */
  kvs: number;
  /** version: the first kv's version (KeyValue field 4: puts since its creation), 0 without kvs. */
  version: number;
}

/** readAnswer decodes the one message of a unary answer (a gRPC frame): header revision and the kvs count. */
export function readAnswer(frame: Uint8Array): WireAnswer {
  if (frame.length < 5 || frame[0] !== 0) throw new Error("not an uncompressed gRPC frame");
  const length = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(1);
  if (5 + length !== frame.length) throw new Error(`frame says ${length} bytes, got ${frame.length - 5}`);
  let revision = 0;
  let kvs = 0;
  let version = 0;
  for (const f of fields(frame, 5, frame.length)) {
    if (f.field === 1 && f.wire === 2) {
      for (const h of fields(frame, f.value, f.value + f.length)) if (h.field === 3 && h.wire === 0) revision = h.value;
    } else if (f.field === 2 && f.wire === 2) {
      if (kvs++ === 0) for (const k of fields(frame, f.value, f.value + f.length)) if (k.field === 4 && k.wire === 0) version = k.value;
    }
  }
  return { revision, kvs, version };
}

/**
 * checkAnswer validates a unary answer's message (a whole gRPC frame) without building objects: a PutResponse
 * (`expectedKey` null: a header with a revision > 0 and no other field but prev_kv) or a RangeResponse of exactly
 * one kv whose key is `expectedKey`. Returns the header revision, or a text saying what is wrong.
 */
export function checkAnswer(frame: Uint8Array, expectedKey: Uint8Array | null): number | string {
  if (frame.length < 5 || frame[0] !== 0) return "not an uncompressed gRPC frame";
  const length = ((frame[1]! << 24) >>> 0) + (frame[2]! << 16) + (frame[3]! << 8) + frame[4]!;
  if (5 + length !== frame.length) return `frame says ${length} bytes, got ${frame.length - 5}`;
  const end = frame.length;
  let at = 5;
  let revision = 0;
  let kvs = 0;
  let keyMatches = false;
  // A tiny protobuf walk: varint(): the next varint (values here stay far below 2^53), -1 when truncated.
  const varint = (limit: number): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (at >= limit) return -1;
      const b = frame[at++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
      if (scale > 2 ** 63) return -1;
    }
  };
  while (at < end) {
    const tag = varint(end);
    if (tag < 0) return "truncated tag";
    const wire = tag & 7;
    const field = Math.floor(tag / 8);
    if (wire === 0) {
      if (varint(end) < 0) return "truncated varint";
      continue;
    }
    if (wire !== 2) return `unexpected wire type ${wire} (field ${field})`;
    const size = varint(end);
    if (size < 0 || at + size > end) return "truncated field";
    const fieldEnd = at + size;
    if (field === 1) {
      // ResponseHeader: revision is field 3.
      while (at < fieldEnd) {
        const t = varint(fieldEnd);
        if (t < 0 || (t & 7) !== 0) return "a ResponseHeader field that is not a varint";
        const v = varint(fieldEnd);
        if (v < 0) return "truncated ResponseHeader";
        if (t >>> 3 === 3) revision = v;
      }
    } else if (field === 2 && expectedKey !== null) {
      // RangeResponse.kvs (a PutResponse's field 2 is prev_kv, not asked for): KeyValue.key is field 1.
      if (kvs++ === 0) {
        while (at < fieldEnd) {
          const t = varint(fieldEnd);
          if (t < 0) return "truncated KeyValue";
          if ((t & 7) === 0) {
            if (varint(fieldEnd) < 0) return "truncated KeyValue";
          } else if ((t & 7) === 2) {
            const n = varint(fieldEnd);
            if (n < 0 || at + n > fieldEnd) return "truncated KeyValue";
            if (t >>> 3 === 1) keyMatches = n === expectedKey.length && sameBytes(frame, at, expectedKey);
            at += n;
          } else return "unexpected wire type in a KeyValue";
        }
      }
    } else if (expectedKey === null && field !== 2) return `a PutResponse with field ${field}`;
    at = fieldEnd;
  }
  if (revision <= 0) return "an answer without a header revision";
  if (expectedKey !== null) {
    if (kvs !== 1) return `range found ${kvs} keys, expected 1 (keys not loaded?)`;
    if (!keyMatches) return "range answered with another key";
  }
  return revision;
}

function sameBytes(frame: Uint8Array, at: number, expected: Uint8Array): boolean {
  for (let i = 0; i < expected.length; i++) if (frame[at + i] !== expected[i]) return false;
  return true;
}
