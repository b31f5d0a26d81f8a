import { readFileSync } from "node:fs";
import { UsageError } from "./usage_error.ts";

// client_tls.ts: the CLI's TLS flags (curl's and etcdctl's names): --cacert verifies the node's certificate,
// --cert/--key are the client certificate for a node started with --client-cert-auth.

/** ClientTls: PEM texts for Bun's fetch `tls`. */
export interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface ClientTlsFlags {
  cacert?: string;
  cert?: string;
  key?: string;
}

function read(flag: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`--${flag} ${path}: cannot read it (${(error as Error & { code?: string }).code ?? (error as Error).message})`);
  }
}

/** clientTlsFromFlags reads the files; null when no TLS flag was given. */
export function clientTlsFromFlags(flags: ClientTlsFlags): ClientTls | null {
  if (flags.cacert === undefined && flags.cert === undefined && flags.key === undefined) return null;
  if ((flags.cert === undefined) !== (flags.key === undefined)) throw new UsageError("--cert and --key go together");
  return {
    ca: flags.cacert === undefined ? undefined : read("cacert", flags.cacert),
    cert: flags.cert === undefined ? undefined : read("cert", flags.cert),
    key: flags.key === undefined ? undefined : read("key", flags.key),
  };
}
