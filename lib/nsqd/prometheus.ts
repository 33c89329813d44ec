/**
 * Prometheus metrics for nsqd (text exposition format 0.0.4), built from the same
 * {@link StatsResponse} as GET /stats. Go nsqd has no such endpoint (nsqio/nsq#732 asks for one;
 * users run lovoo/nsq_exporter or life360/nsq_exporter against /stats), so the names here are our
 * own: `nsq_` + the /stats field name, labelled by topic / channel / client.
 *
 * Families are written in {@link PROMETHEUS_METRICS} order, each with its HELP and TYPE lines
 * followed by all of its samples; families without samples are left out. Counters carry the
 * /stats field names (no `_total` suffix) so dashboards can be read against /stats directly.
 */
import { NSQ_VERSION } from "../version.ts";
import type { ClientStats, E2eResult, StatsResponse } from "./stats.ts";

/** The Content-Type of the exposition. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Process figures the stats document lacks. */
export interface PrometheusExtra {
  /** Resident set size in bytes. */
  rssBytes: number;
  /** V8 heap bytes in use. */
  heapUsedBytes: number;
  /** V8 heap bytes reserved. */
  heapTotalBytes: number;
  /** Bytes held outside the V8 heap (ArrayBuffers, native). */
  externalBytes: number;
}

/** {@link PrometheusExtra} from `Deno.memoryUsage()`. */
export function processMetrics(): PrometheusExtra {
  const m = Deno.memoryUsage();
  return {
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    heapTotalBytes: m.heapTotal,
    externalBytes: m.external,
  };
}

/** One metric family as documented and exposed. */
export interface MetricInfo {
  name: string;
  type: "counter" | "gauge";
  labels: readonly string[];
  help: string;
}

const T = ["topic"] as const;
const TC = ["topic", "channel"] as const;
const CLIENT = ["topic", "channel", "client_id", "hostname", "remote_address"] as const;

