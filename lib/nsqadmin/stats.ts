/**
 * The stats nsqadmin shows, in the JSON shape of nsq's internal/clusterinfo/types.go: per-node
 * topic and channel stats read from nsqd's `/stats`, and their cluster-wide sums (`node: "*"`,
 * the per-node rows under `nodes`). Field order follows Go's structs so the JSON reads the same.
 */

/** One end-to-end latency percentile after aggregation. */
export type Percentile = Record<string, number>;

/** Go's quantile.E2eProcessingLatencyAggregate. */
export interface E2eAggregate {
  count: number;
  percentiles: Percentile[] | null;
  topic: string;
  channel: string;
  host: string;
}

/** Go's clusterinfo.ClientStats. `connected` is nanoseconds since connect (whole seconds). */
export interface ClientStats {
  node: string;
  remote_address: string;
  version: string;
  client_id: string;
  hostname: string;
  user_agent: string;
  connect_ts: number;
  connected: number;
  in_flight_count: number;
  ready_count: number;
  finish_count: number;
  requeue_count: number;
  message_count: number;
  sample_rate: number;
  deflate: boolean;
  snappy: boolean;
  authed: boolean;
  auth_identity: string;
  auth_identity_url: string;
  tls: boolean;
  tls_cipher_suite: string;
  tls_version: string;
  tls_negotiated_protocol: string;
  tls_negotiated_protocol_is_mutual: boolean;
}

/**
 * Go's clusterinfo.ChannelStats. The three optional fields exist only when the nsqd reports
 * them (nsq-deno's dead-letter feature); Go nsqd never does.
 */
export interface ChannelStats {
  node: string;
  hostname: string;
  topic_name: string;
  channel_name: string;
  depth: number;
  memory_depth: number;
  backend_depth: number;
  in_flight_count: number;
  deferred_count: number;
  requeue_count: number;
  timeout_count: number;
  message_count: number;
  client_count: number;
  nodes: ChannelStats[] | null;
  clients: ClientStats[] | null;
  paused: boolean;
  e2e_processing_latency: E2eAggregate | null;
  max_attempts?: number;
  dead_letter_topic?: string;
  dead_letter_count?: number;
}

/** Go's clusterinfo.TopicStats. */
export interface TopicStats {
  node: string;
  hostname: string;
  topic_name: string;
  depth: number;
  memory_depth: number;
  backend_depth: number;
  message_count: number;
  nodes: TopicStats[] | null;
  channels: ChannelStats[] | null;
  paused: boolean;
  e2e_processing_latency: E2eAggregate | null;
}

export function newTopicStats(topic: string): TopicStats {
  return {
    node: "",
    hostname: "",
    topic_name: topic,
    depth: 0,
    memory_depth: 0,
    backend_depth: 0,
    message_count: 0,
    nodes: null,
    channels: null,
    paused: false,
    e2e_processing_latency: null,
  };
}

export function newChannelStats(node: string, topic: string, channel: string): ChannelStats {
  return {
    node,
    hostname: "",
    topic_name: topic,
    channel_name: channel,
    depth: 0,
    memory_depth: 0,
    backend_depth: 0,
    in_flight_count: 0,
    deferred_count: 0,
    requeue_count: 0,
    timeout_count: 0,
    message_count: 0,
    client_count: 0,
    nodes: null,
    clients: null,
    paused: false,
    e2e_processing_latency: null,
  };
}

/** nsqd's `{count, percentiles:[{quantile, value}]}` as a one-node aggregate. */
export function e2eFromNsqd(
  raw: { count?: number; percentiles?: Record<string, number>[] | null } | undefined,
): E2eAggregate {
  const count = raw?.count ?? 0;
  const percentiles = raw?.percentiles == null ? null : raw.percentiles.map((p) => ({
    ...p,
    min: p.value,
    max: p.value,
    average: p.value,
    count,
  }));
  return { count, percentiles, topic: "", channel: "", host: "" };
}

/** Merges `b` into `a`: counts add, per quantile the max/min and a count-weighted average. */
export function addE2e(a: E2eAggregate, b: E2eAggregate | null): void {
  a.host = "*";
  if (b === null) return;
  a.count += b.count;
  for (const v of b.percentiles ?? []) {
    a.percentiles ??= [];
    let p = a.percentiles.find((x) => x.quantile === v.quantile);
    if (p === undefined) {
      p = { quantile: v.quantile, max: v.max, min: v.min, count: 0, average: 0 };
      a.percentiles.push(p);
    }
    p.max = Math.max(v.max, p.max);
    p.min = Math.min(v.min, p.min);
    p.count += v.count;
    if (p.count === 0) {
      p.average = 0;
      continue;
    }
    p.average += (v.average - p.average) * v.count / p.count;
  }
  a.percentiles?.sort((x, y) => y.quantile - x.quantile);
}

function sortByHost<T extends { hostname: string }>(list: T[]): void {
  list.sort((a, b) => a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0);
}

/** Adds one node's channel stats into the cluster-wide `agg` (Go's ChannelStats.Add). */
export function addChannel(agg: ChannelStats, c: ChannelStats): void {
  agg.node = "*";
  agg.depth += c.depth;
  agg.memory_depth += c.memory_depth;
  agg.backend_depth += c.backend_depth;
  agg.in_flight_count += c.in_flight_count;
  agg.deferred_count += c.deferred_count;
  agg.requeue_count += c.requeue_count;
  agg.timeout_count += c.timeout_count;
  agg.message_count += c.message_count;
  agg.client_count += c.client_count;
  if (c.paused) agg.paused = true;
  (agg.nodes ??= []).push(c);
  sortByHost(agg.nodes);
  agg.e2e_processing_latency ??= {
    count: 0,
    percentiles: null,
    topic: agg.topic_name,
    channel: agg.channel_name,
    host: agg.node,
  };
  addE2e(agg.e2e_processing_latency, c.e2e_processing_latency);
  // Go's append(nil, empty...) stays nil: no clients anywhere renders as null.
  if (c.clients !== null && c.clients.length > 0) {
    agg.clients = [...agg.clients ?? [], ...c.clients];
    sortByHost(agg.clients);
  }
  if (c.max_attempts !== undefined) agg.max_attempts = c.max_attempts;
  if (c.dead_letter_topic !== undefined) agg.dead_letter_topic = c.dead_letter_topic;
  if (c.dead_letter_count !== undefined) {
    agg.dead_letter_count = (agg.dead_letter_count ?? 0) + c.dead_letter_count;
  }
}

/**
 * Adds one node's topic stats into the cluster-wide `agg` (Go's TopicStats.Add). Each channel
 * of the topic is summed across nodes into its own aggregate.
 */
export function addTopic(agg: TopicStats, t: TopicStats): void {
  agg.node = "*";
  agg.depth += t.depth;
  agg.memory_depth += t.memory_depth;
  agg.backend_depth += t.backend_depth;
  agg.message_count += t.message_count;
  if (t.paused) agg.paused = true;
  for (const c of t.channels ?? []) {
    agg.channels ??= [];
    let have = agg.channels.find((x) => x.channel_name === c.channel_name);
    if (have === undefined) {
      have = newChannelStats("*", agg.topic_name, c.channel_name);
      agg.channels.push(have);
    }
    addChannel(have, c);
  }
  (agg.nodes ??= []).push(t);
  sortByHost(agg.nodes);
  agg.e2e_processing_latency ??= {
    count: 0,
    percentiles: null,
    topic: agg.topic_name,
    channel: "",
    host: agg.node,
  };
  addE2e(agg.e2e_processing_latency, t.e2e_processing_latency);
}
