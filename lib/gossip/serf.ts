/**
 * A Serf member (HashiCorp Serf 0.8's protocol, version 4) on top of {@linkcode Memberlist}:
 * member tags, Lamport clocks, join/leave intents, user events, and the reaper and reconnect
 * loops. Serf's messages ride memberlist's user messages: `[type][msgpack body]` with the types
 * of serf's messages.go (leave 0, join 1, push-pull 2, user event 3, query 4, ...).
 *
 * - Member status: memberlist's join makes a member `alive`; its death makes it `failed`, or
 *   `left` when a leave intent arrived first. Intents carry the member clock's Lamport time so
 *   stale ones are ignored; an intent for a member not yet known is kept for 5 minutes.
 * - User events carry the event clock's Lamport time; the last `eventBuffer` times are
 *   remembered (name + payload) so each event is delivered once, and sent along in push-pull so
 *   a joining member learns recent events.
 * - Queries from other members are deduplicated, rebroadcast and acknowledged (not answered).
 * - reapLoop: every reap interval (15 s), failed members older than the reconnect timeout (24 h
 *   in Serf, 1 h in nsqd) and left members older than the tombstone timeout (24 h) are dropped.
 * - reconnectLoop: every reconnect interval (30 s) one failed member is asked to join again, so a
 *   healed partition merges.
 */
import type { Logger } from "../internal/log.ts";
import { BroadcastQueue } from "./broadcast_queue.ts";
import {
  ipToString,
  Memberlist,
  type MemberlistConfig,
  type MemberlistDelegate,
  type MemberNode,
} from "./memberlist.ts";
import { asObj, bytes, type Decoded, Decoder, encode, F64, int, str, text } from "./msgpack.ts";

const SERF_MSG = {
  leave: 0,
  join: 1,
  pushPull: 2,
  userEvent: 3,
  query: 4,
  queryResponse: 5,
  conflictResponse: 6,
  keyRequest: 7,
  keyResponse: 8,
  relay: 9,
} as const;

const TAG_MAGIC = 255;
/** Serf's MaxQueueDepth: older queued broadcasts beyond this are dropped. */
const MAX_QUEUE_DEPTH = 4096;
const QUERY_FLAG_ACK = 1;
const QUERY_FLAG_NO_BROADCAST = 2;
/** Serf's UserEventSizeLimit. */
export const USER_EVENT_SIZE_LIMIT = 512;
const RECENT_INTENT_TIMEOUT = 5 * 60_000;

/** Serf's Lamport clock. */
export class LamportClock {
  #t = 0;
  time(): number {
    return this.#t;
  }
  increment(): number {
    return ++this.#t;
  }
  witness(v: number): void {
    if (v >= this.#t) this.#t = v + 1;
  }
}

/** A member's status as Serf reports it (`serf members`). */
export type MemberStatus = "alive" | "leaving" | "left" | "failed";

/** A Serf member. */
export interface SerfMember {
  name: string;
  addr: string;
  port: number;
  tags: Record<string, string>;
  status: MemberStatus;
}

interface MemberState extends SerfMember {
  statusLTime: number;
  /** Date.now() when it failed or left. */
  leaveTime: number;
}

/** What Serf reports to its owner. */
export type SerfEvent =
  | {
    type: "member-join" | "member-leave" | "member-failed" | "member-update" | "member-reap";
    members: SerfMember[];
  }
  | { type: "user"; name: string; payload: Uint8Array; ltime: number; coalesce: boolean };

/** Serf's options (durations in ms); memberlist's are passed through. */
export interface SerfConfig extends Omit<MemberlistConfig, "name" | "delegateVersions"> {
  nodeName: string;
  tags: Record<string, string>;
  onEvent: (ev: SerfEvent) => void;
  reapInterval?: number;
  reconnectInterval?: number;
  reconnectTimeout?: number;
  tombstoneTimeout?: number;
  eventBuffer?: number;
  /** How long a graceful leave waits for its broadcasts (Serf's BroadcastTimeout, 5 s). */
  broadcastTimeout?: number;
}

interface UserEvents {
  ltime: number;
  events: { name: string; payload: Uint8Array }[];
}

/** One Serf member. */
export class Serf {
  readonly clock = new LamportClock();
  readonly eventClock = new LamportClock();
  readonly queryClock = new LamportClock();
  readonly memberlist: Memberlist;
  readonly #cfg: SerfConfig;
  readonly #log: Logger;
  readonly #members = new Map<string, MemberState>();
  readonly #intents = new Map<string, { type: number; ltime: number; at: number }>();
  readonly #eventBuffer: (UserEvents | null)[];
  readonly #queryBuffer: ({ ltime: number; ids: number[] } | null)[] = new Array(512).fill(null);
  readonly #broadcasts: BroadcastQueue;
  readonly #eventBroadcasts: BroadcastQueue;
  #state: "alive" | "leaving" | "left" | "shutdown" = "alive";
  #timers: ReturnType<typeof setInterval>[] = [];
  #pending = new Set<Promise<unknown>>();
  #tags: Record<string, string>;

