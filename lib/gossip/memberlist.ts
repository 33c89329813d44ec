/**
 * A memberlist member (HashiCorp memberlist 0.1.x's wire protocol, as Serf 0.8 speaks it): SWIM
 * failure detection with Lifeguard's suspicion, dissemination by piggy-backed gossip, and TCP
 * push-pull anti-entropy.
 *
 * - probeLoop: every probe interval (1 s) the next member in a shuffled round robin gets a UDP
 *   ping; with no ack within the probe timeout (0.5 s), `indirectChecks` (3) other members are
 *   asked to ping it, and a TCP ping is tried; with no ack by the end of the interval the member
 *   is suspected. A suspected member is declared dead after the suspicion timeout
 *   (suspicion.ts) unless it refutes with a higher incarnation.
 * - gossipLoop: every gossip interval (200 ms) up to `gossipNodes` (3) random live members (and
 *   members dead for less than 30 s) get the queued alive/suspect/dead messages and the
 *   delegate's (Serf's) messages, several in one compound packet.
 * - pushPullLoop: every 30 s (scaled up beyond 32 members) a full state exchange with one
 *   random live member over TCP; joining is a push-pull with each seed.
 *
 * Packets may carry a CRC (hasCrcMsg), LZW compression (compressMsg) and AES-GCM encryption
 * (security.ts); we accept all of them and send uncompressed, as memberlist allows.
 */
import dgram from "node:dgram";
import type { Logger } from "../internal/log.ts";
import { BroadcastQueue } from "./broadcast_queue.ts";
import { crc32 } from "./crc32.ts";
import { lzwDecompress } from "./lzw.ts";
import { asObj, bool, bytes, type Decoded, Decoder, encode, int, str } from "./msgpack.ts";
import { ENCRYPT_OVERHEAD, type Keyring } from "./security.ts";
import { Suspicion } from "./suspicion.ts";

/** memberlist's messageType. */
export const MSG = {
  ping: 0,
  indirectPing: 1,
  ackResp: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  pushPull: 6,
  compound: 7,
  user: 8,
  compress: 9,
  encrypt: 10,
  nackResp: 11,
  hasCrc: 12,
  err: 13,
} as const;

/** A member's state as memberlist tracks it. */
export type NodeStateName = "alive" | "suspect" | "dead";
const STATE_CODES: NodeStateName[] = ["alive", "suspect", "dead"];

/** One member as memberlist knows it. */
export interface MemberNode {
  name: string;
  /** IPv4 (4 bytes) or IPv6 (16 bytes). */
  addr: Uint8Array;
  port: number;
  meta: Uint8Array;
  incarnation: number;
  state: NodeStateName;
  /** performance.now() of the last state change. */
  stateChange: number;
  /** pmin, pmax, pcur, dmin, dmax, dcur. */
  vsn: number[];
}

/** What the layer above (Serf) provides. */
export interface MemberlistDelegate {
  nodeMeta(limit: number): Uint8Array;
  notifyMsg(msg: Uint8Array): void;
  getBroadcasts(overhead: number, limit: number): Uint8Array[];
  localState(join: boolean): Uint8Array;
  mergeRemoteState(buf: Uint8Array, join: boolean): void;
  ackPayload(): Uint8Array;
  notifyJoin(n: MemberNode): void;
  notifyLeave(n: MemberNode): void;
  notifyUpdate(n: MemberNode): void;
}

/** Tunables; defaults are memberlist's DefaultLANConfig. Durations in ms. */
export interface MemberlistConfig {
  name: string;
  bindAddr: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  bindPort: number;
  /** Address other members reach us at (default: bindAddr). */
  advertiseAddr?: string;
  probeInterval?: number;
  probeTimeout?: number;
  suspicionMult?: number;
  suspicionMaxTimeoutMult?: number;
  gossipInterval?: number;
  gossipNodes?: number;
  gossipToTheDeadTime?: number;
  pushPullInterval?: number;
  retransmitMult?: number;
  indirectChecks?: number;
  tcpTimeout?: number;
  udpBufferSize?: number;
  keyring?: Keyring | null;
  /** Delegate protocol versions [min, max, cur] (Serf's 2, 5, 4). */
  delegateVersions?: [number, number, number];
  /** Test hook: return true to drop traffic to or from this "ip:port". */
  dropPeer?: (addr: string) => boolean;
}

const PROTOCOL_MIN = 1;
const PROTOCOL_MAX = 5;
const PROTOCOL_CUR = 2;
const META_MAX = 512;
const COMPOUND_HEADER_OVERHEAD = 2;
const COMPOUND_OVERHEAD = 2;
const USER_MSG_OVERHEAD = 1;
const MAX_PUSH_STATE = 20 * 1024 * 1024;
const AWARENESS_MAX = 8;

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Traffic counters (for /stats and the bench). */
export interface MemberlistCounters {
  udpSent: number;
  udpReceived: number;
  udpBytesSent: number;
  udpBytesReceived: number;
  tcpConnects: number;
  tcpAccepts: number;
}

export function ipToString(a: Uint8Array): string {
  if (a.length === 4) return a.join(".");
  if (a.length === 16) {
    const v4mapped = a.subarray(0, 10).every((x) => x === 0) && a[10] === 0xff &&
      a[11] === 0xff;
    if (v4mapped) return a.subarray(12).join(".");
    const parts: string[] = [];
    for (let i = 0; i < 16; i += 2) parts.push(((a[i] << 8) | a[i + 1]).toString(16));
    return parts.join(":");
  }
  return "";
}

