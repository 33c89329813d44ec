/**
 * `host:port` addresses as NSQ's flags spell them (`127.0.0.1:4150`, `[::1]:4150`, `:4150`), the
 * one parser and printer for the whole program: listeners (lib/protocol/listen.ts, the HTTP
 * servers, nsqlookupd), dialers (lookup peers, statsd, the bench scripts, the test clients) and
 * the remote addresses shown in stats and logs.
 *
 * @module
 */

/** A TCP host and port, the shape `Deno.listen` and `Deno.connect` take. */
export interface HostPort {
  hostname: string;
  port: number;
}

/**
 * Go's `net.SplitHostPort` without the port check: the host (brackets removed) and port text of
 * `"host:port"` / `"[v6]:port"` / `":port"`. Throws a `TypeError` in Go's words (`address x:
 * missing port in address`, `too many colons in address`) when there is no single port part.
 */
export function cutHostPort(address: string): { host: string; port: string } {
  if (address.startsWith("[")) {
    const end = address.indexOf("]:");
    if (end < 0) throw new TypeError(`address ${address}: missing port in address`);
    return { host: address.slice(1, end), port: address.slice(end + 2) };
  }
  const colon = address.lastIndexOf(":");
  if (colon < 0) throw new TypeError(`address ${address}: missing port in address`);
  const host = address.slice(0, colon);
  if (host.includes(":")) throw new TypeError(`address ${address}: too many colons in address`);
  return { host, port: address.slice(colon + 1) };
}

/**
 * Splits `"host:port"` / `"[v6]:port"` / `":port"` like Go's `net.SplitHostPort`; the port must
 * be a decimal number in 0..65535. Throws a `TypeError` naming the address otherwise.
 */
export function splitHostPort(address: string): HostPort {
  const { host, port } = cutHostPort(address);
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) {
    throw new TypeError(`address ${address}: invalid port`);
  }
  return { hostname: host, port: Number(port) };
}

/**
 * {@linkcode splitHostPort} for dialing: an empty host (`":4150"`) means this machine,
 * `127.0.0.1`, as Go's `net.Dial` takes it.
 */
export function dialAddress(address: string): HostPort {
  const { hostname, port } = splitHostPort(address);
  return { hostname: hostname === "" ? "127.0.0.1" : hostname, port };
}

/** Joins a host and port like Go's `net.JoinHostPort` (brackets around IPv6 literals). */
export function joinHostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** `ip:port` of a TCP or UDP address, the path of a unix socket. */
export function formatAddr(addr: Deno.Addr): string {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return joinHostPort(addr.hostname, addr.port);
  }
  return "path" in addr ? addr.path : "";
}
