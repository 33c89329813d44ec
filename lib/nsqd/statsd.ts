/**
 * Pushing stats to statsd over UDP (Go nsqd 1.3.0 nsqd/statsd.go, internal/statsd,
 * internal/writers).
 *
 * Every `--statsd-interval` the loop takes a stats snapshot (without clients), turns it into
 * statsd lines (counters as deltas against the previous snapshot, gauges as current values),
 * packs the lines into datagrams of at most `--statsd-udp-packet-size` bytes at line boundaries
 * and sends them over a fresh UDP socket, spread evenly over (interval − 1 s) so a statsd
 * daemon is not hit by one burst. The pure pieces ({@link statsdPrefix}, {@link statsdLines},
 * {@link packStatsdLines}) are exported for tests and reuse.
 */
import type dgram from "node:dgram";
import type { Logger } from "../internal/log.ts";
import { splitHostPort } from "../internal/net_addr.ts";
import {
  goFixed,
  loadHeapStatistics,
  type MemStats,
  memStats as readDenoMemStats,
  type StatsResponse,
} from "./stats.ts";

const EPHEMERAL_SUFFIX = "#ephemeral";

/**
 * The effective key prefix (what Go's nsqd.New does to `--statsd-prefix`): every `%s` becomes
 * `<broadcast_address>:<broadcast_http_port>` (bracketed when the address is IPv6, like Go's
 * net.JoinHostPort) with `.` and `:` turned into `_`, and a `.` is appended when missing.
 * An empty template stays empty.
 */
export function statsdPrefix(template: string, broadcastAddress: string, httpPort: number): string {
  if (template === "") return "";
  const hostPort = broadcastAddress.includes(":")
    ? `[${broadcastAddress}]:${httpPort}`
    : `${broadcastAddress}:${httpPort}`;
  const hostKey = hostPort.replaceAll(".", "_").replaceAll(":", "_");
  let prefix = template.replaceAll("%s", hostKey);
  if (!prefix.endsWith(".")) prefix += ".";
  return prefix;
}

/** Options for {@link statsdLines}. */
export interface StatsdLinesOptions {
  /** The expanded prefix ({@link statsdPrefix}). */
  prefix: string;
  /** `--statsd-exclude-ephemeral`: skip `#ephemeral` topics and channels. */
  excludeEphemeral: boolean;
  /** Memory stats to send (`--statsd-mem-stats`); omit to send none. */
  mem?: MemStats | null;
  /** The memory stats sent last time (for the `mem.gc_runs` counter). */
  prevMem?: MemStats | null;
}

/**
 * The statsd lines for one push, in Go's order, without trailing newlines. Counters
 * (`message_count`, `message_bytes`, `requeue_count`, `timeout_count`, `mem.gc_runs`) are the
 * difference to `prev` (the whole value for topics or channels absent from `prev`, and possibly
 * negative when a counter restarted, as Go's uint64→int64 subtraction gives); everything else is
 * a gauge. E2e percentiles become `e2e_processing_latency_<round(q·100)>` gauges in integral ns.
 */
