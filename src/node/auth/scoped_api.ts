import type { Caller, KvRequest } from "../../kv/index.ts";
import type { NodeApi, WatchApi } from "../api.ts";
import type { AuthApi } from "./auth_api.ts";

/**
 * scopeApi: the NodeApi as one authenticated caller sees it while auth is enabled. Reads are checked here,
 * where they are served (etcd checks range and watch permissions at the serving member); writes are checked
 * here as a fast refusal and carry the caller into the log, where apply checks them again against the auth
 * state at their index (auth_store.ts). Lease calls need an existing user; snapshot, compaction and alarms need root.
 * The HTTP routes and the gRPC services call it instead of the plain NodeApi, so no handler knows about auth.
 */
export function scopeApi(api: NodeApi, auth: AuthApi, caller: Caller): NodeApi {
  const write = (request: KvRequest) => auth.checkRequest(caller, request);
  const watches: WatchApi | undefined =
    api.watches === undefined
      ? undefined
      : {
          start: async (spec) => {
            auth.checkRead(caller, spec.key, spec.range_end);
            return api.watches!.start(spec);
          },
          release: (watch) => api.watches!.release(watch),
          progress: (id) => api.watches!.progress(id),
        };
  const user = () => auth.requireUser(caller);
  return {
    ...api,
    async write(command) {
      write(command.op === "put" ? { kind: "put", put: { key: command.key, value: command.value } } : { kind: "delete_range", delete_range: { key: command.key } });
      return api.write(command, caller);
    },
    async putUtf8(key, value) {
      write({ kind: "put", put: { key, value: "" } }); // the rights depend on the key only
      return api.putUtf8(key, value, 0, caller);
    },
    async read(key, consistency) {
      auth.checkRead(caller, key, undefined);
      return api.read(key, consistency);
    },
    async readKv(key, consistency) {
      auth.checkRead(caller, key, undefined);
      return api.readKv(key, consistency);
    },
    async range(request, consistency) {
      auth.checkRead(caller, request.key, request.range_end);
      return api.range(request, consistency);
    },
    async kvRequest(request, requestId) {
      write(request);
      return api.kvRequest(request, requestId, caller);
    },
    async putBytes(key, value, requestId) {
      write({ kind: "put", put: { key, value: "" } }); // the rights depend on the key only
      return api.putBytes(key, value, requestId, caller);
    },
    async leaseGrant(ttl, id) {
      user();
      return api.leaseGrant(ttl, id);
    },
    async leaseRevoke(id) {
      user();
      return api.leaseRevoke(id);
    },
    async leaseKeepAlive(id) {
      user();
      return api.leaseKeepAlive(id);
    },
    async leaseTimeToLive(id, keys) {
      user();
      return api.leaseTimeToLive(id, keys);
    },
    async leaseList() {
      user();
      return api.leaseList();
    },
    // Membership through a client API (gRPC Cluster) is an admin's; peers use the open HTTP member routes.
    async join(request) {
      auth.requireAdmin(caller);
      return api.join(request);
    },
    async leave(id) {
      auth.requireAdmin(caller);
      return api.leave(id);
    },
    async transferLeader(id) {
      auth.requireAdmin(caller);
      return api.transferLeader(id);
    },
    async snapshot() {
      auth.requireAdmin(caller);
      return api.snapshot();
    },
    ...(watches === undefined ? {} : { watches }),
    // A backup holds every key and the auth state: root only (etcd's Maintenance.Snapshot is admin-only too).
    ...(api.backup === undefined
      ? {}
      : {
          backup: async () => {
            auth.requireAdmin(caller);
            return api.backup!();
          },
        }),
    // Alarms: listing, raising and disarming are root's (etcd's Maintenance.Alarm is admin-only). The state
    // hashes stay served: GET /hashes is a member route (open_paths), the leader's corruption check calls it.
    ...(api.alarms === undefined
      ? {}
      : {
          alarms: {
            list: () => {
              auth.requireAdmin(caller);
              return api.alarms!.list();
            },
            activate: async (memberId, alarm) => {
              auth.requireAdmin(caller);
              return api.alarms!.activate(memberId, alarm);
            },
            disarm: async (filter) => {
              auth.requireAdmin(caller);
              return api.alarms!.disarm(filter);
            },
            hashes: () => api.alarms!.hashes(),
          },
        }),
  };
}
