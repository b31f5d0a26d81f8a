import type { RequestBounds } from "../kv/index.ts";
import { limits } from "../shared/limits.ts";
import type { NodeOptions } from "./types.ts";

/**
 * requestBounds: what a request arriving at this node is validated against (--max-key-bytes,
 * --max-value-bytes, --max-txn-ops), for the range/txn/compact routes' validateTxn / validateKvRequest calls.
 * Only requests are checked: a log entry applies whatever this node's flags (kv/command.ts decodeEntry).
 */
export function requestBounds(options: Pick<NodeOptions, "maxKeyBytes" | "maxValueBytes" | "maxTxnOps">): RequestBounds {
  return { maxKeyBytes: options.maxKeyBytes, maxValueBytes: options.maxValueBytes, maxTxnOps: options.maxTxnOps ?? limits.txn_ops_max };
}
