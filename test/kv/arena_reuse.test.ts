// ValueArena reuses the chunks of the arena before a compaction (no fresh pages for the copy), except chunks
// a reader was lent: a snapshot image taken before several compactions must still stream exactly the state
// it was taken at, and every value must read back as written.
import { describe, expect, test } from "bun:test";
import { encodeUtf8Put, KvStateMachine } from "../../src/kv/index.ts";
import { ValueArena } from "../../src/kv/value_arena.ts";

const keys = 300;

function valueFor(index: number): Uint8Array {
  const unit = `${index.toString(36)}|`;
  return new TextEncoder().encode(unit.repeat(Math.ceil(16_384 / unit.length)).slice(0, 16_384));
}

function entry(index: number): Uint8Array {
  return encodeUtf8Put(`key-${index % keys}`, valueFor(index));
}

async function imageBytes(image: { writeTo(write: (chunk: Uint8Array) => Promise<void>): Promise<void> }): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  await image.writeTo(async (chunk) => {
    chunks.push(chunk.slice());
  });
  return Buffer.concat(chunks);
}

describe("ValueArena chunk reuse", () => {
  test("an image taken before compactions streams the state it was taken at; values read back as written", async () => {
    const a = new KvStateMachine();
    const b = new KvStateMachine();
    const taken = 2_500;
    for (let i = 1; i <= taken; i++) {
      a.applyEntry(i, entry(i));
      b.applyEntry(i, entry(i));
    }
    const early = a.beginSnapshot();
    const compactionsBefore = a.memory().arenaCompactions;
    for (let i = taken + 1; i <= 12_000; i++) a.applyEntry(i, entry(i));
    // Several compactions ran while the image was open: at least one reused chunks of an earlier arena.
    expect(a.memory().arenaCompactions - compactionsBefore).toBeGreaterThanOrEqual(3);
    expect((await imageBytes(early)).equals(await imageBytes(b.beginSnapshot()))).toBe(true);
    const decoder = new TextDecoder();
    for (let k = 0; k < keys; k++) {
      const last = 12_000 - ((12_000 - k) % keys);
      expect(a.get(`key-${k}`)).toBe(decoder.decode(valueFor(last)));
    }
  });

  test("spare chunks come only from an arena no reader was lent", () => {
    const arena = new ValueArena();
    const meta = (mod: number, prev: number) => ({ create: mod, mod, sub: 0, version: 1, lease: 0, tombstone: false, prev });
    const big = new Uint8Array(1024 * 1024).fill(1);
    const heads = new (class {
      loc = -1;
      forEach(f: (head: number, key: string) => void) {
        f(this.loc, "k");
      }
      get(key: string) {
        return key === "k" ? this.loc : undefined;
      }
      set(_key: string, loc: number) {
        this.loc = loc;
      }
    })();
    // Each put replaces the key's only version, which is freed as the store frees a compacted one.
    const replace = (value: Uint8Array, mod: number) => {
      const before = heads.loc;
      heads.loc = arena.put(value, meta(mod, -1));
      if (before !== -1) arena.free(before);
    };
    for (let mod = 1; mod <= 40; mod++) replace(big, mod);
    arena.compact(heads as never, 40);
    expect(arena.spareChunks).toBeGreaterThan(0);
    // Lend everything now: the next compaction may not reuse any of these chunks.
    for (let mod = 41; mod <= 80; mod++) replace(big, mod);
    const reader = arena.reader();
    const lentAt = heads.loc;
    const seen = Buffer.from(reader.bytes(lentAt));
    arena.compact(heads as never, 80);
    expect(arena.spareChunks).toBe(0);
    // New records, and compactions that reuse chunks, never touch what the reader was lent.
    for (let mod = 81; mod <= 300; mod++) {
      replace(new Uint8Array(1024 * 1024).fill(mod & 0xff), mod);
      if (mod % 40 === 0) arena.compact(heads as never, mod);
    }
    expect(arena.compactions).toBeGreaterThanOrEqual(6);
    expect(Buffer.from(reader.bytes(lentAt)).equals(seen)).toBe(true);
    expect(reader.meta(lentAt).mod).toBe(80);
  });

  test("chunks a compaction released while lent become spare once their last reader is returned, not before", () => {
    const arena = new ValueArena();
    const meta = (mod: number) => ({ create: mod, mod, sub: 0, version: 1, lease: 0, tombstone: false, prev: -1 });
    let head = -1;
    const heads = {
      forEach: (f: (loc: number, key: string) => void) => f(head, "k"),
      get: (key: string) => (key === "k" ? head : undefined),
      set: (_key: string, loc: number) => {
        head = loc;
      },
    };
    const replace = (mod: number) => {
      const before = head;
      head = arena.put(new Uint8Array(1024 * 1024).fill(mod & 0xff), meta(mod));
      if (before !== -1) arena.free(before);
    };
    for (let mod = 1; mod <= 40; mod++) replace(mod);
    const first = arena.reader();
    const second = arena.reader();
    const heldAt = head;
    const held = Buffer.from(second.bytes(heldAt));
    arena.compact(heads as never, 40);
    expect(arena.spareChunks).toBe(0); // both readers hold every old chunk
    arena.returnReader(first);
    expect(arena.spareChunks).toBe(0); // the second still does
    expect(Buffer.from(second.bytes(heldAt)).equals(held)).toBe(true);
    expect(second.meta(heldAt).mod).toBe(40);
    arena.returnReader(second);
    expect(arena.spareChunks).toBeGreaterThan(0);
    expect(() => arena.returnReader(second)).toThrow();
  });

  test("a written snapshot hands its chunks back: the writes after it allocate no more fresh chunks than without it", async () => {
    const arenaOf = (kv: KvStateMachine) => (kv as unknown as { store: { arena: ValueArena } }).store.arena;
    const withSnapshot = new KvStateMachine();
    const without = new KvStateMachine();
    for (let i = 1; i <= 2_500; i++) {
      withSnapshot.applyEntry(i, entry(i));
      without.applyEntry(i, entry(i));
    }
    await imageBytes(withSnapshot.beginSnapshot());
    const before = [arenaOf(withSnapshot).freshChunks, arenaOf(without).freshChunks];
    for (let i = 2_501; i <= 12_000; i++) {
      withSnapshot.applyEntry(i, entry(i));
      without.applyEntry(i, entry(i));
    }
    expect(arenaOf(without).compactions).toBeGreaterThanOrEqual(3);
    // Before the hand-back every chunk in use at the snapshot stayed out of reuse for good: fresh pages instead.
    expect(arenaOf(withSnapshot).freshChunks - before[0]!).toBe(arenaOf(without).freshChunks - before[1]!);
  });
});
