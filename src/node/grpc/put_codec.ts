// Hand-written protobuf for the hottest unary call, KV.Put: PutRequest decode and PutResponse (ResponseHeader,
// KeyValue) encode. proto-loader's reflection codec cost ~10 µs of leader CPU per put (Long.fromString on the
// header's uint64 ids every answer among it). Both produce exactly what proto-loader would (same decoded object,
// same bytes: test/node/grpc/put_codec.test.ts); anything outside the common shape (an unknown field, an
// unexpected wire type, an int64 beyond 2^49, a header field not a number or decimal string) goes to
// proto-loader's own codec, so rare inputs behave as before.
import type { MethodCodec } from "./call.ts";
import type { Msg } from "./codec.ts";
import { frame } from "./wire.ts";

/** small_varint_bytes: varints of at most 7 bytes (< 2^49) are read as numbers here; longer ones fall back. */
const small_varint_bytes = 7;

/**
 * decodePutRequest: proto-loader's object for a PutRequest (defaults filled, int64 as a decimal string, bytes as
 * views of `bytes`), or null when the message needs proto-loader (see the file comment).
 */
export function decodePutRequest(bytes: Buffer): Msg | null {
  let key: Buffer = empty;
  let value: Buffer = empty;
  let lease = "0";
  let prev_kv = false;
  let ignore_value = false;
  let ignore_lease = false;
  let at = 0;
  const end = bytes.length;
  while (at < end) {
    const tag = bytes[at++]!;
    const field = tag >> 3;
    const wire = tag & 7;
    if (tag >= 0x80) return null;
    if (field === 1 || field === 2) {
      if (wire !== 2) return null;
      let length = 0;
      let shift = 0;
      let byte: number;
      do {
        if (at >= end || shift > 28) return null;
        byte = bytes[at++]!;
        length += (byte & 0x7f) * 2 ** shift;
        shift += 7;
      } while (byte >= 0x80);
      if (at + length > end) return null;
      const view = bytes.subarray(at, at + length);
      at += length;
      if (field === 1) key = view;
      else value = view;
      continue;
    }
    if (field < 3 || field > 6 || wire !== 0) return null;
    let n = 0;
    let count = 0;
    let byte: number;
    do {
      if (at >= end || count === small_varint_bytes) return null;
      byte = bytes[at++]!;
      n += (byte & 0x7f) * 2 ** (7 * count);
      count++;
    } while (byte >= 0x80);
    if (field === 3) lease = String(n);
    else if (field === 4) prev_kv = n !== 0;
    else if (field === 5) ignore_value = n !== 0;
    else ignore_lease = n !== 0;
  }
  return { key, value, lease, prev_kv, ignore_value, ignore_lease };
}

const empty = Buffer.alloc(0);

/** Writer: a tiny protobuf writer into a buffer sized beforehand. */
class Writer {
  at = 0;
  constructor(readonly buf: Buffer) {}

  byte(b: number): void {
    this.buf[this.at++] = b;
  }

  /** varint of a non-negative safe integer. */
  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.at++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.at++] = n;
  }

  bytes(b: Uint8Array): void {
    this.buf.set(b, this.at);
    this.at += b.length;
  }
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** int64Varint: the varint bytes of an int64/uint64 field's value (a safe integer or a decimal string), or null. */
function int64Varint(value: unknown): Uint8Array | number | null {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) return null;
    if (value >= 0) return value;
    return bigVarint(BigInt.asUintN(64, BigInt(value)));
  }
  if (typeof value === "string") return idVarint(value);
  return null;
}

/** idVarint: a uint64 id as decimal text (the header's cluster and member ids), encoded once per distinct id. */
function idVarint(text: string): Uint8Array | null {
  const cached = id_cache.get(text);
  if (cached !== undefined) return cached;
  if (!/^(0|[1-9][0-9]{0,19})$/.test(text)) return null;
  const big = BigInt(text);
  if (big >= 1n << 64n) return null;
  const encoded = bigVarint(big);
  if (id_cache.size >= id_cache_max) id_cache.clear();
  id_cache.set(text, encoded);
  return encoded;
}

/** id_cache: a node answers with a handful of ids; bounded so odd inputs cannot grow it. */
const id_cache = new Map<string, Uint8Array>();
const id_cache_max = 64;

function bigVarint(n: bigint): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return Uint8Array.from(out);
}

type Varint = Uint8Array | number;

function size(v: Varint): number {
  return typeof v === "number" ? varintSize(v) : v.length;
}

function put(w: Writer, tag: number, v: Varint): void {
  w.byte(tag);
  if (typeof v === "number") w.varint(v);
  else w.bytes(v);
}

/** Present: a field protobufjs writes (it writes every field set and not null, defaults included). */
function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** scalarFields: the varint fields of a message in field-number order, each as [tag, value], or null to fall back. */
function scalars(m: Record<string, unknown>, fields: readonly (readonly [string, number])[]): Array<[number, Varint]> | null {
  const out: Array<[number, Varint]> = [];
  for (const [name, tag] of fields) {
    const value = m[name];
    if (!present(value)) continue;
    const v = int64Varint(value);
    if (v === null) return null;
    out.push([tag, v]);
  }
  return out;
}

const header_fields = [["cluster_id", 0x08], ["member_id", 0x10], ["revision", 0x18], ["raft_term", 0x20]] as const;
const kv_number_fields = [["create_revision", 0x10], ["mod_revision", 0x18], ["version", 0x20]] as const;

function scalarsSize(list: Array<[number, Varint]>): number {
  let n = 0;
  for (const [, v] of list) n += 1 + size(v);
  return n;
}

