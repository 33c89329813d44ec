/**
 * The fan-out HTTP client to nsqd and nsqlookupd (nsq's internal/clusterinfo/data.go): every
 * query goes to all the given nodes in parallel; when some answer and some fail the caller gets
 * the merged answer plus the failures ({@linkcode Partial}), when none answer it gets an
 * {@linkcode UpstreamError}. Actions (pause, empty, delete, tombstone, create) are POSTs sent
 * one node after the other, collecting failures, as Go's `producersPOST` / `nsqlookupdPOST`.
 */
import type { Logger } from "../internal/log.ts";
import {
  nsqGetV1,
  nsqRequest,
  type NsqRequestOptions,
  settleAll,
} from "../http/nsq_http_client.ts";
import {
  addChannel,
  type ChannelStats,
  type ClientStats,
  e2eFromNsqd,
  newChannelStats,
  newTopicStats,
  type TopicStats,
} from "./stats.ts";

/** A node that produces topics (an nsqd), as nsqlookupd's /nodes and Go nsqadmin show it. */
export interface Producer {
  remote_addresses: string[] | null;
  remote_address: string;
  hostname: string;
  broadcast_address: string;
  tcp_port: number;
  http_port: number;
  version: string;
  topics: { topic: string; tombstoned: boolean }[] | null;
  out_of_date: boolean;
}

/** `host:port` of a producer's HTTP API (Go's `net.JoinHostPort`). */
export function producerHttpAddress(p: Producer): string {
  return joinHostPort(p.broadcast_address, p.http_port);
}

/** `host:port` of a producer's TCP listener. */
export function producerTcpAddress(p: Producer): string {
  return joinHostPort(p.broadcast_address, p.tcp_port);
}

function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The answer of a fan-out query: what was gathered, and the nodes that failed (Go's ErrList). */
export interface Partial<T> {
  value: T;
  errors: string[];
}

/** Every node failed: Go's non-partial error (nsqadmin answers 502 `UPSTREAM_ERROR: ...`). */
export class UpstreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UpstreamError";
  }
}

/** Options of the HTTP client nsqadmin uses towards the cluster. */
export interface ClusterClientOptions {
  /** Whole-request deadline in ms (Go has a connect and a request timeout; we apply the sum). */
  connectTimeout: number;
  requestTimeout: number;
  /** A Deno HTTP client carrying TLS settings (`--http-client-tls-*`), when any was given. */
  httpClient?: Deno.HttpClient;
  /**
   * Log each query at debug instead of info (Go's level): for the page renders, their
   * auto-refresh and the history sampler, which would otherwise flood the log.
   */
  quiet?: boolean;
}

/** The semver triple of a version string; `0.0.0` when it does not parse (as Go's semver). */
export function parseVersion(v: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m === null ? [0, 0, 0] : [Number(m[1]), Number(m[2]), Number(m[3])];
}

