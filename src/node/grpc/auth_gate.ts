import { AsyncLocalStorage } from "node:async_hooks";
import type { ServiceDefinition } from "@grpc/grpc-js";
import type { Caller } from "../../kv/index.ts";
import type { NodeApi } from "../api.ts";
import type { AuthApi } from "../auth/auth_api.ts";
import { scopeApi } from "../auth/scoped_api.ts";
import type { EtcdBackend } from "./backend.ts";
import { EtcdError, toServiceError } from "./errors.ts";

/**
 * The gRPC side of auth: etcd's clients send the token from Auth/Authenticate as the `token` metadata of every
 * call. guardHandlers checks it before a handler runs (while auth is enabled) and runs the handler, and the
 * listeners of its stream, with the caller in an AsyncLocalStorage; the backend then answers through a NodeApi
 * scoped to that caller (scoped_api.ts), and a write forwarded to the leader carries the same token
 * (grpcAuthorization; tokens are signed, so the leader verifies it itself).
 */

interface CallAuth {
  caller: Caller;
  token: string;
  backend?: EtcdBackend;
}

const current = new AsyncLocalStorage<CallAuth>();

/** open_methods: answered without a token (a client needs them to get one, or to learn auth is on). */
const open_methods = new Set(["Auth/Authenticate", "Auth/AuthStatus"]);

/** grpcCaller: the caller of the gRPC call running now (null: auth off, or an open method). */
export function grpcCaller(): Caller | null {
  return current.getStore()?.caller ?? null;
}

/** grpcAuthorization: the Authorization header a call forwarded to the leader over HTTP carries. */
export function grpcAuthorization(): Record<string, string> {
  const auth = current.getStore();
  return auth === undefined ? {} : { authorization: `Bearer ${auth.token}` };
}

type AnyHandler = (call: any, callback?: any) => void;

/** guardHandlers wraps every handler of `service` with the token check (a no-op while auth is off). */
export function guardHandlers(serviceName: string, service: ServiceDefinition, handlers: Record<string, AnyHandler>, auth: AuthApi | undefined): Record<string, AnyHandler> {
  if (auth === undefined) return handlers;
  const out: Record<string, AnyHandler> = {};
  for (const [method, handler] of Object.entries(handlers)) {
    const streaming = service[method]?.requestStream === true || service[method]?.responseStream === true;
    const open = open_methods.has(`${serviceName}/${method}`);
    out[method] = (call, callback) => {
      if (open || !auth.enabled()) return handler(call, callback);
      let state: CallAuth;
      try {
        const token = call.metadata?.get("token")?.[0];
        if (token === undefined || String(token) === "") throw new EtcdError("user_empty", "auth is enabled and the call carries no token");
        state = { caller: auth.identifyToken(String(token)), token: String(token) };
      } catch (error) {
        const status = toServiceError(error);
        if (streaming) call.emit("error", status);
        else callback(status);
        return;
      }
      if (streaming) {
        // Stream events come from the socket, outside the handler's async context: run their listeners in it.
        const on = call.on.bind(call);
        call.on = (event: string, listener: (...args: unknown[]) => void) => on(event, (...args: unknown[]) => current.run(state, () => listener(...args)));
      }
      current.run(state, () => handler(call, callback));
    };
  }
  return out;
}

/**
 * scopedBackend: a backend whose every method answers as the current call's caller (a backend built over
 * scopeApi for that call, once), or as `base` when no caller is set (auth off, open methods).
 */
export function scopedBackend(api: NodeApi, auth: AuthApi, make: (api: NodeApi) => EtcdBackend): EtcdBackend {
  const base = make(api);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(base)) {
    if (typeof value !== "function") {
      out[name] = value;
      continue;
    }
    out[name] = (...args: unknown[]) => {
      const state = current.getStore();
      if (state === undefined) return (value as (...a: unknown[]) => unknown).apply(base, args);
      state.backend ??= make(scopeApi(api, auth, state.caller));
      return (state.backend as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args);
    };
  }
  return out as unknown as EtcdBackend;
}
