import type { RouteContext } from "./context.ts";
import { errorResponse } from "./errors.ts";

/** backup_header_header: the response header carrying the backup's JSON header (progress and a summary before the body). */
export const backup_header_header = "x-qklzl-backup";
/** backup_size_header: the whole file's size in bytes (progress, and the client's check for a cut stream). */
export const backup_size_header = "x-qklzl-backup-size";

/**
 * getSnapshot streams a backup of this node's state machine (src/node/backup/format.ts): a snapshot taken now,
 * read back from its file piece by piece as the client reads (pull: a slow client holds one piece, not the
 * image). Refused with not_ready while the node is not ready (no leader known, or behind its commit index): a
 * backup from a node that lags would silently miss acknowledged writes. Local, never forwarded.
 */
export async function getSnapshot(ctx: RouteContext): Promise<Response> {
  if (!ctx.api.isReady()) {
    const status = ctx.api.status();
    return errorResponse("not_ready", `node ${status.id} is not ready (leader ${status.leader_id}, applied ${status.applied_index} of ${status.commit_index}); a backup now could miss acknowledged writes`);
  }
  if (ctx.api.backup === undefined) return errorResponse("not_found", "this node cannot stream a backup");
  const backup = await ctx.api.backup();
  const chunks = backup.chunks();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value as Uint8Array<ArrayBuffer>);
      } catch (error) {
        // Cut the response short: the client sees a body shorter than content-length, never a valid file.
        controller.error(error);
      }
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "application/octet-stream",
      // Bun sends a streamed body chunked (no content-length): the size travels in a header of its own.
      [backup_size_header]: String(backup.size),
      "content-disposition": `attachment; filename="qklzl-${backup.header.revision}.backup"`,
      [backup_header_header]: JSON.stringify(backup.header),
    },
  });
}
