// EntryColumns against a plain array of Entry objects: seeded rounds of pushes (every kind, data sizes from 0 to
// past a chunk, copied or held), truncations, front drops and clears; every read must give the same entries, and views handed
// out earlier must keep their bytes whatever happens to the columns afterwards.
import { describe, expect, test } from "bun:test";
import type { Entry } from "../../src/raft/types.ts";
import { entrySize } from "../../src/raft/entry_size.ts";
import { EntryColumns, held_bytes_min } from "../../src/storage/entry_columns.ts";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function makeEntry(index: number, term: number, r: () => number): Entry {
  const pick = r();
  if (pick < 0.1) return { kind: "noop", index, term };
  if (pick < 0.15) return { kind: "conf", index, term, change: { type: "promote", id: index % 7, raftAddr: `r${index}`, httpAddr: `h${index}` } };
  const big = r() < 0.003;
  const n = big ? 4 * 1024 * 1024 + Math.floor(r() * 1000) : Math.floor(r() * (r() < 0.1 ? 70_000 : 300));
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i += 97) data[i] = (index + i) & 0xff;
  if (n > 0) data[n - 1] = index & 0xff;
  return { kind: "normal", index, term, data };
}

function same(got: Entry, want: Entry): void {
  expect(got.kind).toBe(want.kind);
  expect(got.index).toBe(want.index);
  expect(got.term).toBe(want.term);
  if (want.kind === "normal" && got.kind === "normal") {
    expect(got.data.length).toBe(want.data.length);
    expect(Buffer.from(got.data).equals(Buffer.from(want.data))).toBe(true);
  } else if (want.kind === "conf" && got.kind === "conf") {
    expect(got.change).toEqual(want.change);
  }
}

describe("EntryColumns", () => {
  test("seeded rounds agree with an array of entries; earlier views keep their bytes", () => {
    for (let seed = 1; seed <= 6; seed++) {
      const r = rng(seed);
      const columns = new EntryColumns();
      let model: Entry[] = [];
      let first = 1;
      let term = 1;
      const views: { view: Uint8Array; copy: Buffer }[] = [];
      for (let step = 0; step < 1500; step++) {
        const op = r();
        if (op < 0.7) {
          const e = makeEntry(first + model.length, term, r);
          columns.push(e, r() < 0.5); // held (large ones) and copied entries mixed
          model.push(e);
        } else if (op < 0.8 && model.length > 0) {
          const keep = Math.floor(r() * model.length);
          columns.truncate(keep, first);
          model = model.slice(0, keep);
          term++;
        } else if (op < 0.93 && model.length > 0) {
          const drop = Math.floor(r() * (model.length + 1));
          columns.dropFront(drop, first);
          model = model.slice(drop);
          first += drop;
        } else if (op < 0.95) {
          columns.clear();
          first += model.length + Math.floor(r() * 5);
          model = [];
        }
        expect(columns.length).toBe(model.length);
        if (model.length > 0) {
          const i = Math.floor(r() * model.length);
          const got = columns.entry(i, first + i);
          same(got, model[i]!);
          expect(columns.term(i)).toBe(model[i]!.term);
          expect(columns.size(i)).toBe(entrySize(model[i]!));
          if (got.kind === "normal" && views.length < 200) views.push({ view: got.data, copy: Buffer.from(got.data) });
        }
      }
      for (let i = 0; i < model.length; i++) same(columns.entry(i, first + i), model[i]!);
      for (const { view, copy } of views) expect(Buffer.from(view).equals(copy)).toBe(true);
    }
  });

  test("the data is a copy: changing the pushed bytes later changes nothing", () => {
    const columns = new EntryColumns();
    const data = Uint8Array.of(1, 2, 3);
    columns.push({ kind: "normal", index: 5, term: 2, data });
    data[0] = 9;
    const got = columns.entry(0, 5);
    expect(got.kind === "normal" && [...got.data]).toEqual([1, 2, 3]);
  });

  test("with hold, a large entry keeps its own buffer and a small one is copied; dropped held entries are gone", () => {
    const columns = new EntryColumns();
    const large = new Uint8Array(held_bytes_min).fill(7);
    const small = new Uint8Array(held_bytes_min - 1).fill(8);
    columns.push({ kind: "normal", index: 1, term: 1, data: large }, true);
    columns.push({ kind: "normal", index: 2, term: 1, data: small }, true);
    columns.push({ kind: "normal", index: 3, term: 1, data: large.slice() }, false);
    const at = (i: number) => columns.entry(i, i + 1) as Entry & { kind: "normal" };
    expect(at(0).data).toBe(large);
    expect(at(1).data.buffer).not.toBe(small.buffer);
    expect(at(2).data.buffer).not.toBe(large.buffer);
    expect(columns.size(0)).toBe(entrySize({ kind: "normal", index: 1, term: 1, data: large }));
    // Truncated, then pushed again at its index: the new entry, not the old buffer.
    const again = new Uint8Array(held_bytes_min + 5).fill(9);
    columns.truncate(0, 1);
    columns.push({ kind: "normal", index: 1, term: 2, data: again }, true);
    columns.push({ kind: "normal", index: 2, term: 2, data: large }, true);
    expect(at(0).data).toBe(again);
    columns.dropFront(1, 1);
    expect(columns.length).toBe(1);
    expect((columns.entry(0, 2) as Entry & { kind: "normal" }).data).toBe(large);
    expect(() => columns.entry(0, 1)).toThrow(); // index 1's data was let go with the drop
  });

  test("a conf entry truncated away is gone, and one pushed again at its index is the new one", () => {
    const columns = new EntryColumns();
    const conf = (index: number, id: number): Entry => ({ kind: "conf", index, term: 1, change: { type: "remove", id, raftAddr: "", httpAddr: "" } });
    columns.push({ kind: "noop", index: 10, term: 1 });
    columns.push(conf(11, 2));
    columns.truncate(1, 10);
    columns.push(conf(11, 3));
    const got = columns.entry(1, 11);
    expect(got.kind === "conf" && got.change.id).toBe(3);
  });
});
