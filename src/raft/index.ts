// The public API of the Raft core.
export type { BootstrapFn, BootstrapState, RaftNode } from "./api.ts";
export type * from "./types.ts";
export type { SoftState } from "./soft_state.ts";
export { bootstrapState } from "./bootstrap.ts";
export { MemoryStorage } from "./memory_storage.ts";
export { applyConfChange, validateConfChange } from "./membership.ts";
export { RaftCore } from "./raft.ts";
export { createRand } from "./rand.ts";
