/**
 * Gathers the /stats document from a running nsqd (Go's `NSQD.GetStats` plus the `doStats`
 * envelope), for GET /stats, GET /metrics and the statsd loop. Rendering lives in stats.ts.
 *
 * Go's null-vs-[] rules, reproduced here:
 * - `topics`: sorted by name; `[]` without topics; `null` when `?topic=` names no topic
 *   (and then `producers` is `null` too: Go returns its empty Stats early);
 * - `?channel=` applies to every listed topic; a topic without that channel is left out;
 * - `channel.clients`: `null` when `includeClients` is false, else an array;
 * - `producers`: TCP clients that have published (non-empty pub counts), in connection order;
 *   `null` when `includeClients` is false or none has published;
 * - each client's `pub_counts` holds at most one entry (Go's loop breaks after the first),
 *   restricted to the `?topic=` filter when one is given.
 *
 * @module
 */
import { NSQ_VERSION } from "../version.ts";
import type { Channel } from "./channel.ts";
import type { ClientV2 } from "./client_v2.ts";
import type { Nsqd } from "./nsqd.ts";
import { E2eLatencyStream, type E2eResult, emptyE2eResult } from "./quantile.ts";
import {
  type ChannelStats,
  type ClientStats,
  memStats,
  type PubCount,
  type StatsResponse,
  type TopicStats,
} from "./stats.ts";
import { StatsdLoop, statsdPrefix } from "./statsd.ts";
import type { Topic } from "./topic.ts";

/** What to include in {@linkcode collectStats}. */
export interface CollectStatsOptions {
  /** Only this topic ("" or absent: every topic). */
  topic?: string;
  /** Only this channel within each listed topic ("" or absent: every channel). */
  channel?: string;
  /** Fill `channel.clients` and `producers` (else both are null). */
  includeClients: boolean;
  /** Add the `memory` block. */
  includeMem: boolean;
}

