// The small hot frames, by hand: append_resp (a follower's ack, one per Ready), heartbeat and heartbeat_resp
// (a read round's quorum check, and every tick). msgpackr packed them on one side and unpacked them on the
// other (map keys as strings, then parseMessage walked the object again) for a few integers. encodeAck writes
// `{t:"m", m:{type, from, to, term, <own fields>}}` as plain msgpack (a peer of the previous version reads it
// like msgpackr's output: parseMessage reads fields by name), in one fixed field order; decodeAck reads exactly
// that layout and returns null for anything else (another order, a non-ASCII ctx, other types), which goes
// through msgpackr and parseFrame as before, so the fast path never accepts what the generic path refuses.
import type { Message } from "../raft/types.ts";
import { FrameError, frame_header_bytes } from "./frame.ts";
import { Reader } from "./append_decode.ts";
import { Writer, intBytes, key } from "./append_codec.ts";
import type { Frame } from "./wire.ts";

type AckType = "append_resp" | "heartbeat" | "heartbeat_resp";
type Kind = "int" | "bool" | "str";

/** Own fields of each type after the envelope (from, to, term), in the order written and expected. */
const own: Record<AckType, [string, Kind][]> = {
  append_resp: [["index", "int"], ["reject", "bool"], ["hintIndex", "int"], ["hintTerm", "int"]],
  heartbeat: [["commit", "int"], ["ctx", "str"]],
  heartbeat_resp: [["ctx", "str"]],
};

interface Layout {
  type: AckType;
  /** head: `{t:"m", m:{type: <type>, from:` up to the from value. */
  head: Uint8Array;
  /** fields after from, each with its key bytes. */
  fields: { name: string; kind: Kind; key: Uint8Array }[];
}

const t_m = [0x82, ...key("t"), ...key("m"), ...key("m")];
const layouts = new Map<AckType, Layout>(
  (Object.keys(own) as AckType[]).map((type) => {
    const names: [string, Kind][] = [["to", "int"], ["term", "int"], ...own[type]];
    const head = Uint8Array.from([...t_m, 0x80 | (4 + own[type].length), ...key("type"), ...key(type), ...key("from")]);
    return [type, { type, head, fields: names.map(([name, kind]) => ({ name, kind, key: key(name) })) }];
  }),
);
const all = [...layouts.values()];

function asciiFixstrBytes(s: string): number {
  if (s.length > 255) return -1;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return -1;
  return (s.length < 32 ? 1 : 2) + s.length;
}

/** encodeAck: the length-prefixed frame of an ack or heartbeat, or null (use encodeFrame) for anything else. */
export function encodeAck(m: Message, bytesMax: number): Uint8Array | null {
  const layout = layouts.get(m.type as AckType);
  if (layout === undefined) return null;
  const o = m as unknown as Record<string, unknown>;
  let size = layout.head.length + intBytes(m.from);
  for (const f of layout.fields) {
    const v = o[f.name];
    size += f.key.length;
    if (f.kind === "int") size += intBytes(v as number);
    else if (f.kind === "bool") size += 1;
    else {
      const n = asciiFixstrBytes(v as string);
      if (n < 0) return null;
      size += n;
    }
  }
  if (size > bytesMax) throw new FrameError(`frame of ${size} bytes exceeds ${bytesMax}`);
  const w = new Writer(new Uint8Array(frame_header_bytes + size));
  w.byte(size >>> 24);
  w.byte((size >>> 16) & 0xff);
  w.byte((size >>> 8) & 0xff);
  w.byte(size & 0xff);
  w.bytes(layout.head);
  w.int(m.from);
  for (const f of layout.fields) {
    const v = o[f.name];
    w.bytes(f.key);
    if (f.kind === "int") w.int(v as number);
    else if (f.kind === "bool") w.byte(v ? 0xc3 : 0xc2);
    else {
      const s = v as string;
      if (s.length < 32) w.byte(0xa0 | s.length);
      else {
        w.byte(0xd9);
        w.byte(s.length);
      }
      for (let i = 0; i < s.length; i++) w.byte(s.charCodeAt(i));
    }
  }
  if (w.pos !== w.buf.length) throw new Error("ack frame size");
  return w.buf;
}

/** decodeAck: the Frame of an ack or heartbeat in encodeAck's layout, or null (use the generic decoder). */
export function decodeAck(body: Uint8Array): Frame | null {
  const r = new Reader(body);
  let layout: Layout | undefined;
  for (const l of all) {
    if (r.match(l.head)) {
      layout = l;
      break;
    }
  }
  if (layout === undefined) return null;
  const m: Record<string, unknown> = { type: layout.type, from: r.int() };
  for (const f of layout.fields) {
    r.expect(f.key);
    if (f.kind === "int") m[f.name] = r.int();
    else if (f.kind === "bool") {
      const b = r.ok && r.pos < body.length ? body[r.pos]! : 0;
      if (b !== 0xc2 && b !== 0xc3) return null;
      r.pos++;
      m[f.name] = b === 0xc3;
    } else {
      const s = r.ascii();
      if (s === null) return null;
      m[f.name] = s;
    }
    if (!r.ok) return null;
  }
  if (r.pos !== body.length) return null;
  return { t: "m", m: m as unknown as Message };
}
