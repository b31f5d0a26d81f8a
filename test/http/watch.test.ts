// GET /watch over a real Bun.serve: the SSE shape (created, one message per revision with id = revision,
// progress, cancel), Last-Event-ID resuming, bad queries, the stream limit and the cleanup on disconnect.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createConsola } from "consola";
import { SseParser, type SseMessage } from "../../src/cli/watch_client.ts";
import { KvStateMachine } from "../../src/kv/index.ts";
import { WatchHub } from "../../src/kv/watch_hub.ts";
import { waitFor } from "../../src/cli/launcher/wait.ts";
import type { NodeApi } from "../../src/node/api.ts";
import { WatchService } from "../../src/node/watch/watch_service.ts";
import { postJson, startTestNode, type TestNode } from "./fake_api.ts";

let node: TestNode;
let sm: KvStateMachine;
let service: WatchService;
let index = 0;
const barriers: string[] = [];

beforeAll(() => {
  node = startTestNode(1);
  sm = new KvStateMachine({ retentionRevisions: 0 });
  service = new WatchService(new WatchHub(sm), {
    streamsMax: 3,
    barrier: async (key) => {
      barriers.push(key);
    },
    logger: createConsola({ level: 0 }),
  });
  (node.api as NodeApi).watches = service; // the fake node has no store; this one watches `sm`
});
afterAll(() => node.server.stop());

function put(key: string, value: string): void {
  sm.apply(++index, { op: "put", key, value });
}

/** Stream: an open GET /watch whose messages are collected as they arrive. */
interface Stream {
  messages: SseMessage[];
  raw: string;
  close(): void;
  ended: Promise<void>;
}

async function open(query: string, headers: Record<string, string> = {}): Promise<Stream> {
  const aborter = new AbortController();
  const response = await fetch(`${node.base}/watch?${query}`, { signal: aborter.signal, headers });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/event-stream");
  const stream: Stream = { messages: [], raw: "", close: () => aborter.abort(), ended: Promise.resolve() };
  const parser = new SseParser();
  stream.ended = (async () => {
    try {
      for await (const chunk of response.body!) {
        stream.raw += new TextDecoder().decode(chunk);
        stream.messages.push(...parser.push(chunk));
      }
    } catch {
      // aborted by close()
    }
  })();
  return stream;
}

const dataOf = (m: SseMessage) => JSON.parse(m.data) as Record<string, unknown>;

