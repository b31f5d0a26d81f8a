import { readFileSync } from "node:fs";

// ports.ts hands out loopback ports for nodes. Ports come from below the kernel's ephemeral range: a port taken
// from the ephemeral range (port 0) can meanwhile become the source port of some outgoing connection (our nodes
// dial each other constantly), and a node restarted on its old address would then fail with EADDRINUSE.

const handedOut = new Set<number>();

function ephemeralLow(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const value = Number(low);
    return Number.isInteger(value) && value > 2048 ? value : 32768;
  } catch {
    return 32768;
  }
}

const rangeHigh = ephemeralLow();
const rangeLow = Math.max(1025, rangeHigh - 12000);

/** canListen: nothing listens on `hostname:port` now (we could bind it). */
export function canListen(port: number, hostname = "127.0.0.1"): boolean {
  try {
    const listener = Bun.listen({ hostname, port, socket: { data() {} } });
    listener.stop(true);
    return true;
  } catch {
    return false;
  }
}

/** freePort returns a loopback port that is free now and not handed out before by this process. */
export function freePort(): number {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = rangeLow + Math.floor(Math.random() * (rangeHigh - rangeLow));
    if (handedOut.has(port)) continue;
    // Keep clear of the addresses the original design uses by hand (8001-8003, 12001-12003).
    if ((port >= 8000 && port < 8100) || (port >= 12000 && port < 12100)) continue;
    if (!canListen(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free loopback port found in ${rangeLow}-${rangeHigh}`);
}

/** busyAddrs lists the "host:port" addresses of `addrs` that something already listens on. */
export function busyAddrs(addrs: string[]): string[] {
  return addrs.filter((addr) => {
    const at = addr.lastIndexOf(":");
    return !canListen(Number(addr.slice(at + 1)), addr.slice(0, at));
  });
}
