/**
 * nsqd's side of discovery (docs/nsqd.md#lookup-loop; nsq's `nsqd/lookup.go`): one
 * {@linkcode LookupPeer} per `--lookupd-tcp-address`, registrations broadcast to all of them, a
 * PING every 15 s, and the `/channels` query nsqd makes when it creates a topic at runtime.
 *
 * Everything the nsqd core calls is synchronous and never throws: commands are queued per peer
 * and sent by that peer's drain task, so a slow or dead lookupd never blocks nsqd (nor the other
 * lookupds, unlike Go's single lookupLoop).
 *
 * Invariant the core must keep: call `register` after the topic / channel is visible in
 * `registrations()`, and `unregister` after it is gone from it. A (re)connecting peer replays
 * `registrations()` in place of the commands queued so far, which is only equivalent under
 * that ordering.
 */
import type { Logger } from "../internal/log.ts";
import { TaskGroup } from "../internal/task_group.ts";
import { joinHostPort } from "../internal/net_addr.ts";
import type { LookupdIdentify } from "../protocol/identify.ts";
import { LookupPeer } from "./lookup_peer.ts";

/** One thing nsqd has registered: a topic without channels, or one channel of a topic. */
export interface LookupRegistration {
  topic: string;
  channel?: string;
}

/** Options for {@linkcode LookupClient}. */
export interface LookupClientOptions {
  logger: Logger;
  /** What lookupds tell consumers to connect to (`--broadcast-address`). */
  broadcastAddress: string;
  /** The OS hostname. */
  hostname: string;
  /** Broadcast TCP port (`--broadcast-tcp-port`, else the bound TCP port). */
  tcpPort: number;
  /** Broadcast HTTP port (`--broadcast-http-port`, else the bound HTTP port). */
  httpPort: number;
  /** nsqd's version string (`"1.3.0"`). */
  version: string;
  /** PING period in ms (default 15 000; tests use less). */
  pingInterval?: number;
  /**
   * nsqd's current registrations: every topic without channels as `{topic}`, and every channel
   * as `{topic, channel}` (which registers its topic implicitly). Replayed on each connect.
   */
  registrations: () => LookupRegistration[];
  /** `--http-client-connect-timeout` in ms. */
  httpClientConnectTimeout: number;
  /** `--http-client-request-timeout` in ms (bounds each whole `/channels` request). */
  httpClientRequestTimeout: number;
  /** `--max-body-size`: largest lookupd TCP answer accepted (default 5 MiB). */
  maxBodySize?: number;
  /** Dial timeout and per read / write deadline in ms (default 1000 each). */
  dialTimeout?: number;
  ioTimeout?: number;
}

function registerCommand(verb: "REGISTER" | "UNREGISTER", topic: string, channel?: string): string {
  return channel ? `${verb} ${topic} ${channel}` : `${verb} ${topic}`;
}

/** The set of lookupd peers of one nsqd. */
export class LookupClient {
  readonly #opts: LookupClientOptions;
  readonly #log: Logger;
  readonly #peers = new Map<string, LookupPeer>();
  readonly #tasks: TaskGroup;
  #pingTimer: ReturnType<typeof setInterval> | null = null;
  #closed = false;

