import { describe, expect, test } from "bun:test";
import { Packr } from "msgpackr";
import { decodeEntry, encodeAuth, encodeRequest, KvStateMachine, type KvRequest, type KvResponse } from "../../src/kv/index.ts";

// Alarms as replicated state (issue 15, Guardrails): raised and disarmed through the log, refused writes
// decided at apply, and kept in snapshots (image format 5) without breaking the formats before it. Auth owns log entry v3 and
// image format 4 (main's numbering); alarms are entry v4 and image format 5, which carries the auth state too.

const packr = new Packr({ useRecords: false });

function applyAll(sm: KvStateMachine, requests: KvRequest[]): KvResponse[] {
  return requests.map((request) => sm.applyEntry(sm.appliedIndex + 1, encodeRequest(request)));
}

const raise = (member_id: number, alarm: "NOSPACE" | "CORRUPT"): KvRequest => ({ kind: "alarm", alarm: { action: "activate", member_id, alarm } });
const disarm = (member_id: number, alarm: "NOSPACE" | "CORRUPT"): KvRequest => ({ kind: "alarm", alarm: { action: "deactivate", member_id, alarm } });
const put = (key: string, value: string): KvRequest => ({ kind: "put", put: { key, value } });

describe("alarms in the state machine", () => {
  test("an alarm entry is format 4 and decodes back; a malformed one is corruption", () => {
    const bytes = encodeRequest(raise(2, "NOSPACE"));
    expect((packr.unpack(bytes) as { v: number }).v).toBe(4);
    expect(decodeEntry(bytes).request).toEqual(raise(2, "NOSPACE"));
    expect(() => decodeEntry(packr.pack({ v: 4, alarm: { action: "activate", member_id: 0, alarm: "NOSPACE" } }))).toThrow("not a valid alarm");
    expect(() => decodeEntry(packr.pack({ v: 4, alarm: { action: "activate", member_id: 1, alarm: "FULL" } }))).toThrow("not a valid alarm");
    // v3 is auth's (a caller and a request): an alarm in v3's place is refused, not read as one.
    expect(() => decodeEntry(packr.pack({ v: 3, alarm: { action: "activate", member_id: 1, alarm: "NOSPACE" } }))).toThrow("not a valid request");
  });

  test("NOSPACE refuses puts, txns with a put and lease grants; reads, deletes, compaction work; disarm recovers", () => {
    const sm = new KvStateMachine();
    applyAll(sm, [put("a", "1"), put("b", "2")]);
    const [raised] = applyAll(sm, [raise(1, "NOSPACE")]);
    expect(raised).toEqual({ kind: "alarm", alarm: { alarms: [{ member_id: 1, alarm: "NOSPACE" }] } });
    expect(sm.alarmList()).toEqual([{ member_id: 1, alarm: "NOSPACE" }]);
    const revision = sm.revision;
    const refused = applyAll(sm, [
      put("c", "3"),
      { kind: "txn", txn: { compare: [], success: [], failure: [{ put: { key: "d", value: "4" } }] } },
      { kind: "lease_grant", lease_grant: { id: 7, ttl: 10 } },
    ]);
    for (const response of refused) expect(response.kind === "error" && response.error.error).toBe("no_space");
    expect(sm.revision).toBe(revision);
    expect(sm.get("c")).toBeUndefined();
    const allowed = applyAll(sm, [
      { kind: "delete_range", delete_range: { key: "a" } },
      { kind: "compact", compact: { revision: sm.revision + 1 } },
      { kind: "txn", txn: { compare: [], success: [{ range: { key: "b" } }], failure: [] } },
    ]);
    for (const response of allowed) expect(response.kind).not.toBe("error");
    expect(sm.get("a")).toBeUndefined();
    expect(applyAll(sm, [disarm(0, "NOSPACE")])[0]).toEqual({ kind: "alarm", alarm: { alarms: [{ member_id: 1, alarm: "NOSPACE" }] } });
    expect(applyAll(sm, [put("c", "3")])[0]!.kind).toBe("put");
    expect(sm.get("c")).toBe("3");
  });

  test("CORRUPT refuses every write, deletes and compaction included", () => {
    const sm = new KvStateMachine();
    applyAll(sm, [put("a", "1"), raise(3, "CORRUPT")]);
    const refused = applyAll(sm, [put("b", "2"), { kind: "delete_range", delete_range: { key: "a" } }, { kind: "compact", compact: { revision: 1 } }]);
    for (const response of refused) expect(response.kind === "error" && response.error.error).toBe("corrupt");
    expect(refused[0]!.kind === "error" && refused[0]!.error.details).toEqual({ alarm: "CORRUPT", members: [3] });
    expect(sm.get("a")).toBe("1");
    applyAll(sm, [disarm(3, "CORRUPT")]);
    expect(applyAll(sm, [put("b", "2")])[0]!.kind).toBe("put");
  });

  test("alarms are in the hash and survive a snapshot (format 5); without alarms the image stays format 2", async () => {
    const sm = new KvStateMachine();
    applyAll(sm, [put("a", "1")]);
    const plain = (await sm.snapshot()).data;
    const before = sm.stats().hash;
    applyAll(sm, [raise(2, "NOSPACE"), raise(1, "CORRUPT")]);
    expect(sm.stats().hash).not.toBe(before);
    const image = (await sm.snapshot()).data;
    const header = (data: Uint8Array) => packr.unpack(data.subarray(8, 8 + new DataView(data.buffer, data.byteOffset + 4).getUint32(0))) as { format: number };
    expect(header(plain).format).toBe(2);
    expect(header(image).format).toBe(5);
    const restored = new KvStateMachine();
    await restored.restore(image);
    expect(restored.alarmList()).toEqual([{ member_id: 1, alarm: "CORRUPT" }, { member_id: 2, alarm: "NOSPACE" }]);
    expect(restored.stats().hash).toBe(sm.stats().hash);
    const old = new KvStateMachine();
    await old.restore(plain);
    expect(old.alarmList()).toEqual([]);
  });

  test("auth and alarms together: format 5 holds both, in the hash; disarmed, the image is auth's format 4 again", async () => {
    const header = (data: Uint8Array) => packr.unpack(data.subarray(8, 8 + new DataView(data.buffer, data.byteOffset + 4).getUint32(0))) as { format: number; auth?: number; alarms?: number };
    const sm = new KvStateMachine();
    let index = 0;
    sm.applyEntry(++index, encodeAuth({ op: "user_add", name: "root", password: "h" }, null));
    sm.applyEntry(++index, encodeAuth({ op: "user_grant", name: "root", role: "root" }, null));
    sm.applyEntry(++index, encodeAuth({ op: "enable", secret: "00ff" }, null));
    sm.applyEntry(++index, encodeRequest(put("a", "1"), undefined, { user: "root", revision: 0 }));
    const authOnly = (await sm.snapshot()).data;
    expect(header(authOnly).format).toBe(4);
    const authHash = sm.stats().hash;
    sm.applyEntry(++index, encodeRequest(raise(1, "NOSPACE")));
    const both = (await sm.snapshot()).data;
    expect(header(both)).toMatchObject({ format: 5, auth: 1, alarms: 1 });
    expect(sm.stats().hash).not.toBe(authHash);
    const restored = new KvStateMachine();
    await restored.restore(both);
    expect(restored.alarmList()).toEqual([{ member_id: 1, alarm: "NOSPACE" }]);
    expect(restored.authState.enabled).toBe(true);
    expect(restored.authState.image()).toEqual(sm.authState.image());
    expect(restored.stats().hash).toBe(sm.stats().hash);
    // Alarms without auth: format 5 with auth 0, restored with auth never used.
    const plain = new KvStateMachine();
    applyAll(plain, [put("a", "1"), raise(2, "CORRUPT")]);
    const alarmsOnly = (await plain.snapshot()).data;
    expect(header(alarmsOnly)).toMatchObject({ format: 5, auth: 0, alarms: 1 });
    const restoredPlain = new KvStateMachine();
    await restoredPlain.restore(alarmsOnly);
    expect(restoredPlain.authState.empty).toBe(true);
    expect(restoredPlain.stats().hash).toBe(plain.stats().hash);
    sm.applyEntry(++index, encodeRequest(disarm(1, "NOSPACE")));
    expect(header((await sm.snapshot()).data).format).toBe(4);
    // the alarm entries changed nothing else: with none raised the hash is the auth-only one again
    expect(sm.stats().hash).toBe(authHash);
  });
});
