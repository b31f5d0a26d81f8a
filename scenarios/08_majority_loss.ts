import { check, describeReply, errorCode } from "./harness.ts";
import { seconds } from "./expect.ts";
import { scenario as partition } from "./07_partition_one_node.ts";
import { after, clusterOf, type Scenario } from "./scenario.ts";

// 8. 测试多数节点故障: with nodes 2 and 3 down, a write to node 1 fails within a bounded time with a clear error
// (no_quorum, no_leader or timeout) and node 1 keeps running.

/** A write must be answered within the node's request deadline (5 s by default) plus slack. */
const answerWithinMs = 8_000;
const clearCodes = new Map([["no_quorum", 503], ["no_leader", 503], ["timeout", 504]]);

export const scenario: Scenario = {
  name: "08_majority_loss",
  title: "测试多数节点故障 (majority loss)",
  follows: "07_partition_one_node",
  timeoutMs: 120_000,
  setup: after(partition),
  async run(ctx) {
    const cluster = clusterOf(ctx);
    check(!cluster.isRunning(3), "node 3 is down before majority loss");
    await cluster.stop(2);
    const started = performance.now();
    // A refusal that points at a node that was just stopped (307 to a dead leader) is not the clear error the
    // document asks for, but it is not a wrong answer either: note it and ask again, as a client would.
    for (let attempt = 1; ; attempt++) {
      const reply = await cluster.put(1, "key5", "value5", answerWithinMs + 4_000);
      const what = `POST /kv key5 to node 1 (attempt ${attempt})`;
      check(reply.status !== 200, `${what} must fail without a majority, got ${describeReply(reply)}`);
      check(reply.status !== 0, `${what}: expected an answer within ${seconds(answerWithinMs)}, got ${describeReply(reply)}`);
      check(reply.elapsedMs <= answerWithinMs, `${what}: answered after ${seconds(reply.elapsedMs)}, expected within ${seconds(answerWithinMs)}`);
      const code = errorCode(reply);
      if (code === "not_leader" && performance.now() - started < 15_000) {
        ctx.notes.push(`${what}: ${describeReply(reply)} (leader hint names a stopped node; retried)`);
        await Bun.sleep(200);
        continue;
      }
      check(
        code !== null && clearCodes.get(code) === reply.status,
        `${what}: expected 503 no_quorum, 503 no_leader or 504 timeout, got ${describeReply(reply)}`,
      );
      ctx.notes.push(`write refused with ${reply.status} ${code} after ${seconds(reply.elapsedMs)}`);
      break;
    }
    check(cluster.isRunning(1), `node 1 keeps running (${cluster.describeExit(1)})`);
    const status = await cluster.status(1);
    check(status !== null, "node 1 still answers GET /status");
  },
};
