import { type ServerDuplexStream, status as grpcStatus } from "@grpc/grpc-js";
import type { EtcdBackend } from "./backend.ts";
import { bytes, int64, type Msg } from "./codec.ts";
import { failure, header, unary } from "./rpc.ts";
import { isQklzlError } from "../../shared/errors.ts";
import { EtcdError } from "./errors.ts";

function isLeaseNotFound(error: unknown): boolean {
  return (isQklzlError(error) || error instanceof EtcdError) && error.code === "lease_not_found";
}

/** renewals_queued_max: keep-alive requests one stream may have waiting; a client flooding past it is cut off. */
export const renewals_queued_max = 64;

/** Lease: Grant, Revoke, KeepAlive (a stream of renewals), TimeToLive, Leases. */
export function leaseService(backend: EtcdBackend) {
  return {
    LeaseGrant: unary("Lease/LeaseGrant", async (m) => {
      const granted = await backend.leaseGrant({ id: int64(m.ID, "ID"), ttl: int64(m.TTL, "TTL") });
      return { header: header(backend), ID: granted.id, TTL: granted.ttl, error: "" };
    }),
    LeaseRevoke: unary("Lease/LeaseRevoke", async (m) => {
      const revoked = await backend.leaseRevoke(int64(m.ID, "ID"));
      return { header: header(backend, Math.max(revoked.revision, backend.info().revision)) };
    }),
    LeaseTimeToLive: unary("Lease/LeaseTimeToLive", async (m) => {
      const id = int64(m.ID, "ID");
      try {
        const lease = await backend.leaseTimeToLive(id, m.keys === true);
        return { header: header(backend), ID: lease.id, TTL: lease.ttl, grantedTTL: lease.granted_ttl, keys: lease.keys.map(bytes) };
      } catch (error) {
        // etcd answers an unknown lease with TTL -1 here, not an error (etcdctl prints "lease ... already expired").
        if (!isLeaseNotFound(error)) throw error;
        return { header: header(backend), ID: id, TTL: -1, grantedTTL: 0, keys: [] };
      }
    }),
    LeaseLeases: unary("Lease/LeaseLeases", async () => ({ header: header(backend), leases: (await backend.leases()).map((id) => ({ ID: id })) })),
    /**
     * LeaseKeepAlive answers each renewal in order, one at a time (a client sends one per TTL/3). An unknown
     * lease answers TTL 0, as etcd does; the stream ends with the first other error.
     */
    LeaseKeepAlive: (call: ServerDuplexStream<Msg, Msg>) => {
      let chain: Promise<void> = Promise.resolve();
      let queued = 0;
      let ended = false;
      const end = () => {
        ended = true;
      };
      call.on("cancelled", end);
      call.on("error", end);
      call.on("data", (m: Msg) => {
        if (ended) return;
        if (++queued > renewals_queued_max) {
          ended = true;
          call.emit("error", { code: grpcStatus.RESOURCE_EXHAUSTED, details: `etcdserver: too many requests (more than ${renewals_queued_max} keep-alives waiting on one stream)` });
          return;
        }
        chain = chain.then(async () => {
          queued--;
          if (ended) return;
          let id = 0;
          try {
            id = int64(m.ID, "ID");
            const renewed = await backend.leaseKeepAlive(id);
            if (!ended) call.write({ header: header(backend), ID: renewed.id, TTL: renewed.ttl });
          } catch (error) {
            if (ended) return;
            if (isLeaseNotFound(error)) {
              call.write({ header: header(backend), ID: id, TTL: 0 });
              return;
            }
            ended = true;
            call.emit("error", failure(error, "Lease/LeaseKeepAlive"));
          }
        });
      });
      call.on("end", () => {
        void chain.then(() => {
          if (!ended) call.end();
          ended = true;
        });
      });
    },
  };
}
