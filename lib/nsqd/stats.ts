/**
 * GET /stats: the data model and its two renderings, mirroring Go nsqd 1.3.0
 * (nsqd/stats.go, nsqd/client_v2.go `ClientV2Stats`, nsqd/http.go `doStats` / `printStats`).
 *
 * The core fills a {@link StatsResponse} from its topics, channels and clients; this module only
 * renders it:
 * - {@link renderStatsJson}: the `format=json` body, keys in Go struct order, Go's omitempty and
 *   null-vs-[] choices, Go's HTML-safe string escaping;
 * - {@link renderStatsText}: the default text body, line for line as `printStats` writes it.
 *
 * Null rules (what Go's GetStats produces; the core must follow them when filling the object):
 * - `topics`: `[]` when there are no topics, `null` when a `?topic=` filter matched nothing.
 *   With a `?channel=` filter, topics lacking that channel are skipped (so `[]` is possible).
 * - `topic.channels`: always an array.
 * - `channel.clients`: `null` when `include_clients=false`, otherwise an array (maybe empty).
 * - `producers`: `null` when `include_clients=false` or when no TCP client has published.
 * - `memory`: omitted when `include_mem=false`.
 * - a producer's `pub_counts` lists at most one topic (Go's loop breaks after the first entry),
 *   restricted to the `?topic=` filter when one is given.
 */

/** node:v8's getHeapStatistics, loaded on first use (see {@linkcode loadHeapStatistics}). */
let getHeapStatistics: typeof import("node:v8").getHeapStatistics | null = null;

/**
 * Loads node:v8 for {@linkcode memStats}'s `heap_released_bytes` (a plain nsqd that is never
 * asked for memory stats does not load the module). Call before `memStats`.
 */
export async function loadHeapStatistics(): Promise<void> {
  getHeapStatistics ??= (await import("node:v8")).getHeapStatistics;
}
import { formatDuration, formatDurationNanos } from "../internal/duration.ts";
import { cutHostPort } from "../internal/net_addr.ts";
import { NSQ_VERSION } from "../version.ts";
import type { E2eResult } from "./quantile.ts";

export type { E2ePercentile, E2eResult } from "./quantile.ts";

/** A producer's published-message count for one topic. */
export interface PubCount {
  topic: string;
  count: number;
}

/**
 * One TCP client (Go `ClientV2Stats`, 1.3.0 field set, without master's topology fields).
 * `authed`, `auth_identity`, `auth_identity_url` and `pub_counts` are omitempty in Go: leave them
 * out (or false / "" / []) and the JSON rendering drops them.
 */
export interface ClientStats {
  client_id: string;
  hostname: string;
  /** Always `"V2"`. */
  version: string;
  /** `host:port` of the peer (`[v6]:port` for IPv6). */
  remote_address: string;
  /** 0 init, 1 disconnected, 2 connected, 3 subscribed, 4 closing. */
  state: number;
  ready_count: number;
  in_flight_count: number;
  message_count: number;
  finish_count: number;
  requeue_count: number;
  /** Connect time, unix seconds. */
  connect_ts: number;
  sample_rate: number;
  deflate: boolean;
  snappy: boolean;
  user_agent: string;
  authed?: boolean;
  auth_identity?: string;
  auth_identity_url?: string;
  pub_counts?: PubCount[];
  tls: boolean;
  /** Go's cipher suite name (e.g. `TLS_AES_128_GCM_SHA256`), "" without TLS. */
  tls_cipher_suite: string;
  /** `TLS1.0` .. `TLS1.3`, "" without TLS. */
  tls_version: string;
  tls_negotiated_protocol: string;
  tls_negotiated_protocol_is_mutual: boolean;
}

/** One channel (Go `ChannelStats`, 1.3.0 field set). */
export interface ChannelStats {
  channel_name: string;
  /** Memory + backend depth. */
  depth: number;
  backend_depth: number;
  in_flight_count: number;
  deferred_count: number;
  message_count: number;
  requeue_count: number;
  timeout_count: number;
  /** Number of subscribed clients, filled even when `clients` is null. */
  client_count: number;
  clients: ClientStats[] | null;
  paused: boolean;
  e2e_processing_latency: E2eResult;
}

