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
      roundFailed: () => new QklzlError("not_leader", "lost"),
    },
    { timeoutMs: 200, roundStaleMs: 100, prefix: "t" },
  );
  /** readKey: a read answered with the key's value at the read point (serve runs when the point is applied). */
  const readKey = (key: string) =>
    reads.read(() => {
      gets.push(key);
      const value = map.get(key);
      return value === undefined ? null : { value };
    });
  return { reads, readKey, asked, map, gets, setApplied: (n: number) => (applied = n) };
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
    const { reads, readKey, asked, gets, setApplied } = setup();
    const point = reads.read(() => null);
    const value = readKey("a");
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
    const { reads, readKey, asked, map, setApplied } = setup();
    const first = readKey("a");
    expect(asked.length).toBe(0); // the round starts when the turn ends
    await turn();
    expect(asked.length).toBe(1);
    const second = readKey("a");
    const third = readKey("missing");
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
    const { reads, readKey, asked } = setup();
    const r = readKey("a");
    await turn();
    reads.onReadState(asked[0]!, -1);
    expect(await outcome(r)).toBe("not_leader");
    const refused = setup({ refuse: true });
    expect(await outcome(refused.readKey("a"))).toBe("no_leader");
  });

  test("a silent round stops holding the queue after roundStaleMs; readers time out at their deadline", async () => {
    const { reads, readKey, asked } = setup();
    const lost = readKey("a");
    await turn();
    const queued = readKey("a");
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
    const { reads, readKey, asked } = setup();
    const first = readKey("a");
    await turn();
    reads.onReadState(asked[0]!, 0);
    expect(await outcome(first)).toBe('{"value":"1"}');
    const second = readKey("a");
    const third = readKey("a");
    await turn();
    expect(asked.length).toBe(2);
    reads.onReadState(asked[1]!, 0);
    expect(await outcome(second)).toBe('{"value":"1"}');
    expect(await outcome(third)).toBe('{"value":"1"}');
    expect(reads.roundsStarted).toBe(2);
  });

  test("what serve throws answers its own read only; the others of the round are served", async () => {
    const { reads, readKey, asked } = setup();
    const before = readKey("a");
    const broken = reads.read(() => {
      throw new QklzlError("compacted", "gone");
    });
    const after = readKey("a");
    await turn();
    reads.onReadState(asked[0]!, 0);
    expect(await outcome(before)).toBe('{"value":"1"}');
    expect(await outcome(broken)).toBe("compacted");
    expect(await outcome(after)).toBe('{"value":"1"}');
    expect(reads.size).toBe(0);
  });

  test("serve runs when the read point is applied, not before", async () => {
    const { reads, asked, setApplied } = setup();
    let served = 0;
    const r = reads.read(() => ++served);
    await turn();
    reads.onReadState(asked[0]!, 5);
    expect(served).toBe(0);
    setApplied(5);
    reads.onApplied(5);
    expect(served).toBe(1);
    expect(await outcome(r)).toBe("1");
  });

  test("failAll and timeouts leave nothing pending", async () => {
    const { reads, readKey } = setup();
    const a = readKey("a");
    await turn();
    const b = readKey("a");
    const c = readKey("a");
    expect(reads.size).toBe(3);
    reads.failAll(new QklzlError("not_leader", "stepped down"));
    expect(await outcome(a)).toBe("not_leader");
    expect(await outcome(b)).toBe("not_leader");
    expect(await outcome(c)).toBe("not_leader");
    expect(reads.size).toBe(0);
    const late = readKey("a");
    await Bun.sleep(210);
    reads.sweep(performance.now());
    expect(await outcome(late)).toBe("timeout");
    expect(reads.size).toBe(0);
  });

  test("reads of one turn share a deadline; a read of a later turn gets its own", async () => {
    const { reads, readKey, asked } = setup();
    const early = readKey("a");
    const sameTurn = readKey("a");
    await turn();
    // The round answered in a later turn releases nothing yet (index not applied): the readers stay pending.
    reads.onReadState(asked[0]!, 1);
    await Bun.sleep(120);
    const late = readKey("a");
    await Bun.sleep(100);
    reads.sweep(performance.now());
    expect(await outcome(early)).toBe("timeout");
    expect(await outcome(sameTurn)).toBe("timeout");
    expect(reads.size).toBe(1); // the late read is still within its own 200 ms
    await Bun.sleep(120);
    reads.sweep(performance.now());
    expect(await outcome(late)).toBe("timeout");
    expect(reads.size).toBe(0);
  });
});
