import { describe, expect, test } from "bun:test";
import { StreamTable } from "../../../../src/node/grpc/h2/stream_table.ts";

describe("stream table", () => {
  test("random opens (ids rising), closes in any order and visits that close streams agree with a Map", () => {
    for (let seed = 1; seed <= 50; seed++) {
      let state = seed;
      const rand = (n: number) => {
        state = (state * 1103515245 + 12345) & 0x7fffffff;
        return state % n;
      };
      const table = new StreamTable<{ id: number }>();
      const model = new Map<number, { id: number }>();
      let nextId = 1;
      for (let step = 0; step < 3_000; step++) {
        const op = rand(10);
        if (op < 4 || model.size === 0) {
          nextId += 2 * (1 + rand(3)); // odd, rising, with gaps (refused or reset streams)
          const stream = { id: nextId };
          table.add(stream);
          model.set(stream.id, stream);
        } else if (op < 8) {
          // Close a random open stream, or one that is not open (false, nothing changes).
          const ids = [...model.keys()];
          const id = rand(5) === 0 ? nextId + 2 : ids[rand(ids.length)]!;
          expect(table.delete(id)).toBe(model.delete(id));
        } else if (op < 9) {
          // A visit that closes some of what it visits (pump → closeStream), in id order.
          const seen: number[] = [];
          table.forEach((stream) => {
            seen.push(stream.id);
            if (rand(3) === 0) {
              table.delete(stream.id);
              model.delete(stream.id);
            }
          });
          expect(seen).toEqual([...seen].sort((a, b) => a - b));
        } else {
          const id = 1 + rand(nextId + 4);
          expect(table.get(id)).toBe(model.get(id));
        }
        expect(table.size).toBe(model.size);
      }
      for (const [id, stream] of model) expect(table.get(id)).toBe(stream);
      expect(table.takeAll().map((s) => s.id)).toEqual([...model.keys()].sort((a, b) => a - b));
      expect(table.size).toBe(0);
    }
  });

  test("a stream id not above the last one is refused (the connection checks before adding)", () => {
    const table = new StreamTable<{ id: number }>();
    table.add({ id: 5 });
    expect(() => table.add({ id: 3 })).toThrow();
  });
});