/** One topic (Go `TopicStats`). */
export interface TopicStats {
  topic_name: string;
  /** Sorted by name. */
  channels: ChannelStats[];
  /** Memory + backend depth. */
  depth: number;
  backend_depth: number;
  message_count: number;
  message_bytes: number;
  paused: boolean;
  /** Merge of the channels' streams ({count: 0, percentiles: null} without any). */
  e2e_processing_latency: E2eResult;
}

/** Go's `memStats` (runtime.MemStats digest); see {@link memStats} for the Deno mapping. */
export interface MemStats {
  heap_objects: number;
  heap_idle_bytes: number;
  heap_in_use_bytes: number;
  heap_released_bytes: number;
  gc_pause_usec_100: number;
  gc_pause_usec_99: number;
  gc_pause_usec_95: number;
  next_gc_bytes: number;
  gc_total_runs: number;
}

/** The whole /stats document (the anonymous struct in Go's `doStats`). */
export interface StatsResponse {
  /** `"1.3.0"`. */
  version: string;
  /** `"OK"` or `"NOK - <last backend write error>"`. */
  health: string;
  /** Daemon start, unix seconds. */
  start_time: number;
  /** Sorted by name; see the module doc for null. */
  topics: TopicStats[] | null;
  /** Omitted when `include_mem=false`. */
  memory?: MemStats;
  producers: ClientStats[] | null;
}

// ---------------------------------------------------------------------------------------------
// JSON

/**
 * Rebuilds the document as plain objects in Go's key order with Go's omitempty applied, whatever
 * order or extra fields the core's objects have. JSON.stringify of the result equals Go's
 * encoding (modulo string escaping, see {@link marshalGoJson}).
 */
export function statsJsonValue(s: StatsResponse): Record<string, unknown> {
  const out: Record<string, unknown> = {
    version: s.version,
    health: s.health,
    start_time: s.start_time,
    topics: s.topics === null ? null : s.topics.map(topicJson),
  };
  if (s.memory) out.memory = memJson(s.memory);
  out.producers = s.producers === null ? null : s.producers.map(clientJson);
  return out;
}

/** The `GET /stats?format=json` body, byte for byte as Go nsqd 1.3.0 writes it. */
export function renderStatsJson(s: StatsResponse): string {
  return marshalGoJson(statsJsonValue(s));
}

function e2eJson(e: E2eResult): E2eResult {
  return {
    count: e.count,
    percentiles: e.percentiles === null
      ? null
      : e.percentiles.map((p) => ({ quantile: p.quantile, value: p.value })),
  };
}

function topicJson(t: TopicStats): TopicStats {
  return {
    topic_name: t.topic_name,
    channels: t.channels.map(channelJson),
    depth: t.depth,
    backend_depth: t.backend_depth,
    message_count: t.message_count,
    message_bytes: t.message_bytes,
    paused: t.paused,
    e2e_processing_latency: e2eJson(t.e2e_processing_latency),
  };
}

function channelJson(c: ChannelStats): ChannelStats {
  return {
    channel_name: c.channel_name,
    depth: c.depth,
    backend_depth: c.backend_depth,
    in_flight_count: c.in_flight_count,
    deferred_count: c.deferred_count,
    message_count: c.message_count,
    requeue_count: c.requeue_count,
    timeout_count: c.timeout_count,
    client_count: c.client_count,
    clients: c.clients === null ? null : c.clients.map(clientJson),
    paused: c.paused,
    e2e_processing_latency: e2eJson(c.e2e_processing_latency),
  };
}