function versionLess(a: [number, number, number], b: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

/** Stable sort by hostname, as Go's `sort.Sort(...ByHost)` orders rows. */
export function byHostname<T extends { hostname: string }>(list: T[]): T[] {
  return list.sort((a, b) => a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0);
}

interface InfoJson {
  version?: string;
  broadcast_address?: string;
  hostname?: string;
  http_port?: number;
  tcp_port?: number;
}

/** nsqd's /stats?format=json, the parts nsqadmin reads. */
interface NsqdStatsJson {
  topics?: NsqdTopicJson[] | null;
}
interface NsqdTopicJson {
  topic_name: string;
  depth?: number;
  backend_depth?: number;
  message_count?: number;
  paused?: boolean;
  channels?: NsqdChannelJson[] | null;
  e2e_processing_latency?: { count?: number; percentiles?: Record<string, number>[] | null };
}
interface NsqdChannelJson {
  channel_name: string;
  depth?: number;
  backend_depth?: number;
  in_flight_count?: number;
  deferred_count?: number;
  requeue_count?: number;
  timeout_count?: number;
  message_count?: number;
  client_count?: number;
  paused?: boolean;
  clients?: Record<string, unknown>[] | null;
  e2e_processing_latency?: { count?: number; percentiles?: Record<string, number>[] | null };
  max_attempts?: number;
  dead_letter_topic?: string;
  dead_letter_count?: number;
}

/**
 * Go's `ClusterInfo`: queries nsqlookupd and nsqd over HTTP (V1 answers) and merges their
 * answers into what nsqadmin shows.
 */
export class ClusterInfo {
  readonly #opts: ClusterClientOptions;
  readonly #logger: Logger;

  constructor(opts: ClusterClientOptions, logger: Logger) {
    this.#opts = { ...opts };
    this.#logger = logger;
  }

  /** Sends every later request through `client` (TLS settings). */
  useHttpClient(client: Deno.HttpClient): void {
    this.#opts.httpClient = client;
  }

  #request(method: "GET" | "POST", endpoint: string): Promise<Response> {
    return nsqRequest(method, endpoint, this.#requestOptions());
  }

  #requestOptions(): NsqRequestOptions {
    return {
      timeout: this.#opts.connectTimeout + this.#opts.requestTimeout,
      client: this.#opts.httpClient,
    };
  }

  /** GET a V1 JSON answer (Go's `GETV1`). */
  getV1<T>(endpoint: string): Promise<T> {
    return nsqGetV1<T>(endpoint, this.#requestOptions());
  }

  /** POST with an empty body, expecting 200 (Go's `POSTV1`). */
  async postV1(endpoint: string): Promise<void> {
    const res = await this.#request("POST", endpoint);
    await res.body?.cancel();
  }

  /** Queries every address in parallel; fails with `failed to query any <kind>` if all fail. */
  async #fanOut<R>(
    addrs: readonly string[],
    kind: "nsqd" | "nsqlookupd",
    query: (addr: string) => Promise<R>,
  ): Promise<{ results: R[]; errors: string[] }> {
    const settled = await settleAll(addrs, query);
    const errors = settled.errors.map((e) => e.message);
    if (errors.length === addrs.length) {
      throw new UpstreamError(`failed to query any ${kind}: ${errors.join("\n")}`);
    }
    return { results: settled.results, errors };
  }

  #log(endpoint: string, kind: string): void {
    const line = `CI: querying ${kind} ${endpoint}`;
    if (this.#opts.quiet) this.#logger.debug(line);
    else this.#logger.info(line);
  }

  /** The union of every lookupd's /topics, sorted. */
  async getLookupdTopics(lookupds: readonly string[]): Promise<Partial<string[]>> {
    const { results, errors } = await this.#fanOut(lookupds, "nsqlookupd", async (addr) => {
      const endpoint = `http://${addr}/topics`;
      this.#log(endpoint, "nsqlookupd");
      return (await this.getV1<{ topics?: string[] | null }>(endpoint)).topics ?? [];
    });
    return { value: [...new Set(results.flat())].sort(), errors };
  }

  /** The union of every lookupd's /channels for `topic`, sorted. */
  async getLookupdTopicChannels(
    topic: string,
    lookupds: readonly string[],
  ): Promise<Partial<string[]>> {
    const { results, errors } = await this.#fanOut(lookupds, "nsqlookupd", async (addr) => {
      const endpoint = `http://${addr}/channels?topic=${queryEscape(topic)}`;
      this.#log(endpoint, "nsqlookupd");
      return (await this.getV1<{ channels?: string[] | null }>(endpoint)).channels ?? [];
    });
    return { value: [...new Set(results.flat())].sort(), errors };
  }

  /** Every nsqd registered with any lookupd, merged by TCP address (Go's GetLookupdProducers). */
  async getLookupdProducers(lookupds: readonly string[]): Promise<Partial<Producer[]>> {
    const { results, errors } = await this.#fanOut(lookupds, "nsqlookupd", async (addr) => {
      const endpoint = `http://${addr}/nodes`;
      this.#log(endpoint, "nsqlookupd");
      const resp = await this.getV1<{ producers?: Record<string, unknown>[] | null }>(endpoint);
      return { addr, producers: (resp.producers ?? []).map(producerFromLookupd) };
    });
    const byAddr = new Map<string, Producer>();
    const producers: Producer[] = [];
    let max: [number, number, number] = [0, 0, 0];
    for (const { addr, producers: list } of results) {
      for (const p of list) {
        const key = producerTcpAddress(p);
        let have = byAddr.get(key);
        if (have === undefined) {
          have = p;
          byAddr.set(key, p);
          producers.push(p);
          const v = parseVersion(p.version);
          if (versionLess(max, v)) max = v;
          p.topics?.sort((a, b) => a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0);
        }
        (have.remote_addresses ??= []).push(`${addr}/${p.remote_address || "N/A"}`);
      }
    }
    for (const p of producers) {
      if (versionLess(parseVersion(p.version), max)) p.out_of_date = true;
    }
    return { value: byHostname(producers), errors };
  }

  /** The nsqd that produce `topic` according to any lookupd, unique by HTTP address. */
  async getLookupdTopicProducers(
    topic: string,
    lookupds: readonly string[],
  ): Promise<Partial<Producer[]>> {
    const { results, errors } = await this.#fanOut(lookupds, "nsqlookupd", async (addr) => {
      const endpoint = `http://${addr}/lookup?topic=${queryEscape(topic)}`;
      this.#log(endpoint, "nsqlookupd");
      const resp = await this.getV1<{ producers?: Record<string, unknown>[] | null }>(endpoint);
      return (resp.producers ?? []).map(producerFromLookupd);
    });
    const producers: Producer[] = [];
    for (const p of results.flat()) {
      const http = producerHttpAddress(p);
      if (!producers.some((q) => producerHttpAddress(q) === http)) producers.push(p);
    }
    return { value: producers, errors };
  }

  /** Every topic of the given nsqd (their /stats), sorted. */
  async getNsqdTopics(nsqds: readonly string[]): Promise<Partial<string[]>> {
    const { results, errors } = await this.#fanOut(nsqds, "nsqd", async (addr) => {
      const endpoint = `http://${addr}/stats?format=json`;
      this.#log(endpoint, "nsqd");
      const resp = await this.getV1<NsqdStatsJson>(endpoint);
      return (resp.topics ?? []).map((t) => t.topic_name);
    });
    return { value: [...new Set(results.flat())].sort(), errors };
  }

  async #nsqdInfo(addr: string): Promise<InfoJson> {
    const endpoint = `http://${addr}/info`;
    this.#log(endpoint, "nsqd");
    return await this.getV1<InfoJson>(endpoint);
  }

  /** A producer from an nsqd's /info, falling back to `addr` for old nsqd without fields. */
  #nsqdProducer(addr: string, info: InfoJson, topics: string[]): Producer {
    let broadcast = info.broadcast_address ?? "";
    let httpPort = info.http_port ?? 0;
    let hostname = info.hostname ?? "";
    if (broadcast === "" || hostname === "") {
      const colon = addr.lastIndexOf(":");
      const host = addr.slice(0, colon).replace(/^\[|\]$/g, "");
      if (broadcast === "") {
        broadcast = host;
        httpPort = Number(addr.slice(colon + 1));
      }
      if (hostname === "") hostname = host;
    }
    return {
      remote_addresses: null,
      remote_address: "",
      hostname,
      broadcast_address: broadcast,
      tcp_port: info.tcp_port ?? 0,
      http_port: httpPort,
      version: info.version ?? "",
      topics: topics.length === 0 ? null : topics.map((topic) => ({ topic, tombstoned: false })),
      out_of_date: false,
    };
  }

  /** The given nsqd as producers (their /info, then their topic lists). */
  async getNsqdProducers(nsqds: readonly string[]): Promise<Partial<Producer[]>> {
    const { results, errors } = await this.#fanOut(nsqds, "nsqd", async (addr) => {
      const info = await this.#nsqdInfo(addr);
      const endpoint = `http://${addr}/stats?format=json&include_clients=false`;
      this.#log(endpoint, "nsqd");
      const stats = await this.getV1<NsqdStatsJson>(endpoint);
      return this.#nsqdProducer(addr, info, (stats.topics ?? []).map((t) => t.topic_name));
    });
    return { value: results, errors };
  }

  /** The given nsqd that have `topic`. */
  async getNsqdTopicProducers(
    topic: string,
    nsqds: readonly string[],
  ): Promise<Partial<Producer[]>> {
    const { results, errors } = await this.#fanOut(nsqds, "nsqd", async (addr) => {
      const endpoint = `http://${addr}/stats?format=json&topic=${
        queryEscape(topic)
      }&include_clients=false`;
      this.#log(endpoint, "nsqd");
      const stats = await this.getV1<NsqdStatsJson>(endpoint);
      const names = (stats.topics ?? []).map((t) => t.topic_name);
      if (!names.includes(topic)) return null;
      return this.#nsqdProducer(addr, await this.#nsqdInfo(addr), names);
    });
    return { value: results.filter((p): p is Producer => p !== null), errors };
  }

  /** Producers from lookupds when any are configured, else from the nsqd list. */
  getProducers(
    lookupds: readonly string[],
    nsqds: readonly string[],
  ): Promise<Partial<Producer[]>> {
    return lookupds.length !== 0
      ? this.getLookupdProducers(lookupds)
      : this.getNsqdProducers(nsqds);
  }

  /** Producers of `topic` from lookupds when any are configured, else from the nsqd list. */
  getTopicProducers(
    topic: string,
    lookupds: readonly string[],
    nsqds: readonly string[],
  ): Promise<Partial<Producer[]>> {
    return lookupds.length !== 0
      ? this.getLookupdTopicProducers(topic, lookupds)
      : this.getNsqdTopicProducers(topic, nsqds);
  }

  /**
   * Per-node topic stats of the given producers plus channel aggregates (Go's GetNSQDStats).
   * With `topic` empty, every topic and the channel map is keyed `topic:channel`; else keyed by
   * channel name. `includeClients` false asks nsqd to leave the clients out.
   */
  async getNsqdStats(
    producers: readonly Producer[],
    topic: string,
    channel: string,
    includeClients: boolean,
  ): Promise<Partial<{ topics: TopicStats[]; channels: Map<string, ChannelStats> }>> {
    const { results, errors } = await this.#fanOut(
      producers.map((p) => producerHttpAddress(p)),
      "nsqd",
      async (addr) => {
        let endpoint = `http://${addr}/stats?format=json`;
        if (topic !== "") {
          endpoint += `&topic=${queryEscape(topic)}`;
          if (channel !== "") endpoint += `&channel=${queryEscape(channel)}`;
        }
        if (!includeClients) endpoint += "&include_clients=false";
        this.#log(endpoint, "nsqd");
        return { addr, stats: await this.getV1<NsqdStatsJson>(endpoint) };
      },
    );
    const hostOf = new Map(producers.map((p) => [producerHttpAddress(p), p.hostname]));
    const topics: TopicStats[] = [];
    const channels = new Map<string, ChannelStats>();
    for (const { addr, stats } of results) {
      const hostname = hostOf.get(addr) ?? "";
      for (const raw of stats.topics ?? []) {
        if (topic !== "" && raw.topic_name !== topic) continue;
        const t = topicFromNsqd(raw, addr, hostname);
        topics.push(t);
        for (const c of t.channels ?? []) {
          const key = topic === "" ? `${t.topic_name}:${c.channel_name}` : c.channel_name;
          let agg = channels.get(key);
          if (agg === undefined) {
            agg = newChannelStats(addr, t.topic_name, c.channel_name);
            channels.set(key, agg);
          }
          addChannel(agg, c);
        }
      }
    }
    return { value: { topics: byHostname(topics), channels }, errors };
  }

  /** POSTs `uri?qs` to every lookupd, one after the other; the failures. */
  async nsqlookupdPost(lookupds: readonly string[], uri: string, qs: string): Promise<string[]> {
    const errors: string[] = [];
    for (const addr of lookupds) {
      const endpoint = `http://${addr}/${uri}?${qs}`;
      this.#log(endpoint, "nsqlookupd");
      await this.postV1(endpoint).catch((e) => errors.push(e.message));
    }
    return errors;
  }

  /** POSTs `uri?qs` to every producer, one after the other; the failures. */
  async producersPost(producers: readonly Producer[], uri: string, qs: string): Promise<string[]> {
    const errors: string[] = [];
    for (const p of producers) {
      const endpoint = `http://${producerHttpAddress(p)}/${uri}?${qs}`;
      this.#log(endpoint, "nsqd");
      await this.postV1(endpoint).catch((e) => errors.push(e.message));
    }
    return errors;
  }

  /** Tombstones `node` for `topic` on every lookupd, then deletes the topic on that nsqd. */
  async tombstoneNodeForTopic(
    topic: string,
    node: string,
    lookupds: readonly string[],
  ): Promise<string[]> {
    const errors = await this.nsqlookupdPost(
      lookupds,
      "topic/tombstone",
      `topic=${queryEscape(topic)}&node=${queryEscape(node)}`,
    );
    const producers = await this.getNsqdProducers([node]);
    errors.push(...producers.errors);
    errors.push(
      ...await this.producersPost(producers.value, "topic/delete", `topic=${queryEscape(topic)}`),
    );
    return errors;
  }

  /** Creates the topic (and channel) on every lookupd, and the channel on its producers. */
  async createTopicChannel(
    topic: string,
    channel: string,
    lookupds: readonly string[],
  ): Promise<string[]> {
    const errors = await this.nsqlookupdPost(
      lookupds,
      "topic/create",
      `topic=${queryEscape(topic)}`,
    );
    if (channel !== "") {
      const qs = `topic=${queryEscape(topic)}&channel=${queryEscape(channel)}`;
      errors.push(...await this.nsqlookupdPost(lookupds, "channel/create", qs));
      const producers = await this.getLookupdTopicProducers(topic, lookupds);
      errors.push(...producers.errors);
      errors.push(...await this.producersPost(producers.value, "channel/create", qs));
    }
    return errors;
  }

  /** Deletes the topic on every lookupd and on every nsqd that has it. */
  deleteTopic(
    topic: string,
    lookupds: readonly string[],
    nsqds: readonly string[],
  ): Promise<string[]> {
    return this.#delete("topic/delete", topic, "", lookupds, nsqds);
  }

  /** Deletes the channel on every lookupd and on every nsqd that has the topic. */
  deleteChannel(
    topic: string,
    channel: string,
    lookupds: readonly string[],
    nsqds: readonly string[],
  ): Promise<string[]> {
    return this.#delete("channel/delete", topic, channel, lookupds, nsqds);
  }

  /** A delete (`uri` = `topic/delete` or `channel/delete`) on every lookupd, then every producer. */
  async #delete(
    uri: string,
    topic: string,
    channel: string,
    lookupds: readonly string[],
    nsqds: readonly string[],
  ): Promise<string[]> {
    const producers = await this.getTopicProducers(topic, lookupds, nsqds);
    const errors = [...producers.errors];
    let qs = `topic=${queryEscape(topic)}`;
    if (channel !== "") qs += `&channel=${queryEscape(channel)}`;
    errors.push(...await this.nsqlookupdPost(lookupds, uri, qs));
    errors.push(...await this.producersPost(producers.value, uri, qs));
    return errors;
  }

  /**
   * A pause / unpause / empty action (`uri` = `topic/pause`, `channel/empty` ...) on every nsqd
   * that has the topic (Go's actionHelper).
   */
  async topicChannelAction(
    uri: string,
    topic: string,
    channel: string,
    lookupds: readonly string[],
    nsqds: readonly string[],
  ): Promise<string[]> {
    const producers = await this.getTopicProducers(topic, lookupds, nsqds);
    let qs = `topic=${queryEscape(topic)}`;
    if (channel !== "") qs += `&channel=${queryEscape(channel)}`;
    return [...producers.errors, ...await this.producersPost(producers.value, uri, qs)];
  }

  /**
   * Beyond Go: the next `n` queued messages of a channel from one nsqd's
   * `GET /channel/peek`, or `null` when that nsqd does not offer it (404 / 405).
   */
  peekChannel(
    node: string,
    topic: string,
    channel: string,
    n: number,
  ): Promise<PeekMessage[] | null> {
    return this.#peek(
      `http://${node}/channel/peek?topic=${queryEscape(topic)}&channel=${
        queryEscape(channel)
      }&n=${n}`,
    );
  }

  /** Beyond Go: the next `n` messages of a topic's own queue (`GET /topic/peek`), or `null`. */
  peekTopic(node: string, topic: string, n: number): Promise<PeekMessage[] | null> {
    return this.#peek(`http://${node}/topic/peek?topic=${queryEscape(topic)}&n=${n}`);
  }

  async #peek(endpoint: string): Promise<PeekMessage[] | null> {
    this.#log(endpoint, "nsqd");
    let res: Response;
    try {
      res = await fetch(endpoint, {
        signal: AbortSignal.timeout(this.#opts.connectTimeout + this.#opts.requestTimeout),
        client: this.#opts.httpClient,
      });
    } catch {
      return null;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      return null;
    }
    try {
      const json = await res.json() as { messages?: PeekMessage[] };
      return Array.isArray(json.messages) ? json.messages : null;
    } catch {
      return null;
    }
  }
}

