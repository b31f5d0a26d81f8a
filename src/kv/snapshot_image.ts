import { Packr } from "msgpackr";
import { assert } from "../shared/assert.ts";
import { DedupTable } from "./dedup.ts";
import type { AuthImage } from "./auth_types.ts";
import type { LeaseRecord } from "./lessor.ts";
import type { AlarmMember } from "./mvcc_types.ts";
import { hashHex, pairHash } from "./hash.ts";
import { isQklzlError } from "../shared/errors.ts";
import { FrameCursor, ImageReader, ImageWriter, image_magic_v2, imageFail, imageVersion } from "./image_codec.ts";
import { compareKeys } from "./key_order.ts";
import { legacy_floor, legacyRevision } from "./legacy_era.ts";
import { MvccStore, type StoreImage, type StoreOptions, liveChain } from "./mvcc_store.ts";

const packr = new Packr({ useRecords: false });

/**
 * Image format v2: "QKV2", then frames [u32 BE length][msgpack]. Frame 0 is the header (a map); every other
 * frame is an array whose first item is a tag:
 * - KEYS: then per key (in key order) key, n, and n versions oldest first, each 7 items: create, mod, sub,
 *   version, lease, tombstone, value.
 * - DEDUP: then per entry request id, result (bin), oldest first.
 * - LEASES: then per lease id, TTL (seconds), by increasing id. Format 3 is format 2 with this section and a
 *   `leases` count in the header; it is written only when there are leases, so an image without any stays
 *   format 2, readable by binaries from before leases (which refuse a format 3 header rather than misread it).
 * - AUTH: then one item, the whole auth state (auth_types.ts AuthImage; users, roles, enabled, revision,
 *   secret). Format 4 is format 3 with this section and `auth: 1` in the header, written only once auth was
 *   used (so older binaries refuse such an image rather than lose the users; every earlier format still reads).
 * - ALARMS: then per raised alarm member id, type ("NOSPACE" | "CORRUPT"), by member. Format 5 is format 4 with
 *   this section and an `alarms` count in the header (`leases` always present, `auth` 0 or 1 saying whether the
 *   AUTH section follows); written only while an alarm is raised, so a cluster without alarms writes format 2,
 *   3 or 4 as before, and binaries from before alarms refuse a format 5 header rather than drop the alarms.
 * - Format 6 is format 5 (`leases`, `auth`, `alarms` always in the header) with `legacy: 1`: the state of the v1
 *   era (legacy_era.ts), written only before the first entry of today's kind settles that era. Every key then
 *   has one version at create = mod = the header's revision = its compacted revision = max(1, index), version 1,
 *   no lease; the reader checks that. Binaries from before it refuse the header rather than take the era's
 *   revisions for settled ones (replicas would differ again).
 * (v1, "QKV1": header {index, count, hash}, then frames [k, v, k, v…] of a plain map.)
 */
const keys_frame_tag = 1;
const dedup_frame_tag = 2;
const leases_frame_tag = 3;
const auth_frame_tag = 4;
const image_format_version = 2;
const image_format_version_leases = 3;
const image_format_version_auth = 4;
const alarms_frame_tag = 5;
const image_format_version_alarms = 5;
const image_format_version_legacy = 6;
const version_items = 7;

/** A slice ends after this many versions or bytes, so one frame stays far below the transport frame bound. */
const slice_versions_max = 4096;
const slice_bytes_max = 1024 * 1024;
/** Work done between two yields to the event loop while writing or reading an image. */
const burst_ms_max = 4;
/** writeImage reads the clock every 32 keys (a key with a full history window is ~10 versions, ~20 us). */
const keys_between_clock_checks_mask = 31;

interface HeaderV2 {
  format: number;
  index: number;
  revision: number;
  compacted: number;
  keys: number;
  versions: number;
  dedup: number;
  /** leases: absent in format 2 (no leases). */
  leases?: number;
  /** auth: 1 when the image holds an AUTH section (format 4 always, format 5 when auth was used), else 0 or absent. */
  auth?: number;
  /** alarms: format 5 and 6. */
  alarms?: number;
  /** legacy: 1 in format 6 (the v1 era's state), absent otherwise. */
  legacy?: number;
  hash: string;
}

export interface ImageSource {
  index: number;
  store: StoreImage;
  /** legacy: the v1 era's revision when the store is that era's (its floor records are written at it), else null. */
  legacy?: number | null;
  dedup: [string, Uint8Array][];
  leases: LeaseRecord[];
  alarms: AlarmMember[];
  /** auth: null while auth was never used. */
  auth: AuthImage | null;
  hash: string;
}

