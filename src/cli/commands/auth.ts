import { defineCommand } from "citty";
import { isQklzlError } from "../../shared/errors.ts";
import { authGrantRoleArgs, authNameArgs, authPermissionArgs, authPlainArgs, authRevokePermissionArgs } from "../args.ts";
import { print, table } from "../format.ts";
import { parseDuration } from "../parse.ts";
import { UsageError } from "../usage_error.ts";

// `qklzl user|role|auth …`: the auth API (README "Authentication"), as etcdctl's user, role and auth commands.
// Changes go to any member (a follower forwards to the leader); --user NAME[:PASSWORD] authenticates once auth
// is enabled. Errors reach main.ts, which prints them and exits 1.

type Args = { addr: string; timeout: string };

async function call(args: Args, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const { request } = await import("../client.ts");
  return (await request(args.addr, method, path, body, { timeoutMs: parseDuration("timeout", args.timeout), followLeader: true })) as Record<string, unknown>;
}

function need(value: string | undefined, what: string, command: string): string {
  if (value === undefined || value === "") throw new UsageError(`missing ${what}`, command);
  return value;
}

/** credentials: NAME[:PASSWORD]; without one, $QKLZL_NEW_PASSWORD or a prompt (not echoed). */
async function credentials(raw: string | undefined, command: string): Promise<{ name: string; password: string }> {
  const value = need(raw, "NAME", command);
  const colon = value.indexOf(":");
  if (colon >= 0) return { name: value.slice(0, colon), password: value.slice(colon + 1) };
  const { askPassword } = await import("../client_auth.ts");
  return { name: value, password: process.env.QKLZL_NEW_PASSWORD ?? (await askPassword(`new password for ${value}: `)) };
}

function changed(what: string, answer: Record<string, unknown>): void {
  print(`${what} (auth revision ${String(answer.revision)})`);
}

const nameCommand = (name: string, description: string, path: string, done: (n: string) => string) =>
  defineCommand({
    meta: { name, description },
    args: authNameArgs,
    async run({ args }) {
      const n = need(args.name, "NAME", description);
      changed(done(n), await call(args, "POST", path, { name: n }));
    },
  });

const userAdd = defineCommand({
  meta: { name: "add", description: "Add a user: NAME[:PASSWORD] (else $QKLZL_NEW_PASSWORD, else asked)" },
  args: authNameArgs,
  async run({ args }) {
    const { name, password } = await credentials(args.name, "user add");
    changed(`user ${name} added`, await call(args, "POST", "/auth/user/add", { name, password }));
  },
});

const userPasswd = defineCommand({
  meta: { name: "passwd", description: "Change a user's password: NAME[:PASSWORD]" },
  args: authNameArgs,
  async run({ args }) {
    const { name, password } = await credentials(args.name, "user passwd");
    changed(`password of ${name} changed`, await call(args, "POST", "/auth/user/passwd", { name, password }));
  },
});

const roleOfUser = (name: "grant-role" | "revoke-role") =>
  defineCommand({
    meta: { name, description: name === "grant-role" ? "Grant a role to a user: NAME ROLE" : "Revoke a role from a user: NAME ROLE" },
    args: authGrantRoleArgs,
    async run({ args }) {
      const user = need(args.name, "NAME", `user ${name}`);
      const role = need(args.role, "ROLE", `user ${name}`);
      const answer = await call(args, "POST", `/auth/user/${name}`, { name: user, role });
      changed(name === "grant-role" ? `role ${role} granted to user ${user}` : `role ${role} revoked from user ${user}`, answer);
    },
  });

const userGet = defineCommand({
  meta: { name: "get", description: "Show a user's roles" },
  args: authNameArgs,
  async run({ args }) {
    const name = need(args.name, "NAME", "user get");
    const answer = await call(args, "GET", `/auth/user?name=${encodeURIComponent(name)}`);
    if (args.json) return print(JSON.stringify(answer));
    print(`User: ${name}\nRoles: ${(answer.roles as string[]).join(" ")}`);
  },
});

const listOf = (what: "users" | "roles") =>
  defineCommand({
    meta: { name: "list", description: `List the ${what}` },
    args: authPlainArgs,
    async run({ args }) {
      const answer = await call(args, "GET", `/auth/${what}`);
      if (args.json) return print(JSON.stringify(answer));
      for (const name of answer[what] as string[]) print(name);
    },
  });

/** permissionRange: KEY [RANGE_END] | KEY --prefix | KEY --from-key, as the JSON fields of the auth API. */
function permissionRange(args: { pkey?: string; "range-end"?: string; prefix?: string; "from-key"?: boolean }, command: string): Record<string, unknown> {
  if (args.prefix !== undefined) {
    if (args.pkey !== undefined || args["range-end"] !== undefined || args["from-key"] === true) throw new UsageError("--prefix P goes alone: no KEY, RANGE_END or --from-key", command);
    return { key: need(args.prefix, "the --prefix value", command), prefix: true };
  }
  const key = need(args.pkey, "KEY (or --prefix P)", command);
  if (args["range-end"] !== undefined && args["from-key"] === true) throw new UsageError("RANGE_END and --from-key exclude each other", command);
  if (args["from-key"]) return { key, range_end: "\0" };
  return args["range-end"] === undefined ? { key } : { key, range_end: args["range-end"] };
}