function clientJson(c: ClientStats): ClientStats {
  const out: ClientStats = {
    client_id: c.client_id,
    hostname: c.hostname,
    version: c.version,
    remote_address: c.remote_address,
    state: c.state,
    ready_count: c.ready_count,
    in_flight_count: c.in_flight_count,
    message_count: c.message_count,
    finish_count: c.finish_count,
    requeue_count: c.requeue_count,
    connect_ts: c.connect_ts,
    sample_rate: c.sample_rate,
    deflate: c.deflate,
    snappy: c.snappy,
    user_agent: c.user_agent,
  } as ClientStats;
  // omitempty: false, "" and empty slices are left out
  if (c.authed) out.authed = true;
  if (c.auth_identity) out.auth_identity = c.auth_identity;
  if (c.auth_identity_url) out.auth_identity_url = c.auth_identity_url;
  if (c.pub_counts && c.pub_counts.length > 0) {
    out.pub_counts = c.pub_counts.map((p) => ({ topic: p.topic, count: p.count }));
  }
  out.tls = c.tls;
  out.tls_cipher_suite = c.tls_cipher_suite;
  out.tls_version = c.tls_version;
  out.tls_negotiated_protocol = c.tls_negotiated_protocol;
  out.tls_negotiated_protocol_is_mutual = c.tls_negotiated_protocol_is_mutual;
  return out;
}

function memJson(m: MemStats): MemStats {
  return {
    heap_objects: m.heap_objects,
    heap_idle_bytes: m.heap_idle_bytes,
    heap_in_use_bytes: m.heap_in_use_bytes,
    heap_released_bytes: m.heap_released_bytes,
    gc_pause_usec_100: m.gc_pause_usec_100,
    gc_pause_usec_99: m.gc_pause_usec_99,
    gc_pause_usec_95: m.gc_pause_usec_95,
    next_gc_bytes: m.next_gc_bytes,
    gc_total_runs: m.gc_total_runs,
  };
}

const GO_JSON_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
  "\\b": "\\u0008",
  "\\f": "\\u000c",
  "\\\\": "\\\\",
};

/**
 * JSON.stringify with Go encoding/json's string escaping (Go 1.21, what nsq 1.3.0 ships with):
 * `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes, and `\b` / `\f` as `\u0008` / `\u000c`.
 * Numbers and structure are already identical (both print the shortest round-trip form).
 * These characters only ever occur inside strings, so a pass over the output is safe; escaped
 * backslashes are matched as a unit so `\\b` (backslash, b) is left alone.
 */
export function marshalGoJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]|\\[\\bf]/g,
    (m) => GO_JSON_ESCAPES[m],
  );
}

// ---------------------------------------------------------------------------------------------
// Text

/** Options for {@link renderStatsText}. */
export interface StatsTextOptions {
  /** Daemon start, epoch milliseconds (for `start_time` and `uptime`). */
  startTimeMs: number;
  /** Now, epoch milliseconds (for `uptime` and the clients' `connected:`). */
  nowMs: number;
  /**
   * First line; Go prints `version.String("nsqd")` = `nsqd v1.3.0 (built w/go1.21.x)`.
   * Default: `nsqd v1.3.0 (built w/deno<deno version>)`.
   */
  versionLine?: string;
  /**
   * Local time zone offset east of UTC in minutes for `start_time` (Go formats local time).
   * Default: the process time zone at `startTimeMs`.
   */
  utcOffsetMinutes?: number;
}

/** The default text first line, in the shape of Go's `version.String("nsqd")`. */
export function defaultStatsVersionLine(): string {
  return `nsqd v${NSQ_VERSION} (built w/deno${Deno.version.deno})`;
}

const MEM_FIELDS: readonly (keyof MemStats)[] = [
  "heap_objects",
  "heap_idle_bytes",
  "heap_in_use_bytes",
  "heap_released_bytes",
  "gc_pause_usec_100",
  "gc_pause_usec_99",
  "gc_pause_usec_95",
  "next_gc_bytes",
  "gc_total_runs",
];