export interface RestoredImage {
  index: number;
  store: MvccStore;
  dedup: DedupTable;
  leases: LeaseRecord[];
  alarms: AlarmMember[];
  auth: AuthImage | null;
  /** hash the header promises for store + dedup (null for v1: its own hash was checked already). */
  hash: string | null;
  /** leasedKeys: the live keys with a lease, and that lease (see MvccStore.leasedKeys). */
  leasedKeys: [string, number][];
  /** legacy: the store is the v1 era's (a v1 image, or format 6): every key at the floor (legacy_era.ts). */
  legacy: boolean;
}

/** writeImage streams a v2 image of a fixed state. */
export async function writeImage(write: (chunk: Uint8Array) => Promise<void>, source: ImageSource): Promise<void> {
  const { store } = source;
  // The store counts its kept records as it goes: no pass over every chain before the first byte (at 10,000
  // keys with a full history window that pass alone stalled the event loop for 25-40 ms).
  const versions = store.versions;
  const withAlarms = source.alarms.length > 0;
  const withAuth = source.auth !== null;
  const legacy = source.legacy ?? null;
  if (legacy !== null) assert(legacy === legacyRevision(source.index) && store.revision === legacy_floor && store.compacted === legacy_floor, "kv: a v1 era image is at its floor");
  const header: HeaderV2 = {
    format:
      legacy !== null
        ? image_format_version_legacy
        : withAlarms
          ? image_format_version_alarms
          : withAuth
            ? image_format_version_auth
            : source.leases.length > 0
              ? image_format_version_leases
              : image_format_version,
    index: source.index,
    revision: legacy ?? store.revision,
    compacted: legacy ?? store.compacted,
    keys: store.keys.length,
    versions,
    dedup: source.dedup.length,
    ...(source.leases.length > 0 || withAuth || withAlarms || legacy !== null ? { leases: source.leases.length } : {}),
    ...(withAlarms || legacy !== null ? { auth: withAuth ? 1 : 0, alarms: source.alarms.length } : withAuth ? { auth: 1 } : {}),
    ...(legacy !== null ? { legacy: 1 } : {}),
    hash: source.hash,
  };
  const writer = new ImageWriter(write, image_magic_v2);
  writer.frame(packr.pack(header));
  const reader = store.reader;
  let written = 0;
  let burstStart = performance.now();
  let items = 0;
  let sliceVersions = 0;
  let bytes = 0;
  const pace = async () => {
    if (writer.full()) {
      await writer.flush();
      burstStart = performance.now();
    } else if (performance.now() - burstStart > burst_ms_max) {
      await yieldToLoop();
      burstStart = performance.now();
    }
  };
  writer.beginSlice();
  writer.uint(keys_frame_tag);
  items = 1;
  for (let i = 0; i < store.keys.length; i++) {
    // The time budget is checked every few keys, not only between slices (a slice of 4,096 versions took
    // 5-10 ms): the image is a fixed view, so yielding mid-slice is safe; only flushing must wait for its end.
    if ((i & keys_between_clock_checks_mask) === 0 && performance.now() - burstStart > burst_ms_max) {
      await yieldToLoop();
      burstStart = performance.now();
    }
    const chain = liveChain(reader, store.heads.get(store.keys[i]!)!, store.compacted);
    if (!(chain.length > 0)) assert(false, "kv: every key of an image has a kept version");
    bytes += writer.string(store.keys[i]!);
    writer.uint(chain.length);
    items += 2;
    for (let j = chain.length - 1; j >= 0; j--) {
      const loc = chain[j]!;
      const meta = reader.meta(loc);
      writer.uint(legacy ?? meta.create);
      writer.uint(legacy ?? meta.mod);
      writer.uint(meta.sub);
      writer.uint(meta.version);
      writer.uint(meta.lease);
      writer.bool(meta.tombstone);
      bytes += writer.bytes(reader.bytes(loc));
      items += version_items;
    }
    sliceVersions += chain.length;
    written += chain.length;
    if (sliceVersions >= slice_versions_max || bytes >= slice_bytes_max) {
      writer.endSlice(items);
      await pace();
      writer.beginSlice();
      writer.uint(keys_frame_tag);
      items = 1;
      sliceVersions = 0;
      bytes = 0;
    }
  }
  if (items > 1) writer.endSlice(items);
  else writer.dropSlice();
  assert(written === versions, "kv: the image holds the versions its header counts");
  for (let i = 0; i < source.dedup.length; i += slice_versions_max) {
    writer.beginSlice();
    writer.uint(dedup_frame_tag);
    const part = source.dedup.slice(i, i + slice_versions_max);
    for (const [id, result] of part) {
      writer.string(id);
      writer.bin(result);
    }
    writer.endSlice(1 + 2 * part.length);
    await pace();
  }
  for (let i = 0; i < source.leases.length; i += slice_versions_max) {
    writer.beginSlice();
    writer.uint(leases_frame_tag);
    const part = source.leases.slice(i, i + slice_versions_max);
    for (const lease of part) {
      writer.uint(lease.id);
      writer.uint(lease.ttl);
    }
    writer.endSlice(1 + 2 * part.length);
    await pace();
  }
  if (withAlarms) {
    writer.beginSlice();
    writer.uint(alarms_frame_tag);
    for (const alarm of source.alarms) {
      writer.uint(alarm.member_id);
      writer.string(alarm.alarm);
    }
    writer.endSlice(1 + 2 * source.alarms.length);
  }
  if (withAuth) writer.frame(packr.pack([auth_frame_tag, source.auth]));
  await writer.flush();
}

