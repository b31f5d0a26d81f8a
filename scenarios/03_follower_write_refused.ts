import { check, describeReply, errorCode } from "./harness.ts";
import { expectMissing } from "./expect.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// 3. 测试安全性: a write sent to a follower is refused with an error naming the leader, and changes nothing.

export const scenario: Scenario = {
  name: "03_follower_write_refused",
  title: "测试非领导者节点不能写入数据 (a follower refuses writes)",
  follows: "02_log_replication",
  timeoutMs: 60_000,
  async setup(ctx) {
    await freshCluster(ctx);
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    const follower = leaderId === 2 ? 3 : 2;
    const leaderAddr = cluster.node(leaderId).httpAddr;
    const before = await cluster.status(leaderId);
    check(before !== null, `leader ${leaderId} answers /status`);

    const reply = await cluster.put(follower, "key3", "value3");
    const what = `POST /kv key3 to follower ${follower}`;
    check(reply.status === 307, `${what}: expected HTTP 307, got ${describeReply(reply)}`);
    check(errorCode(reply) === "not_leader", `${what}: expected error "not_leader", got ${describeReply(reply)}`);
    check(reply.json?.leader_id === leaderId, `${what}: expected leader_id ${leaderId}, got ${describeReply(reply)}`);
    check(reply.json?.leader_http_addr === leaderAddr, `${what}: expected leader_http_addr ${leaderAddr}, got ${describeReply(reply)}`);
    const message = String(reply.json?.message ?? "");
    check(
      message.includes(`node ${leaderId}`) && message.includes(leaderAddr),
      `${what}: the message names the leader (node ${leaderId} at ${leaderAddr}); got ${JSON.stringify(message)}`,
    );
    check(reply.location === `http://${leaderAddr}/kv`, `${what}: expected Location http://${leaderAddr}/kv, got ${reply.location}`);

    // No effect: nothing was appended to the log, and key3 exists nowhere.
    const after = await cluster.status(leaderId);
    check(after !== null, `leader ${leaderId} answers /status`);
    check(
      after.last_log_index === before.last_log_index,
      `the refused write appended nothing: leader last_log_index ${before.last_log_index} -> ${after.last_log_index}`,
    );
    for (const id of [1, 2, 3]) await expectMissing(cluster, id, "key3");
  },
};
