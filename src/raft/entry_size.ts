import type { Entry } from "./types.ts";

/** entrySize is the payload size the batching limits count (a fixed estimate for non-data entries). */
export function entrySize(entry: Entry): number {
  switch (entry.kind) {
    case "normal":
      return entry.data.length;
    case "noop":
      return 0;
    case "conf":
      return 16 + entry.change.raftAddr.length + entry.change.httpAddr.length;
  }
}

/** limitSize keeps the longest prefix within bytesMax, but always at least one entry. */
export function limitSize(entries: Entry[], bytesMax: number): Entry[] {
  let size = 0;
  for (let i = 0; i < entries.length; i++) {
    size += entrySize(entries[i] as Entry);
    if (i > 0 && size > bytesMax) return entries.slice(0, i);
  }
  return entries;
}