const roleGrant = defineCommand({
  meta: { name: "grant-permission", description: "Grant a role read|write|readwrite over KEY [RANGE_END] (--prefix P, --from-key)" },
  args: authPermissionArgs,
  async run({ args }) {
    const role = need(args.role, "ROLE", "role grant-permission");
    const type = need(args.type, "TYPE (read, write or readwrite)", "role grant-permission");
    if (type !== "read" && type !== "write" && type !== "readwrite") throw new UsageError(`TYPE must be read, write or readwrite, got ${JSON.stringify(type)}`, "role grant-permission");
    const range = permissionRange(args, "role grant-permission");
    changed(`role ${role} updated`, await call(args, "POST", "/auth/role/grant-permission", { name: role, type, ...range }));
  },
});

const roleRevoke = defineCommand({
  meta: { name: "revoke-permission", description: "Revoke a role's permission over KEY [RANGE_END] (--prefix P, --from-key)" },
  args: authRevokePermissionArgs,
  async run({ args }) {
    const role = need(args.role, "ROLE", "role revoke-permission");
    const range = permissionRange(args, "role revoke-permission");
    changed(`permission of role ${role} revoked`, await call(args, "POST", "/auth/role/revoke-permission", { name: role, ...range }));
  },
});

const roleGet = defineCommand({
  meta: { name: "get", description: "Show a role's permissions" },
  args: authNameArgs,
  async run({ args }) {
    const name = need(args.name, "NAME", "role get");
    const answer = await call(args, "GET", `/auth/role?name=${encodeURIComponent(name)}`);
    if (args.json) return print(JSON.stringify(answer));
    const perms = answer.permissions as Array<{ type: string; key: string; range_end?: string }>;
    print(`Role: ${name}`);
    print(table(["TYPE", "KEY", "RANGE END"], perms.map((p) => [p.type, p.key, p.range_end === undefined ? "" : p.range_end === "\0" ? "(from key)" : p.range_end])));
  },
});

const authEnable = defineCommand({
  meta: { name: "enable", description: "Turn authentication on (needs a root user; it gets the root role if it lacks it)" },
  args: authPlainArgs,
  async run({ args }) {
    try {
      changed("authentication enabled", await call(args, "POST", "/auth/enable", {}));
    } catch (error) {
      // etcdctl's way: grant the root role to the root user, then enable.
      if (!isQklzlError(error) || error.code !== "root_role_missing") throw error;
      await call(args, "POST", "/auth/user/grant-role", { name: "root", role: "root" });
      changed("root role granted to root; authentication enabled", await call(args, "POST", "/auth/enable", {}));
    }
  },
});

const authStatus = defineCommand({
  meta: { name: "status", description: "Show whether authentication is on and the auth revision" },
  args: authPlainArgs,
  async run({ args }) {
    const answer = await call(args, "GET", "/auth/status");
    if (args.json) return print(JSON.stringify(answer));
    print(`Authentication Status: ${answer.enabled ? "true" : "false"}\nAuthRevision: ${String(answer.revision)}`);
  },
});

export const userCommand = defineCommand({
  meta: { name: "user", description: "Users: user add NAME[:PW] | delete | list | get | passwd | grant-role NAME ROLE | revoke-role NAME ROLE" },
  subCommands: {
    add: userAdd,
    delete: nameCommand("delete", "Delete a user", "/auth/user/delete", (n) => `user ${n} deleted`),
    list: listOf("users"),
    get: userGet,
    passwd: userPasswd,
    "grant-role": roleOfUser("grant-role"),
    "revoke-role": roleOfUser("revoke-role"),
  },
});

export const roleCommand = defineCommand({
  meta: { name: "role", description: "Roles: role add NAME | delete | list | get | grant-permission ROLE TYPE KEY [END] | revoke-permission ROLE KEY [END]" },
  subCommands: {
    add: nameCommand("add", "Add a role", "/auth/role/add", (n) => `role ${n} added`),
    delete: nameCommand("delete", "Delete a role (and revoke it from every user)", "/auth/role/delete", (n) => `role ${n} deleted`),
    list: listOf("roles"),
    get: roleGet,
    "grant-permission": roleGrant,
    "revoke-permission": roleRevoke,
  },
});

export const authCommand = defineCommand({
  meta: { name: "auth", description: "Authentication: auth enable | disable | status" },
  subCommands: {
    enable: authEnable,
    disable: defineCommand({
      meta: { name: "disable", description: "Turn authentication off (root only)" },
      args: authPlainArgs,
      async run({ args }) {
        changed("authentication disabled", await call(args, "POST", "/auth/disable", {}));
      },
    }),
    status: authStatus,
  },
});
