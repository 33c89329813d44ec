/**
 * nsqd's gossip (nsq's dev-branch nsqd/gossip.go): with `--gossip-address` set, nsqd is a Serf
 * member, tells the cluster about its topics and channels with user events, and keeps a
 * registration DB from what the others tell, so its HTTP port answers nsqlookupd's read API
 * (`/lookup`, `/topics`, `/channels`, `/nodes`). See docs/gossip.md.
 *
 * - Tags: role=nsqd, tp (TCP port), hp (HTTP port), hps (HTTPS port, when set), ba (broadcast
 *   address), h (hostname), v (version). The member name is `<broadcast address>:<tcp port>`.
 * - Events: `topic+`, `topic-`, `channel+`, `channel-` as topics and channels come and go, with
 *   the JSON payload `{"n":<member>,"t":<topic>,"c":<channel>,"r":<nonce>}`; `topic=` and
 *   `channel=` for every topic (without channels) and channel every regossip interval (60 s),
 *   right after joining, and half a second after another member joins.
 * - joinLoop: joins through `--gossip-seed-address`, retrying every 15 s until one answers.
 * - A member that fails, leaves or is reaped has every registration removed.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import type { Logger } from "../internal/log.ts";
import { parseGossipKey } from "./options.ts";
import {
  type GossipPeer,
  GossipRegistrationDb,
  Keyring,
  type Registration,
  Serf,
  type SerfEvent,
  type SerfMember,
} from "../gossip/mod.ts";
import { NSQ_VERSION } from "../version.ts";
import type { NsqdOptions } from "./options.ts";

/** Seed join retry period (nsq's gossipLoop). */
export const GOSSIP_JOIN_RETRY = 15_000;

/** What the gossip side needs from nsqd. */
export interface NsqdGossipContext {
  readonly opts: NsqdOptions;
  readonly logger: Logger;
  readonly hostname: string;
  readonly tcpPort: number;
  readonly httpPort: number;
  readonly httpsPort: number;
  /** Current registrations: topics without channels, and every channel. */
  registrations(): { topic: string; channel?: string }[];
}

/** A member as /stats shows it. */
export interface GossipMemberStats {
  name: string;
  address: string;
  status: string;
  tags: Record<string, string>;
}

const td = new TextDecoder();
const te = new TextEncoder();

/** Parses `host:port` for the gossip listener. */
function splitAddr(s: string): { host: string; port: number } {
  const m = /^\[(.*)\]:(\d+)$/.exec(s) ?? /^(.*):(\d+)$/.exec(s);
  if (!m) throw new TypeError(`--gossip-address "${s}" must be <addr>:<port>`);
  return { host: m[1] === "" ? "0.0.0.0" : m[1], port: Number(m[2]) };
}

function isIp(s: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(s) || s.includes(":");
}

export class NsqdGossip {
  readonly db = new GossipRegistrationDb();
  readonly #ctx: NsqdGossipContext;
  readonly #log: Logger;
  #serf: Serf | null = null;
  #name = "";
  #abort = new AbortController();
  #tasks = new Set<Promise<void>>();
  #regossip: ReturnType<typeof setInterval> | undefined;
  #soon: ReturnType<typeof setTimeout> | undefined;
  #joined = false;
  /** Events about members not yet known, applied when they join (bounded). */
  #early = new Map<string, { name: string; payload: Uint8Array }[]>();

  constructor(ctx: NsqdGossipContext) {
    this.#ctx = ctx;
    this.#log = ctx.logger;
  }

  get serf(): Serf | null {
    return this.#serf;
  }

  /** Our member name (`<broadcast>:<tcp port>`). */
  get name(): string {
    return this.#name;
  }

  /** The bound gossip port. */
  get port(): number {
    return this.#serf?.memberlist.port ?? 0;
  }

