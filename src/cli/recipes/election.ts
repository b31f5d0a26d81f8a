import { followWatch } from "../watch_client.ts";
import { currentLeader, type LeaderKv, type RecipeClient } from "./lock.ts";

/**
 * observeLeader calls `onChange` with the leader of election NAME (or null) now and after every change, until
 * `signal` aborts (etcd's Election.Observe). It reads the leader, then watches NAME/ from that read's revision
 * + 1 (followWatch: on another member if one dies) and reads again after each revision that touched NAME/, so
 * no change between the read and the watch is missed. A leader is told once per change of its key; a change
 * and its undo between two reads (a key created and deleted at once) may be seen as no change.
 */
export async function observeLeader(client: RecipeClient, name: string, onChange: (leader: LeaderKv | null) => void, signal: AbortSignal): Promise<void> {
  let shown: LeaderKv | null | undefined;
  let reading: Promise<void> = Promise.resolve();
  const show = (leader: LeaderKv | null) => {
    if (shown !== undefined && leader?.key === shown?.key && leader?.create_revision === shown?.create_revision) return;
    shown = leader;
    onChange(leader);
  };
  const first = await currentLeader(client.call, name);
  show(first.leader);
  // One read at a time, in event order: a burst of revisions costs at most one read more than it needs.
  let pending = false;
  const reread = () => {
    if (pending) return;
    pending = true;
    reading = reading.then(async () => {
      pending = false;
      if (signal.aborted) return;
      show((await currentLeader(client.call, name)).leader);
    }).catch(() => {
      // Every member failed for the recipe's retry window: try again shortly (the watch is still on).
      if (!signal.aborted) setTimeout(reread, 500);
    });
  };
  await followWatch({
    addrs: client.addrs,
    query: new URLSearchParams({ prefix: `${name}/` }),
    startRevision: first.revision + 1,
    signal,
    onEvents: () => reread(),
    onNote: () => {},
  });
  await reading.catch(() => {});
}
