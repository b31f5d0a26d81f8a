import type { ServerWritableStream } from "@grpc/grpc-js";
import { type EtcdBackend, NotSupportedError } from "./backend.ts";
import type { Msg } from "./codec.ts";
import { failure, header, log } from "./rpc.ts";

/**
 * streamSnapshot answers Maintenance.Snapshot as etcd does (v3rpc/maintenance.go): SnapshotResponse messages
 * {header, remaining_bytes, blob}, the last blob ending with the sha256 of everything before it, which is what
 * `etcdctl snapshot save` writes to its file. The bytes are qklzl's backup file (src/node/backup/format.ts),
 * the same as GET /snapshot's. Each write waits for the stream to drain, so a slow client holds one piece.
 */
export async function streamSnapshot(backend: EtcdBackend, call: ServerWritableStream<Msg, Msg>): Promise<void> {
  let cancelled = false;
  call.on("cancelled", () => {
    cancelled = true;
  });
  try {
    if (backend.snapshot === undefined) throw new NotSupportedError("this backend cannot stream a backup");
    const backup = await backend.snapshot();
    const first = header(backend, backup.header.revision);
    let remaining = backup.size;
    log.info(`snapshot stream: index ${backup.header.index}, revision ${backup.header.revision}, ${backup.header.keys} keys, ${backup.size} bytes`);
    for await (const blob of backup.chunks()) {
      if (cancelled) break; // leaving the loop closes the generator and with it the file
      remaining -= blob.length;
      const more = call.write({ header: first, remaining_bytes: remaining, blob: Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength) });
      if (!more) await new Promise<void>((resolve) => call.once("drain", resolve));
    }
    if (!cancelled) call.end();
  } catch (error) {
    if (!cancelled) call.emit("error", failure(error, "Maintenance/Snapshot"));
  }
}
