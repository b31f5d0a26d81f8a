import { setAuthorization } from "./client.ts";
import { UsageError } from "./usage_error.ts";

/**
 * useClientUser reads the global --user NAME[:PASSWORD] of a client command: the password after the first
 * colon, else $QKLZL_PASSWORD, else asked on the terminal (not echoed). Every request of the command then
 * sends it as HTTP Basic (the node verifies it once and remembers the result, so it costs one hash per run).
 */
export async function useClientUser(argv: readonly string[]): Promise<void> {
  const value = userFlag(argv);
  if (value === undefined) return;
  const colon = value.indexOf(":");
  const name = colon < 0 ? value : value.slice(0, colon);
  if (name === "") throw new UsageError("--user needs a user name (--user NAME or NAME:PASSWORD)", "");
  const password = colon >= 0 ? value.slice(colon + 1) : (process.env.QKLZL_PASSWORD ?? (await askPassword(`password for ${name}: `)));
  setAuthorization(`Basic ${Buffer.from(`${name}:${password}`).toString("base64")}`);
}

function userFlag(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") return undefined;
    if (token === "--user") {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError("--user needs a value (NAME or NAME:PASSWORD)", "");
      return next;
    }
    if (token.startsWith("--user=")) return token.slice("--user=".length);
  }
  return undefined;
}

/** askPassword reads one line from the terminal without echoing it; refuses when stdin is not a terminal. */
export async function askPassword(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new UsageError("--user without a password: give NAME:PASSWORD or set QKLZL_PASSWORD (stdin is not a terminal)", "");
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  let typed = "";
  try {
    for await (const chunk of stdin) {
      for (const ch of String(chunk)) {
        if (ch === "\r" || ch === "\n") return typed;
        if (ch === "\u0003") throw new UsageError("cancelled", "");
        if (ch === "\u007f") typed = typed.slice(0, -1);
        else typed += ch;
      }
    }
    return typed;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
}
