import { describe, expect, test } from "bun:test";
import { Reads } from "../../src/node/reads.ts";
import { QklzlError, isQklzlError } from "../../src/shared/errors.ts";

/** A fake core: records readIndex calls; the test answers them. */
function setup(options: { refuse?: boolean } = {}) {
  const asked: string[] = [];
  let applied = 0;
  const map = new Map<string, string>([["a", "1"]]);
  const gets: string[] = [];
  const reads = new Reads(
    {
      readIndex: (ctx) => {
        if (options.refuse) return new QklzlError("no_leader", "none");
        asked.push(ctx);
        return null;
      },
      applied: () => applied,
      get: (key) => {
        gets.push(key);
        return map.get(key);
      },
      roundFailed: () => new QklzlError("not_leader", "lost"),
    },
    { timeoutMs: 200, roundStaleMs: 100, prefix: "t" },
  );
  return { reads, asked, map, gets, setApplied: (n: number) => (applied = n) };
}

/** turn lets the event-loop turn end: a round starts there (Reads.kickSoon), for every read queued in the turn. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    return JSON.stringify(await promise);
  } catch (error) {
    return isQklzlError(error) ? error.code : String(error);
  }
}

describe("linearizable read batching", () => {
  test("a read point without a key (readKv, range read the store themselves) fetches no value", async () => {
    const { reads, asked, gets, setApplied } = setup();
    const point = reads.read(null);
    const value = reads.read("a");
    await turn();
    expect(asked.length).toBe(1); // one turn, one round
    reads.onReadState(asked[0]!, 3);
    setApplied(3);
    reads.onApplied(3);
    expect(await outcome(point)).toBe("null");
    expect(await outcome(value)).toBe('{"value":"1"}');
    expect(gets).toEqual(["a"]);
  });

  test("reads arriving during a round share the next one; each is served once applied reaches its read index", async () => {
    const { reads, asked, map, setApplied } = setup();
    const first = reads.read("a");
    expect(asked.length).toBe(0); // the round starts when the turn ends
    await turn();
    expect(asked.length).toBe(1);
    const second = reads.read("a");
    const third = reads.read("missing");
    await turn();
    expect(asked.length).toBe(1); // queued behind the round in flight
    reads.onReadState(asked[0]!, 10);
    await turn();
    expect(asked.length).toBe(2); // the queue started the next round in the same turn
    setApplied(9);
    reads.onApplied(9);
    map.set("a", "2"); // applied at index 10
    setApplied(10);
    reads.onApplied(10);
    expect(await outcome(first)).toBe('{"value":"2"}');
    reads.onReadState(asked[1]!, 10);
    expect(await outcome(second)).toBe('{"value":"2"}');
    expect(await outcome(third)).toBe("null");
    expect(reads.size).toBe(0);
    expect(reads.roundsStarted).toBe(2);
  });

  test("a failed round rejects its readers; a refused round rejects at once", async () => {
    const { reads, asked } = setup();
    const r = reads.read("a");
    await turn();
    reads.onReadState(asked[0]!, -1);
    expect(await outcome(r)).toBe("not_leader");
    const refused = setup({ refuse: true });
    expect(await outcome(refused.reads.read("a"))).toBe("no_leader");
  });

  test("a silent round stops holding the queue after roundStaleMs; readers time out at their deadline", async () => {
    const { reads, asked } = setup();
    const lost = reads.read("a");
    await turn();
    const queued = reads.read("a");
    await Bun.sleep(110);
    reads.sweep(performance.now());
    expect(asked.length).toBe(2); // the stale round no longer blocks
    reads.onReadState(asked[1]!, 0);
    expect(await outcome(queued)).toBe('{"value":"1"}');
    await Bun.sleep(100);
    reads.sweep(performance.now());
    expect(await outcome(lost)).toBe("timeout");
  });

  test("reads arriving in the turn a round is answered share the next round (not one round for the first of them)", async () => {
    const { reads, asked } = setup();
    const first = reads.read("a");
    await turn();
    reads.onReadState(asked[0]!, 0);
    expect(await outcome(first)).toBe('{"value":"1"}');
    const second = reads.read("a");
    const third = reads.read("a");
    await turn();
    expect(asked.length).toBe(2);
    reads.onReadState(asked[1]!, 0);
    expect(await outcome(second)).toBe('{"value":"1"}');
    expect(await outcome(third)).toBe('{"value":"1"}');
    expect(reads.roundsStarted).toBe(2);
  });
});