/** Every family {@link renderPrometheus} can write, in output order (README table source). */
export const PROMETHEUS_METRICS: readonly MetricInfo[] = [
  { name: "nsq_up", type: "gauge", labels: [], help: "Always 1 while nsqd answers this scrape." },
  {
    name: "nsq_healthy",
    type: "gauge",
    labels: [],
    help: "1 when nsqd is healthy (/ping answers OK), 0 after a failed disk write.",
  },
  {
    name: "nsq_build_info",
    type: "gauge",
    labels: ["version"],
    help: "Always 1; the NSQ version this nsqd is compatible with.",
  },
  {
    name: "nsq_start_time_seconds",
    type: "gauge",
    labels: [],
    help: "Start time of nsqd since the unix epoch in seconds.",
  },
  {
    name: "process_resident_memory_bytes",
    type: "gauge",
    labels: [],
    help: "Resident memory size in bytes.",
  },
  { name: "nsq_heap_used_bytes", type: "gauge", labels: [], help: "V8 heap bytes in use." },
  { name: "nsq_heap_total_bytes", type: "gauge", labels: [], help: "V8 heap bytes reserved." },
  {
    name: "nsq_external_memory_bytes",
    type: "gauge",
    labels: [],
    help: "Bytes held outside the V8 heap (message buffers, native memory).",
  },
  {
    name: "nsq_topic_message_count",
    type: "counter",
    labels: T,
    help: "Messages published to the topic.",
  },
  {
    name: "nsq_topic_message_bytes",
    type: "counter",
    labels: T,
    help: "Message body bytes published to the topic.",
  },
  {
    name: "nsq_topic_depth",
    type: "gauge",
    labels: T,
    help: "Messages queued in the topic (memory and disk), not yet copied to its channels.",
  },
  {
    name: "nsq_topic_backend_depth",
    type: "gauge",
    labels: T,
    help: "Messages queued in the topic's disk queue.",
  },
  { name: "nsq_topic_paused", type: "gauge", labels: T, help: "1 when the topic is paused." },
  {
    name: "nsq_topic_e2e_processing_latency_seconds",
    type: "gauge",
    labels: [...T, "quantile"],
    help: "End-to-end processing latency (publish to FIN) at a quantile over the window, " +
      "all channels merged.",
  },
  {
    name: "nsq_topic_e2e_processing_latency_count",
    type: "gauge",
    labels: T,
    help: "FINished messages in the topic's e2e latency window.",
  },
  {
    name: "nsq_channel_depth",
    type: "gauge",
    labels: TC,
    help: "Messages queued in the channel (memory and disk), not counting in-flight or deferred.",
  },
  {
    name: "nsq_channel_backend_depth",
    type: "gauge",
    labels: TC,
    help: "Messages queued in the channel's disk queue.",
  },
  {
    name: "nsq_channel_in_flight_count",
    type: "gauge",
    labels: TC,
    help: "Messages sent to clients and not yet FINished, REQueued or timed out.",
  },
  {
    name: "nsq_channel_deferred_count",
    type: "gauge",
    labels: TC,
    help: "Messages waiting for a deferred (DPUB or REQ with delay) time.",
  },
  {
    name: "nsq_channel_message_count",
    type: "counter",
    labels: TC,
    help: "Messages the channel received from its topic.",
  },
  {
    name: "nsq_channel_requeue_count",
    type: "counter",
    labels: TC,
    help: "Messages requeued (REQ) on the channel.",
  },
  {
    name: "nsq_channel_timeout_count",
    type: "counter",
    labels: TC,
    help: "In-flight messages that timed out on the channel.",
  },
  {
    name: "nsq_channel_dead_letter_count",
    type: "counter",
    labels: TC,
    help:
      "Messages dead-lettered after max_attempts (published to the dead-letter topic or dropped); only channels using it.",
  },
  {
    name: "nsq_channel_max_attempts",
    type: "gauge",
    labels: TC,
    help: "The channel's max_attempts (0 = unlimited); only channels using dead-lettering.",
  },
  {
    name: "nsq_channel_clients",
    type: "gauge",
    labels: TC,
    help: "Clients subscribed to the channel.",
  },
  { name: "nsq_channel_paused", type: "gauge", labels: TC, help: "1 when the channel is paused." },
  {
    name: "nsq_channel_e2e_processing_latency_seconds",
    type: "gauge",
    labels: [...TC, "quantile"],
    help: "End-to-end processing latency (publish to FIN) at a quantile over the window.",
  },
  {
    name: "nsq_channel_e2e_processing_latency_count",
    type: "gauge",
    labels: TC,
    help: "FINished messages in the channel's e2e latency window.",
  },
  {
    name: "nsq_client_ready_count",
    type: "gauge",
    labels: CLIENT,
    help: "The client's RDY count.",
  },
  {
    name: "nsq_client_in_flight_count",
    type: "gauge",
    labels: CLIENT,
    help: "Messages in flight to the client.",
  },
  {
    name: "nsq_client_message_count",
    type: "counter",
    labels: CLIENT,
    help: "Messages sent to the client.",
  },
  {
    name: "nsq_client_finish_count",
    type: "counter",
    labels: CLIENT,
    help: "Messages the client FINished.",
  },
  {
    name: "nsq_client_requeue_count",
    type: "counter",
    labels: CLIENT,
    help: "Messages the client REQueued.",
  },
  {
    name: "nsq_producer_message_count",
    type: "counter",
    labels: ["client_id", "hostname", "remote_address", "topic"],
    help: "Messages a TCP producer published to a topic (as /stats pub_counts reports them).",
  },
];

type Sample = [labelValues: readonly (string | number)[], value: number];

/**
 * The exposition for one scrape. Client and producer families appear only when `s` was built
 * with clients (`include_clients`); memory figures come from `extra`.
 */
