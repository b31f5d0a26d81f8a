import { expect, test } from "bun:test";
import { TermLog } from "./partition_harness.ts";

// The one-leader-per-term check of the partition tests must flag what it claims to flag.

test("one leader per term passes, whoever reports it", () => {
  const log = new TermLog();
  log.record(2, 1, "n1 is_leader");
  log.record(2, 1, "n3 leader_id");
  log.record(3, 4, "n4 is_leader");
  log.record(3, 4, "n1 leader_id");
  expect(log.violations()).toEqual([]);
  expect(log.describe()).toBe("t2:1 t3:4");
});

test("two leaders named for one term are flagged, by self-report or by a follower", () => {
  const log = new TermLog();
  log.record(5, 1, "n1 is_leader");
  log.record(5, 2, "n3 leader_id");
  log.record(6, 2, "n2 is_leader");
  expect(log.violations()).toEqual(["term 5 had leaders 1 (n1 is_leader) and 2 (n3 leader_id)"]);
});
