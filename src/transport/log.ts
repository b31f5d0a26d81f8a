// Logging for the transport: one line per event that matters, and repeated events (a peer that keeps
// reconnecting with the wrong cluster id, a port scanner) at most once per interval per key.
import { consola, type ConsolaInstance } from "consola";

export const warn_repeat_interval_ms = 60_000;

/** TransportLogging: the transport's consola `logger`, plus warnOnce for warnings that may repeat. */
export class TransportLogging {
  readonly logger: ConsolaInstance;
  private readonly last = new Map<string, number>();

  constructor(nodeId: number) {
    this.logger = consola.withTag(`transport:n${nodeId}`);
  }

  /** warnOnce logs `message` unless the same key was logged within warn_repeat_interval_ms. */
  warnOnce(key: string, message: string): void {
    const now = performance.now();
    const last = this.last.get(key);
    if (last !== undefined && now - last < warn_repeat_interval_ms) return;
    if (this.last.size > 1024) this.last.clear(); // bounded: keys include remote addresses.
    this.last.set(key, now);
    this.logger.warn(message);
  }
}
