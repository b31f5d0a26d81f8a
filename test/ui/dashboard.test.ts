// The dashboard (GET /ui) in a real browser against a 3-node cluster of bin/qklzl: opened on a follower it shows
// the three members with the right leader and the fault tolerance; killing the leader turns its card red and
// shows the new leader; killing the page's own node makes it switch to another member and say so. The KV
// browser and live mode are checked against the range and watch APIs where the node serves them, and their
// "not available on this node" fallback where it does not.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Cluster, fastFlags } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { type Browser, findChromium, openBrowser, openPage, type Page, screenshot } from "./browser.ts";

// The callbacks given to page.$eval / waitForFunction run in the browser; this project type-checks without the
// DOM library (it clashes with bun-types), so the two browser globals they use are declared here, for this file.
declare const document: any;
declare function getComputedStyle(element: unknown): { borderTopColor: string };

const chromium = findChromium();
if (chromium === null) {
  console.log("test/ui/dashboard.test.ts: SKIPPED: no chromium (looked at $CHROMIUM, /usr/bin/chromium); apt-get install -y chromium");
}

/** election_ms: fastFlags' election timeout; the page polls /status once a second. */
const election_ms = 500;

async function cardRole(page: Page, id: number): Promise<string | null> {
  return page.$eval(`.card[data-id="${id}"]`, (el) => el.getAttribute("data-role")).catch(() => null);
}

/** probe: does this node serve the API at path (range: a 200 with kvs; watch: a 200 event stream)? */
async function probe(addr: string, path: string): Promise<boolean> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 3000);
  try {
    const response = await fetch(`http://${addr}${path}`, { signal: controller.signal });
    if (response.status !== 200) return false;
    if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) return true;
    const body = (await response.json()) as { kvs?: unknown };
    return Array.isArray(body.kvs);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

