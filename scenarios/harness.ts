// harness.ts: the one entry point to the multi-process test harness, shared by scenarios/ and test/integration/.
export { Cluster, tailLines, type ClusterOptions, type LeaderView, type NodeHandle, type StartMode, type StopOptions } from "./harness/cluster.ts";
export { check, checkEqual, CheckError, show } from "./harness/check.ts";
export { describeReply, errorCode, request, type HttpReply, type RequestOptions } from "./harness/http.ts";
export { nodeCommand, repoRoot } from "./harness/binary.ts";
export { freePort } from "./harness/ports.ts";
export { installCleanupHandlers, killAllSync, liveCount } from "./harness/procs.ts";
export { notYet, NotYet, waitFor, withDeadline, type WaitOptions } from "./harness/wait.ts";
export { describeAnswers, findLostWrites, startWriters, type LostWrites, type WriteLog, type Writers } from "./harness/writers.ts";

/** fastFlags: shorter heartbeat and election timeouts, for tests that are not the documented commands. */
export const fastFlags = ["--heartbeat-ms", "50", "--election-ms", "500"];
export { checkHistory, recordHistory, type History, type HistoryOptions, type Op } from "./harness/history.ts";