/**
 * encodePutResponse: the PutResponse bytes proto-loader writes for `m` ({header, prev_kv?} as codec.ts builds
 * them), or null when `m` needs proto-loader. `prefix` 5: after the gRPC message prefix (one buffer, no copy).
 */
export function encodePutResponse(m: Msg, prefix = 0): Buffer | null {
  const header = m.header as Record<string, unknown> | null | undefined;
  let headerFields: Array<[number, Varint]> | null = null;
  let headerSize = 0;
  // The common header (the node's two ids as text, a revision and a term): its ids' bytes are reused, no lists built.
  let ids: Uint8Array | null = null;
  let revision = 0;
  let term = 0;
  if (present(header)) {
    if (typeof header !== "object") return null;
    ids = headerIds(header!);
    revision = header!.revision as number;
    term = header!.raft_term as number;
    if (ids !== null && plain(revision) && plain(term)) {
      headerFields = [];
      headerSize = ids.length + 2 + varintSize(revision) + varintSize(term);
    } else {
      ids = null;
      headerFields = scalars(header!, header_fields);
      if (headerFields === null) return null;
      headerSize = scalarsSize(headerFields);
    }
  }
  const kv = m.prev_kv as Record<string, unknown> | null | undefined;
  let kvKey: Uint8Array | null = null;
  let kvValue: Uint8Array | null = null;
  let kvFields: Array<[number, Varint]> | null = null;
  let kvLease: Varint | null = null;
  let kvSize = 0;
  if (present(kv)) {
    if (typeof kv !== "object") return null;
    if (present(kv!.key)) {
      if (!(kv!.key instanceof Uint8Array)) return null;
      kvKey = kv!.key;
      kvSize += 1 + varintSize(kvKey.length) + kvKey.length;
    }
    kvFields = scalars(kv!, kv_number_fields);
    if (kvFields === null) return null;
    kvSize += scalarsSize(kvFields);
    if (present(kv!.value)) {
      if (!(kv!.value instanceof Uint8Array)) return null;
      kvValue = kv!.value;
      kvSize += 1 + varintSize(kvValue.length) + kvValue.length;
    }
    if (present(kv!.lease)) {
      kvLease = int64Varint(kv!.lease);
      if (kvLease === null) return null;
      kvSize += 1 + size(kvLease);
    }
  }
  let total = 0;
  if (headerFields !== null) total += 1 + varintSize(headerSize) + headerSize;
  if (kvFields !== null) total += 1 + varintSize(kvSize) + kvSize;
  const w = new Writer(Buffer.allocUnsafe(prefix + total));
  if (prefix === grpc_prefix_bytes) {
    // The gRPC message prefix (wire.ts's frame): not compressed, the length big-endian.
    w.buf[0] = 0;
    w.buf.writeUInt32BE(total, 1);
  }
  w.at = prefix;
  if (headerFields !== null) {
    w.byte(0x0a);
    w.varint(headerSize);
    if (ids !== null) {
      w.bytes(ids);
      put(w, 0x18, revision);
      put(w, 0x20, term);
    }
    for (const [tag, v] of headerFields) put(w, tag, v);
  }
  if (kvFields !== null) {
    w.byte(0x12);
    w.varint(kvSize);
    if (kvKey !== null) {
      w.byte(0x0a);
      w.varint(kvKey.length);
      w.bytes(kvKey);
    }
    for (const [tag, v] of kvFields) put(w, tag, v);
    if (kvValue !== null) {
      w.byte(0x2a);
      w.varint(kvValue.length);
      w.bytes(kvValue);
    }
    if (kvLease !== null) put(w, 0x30, kvLease);
  }
  return w.buf;
}

/** plain: a non-negative safe integer (its varint is written without BigInt). */
function plain(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** last_ids: the last header's ids and the bytes of fields 1 and 2 they make (they change only with the node's cluster). */
let last_ids: { cluster_id: string; member_id: string; bytes: Uint8Array } | null = null;

/** headerIds: the bytes of a header's cluster_id and member_id fields when both are decimal text, else null. */
function headerIds(header: Record<string, unknown>): Uint8Array | null {
  const cluster_id = header.cluster_id;
  const member_id = header.member_id;
  if (typeof cluster_id !== "string" || typeof member_id !== "string") return null;
  if (last_ids !== null && last_ids.cluster_id === cluster_id && last_ids.member_id === member_id) return last_ids.bytes;
  const c = idVarint(cluster_id);
  const m = idVarint(member_id);
  if (c === null || m === null) return null;
  const bytes = new Uint8Array(2 + c.length + m.length);
  bytes[0] = 0x08;
  bytes.set(c, 1);
  bytes[1 + c.length] = 0x10;
  bytes.set(m, 2 + c.length);
  last_ids = { cluster_id, member_id, bytes };
  return bytes;
}

const grpc_prefix_bytes = 5;

/** fastPutCodec: KV.Put's method codec with the hand-written paths first and proto-loader's behind them. */
export function fastPutCodec<T extends MethodCodec>(definition: T): T & Required<Pick<MethodCodec, "responseFrame">> {
  const slowDecode = definition.requestDeserialize.bind(definition);
  const slowEncode = definition.responseSerialize.bind(definition);
  return {
    ...definition,
    requestDeserialize: (bytes: Buffer) => decodePutRequest(bytes) ?? slowDecode(bytes),
    responseSerialize: (message: Msg) => encodePutResponse(message) ?? slowEncode(message),
    responseFrame: (message: Msg) => encodePutResponse(message, grpc_prefix_bytes) ?? frame(slowEncode(message)),
  };
}
