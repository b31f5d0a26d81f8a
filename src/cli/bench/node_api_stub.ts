// A NodeApi stub for benchmarks of the gRPC endpoint without Raft, storage or other processes
// (scripts/ab_grpc_inproc.ts put-node, scripts/bench_grpc_put_path.ts): a leader's surface as the endpoint uses
// it, answering puts as the runtime does, a promise per proposal resolved for all of a turn's proposals in one
// later pass (the applier's, src/node/proposals.ts), status() a fresh 3-member object each call.
import { isUtf8 } from "node:buffer";

/** nodeApiStub: the NodeApi surface the endpoint uses on a leader, answering puts as the runtime would (see above). */
export function nodeApiStub() {
  let revision = 1;
  let index = 100;
  let pending: Array<() => void> = [];
  const applyPass = () => {
    const batch = pending;
    pending = [];
    for (const apply of batch) apply();
  };
  const member = (id: number) => ({ id, raft_addr: `127.0.0.1:${7000 + id}`, http_addr: `127.0.0.1:${8000 + id}`, role: "voter", match_index: index });
  return {
    auth: { enabled: () => false },
    status: () => ({
      id: 1, state: "leader", is_leader: true, leader_id: 1, leader_http_addr: "127.0.0.1:8001", term: 2, commit_index: index, applied_index: index,
      last_log_index: index, snapshot_index: 0, first_index: 1, raft_addr: "127.0.0.1:7001", http_addr: "127.0.0.1:8001",
      members: [member(1), member(2), member(3)], cluster_id: "4242424242424242", kv_hash: "0123456789abcdef", kv_hash_index: index, kv_keys: 10_000,
      kv_revision: revision, kv_compact_revision: 0, snapshots_installed: 0, torn_tail_bytes: 0,
    }),
    headerFacts: () => ({ cluster_id: "4242424242424242", node_id: 1, raft_term: 2 }),
    storeStats: () => ({ revision, compact_revision: 0, bytes: 1 << 20, hash: "0123456789abcdef" }),
    kvRequest: async (request: { kind: string }) => {
      if (request.kind !== "put") throw new Error(`the stub answers puts only, not ${request.kind}`);
      return await applied();
    },
    putBytes: async (key: string, value: Uint8Array) => {
      if (key === "" || !isUtf8(value)) throw new Error("the stub takes UTF-8 puts only");
      return await applied();
    },
  };
  function applied(): Promise<unknown> {
    return new Promise((resolve) => {
      const at = ++index;
      if (pending.length === 0) setImmediate(applyPass);
      pending.push(() => resolve({ index: at, response: { kind: "put", put: { revision: ++revision } } }));
    });
  }
}