/** One message of a channel peek (`GET /channel/peek` on an nsqd that has it). */
export interface PeekMessage {
  id: string;
  timestamp: number;
  attempts: number;
  body_base64: string;
}

/** Go's `url.QueryEscape`: spaces become `+`. */
export function queryEscape(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, "+").replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

function producerFromLookupd(r: Record<string, unknown>): Producer {
  const topics = Array.isArray(r.topics) ? r.topics as string[] : [];
  const tombstones = Array.isArray(r.tombstones) ? r.tombstones as boolean[] : [];
  return {
    remote_addresses: null,
    remote_address: String(r.remote_address ?? ""),
    hostname: String(r.hostname ?? ""),
    broadcast_address: String(r.broadcast_address ?? ""),
    tcp_port: Number(r.tcp_port ?? 0),
    http_port: Number(r.http_port ?? 0),
    version: String(r.version ?? ""),
    // Go's Producer.UnmarshalJSON leaves an empty topic list nil (JSON null).
    topics: topics.length === 0
      ? null
      : topics.map((topic, i) => ({ topic, tombstoned: tombstones[i] === true })),
    out_of_date: false,
  };
}

function topicFromNsqd(raw: NsqdTopicJson, addr: string, hostname: string): TopicStats {
  const t = newTopicStats(raw.topic_name);
  t.node = addr;
  t.hostname = hostname;
  t.depth = raw.depth ?? 0;
  t.backend_depth = raw.backend_depth ?? 0;
  t.memory_depth = t.depth - t.backend_depth;
  t.message_count = raw.message_count ?? 0;
  t.paused = raw.paused === true;
  t.e2e_processing_latency = e2eFromNsqd(raw.e2e_processing_latency);
  t.channels = raw.channels == null
    ? null
    : raw.channels.map((c) => channelFromNsqd(c, addr, hostname, raw.topic_name));
  return t;
}

