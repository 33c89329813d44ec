/**
 * The nsqd daemon: topics, clients, the TCP listener, the timeout scan loop, metadata, the data
 * path lock and the ordered graceful exit (docs/nsqd.md#graceful-exit, docs/architecture.md).
 *
 * Lifecycle (like `Deno.serve`): the constructor does no I/O; `start()` locks the data path,
 * loads nsqd.dat, binds listeners (port 0 allowed) and starts the loops; `close()` stops in NSQ's
 * order (docs/nsqd.md#graceful-exit): stop accepting → close clients → persist metadata → every
 * topic and channel writes memory, in-flight and deferred messages to disk and closes its files →
 * loops end → data-path lock released.
 */
import { monoNow } from "../internal/clock.ts";
import { Logger } from "../internal/log.ts";
import { encodeFrame, FRAME_TYPE_ERROR } from "../protocol/frame_writer.ts";
import { TaskGroup } from "../internal/task_group.ts";
import type { Daemon } from "../internal/daemon.ts";
import { isValidChannelName, isValidTopicName } from "../protocol/names.ts";
import { NSQ_VERSION } from "../version.ts";
import { type BackendQueue, DroppingBackendQueue } from "./backend_queue.ts";
import type { Channel } from "./channel.ts";
import { ClientV2 } from "./client_v2.ts";
import { DiskQueue } from "./disk_queue.ts";
import { MIN_VALID_MSG_LENGTH } from "../protocol/message.ts";
import type { Message } from "./message.ts";
import type { NsqdOptions } from "./options.ts";
import { serveV2 } from "./protocol_v2.ts";
import { Topic } from "./topic.ts";
import { listen, type ListenAddress, parseListenAddress } from "../protocol/listen.ts";
import { loadFeatures } from "./features.ts";
import { startNsqdHttp } from "./http.ts";
import { LookupClient } from "./lookup.ts";
import type { NsqdGossip } from "./gossip.ts";
import { startNsqdStatsd } from "./stats_collect.ts";
import { osHostname } from "../internal/options.ts";

/**
 * Shape of nsqd.dat (Go's Metadata struct). A channel configured with POST /channel/config
 * (beyond NSQ) also carries `max_attempts` and `dead_letter_topic`: keys Go's json.Unmarshal
 * ignores (and drops when Go rewrites the file).
 */
interface MetadataFile {
  topics: {
    name: string;
    paused: boolean;
    channels: ChannelMetadata[] | null;
  }[] | null;
  version: string;
}

interface ChannelMetadata {
  name: string;
  paused: boolean;
  max_attempts?: number;
  dead_letter_topic?: string;
}

/** The lookupd side as nsqd uses it (lookup.ts implements it). */
export interface LookupNotifier {
  register(topic: string, channel?: string): void;
  unregister(topic: string, channel?: string): void;
  /** Channels lookupd knows for a topic; null when no lookupd could be asked. */
  fetchChannels(topic: string): Promise<string[] | null>;
  setAddresses(addrs: string[]): void;
  close(): Promise<void>;
}

/** What a client's IDENTIFY may upgrade to. */
export interface UpgradeRequest {
  tls: boolean;
  snappy: boolean;
  deflate: boolean;
  level: number;
  /** Bytes read after IDENTIFY that belong to the upgraded stream. */
  leftover: Uint8Array;
}

/**
 * The capabilities implemented outside the protocol code: TLS, compression and auth
 * (features.ts installs them at start; until then upgrades and auth fail).
 */
export interface NsqdFeatures {
  /** TLS is configured (--tls-cert and --tls-key). */
  tls: boolean;
  /** Performs the negotiated upgrades in order, sending `OK` after each. */
  upgrade(client: ClientV2, req: UpgradeRequest): Promise<void>;
  /** Queries the auth server, sets `client.auth`; resolves with the permission count. */
  authenticate(client: ClientV2, secret: string): Promise<number>;
}

export class Nsqd implements Daemon {
  readonly opts: NsqdOptions;
  readonly logger: Logger;
  readonly topics = new Map<string, Topic>();
  readonly clients = new Map<number, ClientV2>();
  /** Unix seconds of start(). */
  startTime = 0;
  lookup: LookupNotifier | null = null;
  /** Serf gossip (--gossip-address), null when off. */
  gossip: NsqdGossip | null = null;
  features: NsqdFeatures = {
    tls: false,
    upgrade: () => Promise.reject(new Error("upgrades are not available")),
    authenticate: () => Promise.reject(new Error("auth is not available")),
  };