/** ImageSummary: what an image's header says (a v1 image has no revisions: its index stands in). */
export interface ImageSummary {
  format: number;
  index: number;
  revision: number;
  keys: number;
  hash: string;
}

/**
 * readImageSummary reads the header of an image from its first bytes (magic + header frame; a few hundred
 * bytes suffice), without parsing the rest: a backup names revision, keys and hash before its image streams.
 */
export function readImageSummary(prefix: Uint8Array): ImageSummary {
  const version = imageVersion(prefix);
  const reader = new ImageReader(prefix);
  const header = packr.unpack(reader.next() ?? imageFail("missing header")) as Partial<HeaderV2 & HeaderV1>;
  if (typeof header?.index !== "number" || typeof header.hash !== "string") imageFail("bad header");
  if (version === 1) return { format: 1, index: header.index, revision: Math.max(1, header.index), keys: header.count ?? 0, hash: header.hash };
  if (typeof header.revision !== "number" || typeof header.keys !== "number") imageFail("bad header");
  return { format: header.format ?? image_format_version, index: header.index, revision: header.revision, keys: header.keys, hash: header.hash };
}

/** readImage parses a v1 or v2 image into a fresh store and dedup table, checking every count. */
export async function readImage(image: Uint8Array, options: StoreOptions): Promise<RestoredImage> {
  return imageVersion(image) === 1 ? readV1(image, options) : readV2(image, options);
}

