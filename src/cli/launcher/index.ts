// The one launcher of multi-process qklzl clusters (launcher.ts) and the helpers it is built from: free ports,
// process tracking, output, checks and the one waitFor. Used by `qklzl bench`, scripts/cluster.ts (`npm start`),
// the scenario harness and the tests; never by src/node or anything below it.
export { Launcher, selfCommand, type LauncherOptions, type NodeHandle, type StartMode, type StopOptions } from "./launcher.ts";
export type { ClusterProbe, LeaderView } from "./conditions.ts";
export { check, checkEqual, CheckError, show } from "./check.ts";
export { busyAddrs, canListen, freePort } from "./ports.ts";
export { installCleanupHandlers, killAllSync, liveCount, track } from "./procs.ts";
export { pipeLines, start_marker, tailLines, type LineSink, type OutputMode } from "./output.ts";
export { notYet, NotYet, waitFor, withDeadline, type Done, type WaitOptions } from "./wait.ts";
