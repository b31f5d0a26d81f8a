import type { EtcdBackend, MemberInfo } from "./backend.ts";
import type { Msg } from "./codec.ts";
import { EtcdError } from "./errors.ts";
import { etcdMemberId, nodeIdOf, parseUint64 } from "./ids.ts";
import { header, unary } from "./rpc.ts";

/**
 * Cluster: etcd's membership calls over qklzl's. A qklzl member has two addresses, raft and HTTP, so MemberAdd
 * takes two peer URLs in that order (`etcdctl member add n4 --peer-urls=http://H:RAFT,http://H:HTTP`); the new
 * node gets the next free node id (the answer's member name is `node<id>`) and is added as a learner that
 * qklzl promotes once it caught up, as a node started with -join is. Start it with that id and addresses.
 */
export function clusterService(backend: EtcdBackend) {
  const encodeMember = (clusterId: string, m: MemberInfo): Msg => ({
    ID: etcdMemberId(clusterId, m.node_id).toString(),
    name: `node${m.node_id}`,
    peerURLs: [`http://${m.raft_addr}`, `http://${m.http_addr}`],
    // Bare host:port, not http://host:port: etcdctl 3.4 dials a clientURL as given (`--cluster`) and sends it as
    // the HTTP/2 :authority, which Bun 1.4.4's server refuses with PROTOCOL_ERROR when it carries a scheme.
    clientURLs: m.grpc_addr === "" ? [] : [m.grpc_addr],
    isLearner: m.is_learner,
  });
  const allMembers = () => {
    const info = backend.info();
    return info.members.map((m) => encodeMember(info.cluster_id, m));
  };
  /** nodeOf: the member a request's uint64 ID names. */
  const nodeOf = (raw: unknown): MemberInfo => {
    const info = backend.info();
    const id = parseUint64(raw);
    const nodeId = id === null ? null : nodeIdOf(info.cluster_id, id, info.members.map((m) => m.node_id));
    const member = info.members.find((m) => m.node_id === nodeId);
    if (member === undefined) throw new EtcdError("unknown_member", `no member has id ${String(raw)}`);
    return member;
  };
  return {
    MemberList: unary("Cluster/MemberList", () => ({ header: header(backend), members: allMembers() })),
    MemberAdd: unary("Cluster/MemberAdd", async (m) => {
      const urls = Array.isArray(m.peerURLs) ? (m.peerURLs as unknown[]).map(String) : [];
      const addrs = urls.map(hostPortOf);
      if (addrs.length !== 2 || addrs.some((a) => a === null)) {
        throw new EtcdError("member_bad_urls", `qklzl wants two peer URLs, http://HOST:RAFT_PORT,http://HOST:HTTP_PORT; got ${JSON.stringify(urls)}`);
      }
      const added = await backend.addMember({ raft_addr: addrs[0]!, http_addr: addrs[1]! });
      const info = backend.info();
      return { header: header(backend), member: encodeMember(info.cluster_id, added), members: allMembers() };
    }),
    MemberRemove: unary("Cluster/MemberRemove", async (m) => {
      await backend.removeMember(nodeOf(m.ID).node_id);
      return { header: header(backend), members: allMembers() };
    }),
    MemberPromote: unary("Cluster/MemberPromote", (m) => {
      const member = nodeOf(m.ID);
      if (!member.is_learner) throw new EtcdError("member_not_learner", `node ${member.node_id} is already a voter`);
      // qklzl promotes a learner by itself once it caught up with the leader; one still a learner is behind.
      throw new EtcdError("learner_not_ready", `node ${member.node_id} is promoted automatically once it caught up with the leader`);
    }),
  };
}

/** hostPortOf reads host:port from http://host:port (what etcdctl sends), or null. */
function hostPortOf(url: string): string | null {
  const match = /^(?:https?:\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})\/?$/.exec(url);
  if (match === null) return null;
  const port = Number(match[2]);
  return port >= 1 && port <= 65535 ? `${match[1]}:${port}` : null;
}
