// SnapshotReceiver: the accepting side of one snapshot transfer (a "snap" connection). It assembles the
// chunks in order into one preallocated image, acknowledges each chunk (the sender's flow control), checks
// the CRC of the whole image, hands it to onSnapshot and reports completion only after that resolved.
import type { NodeId } from "../raft/types.ts";
import { assert } from "../shared/assert.ts";
import { limits } from "../shared/limits.ts";
import { FrameError } from "./frame.ts";
import type { TransportLogging } from "./log.ts";
import type { TransportTuning } from "./tuning.ts";
import type { Frame, SnapshotMessage } from "./wire.ts";

export interface SnapshotReceiverContext {
  nodeId: NodeId;
  tuning: TransportTuning;
  logging: TransportLogging;
  onSnapshot(message: SnapshotMessage, data: Uint8Array): Promise<void>;
  /** reply sends one frame back to the sender (an ack or the final verdict). */
  reply(frame: object): void;
}

type RecvState = "await_begin" | "receiving" | "applying" | "done";

export class SnapshotReceiver {
  private state: RecvState = "await_begin";
  private message: SnapshotMessage | null = null;
  private image: Uint8Array | null = null;
  /** Invariant: filled <= image.length; crc is the CRC-32 of image[0, filled). */
  private filled = 0;
  private crc = 0;
  private expectedCrc = 0;
  private nextSeq = 0;
  private aborted = false;

  constructor(
    private readonly peer: NodeId,
    private readonly ctx: SnapshotReceiverContext,
  ) {}

  /** applying is true while onSnapshot runs (the connection must not time out meanwhile). */
  get applying(): boolean {
    return this.state === "applying";
  }

  /** handle takes one frame of the transfer; throws FrameError on anything out of protocol. */
  handle(frame: Frame): void {
    if (frame.t === "sb") return this.begin(frame);
    if (frame.t === "sc") return this.chunk(frame);
    throw new FrameError(`unexpected ${frame.t} frame in a snapshot transfer`);
  }

  /** abort: the connection is gone; the image is released and no verdict is sent. */
  abort(): void {
    this.aborted = true;
    this.image = null;
  }

  private begin(frame: Frame & { t: "sb" }): void {
    if (this.state !== "await_begin") throw new FrameError("second snapshot begin");
    if (frame.m.from !== this.peer) throw new FrameError(`snapshot from ${frame.m.from} on a link of node ${this.peer}`);
    if (frame.m.to !== this.ctx.nodeId) throw new FrameError(`snapshot for node ${frame.m.to}, this is node ${this.ctx.nodeId}`);
    if (frame.size < 0 || frame.size > this.ctx.tuning.snapshotBytesMax) throw new FrameError(`snapshot size ${frame.size} out of bounds`);
    if (frame.chunk <= 0 || frame.chunk >= limits.frame_bytes_max) throw new FrameError(`snapshot chunk ${frame.chunk} out of bounds`);
    if (frame.crc < 0 || frame.crc > 0xffffffff) throw new FrameError("snapshot crc out of range");
    this.message = frame.m;
    this.image = new Uint8Array(frame.size);
    this.expectedCrc = frame.crc;
    this.state = "receiving";
    this.ctx.logging.logger.info(`receiving snapshot ${frame.m.snapshot.index}/${frame.m.snapshot.term} from node ${this.peer}: ${frame.size} bytes`);
    if (frame.size === 0) this.complete();
  }

  private chunk(frame: Frame & { t: "sc" }): void {
    if (this.state !== "receiving") throw new FrameError(`snapshot chunk in state ${this.state}`);
    const image = this.image;
    assert(image !== null, "receiving without an image");
    if (frame.seq !== this.nextSeq) throw new FrameError(`snapshot chunk ${frame.seq}, expected ${this.nextSeq}`);
    if (frame.data.length === 0 || this.filled + frame.data.length > image.length) throw new FrameError("snapshot chunk overruns the image");
    image.set(frame.data, this.filled);
    this.filled += frame.data.length;
    this.crc = Bun.hash.crc32(frame.data, this.crc);
    this.nextSeq++;
    this.ctx.reply({ t: "sa", seq: frame.seq });
    if (this.filled === image.length) this.complete();
  }

  private complete(): void {
    const image = this.image;
    const message = this.message;
    assert(image !== null && message !== null, "complete without an image");
    assert(this.filled === image.length, "complete before the last byte");
    if (this.crc !== this.expectedCrc) {
      this.state = "done";
      this.ctx.logging.warnOnce(`snapcrc:${this.peer}`, `snapshot from node ${this.peer} failed its CRC check: discarded`);
      this.ctx.reply({ t: "sd", ok: false, reason: "crc mismatch" });
      return;
    }
    this.state = "applying";
    this.image = null;
    // new Promise(...) also turns a synchronous throw of the handler into a rejection.
    new Promise<void>((resolve) => resolve(this.ctx.onSnapshot(message, image))).then(
      () => {
        this.state = "done";
        if (!this.aborted) this.ctx.reply({ t: "sd", ok: true, reason: "" });
      },
      (error: unknown) => {
        this.state = "done";
        this.ctx.logging.logger.warn(`onSnapshot for the snapshot from node ${this.peer} failed: ${(error as Error)?.message ?? error}`);
        if (!this.aborted) this.ctx.reply({ t: "sd", ok: false, reason: "apply failed" });
      },
    );
  }
}
