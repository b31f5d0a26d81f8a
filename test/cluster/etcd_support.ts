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
