import { status as grpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import { type EtcdBackend, NotSupportedError, type WatchHandle } from "./backend.ts";
import { decodeWatchCreate, encodeEvent, int64, type Msg } from "./codec.ts";
import { EtcdError } from "./errors.ts";
import { failure, header, log } from "./rpc.ts";

/** watches_per_stream_max bounds the watches one stream holds (etcd has no limit; one client cannot hog memory). */
export const watches_per_stream_max = 1_000;

/**
 * unsent_bytes_max: a client that stops reading while events keep coming is dropped once this much is queued
 * for it, so a slow watcher cannot exhaust the node's memory.
 */
export const unsent_bytes_max = 16 * 1024 * 1024;

/**
 * Watch: etcd's bidirectional stream. Each create_request starts a watch (watch_id chosen by the client, or the
 * next free one), answered `created`; events follow in revision order; cancel_request ends one watch;
 * progress_request asks every watch for a progress notification (or, with none, one header with watch_id -1).
 * A watch the store refuses (a compacted start revision, a bad request) is answered created + canceled with the
 * reason, as etcd does; a store that cannot watch at all ends the stream UNIMPLEMENTED.
 */
export function watchService(backend: EtcdBackend) {
  return {
    Watch: (call: ServerDuplexStream<Msg, Msg>) => {
      const watches = new Map<number, WatchHandle>();
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
      const send = (message: Msg) => {
        if (ended) return;
        call.write(message);
        if (call.writableLength > unsent_bytes_max) {
          log.warn(`watch stream dropped: the client left more than ${unsent_bytes_max} bytes unread`);
          fail({ code: grpcStatus.RESOURCE_EXHAUSTED, details: "etcdserver: the watch stream fell too far behind (the client is not reading)" });
        }
      };
      const create = (m: Msg) => {
        let id = int64(m.watch_id, "watch_id");
        if (id === 0 || id === -1) {
          while (watches.has(nextId)) nextId++;
          id = nextId++;
        } else if (watches.has(id)) {
          send({ header: header(backend), watch_id: id, created: true, canceled: true, cancel_reason: "etcdserver: duplicate watch ID" });
          return;
        }
        if (watches.size >= watches_per_stream_max) {
          send({ header: header(backend), watch_id: id, created: true, canceled: true, cancel_reason: `qklzl: at most ${watches_per_stream_max} watches per stream` });
          return;
        }
        let handle: WatchHandle;
        // A store may replay history from inside watch(): what it sends before `created` went out waits here.
        let early: Msg[] | null = [];
        const watchId = id;
        const deliver = (message: Msg) => (early === null ? send(message) : early.push(message));
        try {
          const request = decodeWatchCreate(m);
          handle = backend.watch(request, {
            events: (events, revision) => deliver({ header: header(backend, revision), watch_id: watchId, events: events.map(encodeEvent) }),
            progress: (revision) => deliver({ header: header(backend, revision), watch_id: watchId, events: [] }),
            compacted: (compactRevision) => {
              watches.delete(watchId);
              deliver({ header: header(backend), watch_id: watchId, canceled: true, compact_revision: compactRevision, cancel_reason: "etcdserver: mvcc: required revision has been compacted" });
            },
          });
        } catch (error) {
          if (error instanceof NotSupportedError) return fail(error);
          const reason = failure(error, "Watch/Watch").details;
          send({ header: header(backend), watch_id: id, created: true, canceled: true, cancel_reason: reason });
          return;
        }
        watches.set(id, handle);
        send({ header: header(backend), watch_id: id, created: true, events: [] });
        const queued = early;
        early = null;
        for (const message of queued) send(message);
      };
      const cancel = (m: Msg) => {
        const id = int64(m.watch_id, "watch_id");
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
