import type { ServiceDefinition } from "@grpc/grpc-js";
import type { EtcdBackend, Event } from "./backend.ts";
import { encodeEvent, type Msg } from "./codec.ts";
import { header } from "./rpc.ts";

/**
 * watch_encoding.ts: a watch answer encoded from parts shared by every watch that receives the same revision.
 * A protobuf message's encoding is the concatenation of its fields' encodings, and a repeated field's elements
 * may come from several concatenated parts; for a scalar field the last occurrence wins. So a WatchResponse is
 * written as [header][event]...[event][watch_id, fragment]: the header bytes are encoded once per revision per
 * event-loop turn, each event's bytes once per event (a revision seen by 1,000 watches is encoded once, not
 * 1,000 times), and only the few bytes of watch_id per answer; the watch's own fields come last so that no
 * shared part can override them. (Measured: per answer, the node's status for the header and protobufjs's
 * fromObject+encode of the events were about a quarter of the leader's CPU at 1,000 watchers on one prefix.)
 */

/** EncodedWatchResponse: a WatchResponse already in wire form; the Watch method's serializer passes it through. */
export class EncodedWatchResponse {
  constructor(readonly bytes: Buffer) {}
}

/** watchDefinition: the Watch service with a response serializer that also takes an EncodedWatchResponse. */
export function watchDefinition(service: ServiceDefinition): ServiceDefinition {
  const method = service.Watch!;
  const serialize = method.responseSerialize as (value: unknown) => Buffer;
  return {
    ...service,
    Watch: { ...method, responseSerialize: (value: unknown) => (value instanceof EncodedWatchResponse ? value.bytes : serialize(value)) },
  };
}

/** WatchEncoder encodes watch answers for one endpoint, sharing what watches of the same revision have in common. */
export class WatchEncoder {
  /** events: each event's encoding as a WatchResponse holding only it (field 11), kept while the event lives. */
  private readonly events = new WeakMap<Event, Buffer>();
  /** headers: the header bytes by revision, for the current event-loop turn only (term and ids may change later). */
  private headers = new Map<number, Buffer>();
  private clearing = false;

  constructor(
    private readonly backend: EtcdBackend,
    private readonly serialize: (message: Msg) => Buffer,
  ) {}

  /** idBytes: the per-watch tail (watch_id, and fragment when more parts of the revision follow). */
  tail(watchId: number, fragment = false): Buffer {
    return this.serialize(fragment ? { watch_id: watchId, fragment: true } : { watch_id: watchId });
  }

  /** response: the answer carrying `events` (the revision `revision`'s or several whole ones up to it) to one watch. */
  response(tail: Buffer, revision: number, events: readonly Event[]): EncodedWatchResponse {
    const parts: Buffer[] = [this.header(revision)];
    for (const event of events) parts.push(this.event(event));
    parts.push(tail);
    return new EncodedWatchResponse(Buffer.concat(parts));
  }

  private header(revision: number): Buffer {
    let bytes = this.headers.get(revision);
    if (bytes === undefined) {
      bytes = this.serialize({ header: header(this.backend, revision) });
      this.headers.set(revision, bytes);
      if (!this.clearing) {
        this.clearing = true;
        setImmediate(() => {
          this.clearing = false;
          this.headers = new Map();
        });
      }
    }
    return bytes;
  }

  private event(event: Event): Buffer {
    let bytes = this.events.get(event);
    if (bytes === undefined) {
      bytes = this.serialize({ events: [encodeEvent(event)] });
      this.events.set(event, bytes);
    }
    return bytes;
  }
}
