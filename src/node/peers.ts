import type { Member, NodeId } from "../raft/types.ts";
import type { Transport } from "../transport/types.ts";

/**
 * Peers keeps the transport's address table in step with the configuration and remembers when each peer
 * last sent us anything (heardAt): the runtime's own view of "a quorum is reachable", used for fast
 * refusals before a request waits on the log.
 */
export class Peers {
  /** heardAt: when each peer last sent us anything. */
  private readonly heardAt = new Map<NodeId, number>();
  /** peers: the transport's address table as we set it. */
  private readonly peers = new Map<NodeId, string>();
  private membersKey = "";

  constructor(
    private readonly selfId: NodeId,
    /** recentMs: the window of recentlyHeard (one election timeout). */
    private readonly recentMs: number,
    private readonly transport: () => Transport,
  ) {}

  /**
   * isKnownPeer guards the transport's handshake: anyone but this node itself. Not only the members we know:
   * a joining node knows no configuration yet, and a node that restarts on an old configuration must still
   * accept a leader (or a member) added while it was down; the cluster id check refuses strangers, and a
   * message from a node without an address starts peer discovery (onUnknownPeer).
   */
  isKnownPeer(id: NodeId): boolean {
    return id !== this.selfId;
  }

  /** has: we hold an address for `id` (a message from anyone else starts peer discovery). */
  has(id: NodeId): boolean {
    return this.peers.has(id);
  }

  /** heard: `id` just sent us something. */
  heard(id: NodeId): void {
    this.heardAt.set(id, performance.now());
  }

  /** unreachable: a refused or lost connection: do not count this peer toward the quorum. */
  unreachable(id: NodeId): void {
    this.heardAt.delete(id);
  }

  /** syncPeers makes the transport's address table follow the configuration (the core's members). */
  syncPeers(members: readonly Member[]): void {
    const key = members.map((m) => `${m.id}@${m.raftAddr}`).join(",");
    if (key === this.membersKey) return;
    const previous = new Set(this.membersKey === "" ? [] : this.membersKey.split(",").map((s) => Number(s.split("@")[0])));
    this.membersKey = key;
    for (const m of members) {
      previous.delete(m.id);
      if (m.id !== this.selfId) this.setPeer(m.id, m.raftAddr);
    }
    for (const id of previous) {
      if (id === this.selfId || !this.peers.has(id)) continue;
      this.peers.delete(id);
      this.transport().removePeer(id);
    }
  }

  /** setPeer records where a peer listens (from the configuration, a join answer or a member's status). */
  setPeer(id: NodeId, raftAddr: string): void {
    if (id === this.selfId || raftAddr === "" || this.peers.get(id) === raftAddr) return;
    this.peers.set(id, raftAddr);
    this.transport().setPeer(id, raftAddr);
  }

  /**
   * recentlyHeard: the peer sent something within one election timeout (check-quorum's own window; shorter
   * windows refuse writes falsely after a GC pause or a busy loop).
   */
  lastHeardAt(id: NodeId): number | undefined {
    return this.heardAt.get(id);
  }

  recentlyHeard(id: NodeId, now = performance.now()): boolean {
    return now - (this.heardAt.get(id) ?? -Infinity) <= this.recentMs;
  }

  /** quorumReachable: as leader, a majority of `voters` (us included) was heard from recently. Asked per request. */
  quorumReachable(voters: readonly NodeId[]): boolean {
    const now = performance.now();
    let heard = 0;
    for (const id of voters) {
      if (id === this.selfId || this.recentlyHeard(id, now)) heard++;
    }
    return heard * 2 > voters.length;
  }
}