describe.skipIf(chromium === null)("the dashboard in chromium", () => {
  const cluster = formedForThisFile(new Cluster({ extraArgs: fastFlags, name: "qklzl-ui" }), { timeoutMs: 60_000 });
  let browser: Browser;
  let page: Page;
  let leader = 0;
  let served = 0;

  beforeAll(async () => {
    browser = await openBrowser(chromium!);
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
  });

  test("opened on a follower: three members, the right leader, the fault tolerance", async () => {
    const view = await cluster.waitForLeader({ deadlineMs: 15_000 });
    leader = view.leaderId;
    await cluster.waitForVoters(leader, [1, 2, 3]);
    served = [1, 2, 3].find((id) => id !== leader)!;
    // A browser asking for / lands on the page.
    page = await openPage(browser, `http://${cluster.node(served).httpAddr}/`);
    expect(page.url()).toBe(`http://${cluster.node(served).httpAddr}/ui`);
    await page.waitForFunction(() => document.querySelectorAll('.card[data-up="true"]').length === 3, { timeout: 10_000 });
    expect(await page.$$eval(".card", (cards) => cards.map((c) => Number(c.getAttribute("data-id"))))).toEqual([1, 2, 3]);
    expect(await cardRole(page, leader)).toBe("leader");
    for (const id of [1, 2, 3].filter((i) => i !== leader)) expect(await cardRole(page, id)).toBe("follower");
    // Three voters all up: one may fail.
    await page.waitForFunction(() => document.getElementById("fault-tolerance")?.textContent === "1", { timeout: 5000 });
    expect(await page.$eval("#tolerance-box", (el) => el.classList.contains("zero"))).toBe(false);
    expect(await page.$eval("#source", (el) => el.textContent)).toContain(`node ${served}`);
  }, 40_000);

  test("the charts follow the members' /metrics: writes made through the API show as writes/s", async () => {
    const until = Date.now() + 5000;
    for (let i = 0; Date.now() < until; i++) {
      expect((await cluster.put(leader, `ui-chart-${i % 20}`, `value ${i}`)).status).toBe(200);
      await cluster.get(served, `ui-chart-${i % 20}`);
    }
    await page.waitForFunction(
      () => {
        const text = document.getElementById("now-puts")?.textContent ?? "";
        return text !== "–" && Number.parseFloat(text) > 0;
      },
      { timeout: 6000 },
    ).catch(async (error) => {
      throw new Error(`writes/s never rose above 0 (shows ${await page.$eval("#now-puts", (el) => el.textContent)})`, { cause: error });
    });
  }, 30_000);

  test("the KV browser lists a prefix page by page and shows a key (range API), or says it is not available", async () => {
    const addr = cluster.node(served).httpAddr;
    for (const key of ["ui-kv-a", "ui-kv-b", "ui-kv-c"]) expect((await cluster.put(leader, key, `value of ${key}`)).status).toBe(200);
    const ranges = await probe(addr, "/kv?prefix=ui-kv-&limit=1");
    await page.$eval("#kv-prefix", (el) => ((el as unknown as { value: string }).value = "ui-kv-"));
    await page.$eval("#kv-limit", (el) => ((el as unknown as { value: string }).value = "2"));
    await page.click("#kv-list");
    if (!ranges) {
      console.log(`test/ui/dashboard.test.ts: range API not served by node ${served}: KV browser listing assertions SKIPPED; checking its fallback message`);
      await page.waitForFunction(() => document.getElementById("kv-status")?.textContent?.includes("range API not available on this node"), {
        timeout: 5000,
      });
      return;
    }
    await page.waitForFunction(() => document.querySelectorAll("#kv-table tbody tr").length === 2, { timeout: 5000 });
    expect(await page.$eval("#kv-more", (el) => (el as unknown as { disabled: boolean }).disabled)).toBe(false);
    await page.click("#kv-more");
    await page.waitForFunction(() => document.querySelectorAll("#kv-table tbody tr").length === 3, { timeout: 5000 });
    expect(await page.$$eval("#kv-table tbody tr", (rows) => rows.map((r) => r.getAttribute("data-key")))).toEqual(["ui-kv-a", "ui-kv-b", "ui-kv-c"]);
    await page.click('#kv-table tbody tr[data-key="ui-kv-b"]');
    await page.waitForFunction(() => document.getElementById("kv-detail")?.textContent?.includes("value of ui-kv-b"), { timeout: 5000 });
    expect(await page.$eval("#kv-detail", (el) => el.textContent)).toMatch(/modified at \d+ · version 1/);
  }, 30_000);

  test("live mode: a put made through the API appears within a second (watch API), or it says it is not available", async () => {
    const addr = cluster.node(served).httpAddr;
    const watches = await probe(addr, "/watch?prefix=ui-kv-");
    await page.click("#kv-follow");
    if (!watches) {
      console.log(`test/ui/dashboard.test.ts: watch API not served by node ${served}: live-mode assertions SKIPPED; checking its fallback message`);
      await page.waitForFunction(() => document.getElementById("live-status")?.textContent?.includes("watch API not available on this node"), {
        timeout: 5000,
      });
      await page.click("#kv-follow");
      return;
    }
    await page.waitForFunction(() => document.getElementById("live-status")?.textContent?.startsWith("live:"), { timeout: 5000 });
    expect((await cluster.put(leader, "ui-kv-live", "arrived")).status).toBe(200);
    await page.waitForFunction(() => document.querySelector('#live-feed li[data-key="ui-kv-live"]')?.textContent?.includes("arrived"), {
      timeout: 1000,
    });
  }, 30_000);

  test("killing the leader turns its card red and shows the new leader within a few election timeouts", async () => {
    const old = leader;
    await cluster.kill9(old);
    const killedAt = Date.now();
    // The page polls /status each second; a new leader needs an election timeout or two, so allow ten.
    await page.waitForFunction(
      (oldId: number) => {
        const oldCard = document.querySelector(`.card[data-id="${oldId}"]`);
        const leaders = [...document.querySelectorAll('.card[data-role="leader"]')];
        return oldCard?.getAttribute("data-up") === "false" && oldCard.classList.contains("down") && leaders.length === 1;
      },
      { timeout: 10 * election_ms + 2000 },
      old,
    );
    const shownAfterMs = Date.now() - killedAt;
    const view = await cluster.waitForLeader({ among: [1, 2, 3].filter((id) => id !== old), deadlineMs: 5000 });
    leader = view.leaderId;
    expect(await cardRole(page, old)).toBe("down");
    expect(await cardRole(page, leader)).toBe("leader");
    // The down card is drawn red: its border is the "bad" colour.
    expect(await page.$eval(`.card[data-id="${old}"]`, (el) => getComputedStyle(el).borderTopColor)).toBe("rgb(248, 81, 73)");
    // Two of three voters left: the next failure stops writes, drawn red.
    await page.waitForFunction(() => document.getElementById("fault-tolerance")?.textContent === "0", { timeout: 5000 });
    expect(await page.$eval("#tolerance-box", (el) => el.classList.contains("zero"))).toBe(true);
    const feed = await page.$eval("#events", (el) => el.textContent ?? "");
    expect(feed).toContain(`node ${old} (${cluster.node(old).httpAddr}) stopped answering`);
    expect(feed).toContain(`leader: node ${leader}`);
    console.log(`test/ui/dashboard.test.ts: the page showed node ${old} down and node ${leader} leading ${shownAfterMs} ms after the kill`);
    // One more /metrics sample (every 2 s), so the picture's charts count the election just seen.
    await Bun.sleep(2500);
    const saved = await screenshot(page, join(cluster.root, "dashboard.png"));
    console.log(`test/ui/dashboard.test.ts: screenshot written to ${saved}`);
  }, 30_000);

  test("when the page's own node dies it switches to another member and says so", async () => {
    const other = [1, 2, 3].find((id) => id !== served && cluster.isRunning(id))!;
    await cluster.kill9(served);
    await page.waitForFunction(
      (otherId: number) => document.getElementById("banner")?.hidden === false && document.getElementById("banner")?.textContent?.includes(`switched to node ${otherId}`),
      { timeout: 5000 },
      other,
    );
    expect(await page.$eval("#source", (el) => el.textContent)).toContain(`node ${other}`);
    expect(await cardRole(page, served)).toBe("down");
    expect(await page.$eval(`.card[data-id="${other}"]`, (el) => el.getAttribute("data-up"))).toBe("true");
  }, 20_000);
});
