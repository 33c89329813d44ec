/**
 * Stats fixtures shared by the tests of the `/stats` renderings (JSON and text), statsd and
 * Prometheus: builders with every field at its zero value (override what a test needs), a fixed
 * start time, and Go's memory field names in their order.
 *
 * @module
 */
import type { ChannelStats, ClientStats, TopicStats } from "../../lib/nsqd/stats.ts";

/** The reference start time: 2024-01-02T03:04:05Z, in ms and in s. */
export const START_MS = Date.UTC(2024, 0, 2, 3, 4, 5);
export const START_S = START_MS / 1000;

/** A V2 consumer `h` (`c`) from 127.0.0.1:1 connected at {@linkcode START_S}, all counts 0. */
export function client(over: Partial<ClientStats> = {}): ClientStats {
  return {
    client_id: "c",
    hostname: "h",
    version: "V2",
    remote_address: "127.0.0.1:1",
    state: 3,
    ready_count: 0,
    in_flight_count: 0,
    message_count: 0,
    finish_count: 0,
    requeue_count: 0,
    connect_ts: START_S,
    sample_rate: 0,
    deflate: false,
    snappy: false,
    user_agent: "",
    tls: false,
    tls_cipher_suite: "",
    tls_version: "",
    tls_negotiated_protocol: "",
    tls_negotiated_protocol_is_mutual: false,
    ...over,
  };
}

/** An empty, unpaused channel `ch` without clients. */
export function channel(over: Partial<ChannelStats> = {}): ChannelStats {
  return {
    channel_name: "ch",
    depth: 0,
    backend_depth: 0,
    in_flight_count: 0,
    deferred_count: 0,
    message_count: 0,
    requeue_count: 0,
    timeout_count: 0,
    client_count: 0,
    clients: [],
    paused: false,
    e2e_processing_latency: { count: 0, percentiles: null },
    ...over,
  };
}

/** An empty, unpaused topic `t` without channels. */
export function topic(over: Partial<TopicStats> = {}): TopicStats {
  return {
    topic_name: "t",
    channels: [],
    depth: 0,
    backend_depth: 0,
    message_count: 0,
    message_bytes: 0,
    paused: false,
    e2e_processing_latency: { count: 0, percentiles: null },
    ...over,
  };
}

/** Go nsqd's `memStats` field names, in Go's order (written out here, not taken from lib/). */
export const MEM_STATS_FIELDS: readonly string[] = [
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