export function statsdLines(
  prev: StatsResponse | null,
  cur: StatsResponse,
  opts: StatsdLinesOptions,
): string[] {
  const p = opts.prefix;
  const lines: string[] = [];
  const counter = (stat: string, v: number) => lines.push(`${p}${stat}:${Math.trunc(v)}|c`);
  const gauge = (stat: string, v: number) => lines.push(`${p}${stat}:${Math.trunc(v)}|g`);

  for (const topic of cur.topics ?? []) {
    const t = topic.topic_name;
    if (opts.excludeEphemeral && t.endsWith(EPHEMERAL_SUFFIX)) continue;
    const last = prev?.topics?.find((x) => x.topic_name === t);
    counter(`topic.${t}.message_count`, topic.message_count - (last?.message_count ?? 0));
    counter(`topic.${t}.message_bytes`, topic.message_bytes - (last?.message_bytes ?? 0));
    gauge(`topic.${t}.depth`, topic.depth);
    gauge(`topic.${t}.backend_depth`, topic.backend_depth);
    for (const item of topic.e2e_processing_latency.percentiles ?? []) {
      gauge(`topic.${t}.e2e_processing_latency_${goFixed(item.quantile * 100, 0)}`, item.value);
    }

    for (const channel of topic.channels) {
      const c = channel.channel_name;
      if (opts.excludeEphemeral && c.endsWith(EPHEMERAL_SUFFIX)) continue;
      const lastC = last?.channels.find((x) => x.channel_name === c);
      const k = `topic.${t}.channel.${c}`;
      counter(`${k}.message_count`, channel.message_count - (lastC?.message_count ?? 0));
      gauge(`${k}.depth`, channel.depth);
      gauge(`${k}.backend_depth`, channel.backend_depth);
      gauge(`${k}.in_flight_count`, channel.in_flight_count);
      gauge(`${k}.deferred_count`, channel.deferred_count);
      counter(`${k}.requeue_count`, channel.requeue_count - (lastC?.requeue_count ?? 0));
      counter(`${k}.timeout_count`, channel.timeout_count - (lastC?.timeout_count ?? 0));
      gauge(`${k}.clients`, channel.client_count);
      for (const item of channel.e2e_processing_latency.percentiles ?? []) {
        gauge(`${k}.e2e_processing_latency_${goFixed(item.quantile * 100, 0)}`, item.value);
      }
    }
  }

  const ms = opts.mem;
  if (ms) {
    gauge("mem.heap_objects", ms.heap_objects);
    gauge("mem.heap_idle_bytes", ms.heap_idle_bytes);
    gauge("mem.heap_in_use_bytes", ms.heap_in_use_bytes);
    gauge("mem.heap_released_bytes", ms.heap_released_bytes);
    gauge("mem.gc_pause_usec_100", ms.gc_pause_usec_100);
    gauge("mem.gc_pause_usec_99", ms.gc_pause_usec_99);
    gauge("mem.gc_pause_usec_95", ms.gc_pause_usec_95);
    gauge("mem.next_gc_bytes", ms.next_gc_bytes);
    counter("mem.gc_runs", ms.gc_total_runs - (opts.prevMem?.gc_total_runs ?? 0));
  }
  return lines;
}

/**
 * Packs lines (each sent with a trailing `\n`) into datagrams of at most `packetSize` bytes,
 * breaking only between lines (Go's BoundaryBufferedWriter over a bufio.Writer). A single line
 * longer than `packetSize` goes out alone, unsplit.
 */
export function packStatsdLines(lines: readonly string[], packetSize: number): Uint8Array[] {
  const enc = new TextEncoder();
  const packets: Uint8Array[] = [];
  const buf = new Uint8Array(Math.max(packetSize, 0));
  let used = 0;
  const flush = () => {
    if (used > 0) packets.push(buf.slice(0, used));
    used = 0;
  };
  for (const line of lines) {
    const b = enc.encode(`${line}\n`);
    if (b.length > packetSize - used) flush();
    if (b.length > packetSize) {
      packets.push(b); // bufio writes an oversized chunk straight through
      continue;
    }
    buf.set(b, used);
    used += b.length;
  }
  flush();
  return packets;
}

/** Options for {@link StatsdLoop}. */
export interface StatsdLoopOptions {
  /** `--statsd-address`: UDP `host:port` (`[v6]:port` for IPv6 literals). */
  address: string;
  /** The expanded key prefix ({@link statsdPrefix}). */
  prefix: string;
  /** `--statsd-interval` in milliseconds. */
  intervalMs: number;
  /** `--statsd-mem-stats`: also send `mem.*`. */
  memStats: boolean;
  /** `--statsd-udp-packet-size` in bytes. */
  udpPacketSize: number;
  /** `--statsd-exclude-ephemeral`. */
  excludeEphemeral: boolean;
  logger: Logger;
  /** A stats snapshot; clients are not needed (Go asks for none). */
  getStats: () => StatsResponse;
  /** Memory stats source; defaults to stats.ts `memStats()`. */
  readMemStats?: () => MemStats;
}

