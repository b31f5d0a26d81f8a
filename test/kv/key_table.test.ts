import { describe, expect, test } from "bun:test";
import { KeyTable } from "../../src/kv/key_table.ts";

/** A small seeded PRNG (the same sequence on every run). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("KeyTable against a Map", () => {
  test("random sets, overwrites and deletes over few and many keys agree with a Map at every step", () => {
    for (const [seed, keySpace, steps] of [[1, 8, 2000], [2, 64, 20000], [3, 5000, 60000]] as const) {
      const random = lcg(seed);
      const table = new KeyTable();
      const model = new Map<string, number>();
      for (let step = 0; step < steps; step++) {
        const key = `k${Math.floor(random() * keySpace)}${random() < 0.1 ? "é\u{1F600}" : ""}`;
        const r = random();
        if (r < 0.55) {
          const value = Math.floor(random() * 2 ** 40);
          table.set(key, value);
          model.set(key, value);
        } else if (r < 0.85) {
          expect(table.delete(key)).toBe(model.delete(key));
        } else {
          expect(table.get(key)).toBe(model.get(key));
          expect(table.has(key)).toBe(model.has(key));
        }
        expect(table.size).toBe(model.size);
      }
      // Every key still reachable after all the back-shifts, and nothing else.
      for (const [key, value] of model) expect(table.get(key)).toBe(value);
      const seen = new Map<string, number>();
      table.forEach((value, key) => seen.set(key, value));
      expect(seen).toEqual(model);
    }
  });

  test("a key written through different string representations is one key", () => {
    const table = new KeyTable();
    table.set("é-key", 1);
    table.set(new TextDecoder().decode(new TextEncoder().encode("é-key")), 2);
    table.set(String.fromCharCode(0xe9) + "-key", 3);
    expect(table.size).toBe(1);
    expect(table.get("é-key")).toBe(3);
  });

  test("keys on both sides of the JS-hash length (64 UTF-16 units) agree with a Map, whatever their representation", () => {
    const random = lcg(54);
    const table = new KeyTable();
    const model = new Map<string, number>();
    for (let step = 0; step < 20000; step++) {
      // 60-70 units: a surrogate pair or an é can put the same prefix on either side of the threshold.
      const tail = `${Math.floor(random() * 300)}`.padStart(3, "0");
      const key = `${"p".repeat(57 + Math.floor(random() * 8))}${random() < 0.2 ? "\u{1F600}" : random() < 0.2 ? "é" : ""}${tail}`;
      // The same text built another way (decoded from UTF-8: a separate string object).
      const spelled = random() < 0.5 ? key : new TextDecoder().decode(new TextEncoder().encode(key));
      if (random() < 0.7) {
        table.set(spelled, step);
        model.set(key, step);
      } else {
        expect(table.delete(spelled)).toBe(model.delete(key));
      }
      expect(table.get(key)).toBe(model.get(key));
    }
    expect(table.size).toBe(model.size);
    for (const [key, value] of model) expect(table.get(key)).toBe(value);
  });

  test("a frozen copy keeps the entries it was taken with while the table goes on", () => {
    const table = new KeyTable();
    for (let i = 0; i < 1000; i++) table.set(`k${i}`, i);
    const frozen = table.frozenCopy();
    for (let i = 0; i < 1000; i += 2) table.delete(`k${i}`);
    for (let i = 1; i < 1000; i += 2) table.set(`k${i}`, -i);
    for (let i = 1000; i < 3000; i++) table.set(`k${i}`, i); // grows the live table
    expect(frozen.size).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(frozen.get(`k${i}`)).toBe(i);
    expect(frozen.get("k1500")).toBeUndefined();
    expect(table.size).toBe(2500);
  });
});

describe("KeyTable.set returns the key it holds", () => {
  test("an overwrite returns the first string set for the key; a new key returns itself", () => {
    const table = new KeyTable();
    expect(table.set("a", 1)).toBe("a");
    expect(table.set(["a"].join(""), 2)).toBe("a");
    expect(table.get("a")).toBe(2);
  });
});
