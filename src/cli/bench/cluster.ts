import path from "node:path";
import { Launcher } from "../launcher/index.ts";
import { clusterTls, type ClusterTls } from "../tls_pki.ts";

/**
 * benchCluster: a throw-away 3-node cluster of this binary on loopback for `qklzl bench`, through the one launcher:
 * its own temp dir (removed by destroy()), output dropped, nodes logging errors only. `command` replaces this
 * program (tests); `extraArgs` go on every node's start line, `nodeArgs(id)` on node id's only (e.g. its --grpc-addr).
 */
export function benchCluster(
  options: { command?: string[]; extraArgs?: string[]; tls?: boolean; nodeArgs?: (id: number) => string[] } = {},
): Launcher & { tls: ClusterTls | null } {
  const cluster: Launcher = new Launcher({
    name: "bench",
    command: options.command,
    extraArgs: options.extraArgs,
    output: "ignore",
    env: { CONSOLA_LEVEL: "1" },
    nodeArgs: (id): string[] => [...(tls?.nodeArgs(id) ?? []), ...(options.nodeArgs?.(id) ?? [])],
    http: undefined,
  });
  // --tls: throw-away certificates in the cluster's temp dir (removed with it), TLS on every port.
  const tls: ClusterTls | null = options.tls === true ? clusterTls(path.join(cluster.root, "tls"), cluster.ids) : null;
  if (tls !== null) cluster.useHttp(tls.http);
  return Object.assign(cluster, { tls });
}