function channelFromNsqd(
  raw: NsqdChannelJson,
  addr: string,
  hostname: string,
  topic: string,
): ChannelStats {
  const c = newChannelStats(addr, topic, raw.channel_name);
  c.hostname = hostname;
  c.depth = raw.depth ?? 0;
  c.backend_depth = raw.backend_depth ?? 0;
  c.memory_depth = c.depth - c.backend_depth;
  c.in_flight_count = raw.in_flight_count ?? 0;
  c.deferred_count = raw.deferred_count ?? 0;
  c.requeue_count = raw.requeue_count ?? 0;
  c.timeout_count = raw.timeout_count ?? 0;
  c.message_count = raw.message_count ?? 0;
  c.client_count = raw.client_count ?? 0;
  c.paused = raw.paused === true;
  c.clients = raw.clients == null ? null : raw.clients.map((r) => clientFromNsqd(r, addr));
  c.e2e_processing_latency = e2eFromNsqd(raw.e2e_processing_latency);
  if (raw.max_attempts !== undefined) c.max_attempts = raw.max_attempts;
  if (raw.dead_letter_topic !== undefined) c.dead_letter_topic = raw.dead_letter_topic;
  if (raw.dead_letter_count !== undefined) c.dead_letter_count = raw.dead_letter_count;
  return c;
}

