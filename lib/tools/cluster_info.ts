/**
 * The few cluster queries the tools make over HTTP, shaped like nsq's internal/clusterinfo: topic
 * producers from nsqlookupd `/lookup` or from nsqd `/stats` + `/info`, the topic list from
 * nsqlookupd `/topics`, and one channel's stats summed over its producers. Requests go through
 * lib/http/nsq_http_client.ts (nsq's http_api GETV1), bounded by the tool's
 * `--http-client-request-timeout`.
 *
 * @module
 */
import { cutHostPort, joinHostPort } from "../internal/net_addr.ts";
import { nsqGetV1, settleAll } from "../http/nsq_http_client.ts";

/** Timeouts of nsq's http_api client (ms). fetch has one deadline: the request timeout. */
export interface HttpTimeouts {
  connectTimeout: number;
  requestTimeout: number;
}

/** An nsqd serving a topic: where to reach its HTTP API. */
export interface Producer {
  broadcastAddress: string;
  httpPort: number;
  tcpPort: number;
  /** `host:port` of the HTTP API (nsq's Producer.HTTPAddress). */
  readonly httpAddress: string;
}

/** One channel's counters summed over nsqd (nsq's clusterinfo.ChannelStats.Add). */
export interface ChannelStats {
  depth: number;
  memoryDepth: number;
  backendDepth: number;
  inFlightCount: number;
  deferredCount: number;
  requeueCount: number;
  timeoutCount: number;
  messageCount: number;
  clientCount: number;
  paused: boolean;
}

/** Several failed requests, printed one per line (nsq's clusterinfo.ErrList). */
export class ErrList extends Error {
  constructor(readonly errors: Error[]) {
    super(errors.map((e) => e.message).join("\n"));
    this.name = "ErrList";
  }
}

/** GET `url` as nsq's http_api GETV1: 200 → the parsed JSON; otherwise an Error in Go's words. */
export function getV1<T>(url: string, timeouts: HttpTimeouts): Promise<T> {
  return nsqGetV1<T>(url, { timeout: timeouts.requestTimeout });
}

function makeProducer(broadcastAddress: string, httpPort: number, tcpPort: number): Producer {
  return {
    broadcastAddress,
    httpPort,
    tcpPort,
    httpAddress: joinHostPort(broadcastAddress, httpPort),
  };
}

/** Runs `fn` on every address concurrently; fails only when every address failed. */
async function fanOut<R>(
  addrs: readonly string[],
  fn: (addr: string) => Promise<R>,
  what: string,
): Promise<{ results: R[]; errors: Error[] }> {
  const { results, errors } = await settleAll(addrs, fn);
  // Like nsq: with no address at all this fails too ("failed to query any nsqd: ").
  if (errors.length === addrs.length) {
    throw new Error(`failed to query any ${what}: ${new ErrList(errors).message}`);
  }
  return { results, errors };
}

function throwPartial(errors: Error[]): void {
  if (errors.length > 0) throw new ErrList(errors);
}

/**
 * The producers of `topic` known to any of the nsqlookupd (`/lookup?topic=`), deduplicated by
 * HTTP address. Partial failures throw an ErrList (as nsq's callers treat them: fatal).
 */
export async function lookupdTopicProducers(
  topic: string,
  lookupdHttpAddrs: readonly string[],
  timeouts: HttpTimeouts,
): Promise<Producer[]> {
  interface Resp {
    producers?: { broadcast_address: string; http_port: number; tcp_port: number }[];
  }
  const { results, errors } = await fanOut(lookupdHttpAddrs, (addr) =>
    getV1<Resp>(
      `http://${addr}/lookup?topic=${encodeURIComponent(topic)}`,
      timeouts,
    ), "nsqlookupd");
  const producers: Producer[] = [];
  for (const r of results) {
    for (const p of r.producers ?? []) {
      const producer = makeProducer(p.broadcast_address, p.http_port, p.tcp_port);
      if (!producers.some((q) => q.httpAddress === producer.httpAddress)) producers.push(producer);
    }
  }
  throwPartial(errors);
  return producers;
}