describe("GET /watch", () => {
  test("created, then one message per revision (id = revision, a txn's events in one), progress on request, Last-Event-ID resumes", async () => {
    put("w/a", "1");
    const first = sm.revision;
    const stream = await open(`prefix=w/&start_revision=${first}&prev_kv=true`);
    expect(barriers.at(-1)).toBe("w/"); // the read barrier ran before the watch started
    put("w/a", "2");
    sm.applyRequest(++index, {
      kind: "txn",
      txn: { compare: [], success: [{ put: { key: "w/b", value: "x" } }, { delete_range: { key: "w/a" } }], failure: [] },
    });
    put("other", "not in the prefix");
    await waitFor(() => stream.messages.filter((m) => m.id !== null).length >= 3, { deadlineMs: 5_000, what: "3 revisions" });
    const [created, ...events] = stream.messages;
    expect(created!.event).toBe("created");
    expect(dataOf(created!)).toMatchObject({ start_revision: first });
    expect(events.map((m) => m.id)).toEqual([`${first}`, `${first + 1}`, `${first + 2}`]);
    const txn = dataOf(events[2]!) as { revision: number; events: Array<{ type: string; kv: { key: string }; prev_kv?: { value: string }; revision: number }> };
    expect(txn.events.map((e) => `${e.type} ${e.kv.key} ${e.revision}`)).toEqual([`put w/b ${first + 2}`, `delete w/a ${first + 2}`]);
    expect(txn.events[1]!.prev_kv!.value).toBe("2");

    const watchId = dataOf(created!).watch_id as number;
    expect((await postJson(`${node.base}/watch/progress`, { watch_id: watchId })).status).toBe(200);
    await waitFor(() => stream.messages.some((m) => m.event === "progress"), { deadlineMs: 5_000, what: "a progress message" });
    const progress = stream.messages.find((m) => m.event === "progress")!;
    expect(progress.id).toBe(`${sm.revision}`);
    stream.close();

    // An EventSource reconnecting sends Last-Event-ID: the watch resumes right after it, whatever the URL says.
    const resumed = await open(`prefix=w/&start_revision=${first}`, { "last-event-id": `${first + 1}` });
    await waitFor(() => resumed.messages.some((m) => m.id !== null), { deadlineMs: 5_000, what: "the resumed revision" });
    expect(resumed.messages.filter((m) => m.id !== null).map((m) => m.id)).toEqual([`${first + 2}`]);
    resumed.close();
  });

  test("a start below the compacted revision is cancelled with compact_revision, and the stream ends", async () => {
    put("c", "1");
    put("c", "2");
    sm.applyRequest(++index, { kind: "compact", compact: { revision: sm.revision - 1 } });
    const stream = await open("key=c&start_revision=1");
    await stream.ended;
    const cancel = stream.messages.at(-1)!;
    expect(cancel.event).toBe("cancel");
    expect(dataOf(cancel)).toMatchObject({ error: "compacted", compact_revision: sm.compactedRevision });
  });

  test("bad queries are 400 JSON and start nothing", async () => {
    for (const query of ["", "key=a&prefix=b", "key=a&bogus=1", "key=a&start_revision=-1", "key=a&filter=nope", "prefix=a&range_end=b", "key=a&key=b", "key=a&prev_kv=maybe"]) {
      const response = await fetch(`${node.base}/watch?${query}`);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe("bad_request");
    }
    expect(service.size).toBe(0);
  });

  test("at most streamsMax watches; a client that disconnects frees its slot", async () => {
    const streams = [await open("key=x"), await open("key=y"), await open("prefix=z")];
    expect(service.size).toBe(3);
    const refused = await fetch(`${node.base}/watch?key=q`);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: string }).error).toBe("too_many_watches");
    streams[0]!.close();
    await waitFor(() => service.size === 2, { deadlineMs: 5_000, what: "the closed stream's watch released" });
    const again = await open("key=q");
    expect(service.size).toBe(3);
    for (const s of [...streams, again]) s.close();
    await waitFor(() => service.size === 0, { deadlineMs: 5_000, what: "every watch released" });
  });

  test("progress_notify: an idle watch gets a progress header with the current revision", async () => {
    const stream = await open("key=quiet&progress_notify=true");
    put("loud", "1"); // another key: nothing for this watch, but the revision moves
    await waitFor(() => stream.messages.some((m) => m.event === "progress"), { deadlineMs: 10_000, what: "a periodic progress message" });
    expect(stream.messages.find((m) => m.event === "progress")!.id).toBe(`${sm.revision}`);
    stream.close();
    await waitFor(() => service.size === 0, { deadlineMs: 5_000, what: "the watch released" });
  }, 15_000);

  test("an idle stream sends heartbeat comments; closing the node cancels its watches with shutting_down", async () => {
    const stream = await open("key=idle");
    await waitFor(() => stream.raw.includes(": heartbeat"), { deadlineMs: 6_000, what: "a heartbeat" });
    service.closeAll("shutting_down", "the node stops");
    await stream.ended;
    expect(stream.messages.at(-1)!.event).toBe("cancel");
    expect(dataOf(stream.messages.at(-1)!)).toMatchObject({ error: "shutting_down" });
    expect(service.size).toBe(0);
    const refused = await fetch(`${node.base}/watch?key=idle`);
    expect(refused.status).toBe(503);
  });
});
