import { describe, expect, test } from "bun:test";
import { SortedSlots } from "../../src/shared/sorted_slots.ts";

describe("sorted slots", () => {
  test("random inserts (mostly rising, some below), deletes in any order and visits that delete agree with a Map", () => {
    for (let seed = 1; seed <= 50; seed++) {
      let state = seed;
      const rand = (n: number) => {
        state = (state * 1103515245 + 12345) & 0x7fffffff;
        return state % n;
      };
      const slots = new SortedSlots<{ key: number }>((value) => value.key);
      const model = new Map<number, { key: number }>();
      const sortedKeys = () => [...model.keys()].sort((a, b) => a - b);
      let next = 1;
      for (let step = 0; step < 3_000; step++) {
        const op = rand(10);
        if (op < 4 || model.size === 0) {
          // Rising with gaps (refused streams, entries nobody waits for); now and then below a present key.
          let key = (next += 1 + rand(3));
          if (rand(8) === 0 && model.size > 0) {
            key = sortedKeys()[0]! - 1 - rand(3);
            if (model.has(key)) continue;
          }
          const value = { key };
          const last = sortedKeys().at(-1);
          expect(slots.insert(value)).toBe(last === undefined || last < key);
          model.set(key, value);
        } else if (op < 7) {
          // Delete a present key, or one that is not there (undefined, nothing changes).
          const keys = [...model.keys()];
          const key = rand(5) === 0 ? next + 1 : keys[rand(keys.length)]!;
          expect(slots.delete(key)).toBe(model.get(key));
          model.delete(key);
        } else if (op < 9) {
          // A visit that deletes some of what it visits and may stop early, in key order.
          const seen: number[] = [];
          const stopAt = rand(3) === 0 ? rand(model.size + 1) : Infinity;
          slots.forEach((value) => {
            if (seen.length >= stopAt) return false;
            seen.push(value.key);
            if (rand(3) === 0) {
              expect(slots.delete(value.key)).toBe(value);
              model.delete(value.key);
            }
          });
          expect(seen).toEqual([...seen].sort((a, b) => a - b));
          if (stopAt === Infinity) expect(seen.length).toBeGreaterThanOrEqual(model.size);
        } else {
          const key = rand(next + 4) - 2;
          expect(slots.get(key)).toBe(model.get(key));
        }
        expect(slots.size).toBe(model.size);
      }
      for (const [key, value] of model) expect(slots.get(key)).toBe(value);
      expect(slots.takeAll().map((value) => value.key)).toEqual(sortedKeys());
      expect(slots.size).toBe(0);
    }
  });

  test("a value deleted is no longer held: only the present ones come back from takeAll", () => {
    const slots = new SortedSlots<{ key: number }>((value) => value.key);
    for (let key = 1; key <= 1_000; key++) slots.insert({ key });
    for (let key = 1; key <= 990; key++) slots.delete(key);
    expect(slots.takeAll().map((value) => value.key)).toEqual([991, 992, 993, 994, 995, 996, 997, 998, 999, 1000]);
  });
});