  constructor(cfg: SerfConfig, logger: Logger) {
    this.#cfg = cfg;
    this.#log = logger;
    this.#tags = { ...cfg.tags };
    this.#eventBuffer = new Array(cfg.eventBuffer ?? 512).fill(null);
    const mult = cfg.retransmitMult ?? 4;
    this.#broadcasts = new BroadcastQueue(() => this.#members.size, mult);
    this.#eventBroadcasts = new BroadcastQueue(() => this.#members.size, mult);
    this.memberlist = new Memberlist(
      { ...cfg, name: cfg.nodeName, delegateVersions: [2, 5, 4] },
      this.#delegate(),
      logger,
    );
  }

  get name(): string {
    return this.#cfg.nodeName;
  }

  /** "alive", "leaving", "left" or "shutdown" (Serf's SerfState). */
  get state(): string {
    return this.#state;
  }

  /** Binds the gossip port and starts the loops. */
  async start(): Promise<void> {
    await this.memberlist.start();
    const reap = this.#cfg.reapInterval ?? 15_000;
    this.#timers.push(setInterval(() => this.#reap(), reap));
    const reconnect = this.#cfg.reconnectInterval ?? 30_000;
    this.#timers.push(setInterval(() => this.#track(this.#reconnect()), reconnect));
  }

  /** Joins through the given seeds; resolves with how many answered. */
  async join(seeds: string[]): Promise<{ joined: number; errors: string[] }> {
    if (this.#state !== "alive") throw new Error("Serf can't Join after Leave or Shutdown");
    const r = await this.memberlist.join(seeds);
    if (r.joined > 0) this.#broadcastJoin(this.clock.time());
    return r;
  }

  /** Sends a user event to the cluster (delivered locally too). */
  userEvent(name: string, payload: Uint8Array, coalesce = false): void {
    if (name.length + payload.length > USER_EVENT_SIZE_LIMIT) {
      throw new RangeError(`user event exceeds limit of ${USER_EVENT_SIZE_LIMIT} bytes`);
    }
    const ltime = this.eventClock.time();
    this.eventClock.increment();
    this.#handleUserEvent({ ltime, name, payload, cc: coalesce });
    this.#eventBroadcasts.queue(
      encode(SERF_MSG.userEvent, { LTime: ltime, Name: name, Payload: payload, CC: coalesce }),
    );
    this.#eventBroadcasts.prune(MAX_QUEUE_DEPTH);
  }

