// The frames peers exchange, and the checks that turn an untrusted decoded value into one of them.
// A connection starts with one `hello`; then either Raft messages (a "raft" link) or one snapshot transfer
// (a "snap" link: begin, chunks, acks, done). Anything malformed is a FrameError: the connection closes.
import type { ConfChange, Entry, Member, MemberRole, Message, MessageType, SnapshotMeta } from "../raft/types.ts";
import { FrameError } from "./frame.ts";

// protocol_version: a hello with another version is refused (a "refuse" frame naming both versions, logged by
// the dialer), never parsed further. The hand-written append frames (append_codec.ts) are plain msgpack of
// the same shape as before, so they did not change the wire and version 1 peers of either build interoperate.
export const protocol_version = 1;
/** hello_bytes_max bounds frames before the handshake: strangers cannot make us allocate frame_bytes_max. */
export const hello_bytes_max = 4 * 1024;

export type LinkKind = "raft" | "snap";
export type SnapshotMessage = Message & { type: "snapshot" };

export type Frame =
  /** hello.inc: the dialer's data-directory incarnation (absent from a peer that sends none). */
  | { t: "hello"; v: number; cluster: string | null; from: number; to: number; kind: LinkKind; inc?: string }
  /** refuse: the acceptor's reason for closing a handshake, logged by the connecting side. */
  | { t: "refuse"; reason: string }
  | { t: "m"; m: Message }
  | { t: "sb"; m: SnapshotMessage; size: number; crc: number; chunk: number }
  | { t: "sc"; seq: number; data: Uint8Array }
  | { t: "sa"; seq: number }
  | { t: "sd"; ok: boolean; reason: string };

type Kind = "int" | "bool" | "str" | "entries" | "snapshot";
const envelope: Record<string, Kind> = { from: "int", to: "int", term: "int" };
const messageFields: Record<MessageType, Record<string, Kind>> = {
  pre_vote: { lastIndex: "int", lastTerm: "int" },
  pre_vote_resp: { reject: "bool" },
  vote: { lastIndex: "int", lastTerm: "int", transfer: "bool" },
  vote_resp: { reject: "bool" },
  append: { prevIndex: "int", prevTerm: "int", entries: "entries", commit: "int" },
  append_resp: { index: "int", reject: "bool", hintIndex: "int", hintTerm: "int" },
  heartbeat: { commit: "int", ctx: "str" },
  heartbeat_resp: { ctx: "str" },
  snapshot: { snapshot: "snapshot" },
  timeout_now: {},
  read_index: { ctx: "str" },
  read_index_resp: { ctx: "str", index: "int" },
};

/** parseFrame checks a decoded value is a well-formed frame; throws FrameError otherwise. */
export function parseFrame(value: unknown): Frame {
  const o = record(value, "frame");
  switch (o.t) {
    case "hello":
      if (o.cluster !== null && typeof o.cluster !== "string") bad("hello.cluster");
      if (o.kind !== "raft" && o.kind !== "snap") bad("hello.kind");
      return {
        t: "hello",
        v: int(o.v, "hello.v"),
        cluster: o.cluster as string | null,
        from: int(o.from, "hello.from"),
        to: int(o.to, "hello.to"),
        kind: o.kind,
        ...(o.inc === undefined ? {} : { inc: str(o.inc, "hello.inc") }),
      };
    case "refuse":
      return { t: "refuse", reason: str(o.reason, "refuse.reason") };
    case "m":
      return { t: "m", m: parseMessage(o.m) };
    case "sb": {
      const m = parseMessage(o.m);
      if (m.type !== "snapshot") bad("sb.m.type");
      return { t: "sb", m, size: int(o.size, "sb.size"), crc: int(o.crc, "sb.crc"), chunk: int(o.chunk, "sb.chunk") };
    }
    case "sc":
      return { t: "sc", seq: int(o.seq, "sc.seq"), data: bytes(o.data, "sc.data") };
    case "sa":
      return { t: "sa", seq: int(o.seq, "sa.seq") };
    case "sd":
      return { t: "sd", ok: bool(o.ok, "sd.ok"), reason: str(o.reason, "sd.reason") };
    default:
      return bad("frame.t");
  }
}

