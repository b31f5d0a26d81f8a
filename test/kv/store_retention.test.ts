// What the store keeps per write, counted in garbage-collected strings (bun:jsc heapStats): the event log of
// 20,000 overwrites of 100 keys must hold the table's 100 key strings, not each write's own copy of its key.
import { heapStats } from "bun:jsc";
import { expect, test } from "bun:test";
import { MvccStore } from "../../src/kv/mvcc_store.ts";

function strings(): number {
  Bun.gc(true);
  return heapStats().objectTypeCounts.string ?? 0;
}

test("the event log keeps one string per key, not one per write", () => {
  const store = new MvccStore({ retentionRevisions: 0 });
  const writes = 20_000;
  const before = strings();
  for (let i = 0; i < writes; i++) {
    // A fresh string object per write, as a decoded request gives: the prefix and the number are joined at run time.
    const key = `key-${i % 100}`.split("").join("");
    const txn = store.beginWrite(0, false);
    store.put(txn, { key, value: "v" });
    store.endWrite(txn);
  }
  const kept = strings() - before;
  expect(store.historyEvents).toBe(writes);
  expect(kept).toBeLessThan(writes / 10);
});
