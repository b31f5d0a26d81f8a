// Hand-written protobuf for KV.Range, the hottest read: RangeRequest decode and RangeResponse encode (the
// header and KeyValue writers of put_codec.ts). proto-loader's reflection codec cost ~20 % of a linearizable
// range's leader CPU (Long.fromString on the header's uint64 ids, per-field reflection; BENCHMARKS.md "h51").
// Both produce exactly what proto-loader would (same decoded object, same bytes: test/node/grpc/range_codec.test.ts);
// anything outside the common shape (an unknown field or enum value, an unexpected wire type, an int64 beyond
// 2^49, a length beyond 2^28) goes to proto-loader's own codec, so rare inputs behave as before.
import type { MethodCodec } from "./call.ts";
import type { Msg } from "./codec.ts";
import { grpc_prefix_bytes, type HeaderPlan, int64Varint, type KvPlan, newMessage, planHeader, planKv, present, put, type Varint, varintSize, writeHeader, writeKv } from "./put_codec.ts";
import { type ProtoCursor, readLength, readSmallVarint } from "./proto_reader.ts";
import { frame } from "./wire.ts";

/** RangeRequest's enums by number (rpc.proto): what proto-loader's `enums: String` names them. */
const sort_orders = ["NONE", "ASCEND", "DESCEND"];
const sort_targets = ["KEY", "VERSION", "CREATE", "MOD", "VALUE"];
/** int64_fields: RangeRequest's int64 fields by number (3 limit, 4 revision, 10..13 the revision bounds). */
const int64_fields: Record<number, string> = { 3: "limit", 4: "revision", 10: "min_mod_revision", 11: "max_mod_revision", 12: "min_create_revision", 13: "max_create_revision" };
const bool_fields: Record<number, string> = { 7: "serializable", 8: "keys_only", 9: "count_only" };

const empty = Buffer.alloc(0);

/**
 * decodeRangeRequest: proto-loader's object for a RangeRequest (defaults filled, int64 as decimal strings, enums
 * by name, bytes as views of `bytes`), or null when the message needs proto-loader (see the file comment).
 */
export function decodeRangeRequest(bytes: Buffer): Msg | null {
  const m: Msg = {
    key: empty,
    range_end: empty,
    limit: "0",
    revision: "0",
    sort_order: "NONE",
    sort_target: "KEY",
    serializable: false,
    keys_only: false,
    count_only: false,
    min_mod_revision: "0",
    max_mod_revision: "0",
    min_create_revision: "0",
    max_create_revision: "0",
  };
  const c: ProtoCursor = { bytes, at: 0, end: bytes.length };
  while (c.at < c.end) {
    const tag = bytes[c.at++]!;
    if (tag >= 0x80) return null;
    const field = tag >> 3;
    const wire = tag & 7;
    if (field === 1 || field === 2) {
      if (wire !== 2) return null;
      const length = readLength(c, 21);
      if (length < 0) return null;
      const view = bytes.subarray(c.at, c.at + length);
      c.at += length;
      if (field === 1) m.key = view;
      else m.range_end = view;
      continue;
    }
    if (field < 3 || field > 13 || wire !== 0) return null;
    const n = readSmallVarint(c);
    if (n < 0) return null;
    if (field === 5 || field === 6) {
      const name = (field === 5 ? sort_orders : sort_targets)[n];
      // An enum value the protos do not name: proto-loader keeps the number; leave that to it.
      if (name === undefined) return null;
      m[field === 5 ? "sort_order" : "sort_target"] = name;
    } else if (field in bool_fields) m[bool_fields[field]!] = n !== 0;
    else m[int64_fields[field]!] = String(n);
  }
  return m;
}

/**
 * encodeRangeResponse: the RangeResponse bytes proto-loader writes for `m` ({header, kvs, more, count} as
 * codec.ts builds them), or null when `m` needs proto-loader. `prefix` 5: after the gRPC message prefix.
 */
export function encodeRangeResponse(m: Msg, prefix = 0): Buffer | null {
  let header: HeaderPlan | null = null;
  if (present(m.header)) {
    header = planHeader(m.header);
    if (header === null) return null;
  }
  let kvs: KvPlan[] = [];
  if (present(m.kvs)) {
    if (!Array.isArray(m.kvs)) return null;
    kvs = new Array<KvPlan>(m.kvs.length);
    for (let i = 0; i < m.kvs.length; i++) {
      const plan = planKv(m.kvs[i]);
      if (plan === null) return null;
      kvs[i] = plan;
    }
  }
  let more: boolean | null = null;
  if (present(m.more)) {
    if (typeof m.more !== "boolean") return null;
    more = m.more;
  }
  let count: Varint | null = null;
  if (present(m.count)) {
    count = int64Varint(m.count);
    if (count === null) return null;
  }
  let total = 0;
  if (header !== null) total += 1 + varintSize(header.size) + header.size;
  for (const kv of kvs) total += 1 + varintSize(kv.size) + kv.size;
  if (more !== null) total += 2;
  if (count !== null) total += 1 + (typeof count === "number" ? varintSize(count) : count.length);
  const w = newMessage(total, prefix);
  if (header !== null) {
    w.byte(0x0a);
    w.varint(header.size);
    writeHeader(w, header);
  }
  for (const kv of kvs) {
    w.byte(0x12);
    w.varint(kv.size);
    writeKv(w, kv);
  }
  if (more !== null) {
    w.byte(0x18);
    w.byte(more ? 1 : 0);
  }
  if (count !== null) put(w, 0x20, count);
  return w.buf;
}

/** fastRangeCodec: KV.Range's method codec with the hand-written paths first and proto-loader's behind them. */
export function fastRangeCodec<T extends MethodCodec>(definition: T): T & Required<Pick<MethodCodec, "responseFrame">> {
  const slowDecode = definition.requestDeserialize.bind(definition);
  const slowEncode = definition.responseSerialize.bind(definition);
  return {
    ...definition,
    requestDeserialize: (bytes: Buffer) => decodeRangeRequest(bytes) ?? slowDecode(bytes),
    responseSerialize: (message: Msg) => encodeRangeResponse(message) ?? slowEncode(message),
    responseFrame: (message: Msg) => encodeRangeResponse(message, grpc_prefix_bytes) ?? frame(slowEncode(message)),
  };
}
