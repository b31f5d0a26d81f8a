import { expect, test } from "bun:test";
import type { Member } from "../../src/raft/types.ts";
import { handshakeIncarnationProblem, joinIncarnationRefusal, judgeOwnRemoval } from "../../src/node/incarnation.ts";

const member = (incarnation?: string): Member => ({
  id: 2,
  role: "voter",
  raftAddr: "127.0.0.1:12002",
  httpAddr: "127.0.0.1:8002",
  ...(incarnation === undefined ? {} : { incarnation }),
});
const join = (incarnation: string | undefined, fresh: boolean) => ({ id: 2, raftAddr: "127.0.0.1:12002", httpAddr: "127.0.0.1:8002", incarnation, fresh });

test("handshake: only the member's recorded incarnation is accepted; unrecorded ones accept any", () => {
  expect(handshakeIncarnationProblem(member("old"), 2, "old")).toBeNull();
  expect(handshakeIncarnationProblem(member("old"), 2, "new")).toContain("qklzl leave 2");
  expect(handshakeIncarnationProblem(member("old"), 2, "")).not.toBeNull();
  expect(handshakeIncarnationProblem(member(), 2, "new")).toBeNull();
  expect(handshakeIncarnationProblem(undefined, 2, "new")).toBeNull();
});

test("join: another incarnation of a member, or an empty log under a member recorded without one, is refused with 409", () => {
  const refused = joinIncarnationRefusal(member("old"), join("new", true));
  expect(refused?.code).toBe("incarnation_mismatch");
  expect(refused?.httpStatus).toBe(409);
  expect(refused?.message).toContain("qklzl leave 2");
  expect(joinIncarnationRefusal(member("old"), join("new", false))?.code).toBe("incarnation_mismatch");
  expect(joinIncarnationRefusal(member(), join("new", true))?.code).toBe("incarnation_mismatch");
  expect(joinIncarnationRefusal(member("old"), join("old", true))).toBeNull(); // a learner restarted before any entry
  expect(joinIncarnationRefusal(member(), join("new", false))).toBeNull(); // recorded now: the same dir, upgraded
  expect(joinIncarnationRefusal(member("old"), join(undefined, false))).toBeNull(); // an old client: changes nothing
  expect(joinIncarnationRefusal(member("old"), join(undefined, true))?.code).toBe("incarnation_mismatch");
});

test("own removal: acted on only for this incarnation when no later configuration holds it; unnamed ones are confirmed", () => {
  expect(judgeOwnRemoval("me", "me", undefined)).toBe("removed");
  expect(judgeOwnRemoval("earlier", "me", undefined)).toBe("history");
  expect(judgeOwnRemoval("earlier", "me", { ...member("me") })).toBe("history");
  expect(judgeOwnRemoval("me", "me", { ...member("me") })).toBe("history");
  expect(judgeOwnRemoval(undefined, "me", undefined)).toBe("confirm");
  expect(judgeOwnRemoval(undefined, "me", { ...member("me") })).toBe("history");
  expect(judgeOwnRemoval(undefined, "me", { ...member("someone else") })).toBe("confirm");
});

test("the configuration records incarnations: add_learner sets it, promote keeps it, update_addr only fills a missing one", async () => {
  const { applyConfChange } = await import("../../src/raft/index.ts");
  const addrs = { raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2" };
  let conf = applyConfChange({ members: [] }, { type: "add_learner", id: 2, ...addrs, incarnation: "first" });
  conf = applyConfChange(conf, { type: "promote", id: 2, ...addrs });
  expect(conf.members).toEqual([{ id: 2, role: "voter", ...addrs, incarnation: "first" }]);
  conf = applyConfChange(conf, { type: "update_addr", id: 2, raftAddr: "127.0.0.1:3", httpAddr: "127.0.0.1:4", incarnation: "wiped" });
  expect(conf.members[0]!.incarnation).toBe("first");
  let legacy = applyConfChange({ members: [] }, { type: "add_learner", id: 3, ...addrs });
  expect(legacy.members[0]!.incarnation).toBeUndefined();
  legacy = applyConfChange(legacy, { type: "update_addr", id: 3, ...addrs, incarnation: "upgraded" });
  expect(legacy.members[0]!.incarnation).toBe("upgraded");
});