/**
 * nsqd's statsdLoop. Ticks every `intervalMs` (a late tick does not cause a burst: the next one is
 * scheduled a full interval after it). Each tick dials a fresh UDP socket, sends one push spread
 * over (interval − 1 s) (all at once when that is not positive) and closes it. Aborting the
 * signal ends the wait at once; a push in progress sends its remaining packets without further
 * delay (as Go's SpreadWriter does on exit) and the loop resolves.
 */
export class StatsdLoop {
  readonly #o: StatsdLoopOptions;
  #lastStats: StatsResponse | null = null;
  #lastMem: MemStats | null = null;

  constructor(opts: StatsdLoopOptions) {
    if (!(opts.intervalMs > 0)) {
      throw new RangeError(`statsd interval ${opts.intervalMs} ms must be positive`);
    }
    this.#o = opts;
  }

  async run(signal: AbortSignal): Promise<void> {
    const interval = this.#o.intervalMs;
    let next = Date.now() + interval;
    while (await sleepUntil(next, signal)) {
      try {
        await this.push(signal);
      } catch (err) {
        this.#o.logger.error(`STATSD: push failed - ${err}`);
      }
      next += interval;
      const now = Date.now();
      if (next <= now) next = now + interval;
    }
    this.#o.logger.info("STATSD: closing");
  }

  /** One push: snapshot, lines, packets, spread send. Exposed for tests and manual triggers. */
  async push(signal?: AbortSignal): Promise<void> {
    const o = this.#o;
    let sock: dgram.Socket;
    try {
      const { hostname, port } = splitHostPort(o.address);
      sock = await dialUdp(hostname, port);
    } catch {
      o.logger.error(`failed to create UDP socket to statsd(${o.address})`);
      return;
    }
    try {
      o.logger.info(`STATSD: pushing stats to ${o.address}`);
      const stats = o.getStats();
      let mem: MemStats | null = null;
      if (o.memStats) {
        if (!o.readMemStats) await loadHeapStatistics();
        mem = (o.readMemStats ?? readDenoMemStats)();
      }
      const lines = statsdLines(this.#lastStats, stats, {
        prefix: o.prefix,
        excludeEphemeral: o.excludeEphemeral,
        mem,
        prevMem: this.#lastMem,
      });
      this.#lastStats = stats;
      if (mem) this.#lastMem = mem;
      const packets = packStatsdLines(lines, o.udpPacketSize);
      const spreadMs = o.intervalMs - 1000;
      const gap = packets.length > 0 ? spreadMs / packets.length : spreadMs;
      for (const p of packets) {
        await sendIgnoringErrors(sock, p);
        if (gap > 0 && !signal?.aborted) await sleepUntil(Date.now() + gap, signal);
      }
    } finally {
      await new Promise<void>((resolve) => sock.close(() => resolve()));
    }
  }
}

/** Resolves true at `deadlineMs`, or false as soon as the signal aborts. */
function sleepUntil(deadlineMs: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, Math.max(0, deadlineMs - Date.now()));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A connected UDP socket (Go's net.Dial("udp")): resolves the host once per push. */
async function dialUdp(host: string, port: number): Promise<dgram.Socket> {
  // Loaded on first use: a plain nsqd without --statsd-address never pays for node:dgram.
  const { createSocket } = await import("node:dgram");
  return await new Promise((resolve, reject) => {
    const sock = createSocket(host.includes(":") ? "udp6" : "udp4");
    const onError = (err: Error) => {
      sock.close();
      reject(err);
    };
    sock.once("error", onError);
    sock.connect(port, host || "127.0.0.1", () => {
      sock.off("error", onError);
      // later errors (e.g. ICMP port unreachable) are ignored, like Go ignores write errors
      sock.on("error", () => {});
      resolve(sock);
    });
  });
}

function sendIgnoringErrors(sock: dgram.Socket, packet: Uint8Array): Promise<void> {
  return new Promise((resolve) => sock.send(packet, () => resolve()));
}
