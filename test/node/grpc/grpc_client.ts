import { type ChannelCredentials, type Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { etcdClient, type EtcdServiceName } from "../../../src/node/grpc/protos.ts";

// A grpc-js client for etcd's services, promisified for tests (decoded like the server: strings for int64).

export type Reply = Record<string, any>;

export interface EtcdTestClient {
  call(service: EtcdServiceName, method: string, request: Reply, options?: { deadlineMs?: number }): Promise<Reply>;
  stream(service: EtcdServiceName, method: string): any;
  raw(service: EtcdServiceName): Client;
  close(): void;
}

/**
 * connectEtcd: plaintext unless `channel` (e.g. credentials.createSsl(...)) is given; `serverName` is the name
 * TLS checks the server certificate against (grpc-js on Bun refuses an IP address as the TLS servername).
 */
export function connectEtcd(addr: string, channel: ChannelCredentials = credentials.createInsecure(), serverName?: string): EtcdTestClient {
  const clients = new Map<EtcdServiceName, Client>();
  const client = (service: EtcdServiceName): any => {
    let c = clients.get(service);
    if (c === undefined) {
      const Ctor = etcdClient(service);
      c = new Ctor(addr, channel, {
        ...(serverName === undefined ? {} : { "grpc.ssl_target_name_override": serverName, "grpc.default_authority": serverName }), "grpc.max_receive_message_length": 64 * 1024 * 1024, "grpc.max_send_message_length": 64 * 1024 * 1024 });
      clients.set(service, c);
    }
    return c;
  };
  return {
    call(service, method, request, options = {}) {
      return new Promise((resolve, reject) => {
        const deadline = new Date(Date.now() + (options.deadlineMs ?? 10_000));
        client(service)[method](request, new Metadata(), { deadline }, (error: ServiceError | null, reply: Reply) => (error ? reject(error) : resolve(reply)));
      });
    },
    stream: (service, method) => client(service)[method](),
    raw: (service) => client(service),
    close() {
      for (const c of clients.values()) c.close();
    },
  };
}

/** grpcError awaits a call expected to fail and returns its status (code, details, qklzl trailers). */
export async function grpcError(call: Promise<unknown>): Promise<{ code: number; details: string; qklzl: string | undefined }> {
  try {
    await call;
  } catch (error) {
    const e = error as ServiceError;
    return { code: e.code, details: e.details, qklzl: e.metadata?.get("qklzl-error")[0]?.toString() };
  }
  throw new Error("the call was expected to fail");
}
