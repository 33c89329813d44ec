/**
 * Consumer: subscribes to a topic/channel on a set of nsqd, given directly or discovered
 * through nsqlookupd, and runs handlers on the messages (go-nsq's consumer.go).
 *
 * Flow control, as go-nsq (docs/client.md#flow-control-max_in_flight-and-rdy):
 * - `maxInFlight` is split across connections: each gets `max(1, maxInFlight / connections)`
 *   (capped by nsqd's `max_rdy_count`, and so that the sum of RDY never exceeds `maxInFlight`),
 *   recomputed whenever a connection comes or goes. When there are more connections than
 *   `maxInFlight`, the redistribution loop (every `rdyRedistributeInterval`) takes RDY back
 *   from connections idle for `lowRdyIdleTimeout` (or holding RDY for `lowRdyTimeout`) and gives
 *   RDY 1 to randomly chosen connections.
 * - RDY is a standing window in nsqd ≥ 0.3; it is also re-sent as it drains (when at most 1 or
 *   under 25% of it remains since the last RDY), as go-nsq 1.0 did for older nsqd, except while
 *   backing off.
 * - Backoff: a REQ with backoff (a handler that throws or rejects) raises the backoff level, a
 *   FIN lowers it. At level n > 0 every connection gets RDY 0 for
 *   `min(backoffMultiplier * 2^n, maxBackoffDuration)` (or a random part of it with
 *   `full_jitter`); then one random connection gets RDY 1 to test the water, and the next
 *   success or failure steps the level down or up. Back at level 0 every connection gets its
 *   share again. Signals that arrive while a backoff timer runs are ignored.
 * - A message with `attempts > maxAttempts` (when maxAttempts > 0) is logged and FINed without
 *   reaching a handler.
 *
 * Connections lost are reconnected: nsqd given directly are redialed every
 * `lookupdPollInterval`; with nsqlookupd, a lost connection triggers a lookup (nsqd that
 * vanished from nsqlookupd are not redialed).
 *
 * `stop()` is graceful: CLS to every nsqd, each connection closes after nsqd's CLOSE_WAIT once
 * every message it delivered was answered, handlers in progress finish, then timers end; after
 * 30 s it gives up waiting and closes everything.
 *
 * @module
 */

import { Fifo } from "../internal/fifo.ts";
import { formatDuration } from "../internal/duration.ts";
import { joinHostPort } from "../internal/net_addr.ts";
import { monoNow } from "../internal/clock.ts";
import {
  CLS_COMMAND,
  finCommand,
  rdyCommand,
  reqCommand,
  subCommand,
  touchCommand,
} from "../protocol/command.ts";
import { isValidChannelName, isValidTopicName } from "../protocol/names.ts";
import { type ClientConfig, loggerOf, resolveConfig } from "./config.ts";
import { Conn } from "./conn.ts";
import { type LogFn, nextInstanceId, padId, prefixedLog } from "./log.ts";
import { Message, MESSAGE_DELEGATE, MESSAGE_ID_BYTES, type MessageDelegate } from "./message.ts";

export { Message };

/** A message handler: return (or resolve) to FIN, throw (or reject) to REQ with backoff. */
export type Handler = (m: Message) => void | Promise<void>;

/** Counters of a Consumer (go-nsq's ConsumerStats). */
export interface ConsumerStats {
  messagesReceived: number;
  messagesFinished: number;
  messagesRequeued: number;
  connections: number;
}

/** Options of {@link Consumer.addHandler}. */
export interface HandlerOptions {
  /** How many messages this handler processes at once (go-nsq's AddConcurrentHandlers). */
  concurrency?: number;
}

/** Thrown by connectToNsqd for an address already connected (go-nsq's ErrAlreadyConnected). */
export class AlreadyConnectedError extends Error {
  constructor() {
    super("already connected");
    this.name = "AlreadyConnectedError";
  }
}

const decoder = new TextDecoder();

/** How long stop() waits for handlers and CLOSE_WAIT before closing everything (go-nsq's 30 s). */
const STOP_TIMEOUT_MS = 30_000;
/** Retry delay for a RDY that could not be sent because maxInFlight was taken (go-nsq's 5 s). */
const RDY_RETRY_MS = 5000;

interface HandlerSlot {
  fn: Handler;
  limit: number;
  running: number;
}

