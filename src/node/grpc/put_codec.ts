// Hand-written protobuf for the hottest unary call, KV.Put: PutRequest decode and PutResponse (ResponseHeader,
// KeyValue) encode. proto-loader's reflection codec cost ~10 µs of leader CPU per put (Long.fromString on the
// header's uint64 ids every answer among it). Both produce exactly what proto-loader would (same decoded object,
// same bytes: test/node/grpc/put_codec.test.ts); anything outside the common shape (an unknown field, an
// unexpected wire type, an int64 beyond 2^49, a header field not a number or decimal string) goes to
// proto-loader's own codec, so rare inputs behave as before.
import type { MethodCodec } from "./call.ts";
import type { Msg } from "./codec.ts";
import { type ProtoCursor, readLength, readSmallVarint } from "./proto_reader.ts";
import { frame } from "./wire.ts";

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
  const c: ProtoCursor = { bytes, at: 0, end: bytes.length };
  while (c.at < c.end) {
    const tag = bytes[c.at++]!;
    const field = tag >> 3;
    const wire = tag & 7;
    if (tag >= 0x80) return null;
    if (field === 1 || field === 2) {
      if (wire !== 2) return null;
      const length = readLength(c, 28);
      if (length < 0) return null;
      const view = bytes.subarray(c.at, c.at + length);
      c.at += length;
      if (field === 1) key = view;
      else value = view;
      continue;
    }
    if (field < 3 || field > 6 || wire !== 0) return null;
    const n = readSmallVarint(c);
    if (n < 0) return null;
    if (field === 3) lease = String(n);
    else if (field === 4) prev_kv = n !== 0;
    else if (field === 5) ignore_value = n !== 0;
    else ignore_lease = n !== 0;
  }
  return { key, value, lease, prev_kv, ignore_value, ignore_lease };
}

const empty = Buffer.alloc(0);

/** Writer: a tiny protobuf writer into a buffer sized beforehand. */
export class Writer {
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

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** int64Varint: the varint bytes of an int64/uint64 field's value (a safe integer or a decimal string), or null. */
export function int64Varint(value: unknown): Uint8Array | number | null {
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

export type Varint = Uint8Array | number;

function sizeOf(v: Varint): number {
  return typeof v === "number" ? varintSize(v) : v.length;
}

export function put(w: Writer, tag: number, v: Varint): void {
  w.byte(tag);
  if (typeof v === "number") w.varint(v);
  else w.bytes(v);
}

/** Present: a field protobufjs writes (it writes every field set and not null, defaults included). */
export function present(value: unknown): boolean {
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
  for (const [, v] of list) n += 1 + sizeOf(v);
  return n;
}

/** HeaderPlan: a ResponseHeader ready to write: its size, and either the common shape's parts or its field list. */
export interface HeaderPlan {
  size: number;
  ids: Uint8Array | null;
  revision: number;
  term: number;
  fields: Array<[number, Varint]>;
}

/** planHeader: the plan of a ResponseHeader message object, or null when it needs proto-loader. */
export function planHeader(header: unknown): HeaderPlan | null {
  if (typeof header !== "object" || header === null) return null;
  const h = header as Record<string, unknown>;
  // The common header (the node's two ids as text, a revision and a term): its ids' bytes are reused, no lists built.
  const ids = headerIds(h);
  const revision = h.revision as number;
  const term = h.raft_term as number;
  if (ids !== null && plain(revision) && plain(term)) return { size: ids.length + 2 + varintSize(revision) + varintSize(term), ids, revision, term, fields: [] };
  const fields = scalars(h, header_fields);
  if (fields === null) return null;
  return { size: scalarsSize(fields), ids: null, revision: 0, term: 0, fields };
}

export function writeHeader(w: Writer, plan: HeaderPlan): void {
  if (plan.ids !== null) {
    w.bytes(plan.ids);
    put(w, 0x18, plan.revision);
    put(w, 0x20, plan.term);
  }
  for (const [tag, v] of plan.fields) put(w, tag, v);
}

/** KvPlan: a KeyValue ready to write (fields 1 key, 2-4 numbers, 5 value, 6 lease; those present). */
export interface KvPlan {
  size: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  numbers: Array<[number, Varint]>;
  lease: Varint | null;
}

/** planKv: the plan of a KeyValue message object, or null when it needs proto-loader. */
export function planKv(kv: unknown): KvPlan | null {
  if (typeof kv !== "object" || kv === null) return null;
  const k = kv as Record<string, unknown>;
  let size = 0;
  let key: Uint8Array | null = null;
  let value: Uint8Array | null = null;
  let lease: Varint | null = null;
  if (present(k.key)) {
    if (!(k.key instanceof Uint8Array)) return null;
    key = k.key;
    size += 1 + varintSize(key.length) + key.length;
  }
  const numbers = scalars(k, kv_number_fields);
  if (numbers === null) return null;
  size += scalarsSize(numbers);
  if (present(k.value)) {
    if (!(k.value instanceof Uint8Array)) return null;
    value = k.value;
    size += 1 + varintSize(value.length) + value.length;
  }
  if (present(k.lease)) {
    lease = int64Varint(k.lease);
    if (lease === null) return null;
    size += 1 + sizeOf(lease);
  }
  return { size, key, value, numbers, lease };
}

export function writeKv(w: Writer, plan: KvPlan): void {
  if (plan.key !== null) {
    w.byte(0x0a);
    w.varint(plan.key.length);
    w.bytes(plan.key);
  }
  for (const [tag, v] of plan.numbers) put(w, tag, v);
  if (plan.value !== null) {
    w.byte(0x2a);
    w.varint(plan.value.length);
    w.bytes(plan.value);
  }
  if (plan.lease !== null) put(w, 0x30, plan.lease);
}

/** newMessage: a Writer over a buffer for a `total`-byte message, after the gRPC prefix when `prefix` is 5. */
export function newMessage(total: number, prefix: number): Writer {
  const w = new Writer(Buffer.allocUnsafe(prefix + total));
  if (prefix === grpc_prefix_bytes) {
    // The gRPC message prefix (wire.ts's frame): not compressed, the length big-endian.
    w.buf[0] = 0;
    w.buf.writeUInt32BE(total, 1);
  }
  w.at = prefix;
  return w;
}

/**
 * encodePutResponse: the PutResponse bytes proto-loader writes for `m` ({header, prev_kv?} as codec.ts builds
 * them), or null when `m` needs proto-loader. `prefix` 5: after the gRPC message prefix (one buffer, no copy).
 */
export function encodePutResponse(m: Msg, prefix = 0): Buffer | null {
  let header: HeaderPlan | null = null;
  if (present(m.header)) {
    header = planHeader(m.header);
    if (header === null) return null;
  }
  let kv: KvPlan | null = null;
  if (present(m.prev_kv)) {
    kv = planKv(m.prev_kv);
    if (kv === null) return null;
  }
  let total = 0;
  if (header !== null) total += 1 + varintSize(header.size) + header.size;
  if (kv !== null) total += 1 + varintSize(kv.size) + kv.size;
  const w = newMessage(total, prefix);
  if (header !== null) {
    w.byte(0x0a);
    w.varint(header.size);
    writeHeader(w, header);
  }
  if (kv !== null) {
    w.byte(0x12);
    w.varint(kv.size);
    writeKv(w, kv);
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

export const grpc_prefix_bytes = 5;

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
