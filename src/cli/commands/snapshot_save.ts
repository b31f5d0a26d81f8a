import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { defineCommand } from "citty";
import { snapshotSaveArgs } from "../args.ts";
import { print } from "../format.ts";
import { parseDuration } from "../parse.ts";
import { QklzlError } from "../../shared/errors.ts";

/** progress_interval_ms: how often the progress line on stderr is refreshed. */
const progress_interval_ms = 500;

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * snapshotSaveCommand: `qklzl snapshot save FILE [--addr A]` streams GET /snapshot into FILE.part (progress on
 * stderr), checks the trailing sha256 against the bytes received and the length against content-length, then
 * fsyncs and renames it to FILE: FILE exists only once it is a complete, verified backup.
 */
export const snapshotSaveCommand = defineCommand({
  meta: { name: "save", description: "Stream a consistent backup of the member at --addr into FILE (checksum verified)" },
  args: snapshotSaveArgs,
  async run({ args }) {
    const idleMs = parseDuration("timeout", args.timeout);
    const { authorizationHeader, baseUrl, commandTls, errorFromResponse, useClientTls } = await import("../client.ts");
    const { parseBackupPreamble, backup_checksum_bytes } = await import("../../node/backup/format.ts");
    useClientTls(args);
    const tls = commandTls();
    const url = `${baseUrl(args.addr, tls !== null)}/snapshot`;
    const abort = new AbortController();
    let timer = setTimeout(() => abort.abort(), idleMs);
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(), idleMs);
    };
    const part = `${args.file}.part`;
    let fd: number | null = null;
    try {
      let response: Response;
      try {
        response = await fetch(url, { ...(tls === null || !url.startsWith("https:") ? {} : { tls }), headers: authorizationHeader(), signal: abort.signal });
      } catch (error) {
        throw new QklzlError(abort.signal.aborted ? "timeout" : "internal", `cannot fetch a backup from ${url}: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (!response.ok) throw await errorFromResponse(response, url);
      const total = Number(response.headers.get("x-qklzl-backup-size") ?? NaN);
      if (response.body === null) throw new QklzlError("internal", `${url} answered without a body`);
      fd = fs.openSync(part, "w");
      const sha = createHash("sha256");
      // The last 32 bytes are the checksum: everything before them is hashed, the tail is held back until the end.
      let tail = new Uint8Array(0);
      let received = 0;
      let shownAt = 0;
      const started = performance.now();
      try {
        for await (const chunk of response.body) {
          touch();
          fs.writeSync(fd, chunk);
          received += chunk.length;
          const joined = new Uint8Array(tail.length + chunk.length);
          joined.set(tail, 0);
          joined.set(chunk, tail.length);
          const cut = Math.max(0, joined.length - backup_checksum_bytes);
          sha.update(joined.subarray(0, cut));
          tail = joined.slice(cut);
          if (performance.now() - shownAt > progress_interval_ms) {
            shownAt = performance.now();
            const pct = Number.isFinite(total) && total > 0 ? ` (${Math.floor((100 * received) / total)}%)` : "";
            process.stderr.write(`\rsnapshot save: ${mib(received)} of ${Number.isFinite(total) ? mib(total) : "?"}${pct}   `);
          }
        }
      } catch (error) {
        throw new QklzlError(abort.signal.aborted ? "timeout" : "internal", `the backup stream from ${url} broke after ${received} bytes: ${error instanceof Error ? error.message : String(error)}`);
      }
      process.stderr.write(`\rsnapshot save: ${mib(received)} received in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      if (Number.isFinite(total) && received !== total) throw new QklzlError("backup_corrupt", `received ${received} bytes, the node announced ${total}: the stream was cut`);
      const digest = sha.digest("hex");
      const trailer = Buffer.from(tail).toString("hex");
      if (tail.length !== backup_checksum_bytes || digest !== trailer) {
        throw new QklzlError("backup_corrupt", `sha256 mismatch: received bytes hash to ${digest}, the stream's trailer says ${trailer}`);
      }
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = null;
      const prefix = Buffer.alloc(Math.min(received, 70 * 1024));
      const rfd = fs.openSync(part, "r");
      try {
        fs.readSync(rfd, prefix, 0, prefix.length, 0);
      } finally {
        fs.closeSync(rfd);
      }
      const { header } = parseBackupPreamble(prefix);
      fs.renameSync(part, args.file);
      print(`Saved ${args.file}: revision ${header.revision}, ${header.keys} keys, ${received} bytes (index ${header.index}, term ${header.term}, node ${header.node_id}), sha256 ${digest}`);
    } catch (error) {
      if (fd !== null) fs.closeSync(fd);
      fs.rmSync(part, { force: true });
      throw error;
    } finally {
      clearTimeout(timer);
    }
  },
});

