// HTTP/2 frames (RFC 9113 §4, §6): types, flags, error codes, settings, and the writers of the frames the
// server sends. Parsing lives in connection.ts, where each frame's meaning is.

export const frame_header_bytes = 9;
export const connection_preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** ErrorCode: RFC 9113 §7. */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** default_window: the initial flow-control window of a connection and of a stream (§6.9.2). */
export const default_window = 65_535;
/** window_max: the largest flow-control window (§6.9.1). */
export const window_max = 2 ** 31 - 1;
/** default_frame_size: SETTINGS_MAX_FRAME_SIZE's initial value, the smallest allowed (§6.5.2). */
export const default_frame_size = 16_384;
export const frame_size_max = 16_777_215;

/** H2ConnectionError: a connection error (§5.4.1): the connection ends with GOAWAY(code). */
export class H2ConnectionError extends Error {
  override name = "H2ConnectionError";
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** frame: one frame with its 9-byte header (§4.1) and `payload` copied after it. */
export function frame(type: number, flags: number, streamId: number, payload: Uint8Array | null): Buffer {
  const length = payload === null ? 0 : payload.length;
  const out = Buffer.allocUnsafe(frame_header_bytes + length);
  writeFrameHeader(out, 0, { length, type, flags, streamId });
  if (payload !== null) out.set(payload, frame_header_bytes);
  return out;
}

export function writeFrameHeader(out: Uint8Array, at: number, h: { length: number; type: number; flags: number; streamId: number }): void {
  out[at] = (h.length >>> 16) & 0xff;
  out[at + 1] = (h.length >>> 8) & 0xff;
  out[at + 2] = h.length & 0xff;
  out[at + 3] = h.type;
  out[at + 4] = h.flags;
  out[at + 5] = (h.streamId >>> 24) & 0x7f;
  out[at + 6] = (h.streamId >>> 16) & 0xff;
  out[at + 7] = (h.streamId >>> 8) & 0xff;
  out[at + 8] = h.streamId & 0xff;
}

function u32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
}

export function settingsFrame(settings: readonly (readonly [id: number, value: number])[]): Buffer {
  const payload = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, payload);
}

export const settings_ack = frame(FrameType.SETTINGS, Flag.ACK, 0, null);

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, u32(increment));
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  return frame(FrameType.RST_STREAM, 0, streamId, u32(code));
}

export function goawayFrame(lastStreamId: number, code: number, debug: string): Buffer {
  const text = Buffer.from(debug.slice(0, 256), "utf8");
  const payload = Buffer.allocUnsafe(8 + text.length);
  payload.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
  payload.writeUInt32BE(code, 4);
  payload.set(text, 8);
  return frame(FrameType.GOAWAY, 0, 0, payload);
}
