import { status as grpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import { type EtcdBackend, NotSupportedError, type WatchHandle } from "./backend.ts";
import { decodeWatchCreate, encodeEvent, int64, type Msg } from "./codec.ts";
import { EtcdError } from "./errors.ts";
import { etcdService } from "./protos.ts";
import { failure, header, log } from "./rpc.ts";
import { type EncodedWatchResponse, WatchEncoder } from "./watch_encoding.ts";

/** watches_per_stream_max bounds the watches one stream holds (etcd has no limit; one client cannot hog memory). */
export const watches_per_stream_max = 1_000;

/**
 * unsent_messages_max: a safety net behind the backpressure below. While the stream's send buffer is full the
 * watches stop taking from the hub (which holds their events, bounded, and falls back to history), so the
 * buffer grows by at most one take per watch; a stream past this many unsent answers is dropped anyway.
 * (grpc-js streams are in object mode: writableLength counts answers, not bytes.)
 */
export const unsent_messages_max = 4_096;

/** fragment_bytes: with fragment, a revision's events are split into answers of about this size (etcd: its request limit). */
export const fragment_bytes = 1024 * 1024;

function encodedBytes(event: Msg): number {
  const kv = event.kv as Msg;
  const prev = event.prev_kv as Msg | undefined;
  const size = (m: Msg | undefined) => (m === undefined ? 0 : 32 + (m.key as Buffer).length + (m.value as Buffer).length);
  return size(kv) + size(prev);
}

/** fragments: the events of one answer, split for a watch that asked for fragments (never splitting one event). */
function fragments(events: Msg[], fragment: boolean): Msg[][] {
  if (!fragment || events.length <= 1) return [events];
  const parts: Msg[][] = [[]];
  let bytes = 0;
  for (const event of events) {
    const size = encodedBytes(event);
    if (bytes + size > fragment_bytes && parts.at(-1)!.length > 0) {
      parts.push([]);
      bytes = 0;
    }
    parts.at(-1)!.push(event);
    bytes += size;
  }
  return parts;
}

/**
 * Watch: etcd's bidirectional stream. Each create_request starts a watch (watch_id chosen by the client, or the
 * next free one), answered `created`; events follow in revision order; cancel_request ends one watch;
 * progress_request asks every watch for a progress notification (or, with none, one header with watch_id -1).
 * A watch the store refuses (a compacted start revision, a bad request) is answered created + canceled with the
 * reason, as etcd does; a store that cannot watch at all ends the stream UNIMPLEMENTED.
 */
export function watchService(backend: EtcdBackend) {
  const encoder = new WatchEncoder(backend, etcdService("Watch").Watch!.responseSerialize as (message: Msg) => Buffer);
  return {
    Watch: (call: ServerDuplexStream<Msg, Msg | EncodedWatchResponse>) => {
      const watches = new Map<number, WatchHandle>();
      /** pending: watch ids created by the client whose watch waits for the node's read barrier. */
      const pending = new Set<number>();
      let nextId = 0;
      let ended = false;
      const stop = () => {
        if (ended) return;
        ended = true;
        for (const handle of watches.values()) handle.cancel();
        watches.clear();
      };
      const fail = (error: unknown) => {
        if (ended) return;
        stop();
        call.emit("error", error instanceof Error || typeof error !== "object" ? failure(error, "Watch/Watch") : error);
      };
      const send = (message: Msg | EncodedWatchResponse) => {
        if (ended) return;
        call.write(message);
        if (call.writableLength > unsent_messages_max) {
          log.warn(`watch stream dropped: the client left more than ${unsent_messages_max} answers unread`);
          fail({ code: grpcStatus.RESOURCE_EXHAUSTED, details: "etcdserver: the watch stream fell too far behind (the client is not reading)" });
        }
      };
      /** writable: the stream's send buffer has room; when it drains, every watch takes again. */
      const writable = () => !ended && !call.writableNeedDrain;
      call.on("drain", () => {
        for (const handle of watches.values()) handle.resume();
      });
      const create = (m: Msg) => {
        let id = int64(m.watch_id, "watch_id");
        if (id === 0 || id === -1) {
          while (watches.has(nextId) || pending.has(nextId)) nextId++;
          id = nextId++;
        } else if (watches.has(id) || pending.has(id)) {
          send({ header: header(backend), watch_id: id, created: true, canceled: true, cancel_reason: "etcdserver: duplicate watch ID" });
          return;
        }
        if (watches.size + pending.size >= watches_per_stream_max) {
          send({ header: header(backend), watch_id: id, created: true, canceled: true, cancel_reason: `qklzl: at most ${watches_per_stream_max} watches per stream` });
          return;
        }
        const watchId = id;
        const request = decodeWatchCreate(m);
        const fragment = request.fragment === true;
        const tail = encoder.tail(watchId);
        // The store may deliver (history replay) before `created` went out: those messages wait here.
        let early: Array<Msg | EncodedWatchResponse> | null = [];
        const deliver = (message: Msg | EncodedWatchResponse) => (early === null ? send(message) : early.push(message));
        const end = (message: Msg) => {
          watches.delete(watchId);
          deliver(message);
        };
        pending.add(watchId);
        backend
          .watch(request, {
            writable,
            events: (events, revision) => {
              if (!fragment) return deliver(encoder.response(tail, revision, events));
              const encoded = events.map(encodeEvent);
              const parts = fragments(encoded, fragment);
              parts.forEach((part, i) =>
                deliver({ header: header(backend, revision), watch_id: watchId, events: part, ...(i < parts.length - 1 ? { fragment: true } : {}) }),
              );
            },
            progress: (revision) => deliver({ header: header(backend, revision), watch_id: watchId, events: [] }),
            compacted: (compactRevision) =>
              end({ header: header(backend), watch_id: watchId, canceled: true, compact_revision: compactRevision, cancel_reason: "etcdserver: mvcc: required revision has been compacted" }),
            // The node is stopping: the stream ends UNAVAILABLE so the client resumes on another member.
            closed: (message) => fail({ code: grpcStatus.UNAVAILABLE, details: `etcdserver: server stopped (${message})` }),
          })
          .then(
            (handle) => {
              const wasPending = pending.delete(watchId);
              if (ended || !wasPending) {
                handle.cancel();
                if (!ended) send({ header: header(backend), watch_id: watchId, canceled: true });
                return;
              }
              watches.set(watchId, handle);
              send({ header: header(backend, handle.revision), watch_id: watchId, created: true, events: [] });
              const queued = early ?? [];
              early = null;
              for (const message of queued) send(message);
            },
            (error) => {
              pending.delete(watchId);
              if (error instanceof NotSupportedError) return fail(error);
              const status = failure(error, "Watch/Watch");
              // A member that cannot know it is current (no leader, no quorum, a timeout, stopping) ends the
              // stream UNAVAILABLE, as etcd does for a require-leader watch: clients reconnect (maybe elsewhere)
              // and resume every watch of the stream; a cancel would be final for them.
              if (status.code === grpcStatus.UNAVAILABLE) return fail(status);
              const reason = status.details;
              send({ header: header(backend), watch_id: watchId, created: true, canceled: true, cancel_reason: reason });
            },
          );
      };
      const cancel = (m: Msg) => {
        const id = int64(m.watch_id, "watch_id");
        if (pending.delete(id)) return; // still behind its read barrier: cancelled (and answered) once created
        const handle = watches.get(id);
        if (handle === undefined) return;
        handle.cancel();
        watches.delete(id);
        send({ header: header(backend), watch_id: id, canceled: true });
      };
      call.on("data", (m: Msg) => {
        if (ended) return;
        try {
          if (m.request_union === "create_request") create(m.create_request as Msg);
          else if (m.request_union === "cancel_request") cancel(m.cancel_request as Msg);
          else if (m.request_union === "progress_request") {
            if (watches.size === 0) send({ header: header(backend), watch_id: -1, events: [] });
            for (const handle of watches.values()) handle.requestProgress();
          } else throw new EtcdError("bad_request", "a watch request names neither create, cancel nor progress");
        } catch (error) {
          fail(error);
        }
      });
      call.on("cancelled", stop);
      call.on("error", stop);
      call.on("end", () => {
        if (ended) return;
        stop();
        call.end();
      });
    },
  };
}