export function parseIp(s: string): Uint8Array {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (m) return Uint8Array.from(m.slice(1).map(Number));
  // IPv6: expand "::"
  const [head, tail] = s.includes("::") ? s.split("::") : [s, null];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === null ? [] : new Array(8 - h.length - t.length).fill("0");
  const groups = [...h, ...fill, ...t];
  if (groups.length !== 8) throw new TypeError(`invalid IP address "${s}"`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

function hostPort(addr: Uint8Array, port: number): string {
  const ip = ipToString(addr);
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function splitHostPort(s: string, defPort: number): { host: string; port: number } {
  const m = /^\[(.*)\]:(\d+)$/.exec(s) ?? /^([^:]*):(\d+)$/.exec(s);
  if (m) return { host: m[1] || "127.0.0.1", port: Number(m[2]) };
  return { host: s.replace(/^\[|\]$/g, ""), port: defPort };
}

function shuffle<T>(a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
}

/** Reads a TCP stream into one buffer as far as the parser needs. */
class StreamIn {
  buf: Uint8Array = new Uint8Array(0);
  pos = 0;
  constructor(readonly conn: Deno.Conn | null, initial?: Uint8Array) {
    if (initial) this.buf = initial;
  }
  #chunk: Uint8Array | null = null;
  async fill(): Promise<void> {
    if (this.conn === null) throw new RangeError("unexpected end of stream");
    const chunk = this.#chunk ??= new Uint8Array(16 * 1024);
    const n = await this.conn.read(chunk);
    if (n === null) throw new RangeError("unexpected end of stream");
    const b = new Uint8Array(this.buf.length - this.pos + n);
    b.set(this.buf.subarray(this.pos));
    b.set(chunk.subarray(0, n), this.buf.length - this.pos);
    this.buf = b;
    this.pos = 0;
    if (this.buf.length > MAX_PUSH_STATE + 1024) throw new RangeError("remote state too large");
  }
  async bytes(n: number): Promise<Uint8Array> {
    while (this.buf.length - this.pos < n) await this.fill();
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  async value(): Promise<Decoded> {
    for (;;) {
      const d = new Decoder(this.buf, this.pos);
      try {
        const v = d.next();
        this.pos = d.pos;
        return v;
      } catch (err) {
        if (!(err instanceof RangeError) || !/unexpected end/.test(err.message)) throw err;
        await this.fill();
      }
    }
  }
}

interface AckWaiter {
  resolve: (ok: boolean) => void;
  timer: ReturnType<typeof setTimeout>;
  onAck?: (payload: Uint8Array) => void;
}

/** One memberlist member. Construct, `start()`, `join()`, then `leave()` / `close()`. */
export class Memberlist {
  readonly name: string;
  readonly counters: MemberlistCounters = {
    udpSent: 0,
    udpReceived: 0,
    udpBytesSent: 0,
    udpBytesReceived: 0,
    tcpConnects: 0,
    tcpAccepts: 0,
  };
  readonly #cfg: Required<Omit<MemberlistConfig, "keyring" | "dropPeer" | "advertiseAddr">>;
  readonly #keyring: Keyring | null;
  readonly #drop: ((addr: string) => boolean) | null;
  readonly #d: MemberlistDelegate;
  readonly #log: Logger;
  readonly #nodes: MemberNode[] = [];
  readonly #nodeMap = new Map<string, MemberNode>();
  readonly #timers = new Map<string, Suspicion>();
  readonly #acks = new Map<number, AckWaiter>();
  readonly #nacks = new Map<number, { count: number }>();
  readonly #broadcasts: BroadcastQueue;
  #udp: dgram.Socket | null = null;
  #tcp: Deno.Listener | null = null;
  #advertise!: Uint8Array;
  #port = 0;
  #seq = 0;
  #incarnation = 0;
  #probeIndex = 0;
  #left = false;
  #closed = false;
  #abort = new AbortController();
  #intervals: ReturnType<typeof setInterval>[] = [];
  #pending = new Set<Promise<unknown>>();
  #conns = new Set<Deno.Conn>();

  constructor(cfg: MemberlistConfig, delegate: MemberlistDelegate, logger: Logger) {
    this.name = cfg.name;
    this.#cfg = {
      name: cfg.name,
      bindAddr: cfg.bindAddr,
      bindPort: cfg.bindPort,
      probeInterval: cfg.probeInterval ?? 1000,
      probeTimeout: cfg.probeTimeout ?? 500,
      suspicionMult: cfg.suspicionMult ?? 4,
      suspicionMaxTimeoutMult: cfg.suspicionMaxTimeoutMult ?? 6,
      gossipInterval: cfg.gossipInterval ?? 200,
      gossipNodes: cfg.gossipNodes ?? 3,
      gossipToTheDeadTime: cfg.gossipToTheDeadTime ?? 30_000,
      pushPullInterval: cfg.pushPullInterval ?? 30_000,
      retransmitMult: cfg.retransmitMult ?? 4,
      indirectChecks: cfg.indirectChecks ?? 3,
      tcpTimeout: cfg.tcpTimeout ?? 10_000,
      udpBufferSize: cfg.udpBufferSize ?? 1400,
      delegateVersions: cfg.delegateVersions ?? [2, 5, 4],
    };
    this.#keyring = cfg.keyring ?? null;
    this.#drop = cfg.dropPeer ?? null;
    this.#d = delegate;
    this.#log = logger;
    this.#advertise = parseIp(cfg.advertiseAddr || cfg.bindAddr);
    this.#broadcasts = new BroadcastQueue(() => this.#nodes.length, this.#cfg.retransmitMult);
  }

  /** The bound gossip port (UDP and TCP). */
  get port(): number {
    return this.#port;
  }

  /** "ip:port" other members use for us. */
  get address(): string {
    return hostPort(this.#advertise, this.#port);
  }

  get encrypted(): boolean {
    return this.#keyring !== null;
  }

  /** Every known member, ourselves included. */
  members(): MemberNode[] {
    return [...this.#nodes];
  }

  /** Members not dead (what memberlist's NumMembers counts). */
  numAlive(): number {
    return this.#nodes.filter((n) => n.state !== "dead").length;
  }

  /** Number of queued memberlist broadcasts. */
  get queueLength(): number {
    return this.#broadcasts.length;
  }

  /** Binds TCP and UDP on the same port and starts the loops. */
  async start(): Promise<void> {
    const hostname = this.#cfg.bindAddr;
    this.#tcp = Deno.listen({ hostname, port: this.#cfg.bindPort, transport: "tcp" });
    this.#port = (this.#tcp.addr as Deno.NetAddr).port;
    const udp = dgram.createSocket({ type: hostname.includes(":") ? "udp6" : "udp4" });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind(this.#port, hostname, () => {
          udp.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      this.#closed = true;
      this.#tcp.close();
      await new Promise<void>((r) => udp.close(() => r())).catch(() => {});
      throw err;
    }
    this.#udp = udp;
    udp.on("error", (err) => this.#log.error(`memberlist: UDP error - ${err.message}`));
    udp.on("message", (msg, rinfo) => {
      const from = rinfo.family === "IPv6"
        ? `[${rinfo.address}]:${rinfo.port}`
        : `${rinfo.address}:${rinfo.port}`;
      this.#track(this.#ingestPacket(new Uint8Array(msg), from));
    });
    this.#track(this.#acceptLoop(this.#tcp));
    // our own alive message, which also makes us a member of our own list
    this.#aliveNode({
      incarnation: this.#nextIncarnation(),
      node: this.name,
      addr: this.#advertise,
      port: this.#port,
      meta: this.#d.nodeMeta(META_MAX),
      vsn: this.#vsn(),
    }, true);
    const c = this.#cfg;
    if (c.probeInterval > 0) this.#track(this.#probeLoop());
    if (c.gossipInterval > 0) {
      this.#intervals.push(setInterval(() => this.#gossip(), c.gossipInterval));
    }
    if (c.pushPullInterval > 0) this.#schedulePushPull();
  }

  #schedulePushPull(): void {
    if (this.#closed) return;
    const n = this.numAlive();
    // pushPullScale: every doubling beyond 32 members adds one interval
    const mult = n <= 32 ? 1 : Math.ceil(Math.log2(n) - Math.log2(32)) + 1;
    const t = setTimeout(() => {
      this.#intervals.splice(this.#intervals.indexOf(t as never), 1);
      this.#track(this.#periodicPushPull());
      this.#schedulePushPull();
    }, this.#cfg.pushPullInterval * mult);
    this.#intervals.push(t as never);
  }

  #vsn(): number[] {
    const [dmin, dmax, dcur] = this.#cfg.delegateVersions;
    return [PROTOCOL_MIN, PROTOCOL_MAX, PROTOCOL_CUR, dmin, dmax, dcur];
  }

  #track(p: Promise<unknown>): void {
    const q = p.catch((err) => {
      if (!this.#closed) this.#log.error(`memberlist: ${(err as Error).message}`);
    }).finally(() => this.#pending.delete(q));
    this.#pending.add(q);
  }

  #nextIncarnation(): number {
    return ++this.#incarnation;
  }

  // ---- joining and leaving --------------------------------------------------------------------

  /** Push-pulls with each seed ("host:port", port 7946 by default); resolves with the successes. */
  async join(seeds: string[]): Promise<{ joined: number; errors: string[] }> {
    let joined = 0;
    const errors: string[] = [];
    for (const seed of seeds) {
      const { host, port } = splitHostPort(seed, 7946);
      let addrs: string[];
      try {
        addrs = /^[\d.]+$|:/.test(host) ? [host] : await Deno.resolveDns(host, "A");
      } catch (err) {
        errors.push(`failed to resolve ${host}: ${(err as Error).message}`);
        continue;
      }
      for (const ip of addrs) {
        try {
          await this.#pushPullNode(ip, port, true);
          joined++;
        } catch (err) {
          errors.push(`failed to join ${ip}:${port}: ${(err as Error).message}`);
        }
      }
    }
    return { joined, errors };
  }

  /** Broadcasts our own death (a graceful leave) and waits up to `timeout` for it to go out. */
  async leave(timeout: number): Promise<void> {
    if (this.#left || this.#closed) return;
    this.#left = true;
    const me = this.#nodeMap.get(this.name);
    if (!me) return;
    const others = this.#nodes.some((n) => n.name !== this.name && n.state !== "dead");
    let done!: () => void;
    const sent = new Promise<void>((r) => (done = r));
    this.#deadNode({ incarnation: me.incarnation, node: me.name, from: me.name }, done);
    if (!others) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([sent, new Promise<void>((r) => (timer = setTimeout(r, timeout)))]);
    clearTimeout(timer);
  }

  /** Stops every loop and closes the sockets. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    for (const t of this.#intervals) clearInterval(t);
    for (const t of this.#timers.values()) t.stop();
    this.#timers.clear();
    for (const w of this.#acks.values()) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    this.#acks.clear();
    try {
      this.#tcp?.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    const udp = this.#udp;
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    this.#broadcasts.reset();
  }

  /** Changes our meta (tags) and tells everyone with a new incarnation. */
  updateMeta(): void {
    const me = this.#nodeMap.get(this.name);
    if (!me) return;
    const meta = this.#d.nodeMeta(META_MAX);
    this.#aliveNode({
      incarnation: this.#nextIncarnation(),
      node: this.name,
      addr: me.addr,
      port: me.port,
      meta,
      vsn: this.#vsn(),
    }, true);
  }

  // ---- sending --------------------------------------------------------------------------------

  async #sendRaw(to: string, msg: Uint8Array, node?: MemberNode): Promise<void> {
    if (this.#closed || this.#udp === null) return;
    if (this.#drop?.(to)) return;
    let out = msg;
    const target = node ?? this.#nodeByAddr(to);
    if (target && target.vsn[1] >= 5) {
      const framed = new Uint8Array(5 + out.length);
      framed[0] = MSG.hasCrc;
      new DataView(framed.buffer).setUint32(1, crc32(out));
      framed.set(out, 5);
      out = framed;
    }
    if (this.#keyring) out = await this.#keyring.seal(out);
    const { host, port } = splitHostPort(to, 7946);
    this.counters.udpSent++;
    this.counters.udpBytesSent += out.length;
    this.#udp.send(out, port, host);
  }

  #nodeByAddr(to: string): MemberNode | undefined {
    for (const n of this.#nodes) if (hostPort(n.addr, n.port) === to) return n;
    return undefined;
  }

  /** Sends one message, piggy-backing queued broadcasts in a compound packet. */
  #sendMsg(to: string, msg: Uint8Array, node?: MemberNode): Promise<void> {
    let avail = this.#cfg.udpBufferSize - msg.length - COMPOUND_HEADER_OVERHEAD;
    if (this.#keyring) avail -= ENCRYPT_OVERHEAD;
    const extra = this.#getBroadcasts(COMPOUND_OVERHEAD, avail);
    if (extra.length === 0) return this.#sendRaw(to, msg, node);
    return this.#sendRaw(to, makeCompound([msg, ...extra]), node);
  }

  #getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    const out = this.#broadcasts.get(overhead, limit);
    let used = 0;
    for (const m of out) used += m.length + overhead;
    const avail = limit - used;
    if (avail > overhead + USER_MSG_OVERHEAD) {
      for (const m of this.#d.getBroadcasts(overhead + USER_MSG_OVERHEAD, avail)) {
        const b = new Uint8Array(m.length + 1);
        b[0] = MSG.user;
        b.set(m, 1);
        out.push(b);
      }
    }
    return out;
  }

  #broadcast(node: string, msg: Uint8Array, onDone: (() => void) | null = null): void {
    this.#broadcasts.queue(msg, node, onDone);
  }

  /** Sends a user message to one member over UDP (Serf's relays, query responses). */
  sendTo(to: string, msg: Uint8Array): Promise<void> {
    const b = new Uint8Array(msg.length + 1);
    b[0] = MSG.user;
    b.set(msg, 1);
    return this.#sendRaw(to, b);
  }

  // ---- receiving ------------------------------------------------------------------------------

  async #ingestPacket(buf: Uint8Array, from: string): Promise<void> {
    if (this.#closed || this.#drop?.(from)) return;
    this.counters.udpReceived++;
    this.counters.udpBytesReceived += buf.length;
    if (this.#keyring) {
      try {
        buf = await this.#keyring.open(buf);
      } catch (err) {
        this.#log.error(
          `memberlist: Decrypt packet failed: ${(err as Error).message} from=${from}`,
        );
        return;
      }
    }
    if (buf.length >= 5 && buf[0] === MSG.hasCrc) {
      const expected = new DataView(buf.buffer, buf.byteOffset + 1, 4).getUint32(0);
      if (crc32(buf.subarray(5)) !== expected) {
        this.#log.warn(`memberlist: Got invalid checksum for UDP packet from=${from}`);
        return;
      }
      buf = buf.subarray(5);
    }
    try {
      this.#handleCommand(buf, from);
    } catch (err) {
      this.#log.error(
        `memberlist: failed to handle packet from=${from} - ${(err as Error).message}`,
      );
    }
  }

  #handleCommand(buf: Uint8Array, from: string): void {
    if (buf.length === 0) return;
    const type = buf[0];
    const body = buf.subarray(1);
    switch (type) {
      case MSG.compound:
        for (const part of decodeCompound(body)) this.#handleCommand(part, from);
        return;
      case MSG.compress:
        this.#handleCommand(decompress(body), from);
        return;
      case MSG.ping:
        return this.#handlePing(obj(body), from);
      case MSG.indirectPing:
        return this.#handleIndirectPing(obj(body), from);
      case MSG.ackResp: {
        const o = obj(body);
        return this.#invokeAck(int(o, "SeqNo"), bytes(o, "Payload"));
      }
      case MSG.nackResp: {
        const n = this.#nacks.get(int(obj(body), "SeqNo"));
        if (n) n.count++;
        return;
      }
      case MSG.suspect: {
        const o = obj(body);
        return this.#suspectNode({
          incarnation: int(o, "Incarnation"),
          node: str(o, "Node"),
          from: str(o, "From"),
        });
      }
      case MSG.alive: {
        const o = obj(body);
        const a = readAlive(o);
        if (a.port === 0) a.port = this.#port;
        return this.#aliveNode(a, false);
      }
      case MSG.dead: {
        const o = obj(body);
        return this.#deadNode({
          incarnation: int(o, "Incarnation"),
          node: str(o, "Node"),
          from: str(o, "From"),
        });
      }
      case MSG.user:
        this.#d.notifyMsg(body.slice());
        return;
      default:
        this.#log.error(`memberlist: msg type (${type}) not supported from=${from}`);
    }
  }

  #handlePing(o: Record<string, Decoded>, from: string): void {
    const node = str(o, "Node");
    if (node !== "" && node !== this.name) {
      this.#log.warn(`memberlist: Got ping for unexpected node '${node}' from=${from}`);
      return;
    }
    const ack = encode(MSG.ackResp, { SeqNo: int(o, "SeqNo"), Payload: this.#d.ackPayload() });
    this.#track(this.#sendMsg(from, ack));
  }

  #handleIndirectPing(o: Record<string, Decoded>, from: string): void {
    const seq = int(o, "SeqNo");
    const target = bytes(o, "Target");
    const port = int(o, "Port") || this.#port;
    const wantNack = bool(o, "Nack");
    const local = this.#nextSeq();
    const to = hostPort(target, port);
    const acked = this.#waitAck(local, this.#cfg.probeTimeout);
    this.#track(this.#sendMsg(to, encode(MSG.ping, { SeqNo: local, Node: str(o, "Node") })));
    this.#track(acked.then((ok) => {
      if (this.#closed) return;
      if (ok) return this.#sendMsg(from, encode(MSG.ackResp, { SeqNo: seq, Payload: null }));
      if (wantNack) return this.#sendMsg(from, encode(MSG.nackResp, { SeqNo: seq }));
      return;
    }));
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  #waitAck(seq: number, timeout: number, onAck?: (p: Uint8Array) => void): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#acks.delete(seq);
        resolve(false);
      }, timeout);
      this.#acks.set(seq, { resolve, timer, onAck });
    });
  }

  #invokeAck(seq: number, payload: Uint8Array): void {
    const w = this.#acks.get(seq);
    if (!w) return;
    this.#acks.delete(seq);
    clearTimeout(w.timer);
    w.onAck?.(payload);
    w.resolve(true);
  }

  // ---- state machine (memberlist's state.go) --------------------------------------------------

  #aliveNode(a: AliveMsg, bootstrap: boolean): void {
    if (this.#left && a.node === this.name) return;
    let state = this.#nodeMap.get(a.node);
    if (!state) {
      state = {
        name: a.node,
        addr: a.addr,
        port: a.port,
        meta: a.meta,
        incarnation: 0,
        state: "dead",
        stateChange: performance.now(),
        vsn: a.vsn.length === 6 ? a.vsn : this.#vsn(),
      };
      this.#nodeMap.set(a.node, state);
      // insert at a random position, like memberlist, so probing order is random
      const i = Math.floor(Math.random() * (this.#nodes.length + 1));
      this.#nodes.splice(i, 0, state);
    }
    if (!sameBytes(state.addr, a.addr) || state.port !== a.port) {
      this.#log.error(
        `memberlist: Conflicting address for ${a.node}. Mine: ${
          hostPort(state.addr, state.port)
        } Theirs: ${hostPort(a.addr, a.port)}`,
      );
      return;
    }
    const isLocal = a.node === this.name;
    if (a.incarnation <= state.incarnation && !isLocal) return;
    if (a.incarnation < state.incarnation && isLocal) return;
    this.#timers.get(a.node)?.stop();
    this.#timers.delete(a.node);
    const oldState = state.state;
    const oldMeta = state.meta;
    if (!bootstrap && isLocal) {
      if (
        a.incarnation === state.incarnation && sameBytes(a.meta, state.meta) &&
        sameBytes(Uint8Array.from(a.vsn), Uint8Array.from(state.vsn))
      ) return;
      this.#refute(state, a.incarnation);
    } else {
      this.#broadcast(a.node, encodeAlive(a));
      if (a.vsn.length === 6) state.vsn = a.vsn;
      state.incarnation = a.incarnation;
      state.meta = a.meta;
      if (state.state !== "alive") {
        state.state = "alive";
        state.stateChange = performance.now();
      }
    }
    if (oldState === "dead") this.#d.notifyJoin(state);
    else if (!sameBytes(oldMeta, state.meta)) this.#d.notifyUpdate(state);
  }

  #refute(me: MemberNode, accused: number): void {
    this.#applyAwareness(1);
    let inc = this.#nextIncarnation();
    if (accused >= inc) {
      this.#incarnation = accused + 1;
      inc = this.#incarnation;
    }
    me.incarnation = inc;
    this.#broadcast(
      me.name,
      encodeAlive({
        incarnation: inc,
        node: me.name,
        addr: me.addr,
        port: me.port,
        meta: me.meta,
        vsn: me.vsn,
      }),
    );
  }

  #suspectNode(s: { incarnation: number; node: string; from: string }): void {
    const state = this.#nodeMap.get(s.node);
    if (!state || s.incarnation < state.incarnation) return;
    const timer = this.#timers.get(s.node);
    if (timer) {
      if (timer.confirm(s.from)) this.#broadcast(s.node, encode(MSG.suspect, suspectObj(s)));
      return;
    }
    if (state.state !== "alive") return;
    if (state.name === this.name) {
      this.#refute(state, s.incarnation);
      this.#log.warn(`memberlist: Refuting a suspect message (from: ${s.from})`);
      return;
    }
    this.#broadcast(s.node, encode(MSG.suspect, suspectObj(s)));
    state.incarnation = s.incarnation;
    state.state = "suspect";
    const changed = performance.now();
    state.stateChange = changed;
    const n = this.#nodes.length;
    let k = this.#cfg.suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const min = suspicionTimeout(this.#cfg.suspicionMult, n, this.#cfg.probeInterval);
    const max = this.#cfg.suspicionMaxTimeoutMult * min;
    this.#timers.set(
      s.node,
      new Suspicion(s.from, k, min, max, (confirmations) => {
        const st = this.#nodeMap.get(s.node);
        if (this.#closed || !st || st.state !== "suspect" || st.stateChange !== changed) return;
        this.#log.info(
          `memberlist: Marking ${st.name} as failed, suspect timeout reached (${confirmations} peer confirmations)`,
        );
        this.#deadNode({ incarnation: st.incarnation, node: st.name, from: this.name });
      }),
    );
  }

  #deadNode(d: { incarnation: number; node: string; from: string }, onSent?: () => void): void {
    const state = this.#nodeMap.get(d.node);
    if (!state || d.incarnation < state.incarnation) return;
    this.#timers.get(d.node)?.stop();
    this.#timers.delete(d.node);
    if (state.state === "dead") return;
    if (state.name === this.name) {
      if (!this.#left) {
        this.#refute(state, d.incarnation);
        this.#log.warn(`memberlist: Refuting a dead message (from: ${d.from})`);
        return;
      }
      this.#broadcast(d.node, encode(MSG.dead, deadObj(d)), onSent ?? null);
    } else {
      this.#broadcast(d.node, encode(MSG.dead, deadObj(d)));
    }
    state.incarnation = d.incarnation;
    state.state = "dead";
    state.stateChange = performance.now();
    this.#d.notifyLeave(state);
  }

  #mergeState(remote: PushNodeState[]): void {
    for (const r of remote) {
      if (r.state === "alive") {
        this.#aliveNode({
          incarnation: r.incarnation,
          node: r.name,
          addr: r.addr,
          port: r.port,
          meta: r.meta,
          vsn: r.vsn,
        }, false);
      } else {
        // dead or suspect: only suspect it, letting it refute
        this.#suspectNode({ incarnation: r.incarnation, node: r.name, from: this.name });
      }
    }
  }

  // ---- probing --------------------------------------------------------------------------------

  /** One probe per interval; a probe that runs long delays the next (like Go's ticker). */
  async #probeLoop(): Promise<void> {
    const interval = this.#cfg.probeInterval;
    const signal = this.#abort.signal;
    let next = performance.now() + interval;
    while (!signal.aborted) {
      await abortableDelay(Math.max(0, next - performance.now()), signal);
      if (signal.aborted) return;
      await this.#probe();
      next = Math.max(next + interval, performance.now());
    }
  }

  /**
   * Lifeguard's local health ("awareness", memberlist's awareness.go): 0 is healthy, up to
   * 7; a failed probe or a refutation raises it, a successful probe lowers it, and the probe
   * interval is stretched by (score + 1) so a slow member accuses others less eagerly.
   */
  #awareness = 0;
  #applyAwareness(delta: number): void {
    this.#awareness = Math.min(AWARENESS_MAX - 1, Math.max(0, this.#awareness + delta));
  }

  /** The current local-health score (0 = healthy). */
  get healthScore(): number {
    return this.#awareness;
  }

  async #probe(): Promise<void> {
    if (this.#closed) return;
    let checked = 0;
    for (;;) {
      if (checked >= this.#nodes.length) return;
      if (this.#probeIndex >= this.#nodes.length) {
        this.#resetNodes();
        this.#probeIndex = 0;
        checked++;
        continue;
      }
      const node = this.#nodes[this.#probeIndex++];
      if (node.name === this.name || node.state === "dead") {
        checked++;
        continue;
      }
      await this.#probeNode(node);
      return;
    }
  }

  /** Forgets members dead for longer than gossipToTheDeadTime and reshuffles the rest. */
  #resetNodes(): void {
    const now = performance.now();
    const keep: MemberNode[] = [];
    for (const n of this.#nodes) {
      if (n.state === "dead" && now - n.stateChange > this.#cfg.gossipToTheDeadTime) {
        this.#nodeMap.delete(n.name);
      } else keep.push(n);
    }
    this.#nodes.length = 0;
    this.#nodes.push(...keep);
    shuffle(this.#nodes);
  }

  async #probeNode(node: MemberNode): Promise<void> {
    const c = this.#cfg;
    const probeInterval = c.probeInterval * (this.#awareness + 1);
    const start = performance.now();
    const seq = this.#nextSeq();
    const to = hostPort(node.addr, node.port);
    const acked = this.#waitAck(seq, probeInterval);
    let done = false;
    const ackP = acked.then((ok) => {
      done = ok;
      return ok;
    });
    const ping = encode(MSG.ping, { SeqNo: seq, Node: node.name });
    if (node.state === "alive") {
      await this.#sendMsg(to, ping, node);
    } else {
      const sus = encode(MSG.suspect, {
        Incarnation: node.incarnation,
        Node: node.name,
        From: this.name,
      });
      await this.#sendRaw(to, makeCompound([ping, sus]), node);
    }
    const probeTimeout = new Promise<boolean>((r) => {
      const t = setTimeout(() => r(false), c.probeTimeout);
      ackP.then(() => {
        clearTimeout(t);
        r(true);
      });
    });
    await probeTimeout;
    if (done) this.#applyAwareness(-1);
    if (done || this.#closed) return;
    // indirect probes through k random live members
    const peers = this.#nodes.filter((n) =>
      n.name !== this.name && n.name !== node.name && n.state === "alive"
    );
    shuffle(peers);
    let expectedNacks = 0;
    const nacks = { count: 0 };
    this.#nacks.set(seq, nacks);
    for (const p of peers.slice(0, c.indirectChecks)) {
      const wantNack = p.vsn[1] >= 4;
      if (wantNack) expectedNacks++;
      const req = encode(MSG.indirectPing, {
        SeqNo: seq,
        Target: node.addr,
        Port: node.port,
        Node: node.name,
        Nack: wantNack,
      });
      await this.#sendMsg(hostPort(p.addr, p.port), req, p);
    }
    // TCP fallback ping, in parallel, bounded by the end of the probe interval
    const deadline = start + probeInterval;
    const tcpOk = node.vsn[1] >= 3
      ? this.#tcpPing(node, seq, deadline).catch(() => false)
      : Promise.resolve(false);
    const [ok, tcp] = await Promise.all([ackP, tcpOk]);
    this.#nacks.delete(seq);
    if (ok || tcp) {
      this.#applyAwareness(-1);
      return;
    }
    if (this.#closed) return;
    // no ack at all: if the indirect peers did not even nack, we are the likely problem
    this.#applyAwareness(
      expectedNacks > 0 && nacks.count < expectedNacks ? expectedNacks - nacks.count : 1,
    );
    const cur = this.#nodeMap.get(node.name);
    if (cur !== node) return;
    this.#log.info(`memberlist: Suspect ${node.name} has failed, no acks received`);
    this.#suspectNode({ incarnation: node.incarnation, node: node.name, from: this.name });
  }

  async #tcpPing(node: MemberNode, seq: number, deadline: number): Promise<boolean> {
    const to = hostPort(node.addr, node.port);
    if (this.#drop?.(to)) return false;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    const conn = await this.#dial(node.addr, node.port, left);
    if (conn === null) return false;
    this.#conns.add(conn);
    const timer = setTimeout(() => closeQuietly(conn), Math.max(1, deadline - performance.now()));
    try {
      await this.#writeStream(conn, encode(MSG.ping, { SeqNo: seq, Node: node.name }));
      const { type, input } = await this.#readStream(conn);
      if (type !== MSG.ackResp) return false;
      const o = asObj(await input.value(), "ack");
      return int(o, "SeqNo") === seq;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      this.#conns.delete(conn);
      closeQuietly(conn);
    }
  }

  // ---- gossip ---------------------------------------------------------------------------------

  #gossip(): void {
    if (this.#closed) return;
    const now = performance.now();
    const candidates = this.#nodes.filter((n) => {
      if (n.name === this.name) return false;
      if (n.state === "dead") return now - n.stateChange <= this.#cfg.gossipToTheDeadTime;
      return true;
    });
    shuffle(candidates);
    let avail = this.#cfg.udpBufferSize - COMPOUND_HEADER_OVERHEAD;
    if (this.#keyring) avail -= ENCRYPT_OVERHEAD;
    for (const n of candidates.slice(0, this.#cfg.gossipNodes)) {
      const msgs = this.#getBroadcasts(COMPOUND_OVERHEAD, avail);
      if (msgs.length === 0) return;
      const to = hostPort(n.addr, n.port);
      this.#track(this.#sendRaw(to, msgs.length === 1 ? msgs[0] : makeCompound(msgs), n));
    }
  }

  // ---- push-pull over TCP ---------------------------------------------------------------------

  async #periodicPushPull(): Promise<void> {
    const peers = this.#nodes.filter((n) => n.name !== this.name && n.state === "alive");
    if (peers.length === 0) return;
    const p = peers[Math.floor(Math.random() * peers.length)];
    try {
      await this.#pushPullNode(ipToString(p.addr), p.port, false);
    } catch (err) {
      this.#log.error(
        `memberlist: Push/Pull with ${p.name} failed: ${(err as Error).message}`,
      );
    }
  }

  async #dial(addr: Uint8Array, port: number, timeout: number): Promise<Deno.Conn | null> {
    if (this.#closed) return null;
    const hostname = ipToString(addr);
    // No abort signal on the connect itself: a connection that completes after we gave up is
    // closed here instead (and tracked, so close() waits for it).
    const connecting = Deno.connect({ hostname, port });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const conn = await Promise.race([
      connecting.catch(() => null),
      new Promise<null>((r) => (timer = setTimeout(() => r(null), timeout))),
    ]);
    clearTimeout(timer);
    if (conn === null || this.#closed) {
      if (conn !== null) closeQuietly(conn);
      else this.#track(connecting.then(closeQuietly, () => {}));
      return null;
    }
    this.counters.tcpConnects++;
    return conn;
  }

  async #pushPullNode(host: string, port: number, join: boolean): Promise<void> {
    if (this.#drop?.(`${host}:${port}`)) throw new Error("dropped by test hook");
    const conn = await this.#dial(parseIp(host), port, this.#cfg.tcpTimeout);
    if (conn === null) throw new Error(`dial tcp ${host}:${port}: connection failed`);
    this.#conns.add(conn);
    const timer = setTimeout(() => closeQuietly(conn), this.#cfg.tcpTimeout);
    try {
      await this.#writeStream(conn, this.#localState(join));
      const { type, input } = await this.#readStream(conn);
      if (type === MSG.err) {
        const o = asObj(await input.value(), "error");
        throw new Error(`remote error: ${str(o, "Error")}`);
      }
      if (type !== MSG.pushPull) {
        throw new Error(`received invalid msgType (${type}), expected pushPullMsg (6)`);
      }
      const remote = await readRemoteState(input, this.#port);
      this.#mergeRemote(remote);
    } finally {
      clearTimeout(timer);
      this.#conns.delete(conn);
      closeQuietly(conn);
    }
  }

  #mergeRemote(r: { join: boolean; nodes: PushNodeState[]; user: Uint8Array | null }): void {
    for (const n of r.nodes) {
      const [pmin, pmax, , dmin, dmax] = n.vsn;
      if (n.vsn.length === 6 && (pmax < PROTOCOL_MIN || pmin > PROTOCOL_MAX)) {
        throw new Error(`node ${n.name} speaks incompatible protocol ${pmin}-${pmax}`);
      }
      const [ourDmin, ourDmax] = this.#cfg.delegateVersions;
      if (n.vsn.length === 6 && (dmax < ourDmin || dmin > ourDmax)) {
        throw new Error(`node ${n.name} speaks incompatible delegate protocol ${dmin}-${dmax}`);
      }
    }
    this.#mergeState(r.nodes);
    if (r.user !== null && r.user.length > 0) this.#d.mergeRemoteState(r.user, r.join);
  }

  #localState(join: boolean): Uint8Array {
    const user = this.#d.localState(join);
    const w: Uint8Array[] = [
      encode(MSG.pushPull, {
        Nodes: this.#nodes.length,
        UserStateLen: user.length,
        Join: join,
      }),
    ];
    for (const n of this.#nodes) {
      w.push(encode(null, {
        Name: n.name,
        Addr: n.addr,
        Port: n.port,
        Meta: n.meta,
        Incarnation: n.incarnation,
        State: STATE_CODES.indexOf(n.state),
        Vsn: Uint8Array.from(n.vsn),
      }));
    }
    w.push(user);
    return concat(w);
  }

  async #writeStream(conn: Deno.Conn, msg: Uint8Array): Promise<void> {
    let out = msg;
    if (this.#keyring) {
      const header = new Uint8Array(5);
      header[0] = MSG.encrypt;
      new DataView(header.buffer).setUint32(1, 1 + 12 + msg.length + 16);
      const sealed = await this.#keyring.seal(msg, header);
      out = concat([header, sealed]);
    }
    let off = 0;
    while (off < out.length) off += await conn.write(out.subarray(off));
  }

  async #readStream(conn: Deno.Conn): Promise<{ type: number; input: StreamIn }> {
    let input = new StreamIn(conn);
    let type = (await input.bytes(1))[0];
    if (type === MSG.encrypt) {
      if (!this.#keyring) {
        throw new Error("Remote state is encrypted and encryption is not configured");
      }
      const lenBytes = await input.bytes(4);
      const len = new DataView(lenBytes.buffer, lenBytes.byteOffset, 4).getUint32(0);
      if (len > MAX_PUSH_STATE) throw new Error(`Remote node state is larger than limit (${len})`);
      const header = new Uint8Array(5);
      header[0] = MSG.encrypt;
      header.set(lenBytes, 1);
      const sealed = (await input.bytes(len)).slice();
      const plain = await this.#keyring.open(sealed, header);
      type = plain[0];
      input = new StreamIn(null, plain.subarray(1));
    } else if (this.#keyring) {
      throw new Error("Encryption is configured but remote state is not encrypted");
    }
    if (type === MSG.compress) {
      const o = asObj(await input.value(), "compress");
      if (int(o, "Algo") !== 0) throw new Error(`Cannot decompress unknown algorithm`);
      const plain = lzwDecompress(bytes(o, "Buf"), MAX_PUSH_STATE);
      type = plain[0];
      input = new StreamIn(null, plain.subarray(1));
    }
    return { type, input };
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      if (this.#closed) {
        closeQuietly(conn);
        return;
      }
      this.counters.tcpAccepts++;
      this.#track(this.#handleConn(conn));
    }
  }

  async #handleConn(conn: Deno.Conn): Promise<void> {
    this.#conns.add(conn);
    const timer = setTimeout(() => closeQuietly(conn), this.#cfg.tcpTimeout);
    const remote = conn.remoteAddr as Deno.NetAddr;
    try {
      if (this.#drop?.(`${remote.hostname}:${remote.port}`)) return;
      let type: number, input: StreamIn;
      try {
        ({ type, input } = await this.#readStream(conn));
      } catch (err) {
        const msg = (err as Error).message;
        if (/unexpected end of stream/.test(msg)) return;
        this.#log.error(`memberlist: failed to receive: ${msg} from=${remote.hostname}`);
        await this.#writeStream(conn, encode(MSG.err, { Error: msg })).catch(() => {});
        return;
      }
      if (type === MSG.pushPull) {
        const r = await readRemoteState(input, this.#port);
        await this.#writeStream(conn, this.#localState(r.join));
        this.#mergeRemote(r);
      } else if (type === MSG.ping) {
        const o = asObj(await input.value(), "ping");
        const node = str(o, "Node");
        if (node !== "" && node !== this.name) return;
        await this.#writeStream(
          conn,
          encode(MSG.ackResp, { SeqNo: int(o, "SeqNo"), Payload: null }),
        );
      } else if (type === MSG.user) {
        const o = asObj(await input.value(), "user header");
        const len = int(o, "UserMsgLen");
        if (len > 0) this.#d.notifyMsg((await input.bytes(len)).slice());
      } else {
        this.#log.error(`memberlist: Received invalid msgType (${type}) from=${remote.hostname}`);
      }
    } catch (err) {
      if (!this.#closed) {
        this.#log.error(`memberlist: stream from ${remote.hostname} - ${(err as Error).message}`);
      }
    } finally {
      clearTimeout(timer);
      this.#conns.delete(conn);
      closeQuietly(conn);
    }
  }
}

// ---- message helpers ----------------------------------------------------------------------------

interface AliveMsg {
  incarnation: number;
  node: string;
  addr: Uint8Array;
  port: number;
  meta: Uint8Array;
  vsn: number[];
}

interface PushNodeState {
  name: string;
  addr: Uint8Array;
  port: number;
  meta: Uint8Array;
  incarnation: number;
  state: NodeStateName;
  vsn: number[];
}

function obj(b: Uint8Array): Record<string, Decoded> {
  return asObj(new Decoder(b).next(), "message");
}

function readAlive(o: Record<string, Decoded>): AliveMsg {
  return {
    incarnation: int(o, "Incarnation"),
    node: str(o, "Node"),
    addr: normalizeIp(bytes(o, "Addr")),
    port: int(o, "Port"),
    meta: bytes(o, "Meta"),
    vsn: [...bytes(o, "Vsn")],
  };
}

function normalizeIp(a: Uint8Array): Uint8Array {
  if (a.length === 16 && a.subarray(0, 10).every((x) => x === 0) && a[10] === 0xff) {
    return a.slice(12);
  }
  return a;
}

function encodeAlive(a: AliveMsg): Uint8Array {
  return encode(MSG.alive, {
    Incarnation: a.incarnation,
    Node: a.node,
    Addr: a.addr,
    Port: a.port,
    Meta: a.meta,
    Vsn: Uint8Array.from(a.vsn),
  });
}

function suspectObj(s: { incarnation: number; node: string; from: string }) {
  return { Incarnation: s.incarnation, Node: s.node, From: s.from };
}
const deadObj = suspectObj;

async function readRemoteState(
  input: StreamIn,
  defaultPort: number,
): Promise<{ join: boolean; nodes: PushNodeState[]; user: Uint8Array | null }> {
  const h = asObj(await input.value(), "push/pull header");
  const count = int(h, "Nodes");
  const nodes: PushNodeState[] = [];
  for (let i = 0; i < count; i++) {
    const o = asObj(await input.value(), "node state");
    nodes.push({
      name: str(o, "Name"),
      addr: normalizeIp(bytes(o, "Addr")),
      port: int(o, "Port") || defaultPort,
      meta: bytes(o, "Meta"),
      incarnation: int(o, "Incarnation"),
      state: STATE_CODES[int(o, "State")] ?? "dead",
      vsn: [...bytes(o, "Vsn")],
    });
  }
  const len = int(h, "UserStateLen");
  const user = len > 0 ? (await input.bytes(len)).slice() : null;
  return { join: bool(h, "Join"), nodes, user };
}

/** memberlist's compound message: [7][count][uint16 lengths...][messages...]. */
export function makeCompound(msgs: Uint8Array[]): Uint8Array {
  const parts = msgs.slice(0, 255);
  let size = 2 + parts.length * 2;
  for (const m of parts) size += m.length;
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  out[0] = MSG.compound;
  out[1] = parts.length;
  let off = 2;
  for (const m of parts) {
    v.setUint16(off, m.length);
    off += 2;
  }
  for (const m of parts) {
    out.set(m, off);
    off += m.length;
  }
  return out;
}

function decodeCompound(b: Uint8Array): Uint8Array[] {
  if (b.length < 1) throw new RangeError("missing compound length byte");
  const n = b[0];
  if (b.length < 1 + n * 2) throw new RangeError("truncated len slice");
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: Uint8Array[] = [];
  let off = 1 + n * 2;
  for (let i = 0; i < n; i++) {
    const len = v.getUint16(1 + i * 2);
    if (off + len > b.length) break;
    out.push(b.subarray(off, off + len));
    off += len;
  }
  return out;
}

function decompress(body: Uint8Array): Uint8Array {
  const o = obj(body);
  if (int(o, "Algo") !== 0) throw new RangeError("Cannot decompress unknown algorithm");
  return lzwDecompress(bytes(o, "Buf"));
}

/** suspicionTimeout from memberlist's util.go. */
export function suspicionTimeout(mult: number, n: number, interval: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(mult * scale * interval);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function closeQuietly(c: Deno.Conn): void {
  try {
    c.close();
  } catch { /* closed */ }
}
