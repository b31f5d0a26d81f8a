// The qklzl node runtime: startNode runs one node (core + storage + transport + HTTP) until stopped.
export { startNode } from "./node.ts";
export type { NodeOptions, RunningNode } from "./types.ts";
export type { NodeApi, StatusJson } from "./api.ts";