export function renderPrometheus(s: StatsResponse, extra: PrometheusExtra): string {
  const samples = new Map<string, Sample[]>();
  for (const m of PROMETHEUS_METRICS) samples.set(m.name, []);
  const add = (name: string, labels: readonly (string | number)[], value: number) =>
    samples.get(name)!.push([labels, value]);

  add("nsq_up", [], 1);
  add("nsq_healthy", [], s.health === "OK" ? 1 : 0);
  add("nsq_build_info", [s.version || NSQ_VERSION], 1);
  add("nsq_start_time_seconds", [], s.start_time);
  add("process_resident_memory_bytes", [], extra.rssBytes);
  add("nsq_heap_used_bytes", [], extra.heapUsedBytes);
  add("nsq_heap_total_bytes", [], extra.heapTotalBytes);
  add("nsq_external_memory_bytes", [], extra.externalBytes);

  const addE2e = (prefix: string, labels: readonly string[], e: E2eResult) => {
    if (e.percentiles === null) return;
    for (const p of e.percentiles) {
      add(`${prefix}_seconds`, [...labels, String(p.quantile)], p.value / 1e9);
    }
    add(`${prefix}_count`, labels, e.count);
  };

  for (const t of s.topics ?? []) {
    const tl = [t.topic_name];
    add("nsq_topic_message_count", tl, t.message_count);
    add("nsq_topic_message_bytes", tl, t.message_bytes);
    add("nsq_topic_depth", tl, t.depth);
    add("nsq_topic_backend_depth", tl, t.backend_depth);
    add("nsq_topic_paused", tl, t.paused ? 1 : 0);
    addE2e("nsq_topic_e2e_processing_latency", tl, t.e2e_processing_latency);
    for (const c of t.channels) {
      const cl = [t.topic_name, c.channel_name];
      add("nsq_channel_depth", cl, c.depth);
      add("nsq_channel_backend_depth", cl, c.backend_depth);
      add("nsq_channel_in_flight_count", cl, c.in_flight_count);
      add("nsq_channel_deferred_count", cl, c.deferred_count);
      add("nsq_channel_message_count", cl, c.message_count);
      add("nsq_channel_requeue_count", cl, c.requeue_count);
      add("nsq_channel_timeout_count", cl, c.timeout_count);
      if (c.dead_letter_count !== undefined) {
        add("nsq_channel_dead_letter_count", cl, c.dead_letter_count);
        add("nsq_channel_max_attempts", cl, c.max_attempts ?? 0);
      }
      add("nsq_channel_clients", cl, c.client_count);
      add("nsq_channel_paused", cl, c.paused ? 1 : 0);
      addE2e("nsq_channel_e2e_processing_latency", cl, c.e2e_processing_latency);
      for (const client of c.clients ?? []) {
        const l = [...cl, client.client_id, client.hostname, client.remote_address];
        add("nsq_client_ready_count", l, client.ready_count);
        add("nsq_client_in_flight_count", l, client.in_flight_count);
        add("nsq_client_message_count", l, client.message_count);
        add("nsq_client_finish_count", l, client.finish_count);
        add("nsq_client_requeue_count", l, client.requeue_count);
      }
    }
  }
  for (const p of s.producers ?? []) addProducer(add, p);

  let out = "";
  for (const m of PROMETHEUS_METRICS) {
    const rows = samples.get(m.name)!;
    if (rows.length === 0) continue;
    out += `# HELP ${m.name} ${escapeHelp(m.help)}\n# TYPE ${m.name} ${m.type}\n`;
    for (const [values, value] of rows) {
      out += m.name;
      if (m.labels.length > 0) {
        out += "{";
        for (let i = 0; i < m.labels.length; i++) {
          if (i > 0) out += ",";
          out += `${m.labels[i]}="${escapeLabelValue(String(values[i]))}"`;
        }
        out += "}";
      }
      out += ` ${formatValue(value)}\n`;
    }
  }
  return out;
}

function addProducer(
  add: (name: string, labels: readonly (string | number)[], value: number) => void,
  p: ClientStats,
): void {
  for (const pc of p.pub_counts ?? []) {
    add(
      "nsq_producer_message_count",
      [p.client_id, p.hostname, p.remote_address, pc.topic],
      pc.count,
    );
  }
}

/** Label values escape backslash, double quote and line feed. */
export function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

/** Go-parsable float text: integers plainly, `NaN`, `+Inf`, `-Inf` spelled as Prometheus does. */
function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