async function readV2(image: Uint8Array, options: StoreOptions): Promise<RestoredImage> {
  const reader = new ImageReader(image);
  const header = packr.unpack(reader.next() ?? imageFail("missing header")) as HeaderV2;
  for (const field of ["index", "revision", "compacted", "keys", "versions", "dedup"] as const) {
    if (!Number.isSafeInteger(header?.[field]) || header[field] < 0) imageFail(`bad header field ${field}`);
  }
  const format = header.format;
  const formats = [image_format_version, image_format_version_leases, image_format_version_auth, image_format_version_alarms, image_format_version_legacy];
  if (!formats.includes(format) || typeof header.hash !== "string") imageFail("bad header");
  const leasesExpected = format >= image_format_version_leases ? header.leases : 0;
  const authExpected = format >= image_format_version_auth ? header.auth : 0;
  if (authExpected !== 0 && authExpected !== 1) imageFail("bad header field auth");
  let auth: AuthImage | null = null;
  if (!Number.isSafeInteger(leasesExpected) || leasesExpected! < 0) imageFail("bad header field leases");
  const alarmsExpected = header.format >= image_format_version_alarms ? header.alarms : 0;
  if (!Number.isSafeInteger(alarmsExpected) || alarmsExpected! < 0) imageFail("bad header field alarms");
  if (header.compacted > header.revision || header.revision < 1) imageFail("bad header revisions");
  // legacyRev: the v1 era's revision of a format 6 image (0 otherwise); its records are stored at the floor.
  const legacyRev = format === image_format_version_legacy ? header.revision : 0;
  if (legacyRev !== 0 && (header.legacy !== 1 || header.compacted !== legacyRev || legacyRev !== legacyRevision(header.index))) {
    imageFail("bad header of a v1 era image");
  }
  // The header's key count sizes the key table; a key takes at least ~12 image bytes, which bounds a lying header.
  const expectedKeys = Math.min(header.keys, Math.floor(image.length / 12));
  const counters = legacyRev !== 0 ? { revision: legacy_floor, compacted: legacy_floor } : { revision: header.revision, compacted: header.compacted };
  const builder = MvccStore.builder(options, counters, expectedKeys);
  const dedup = new DedupTable();
  let keys = 0;
  let versions = 0;
  let dedupEntries = 0;
  const leases: LeaseRecord[] = [];
  const alarms: AlarmMember[] = [];
  let burstStart = performance.now();
  const whole = Buffer.from(image.buffer, image.byteOffset, image.length);
  // The previous key's bytes in the image: keys must come in strictly increasing byte (= code point) order.
  let prevKey: string | null = null;
  let prevAscii = false;
  let prevStart = -1;
  let prevEnd = -1;
  for (let frame = reader.next(); frame !== null; frame = reader.next()) {
    const start = frame.byteOffset - image.byteOffset;
    const cursor = new FrameCursor(whole, start, start + frame.length);
    const count = cursor.arrayHeader();
    if (count > 0 && cursor.peek() === keys_frame_tag) {
      // The hot path of a restart: straight from the image into the arena (see FrameCursor, StoreBuilder).
      cursor.uint();
      let left = count - 1;
      while (left > 0) {
        if (left < 2) imageFail("bad key entry");
        cursor.str();
        const keyStart = cursor.strStart;
        const keyEnd = cursor.strEnd;
        const key = cursor.text();
        const n = cursor.uint();
        left -= 2;
        if (key.length === 0 || n <= 0) imageFail("bad key entry");
        if (n * version_items > left) imageFail(`key ${JSON.stringify(key)} runs past its slice`);
        // UTF-16 order (JS <) is UTF-8 byte order unless both keys hold a surrogate at their first difference:
        // with an ASCII-only key (as many bytes as units) on either side, < decides; otherwise the bytes do.
        const ascii = keyEnd - keyStart === key.length;
        if (prevKey !== null) {
          const ordered = ascii || prevAscii ? prevKey < key : whole.compare(whole, prevStart, prevEnd, keyStart, keyEnd) > 0;
          if (!ordered) imageFail(`keys out of order at ${JSON.stringify(key)}`);
        }
        prevKey = key;
        prevAscii = ascii;
        prevStart = keyStart;
        prevEnd = keyEnd;
        try {
          builder.startKey(key);
          for (let v = 0; v < n; v++) {
            const create = cursor.uint();
            const mod = cursor.uint();
            const sub = cursor.uint();
            const version = cursor.uint();
            const lease = cursor.uint();
            const tombstone = cursor.bool();
            cursor.str();
            if (legacyRev === 0) {
              builder.version(create, mod, sub, version, lease, tombstone, whole, cursor.strStart, cursor.strEnd);
            } else {
              if (n !== 1 || create !== legacyRev || mod !== legacyRev || sub !== 0 || version !== 1 || lease !== 0 || tombstone) imageFail(`key ${JSON.stringify(key)} is not at the v1 era's revision`);
              builder.version(legacy_floor, legacy_floor, 0, 1, 0, false, whole, cursor.strStart, cursor.strEnd);
            }
          }
          builder.endKey();
        } catch (error) {
          if (isQklzlError(error)) throw error;
          imageFail(error instanceof Error ? error.message : String(error));
        }
        left -= n * version_items;
        keys++;
        versions += n;
      }
      if (!cursor.done) imageFail("bytes after the last item of a slice");
    } else {
      // Dedup and lease slices are few and small: msgpackr decodes them.
      const items = packr.unpack(frame) as unknown;
      if (!Array.isArray(items) || items.length === 0) imageFail("bad slice");
      if (items[0] === dedup_frame_tag) {
        if (items.length % 2 !== 1) imageFail("bad dedup slice");
        for (let i = 1; i < items.length; i += 2) {
          const id = items[i];
          const result = items[i + 1];
          if (typeof id !== "string" || !(result instanceof Uint8Array)) imageFail("bad dedup entry");
          dedup.remember(id, new Uint8Array(result));
          dedupEntries++;
        }
      } else if (items[0] === alarms_frame_tag && format >= image_format_version_alarms) {
        if (items.length % 2 !== 1) imageFail("bad alarms slice");
        for (let i = 1; i < items.length; i += 2) {
          const member = items[i];
          const type = items[i + 1];
          if (!Number.isSafeInteger(member) || member <= 0 || (type !== "NOSPACE" && type !== "CORRUPT")) imageFail("bad alarm entry");
          alarms.push({ member_id: member, alarm: type });
        }
      } else if (items[0] === auth_frame_tag && authExpected === 1 && auth === null) {
        if (items.length !== 2 || typeof items[1] !== "object" || items[1] === null) imageFail("bad auth section");
        auth = items[1] as AuthImage;
      } else if (items[0] === leases_frame_tag && header.format >= image_format_version_leases) {
        if (items.length % 2 !== 1) imageFail("bad leases slice");
        for (let i = 1; i < items.length; i += 2) {
          const id = items[i];
          const ttl = items[i + 1];
          if (!Number.isSafeInteger(id) || id <= 0 || !Number.isSafeInteger(ttl) || ttl <= 0) imageFail("bad lease entry");
          leases.push({ id, ttl });
        }
      } else {
        imageFail(`unknown slice tag ${String(items[0])}`);
      }
    }
    if (performance.now() - burstStart > burst_ms_max) {
      await yieldToLoop();
      burstStart = performance.now();
    }
  }
  if (keys !== header.keys) imageFail(`${keys} keys, header says ${header.keys}`);
  if (versions !== header.versions) imageFail(`${versions} versions, header says ${header.versions}`);
  if (dedupEntries !== header.dedup) imageFail(`${dedupEntries} dedup entries, header says ${header.dedup}`);
  if (leases.length !== leasesExpected) imageFail(`${leases.length} leases, header says ${leasesExpected}`);
  if (alarms.length !== alarmsExpected) imageFail(`${alarms.length} alarms, header says ${alarmsExpected}`);
  if ((auth === null) !== (authExpected === 0)) imageFail("the auth section the header promises is missing");
  return { index: header.index, store: builder.finish(), dedup, leases, alarms, auth, hash: header.hash, leasedKeys: builder.leasedKeys(), legacy: legacyRev !== 0 };
}

