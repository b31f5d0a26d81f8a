import { afterAll } from "bun:test";
import { Etcd3 } from "etcd3";
import { Cluster, type ClusterOptions, freePort, type NodeHandle, type StartMode } from "../../scenarios/harness.ts";

/**
 * EtcdCluster: the harness's cluster of bin/qklzl processes with the etcd gRPC endpoint on: every node also
 * gets `-grpc-addr 127.0.0.1:<free port>` (fixed per id, so restarts keep it).
 */
export class EtcdCluster extends Cluster {
  readonly grpcAddrs = new Map<number, string>();

  constructor(options: ClusterOptions = {}) {
    super(options);
    for (const id of this.nodes.keys()) this.grpcAddrs.set(id, `127.0.0.1:${freePort()}`);
  }

  grpcAddr(id: number): string {
    return this.grpcAddrs.get(id)!;
  }

  override start(id: number, mode: StartMode = {}): Promise<NodeHandle> {
    return super.start(id, { ...mode, extraArgs: [...(mode.extraArgs ?? []), "-grpc-addr", this.grpcAddr(id)] });
  }
}

/**
 * etcd3ClientsFor: a maker of `etcd3` clients over the given members of `cluster` (all three by default), every
 * one closed after the file. Hosts carry no "http://" (BUN-NOTES §9: Bun's HTTP/2 server resets streams whose
 * :authority carries a scheme).
 */
export function etcd3ClientsFor(cluster: EtcdCluster): (ids?: number[]) => Etcd3 {
  const clients: Etcd3[] = [];
  afterAll(() => {
    for (const c of clients) c.close();
  });
  return (ids = [1, 2, 3]) => {
    const c = new Etcd3({ hosts: ids.map((id) => cluster.grpcAddr(id)), dialTimeout: 5_000 });
    clients.push(c);
    return c;
  };
}

/** followersOf: the two members that do not lead, once a leader is known. */
export async function followersOf(cluster: EtcdCluster): Promise<number[]> {
  const view = await cluster.waitForLeader({ deadlineMs: 15_000 });
  return [1, 2, 3].filter((id) => id !== view.leaderId);
}
