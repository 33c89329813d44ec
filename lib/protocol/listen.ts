/**
 * Listening on NSQ-style addresses: `host:port` (port 0 allowed, `[::1]:0` for IPv6, `:4150`
 * for all interfaces) or a filesystem path for a unix socket (docs/nsqd.md#listeners).
 */
import { joinHostPort, splitHostPort } from "../internal/net_addr.ts";

export class ListenAddress {
  constructor(
    readonly transport: "tcp" | "unix",
    readonly hostname: string,
    readonly port: number,
    readonly path: string,
  ) {}

  /** The address actually bound (real port when 0 was asked). */
  bound(addr: Deno.Addr): ListenAddress {
    if (addr.transport === "tcp") {
      return new ListenAddress("tcp", this.hostname, addr.port, "");
    }
    return this;
  }

  toString(): string {
    if (this.transport === "unix") return this.path;
    return joinHostPort(this.hostname, this.port);
  }
}

/**
 * Parses `host:port` (see {@linkcode splitHostPort}; an empty host means all interfaces) or a
 * unix socket path (anything with a `/`); throws a TypeError naming the address.
 */
export function parseListenAddress(s: string): ListenAddress {
  if (s.includes("/")) return new ListenAddress("unix", "", -1, s);
  const { hostname, port } = splitHostPort(s);
  return new ListenAddress("tcp", hostname || "0.0.0.0", port, "");
}

/** Binds a TCP or unix listener. */
export function listen(addr: ListenAddress): Deno.Listener {
  if (addr.transport === "unix") {
    try {
      // A socket file left by a previous run would make the bind fail; other files are kept.
      if (Deno.lstatSync(addr.path).isSocket) Deno.removeSync(addr.path);
    } catch { /* nothing there */ }
    return Deno.listen({ transport: "unix", path: addr.path });
  }
  return Deno.listen({ transport: "tcp", hostname: addr.hostname, port: addr.port });
}