/** The responses of one connection's messages go back on that connection. */
interface ConnMessageDelegate extends MessageDelegate {
  readonly conn: Conn;
}

interface LookupPeer {
  broadcast_address?: string;
  tcp_port?: number;
}

/** Subscribes to one topic/channel; see the module doc. */
export class Consumer implements AsyncDisposable {
  readonly topic: string;
  readonly channel: string;
  readonly config: ClientConfig;
  /** Resolves when the consumer has fully stopped. */
  readonly done: Promise<void>;

  /** go-nsq's instance number (log lines). */
  readonly id: number;
  /** Logs `  1 [topic/channel] text` (go-nsq's Consumer.log). */
  #log: LogFn;
  #maxInFlight: number;
  #conns = new Map<string, Conn>();
  #pendingConns = new Map<string, Conn>();
  /** nsqd addresses to keep connected (given directly or ever discovered). */
  #nsqdTcpAddrs: string[] = [];
  #lookupdUrls: string[] = [];
  #lookupdIndex = 0;
  #lookupdTimer: ReturnType<typeof setTimeout> | undefined;
  #lookupdQuery: Promise<void> | null = null;
  #lookupdAborts = new Set<AbortController>();

  #totalRdy = 0;
  #needRdyRedistributed = false;
  #rdyRetryTimers = new Map<Conn, ReturnType<typeof setTimeout>>();
  #rdyLoopTimer: ReturnType<typeof setInterval> | undefined;

  #backoffCounter = 0;
  /** > 0 while a backoff timer runs (go-nsq's backoffDuration). */
  #backoffDuration = 0;
  #backoffTimer: ReturnType<typeof setTimeout> | undefined;

  #handlers: HandlerSlot[] = [];
  #queue = new Fifo<Message>();
  #running = 0;
  #dispatching = false;
  #handlersStopped = false;
  #idleWaiters: (() => void)[] = [];

  #reconnectTimers = new Set<ReturnType<typeof setTimeout>>();
  #stopFlag = false;
  #exited = false;
  #stopTimer: ReturnType<typeof setTimeout> | undefined;
  #resolveDone!: () => void;

  #received = 0;
  #finished = 0;
  #requeued = 0;

  constructor(topic: string, channel: string, config: Partial<ClientConfig> = {}) {
    if (!isValidTopicName(topic)) throw new TypeError("invalid topic name");
    if (!isValidChannelName(channel)) throw new TypeError("invalid channel name");
    this.topic = topic;
    this.channel = channel;
    this.config = resolveConfig(config);
    this.id = nextInstanceId();
    this.#log = prefixedLog(loggerOf(this.config), `${padId(this.id)} [${topic}/${channel}] `);
    this.#maxInFlight = this.config.maxInFlight;
    this.done = new Promise((resolve) => this.#resolveDone = resolve);
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  /**
   * Adds a handler (go-nsq's AddHandler / AddConcurrentHandlers). It returns or resolves → FIN
   * (unless the message's auto response was disabled); throws or rejects → REQ with backoff.
   */
  addHandler(handler: Handler, opts: HandlerOptions = {}): void {
    if (this.#conns.size > 0 || this.#pendingConns.size > 0 || this.#lookupdUrls.length > 0) {
      throw new Error("already connected");
    }
    const concurrency = opts.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`Invalid handler concurrency ${concurrency}`);
    }
    this.#handlers.push({ fn: handler, limit: concurrency, running: 0 });
  }

