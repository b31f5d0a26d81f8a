import { assert } from "../shared/assert.ts";
import { Inflights } from "./inflights.ts";
import type { Index } from "./types.ts";

export type ProgressState = "probe" | "replicate" | "snapshot";

/**
 * Progress is the leader's view of one follower (etcd tracker/progress.go).
 * probe: one append at a time until the match point is found; replicate: pipeline up to the
 * inflight window; snapshot: wait until the streamed snapshot is acknowledged or reported.
 * Invariant: 0 <= match < next.
 */
export class Progress {
  match: Index = 0;
  next: Index;
  state: ProgressState = "probe";
  /** probeSent pauses a probing follower after one append until a response (or heartbeat response). */
  probeSent = false;
  pendingSnapshot: Index = 0;
  /** recentActive: heard from within the current check-quorum window. */
  recentActive = false;
  /**
   * readWaiting: the ctx of the last read round's heartbeat sent to this follower, "" once it answered a heartbeat
   * since: a follower still owing an answer is not picked for the next round (leader_read.ts sendReadRound), so a
   * dead or stalled one holds up at most the round it was asked in.
   */
  readWaiting = "";
  readonly inflights: Inflights;

  constructor(next: Index, maxInflight: number) {
    assert(next >= 1, "progress: next must be >= 1");
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
    this.check();
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
    this.check();
  }

  becomeSnapshot(snapshotIndex: Index): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  /** maybeUpdate records an ack up to n; false when it was stale. */
  maybeUpdate(n: Index): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    this.check();
    return updated;
  }

  /** sentEntries records an append carrying entries up to `last` (optimistic next for replicate). */
  sentEntries(last: Index, count: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.next = last + 1;
        this.inflights.add(last);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
    this.check();
  }

  /**
   * maybeDecrTo handles a rejection of the append at `rejected`; matchHint is where the leader
   * guesses the logs match. false when the rejection is stale.
   */
  maybeDecrTo(rejected: Index, matchHint: Index): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    this.check();
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  private check(): void {
    assert(this.match >= 0, "progress: match >= 0");
    if (!(this.match < this.next)) assert(false, `progress: match ${this.match} < next ${this.next}`);
  }
}