/** The `GET /stats` text body (any `format` but `json`), line for line as Go's `printStats`. */
export function renderStatsText(s: StatsResponse, opts: StatsTextOptions): string {
  const { startTimeMs, nowMs } = opts;
  const offset = opts.utcOffsetMinutes ?? -new Date(startTimeMs).getTimezoneOffset();
  let w = "";
  w += `${opts.versionLine ?? defaultStatsVersionLine()}\n`;
  w += `start_time ${formatRfc3339(startTimeMs, offset)}\n`;
  w += `uptime ${formatDuration(nowMs - startTimeMs)}\n`;
  w += `\nHealth: ${s.health}\n`;

  if (s.memory) {
    w += "\nMemory:\n";
    for (const k of MEM_FIELDS) w += `   ${padRight(k, 25)}\t${s.memory[k]}\n`;
  }

  const topics = s.topics ?? [];
  w += topics.length === 0 ? "\nTopics: None\n" : "\nTopics:";
  for (const t of topics) {
    w += `\n${t.paused ? "*P " : "   "}[${padRight(t.topic_name, 15)}] depth: ${
      padRight(t.depth, 5)
    } be-depth: ${padRight(t.backend_depth, 5)} msgs: ${padRight(t.message_count, 8)} e2e%: ${
      e2eHuman(t.e2e_processing_latency)
    }\n`;
    for (const c of t.channels) {
      w += `${c.paused ? "   *P " : "      "}[${padRight(c.channel_name, 25)}] depth: ${
        padRight(c.depth, 5)
      } be-depth: ${padRight(c.backend_depth, 5)} inflt: ${padRight(c.in_flight_count, 4)} def: ${
        padRight(c.deferred_count, 4)
      } re-q: ${padRight(c.requeue_count, 5)} timeout: ${padRight(c.timeout_count, 5)} msgs: ${
        padRight(c.message_count, 8)
      } e2e%: ${e2eHuman(c.e2e_processing_latency)}\n`;
      for (const client of c.clients ?? []) w += `        ${clientLine(client, nowMs)}\n`;
    }
  }

  const producers = s.producers ?? [];
  if (producers.length === 0) {
    w += "\nProducers: None\n";
  } else {
    w += "\nProducers:\n";
    for (const p of producers) w += `   ${clientLine(p, nowMs)}\n`;
  }
  return w;
}

/**
 * A client's text line (Go `ClientV2Stats.String`): the producer form when it has published
 * (`pub_counts` non-empty), else the consumer form. `connected:` is now - connect_ts truncated to
 * whole seconds, as a Go duration.
 */
export function clientLine(c: ClientStats, nowMs: number): string {
  const connectedNs = Math.trunc((nowMs - c.connect_ts * 1000) / 1000) * 1e9;
  const connected = formatDurationNanos(BigInt(connectedNs));
  const id = padRight(`${c.hostname}:${splitPort(c.remote_address)} ${c.user_agent}`, 21);
  if (c.pub_counts && c.pub_counts.length > 0) {
    let total = 0;
    const topics: string[] = [];
    for (const p of c.pub_counts) {
      total += p.count;
      topics.push(`${p.topic}=${p.count}`);
    }
    return `[${c.version} ${id}] msgs: ${padRight(total, 8)} topics: ${
      topics.join(",")
    } connected: ${connected}`;
  }
  return `[${c.version} ${id}] state: ${c.state} inflt: ${padRight(c.in_flight_count, 4)} rdy: ${
    padRight(c.ready_count, 4)
  } fin: ${padRight(c.finish_count, 8)} re-q: ${padRight(c.requeue_count, 8)} msgs: ${
    padRight(c.message_count, 8)
  } connected: ${connected}`;
}

/** Go `quantile.Result.String()`: the values as human durations joined by ", "; "" when none. */
export function e2eHuman(e: E2eResult): string {
  return (e.percentiles ?? []).map((p) => nanoSecondToHuman(p.value)).join(", ");
}

/** Go `stringy.NanoSecondToHuman`: one decimal and the largest unit strictly exceeded. */
export function nanoSecondToHuman(v: number): string {
  let suffix = "ns";
  if (v > 1e9) {
    v /= 1e9;
    suffix = "s";
  } else if (v > 1e6) {
    v /= 1e6;
    suffix = "ms";
  } else if (v > 1e3) {
    v /= 1e3;
    suffix = "us";
  }
  return goFixed(v, 1) + suffix;
}

/**
 * Go's `%.<digits>f`: the exact binary value rounded to `digits` decimals, exact ties to even
 * (JavaScript's toFixed sends ties away from zero: 1.25 → "1.3" where Go prints "1.2").
 */
