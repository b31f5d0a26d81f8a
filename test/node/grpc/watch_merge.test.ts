import { describe, expect, test } from "bun:test";
import type { WatchMessage } from "../../../src/kv/watch_hub.ts";
import { merged_bytes_max, mergeRevisions } from "../../../src/node/grpc/node_backend.ts";

// mergeRevisions: several whole revisions of one watch in one message, in order, never a revision split,
// progress and cancel messages kept in place, and no message above merged_bytes_max unless one revision is.

const put = (key: string, revision: number, value = "v") => ({ type: "put" as const, kv: { key, value, create_revision: revision, mod_revision: revision, version: 1, lease: 0 } });
const rev = (revision: number, n = 1, value = "v"): WatchMessage => ({ type: "events", revision, events: Array.from({ length: n }, (_, i) => put(`k${i}`, revision, value)) });
const flat = (messages: WatchMessage[]) => messages.flatMap((m) => (m.type === "events" ? m.events.map((e) => `${e.kv.mod_revision}:${e.kv.key}`) : [`${m.type}:${m.revision}`]));

describe("mergeRevisions", () => {
  test("consecutive revisions become one message at the last revision; the events in order, none lost or repeated", () => {
    const input = [rev(5, 2), rev(6), rev(7, 3)];
    const out = mergeRevisions(input);
    expect(out.length).toBe(1);
    expect(out[0]!.revision).toBe(7);
    expect(flat(out)).toEqual(flat(input));
    // the input messages are not changed (the hub's arrays are shared with other watches)
    expect((input[0] as { events: unknown[] }).events.length).toBe(2);
  });

  test("a progress or cancel message stays between the revisions around it", () => {
    const input: WatchMessage[] = [rev(2), rev(3), { type: "progress", revision: 3 }, rev(4), { type: "cancel", reason: "compacted", message: "x", revision: 4 }];
    const out = mergeRevisions(input);
    expect(out.map((m) => `${m.type}:${m.revision}`)).toEqual(["events:3", "progress:3", "events:4", "cancel:4"]);
    expect(flat(out)).toEqual(flat(input));
  });

  test("past merged_bytes_max a new message starts; a revision is never split, even one larger than the cap", () => {
    const big = "x".repeat(merged_bytes_max / 4);
    const input = [rev(1, 3, big), rev(2, 3, big), rev(3, 5, big), rev(4), rev(5)];
    const out = mergeRevisions(input);
    expect(flat(out)).toEqual(flat(input));
    // revision 1 (3/4 of the cap) cannot take revision 2; revision 3 alone is over the cap and stays whole;
    // the small revisions 4 and 5 after it merge again
    expect(out.map((m) => m.revision)).toEqual([1, 2, 3, 5]);
    expect(out.map((m) => (m as { events: unknown[] }).events.length)).toEqual([3, 3, 5, 2]);
  });
});