  #nextClientId = 0;
  #abort = new AbortController();
  #tasks: TaskGroup;
  #failed: Promise<Error>;
  #fail!: (err: Error) => void;
  #listener: Deno.Listener | null = null;
  #tcpAddr: ListenAddress | null = null;
  #pendingConns = new Set<Deno.Conn>();
  #dataPath = "";
  #lockFile: Deno.FsFile | null = null;
  #loading = false;
  #started = false;
  #closing: Promise<void> | null = null;
  #healthError: string | null = null;
  #dirty = new Set<BackendQueue>();
  /** Incremented on every backend write, so a connection knows whether to await the disk. */
  diskWrites = 0;
  #timed = new Set<Channel>();
  #scanTimer: ReturnType<typeof setTimeout> | undefined;
  #deleting = new Map<string, Promise<void>>();
  #persisting: Promise<void> | null = null;
  #persistAgain = false;
  /** Extra subsystems (HTTP, statsd, ...) started after the TCP listener, closed before it. */
  #subsystems: { name: string; close: () => Promise<void> }[] = [];

  constructor(opts: NsqdOptions, logger?: Logger) {
    this.opts = opts;
    this.logger = logger ?? new Logger(opts.logPrefix, opts.logLevel);
    this.#tasks = new TaskGroup((err) => this.#fatal(err));
    this.#failed = new Promise((resolve) => (this.#fail = resolve));
  }

  get failed(): Promise<Error> {
    return this.#failed;
  }

  /** The bound TCP address, "host:port" (or the socket path). */
  get tcpAddress(): string {
    return this.#tcpAddr?.toString() ?? "";
  }

  /** The bound TCP port (-1 on a unix socket, 0 before start). */
  get tcpPort(): number {
    return this.#tcpAddr?.port ?? 0;
  }

  get dataPath(): string {
    return this.#dataPath;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Spawns a task tracked until close(); a rejection stops the daemon. */
  spawn(task: Promise<unknown>): void {
    this.#tasks.spawn(task);
  }

  /** Registers something close() must stop before closing topics (HTTP listeners, loops). */
  addSubsystem(name: string, close: () => Promise<void>): void {
    this.#subsystems.push({ name, close });
  }

  #fatal(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.logger.fatal(`${e.message}`);
    this.#fail(e);
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.#started) throw new Error("nsqd already started");
    this.#started = true;
    this.startTime = Math.floor(Date.now() / 1000);
    this.logger.info(`nsqd v${NSQ_VERSION} (nsq-deno, deno ${Deno.version.deno})`);
    this.logger.info(`ID: ${this.opts.id}`);
    this.#dataPath = this.opts.dataPath || Deno.cwd();
    try {
      const loaded = await loadFeatures(this.opts);
      this.features = loaded.features;
      if (loaded.tls !== null && this.httpsTls === null) this.httpsTls = loaded.tls;
      await this.#lockDataPath();
      await this.#loadMetadata();
      await this.persistMetadata();
      const addr = parseListenAddress(this.opts.tcpAddress);
      this.#listener = listen(addr);
      this.#tcpAddr = addr.bound(this.#listener.addr);
      this.logger.info(`TCP: listening on ${this.#tcpAddr}`);
      this.spawn(this.#acceptLoop(this.#listener));
      const http = await startNsqdHttp(this, { tls: this.httpsTls ?? undefined });
      this.addSubsystem("HTTP", () => http.close());
      this.httpPort = http.httpPort;
      this.httpAddress = http.httpAddress;
      this.httpsAddress = http.httpsAddress;
      this.#scanTimer = setInterval(() => this.#scan(), this.opts.queueScanInterval);
      this.#startLookup();
      if (this.opts.gossipAddress !== "") await this.#startGossip();
      startNsqdStatsd(this, this.httpPort);
    } catch (err) {
      // A failed start cleans up here and leaves close() a no-op: it must not persist metadata
      // (that would overwrite the nsqd.dat of the instance holding the lock, or a corrupt file
      // the operator needs to repair).
      this.#closing = Promise.resolve();
      this.#abort.abort();
      try {
        this.#listener?.close();
      } catch { /* not bound */ }
      for (const s of this.#subsystems.reverse()) await s.close().catch(() => {});
      clearInterval(this.#scanTimer);
      await this.lookup?.close();
      await this.#tasks.wait();
      await Promise.all([...this.topics.values()].map((t) => t.close()));
      await this.#unlockDataPath();
      throw err;
    }
  }

  /** Port of the HTTP listener (0 when disabled, -1 on a unix socket). */
  httpPort = 0;
  /** Bound HTTP address ("" when disabled). */
  httpAddress = "";
  /** Bound HTTPS address ("" unless TLS is configured). */
  httpsAddress = "";
  /** PEM cert and key for HTTPS, set by the TLS setup before start(). */
  httpsTls: { cert: string; key: string; ca?: string } | null = null;

  /** One lookupd peer per --lookupd-tcp-address (also changed live by PUT /config). */
  #startLookup(): void {
    const o = this.opts;
    this.lookup = new LookupClient({
      logger: this.logger,
      broadcastAddress: o.broadcastAddress,
      hostname: osHostname(),
      tcpPort: o.broadcastTcpPort || this.tcpPort,
      httpPort: o.broadcastHttpPort || this.httpPort,
      version: NSQ_VERSION,
      registrations: () => this.#registrations(),
      httpClientConnectTimeout: o.httpClientConnectTimeout,
      httpClientRequestTimeout: o.httpClientRequestTimeout,
      maxBodySize: o.maxBodySize,
    });
    this.lookup.setAddresses(o.nsqlookupdTcpAddresses);
  }

  /** Joins the Serf cluster (lib/nsqd/gossip.ts); closed first on exit, with a leave. */
  async #startGossip(): Promise<void> {
    const o = this.opts;
    // Loaded only with --gossip-address: a plain nsqd never pays for node:dns and node:dgram.
    const { NsqdGossip } = await import("./gossip.ts");
    const gossip = new NsqdGossip({
      opts: o,
      logger: this.logger,
      hostname: osHostname(),
      tcpPort: o.broadcastTcpPort || this.tcpPort,
      httpPort: o.broadcastHttpPort || this.httpPort,
      httpsPort: Number(/:(\d+)$/.exec(this.httpsAddress)?.[1] ?? 0),
      registrations: () => this.#registrations(),
    });
    await gossip.start();
    this.gossip = gossip;
    this.addSubsystem("gossip", () => gossip.close());
  }

  /** What lookupds must know after a (re)connect: topics without channels, and every channel. */
  #registrations(): { topic: string; channel?: string }[] {
    const out: { topic: string; channel?: string }[] = [];
    for (const t of this.topics.values()) {
      if (t.channels.size === 0) out.push({ topic: t.name });
      for (const c of t.channels.values()) out.push({ topic: t.name, channel: c.name });
    }
    return out;
  }