  /** Connects to one nsqd TCP address and subscribes. */
  async connectToNsqd(addr: string): Promise<void> {
    if (this.#stopFlag) throw new Error("consumer stopped");
    if (this.#handlers.length === 0) throw new Error("no handlers");
    if (this.#conns.has(addr) || this.#pendingConns.has(addr)) throw new AlreadyConnectedError();
    let delegate: ConnMessageDelegate | null = null;
    const conn: Conn = new Conn(addr, this.config, {
      onMessage: (c, data) => this.#onMessage(c, data, delegate ??= this.#messageDelegate(c)),
      onResponse: (c, data) => this.#onResponse(c, data),
      onError: () => {},
      onIoError: () => {},
      onClose: (c) => this.#onConnClose(c),
    }, this.#log);
    this.#pendingConns.set(addr, conn);
    if (!this.#nsqdTcpAddrs.includes(addr)) this.#nsqdTcpAddrs.push(addr);
    this.#log("info", `(${addr}) connecting to nsqd`);
    try {
      const resp = await conn.connect();
      if (resp && resp.max_rdy_count < this.#maxInFlight) {
        this.#log(
          "warn",
          `(${addr}) max RDY count ${resp.max_rdy_count} < consumer max in ` +
            `flight ${this.#maxInFlight}, truncation possible`,
        );
      }
    } catch (err) {
      if (this.#pendingConns.get(addr) === conn) this.#pendingConns.delete(addr);
      throw err;
    }
    this.#pendingConns.delete(addr);
    if (this.#stopFlag || conn.closed) {
      conn.close();
      await conn.done;
      throw new Error(this.#stopFlag ? "consumer stopped" : `connection to ${addr} closed`);
    }
    conn.write(subCommand(this.topic, this.channel));
    this.#conns.set(addr, conn);
    this.#startRdyLoop();
    // Pre-emptively lower (or raise) every connection's share.
    for (const c of this.#conns.values()) this.#maybeUpdateRdy(c);
  }

  /** Connects to each address in turn; rejects on the first failure. */
  async connectToNsqds(addrs: string[]): Promise<void> {
    for (const addr of addrs) await this.connectToNsqd(addr);
  }

  /**
   * Adds an nsqlookupd HTTP address (`host:port` or a URL). The first one starts discovery: a
   * `/lookup?topic=` query now, then every `lookupdPollInterval` after a random jitter of up to
   * `lookupdPollJitter` of it; each query connects to nsqd not connected yet.
   */
  async connectToNsqlookupd(httpAddr: string): Promise<void> {
    if (this.#stopFlag) throw new Error("consumer stopped");
    if (this.#handlers.length === 0) throw new Error("no handlers");
    const url = buildLookupUrl(httpAddr, this.topic);
    if (this.#lookupdUrls.includes(url)) return;
    this.#lookupdUrls.push(url);
    if (this.#lookupdUrls.length === 1) {
      await this.#queryLookupd();
      if (this.#stopFlag) return;
      const jitter = Math.random() * this.config.lookupdPollJitter *
        this.config.lookupdPollInterval;
      this.#scheduleLookupd(jitter + this.config.lookupdPollInterval);
    }
  }

  /** connectToNsqlookupd for each address. */
  async connectToNsqlookupds(httpAddrs: string[]): Promise<void> {
    for (const addr of httpAddrs) await this.connectToNsqlookupd(addr);
  }

  /** Closes the connection to `addr` and stops reconnecting to it. */
  disconnectFromNsqd(addr: string): Promise<void> {
    const idx = this.#nsqdTcpAddrs.indexOf(addr);
    if (idx < 0) return Promise.reject(new Error("not connected"));
    this.#nsqdTcpAddrs.splice(idx, 1);
    const conn = this.#conns.get(addr) ?? this.#pendingConns.get(addr);
    if (!conn) return Promise.resolve();
    conn.close();
    return conn.done;
  }

  /** Removes an nsqlookupd from discovery (not the last one, as go-nsq). */
  disconnectFromNsqlookupd(httpAddr: string): void {
    const url = buildLookupUrl(httpAddr, this.topic);
    const idx = this.#lookupdUrls.indexOf(url);
    if (idx < 0) throw new Error("not connected");
    if (this.#lookupdUrls.length === 1) {
      throw new Error(`cannot disconnect from only remaining nsqlookupd HTTP address ${httpAddr}`);
    }
    this.#lookupdUrls.splice(idx, 1);
  }

  /** Sets a new maxInFlight and updates every connection's RDY (0 pauses the flow). */
  changeMaxInFlight(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`Invalid max in flight ${n}`);
    if (n === this.#maxInFlight) return;
    this.#maxInFlight = n;
    for (const c of this.#conns.values()) this.#maybeUpdateRdy(c);
  }

  /** The current maxInFlight. */
  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  /** Counters since the consumer was created. */
  stats(): ConsumerStats {
    return {
      messagesReceived: this.#received,
      messagesFinished: this.#finished,
      messagesRequeued: this.#requeued,
      connections: this.#conns.size,
    };
  }

  /** True when a connection has at least 85% of its RDY in flight (go-nsq's IsStarved). */
  isStarved(): boolean {
    for (const c of this.#conns.values()) {
      const threshold = Math.trunc(c.rdyCount * 0.85);
      if (c.messagesInFlight >= threshold && c.messagesInFlight > 0 && !c.closing) return true;
    }
    return false;
  }

  /** RDY of each connection (diagnostics and tests). */
  rdyCounts(): Map<string, number> {
    return new Map([...this.#conns].map(([a, c]) => [a, c.rdyCount]));
  }

  /** The current backoff level (0 = not backing off). */
  get backoffLevel(): number {
    return this.#backoffCounter;
  }

  /**
   * Graceful stop (go-nsq's Stop + StopChan): CLS to every nsqd; each connection closes after
   * CLOSE_WAIT once its messages are answered; resolves when handlers and timers have ended.
   */
  stop(): Promise<void> {
    if (!this.#stopFlag) {
      this.#stopFlag = true;
      this.#log("info", `stopping...`);
      clearTimeout(this.#lookupdTimer);
      for (const ctl of this.#lookupdAborts) ctl.abort();
      for (const t of this.#reconnectTimers) clearTimeout(t);
      this.#reconnectTimers.clear();
      for (const c of this.#pendingConns.values()) c.close();
      if (this.#conns.size === 0) {
        this.#stopHandlers();
      } else {
        for (const c of this.#conns.values()) c.write(CLS_COMMAND);
        this.#stopTimer = setTimeout(() => {
          this.#log("warn", `stop timed out; closing connections`);
          this.#exit();
        }, STOP_TIMEOUT_MS);
      }
    }
    return this.done;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  // ---------------------------------------------------------------------------------------------
  // Messages and handlers

  #messageDelegate(conn: Conn): ConnMessageDelegate {
    return {
      conn,
      onFinish: (m) => this.#respond(conn, finCommand(m[MESSAGE_ID_BYTES]), true, false),
      onRequeue: (m, delayMs, backoff) => {
        let delay = delayMs;
        if (delay < 0) {
          delay = Math.min(
            this.config.defaultRequeueDelay * m.attempts,
            this.config.maxRequeueDelay,
          );
        }
        this.#respond(conn, reqCommand(m[MESSAGE_ID_BYTES], delay), false, backoff);
      },
      onTouch: (m) => conn.write(touchCommand(m[MESSAGE_ID_BYTES])),
    };
  }

  #onMessage(conn: Conn, data: Uint8Array, delegate: ConnMessageDelegate): void {
    this.#received++;
    conn.messagesInFlight++;
    conn.lastMessageAt = monoNow();
    const msg = new Message(data, conn.address, delegate);
    // Re-send RDY as the window drains (see the module doc).
    const rdy = conn.rdyCount;
    if (rdy > 0 && !conn.closing && this.#backoffCounter === 0 && this.#backoffDuration === 0) {
      const remain = rdy - ++conn.receivedSinceRdy;
      if (remain <= 1 || remain < rdy / 4) {
        conn.receivedSinceRdy = 0;
        conn.write(rdyCommand(rdy));
      }
    }
    this.#queue.push(msg);
    this.#dispatch();
  }

  #onResponse(conn: Conn, data: Uint8Array): void {
    if (data.length === 10 && decoder.decode(data) === "CLOSE_WAIT") {
      // nsqd acknowledged CLS: nothing more will arrive; close once everything is answered.
      this.#log("info", `(${conn.address}) received CLOSE_WAIT from nsqd`);
      conn.closing = true;
      if (conn.messagesInFlight === 0) conn.closeAfterFlush();
    }
  }

  /** Starts handlers on queued messages while handler slots are free. */
  #dispatch(): void {
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      while (this.#queue.length > 0 && !this.#handlersStopped) {
        const slot = this.#freeSlot();
        if (!slot) break;
        const msg = this.#queue.shift()!;
        const conn = (msg[MESSAGE_DELEGATE] as ConnMessageDelegate).conn;
        // nsqd redelivers what a lost connection had in flight: do not handle it twice.
        if (conn.closed) continue;
        this.#run(slot, msg);
      }
    } finally {
      this.#dispatching = false;
    }
  }

  #freeSlot(): HandlerSlot | undefined {
    for (const h of this.#handlers) if (h.running < h.limit) return h;
    return undefined;
  }

  #run(slot: HandlerSlot, msg: Message): void {
    const max = this.config.maxAttempts;
    if (max > 0 && msg.attempts > max) {
      this.#log("warn", `msg ${msg.id} attempted ${msg.attempts} times, giving up`);
      msg.finish();
      return;
    }
    slot.running++;
    this.#running++;
    let result: void | Promise<void>;
    try {
      result = slot.fn(msg);
    } catch (err) {
      this.#handlerDone(slot, msg, err, true);
      return;
    }
    if (result && typeof (result as Promise<void>).then === "function") {
      (result as Promise<void>).then(
        () => this.#handlerDone(slot, msg, null, false),
        (err) => this.#handlerDone(slot, msg, err, true),
      );
    } else {
      this.#handlerDone(slot, msg, null, false);
    }
  }

  #handlerDone(slot: HandlerSlot, msg: Message, err: unknown, failed: boolean): void {
    slot.running--;
    this.#running--;
    if (failed) {
      const why = err instanceof Error ? err.message : String(err);
      this.#log("error", `Handler returned error (${why}) for msg ${msg.id}`);
      if (!msg.isAutoResponseDisabled) msg.requeue(-1);
    } else if (!msg.isAutoResponseDisabled) {
      msg.finish();
    }
    if (this.#running === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
    this.#dispatch();
  }

  /** FIN or REQ (go-nsq's writeLoop message responses and their backoff signals). */
  #respond(conn: Conn, cmd: Uint8Array, success: boolean, backoff: boolean): void {
    if (success) this.#finished++;
    else this.#requeued++;
    conn.messagesInFlight--;
    if (conn.closed) return;
    if (success) this.#startStopContinueBackoff("resume");
    else this.#startStopContinueBackoff(backoff ? "backoff" : "continue");
    conn.write(cmd);
    if (conn.messagesInFlight === 0 && conn.closing) conn.closeAfterFlush();
  }

  // ---------------------------------------------------------------------------------------------
  // RDY

  #perConnMaxInFlight(): number {
    const b = this.#maxInFlight;
    const s = b / this.#conns.size;
    return Math.trunc(Math.min(Math.max(1, s), b));
  }

  #inBackoff(): boolean {
    return this.#backoffCounter > 0;
  }

  #inBackoffTimeout(): boolean {
    return this.#backoffDuration > 0;
  }

  #maybeUpdateRdy(conn: Conn): void {
    if (this.#inBackoff() || this.#inBackoffTimeout()) return;
    this.#updateRdy(conn, this.#perConnMaxInFlight());
  }

  /** go-nsq's updateRDY: capped by nsqd's max and by what maxInFlight leaves; false if not sent. */
  #updateRdy(conn: Conn, count: number): boolean {
    if (conn.closing) return false;
    if (count > conn.maxRdyCount) count = conn.maxRdyCount;
    this.#clearRdyRetry(conn);
    const rdy = conn.rdyCount;
    const maxPossible = this.#maxInFlight - this.#totalRdy + rdy;
    if (maxPossible > 0 && maxPossible < count) count = maxPossible;
    if (maxPossible <= 0 && count > 0) {
      if (rdy === 0) {
        // Could not leave RDY 0: retry later so this connection does not starve forever
        // (any other RDY update for it cancels the retry).
        const want = count;
        this.#rdyRetryTimers.set(
          conn,
          setTimeout(() => {
            this.#rdyRetryTimers.delete(conn);
            this.#updateRdy(conn, want);
          }, RDY_RETRY_MS),
        );
      }
      return false;
    }
    this.#sendRdy(conn, count);
    return true;
  }

  #sendRdy(conn: Conn, count: number): void {
    if (count === 0 && conn.rdyCount === 0) return;
    this.#totalRdy += count - conn.rdyCount;
    const last = conn.rdyCount;
    conn.rdyCount = count;
    if (count > 0) conn.lastRdyAt = monoNow();
    if (count === last) return;
    conn.lastRdyCount = count;
    conn.receivedSinceRdy = 0;
    this.#log("debug", `(${conn.address}) sending RDY ${count}`);
    conn.write(rdyCommand(count));
  }

  #clearRdyRetry(conn: Conn): boolean {
    const t = this.#rdyRetryTimers.get(conn);
    if (t === undefined) return false;
    clearTimeout(t);
    this.#rdyRetryTimers.delete(conn);
    return true;
  }

  #startRdyLoop(): void {
    if (this.#rdyLoopTimer !== undefined || this.#stopFlag) return;
    // The redistribution loop: every rdyRedistributeInterval (go-nsq's rdyLoop).
    this.#rdyLoopTimer = setInterval(
      () => this.#redistributeRdy(),
      this.config.rdyRedistributeInterval,
    );
  }

  /** go-nsq's redistributeRDY (see the module doc). */
  #redistributeRdy(): void {
    if (this.#inBackoffTimeout() || this.#stopFlag) return;
    const conns = [...this.#conns.values()];
    if (conns.length === 0) return;
    const maxInFlight = this.#maxInFlight;
    if (conns.length > maxInFlight) this.#needRdyRedistributed = true;
    if (this.#inBackoff() && conns.length > 1) this.#needRdyRedistributed = true;
    if (!this.#needRdyRedistributed) return;
    this.#needRdyRedistributed = false;

    const now = monoNow();
    const possible: Conn[] = [];
    for (const c of conns) {
      if (c.rdyCount > 0) {
        if (now - c.lastMessageAt > this.config.lowRdyIdleTimeout) {
          this.#log("debug", `(${c.address}) idle connection, giving up RDY`);
          this.#updateRdy(c, 0);
        } else if (now - c.lastRdyAt > this.config.lowRdyTimeout) {
          this.#log("debug", `(${c.address}) RDY timeout, giving up RDY`);
          this.#updateRdy(c, 0);
        }
      }
      possible.push(c);
    }
    let available = maxInFlight - this.#totalRdy;
    if (this.#inBackoff()) available = 1 - this.#totalRdy;
    while (possible.length > 0 && available > 0) {
      available--;
      const i = Math.floor(Math.random() * possible.length);
      const c = possible.splice(i, 1)[0];
      this.#log("debug", `(${c.address}) redistributing RDY`);
      this.#updateRdy(c, 1);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Backoff

  /** The backoff duration of level `attempt` (go-nsq's BackoffStrategy.Calculate). */
  backoffDurationFor(attempt: number): number {
    const d = this.config.backoffMultiplier * 2 ** attempt;
    return this.config.backoffStrategy === "full_jitter" ? Math.floor(Math.random() * d) : d;
  }

  #startStopContinueBackoff(signal: "resume" | "backoff" | "continue"): void {
    // Ignore signals during a backoff period: many async results must not push the level to
    // the maximum (or back to 0) at once.
    if (this.#inBackoffTimeout()) return;
    let updated = false;
    let counter = this.#backoffCounter;
    if (signal === "resume") {
      if (counter > 0) {
        counter--;
        updated = true;
      }
    } else if (signal === "backoff") {
      if (this.backoffDurationFor(counter + 1) <= this.config.maxBackoffDuration) {
        counter++;
        updated = true;
      }
    }
    this.#backoffCounter = counter;

    if (counter === 0 && updated) {
      const count = this.#perConnMaxInFlight();
      this.#log("warn", `exiting backoff, returning all to RDY ${count}`);
      for (const c of this.#conns.values()) this.#updateRdy(c, count);
    } else if (counter > 0) {
      const d = Math.min(this.backoffDurationFor(counter), this.config.maxBackoffDuration);
      this.#log(
        "warn",
        `backing off for ${formatDuration(d)} (backoff level ${counter}), setting all to RDY 0`,
      );
      for (const c of this.#conns.values()) this.#updateRdy(c, 0);
      this.#backoff(d);
    }
  }

  #backoff(d: number): void {
    // A zero-length backoff still needs its timer to run before the RDY 1 probe.
    this.#backoffDuration = Math.max(d, 0.001);
    clearTimeout(this.#backoffTimer);
    this.#backoffTimer = setTimeout(() => this.#resume(), d);
  }

  #resume(): void {
    this.#backoffTimer = undefined;
    if (this.#stopFlag) {
      this.#backoffDuration = 0;
      return;
    }
    const conns = [...this.#conns.values()];
    if (conns.length === 0) {
      this.#log("warn", "no connection available to resume");
      this.#log("warn", "backing off for 1s");
      this.#backoff(1000);
      return;
    }
    const choice = conns[Math.floor(Math.random() * conns.length)];
    this.#log("warn", `(${choice.address}) backoff timeout expired, sending RDY 1`);
    // While in backoff only ever let one message at a time through.
    if (!this.#updateRdy(choice, 1) && choice.rdyCount !== 1) {
      this.#log("warn", `(${choice.address}) error resuming RDY 1 - over max in flight`);
      this.#log("warn", "backing off for 1s");
      this.#backoff(1000);
      return;
    }
    this.#backoffDuration = 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Connections coming and going

  #onConnClose(conn: Conn): void {
    const rdy = conn.rdyCount;
    this.#totalRdy -= rdy;
    conn.rdyCount = 0;
    const hadRetry = this.#clearRdyRetry(conn);
    const known = this.#conns.get(conn.address) === conn;
    if (known) this.#conns.delete(conn.address);
    const left = this.#conns.size;
    this.#log("warn", `there are ${left} connections left alive`);

    if ((hadRetry || rdy > 0) && (left === this.#maxInFlight || this.#inBackoff())) {
      // Out of the normal distribution cases: let the loop move this RDY elsewhere.
      this.#needRdyRedistributed = true;
    }

    if (this.#stopFlag) {
      // Connections still being made were closed by stop(); #exit waits for them.
      if (left === 0) this.#stopHandlers();
      return;
    }
    // Closed before it was registered: connectToNsqd reports it to its caller.
    if (!known) return;

    // The remaining connections take up the share the lost one held.
    for (const c of this.#conns.values()) this.#maybeUpdateRdy(c);

    if (this.#lookupdUrls.length > 0) {
      this.#queryLookupdSoon();
    } else if (this.#nsqdTcpAddrs.includes(conn.address)) {
      this.#scheduleReconnect(conn.address);
    }
  }

  /** Redials a directly given nsqd every lookupdPollInterval until it connects or is removed. */
  #scheduleReconnect(addr: string): void {
    this.#log(
      "info",
      `(${addr}) re-connecting in ${formatDuration(this.config.lookupdPollInterval)}`,
    );
    const timer = setTimeout(async () => {
      this.#reconnectTimers.delete(timer);
      if (this.#stopFlag) return;
      if (!this.#nsqdTcpAddrs.includes(addr)) {
        this.#log("warn", `(${addr}) skipped reconnect after removal...`);
        return;
      }
      try {
        await this.connectToNsqd(addr);
      } catch (err) {
        if (err instanceof AlreadyConnectedError || this.#stopFlag) return;
        this.#log("error", `(${addr}) error connecting to nsqd - ${(err as Error).message}`);
        this.#scheduleReconnect(addr);
      }
    }, this.config.lookupdPollInterval);
    this.#reconnectTimers.add(timer);
  }

  // ---------------------------------------------------------------------------------------------
  // nsqlookupd discovery

  /** The lookupd loop: one query per lookupdPollInterval (after the initial jitter). */
  #scheduleLookupd(ms: number): void {
    if (this.#stopFlag) return;
    clearTimeout(this.#lookupdTimer);
    this.#lookupdTimer = setTimeout(() => {
      this.#lookupdTimer = undefined;
      this.#queryLookupd().finally(() => this.#scheduleLookupd(this.config.lookupdPollInterval));
    }, ms);
  }

  #queryLookupdSoon(): void {
    if (this.#stopFlag || this.#lookupdQuery) return;
    this.#queryLookupd().catch(() => {});
  }

  /** Queries one nsqlookupd (the next in turn, up to 3 tries) and connects to new nsqd. */
  #queryLookupd(): Promise<void> {
    return this.#lookupdQuery ??= this.#doQueryLookupd().finally(() => {
      this.#lookupdQuery = null;
    });
  }

  async #doQueryLookupd(): Promise<void> {
    let addrs: string[] | null = null;
    for (let retries = 0; retries < 3 && addrs === null && !this.#stopFlag; retries++) {
      if (this.#lookupdUrls.length === 0) return;
      if (this.#lookupdIndex >= this.#lookupdUrls.length) this.#lookupdIndex = 0;
      const endpoint = this.#lookupdUrls[this.#lookupdIndex];
      this.#lookupdIndex = (this.#lookupdIndex + 1) % this.#lookupdUrls.length;
      this.#log("info", `querying nsqlookupd ${endpoint}`);
      try {
        addrs = await this.#lookup(endpoint);
      } catch (err) {
        this.#log("error", `error querying nsqlookupd (${endpoint}) - ${(err as Error).message}`);
        if (retries < 2) this.#log("info", "retrying with next nsqlookupd");
      }
    }
    if (addrs === null || this.#stopFlag) return;
    await Promise.all(addrs.map(async (addr) => {
      if (this.#conns.has(addr) || this.#pendingConns.has(addr)) return;
      try {
        await this.connectToNsqd(addr);
      } catch (err) {
        if (err instanceof AlreadyConnectedError || this.#stopFlag) return;
        this.#log("error", `(${addr}) error connecting to nsqd - ${(err as Error).message}`);
      }
    }));
  }

  /** GET /lookup; both response shapes (1.x bare, legacy `{status_code, data}`). */
  async #lookup(endpoint: string): Promise<string[]> {
    const ctl = new AbortController();
    this.#lookupdAborts.add(ctl);
    const timer = setTimeout(() => ctl.abort(), this.config.lookupdPollTimeout);
    try {
      const headers: Record<string, string> = { Accept: "application/vnd.nsq; version=1.0" };
      if (this.config.authSecret !== "" && this.config.lookupdAuthorization) {
        headers.Authorization = `Bearer ${this.config.authSecret}`;
      }
      const resp = await fetch(endpoint, { headers, signal: ctl.signal });
      const text = await resp.text();
      if (resp.status !== 200) {
        throw new Error(`got response ${resp.status} ${resp.statusText} ${JSON.stringify(text)}`);
      }
      let body = JSON.parse(text);
      if (
        body && typeof body === "object" && "status_code" in body && "data" in body &&
        resp.headers.get("X-NSQ-Content-Type") !== "nsq; version=1.0"
      ) {
        body = body.data;
      }
      const producers: LookupPeer[] = Array.isArray(body?.producers) ? body.producers : [];
      return producers
        .filter((p) => typeof p.broadcast_address === "string" && typeof p.tcp_port === "number")
        .map((p) => joinHostPort(p.broadcast_address!, p.tcp_port!));
    } finally {
      clearTimeout(timer);
      this.#lookupdAborts.delete(ctl);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Stopping

  #stopHandlers(): void {
    if (this.#handlersStopped) return;
    this.#handlersStopped = true;
    this.#log("info", `stopping handlers`);
    if (this.#running === 0) {
      this.#exit();
    } else {
      this.#idleWaiters.push(() => this.#exit());
    }
  }

  #exit(): void {
    if (this.#exited) return;
    this.#exited = true;
    this.#handlersStopped = true;
    clearTimeout(this.#stopTimer);
    clearTimeout(this.#lookupdTimer);
    clearTimeout(this.#backoffTimer);
    this.#backoffDuration = 0;
    clearInterval(this.#rdyLoopTimer);
    for (const t of this.#rdyRetryTimers.values()) clearTimeout(t);
    this.#rdyRetryTimers.clear();
    for (const t of this.#reconnectTimers) clearTimeout(t);
    this.#reconnectTimers.clear();
    for (const ctl of this.#lookupdAborts) ctl.abort();
    const conns = [...this.#conns.values(), ...this.#pendingConns.values()];
    for (const c of conns) c.close();
    const lookup = this.#lookupdQuery ?? Promise.resolve();
    Promise.all([...conns.map((c) => c.done), lookup.catch(() => {})]).then(() => {
      if (this.#rdyLoopTimer !== undefined) this.#log("info", "rdyLoop exiting");
      if (this.#lookupdUrls.length > 0) this.#log("info", "exiting lookupdLoop");
      this.#resolveDone();
    });
  }
}

/** go-nsq's buildLookupAddr: `http://` when no scheme, `/lookup` when no path, `topic=` added. */
export function buildLookupUrl(addr: string, topic: string): string {
  const text = addr.includes("://") ? addr : `http://${addr}`;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new TypeError(`invalid nsqlookupd address ${addr}`);
  }
  if (u.port === "" && !/:\d+(\/|$)/.test(text.slice(text.indexOf("://") + 3))) {
    throw new TypeError("missing port");
  }
  if (u.pathname === "/" || u.pathname === "") u.pathname = "/lookup";
  u.searchParams.append("topic", topic);
  return u.toString();
}
