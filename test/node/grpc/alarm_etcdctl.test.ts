import { describe, expect, test } from "bun:test";
import { etcdMemberId } from "../../../src/node/grpc/ids.ts";
import { oneNodeForEtcdctl } from "./etcdctl_node.ts";

// Maintenance.Alarm against the real etcdctl (Debian's etcd-client): `alarm list`, the NOSPACE error text etcd's
// clients recognise, and `alarm disarm` (a GET, then one DEACTIVATE per listed alarm).

const one = oneNodeForEtcdctl();
const { etcdctl, skip } = one;

/** run: etcdctl as a child process, awaited (the node serving it runs in this process: never spawnSync). */
async function run(...args: string[]): Promise<{ code: number; out: string }> {
  const child = Bun.spawn([etcdctl!, `--endpoints=${one.endpoint}`, "--command-timeout=5s", ...args], { env: { ...process.env, ETCDCTL_API: "3" }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, out: `${out}${err}` };
}

describe.skipIf(skip !== null)("etcdctl alarm", () => {
  test("alarm list shows NOSPACE; put fails with etcd's error; alarm disarm clears it and puts work again", async () => {
    expect((await run("alarm", "list")).out.trim()).toBe("");
    await one.cluster.node(1).api.alarms!.activate(1, "NOSPACE");
    const memberId = etcdMemberId(one.cluster.status(1).cluster_id, 1).toString();
    expect((await run("alarm", "list")).out).toContain(`memberID:${memberId} alarm:NOSPACE`);
    const refused = (await run("put", "k", "v"));
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain("etcdserver: mvcc: database space exceeded");
    expect((await run("get", "k")).code).toBe(0);
    const disarmed = (await run("alarm", "disarm"));
    expect(disarmed.code).toBe(0);
    expect(disarmed.out).toContain("alarm:NOSPACE");
    expect(one.cluster.node(1).api.alarms!.list()).toEqual([]);
    expect((await run("put", "k", "v")).code).toBe(0);
  }, 60_000);
});