interface HeaderV1 {
  index: number;
  count: number;
  hash: string;
}

/**
 * readV1 migrates a plain map from before revisions into the v1 era's store (legacy_era.ts): every key at the
 * floor, shown at create = mod = the era's revision (the snapshot's index, at least 1), version 1, that
 * revision also the compacted one, so no history is invented.
 */
async function readV1(image: Uint8Array, options: StoreOptions): Promise<RestoredImage> {
  const reader = new ImageReader(image);
  const header = packr.unpack(reader.next() ?? imageFail("missing header")) as HeaderV1;
  if (typeof header?.count !== "number" || typeof header.index !== "number" || typeof header.hash !== "string") imageFail("bad header");
  const values = new Map<string, string>();
  let hash = 0n;
  let burstStart = performance.now();
  for (let frame = reader.next(); frame !== null; frame = reader.next()) {
    const pairs = packr.unpack(frame) as unknown;
    if (!Array.isArray(pairs) || pairs.length % 2 !== 0) imageFail("bad slice");
    for (let i = 0; i < pairs.length; i += 2) {
      const key = pairs[i] as unknown;
      const value = pairs[i + 1] as unknown;
      if (typeof key !== "string" || typeof value !== "string") imageFail("non-string pair");
      if (values.has(key)) imageFail("duplicate key");
      values.set(key, value);
      hash ^= pairHash(key, value);
    }
    if (performance.now() - burstStart > burst_ms_max) {
      await yieldToLoop();
      burstStart = performance.now();
    }
  }
  if (values.size !== header.count) imageFail(`${values.size} keys, header says ${header.count}`);
  if (hashHex(hash) !== header.hash) imageFail(`hash ${hashHex(hash)}, header says ${header.hash}`);
  const builder = MvccStore.builder(options, { revision: legacy_floor, compacted: legacy_floor }, values.size);
  const keys = Array.from(values.keys()).sort(compareKeys);
  for (const key of keys) {
    builder.add(key, [{ create: legacy_floor, mod: legacy_floor, sub: 0, version: 1, lease: 0, tombstone: false, value: values.get(key)! }]);
  }
  return { index: header.index, store: builder.finish(), dedup: new DedupTable(), leases: [], alarms: [], auth: null, hash: null, leasedKeys: [], legacy: true };
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
