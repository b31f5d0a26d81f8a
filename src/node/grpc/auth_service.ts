import { type ServiceDefinition, status as grpcStatus } from "@grpc/grpc-js";
import type { EtcdBackend } from "./backend.ts";
import { EtcdError } from "./errors.ts";
import { header, unary } from "./rpc.ts";

/**
 * Auth: qklzl has no authentication yet (the security issue adds it). AuthStatus says so; every other call is
 * refused as etcd refuses them while auth is off (FAILED_PRECONDITION "etcdserver: authentication is not
 * enabled"), except AuthEnable, which etcd would honour: it is UNIMPLEMENTED, so no client believes auth is on.
 */
export function authService(backend: EtcdBackend, service: ServiceDefinition) {
  const handlers: Record<string, ReturnType<typeof unary>> = {};
  for (const method of Object.keys(service)) {
    handlers[method] = unary(`Auth/${method}`, () => {
      throw new EtcdError("auth_not_enabled", `${method}: qklzl does not support authentication yet`);
    });
  }
  handlers.AuthStatus = unary("Auth/AuthStatus", () => ({ header: header(backend), enabled: false, authRevision: 0 }));
  handlers.AuthEnable = (_call, callback) =>
    callback({ code: grpcStatus.UNIMPLEMENTED, details: "qklzl does not support authentication yet (the security issue adds it)" });
  return handlers;
}
