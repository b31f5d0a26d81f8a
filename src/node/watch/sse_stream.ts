import type { Event } from "../../kv/mvcc_types.ts";
import type { Watch, WatchMessage } from "../../kv/watch_hub.ts";

export interface SseOptions {
  /** heartbeatMs: a comment line this often while nothing else is sent (proxies and clients see the link alive). */
  heartbeatMs: number;
  /** progressMs: with progress_notify, a progress header after this long without a message (0 = never). */
  progressMs: number;
  /** onClose runs once, when the stream ends for any reason (client gone, cancel sent, node stopping). */
  onClose(): void;
  signal: AbortSignal;
}

const encoder = new TextEncoder();

/** eventJson: one event as the API shows it (the revision repeated on each, for clients that split them). */
function eventJson(event: Event, revision: number): Record<string, unknown> {
  const out: Record<string, unknown> = { type: event.type, kv: event.kv };
  if (event.prev_kv !== undefined) out.prev_kv = event.prev_kv;
  out.revision = revision;
  return out;
}

/**
 * sseFrame encodes one message as Server-Sent Events. All events of a revision are ONE message (`id:` the
 * revision), so a client that loses the connection mid-txn never has half of it: EventSource's
 * Last-Event-ID is then the last revision it has whole. A progress header carries `id:` too (every event up
 * to it was sent); created and cancel carry none (they are not positions in the feed).
 */
export function sseFrame(message: WatchMessage): string {
  if (message.type === "events") {
    const events = message.events.map((e) => eventJson(e, message.revision));
    return `id: ${message.revision}\ndata: ${JSON.stringify({ revision: message.revision, events })}\n\n`;
  }
  if (message.type === "progress") return `event: progress\nid: ${message.revision}\ndata: ${JSON.stringify({ revision: message.revision })}\n\n`;
  const body: Record<string, unknown> = { error: message.reason, reason: message.reason, message: message.message, revision: message.revision };
  if (message.compact_revision !== undefined) body.compact_revision = message.compact_revision;
  return `event: cancel\ndata: ${JSON.stringify(body)}\n\n`;
}

/**
 * watchStream turns a Watch into an SSE body. It is pulled: it takes from the watch only when the client's
 * side wants more (so a slow client leaves events in the hub's bounded buffer, not in ours), waits for the
 * hub's wake or the heartbeat timer otherwise, and ends after a cancel message, on the client's disconnect
 * (cancel or the request's abort signal) or when the node closes the watch.
 */
export function watchStream(watch: Watch, created: Record<string, unknown>, options: SseOptions): ReadableStream<Uint8Array> {
  let closed = false;
  let waiting: (() => void) | null = null;
  let lastSentAt = performance.now();
  const wakeUp = () => {
    const resolve = waiting;
    waiting = null;
    resolve?.();
  };
  const close = () => {
    if (closed) return;
    closed = true;
    watch.onWake = null;
    options.signal.removeEventListener("abort", close);
    wakeUp();
    options.onClose();
  };
  watch.onWake = wakeUp; // called from apply: it only resolves a promise
  options.signal.addEventListener("abort", close);

  /** idle waits for the hub's wake or the heartbeat interval; "timer" when the interval passed. */
  const idle = () =>
    new Promise<"wake" | "timer">((resolve) => {
      const timer = setTimeout(() => {
        waiting = null;
        resolve("timer");
      }, options.heartbeatMs);
      waiting = () => {
        clearTimeout(timer);
        resolve("wake");
      };
    });

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(encoder.encode(`retry: 1000\nevent: created\ndata: ${JSON.stringify(created)}\n\n`));
      },
      async pull(controller) {
        while (!closed) {
          const { messages, more } = watch.take();
          if (messages.length > 0) {
            controller.enqueue(encoder.encode(messages.map(sseFrame).join("")));
            lastSentAt = performance.now();
            if (messages.at(-1)!.type === "cancel" || watch.closed) {
              close();
              controller.close();
            }
            return;
          }
          if (watch.closed) break;
          if (more) {
            await new Promise((resolve) => setImmediate(resolve)); // a long replay yields to apply and other clients
            continue;
          }
          if ((await idle()) === "wake" || closed) continue;
          if (options.progressMs > 0 && performance.now() - lastSentAt >= options.progressMs) {
            watch.requestProgress();
            continue;
          }
          controller.enqueue(encoder.encode(": heartbeat\n\n"));
          return;
        }
        close();
        try {
          controller.close();
        } catch {
          // already closed by the client
        }
      },
      cancel() {
        close();
      },
    },
    { highWaterMark: 1 },
  );
}