  /** Replaces the lookupd peers (PUT /config/nsqlookupd_tcp_addresses). */
  setLookupdAddresses(addrs: string[]): void {
    this.opts.nsqlookupdTcpAddresses = addrs;
    this.lookup?.setAddresses(addrs);
  }

  async close(): Promise<void> {
    if (this.#closing === null) this.#closing = this.#close();
    return await this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    if (!this.#started) return;
    this.#abort.abort();
    if (this.#listener !== null) {
      this.logger.info(`TCP: closing ${this.#tcpAddr}`);
      try {
        this.#listener.close();
      } catch { /* already closed */ }
    }
    for (const conn of this.#pendingConns) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    for (const c of [...this.clients.values()]) c.close();
    for (const s of this.#subsystems.reverse()) {
      try {
        await s.close();
      } catch (err) {
        this.logger.error(`failed to close ${s.name} - ${(err as Error).message}`);
      }
    }
    clearInterval(this.#scanTimer);
    await Promise.allSettled(this.#deleting.values());
    try {
      await this.persistMetadata();
    } catch (err) {
      this.logger.error(`failed to persist metadata - ${(err as Error).message}`);
    }
    this.logger.info("NSQ: closing topics");
    await Promise.all([...this.topics.values()].map((t) => t.close()));
    this.logger.info("NSQ: stopping subsystems");
    await this.lookup?.close();
    await this.#tasks.wait();
    await this.#unlockDataPath();
    this.logger.info("NSQ: bye");
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#abort.signal.aborted || err instanceof Deno.errors.BadResource) return;
        this.logger.error(`TCP: accept error - ${(err as Error).message}`);
        continue;
      }
      this.spawn(this.#handleConn(conn));
    }
  }

  /** Reads the 4-byte protocol magic, then hands the connection to protocol V2. */
  async #handleConn(conn: Deno.Conn): Promise<void> {
    const remote = conn.remoteAddr.transport === "tcp"
      ? `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`
      : "@";
    if (conn.remoteAddr.transport === "tcp") (conn as Deno.TcpConn).setNoDelay(true);
    this.logger.info(`TCP: new client(${remote})`);
    this.#pendingConns.add(conn);
    // Small: a connection that never sends its magic should cost little (commands sent with the
    // magic in one packet are read by the protocol loop instead).
    const buf = new Uint8Array(256);
    let n = 0;
    try {
      while (n < 4) {
        const r = await conn.read(buf.subarray(n));
        if (r === null) break;
        n += r;
      }
    } catch {
      n = -1;
    } finally {
      this.#pendingConns.delete(conn);
    }
    if (n < 4 || this.#abort.signal.aborted) {
      if (n >= 0 && !this.#abort.signal.aborted) {
        this.logger.error(`client(${remote}) failed to read protocol version - EOF`);
      }
      try {
        conn.close();
      } catch { /* closed */ }
      return;
    }
    const magic = String.fromCharCode(buf[0], buf[1], buf[2], buf[3]);
    this.logger.info(`CLIENT(${remote}): desired protocol magic '${magic}'`);
    if (magic !== "  V2") {
      try {
        await conn.write(BAD_PROTOCOL_FRAME);
      } catch { /* peer gone */ }
      try {
        conn.close();
      } catch { /* closed */ }
      this.logger.error(`client(${remote}) bad protocol magic '${magic}'`);
      return;
    }
    const id = ++this.#nextClientId;
    const client = new ClientV2(id, conn, this.opts, (c) => this.#clientClosed(c));
    this.clients.set(id, client);
    await serveV2(this, client, buf.slice(4, n));
  }

  #clientClosed(c: ClientV2): void {
    this.clients.delete(c.id);
    c.channel?.removeClient(c);
  }

  // ---- data path and metadata ----------------------------------------------------------------

  async #lockDataPath(): Promise<void> {
    try {
      this.#lockFile = await Deno.open(this.#dataPath, { read: true });
      if (!(await this.#lockFile.tryLock(true))) {
        throw new Error("resource temporarily unavailable");
      }
    } catch (err) {
      this.#lockFile?.close();
      this.#lockFile = null;
      throw new Error(
        `failed to lock data-path: cannot flock directory ${this.#dataPath} - ${
          (err as Error).message
        } (possibly in use by another instance of nsqd)`,
      );
    }
  }

  async #unlockDataPath(): Promise<void> {
    if (this.#lockFile === null) return;
    try {
      await this.#lockFile.unlock();
    } catch { /* closing releases it anyway */ }
    this.#lockFile.close();
    this.#lockFile = null;
  }

  get #metadataFile(): string {
    return `${this.#dataPath}/nsqd.dat`;
  }

  async #loadMetadata(): Promise<void> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.#metadataFile);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return; // fresh start
      throw new Error(
        `failed to read metadata from ${this.#metadataFile} - ${(err as Error).message}`,
      );
    }
    let meta: MetadataFile;
    try {
      meta = JSON.parse(text);
      if (meta === null || typeof meta !== "object" || Array.isArray(meta)) {
        throw new SyntaxError("not a JSON object");
      }
    } catch (err) {
      throw new Error(
        `failed to parse metadata in ${this.#metadataFile} - ${(err as Error).message}`,
      );
    }
    this.#loading = true;
    try {
      for (const t of meta.topics ?? []) {
        if (!isValidTopicName(t.name)) {
          this.logger.warn(`skipping creation of invalid topic ${t.name}`);
          continue;
        }
        const topic = this.getTopic(t.name);
        if (t.paused) topic.pause();
        for (const c of t.channels ?? []) {
          if (!isValidChannelName(c.name)) {
            this.logger.warn(`skipping creation of invalid channel ${c.name}`);
            continue;
          }
          const ch = topic.getChannel(c.name);
          if (c.paused) ch.pause();
          this.#loadDeadLetterConfig(ch, c);
        }
      }
    } finally {
      this.#loading = false;
    }
    for (const t of this.topics.values()) t.start();
  }

