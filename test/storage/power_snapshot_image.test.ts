// Power loss in the middle of a big snapshot image: an image is streamed to its file and fdatasynced every 4 MiB
// as it goes (snapshot_sync_as_written.test.ts), so a cut can find several MiB of it durable under its temporary
// name. Every cut, before every file mutation of a 9 MiB image's write (strict: only synced bytes; and torn: a
// prefix of the pending writes, the next one cut short), must reopen to the snapshot before it, whole, or the new
// one, whole; once the save has resolved, to the new one. Image syncs that lie (a planted bug) fail the check.
import { describe, expect, test } from "bun:test";
import { openStorage } from "../../src/storage/index.ts";
import { PowerFs, type PowerFsOptions, type PowerImage } from "./power_fs.ts";
import { meta, prng } from "./model_workload.ts";
import { quietWarnings, range, tempDirsPerTest } from "./helpers.ts";

quietWarnings();
const fresh = tempDirsPerTest("qklzl-power-image-");

const image_bytes = 9 * 1024 * 1024;
const piece_bytes = 512 * 1024;

function pattern(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) out.fill((i / 4096 + seed) & 0xff, i, Math.min(bytes, i + 4096));
  return out;
}

/** cutAll runs `during` and takes two images before every file mutation (strict and torn) and one at the end. */
async function cutAll(files: PowerFs, during: () => Promise<void>): Promise<{ images: PowerImage[]; final: PowerImage }> {
  const images: PowerImage[] = [];
  let n = 0;
  files.options.onMutation = () => {
    n++;
    images.push(files.cut({ rand: prng(n), strict: true }));
    images.push(files.cut({ rand: prng(1000 + n), strict: false }));
  };
  try {
    await during();
  } finally {
    files.options.onMutation = undefined;
  }
  return { images, final: files.cut({ rand: prng(0), strict: true }) };
}

/** partialImageBytes: the largest file in the image's snap/ that is not a published snapshot (a temporary image). */
function partialImageBytes(image: PowerImage): number {
  const snap = image.get("snap");
  if (!(snap instanceof Map)) return 0;
  let most = 0;
  for (const [name, file] of snap) if (!name.endsWith(".snap") && file instanceof Uint8Array) most = Math.max(most, file.length);
  return most;
}

/** problems: what is wrong with each image (empty when every cut reopens to one of the two snapshots, whole). */
async function problems(options: PowerFsOptions, plant?: "image syncs lie"): Promise<{ cuts: number; found: string[]; partialMax: number }> {
  const dir = fresh();
  const files = new PowerFs(dir, options);
  if (plant === "image syncs lie") {
    // The planted bug: the snapshot store's syncs of its image files report success and make nothing durable.
    const open = files.openForWrite.bind(files);
    files.openForWrite = async (file: string) => {
      const handle = await open(file);
      if (!file.includes("/snap/")) return handle;
      return { write: (buf: Uint8Array, position: number) => handle.write(buf, position), sync: async () => {}, close: () => handle.close() };
    };
  }
  const s = await openStorage({ dir, nodeId: 1, segmentBytes: 1 << 20, files });
  await s.log.save(range(1, 40, 1), { term: 1, vote: 1, commit: 40 });
  const before = meta(20, 1);
  const beforeImage = pattern(64 * 1024, 7);
  await s.snapshots.save(before, beforeImage);
  const after = meta(40, 1);
  const afterImage = pattern(image_bytes, 99);
  const { images, final } = await cutAll(files, () =>
    s.snapshots.saveFrom(after, async (out) => {
      for (let at = 0; at < afterImage.length; at += piece_bytes) await out.write(afterImage.subarray(at, at + piece_bytes));
    }),
  );
  await s.close();
  const found: string[] = [];
  const check = async (i: number, image: PowerImage, mustBeNew: boolean) => {
    const reopen = fresh();
    const r = await openStorage({ dir: reopen, nodeId: 1, segmentBytes: 1 << 20, files: PowerFs.fromImage(reopen, image) });
    try {
      const latest = await r.snapshots.loadLatest();
      const index = latest?.meta.index ?? null;
      const data = latest === null ? null : Buffer.from(latest.data);
      if (index === after.index && data !== null && data.equals(Buffer.from(afterImage))) return;
      if (mustBeNew) found.push(`cut ${i}: the save resolved, yet the latest snapshot is ${index}`);
      else if (index !== before.index || data === null || !data.equals(Buffer.from(beforeImage))) found.push(`cut ${i}: latest snapshot ${index} is neither image whole`);
    } finally {
      await r.close();
    }
  };
  for (const [i, image] of images.entries()) await check(i, image, false);
  await check(images.length, final, true);
  return { cuts: images.length + 1, found, partialMax: Math.max(...images.map(partialImageBytes)) };
}

describe("power loss in the middle of a big snapshot image", () => {
  test("every cut of a 9 MiB image's streamed write reopens to the previous snapshot or the new one, each whole", async () => {
    const { cuts, found, partialMax } = await problems({});
    // 18 pieces, two syncs on the way (at 4 and 8 MiB), the last one, the rename, the directory's sync: two images each.
    expect(cuts).toBeGreaterThan(40);
    // Some cuts found more than 4 MiB of the new image durable under its temporary name.
    expect(partialMax).toBeGreaterThan(4 * 1024 * 1024);
    expect(found).toEqual([]);
  }, 60_000);

  test("the check catches image syncs that lie (the resolved save's image is not there after a cut)", async () => {
    const { found } = await problems({}, "image syncs lie");
    expect(found.some((f) => f.includes("the save resolved"))).toBe(true);
  }, 60_000);
});
