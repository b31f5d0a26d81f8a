import { parseHostPort, parseInteger } from "./parse.ts";
import { UsageError } from "./usage_error.ts";

/** InitialMember: one entry of `snapshot restore --initial-members`: an id with its Raft and HTTP addresses. */
export interface InitialMember {
  id: number;
  raftAddr: string;
  httpAddr: string;
}

const usage = "snapshot restore";

/**
 * parseInitialMembers reads `ID=RAFT/HTTP[,ID=RAFT/HTTP...]`, e.g. `1=127.0.0.1:12001/127.0.0.1:8001,2=...`:
 * raft address first, then HTTP, the order `member add --peer-urls` and the start flags use. Ids and addresses
 * must be unique; the list is returned sorted by id (the order the cluster id is derived in).
 */
export function parseInitialMembers(raw: string): InitialMember[] {
  const entries = raw.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "");
  if (entries.length === 0) throw new UsageError("--initial-members is empty: give ID=RAFT_ADDR/HTTP_ADDR,...", usage);
  const members = entries.map((entry) => {
    const match = /^([^=]+)=([^/]+)\/(.+)$/.exec(entry);
    if (match === null) throw new UsageError(`--initial-members entry ${JSON.stringify(entry)} is not ID=RAFT_ADDR/HTTP_ADDR (e.g. 1=127.0.0.1:12001/127.0.0.1:8001)`, usage);
    return {
      id: parseInteger("initial-members id", match[1], 1),
      raftAddr: parseHostPort("initial-members raft address", match[2]),
      httpAddr: parseHostPort("initial-members http address", match[3]),
    };
  });
  const seen = new Set<string>();
  for (const member of members) {
    for (const key of [`id ${member.id}`, `address ${member.raftAddr}`, `address ${member.httpAddr}`]) {
      if (seen.has(key)) throw new UsageError(`--initial-members names ${key} twice`, usage);
      seen.add(key);
    }
  }
  return members.sort((a, b) => a.id - b.id);
}

/**
 * checkOwnEntry: the node being restored (--id, --raft-addr, --http-addr) must be in the list with exactly those
 * addresses: every member's run must describe the same cluster, or their derived cluster ids would differ.
 */
export function checkOwnEntry(members: InitialMember[], self: InitialMember): void {
  const entry = members.find((member) => member.id === self.id);
  if (entry === undefined) throw new UsageError(`--id ${self.id} is not in --initial-members (${members.map((m) => m.id).join(",")})`, usage);
  if (entry.raftAddr !== self.raftAddr || entry.httpAddr !== self.httpAddr) {
    throw new UsageError(
      `--initial-members gives node ${self.id} raft ${entry.raftAddr}, http ${entry.httpAddr}, but --raft-addr ${self.raftAddr} --http-addr ${self.httpAddr}: they must match`,
      usage,
    );
  }
}