/** Builds nsqd's /stats document (see the module doc for the null rules). */
export function collectStats(nsqd: Nsqd, opts: CollectStatsOptions): StatsResponse {
  const topicFilter = opts.topic ?? "";
  const channelFilter = opts.channel ?? "";
  const out: StatsResponse = {
    version: NSQ_VERSION,
    health: nsqd.getHealth(),
    start_time: nsqd.startTime,
    topics: null,
    producers: null,
  };
  if (opts.includeMem) out.memory = memStats();

  let topics: Topic[];
  if (topicFilter === "") {
    topics = [...nsqd.topics.values()].sort(byName);
  } else {
    const t = nsqd.getExistingTopic(topicFilter);
    if (t === undefined) return out; // Go returns its zero Stats: topics and producers null
    topics = [t];
  }

  const now = Date.now();
  const list: TopicStats[] = [];
  for (const t of topics) {
    let channels: Channel[];
    if (channelFilter === "") {
      channels = t.sortedChannels();
    } else {
      const c = t.getExistingChannel(channelFilter);
      if (c === undefined) continue;
      channels = [c];
    }
    list.push(topicStats(t, channels, opts.includeClients, topicFilter, now));
  }
  out.topics = list;

  if (opts.includeClients) {
    const producers: ClientStats[] = [];
    for (const c of nsqd.clients.values()) {
      if (c.pubCounts.size > 0) producers.push(clientStats(c, topicFilter));
    }
    if (producers.length > 0) out.producers = producers;
  }
  return out;
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function topicStats(
  t: Topic,
  channels: Channel[],
  includeClients: boolean,
  topicFilter: string,
  now: number,
): TopicStats {
  const channelStats = channels.map((c) => channelStatsOf(c, includeClients, topicFilter, now));
  // Go aggregates all of the topic's channels, whatever the ?channel= filter.
  const streams: E2eLatencyStream[] = [];
  for (const c of t.channels.values()) {
    if (c.e2eStream !== null) streams.push(c.e2eStream);
  }
  return {
    topic_name: t.name,
    channels: channelStats,
    depth: t.depth,
    backend_depth: t.backend.depth(),
    message_count: t.messageCount,
    message_bytes: t.messageBytes,
    paused: t.paused,
    e2e_processing_latency: E2eLatencyStream.aggregateResult(streams, now),
  };
}

function channelStatsOf(
  c: Channel,
  includeClients: boolean,
  topicFilter: string,
  now: number,
): ChannelStats {
  let clients: ClientStats[] | null = null;
  if (includeClients) {
    clients = [];
    for (const client of c.clients.values()) clients.push(clientStats(client, topicFilter));
  }
  const e2e: E2eResult = c.e2eStream === null ? emptyE2eResult() : c.e2eStream.result(now);
  return {
    channel_name: c.name,
    depth: c.depth,
    backend_depth: c.backend.depth(),
    in_flight_count: c.inFlightCount,
    deferred_count: c.deferredCount,
    message_count: c.messageCount,
    requeue_count: c.requeueCount,
    timeout_count: c.timeoutCount,
    client_count: c.clients.size,
    clients,
    paused: c.paused,
    e2e_processing_latency: e2e,
  };
}

/** Go's `clientV2.Stats(topicName)`. */
export function clientStats(c: ClientV2, topicFilter = ""): ClientStats {
  let pubCounts: PubCount[] | undefined;
  for (const [topic, count] of c.pubCounts) {
    if (topicFilter !== "" && topic !== topicFilter) continue;
    pubCounts = [{ topic, count }];
    break; // Go's quirk: one entry at most
  }
  const tls = c.tls;
  return {
    client_id: c.clientId,
    hostname: c.hostname,
    version: "V2",
    remote_address: c.remoteAddress,
    state: c.state,
    ready_count: c.readyCount,
    in_flight_count: c.inFlightCount,
    message_count: c.messageCount,
    finish_count: c.finishCount,
    requeue_count: c.requeueCount,
    connect_ts: c.connectTs,
    sample_rate: c.sampleRate,
    deflate: c.deflate,
    snappy: c.snappy,
    user_agent: c.userAgent,
    authed: c.auth !== null,
    auth_identity: c.auth?.identity ?? "",
    auth_identity_url: c.auth?.identityUrl ?? "",
    pub_counts: pubCounts,
    tls: tls !== null,
    tls_cipher_suite: tls?.cipherSuite ?? "",
    tls_version: tls?.version ?? "",
    tls_negotiated_protocol: tls?.negotiatedProtocol ?? "",
    tls_negotiated_protocol_is_mutual: tls?.negotiatedProtocolIsMutual ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// statsd

/**
 * Starts nsqd's statsd loop when `--statsd-address` is set (docs/nsqd.md#statsd): every
 * `--statsd-interval` a snapshot without clients is pushed over UDP. The loop runs under
 * `nsqd.signal` as a task of `nsqd.spawn`, so nsqd's close() ends and awaits it. The key prefix
 * uses `--broadcast-http-port`, else `httpPort` (the bound HTTP port). Returns the loop, or null
 * when statsd is not configured.
 */
export function startNsqdStatsd(nsqd: Nsqd, httpPort = 0): StatsdLoop | null {
  const o = nsqd.opts;
  if (o.statsdAddress === "") return null;
  const loop = new StatsdLoop({
    address: o.statsdAddress,
    prefix: statsdPrefix(o.statsdPrefix, o.broadcastAddress, o.broadcastHttpPort || httpPort),
    intervalMs: o.statsdInterval,
    memStats: o.statsdMemStats,
    udpPacketSize: o.statsdUdpPacketSize,
    excludeEphemeral: o.statsdExcludeEphemeral,
    logger: nsqd.logger,
    // the loop reads memory stats itself when --statsd-mem-stats is on
    getStats: () => collectStats(nsqd, { includeClients: false, includeMem: false }),
  });
  nsqd.spawn(loop.run(nsqd.signal));
  return loop;
}
