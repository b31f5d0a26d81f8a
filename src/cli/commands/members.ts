import { useClientTls } from "../client.ts";
import { defineCommand } from "citty";
import { membersArgs } from "../args.ts";
import { print, table } from "../format.ts";
import { parseDuration } from "../parse.ts";

/** membersCommand: `qklzl members` lists the configuration as the leader (or the asked node) sees it. */
export const membersCommand = defineCommand({
  meta: { name: "members", description: "List the cluster's members (id, role, addresses, match index)" },
  args: membersArgs,
  async run({ args }) {
    const timeoutMs = parseDuration("timeout", args.timeout);
    useClientTls(args);
    const { requestStatus } = await import("../cluster_view.ts");
    let status = await requestStatus(args.addr, timeoutMs);
    if (!status.is_leader && status.leader_http_addr !== "") {
      status = await requestStatus(status.leader_http_addr, timeoutMs).catch(() => status);
    }
    const members = [...status.members].sort((a, b) => a.id - b.id);
    if (args.json) {
      print(JSON.stringify({ leader_id: status.leader_id, members }, null, 2));
      return;
    }
    const rows = members.map((member) => [
      `${member.id}${member.id === status.leader_id ? "*" : ""}`,
      member.role,
      member.raft_addr,
      member.http_addr,
      status.is_leader ? String(member.match_index) : "-",
    ]);
    print(table(["ID", "ROLE", "RAFT", "HTTP", "MATCH"], rows));
  },
});