export function goFixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  const twice = Math.abs(x) * 2 * 10 ** digits;
  // an exact tie is a dyadic value whose doubled scaled form is an odd integer (computed exactly
  // while below 2^53)
  if (!Number.isInteger(twice) || twice % 2 !== 1 || twice >= 2 ** 53) return s;
  let n = (twice - 1) / 2; // the lower candidate, in units of 10^-digits
  if (n % 2 === 1) n += 1;
  let str = String(n).padStart(digits + 1, "0");
  if (digits > 0) str = `${str.slice(0, -digits)}.${str.slice(-digits)}`;
  return (x < 0 ? "-" : "") + str;
}

/** `%-<width>v` for a string or integer: left-justified, padded by code points like Go. */
function padRight(v: string | number, width: number): string {
  const s = String(v);
  let len = 0;
  for (const _ of s) len++;
  return len >= width ? s : s + " ".repeat(width - len);
}

/** The port part of `host:port` / `[v6]:port` (Go net.SplitHostPort; "" when unparsable). */
function splitPort(addr: string): string {
  try {
    return cutHostPort(addr).port;
  } catch {
    return "";
  }
}

/** Go `time.RFC3339` (`2006-01-02T15:04:05Z07:00`) of an epoch-ms instant at a UTC offset. */
export function formatRfc3339(epochMs: number, utcOffsetMinutes: number): string {
  const d = new Date(Math.floor(epochMs / 1000) * 1000 + utcOffsetMinutes * 60_000);
  const p2 = (n: number) => String(n).padStart(2, "0");
  const date = `${String(d.getUTCFullYear()).padStart(4, "0")}-${p2(d.getUTCMonth() + 1)}-${
    p2(d.getUTCDate())
  }`;
  const time = `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  if (utcOffsetMinutes === 0) return `${date}T${time}Z`;
  const sign = utcOffsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(utcOffsetMinutes);
  return `${date}T${time}${sign}${p2(Math.floor(abs / 60))}:${p2(abs % 60)}`;
}

// ---------------------------------------------------------------------------------------------
// Memory

/** Garbage-collector observations the daemon may supply (V8 exposes none to Deno programs). */
export interface GcObservations {
  /** Recent GC pause lengths in nanoseconds (Go keeps the last 256). */
  pausesNs: readonly number[];
  /** Completed GC cycles. */
  runs: number;
}

/**
 * Go's `getMemStats()` filled from V8 under Go's field names. Mapping:
 * - `heap_objects`: 0 (V8 does not count live objects cheaply);
 * - `heap_idle_bytes`: heapTotal − heapUsed (reserved heap pages not holding objects);
 * - `heap_in_use_bytes`: heapUsed;
 * - `heap_released_bytes`: V8 total_heap_size − total_physical_size (reserved but not backed by
 *   RAM, the closest thing to memory returned to the OS);
 * - `gc_pause_usec_100/99/95`: percentiles of `gc.pausesNs` in µs (Go's nearest-rank index
 *   floor(p/100·n + 0.5), clamped), 0 without observations;
 * - `next_gc_bytes`: heapTotal (V8 grows the heap, collecting first, when it is full);
 * - `gc_total_runs`: `gc.runs`, 0 without observations.
 */
export function memStats(gc?: GcObservations): MemStats {
  const m = Deno.memoryUsage();
  const h = getHeapStatistics?.();
  const released = h ? Math.max(0, h.total_heap_size - h.total_physical_size) : 0;
  const pauses = [...(gc?.pausesNs ?? [])].sort((a, b) => a - b);
  return {
    heap_objects: 0,
    heap_idle_bytes: Math.max(0, m.heapTotal - m.heapUsed),
    heap_in_use_bytes: m.heapUsed,
    heap_released_bytes: released,
    gc_pause_usec_100: Math.trunc(goPercentile(100, pauses) / 1000),
    gc_pause_usec_99: Math.trunc(goPercentile(99, pauses) / 1000),
    gc_pause_usec_95: Math.trunc(goPercentile(95, pauses) / 1000),
    next_gc_bytes: m.heapTotal,
    gc_total_runs: gc?.runs ?? 0,
  };
}

/** Go nsqd's `percentile(perc, sorted, len)`. */
function goPercentile(perc: number, sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return 0;
  let i = Math.floor((perc / 100) * n + 0.5);
  if (i >= n) i = n - 1;
  return sorted[i];
}