function clientFromNsqd(r: Record<string, unknown>, addr: string): ClientStats {
  const s = (k: string) => typeof r[k] === "string" ? r[k] as string : "";
  const n = (k: string) => typeof r[k] === "number" ? r[k] as number : 0;
  const b = (k: string) => r[k] === true;
  const connectTs = n("connect_ts");
  const nowSec = Math.floor(Date.now() / 1000);
  return {
    node: addr,
    remote_address: s("remote_address"),
    version: s("version"),
    client_id: s("client_id"),
    hostname: s("hostname"),
    user_agent: s("user_agent"),
    connect_ts: connectTs,
    connected: (nowSec - connectTs) * 1e9,
    in_flight_count: n("in_flight_count"),
    ready_count: n("ready_count"),
    finish_count: n("finish_count"),
    requeue_count: n("requeue_count"),
    message_count: n("message_count"),
    sample_rate: n("sample_rate"),
    deflate: b("deflate"),
    snappy: b("snappy"),
    authed: b("authed"),
    auth_identity: s("auth_identity"),
    auth_identity_url: s("auth_identity_url"),
    tls: b("tls"),
    tls_cipher_suite: s("tls_cipher_suite"),
    tls_version: s("tls_version"),
    tls_negotiated_protocol: s("tls_negotiated_protocol"),
    tls_negotiated_protocol_is_mutual: b("tls_negotiated_protocol_is_mutual"),
  };
}