  async start(): Promise<void> {
    const o = this.#ctx.opts;
    const { host, port } = splitAddr(o.gossipAddress);
    const tags: Record<string, string> = {
      role: "nsqd",
      tp: String(this.#ctx.tcpPort),
      hp: String(this.#ctx.httpPort),
    };
    if (this.#ctx.httpsPort > 0) tags.hps = String(this.#ctx.httpsPort);
    tags.ba = o.broadcastAddress;
    tags.h = this.#ctx.hostname;
    tags.v = NSQ_VERSION;
    this.#name = `${o.broadcastAddress}:${this.#ctx.tcpPort}`;
    const keyring = o.gossipSecretKey
      ? await Keyring.create([parseGossipKey(o.gossipSecretKey)])
      : null;
    this.#serf = new Serf({
      nodeName: this.#name,
      tags,
      bindAddr: host,
      bindPort: port,
      advertiseAddr: await this.#advertiseAddr(host),
      gossipInterval: 100,
      gossipNodes: 5,
      probeInterval: o.gossipProbeInterval,
      probeTimeout: Math.min(500, Math.max(50, Math.floor(o.gossipProbeInterval / 2))),
      suspicionMult: o.gossipSuspicionMult,
      reapInterval: o.gossipReapInterval,
      reconnectTimeout: o.gossipReconnectTimeout,
      eventBuffer: 1024,
      keyring,
      broadcastTimeout: 1000,
      onEvent: (ev) => this.#onEvent(ev),
    }, this.#log);
    try {
      await this.#serf.start();
    } catch (err) {
      const serf = this.#serf;
      this.#serf = null;
      await serf.close().catch(() => {});
      throw new Error(`failed to start gossip on ${o.gossipAddress} - ${(err as Error).message}`);
    }
    this.#log.info(`GOSSIP: listening on ${host}:${this.#serf.memberlist.port} as ${this.#name}`);
    this.regossip(); // our own DB learns our topics now; the cluster after joining
    this.#spawn(this.#joinLoop());
    this.#regossip = setInterval(() => this.regossip(), o.gossipRegossipInterval);
  }

  /** The address others reach us at: the bind IP, else the broadcast address resolved. */
  async #advertiseAddr(bindHost: string): Promise<string> {
    if (bindHost !== "0.0.0.0" && bindHost !== "::" && isIp(bindHost)) return bindHost;
    const ba = this.#ctx.opts.broadcastAddress;
    if (isIp(ba)) return ba;
    try {
      return (await dnsLookup(ba, { family: 4 })).address;
    } catch {
      return "127.0.0.1";
    }
  }

  #spawn(p: Promise<void>): void {
    const q = p.catch((err) => this.#log.error(`GOSSIP: ${(err as Error).message}`))
      .finally(() => this.#tasks.delete(q));
    this.#tasks.add(q);
  }

  /** Joins through the seeds, retrying every 15 s until one answers (nsq's gossipLoop). */
  async #joinLoop(): Promise<void> {
    const seeds = this.#ctx.opts.gossipSeedAddresses;
    const signal = this.#abort.signal;
    if (seeds.length === 0) {
      this.#joined = true;
      return;
    }
    while (!signal.aborted) {
      const r = await this.#serf!.join(seeds);
      if (r.joined > 0) {
        this.#log.info(`GOSSIP: joined ${r.joined} nodes`);
        this.#joined = true;
        this.regossip();
        return;
      }
      this.#log.error(`GOSSIP: failed to join - ${r.errors.join("; ")}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, GOSSIP_JOIN_RETRY);
        signal.addEventListener("abort", () => {
          clearTimeout(t);
          resolve();
        }, { once: true });
      });
    }
  }

  /** Leaves the cluster (bounded) and stops. */
  async close(): Promise<void> {
    this.#abort.abort();
    clearInterval(this.#regossip);
    clearTimeout(this.#soon);
    if (this.#serf) {
      await this.#serf.leave().catch(() => {});
      await this.#serf.close();
    }
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  // ---- what we tell -----------------------------------------------------------------------------

  #send(event: string, topic: string, channel = ""): void {
    if (this.#serf === null || this.#serf.state !== "alive") return;
    const nonce = BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6));
    const payload = `{"n":${JSON.stringify(this.#name)},"t":${JSON.stringify(topic)},"c":${
      JSON.stringify(channel)
    },"r":${nonce}}`;
    try {
      this.#serf.userEvent(event, te.encode(payload));
    } catch (err) {
      this.#log.error(`failed to send Serf user event - ${(err as Error).message}`);
    }
  }

  /** A topic or channel now exists here. */
  register(topic: string, channel?: string): void {
    if (channel === undefined) this.#send("topic+", topic);
    else this.#send("channel+", topic, channel);
  }

  /** A topic or channel is gone here. */
  unregister(topic: string, channel?: string): void {
    if (channel === undefined) this.#send("topic-", topic);
    else this.#send("channel-", topic, channel);
  }

  /**
   * A member joined (new, restarted, or back from a partition): it does not know our topics
   * until the next regossip, so announce them shortly (once for a burst of joins). Beyond the
   * dev branch, which waits for the regossip interval.
   */
  #regossipSoon(): void {
    if (this.#soon !== undefined || this.#abort.signal.aborted) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.regossip();
    }, 500);
  }

  /** Re-announces every topic and channel (`topic=` / `channel=`). */
  regossip(): void {
    for (const r of this.#ctx.registrations()) {
      if (r.channel === undefined) this.#send("topic=", r.topic);
      else this.#send("channel=", r.topic, r.channel);
    }
  }

  // ---- what we hear -----------------------------------------------------------------------------

  #peer(m: SerfMember): GossipPeer {
    return {
      id: m.name,
      remoteAddress: m.addr.includes(":") ? `[${m.addr}]:${m.port}` : `${m.addr}:${m.port}`,
      hostname: m.tags.h ?? "",
      broadcastAddress: m.tags.ba ?? "",
      tcpPort: Number(m.tags.tp) || 0,
      httpPort: Number(m.tags.hp) || 0,
      version: m.tags.v ?? "",
      lastUpdate: Date.now(),
    };
  }

  #onEvent(ev: SerfEvent): void {
    switch (ev.type) {
      case "member-join":
      case "member-update":
        if (ev.type === "member-join" && ev.members.some((m) => m.name !== this.#name)) {
          this.#regossipSoon();
        }
        for (const m of ev.members) {
          if (m.tags.role !== "nsqd") continue;
          if (this.db.addProducer({ category: "client", key: "", subkey: "" }, this.#peer(m))) {
            this.#log.info(`DB: member(${m.name}) REGISTER category:client key: subkey:`);
          }
          const early = this.#early.get(m.name);
          this.#early.delete(m.name);
          for (const e of early ?? []) this.#userEvent(e.name, e.payload);
        }
        return;
      case "member-failed":
      case "member-leave":
      case "member-reap":
        for (const m of ev.members) {
          const n = this.db.removeMember(m.name);
          if (n > 0) {
            this.#log.info(`DB: member(${m.name}) ${ev.type} - ${n} registrations removed`);
          }
        }
        return;
      case "user":
        this.#userEvent(ev.name, ev.payload);
    }
  }

  #userEvent(name: string, payload: Uint8Array): void {
    const op = name.at(-1);
    const kind = name.slice(0, -1);
    if ((kind !== "topic" && kind !== "channel") || !op || !"+-=".includes(op)) return;
    let gev: { n?: unknown; t?: unknown; c?: unknown };
    try {
      gev = JSON.parse(td.decode(payload));
    } catch (err) {
      this.#log.error(`failed to Unmarshal gossipEvent - ${(err as Error).message}`);
      return;
    }
    const node = typeof gev.n === "string" ? gev.n : "";
    const topic = typeof gev.t === "string" ? gev.t : "";
    const channel = typeof gev.c === "string" ? gev.c : "";
    if (topic === "") return;
    const member = this.#serf?.member(node);
    if (!member || member.status === "failed" || member.status === "left") {
      if (member === undefined) {
        // its alive message has not reached us yet: keep the event until it does
        const list = this.#early.get(node) ?? [];
        if (list.length < 1000 && this.#early.size < 10_000) {
          list.push({ name, payload });
          this.#early.set(node, list);
        }
      }
      return;
    }
    const producer = this.#peer(member);
    if (op === "+" || op === "=") {
      const regs: Registration[] = [];
      if (channel !== "") regs.push({ category: "channel", key: topic, subkey: channel });
      regs.push({ category: "topic", key: topic, subkey: "" });
      for (const r of regs) {
        if (this.db.addProducer(r, producer)) {
          this.#log.info(
            `DB: member(${node}) REGISTER category:${r.category} key:${r.key} subkey:${r.subkey}`,
          );
        }
      }
      return;
    }
    if (channel !== "") {
      const r: Registration = { category: "channel", key: topic, subkey: channel };
      const { removed, left } = this.db.removeProducer(r, node);
      if (removed) {
        this.#log.info(
          `DB: member(${node}) UNREGISTER category:channel key:${topic} subkey:${channel}`,
        );
      }
      if (left === 0 && channel.endsWith("#ephemeral")) this.db.removeRegistration(r);
      return;
    }
    for (const r of this.db.findRegistrations("channel", topic, "*")) {
      this.db.removeProducer(r, node);
    }
    const { removed } = this.db.removeProducer({ category: "topic", key: topic, subkey: "" }, node);
    if (removed) {
      this.#log.info(`DB: member(${node}) UNREGISTER category:topic key:${topic} subkey:`);
    }
  }

  // ---- what we answer ---------------------------------------------------------------------------

  /** "" when healthy, else the reason (for `/ping`'s `NOK - ...`). */
  unhealthy(): string {
    const s = this.#serf;
    if (s === null) return "gossip not started";
    if (s.state !== "alive") return `gossip ${s.state}`;
    if (this.#ctx.opts.gossipSeedAddresses.length > 0) {
      if (!this.#joined) return "gossip not joined to any seed";
      const others = s.members().some((m) => m.name !== this.#name && m.status === "alive");
      if (!others) return "gossip has no live members";
    }
    return "";
  }

  /** Members, their status and Serf's counters, for /stats. */
  stats(): {
    name: string;
    health: string;
    members: GossipMemberStats[];
    serf: Record<string, string>;
  } {
    const s = this.#serf;
    const bad = this.unhealthy();
    const members = (s?.members() ?? []).map((m) => ({
      name: m.name,
      address: m.addr.includes(":") ? `[${m.addr}]:${m.port}` : `${m.addr}:${m.port}`,
      status: m.status,
      tags: m.tags,
    })).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    return {
      name: this.#name,
      health: bad === "" ? "OK" : `NOK - ${bad}`,
      members,
      serf: s?.stats() ?? {},
    };
  }
}
