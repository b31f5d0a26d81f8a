import { afterAll, beforeAll } from "bun:test";
import { TestCluster } from "../harness.ts";

/** EtcdctlNode: the real etcdctl (null when it is not installed, with `skip` saying so) and one node serving gRPC. */
export interface EtcdctlNode {
  readonly etcdctl: string | null;
  readonly skip: string | null;
  /** cluster, endpoint: set by the file's beforeAll (when etcdctl is there). */
  cluster: TestCluster;
  endpoint: string;
}

/**
 * oneNodeForEtcdctl: for a test file that drives Debian's etcdctl against one bootstrapped node with a gRPC
 * endpoint; the node starts before the file's tests and closes after them. Without etcdctl on PATH it warns
 * SKIP once and starts nothing (the tests skip themselves with `skip`).
 */
export function oneNodeForEtcdctl(): EtcdctlNode {
  const etcdctl = Bun.which("etcdctl");
  const skip = etcdctl === null ? "SKIP: etcdctl is not on PATH (apt-get install etcd-client)" : null;
  if (skip !== null) console.warn(skip);
  const node: EtcdctlNode = { etcdctl, skip, cluster: undefined as unknown as TestCluster, endpoint: "" };
  beforeAll(async () => {
    if (skip !== null) return;
    node.cluster = new TestCluster();
    await node.cluster.bootstrap(1, { grpcAddr: "127.0.0.1:0" });
    node.endpoint = node.cluster.node(1).grpcAddr!;
  });
  afterAll(async () => {
    await node.cluster?.close();
  });
  return node;
}
