// Host:port strings as the CLI and the configuration carry them ("127.0.0.1:12001", "[::1]:12001").

export interface HostPort {
  hostname: string;
  port: number;
}

/** parseHostPort splits "host:port" (IPv6 hosts in brackets); throws on anything else. */
export function parseHostPort(addr: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new Error(`bad address "${addr}": expected host:port`);
  return { hostname: (m[1] ?? m[2])!, port };
}

/** formatHostPort is the inverse of parseHostPort. */
export function formatHostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}
