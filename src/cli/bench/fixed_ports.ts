// Fixed loopback ports for a bench's 3-node qklzl cluster, from the environment as ../shared/bench/compare.sh
// reads them (node i gets base + i - 1): QKLZL_HTTP_BASE, QKLZL_RAFT_BASE, and QKLZL_GRPC_BASE for the gRPC
// endpoints. Several benches share a machine, each in its own port range; free ports picked at random (ports.ts)
// could land in another's range. Unset: free ports as before.
import { freePort } from "../launcher/index.ts";

function base(name: string): number | null {
  const text = process.env[name];
  if (text === undefined || text === "") return null;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1024 || value > 65_000) throw new Error(`${name}=${text} is not a port`);
  return value;
}

export interface BenchAddrs {
  /** addrs: for the Launcher's `addrs` option (undefined: it picks free ports). */
  addrs: ((id: number) => { raftAddr: string; httpAddr: string }) | undefined;
  /** grpc: node id → its gRPC endpoint "host:port". */
  grpc: Map<number, string>;
}

export function benchAddrs(ids: readonly number[] = [1, 2, 3]): BenchAddrs {
  const http = base("QKLZL_HTTP_BASE");
  const raft = base("QKLZL_RAFT_BASE");
  const grpc = base("QKLZL_GRPC_BASE");
  if ((http === null) !== (raft === null)) throw new Error("set both QKLZL_HTTP_BASE and QKLZL_RAFT_BASE, or neither");
  const at = (b: number, id: number) => `127.0.0.1:${b + id - 1}`;
  return {
    addrs: http === null || raft === null ? undefined : (id) => ({ raftAddr: at(raft, id), httpAddr: at(http, id) }),
    grpc: new Map(ids.map((id) => [id, grpc === null ? `127.0.0.1:${freePort()}` : at(grpc, id)])),
  };
}