/** parseMessage checks every field a Message of its type must have; entry payloads come back as fresh Uint8Arrays. */
export function parseMessage(value: unknown): Message {
  const o = record(value, "message");
  const type = o.type;
  if (typeof type !== "string" || !Object.hasOwn(messageFields, type)) bad("message.type");
  const fields = fieldLists[type as MessageType];
  const out: Record<string, unknown> = { type };
  for (let i = 0; i < fields.length; i++) {
    const [name, kind] = fields[i]!;
    // The name of a bad field is only formatted on failure: this loop runs for every field of every frame.
    out[name] = field(o[name], kind, type as MessageType, name);
  }
  return out as unknown as Message;
}

/** fieldLists: each type's envelope + own fields, computed once (parseMessage runs for every frame received). */
const fieldLists = Object.fromEntries(
  Object.entries(messageFields).map(([type, own]) => [type, Object.entries({ ...envelope, ...own })]),
) as Record<MessageType, [string, Kind][]>;

function field(v: unknown, kind: Kind, type: MessageType, name: string): unknown {
  switch (kind) {
    case "int":
      if (typeof v !== "number" || !Number.isSafeInteger(v)) bad(`${type}.${name}`);
      return v;
    case "bool":
      if (typeof v !== "boolean") bad(`${type}.${name}`);
      return v;
    case "str":
      if (typeof v !== "string") bad(`${type}.${name}`);
      return v;
    case "entries":
      if (!Array.isArray(v)) bad(`${type}.${name}`);
      return (v as unknown[]).map((e) => parseEntry(e));
    case "snapshot":
      return parseSnapshotMeta(v);
  }
}

function parseEntry(value: unknown): Entry {
  const o = record(value, "entry");
  const index = int(o.index, "entry.index");
  const term = int(o.term, "entry.term");
  switch (o.kind) {
    case "normal":
      // Copy: a plain Uint8Array that does not pin the receive buffer it was decoded from.
      return { kind: "normal", index, term, data: new Uint8Array(bytes(o.data, "entry.data")) };
    case "noop":
      return { kind: "noop", index, term };
    case "conf": {
      const c = record(o.change, "entry.change");
      const type = c.type;
      if (type !== "add_learner" && type !== "promote" && type !== "remove" && type !== "update_addr") bad("change.type");
      const change: ConfChange = { type: type as ConfChange["type"], id: int(c.id, "change.id"), raftAddr: str(c.raftAddr, "change.raftAddr"), httpAddr: str(c.httpAddr, "change.httpAddr") };
      if (c.incarnation !== undefined) change.incarnation = str(c.incarnation, "change.incarnation");
      return { kind: "conf", index, term, change };
    }
    default:
      return bad("entry.kind");
  }
}

function parseSnapshotMeta(value: unknown): SnapshotMeta {
  const o = record(value, "snapshot");
  const conf = record(o.conf, "snapshot.conf");
  if (!Array.isArray(conf.members)) bad("snapshot.conf.members");
  const members = (conf.members as unknown[]).map((mv) => {
    const m = record(mv, "member");
    if (m.role !== "voter" && m.role !== "learner") bad("member.role");
    const member: Member = { id: int(m.id, "member.id"), role: m.role as MemberRole, raftAddr: str(m.raftAddr, "member.raftAddr"), httpAddr: str(m.httpAddr, "member.httpAddr") };
    if (m.incarnation !== undefined) member.incarnation = str(m.incarnation, "member.incarnation");
    return member;
  });
  return { index: int(o.index, "snapshot.index"), term: int(o.term, "snapshot.term"), conf: { members } };
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) bad(what);
  return v as Record<string, unknown>;
}

function int(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) bad(what);
  return v as number;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== "boolean") bad(what);
  return v as boolean;
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") bad(what);
  return v as string;
}

function bytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) bad(what);
  return v as Uint8Array;
}

function bad(what: string): never {
  throw new FrameError(`malformed ${what}`);
}
