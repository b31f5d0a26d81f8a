// TlsManager keeps a node's TLS material current: it reloads the files on SIGHUP (RunningNode.reloadTls) and
// when they change on disk (polled), applies the new material to the HTTP API, the peer transport and the
// node's own member calls, and warns (log + qklzl_cert_expiry_seconds) about certificates near their end.
import { statSync } from "node:fs";
import type { ConsolaInstance } from "consola";
import { expiryMetricLines, expiryWarnings } from "./expiry.ts";
import { type NodeTlsFiles, watchedPaths } from "./files.ts";
import { loadNodeTls, type NodeTls } from "./load.ts";

/** watch_interval_ms: how often the files' mtimes are compared (a changed file triggers a reload). */
const watch_interval_ms = 2_000;
/** expiry_warn_interval_ms: an expiring certificate is warned about at start, after each reload, and daily. */
const expiry_warn_interval_ms = 24 * 3600 * 1000;

export class TlsManager {
  private current: NodeTls;
  private fingerprint: string;
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastWarnAt = 0;
  private reloading: Promise<boolean> | null = null;

  constructor(
    private readonly files: NodeTlsFiles,
    initial: NodeTls,
    private readonly logger: ConsolaInstance,
    /** apply installs new material everywhere; it throws when a part refused it. */
    private readonly apply: (tls: NodeTls) => Promise<void>,
  ) {
    this.current = initial;
    this.fingerprint = this.filesFingerprint();
  }

  get enabled(): boolean {
    return this.current.http !== null || this.current.peer !== null;
  }

  /** start begins the file watch and logs the expiry warnings due now. */
  start(): void {
    if (!this.enabled) return;
    this.warnExpiry(Date.now());
    this.timer = setInterval(() => this.poll(), watch_interval_ms);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  metricLines(): string[] {
    return expiryMetricLines(this.current.certs, Date.now());
  }

  /**
   * reload reads the files again and applies them. A file that cannot be read or does not check out keeps
   * the old material in use (logged): a half-written renewal never takes the node's TLS down. Resolves true
   * when the new material is in use.
   */
  reload(why: string): Promise<boolean> {
    this.reloading ??= this.doReload(why).finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async doReload(why: string): Promise<boolean> {
    if (!this.enabled) {
      this.logger.info(`${why}: no TLS configured, nothing to reload`);
      return false;
    }
    this.fingerprint = this.filesFingerprint();
    let next: NodeTls;
    try {
      next = loadNodeTls(this.files);
    } catch (error) {
      this.logger.error(`${why}: TLS reload refused, keeping the current certificates: ${(error as Error).message}`);
      return false;
    }
    try {
      await this.apply(next);
    } catch (error) {
      this.logger.error(`${why}: TLS reload failed, keeping the current certificates: ${(error as Error).message}`);
      return false;
    }
    this.current = next;
    this.logger.info(`${why}: TLS reloaded (${next.certs.map((c) => `${c.role} serial ${c.serial}`).join(", ")})`);
    this.warnExpiry(Date.now());
    return true;
  }

  private poll(): void {
    const now = Date.now();
    if (now - this.lastWarnAt >= expiry_warn_interval_ms) this.warnExpiry(now);
    if (this.reloading !== null || this.filesFingerprint() === this.fingerprint) return;
    void this.reload("certificate files changed");
  }

  private warnExpiry(now: number): void {
    this.lastWarnAt = now;
    for (const line of expiryWarnings(this.current.certs, now)) this.logger.warn(line);
  }

  /** filesFingerprint: mtimes and sizes of every TLS file ("missing" for one that is gone meanwhile). */
  private filesFingerprint(): string {
    return watchedPaths(this.files)
      .map((p) => {
        try {
          const st = statSync(p);
          return `${st.mtimeMs}:${st.size}`;
        } catch {
          return "missing";
        }
      })
      .join("|");
  }
}