  constructor(opts: LookupClientOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#tasks = new TaskGroup((err) =>
      this.#log.error(`LOOKUP: unexpected error - ${err instanceof Error ? err.message : err}`)
    );
  }

  /** The configured lookupd TCP addresses, in order. */
  get addresses(): string[] {
    return [...this.#peers.keys()];
  }

  /**
   * Reconciles the peer set with `addrs` (start-up and `PUT /config/nsqlookupd_tcp_addresses`):
   * removed peers are closed, new ones start connecting at once.
   */
  setAddresses(addrs: readonly string[]): void {
    if (this.#closed) return;
    const wanted = new Set(addrs);
    for (const [addr, peer] of this.#peers) {
      if (wanted.has(addr)) continue;
      this.#log.info(`LOOKUP(${addr}): removing peer`);
      peer.close();
      this.#peers.delete(addr);
    }
    for (const addr of wanted) {
      if (this.#peers.has(addr)) continue;
      this.#log.info(`LOOKUP(${addr}): adding peer`);
      const peer = new LookupPeer({
        addr,
        logger: this.#log,
        identifyBody: () => this.#identifyBody(),
        registrations: () =>
          this.#opts.registrations().map((r) => registerCommand("REGISTER", r.topic, r.channel)),
        spawn: (task) => this.#tasks.spawn(task),
        maxBodySize: this.#opts.maxBodySize,
        dialTimeout: this.#opts.dialTimeout,
        ioTimeout: this.#opts.ioTimeout,
      });
      this.#peers.set(addr, peer);
      peer.connect();
    }
    this.#updatePingTimer();
  }

  /** Tells every lookupd about a new topic (no channel) or channel. */
  register(topic: string, channel?: string): void {
    this.#broadcast(channel ? "channel" : "topic", registerCommand("REGISTER", topic, channel));
  }

  /** Tells every lookupd a topic (no channel) or channel is gone. */
  unregister(topic: string, channel?: string): void {
    this.#broadcast(channel ? "channel" : "topic", registerCommand("UNREGISTER", topic, channel));
  }

  #broadcast(branch: string, cmd: string): void {
    if (this.#closed) return;
    for (const peer of this.#peers.values()) {
      this.#log.info(`LOOKUPD(${peer.addr}): ${branch} ${cmd}`);
      peer.command(cmd);
    }
  }

  /** `broadcast_address:http_port` of every lookupd that has answered an IDENTIFY. */
  lookupdHttpAddresses(): string[] {
    const out: string[] = [];
    for (const peer of this.#peers.values()) {
      const info = peer.info;
      if (info === null || info.broadcastAddress === "") continue;
      out.push(joinHostPort(info.broadcastAddress, info.httpPort));
    }
    return out;
  }

  /**
   * The channels the lookupds know for `topic` (sorted union of `GET /channels?topic=` on every
   * identified lookupd; ephemeral ones included: nsqd skips those). `null` when no lookupd could
   * be asked: none configured, or (logged as an error) none identified yet. A lookupd that fails
   * to answer is logged as a warning and contributes nothing.
   */
  async fetchChannels(topic: string): Promise<string[] | null> {
    const addrs = this.lookupdHttpAddresses();
    if (addrs.length === 0) {
      if (this.#peers.size > 0) {
        this.#log.error(
          `no available nsqlookupd to query for channels to pre-create for topic ${topic}`,
        );
      }
      return null;
    }
    const results = await Promise.allSettled(addrs.map((a) => this.#getChannels(a, topic)));
    const channels = new Set<string>();
    const errors: string[] = [];
    for (const r of results) {
      if (r.status === "fulfilled") { for (const c of r.value) channels.add(c); }
      else errors.push(r.reason instanceof Error ? r.reason.message : String(r.reason));
    }
    if (errors.length > 0) {
      this.#log.warn(
        `failed to query nsqlookupd for channels to pre-create for topic ${topic} - ${
          errors.join(", ")
        }`,
      );
    }
    return [...channels].sort();
  }

  /** `GET http://<addr>/channels?topic=<topic>` with the V1 Accept header and a deadline. */
  async #getChannels(addr: string, topic: string): Promise<string[]> {
    const url = `http://${addr}/channels?topic=${encodeURIComponent(topic)}`;
    const ctrl = new AbortController();
    // fetch cannot time the connect apart from the request: one deadline bounds both, like Go's
    // http.Client.Timeout (which includes the dial).
    const timeout = Math.max(this.#opts.httpClientRequestTimeout, 1);
    const timer = setTimeout(() => ctrl.abort(), timeout);
    try {
      const res = await fetch(url, {
        headers: { Accept: "application/vnd.nsq; version=1.0" },
        signal: ctrl.signal,
      });
      const text = await res.text();
      if (res.status !== 200) {
        throw new Error(`GET ${url} - got response ${res.status} ${res.statusText} ${text}`);
      }
      const data = JSON.parse(text) as { channels?: unknown };
      if (!Array.isArray(data?.channels)) return [];
      return data.channels.filter((c): c is string => typeof c === "string");
    } catch (err) {
      if (ctrl.signal.aborted) throw new Error(`GET ${url} - timeout after ${timeout}ms`);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops pinging, closes every peer and waits for their tasks. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const peer of this.#peers.values()) peer.close();
      this.#updatePingTimer();
      this.#log.info("LOOKUP: closing");
    }
    await this.#tasks.wait();
  }

  /** IDENTIFY body; keys in alphabetical order like Go's map encoding. */
  #identifyBody(): string {
    const o = this.#opts;
    const body: LookupdIdentify = {
      broadcast_address: o.broadcastAddress,
      hostname: o.hostname,
      http_port: o.httpPort,
      tcp_port: o.tcpPort,
      version: o.version,
    };
    return JSON.stringify(body);
  }

  /** One PING per peer every pingInterval while there are peers (it also detects dead ones). */
  #updatePingTimer(): void {
    const want = !this.#closed && this.#peers.size > 0;
    if (want && this.#pingTimer === null) {
      this.#pingTimer = setInterval(() => this.#ping(), this.#opts.pingInterval ?? 15_000);
    } else if (!want && this.#pingTimer !== null) {
      clearInterval(this.#pingTimer);
      this.#pingTimer = null;
    }
  }

  #ping(): void {
    for (const peer of this.#peers.values()) {
      // A PING still queued (peer slow or connecting) makes another one pointless.
      if (peer.pending.includes("PING")) continue;
      this.#log.debug(`LOOKUPD(${peer.addr}): sending heartbeat`);
      peer.command("PING");
    }
  }
}
