import { defineCommand } from "citty";
import { watchArgs } from "../args.ts";
import { print, printError } from "../format.ts";
import { UsageError } from "../usage_error.ts";

// `qklzl watch KEY | --prefix P [--range-end E] [--start-revision R] [--prev-kv] [--filter noput|nodelete]
// [--json]`: one line per event until Ctrl-C. It survives the member it watches dying: it resumes on another
// member (from --addr, a comma-separated list, or the members learned from /status) at the last revision + 1.

function parseRevision(text: string | undefined): number {
  if (text === undefined || text === "") return 0;
  if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) throw new UsageError(`--start-revision must be a non-negative integer, got ${text}`, "watch");
  return Number(text);
}

export const watchCommand = defineCommand({
  meta: { name: "watch", description: "Print every change of a key, a range or a prefix, one line per event, until Ctrl-C" },
  args: watchArgs,
  async run({ args }) {
    const query = new URLSearchParams();
    if (args.prefix !== undefined) {
      if (args.key !== undefined) throw new UsageError("give KEY or --prefix, not both", "watch");
      if (args["range-end"] !== undefined) throw new UsageError("--range-end goes with KEY, not with --prefix", "watch");
      query.set("prefix", args.prefix);
    } else {
      if (args.key === undefined || args.key === "") throw new UsageError("missing KEY (or --prefix P)", "watch");
      query.set("key", args.key);
      if (args["range-end"] !== undefined) query.set("range_end", args["range-end"]);
    }
    if (args["prev-kv"]) query.set("prev_kv", "true");
    if (args.filter !== undefined) query.set("filter", args.filter);
    const startRevision = parseRevision(args["start-revision"]);
    const { followWatch, formatEvent } = await import("../watch_client.ts");
    const aborter = new AbortController();
    await followWatch({
      addrs: args.addr.split(","),
      query,
      startRevision,
      signal: aborter.signal,
      onEvents: (_revision, events) => {
        for (const event of events) print(formatEvent(event, args.json === true));
      },
      onNote: (text) => printError(text),
    });
  },
});
