import { type GrpcObject, loadPackageDefinition, type ServiceClientConstructor, type ServiceDefinition } from "@grpc/grpc-js";
import { fromJSON } from "@grpc/proto-loader";
import descriptor from "./proto/etcd.json";

/**
 * The etcd v3.5 services, from the JSON descriptor of proto/*.proto (bundled by `bun build --compile`; see
 * scripts/strip_etcd_protos.ts). Decoding: field names as in the protos, 64-bit integers as decimal strings (ids
 * above 2^53 survive), enums by name, defaults filled in, and a oneof's set member named in its oneof field.
 */
export const load_options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true } as const;

const etcdserverpb = loadPackageDefinition(fromJSON(descriptor as object, load_options)).etcdserverpb as GrpcObject;

export type EtcdServiceName = "KV" | "Watch" | "Lease" | "Cluster" | "Maintenance" | "Auth";

export const etcd_service_names: readonly EtcdServiceName[] = ["KV", "Watch", "Lease", "Cluster", "Maintenance", "Auth"];

/** etcdClient: the generated client constructor of one service (for tests and tools). */
export function etcdClient(name: EtcdServiceName): ServiceClientConstructor {
  return etcdserverpb[name] as ServiceClientConstructor;
}

export function etcdService(name: EtcdServiceName): ServiceDefinition {
  return etcdClient(name).service;
}
