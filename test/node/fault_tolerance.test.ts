import { describe, expect, test } from "bun:test";
import { createConsola } from "consola";
import { leaderFaultTolerance, quorumSize, stopCostsQuorum } from "../../src/node/fault_tolerance.ts";
import { LearnerWatch } from "../../src/node/learner_watch.ts";

// The fault tolerance figure and the silent-learner watch, without processes (issue 10 item 6).

describe("fault tolerance figure", () => {
  test("quorum is a strict majority", () => {
    expect([1, 2, 3, 4, 5].map(quorumSize)).toEqual([1, 2, 2, 3, 3]);
  });

  test("reachable voters beyond a quorum; never negative; the leader counts itself", () => {
    const up = (ids: number[]) => (id: number) => ids.includes(id);
    expect(leaderFaultTolerance([1, 2, 3], 1, up([2, 3])).faultTolerance).toBe(1);
    expect(leaderFaultTolerance([1, 2, 3], 1, up([2])).faultTolerance).toBe(0);
    expect(leaderFaultTolerance([1, 2, 3], 1, up([])).faultTolerance).toBe(0);
    expect(leaderFaultTolerance([1, 2], 1, up([2])).faultTolerance).toBe(0);
    expect(leaderFaultTolerance([1, 2, 3, 4, 5], 1, up([2, 3, 4, 5])).faultTolerance).toBe(2);
    expect(leaderFaultTolerance([1], 1, up([])).faultTolerance).toBe(0);
    const figure = leaderFaultTolerance([1, 2, 3], 1, up([2]));
    expect([figure.reachable, figure.voters, figure.quorum]).toEqual([2, 3, 2]);
    expect(stopCostsQuorum(figure, true)).toBe(true);
    expect(stopCostsQuorum(figure, false)).toBe(false);
    expect(stopCostsQuorum(leaderFaultTolerance([1, 2, 3], 1, up([2, 3])), true)).toBe(false);
  });
});

describe("LearnerWatch", () => {
  function recordingLog() {
    const lines: string[] = [];
    const log = createConsola({ level: 5 });
    log.setReporters([{ log: (entry) => lines.push(`${entry.type}: ${entry.args.join(" ")}`) }]);
    return { log, lines };
  }

  test("a learner silent for the timeout is reported, logged once, and cleared when heard again", () => {
    const { log, lines } = recordingLog();
    const watch = new LearnerWatch(1_000, log);
    const heard = new Map<number, number>([[3, 0]]);
    watch.observe(500, 0, [3], (id) => heard.get(id));
    expect(watch.silentLearners()).toEqual([]);
    watch.observe(1_200, 0, [3], (id) => heard.get(id));
    watch.observe(5_000, 0, [3], (id) => heard.get(id));
    expect(watch.silentLearners()).toEqual([{ id: 3, silentMs: 5_000 }]);
    expect(lines.filter((l) => l.includes("learner 3 not heard from")).length).toBe(1);
    // The runtime forgets a peer's time on a refused connection: the watch keeps the last one it saw.
    heard.delete(3);
    watch.observe(5_100, 0, [3], (id) => heard.get(id));
    expect(watch.silentLearners()).toEqual([{ id: 3, silentMs: 5_100 }]);
    heard.set(3, 5_200);
    watch.observe(5_300, 0, [3], (id) => heard.get(id));
    expect(watch.silentLearners()).toEqual([]);
    expect(lines.some((l) => l.includes("learner 3 is heard from again"))).toBe(true);
  });

  test("silence is counted from when this node started leading, and a promoted or removed learner is forgotten", () => {
    const { log } = recordingLog();
    const watch = new LearnerWatch(1_000, log);
    watch.observe(10_500, 10_000, [4], () => undefined);
    expect(watch.silentLearners()).toEqual([]);
    watch.observe(11_000, 10_000, [4], () => undefined);
    expect(watch.silentLearners()).toEqual([{ id: 4, silentMs: 1_000 }]);
    watch.observe(11_100, 10_000, [], () => undefined);
    expect(watch.silentLearners()).toEqual([]);
  });
});
