// Logging for the transport: one line per event that matters, and repeated events (a peer that keeps
// reconnecting with the wrong cluster id, a port scanner) at most once per interval per key.
import { consola, type ConsolaInstance } from "consola";

export const LOG_REPEAT_INTERVAL_MS = 60_000;

export class TransportLog {
  readonly log: ConsolaInstance;
  private readonly last = new Map<string, number>();

  constructor(nodeId: number) {
    this.log = consola.withTag(`transport:n${nodeId}`);
  }

  /** warnOnce logs `message` unless the same key was logged within LOG_REPEAT_INTERVAL_MS. */
  warnOnce(key: string, message: string): void {
    const now = performance.now();
    const last = this.last.get(key);
    if (last !== undefined && now - last < LOG_REPEAT_INTERVAL_MS) return;
    if (this.last.size > 1024) this.last.clear(); // bounded: keys include remote addresses.
    this.last.set(key, now);
    this.log.warn(message);
  }
}