  /** Every member we know, ourselves included. */
  members(): SerfMember[] {
    return [...this.#members.values()].map((m) => ({
      name: m.name,
      addr: m.addr,
      port: m.port,
      tags: { ...m.tags },
      status: m.status,
    }));
  }

  /** One member by name. */
  member(name: string): SerfMember | undefined {
    const m = this.#members.get(name);
    return m && { name: m.name, addr: m.addr, port: m.port, tags: { ...m.tags }, status: m.status };
  }

  /** Serf's Stats(): counts and clocks, as strings. */
  stats(): Record<string, string> {
    let failed = 0, left = 0;
    for (const m of this.#members.values()) {
      if (m.status === "failed") failed++;
      if (m.status === "left") left++;
    }
    return {
      members: String(this.#members.size),
      failed: String(failed),
      left: String(left),
      member_time: String(this.clock.time()),
      event_time: String(this.eventClock.time()),
      query_time: String(this.queryClock.time()),
      intent_queue: String(this.#broadcasts.length),
      event_queue: String(this.#eventBroadcasts.length),
      health_score: String(this.memberlist.healthScore),
      encrypted: String(this.memberlist.encrypted),
      // ours: memberlist's traffic since start
      udp_packets_sent: String(this.memberlist.counters.udpSent),
      udp_packets_received: String(this.memberlist.counters.udpReceived),
      udp_bytes_sent: String(this.memberlist.counters.udpBytesSent),
      udp_bytes_received: String(this.memberlist.counters.udpBytesReceived),
      tcp_connects: String(this.memberlist.counters.tcpConnects),
      tcp_accepts: String(this.memberlist.counters.tcpAccepts),
    };
  }

  /** Broadcasts a leave intent and our death, waiting (bounded) for them to go out. */
  async leave(): Promise<void> {
    if (this.#state !== "alive") return;
    this.#state = "leaving";
    const timeout = this.#cfg.broadcastTimeout ?? 5000;
    const ltime = this.clock.time();
    this.clock.increment();
    this.#handleLeaveIntent({ ltime, node: this.name });
    const others = [...this.#members.values()].some((m) =>
      m.name !== this.name && m.status === "alive"
    );
    if (others) {
      let done!: () => void;
      const sent = new Promise<void>((r) => (done = r));
      this.#broadcasts.queue(encode(SERF_MSG.leave, { LTime: ltime, Node: this.name }), null, done);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([sent, new Promise<void>((r) => (timer = setTimeout(r, timeout)))]);
      clearTimeout(timer);
    }
    await this.memberlist.leave(timeout);
    this.#state = "left";
  }

  /** Stops everything (without a leave: others will see us fail). */
  async close(): Promise<void> {
    if (this.#state === "shutdown") return;
    this.#state = "shutdown";
    for (const t of this.#timers) clearInterval(t);
    await this.memberlist.close();
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  #track(p: Promise<unknown>): void {
    const q = p.catch((err) => this.#log.error(`serf: ${(err as Error).message}`))
      .finally(() => this.#pending.delete(q));
    this.#pending.add(q);
  }

  // ---- tags -----------------------------------------------------------------------------------

  #encodeTags(): Uint8Array {
    const body = encode(null, this.#tags);
    const out = new Uint8Array(body.length + 1);
    out[0] = TAG_MAGIC;
    out.set(body, 1);
    return out;
  }

  static decodeTags(buf: Uint8Array): Record<string, string> {
    const tags: Record<string, string> = {};
    if (buf.length === 0 || buf[0] !== TAG_MAGIC) {
      tags.role = new TextDecoder().decode(buf);
      return tags;
    }
    try {
      const o = asObj(new Decoder(buf, 1).next(), "tags");
      for (const k of Object.keys(o)) tags[k] = text(o[k]);
    } catch { /* malformed tags: none */ }
    return tags;
  }

  // ---- memberlist delegate --------------------------------------------------------------------

  #delegate(): MemberlistDelegate {
    return {
      nodeMeta: (limit) => {
        const b = this.#encodeTags();
        if (b.length > limit) {
          throw new RangeError(`node tags exceed length limit of ${limit} bytes`);
        }
        return b;
      },
      notifyMsg: (buf) => this.#notifyMsg(buf),
      getBroadcasts: (overhead, limit) => {
        const msgs = this.#broadcasts.get(overhead, limit);
        let used = 0;
        for (const m of msgs) used += m.length + overhead;
        msgs.push(...this.#eventBroadcasts.get(overhead, limit - used));
        return msgs;
      },
      localState: () => this.#localState(),
      mergeRemoteState: (buf, join) => this.#mergeRemoteState(buf, join),
      ackPayload: () =>
        // ping version 1 and a coordinate at the origin (Serf's NewCoordinate defaults)
        encode(1, {
          Vec: new Array(8).fill(new F64(0)),
          Error: new F64(1.5),
          Adjustment: new F64(0),
          Height: new F64(1e-5),
        }),
      notifyJoin: (n) => this.#handleNodeJoin(n),
      notifyLeave: (n) => this.#handleNodeLeave(n),
      notifyUpdate: (n) => this.#handleNodeUpdate(n),
    };
  }

  #notifyMsg(buf: Uint8Array): void {
    if (buf.length === 0) return;
    const type = buf[0];
    let o: Record<string, Decoded>;
    try {
      o = asObj(new Decoder(buf, 1).next(), "serf message");
    } catch (err) {
      this.#log.error(`serf: Error decoding message type ${type}: ${(err as Error).message}`);
      return;
    }
    let rebroadcast = false;
    let queue = this.#broadcasts;
    switch (type) {
      case SERF_MSG.leave:
        rebroadcast = this.#handleLeaveIntent({ ltime: int(o, "LTime"), node: str(o, "Node") });
        break;
      case SERF_MSG.join:
        rebroadcast = this.#handleJoinIntent({ ltime: int(o, "LTime"), node: str(o, "Node") });
        break;
      case SERF_MSG.userEvent:
        rebroadcast = this.#handleUserEvent({
          ltime: int(o, "LTime"),
          name: str(o, "Name"),
          payload: bytes(o, "Payload"),
          cc: o.CC === true,
        });
        queue = this.#eventBroadcasts;
        break;
      case SERF_MSG.query:
        rebroadcast = this.#handleQuery(o);
        break;
      default:
        break;
    }
    if (rebroadcast) {
      queue.queue(buf.slice());
      queue.prune(MAX_QUEUE_DEPTH);
    }
  }

  #localState(): Uint8Array {
    const statusLTimes: Record<string, number> = {};
    const left: string[] = [];
    for (const m of this.#members.values()) {
      statusLTimes[m.name] = m.statusLTime;
      if (m.status === "left") left.push(m.name);
    }
    const events = this.#eventBuffer.filter((e): e is UserEvents => e !== null).map((e) => ({
      LTime: e.ltime,
      Events: e.events.map((x) => ({ Name: x.name, Payload: x.payload })),
    }));
    return encode(SERF_MSG.pushPull, {
      LTime: this.clock.time(),
      StatusLTimes: statusLTimes,
      LeftMembers: left,
      EventLTime: this.eventClock.time(),
      Events: events,
      QueryLTime: this.queryClock.time(),
    });
  }

  #mergeRemoteState(buf: Uint8Array, _join: boolean): void {
    if (buf[0] !== SERF_MSG.pushPull) {
      this.#log.error(`serf: Remote state has bad type prefix: ${buf[0]}`);
      return;
    }
    let o: Record<string, Decoded>;
    try {
      o = asObj(new Decoder(buf, 1).next(), "push/pull");
    } catch (err) {
      this.#log.error(`serf: Failed to decode remote state: ${(err as Error).message}`);
      return;
    }
    const lt = int(o, "LTime");
    if (lt > 0) this.clock.witness(lt - 1);
    const et = int(o, "EventLTime");
    if (et > 0) this.eventClock.witness(et - 1);
    const qt = int(o, "QueryLTime");
    if (qt > 0) this.queryClock.witness(qt - 1);
    const status = o.StatusLTimes && typeof o.StatusLTimes === "object" &&
        !(o.StatusLTimes instanceof Uint8Array) && !Array.isArray(o.StatusLTimes)
      ? o.StatusLTimes as Record<string, Decoded>
      : {};
    const leftList = Array.isArray(o.LeftMembers) ? o.LeftMembers.map(text) : [];
    const leftSet = new Set(leftList);
    for (const name of leftList) {
      this.#handleLeaveIntent({ ltime: (Number(status[name]) || 0) + 1, node: name });
    }
    for (const name of Object.keys(status)) {
      if (leftSet.has(name)) continue;
      this.#handleJoinIntent({ ltime: Number(status[name]) || 0, node: name });
    }
    if (Array.isArray(o.Events)) {
      for (const e of o.Events) {
        if (e === null || typeof e !== "object" || e instanceof Uint8Array || Array.isArray(e)) {
          continue;
        }
        const ltime = int(e, "LTime");
        if (!Array.isArray(e.Events)) continue;
        for (const x of e.Events) {
          const xo = asObj(x, "user event");
          this.#handleUserEvent({
            ltime,
            name: str(xo, "Name"),
            payload: bytes(xo, "Payload"),
            cc: false,
          });
        }
      }
    }
  }

  // ---- member state (serf.go) -----------------------------------------------------------------

  #public(m: MemberState): SerfMember {
    return { name: m.name, addr: m.addr, port: m.port, tags: { ...m.tags }, status: m.status };
  }

  #emit(ev: SerfEvent): void {
    try {
      this.#cfg.onEvent(ev);
    } catch (err) {
      this.#log.error(`serf: event handler failed - ${(err as Error).message}`);
    }
  }

  #recentIntent(name: string, type: number): number | null {
    const i = this.#intents.get(name);
    if (!i || i.type !== type || Date.now() - i.at > RECENT_INTENT_TIMEOUT) return null;
    return i.ltime;
  }

  #upsertIntent(name: string, type: number, ltime: number): boolean {
    const i = this.#intents.get(name);
    if (i && ltime <= i.ltime) return false;
    this.#intents.set(name, { type, ltime, at: Date.now() });
    return true;
  }

  #handleNodeJoin(n: MemberNode): void {
    let m = this.#members.get(n.name);
    if (!m) {
      m = {
        name: n.name,
        addr: ipToString(n.addr),
        port: n.port,
        tags: Serf.decodeTags(n.meta),
        status: "alive",
        statusLTime: 0,
        leaveTime: 0,
      };
      const join = this.#recentIntent(n.name, SERF_MSG.join);
      if (join !== null) m.statusLTime = join;
      const leave = this.#recentIntent(n.name, SERF_MSG.leave);
      if (leave !== null) {
        m.status = "leaving";
        m.statusLTime = leave;
      }
      this.#intents.delete(n.name);
      this.#members.set(n.name, m);
    } else {
      m.status = "alive";
      m.leaveTime = 0;
      m.addr = ipToString(n.addr);
      m.port = n.port;
      m.tags = Serf.decodeTags(n.meta);
    }
    this.#log.info(`serf: EventMemberJoin: ${m.name} ${m.addr}`);
    this.#emit({ type: "member-join", members: [this.#public(m)] });
  }

  #handleNodeLeave(n: MemberNode): void {
    const m = this.#members.get(n.name);
    if (!m) return;
    if (m.status === "leaving") m.status = "left";
    else if (m.status === "alive") m.status = "failed";
    else return;
    m.leaveTime = Date.now();
    const type = m.status === "left" ? "member-leave" : "member-failed";
    this.#log.info(
      `serf: ${
        type === "member-leave" ? "EventMemberLeave" : "EventMemberFailed"
      }: ${m.name} ${m.addr}`,
    );
    this.#emit({ type, members: [this.#public(m)] });
  }

  #handleNodeUpdate(n: MemberNode): void {
    const m = this.#members.get(n.name);
    if (!m) return;
    m.addr = ipToString(n.addr);
    m.port = n.port;
    m.tags = Serf.decodeTags(n.meta);
    this.#emit({ type: "member-update", members: [this.#public(m)] });
  }

  #handleJoinIntent(j: { ltime: number; node: string }): boolean {
    this.clock.witness(j.ltime);
    const m = this.#members.get(j.node);
    if (!m) return this.#upsertIntent(j.node, SERF_MSG.join, j.ltime);
    if (j.ltime <= m.statusLTime) return false;
    m.statusLTime = j.ltime;
    if (m.status === "leaving") m.status = "alive";
    return true;
  }

  #handleLeaveIntent(l: { ltime: number; node: string }): boolean {
    this.clock.witness(l.ltime);
    const m = this.#members.get(l.node);
    if (!m) return this.#upsertIntent(l.node, SERF_MSG.leave, l.ltime);
    if (l.ltime <= m.statusLTime) return false;
    if (l.node === this.name && this.#state === "alive") {
      // someone thinks we are leaving: refute with a fresh join intent
      this.#broadcastJoin(this.clock.time());
      return false;
    }
    if (m.status === "alive") {
      m.status = "leaving";
      m.statusLTime = l.ltime;
      return true;
    }
    if (m.status === "failed") {
      m.status = "left";
      m.statusLTime = l.ltime;
      this.#emit({ type: "member-leave", members: [this.#public(m)] });
      return true;
    }
    return false;
  }

  /**
   * A Serf query from another member (serf.go handleQuery): deduplicated by (Lamport time, id),
   * rebroadcast unless it says not to, and acknowledged straight to the asker when it asks for
   * acks and its filters select us. Queries are not handed to nsqd, so none gets a response.
   */
  #handleQuery(o: Record<string, Decoded>): boolean {
    const ltime = int(o, "LTime");
    const id = int(o, "ID");
    this.queryClock.witness(ltime);
    const size = this.#queryBuffer.length;
    const cur = this.queryClock.time();
    if (cur > size && ltime < cur - size) return false;
    const idx = ltime % size;
    let seen = this.#queryBuffer[idx];
    if (seen !== null && seen.ltime === ltime) {
      if (seen.ids.includes(id)) return false;
    } else {
      seen = { ltime, ids: [] };
      this.#queryBuffer[idx] = seen;
    }
    seen.ids.push(id);
    const flags = int(o, "Flags");
    const rebroadcast = (flags & QUERY_FLAG_NO_BROADCAST) === 0;
    if (!this.#queryMatches(Array.isArray(o.Filters) ? o.Filters : [])) return rebroadcast;
    if (flags & QUERY_FLAG_ACK) {
      const ack = encode(SERF_MSG.queryResponse, {
        LTime: ltime,
        ID: id,
        From: this.name,
        Flags: QUERY_FLAG_ACK,
        Payload: null,
      });
      const ip = ipToString(bytes(o, "Addr"));
      const to = ip.includes(":") ? `[${ip}]:${int(o, "Port")}` : `${ip}:${int(o, "Port")}`;
      this.#track(this.memberlist.sendTo(to, ack));
    }
    return rebroadcast;
  }

  /** Serf's query filters: a node-name list, or a tag matched by a regular expression. */
  #queryMatches(filters: Decoded[]): boolean {
    for (const f of filters) {
      if (!(f instanceof Uint8Array) || f.length === 0) return false;
      try {
        const body = new Decoder(f, 1).next();
        if (f[0] === 0) {
          const names = Array.isArray(body) ? body.map(text) : [];
          if (!names.includes(this.name)) return false;
        } else if (f[0] === 1) {
          const t = asObj(body, "tag filter");
          const value = this.#tags[str(t, "Tag")];
          if (value === undefined || !new RegExp(str(t, "Expr")).test(value)) return false;
        } else return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  #broadcastJoin(ltime: number): void {
    this.clock.witness(ltime);
    this.#handleJoinIntent({ ltime, node: this.name });
    this.#broadcasts.queue(encode(SERF_MSG.join, { LTime: ltime, Node: this.name }));
  }

  #handleUserEvent(e: { ltime: number; name: string; payload: Uint8Array; cc: boolean }): boolean {
    this.eventClock.witness(e.ltime);
    const size = this.#eventBuffer.length;
    const cur = this.eventClock.time();
    if (cur > size && e.ltime < cur - size) {
      this.#log.warn(
        `serf: received old event ${e.name} from time ${e.ltime} (current: ${cur})`,
      );
      return false;
    }
    const idx = e.ltime % size;
    let seen = this.#eventBuffer[idx];
    if (seen !== null && seen.ltime === e.ltime) {
      for (const p of seen.events) {
        if (p.name === e.name && sameBytes(p.payload, e.payload)) return false;
      }
    } else {
      seen = { ltime: e.ltime, events: [] };
      this.#eventBuffer[idx] = seen;
    }
    seen.events.push({ name: e.name, payload: e.payload });
    this.#emit({ type: "user", name: e.name, payload: e.payload, ltime: e.ltime, coalesce: e.cc });
    return true;
  }

  // ---- reaper and reconnect -------------------------------------------------------------------

  #reap(): void {
    const now = Date.now();
    const reconnectTimeout = this.#cfg.reconnectTimeout ?? 24 * 3600_000;
    const tombstone = this.#cfg.tombstoneTimeout ?? 24 * 3600_000;
    for (const m of [...this.#members.values()]) {
      const limit = m.status === "failed" ? reconnectTimeout : m.status === "left" ? tombstone : -1;
      if (limit < 0 || now - m.leaveTime <= limit) continue;
      this.#members.delete(m.name);
      this.#log.info(`serf: EventMemberReap: ${m.name}`);
      this.#emit({ type: "member-reap", members: [this.#public(m)] });
    }
    for (const [name, i] of this.#intents) {
      if (now - i.at > RECENT_INTENT_TIMEOUT) this.#intents.delete(name);
    }
  }

  async #reconnect(): Promise<void> {
    if (this.#state !== "alive") return;
    const failed = [...this.#members.values()].filter((m) => m.status === "failed");
    if (failed.length === 0) return;
    const alive = [...this.#members.values()].filter((m) => m.status === "alive").length;
    // like Serf: the fewer live members relative to failed ones, the likelier an attempt
    if (Math.random() > failed.length / Math.max(1, alive)) return;
    const m = failed[Math.floor(Math.random() * failed.length)];
    const addr = m.addr.includes(":") ? `[${m.addr}]:${m.port}` : `${m.addr}:${m.port}`;
    this.#log.info(`serf: attempting reconnect to ${m.name} ${addr}`);
    await this.memberlist.join([addr]);
  }

  /** Replaces our tags and announces them. */
  setTags(tags: Record<string, string>): void {
    this.#tags = { ...tags };
    this.memberlist.updateMeta();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