  /** Beyond NSQ: a channel's max_attempts / dead_letter_topic from nsqd.dat, when present. */
  #loadDeadLetterConfig(ch: Channel, c: ChannelMetadata): void {
    const ma = c.max_attempts;
    const dl = c.dead_letter_topic;
    if (ma === undefined && dl === undefined) return;
    if (ma !== undefined) {
      if (Number.isInteger(ma) && ma >= 0 && ma <= 65535) ch.maxAttempts = ma;
      else this.logger.warn(`channel ${ch.name}: ignoring invalid max_attempts ${ma}`);
    }
    if (dl !== undefined) {
      if (dl === "" || (typeof dl === "string" && isValidTopicName(dl))) ch.deadLetterTopic = dl;
      else this.logger.warn(`channel ${ch.name}: ignoring invalid dead_letter_topic ${dl}`);
    }
    ch.deadLetterConfigured = true;
  }

  /** nsqd.dat's content: non-ephemeral topics and channels with their paused flags. */
  metadata(): MetadataFile {
    const topics: MetadataFile["topics"] = [];
    for (const t of this.topics.values()) {
      if (t.ephemeral) continue;
      const channels: ChannelMetadata[] = [];
      for (const c of t.channels.values()) {
        if (c.ephemeral) continue;
        const cm: ChannelMetadata = { name: c.name, paused: c.paused };
        if (c.deadLetterConfigured) {
          cm.max_attempts = c.maxAttempts;
          cm.dead_letter_topic = c.deadLetterTopic;
        }
        channels.push(cm);
      }
      topics.push({ name: t.name, paused: t.paused, channels: channels.length ? channels : null });
    }
    return { topics: topics.length ? topics : null, version: NSQ_VERSION };
  }

  /** Writes nsqd.dat atomically (tmp, fsync, rename); concurrent calls coalesce. */
  async persistMetadata(): Promise<void> {
    if (this.#persisting !== null) {
      this.#persistAgain = true;
      return await this.#persisting;
    }
    this.#persisting = (async () => {
      try {
        do {
          this.#persistAgain = false;
          await this.#writeMetadata();
        } while (this.#persistAgain);
      } finally {
        this.#persisting = null;
      }
    })();
    return await this.#persisting;
  }

  async #writeMetadata(): Promise<void> {
    const data = new TextEncoder().encode(JSON.stringify(this.metadata()));
    const tmp = `${this.#metadataFile}.${Math.floor(Math.random() * 2 ** 31)}.tmp`;
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      try {
        let off = 0;
        while (off < data.length) off += await f.write(data.subarray(off));
        await f.sync();
      } finally {
        f.close();
      }
      await Deno.rename(tmp, this.#metadataFile);
    } catch (err) {
      // A full disk: the previous nsqd.dat stands; remove the temp file (Go nsqd leaves it).
      await Deno.remove(tmp).catch(() => {});
      throw err;
    }
  }

  #schedulePersist(): void {
    if (this.#loading || this.#closing !== null) return;
    this.spawn(
      this.persistMetadata().catch((err) =>
        this.logger.error(`failed to persist metadata - ${(err as Error).message}`)
      ),
    );
  }

  // ---- topics ------------------------------------------------------------------------------

  getExistingTopic(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  /**
   * Gets or creates a topic. A topic created at run time while lookupds are configured is not
   * started until the channels lookupd knows for it exist (docs/nsqd.md#lookup-loop); until then
   * its messages wait in the topic's own queue, so none is lost to a channel created a moment
   * later.
   */
  getTopic(name: string): Topic {
    let t = this.topics.get(name);
    if (t !== undefined) return t;
    t = new Topic(name, this);
    this.topics.set(name, t);
    this.logger.info(`TOPIC(${name}): created`);
    this.lookup?.register(name);
    this.gossip?.register(name);
    if (!t.ephemeral) this.#schedulePersist();
    if (this.#loading) return t;
    if (this.lookup === null || this.opts.nsqlookupdTcpAddresses.length === 0) {
      t.start();
    } else {
      const topic = t;
      this.spawn(this.#precreateChannels(topic));
    }
    return t;
  }

  async #precreateChannels(t: Topic): Promise<void> {
    try {
      const names = await this.lookup!.fetchChannels(t.name);
      if (names === null) {
        this.logger.error(
          `no available nsqlookupd to query for channels to pre-create for topic ${t.name}`,
        );
      } else if (!t.exiting) {
        for (const c of names) {
          if (!c.endsWith("#ephemeral") && isValidChannelName(c)) t.getChannel(c);
        }
      }
    } catch (err) {
      this.logger.warn(
        `failed to query nsqlookupd for channels to pre-create for topic ${t.name} - ${
          (err as Error).message
        }`,
      );
    }
    if (!t.exiting) t.start();
  }

  /** Deletes a topic and all its channels (files included); false if it does not exist. */
  deleteExistingTopic(name: string): boolean {
    const t = this.topics.get(name);
    if (t === undefined) return false;
    this.topics.delete(name);
    this.logger.info(`TOPIC(${name}): deleting`);
    for (const c of t.channels.values()) {
      for (const client of c.clients.values()) client.close();
      this.lookup?.unregister(name, c.name);
      this.gossip?.unregister(name, c.name);
    }
    this.lookup?.unregister(name);
    this.gossip?.unregister(name);
    this.track(name, t.delete());
    if (!t.ephemeral) this.#schedulePersist();
    return true;
  }

  /** Tracks a deletion so a new topic/channel of the same name waits for its files to go. */
  track(key: string, deletion: Promise<void>): void {
    const p = deletion.catch((err) =>
      this.logger.error(`failed to delete ${key} - ${(err as Error).message}`)
    ).finally(() => {
      if (this.#deleting.get(key) === p) this.#deleting.delete(key);
    });
    this.#deleting.set(key, p);
    this.spawn(p);
  }

  /** Resolves when no deletion of `topic` (or `topic:channel`) is in progress. */
  async deletionsSettled(topic: string, channel?: string): Promise<void> {
    const a = this.#deleting.get(topic);
    if (a) await a;
    if (channel !== undefined) {
      const b = this.#deleting.get(`${topic}:${channel}`);
      if (b) await b;
    }
  }

  /** True if a deletion of this name is still removing files. */
  isDeleting(topic: string, channel?: string): boolean {
    return this.#deleting.has(topic) ||
      (channel !== undefined && this.#deleting.has(`${topic}:${channel}`));
  }

  notifyChannelCreated(t: Topic, c: Channel): void {
    this.lookup?.register(t.name, c.name);
    this.gossip?.register(t.name, c.name);
    if (!c.ephemeral) this.#schedulePersist();
  }

  notifyChannelDeleted(t: Topic, c: Channel): void {
    this.lookup?.unregister(t.name, c.name);
    this.gossip?.unregister(t.name, c.name);
    if (!c.ephemeral) this.#schedulePersist();
  }

  // ---- backends and health -------------------------------------------------------------------

  newBackend(name: string, ephemeral: boolean): BackendQueue {
    if (ephemeral) return new DroppingBackendQueue();
    return new DiskQueue({
      name,
      dataPath: this.#dataPath,
      maxBytesPerFile: this.opts.maxBytesPerFile,
      minMsgSize: MIN_VALID_MSG_LENGTH,
      maxMsgSize: this.opts.maxMsgSize + MIN_VALID_MSG_LENGTH,
      syncEvery: this.opts.syncEvery,
      syncTimeout: this.opts.syncTimeout,
      logger: this.logger,
      onError: (err) => this.setHealth(err),
      onSuccess: () => this.setHealth(null),
    });
  }

  /** Writes a message to a backend, recording the write so the publisher awaits the disk. */
  backendPut(backend: BackendQueue, msg: Message): void {
    try {
      backend.putRecord(msg);
    } catch (err) {
      this.setHealth(err as Error);
      throw err;
    }
    this.diskWrites++;
    this.#dirty.add(backend);
  }

  /** Resolves once every backend write so far reached the OS; rejects with a write error. */
  async flushDirty(): Promise<void> {
    if (this.#dirty.size === 0) return;
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    await Promise.all(dirty.map((b) => b.flushed()));
  }

  setHealth(err: Error | null): void {
    const next = err === null ? null : err.message;
    if (next !== this.#healthError && next !== null) {
      this.logger.error(`health check failed - ${next}`);
    }
    this.#healthError = next;
  }

  isHealthy(): boolean {
    return this.#healthError === null;
  }

  /** "OK" or "NOK - <last backend error>" (/ping and /stats). */
  getHealth(): string {
    return this.#healthError === null ? "OK" : `NOK - ${this.#healthError}`;
  }

  // ---- timeouts ------------------------------------------------------------------------------

  /** A channel now has in-flight or deferred messages for the scan loop. */
  watchTimeouts(c: Channel): void {
    this.#timed.add(c);
  }

  /**
   * The queue scan loop, every --queue-scan-interval (100 ms): unlike Go's random sample of 20
   * channels, it visits exactly the channels holding in-flight or deferred messages and
   * processes what is due, so a timeout is never more than one interval late.
   */
  #scan(): void {
    const now = monoNow();
    for (const c of this.#timed) {
      if (c.exiting || !c.hasTimed) {
        this.#timed.delete(c);
        continue;
      }
      c.processTimeouts(now);
    }
  }
}

const BAD_PROTOCOL_FRAME = encodeFrame(FRAME_TYPE_ERROR, "E_BAD_PROTOCOL");
