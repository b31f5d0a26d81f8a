import { describe, expect, test } from "bun:test";
import { newCluster } from "./harness.ts";

describe("softState", () => {
  test("names role, leader, term and the configuration in effect, as of the call", () => {
    const c = newCluster(3);
    const before = c.core(2).softState();
    expect(before).toMatchObject({ role: "follower", leaderId: 0, term: 0 });
    expect(before.membership.voters).toEqual([1, 2, 3]);
    const leader = c.elect();
    const led = c.core(leader).softState();
    expect(led.role).toBe("leader");
    expect(led.leaderId).toBe(leader);
    expect(led.term).toBeGreaterThan(0);
    const follower = leader === 1 ? 2 : 1;
    expect(c.core(follower).softState()).toMatchObject({ role: "follower", leaderId: leader, term: led.term });
    // A value, not a view: what was read before the election still says what it said.
    expect(before).toMatchObject({ role: "follower", leaderId: 0, term: 0 });
  });
});
