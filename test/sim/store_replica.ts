import { KvStateMachine } from "../../src/kv/index.ts";
import type { KvCommand } from "../../src/kv/types.ts";
import type { Index } from "../../src/raft/types.ts";

/**
 * The simulator's replicated store: every node feeds its applied entries to a real KvStateMachine, so the
 * checker can compare store revisions (issue 12: equal on every replica at every applied index, never
 * backwards). A client payload ("w17") names a write: a put of one of a few keys, or every fourth a delete
 * (a delete of a missing key makes no revision, so revisions and indexes drift apart, as they do for real).
 * Noops, conf changes and the initial "init" entry apply as skips.
 */
const sim_keys = 5;

/** commandOf: the write a client payload stands for (deterministic, the same on every replica). */
export function commandOf(payload: string): KvCommand {
  let n = 0;
  for (let i = 0; i < payload.length; i++) n = (n * 31 + payload.charCodeAt(i)) >>> 0;
  const key = `k${n % sim_keys}`;
  return (n >>> 3) % 4 === 0 ? { op: "delete", key } : { op: "put", key, value: payload };
}

/** payloadOfIdentity: the client payload of an applied entry's identity ("term:w:payload"), or null. */
function payloadOfIdentity(identity: string): string | null {
  const at = identity.indexOf(":w:");
  return at < 0 ? null : identity.slice(at + 3);
}

export class SimStore {
  readonly kv = new KvStateMachine();

  /** fromImage rebuilds the store a snapshot of these applied entries holds (image[i] = entry i's identity). */
  static fromImage(image: readonly string[]): SimStore {
    const store = new SimStore();
    for (let i = 1; i < image.length; i++) store.apply(i, image[i] as string, false);
    return store;
  }

  /** apply feeds entry `index` (its identity); skipWrite is the planted bug: the write is lost, the index still moves. */
  apply(index: Index, identity: string, skipWrite: boolean): void {
    const payload = payloadOfIdentity(identity);
    if (payload === null || skipWrite) this.kv.skip(index);
    else this.kv.apply(index, commandOf(payload));
  }

  get revision(): number {
    return this.kv.revision;
  }

  get appliedIndex(): Index {
    return this.kv.appliedIndex;
  }
}
