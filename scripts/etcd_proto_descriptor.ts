import { join } from "node:path";
import protobuf from "protobufjs";

/**
 * descriptorJson parses the stripped etcd protos under `dir` into protobufjs's JSON descriptor (what
 * proto/etcd.json holds). Build-time and test-time only: the server imports etcd.json, never this file.
 */
export function descriptorJson(dir: string): unknown {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(dir, target.replace(/^.*\//, ""));
  root.loadSync(["rpc.proto", "kv.proto", "auth.proto"].map((name) => join(dir, name)), { keepCase: true });
  root.resolveAll();
  return root.toJSON();
}
