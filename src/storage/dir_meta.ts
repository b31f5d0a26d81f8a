// meta.json pins a data directory to one node id (and, once known, one cluster id), and names the directory's
// incarnation: a random id drawn when the directory is created, so that a node whose directory was wiped is
// recognisably not the member that voted and acknowledged under that id before. (openStorage also draws a new
// one when meta.json survived but no Raft state did: see renewIncarnation in index.ts.)
import * as path from "node:path";
import hyperid from "hyperid";
import { consola } from "consola";
import { QklzlError } from "../shared/errors.ts";
import type { DirMeta } from "./types.ts";
import { writeFileAtomic } from "./fs_util.ts";
import { nodeFs, type StorageFs } from "./file_system.ts";
import { wipeRemedy } from "./recover.ts";

const meta_file_name = "meta.json";
const meta_format_version = 1;

export interface LoadedDirMeta {
  meta: DirMeta;
  fresh: boolean;
}

/** newIncarnation draws a random id for a data directory (hyperid: a random UUID base plus a counter). */
export function newIncarnation(): string {
  return hyperid({ urlSafe: true })();
}

/** loadOrCreateDirMeta reads meta.json, refusing a directory that belongs to another node; creates it when absent. */
export function loadOrCreateDirMeta(dir: string, nodeId: number, files: StorageFs = nodeFs): LoadedDirMeta {
  const file = path.join(dir, meta_file_name);
  let bytes: Uint8Array | null = null;
  let unreadable: unknown = null;
  try {
    bytes = files.readFile(file);
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") {
      const meta: DirMeta = { nodeId, clusterId: null, incarnation: newIncarnation() };
      writeDirMeta(dir, meta, files);
      return { meta, fresh: true };
    }
    unreadable = error;
  }
  let parsed: { format?: unknown; nodeId?: unknown; clusterId?: unknown; incarnation?: unknown };
  try {
    if (bytes === null) throw unreadable;
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new QklzlError(
      "storage_corrupt",
      `storage corrupt: ${file} is not valid JSON (${String(error)}). ${wipeRemedy(dir)}`,
      { file },
    );
  }
  if (parsed.format !== meta_format_version || typeof parsed.nodeId !== "number") {
    throw new QklzlError("storage_corrupt", `storage corrupt: ${file} has an unknown format. ${wipeRemedy(dir)}`, { file });
  }
  if (parsed.nodeId !== nodeId) {
    throw new QklzlError(
      "bad_request",
      `data directory ${dir} belongs to node ${parsed.nodeId}, not node ${nodeId}: start with -id ${parsed.nodeId}, ` +
        `or give node ${nodeId} its own -data-dir`,
      { dir, dirNodeId: parsed.nodeId, nodeId },
    );
  }
  const clusterId = typeof parsed.clusterId === "string" ? parsed.clusterId : null;
  if (typeof parsed.incarnation === "string" && parsed.incarnation !== "") {
    return { meta: { nodeId, clusterId, incarnation: parsed.incarnation }, fresh: false };
  }
  // A directory written before incarnations existed: it is the same directory (nothing was wiped), so it gets
  // its incarnation now, once, and keeps it from then on.
  const meta: DirMeta = { nodeId, clusterId, incarnation: newIncarnation() };
  writeDirMeta(dir, meta, files);
  consola.info(`[storage] ${file} had no incarnation id: recorded ${meta.incarnation}`);
  return { meta, fresh: false };
}

export function writeDirMeta(dir: string, meta: DirMeta, files: StorageFs = nodeFs): void {
  const text = JSON.stringify({ format: meta_format_version, nodeId: meta.nodeId, clusterId: meta.clusterId, incarnation: meta.incarnation }, null, 2) + "\n";
  writeFileAtomic(path.join(dir, meta_file_name), [new TextEncoder().encode(text)], files);
}
