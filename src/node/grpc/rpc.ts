import { consola } from "consola";
import {
  type handleBidiStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  status as grpcStatus,
} from "@grpc/grpc-js";
import type { EtcdBackend } from "./backend.ts";
import type { Msg } from "./codec.ts";
import { toServiceError } from "./errors.ts";
import { type ResponseHeader, responseHeader } from "./ids.ts";

export const log = consola.withTag("grpc");

/**
 * header: the ResponseHeader of an answer; `revision` from the response when it has one (then the cheap
 * headerFacts do), else the node's current one from info().
 */
export function header(backend: EtcdBackend, revision?: number): ResponseHeader {
  if (revision !== undefined && backend.headerFacts !== undefined) {
    const facts = backend.headerFacts();
    return responseHeader({ cluster_id: facts.cluster_id, node_id: facts.node_id, revision, raft_term: facts.raft_term });
  }
  const info = backend.info();
  return responseHeader({ cluster_id: info.cluster_id, node_id: info.node_id, revision: revision ?? info.revision, raft_term: info.raft_term });
}

/** failure: the status for a thrown error; bugs are logged here once (the client sees INTERNAL without details). */
export function failure(error: unknown, method: string) {
  const status = toServiceError(error);
  if (status.code === grpcStatus.INTERNAL) log.error(`unexpected error in ${method}:`, error);
  return status;
}

/** unary wraps an async handler: its result is the answer, anything it throws maps through errors.ts. */
export function unary(method: string, handler: (request: Msg) => Promise<Msg> | Msg): handleUnaryCall<Msg, Msg> {
  return (call, callback) => {
    let answer: Promise<Msg>;
    try {
      answer = Promise.resolve(handler(call.request));
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (response) => callback(null, response),
      (error) => callback(failure(error, method)),
    );
  };
}

/**
 * complete gives every method of `service` a handler: the implemented ones, and for the rest one that answers
 * UNIMPLEMENTED naming the method (a method not in the protos at all is answered UNIMPLEMENTED by server.ts).
 */
export function complete(
  serviceName: string,
  service: ServiceDefinition,
  implemented: Record<string, handleUnaryCall<Msg, Msg> | handleBidiStreamingCall<Msg, Msg> | handleServerStreamingCall<Msg, Msg>>,
): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const [method, definition] of Object.entries(service)) {
    const handler = implemented[method];
    if (handler !== undefined) {
      out[method] = handler;
      continue;
    }
    const message = `qklzl does not implement etcdserverpb.${serviceName}/${method}`;
    const status = { code: grpcStatus.UNIMPLEMENTED, details: message };
    const streaming: handleServerStreamingCall<Msg, Msg> = (call) => call.emit("error", status);
    const single: handleUnaryCall<Msg, Msg> = (_call, callback) => callback(status);
    out[method] = (definition.responseStream ? streaming : single) as UntypedServiceImplementation[string];
  }
  for (const method of Object.keys(implemented)) {
    if (!(method in service)) throw new Error(`etcdserverpb.${serviceName} has no method ${method}`);
  }
  return out;
}