/** The nsqd among `nsqdHttpAddrs` that have `topic` (`/stats`), addressed as `/info` says. */
export async function nsqdTopicProducers(
  topic: string,
  nsqdHttpAddrs: readonly string[],
  timeouts: HttpTimeouts,
): Promise<Producer[]> {
  interface Stats {
    topics?: { topic_name: string }[];
  }
  interface Info {
    broadcast_address?: string;
    http_port?: number;
    tcp_port?: number;
  }
  const { results, errors } = await fanOut(nsqdHttpAddrs, async (addr) => {
    const stats = await getV1<Stats>(
      `http://${addr}/stats?format=json&topic=${encodeURIComponent(topic)}&include_clients=false`,
      timeouts,
    );
    if (!(stats.topics ?? []).some((t) => t.topic_name === topic)) return null;
    const info = await getV1<Info>(`http://${addr}/info`, timeouts);
    let broadcast = info.broadcast_address ?? "";
    let httpPort = info.http_port ?? 0;
    if (broadcast === "") {
      // Older nsqd without these fields: use the address we were given.
      const hp = cutHostPort(addr);
      broadcast = hp.host;
      httpPort = Number(hp.port);
    }
    return makeProducer(broadcast, httpPort, info.tcp_port ?? 0);
  }, "nsqd");
  throwPartial(errors);
  return results.filter((p): p is Producer => p !== null);
}

/** The union of every nsqlookupd's `/topics`, sorted and unique. */
export async function lookupdTopics(
  lookupdHttpAddrs: readonly string[],
  timeouts: HttpTimeouts,
): Promise<string[]> {
  const { results, errors } = await fanOut(
    lookupdHttpAddrs,
    (addr) => getV1<{ topics?: string[] }>(`http://${addr}/topics`, timeouts),
    "nsqlookupd",
  );
  const topics = [...new Set(results.flatMap((r) => r.topics ?? []))].sort();
  throwPartial(errors);
  return topics;
}

interface ChannelJson {
  channel_name: string;
  depth?: number;
  backend_depth?: number;
  in_flight_count?: number;
  deferred_count?: number;
  requeue_count?: number;
  timeout_count?: number;
  message_count?: number;
  client_count?: number;
  clients?: unknown[];
  paused?: boolean;
}

/**
 * `channel` of `topic` summed over `producers` (`/stats?format=json&topic=&channel=
 * &include_clients=false` on each), or undefined when no nsqd has the channel.
 */
export async function nsqdChannelStats(
  producers: readonly Producer[],
  topic: string,
  channel: string,
  timeouts: HttpTimeouts,
): Promise<ChannelStats | undefined> {
  interface Resp {
    topics?: { topic_name: string; channels?: ChannelJson[] }[];
  }
  const { results, errors } = await fanOut(
    producers.map((p) => p.httpAddress),
    (addr) =>
      getV1<Resp>(
        `http://${addr}/stats?format=json&topic=${encodeURIComponent(topic)}` +
          `&channel=${encodeURIComponent(channel)}&include_clients=false`,
        timeouts,
      ),
    "nsqd",
  );
  let sum: ChannelStats | undefined;
  for (const r of results) {
    for (const t of r.topics ?? []) {
      if (t.topic_name !== topic) continue;
      for (const c of t.channels ?? []) {
        if (c.channel_name !== channel) continue;
        sum ??= {
          depth: 0,
          memoryDepth: 0,
          backendDepth: 0,
          inFlightCount: 0,
          deferredCount: 0,
          requeueCount: 0,
          timeoutCount: 0,
          messageCount: 0,
          clientCount: 0,
          paused: false,
        };
        const depth = c.depth ?? 0;
        const backend = c.backend_depth ?? 0;
        sum.depth += depth;
        sum.backendDepth += backend;
        sum.memoryDepth += depth - backend;
        sum.inFlightCount += c.in_flight_count ?? 0;
        sum.deferredCount += c.deferred_count ?? 0;
        sum.requeueCount += c.requeue_count ?? 0;
        sum.timeoutCount += c.timeout_count ?? 0;
        sum.messageCount += c.message_count ?? 0;
        sum.clientCount += c.client_count ?? c.clients?.length ?? 0;
        sum.paused ||= c.paused ?? false;
      }
    }
  }
  throwPartial(errors);
  return sum;
}
