/**
 * A channel: one consumer group's copy of a topic's messages (docs/nsqd.md#fan-out,
 * #in-flight-and-deferred).
 *
 * Delivery is a synchronous push (docs/architecture.md#delivery-is-a-synchronous-push): `receive`
 * (from the topic's fan-out) hands the message straight to the next ready client, else stores it in
 * the memory FIFO (bounded by --mem-queue-size) or, past that, the backend queue. When a client
 * becomes ready again (`clientReady`), `drain` moves stored messages to ready clients in bounded
 * batches, yielding to the event loop between batches so one busy channel cannot starve others.
 *
 * Ready clients are kept in a list consumed round-robin; a client that turns out not ready is
 * dropped lazily and re-added by the transition that makes it ready (RDY, FIN/REQ/timeout at the
 * window edge, output drained, unpause).
 *
 * In flight: `id → Message` for FIN/REQ/TOUCH plus a min-heap by deadline; deferred: a min-heap by
 * due time. nsqd's scan loop calls `processTimeouts(now)` for channels with entries, every 100 ms.
 */
import { monoNow, wallNowMs } from "../internal/clock.ts";
import { Fifo } from "../internal/fifo.ts";
import { PriorityQueue } from "../internal/priority_queue.ts";
import type { BackendQueue } from "./backend_queue.ts";
import type { ClientV2 } from "./client_v2.ts";
import {
  closeDeferred,
  deferredIndexPath,
  DeferredSpill,
  readDeferredIndex,
  removeFile,
} from "./deferred.ts";
import { DiskQueue } from "./disk_queue.ts";
import { Message } from "./message.ts";
import type { Nsqd } from "./nsqd.ts";
import type { Topic } from "./topic.ts";
import { isEphemeral } from "../protocol/names.ts";
import { deadLetter, defaultDeadLetterTopic } from "./dead_letter.ts";
import { E2eLatencyStream } from "./quantile.ts";
import { InFlightIndex } from "./in_flight.ts";

/** Messages moved per drain batch before yielding to the event loop. */
const DRAIN_BATCH = 2048;

export class Channel {
  readonly name: string;
  readonly topic: Topic;
  readonly ephemeral: boolean;
  readonly backend: BackendQueue;
  readonly nsqd: Nsqd;
  paused = false;
  exiting = false;

  readonly clients = new Map<number, ClientV2>();
  #hadClient = false;
  #ready: ClientV2[] = [];
  #rr = 0;

  readonly #mem: Fifo<Message>;
  readonly #memMax: number;
  readonly #inFlight = new InFlightIndex();
  readonly #inFlightPq = new PriorityQueue<Message>();
  readonly #deferredPq = new PriorityQueue<Message>();

  /** FIN latency percentiles (null unless --e2e-processing-latency-percentile is set). */
  readonly e2eStream: E2eLatencyStream | null;
  messageCount = 0;
  requeueCount = 0;
  timeoutCount = 0;

  // Beyond NSQ (docs/beyond-nsq.md): server-side max attempts and a dead-letter topic.
  /** A message delivered this many times is dead-lettered instead of requeued (0 = never). */
  maxAttempts: number;
  /** Where dead-lettered messages are published ("" = dropped, only counted). */
  deadLetterTopic: string;
  /** Messages dead-lettered (published to the dead-letter topic or dropped). */
  deadLetterCount = 0;
  /** Set by POST /channel/config or nsqd.dat: persisted (else the flags' defaults apply). */
  deadLetterConfigured = false;

  // Beyond NSQ: deferred timing across restarts and past --max-deferred-in-memory (deferred.ts).
  /** id → due (ms since the epoch) of deferred messages a clean exit left in the backend. */
  #restored: Map<string, number> | null = null;
  /** Deferred messages past --max-deferred-in-memory (null until the first spill). */
  #spill: DeferredSpill | null = null;

  #draining = false;
  #drainScheduled: ReturnType<typeof setTimeout> | undefined;
  #preferBackend = false;

  constructor(topic: Topic, name: string, nsqd: Nsqd) {
    this.topic = topic;
    this.name = name;
    this.nsqd = nsqd;
    this.ephemeral = isEphemeral(name);
    this.#memMax = nsqd.opts.memQueueSize;
    this.#mem = new Fifo(Math.min(this.#memMax, 1024));
    this.backend = nsqd.newBackend(`${topic.name}:${name}`, this.ephemeral);
    this.backend.onReadable = () => this.drain();
    if (this.backend instanceof DiskQueue) this.#openDeferred(this.backend);
    const o = nsqd.opts;
    this.maxAttempts = o.maxAttempts;
    this.deadLetterTopic = defaultDeadLetterTopic(topic.name, o.deadLetterTopicSuffix);
    this.e2eStream = o.e2eProcessingLatencyPercentiles.length > 0
      ? new E2eLatencyStream(o.e2eProcessingLatencyWindowTime, o.e2eProcessingLatencyPercentiles)
      : null;
  }

  /** Memory + backend depth. */
  get depth(): number {
    return this.#mem.length + this.backend.depth();
  }
  get inFlightCount(): number {
    return this.#inFlight.size;
  }
  get deferredCount(): number {
    return this.#deferredPq.length + (this.#spill === null ? 0 : this.#spill.count);
  }
  /** True when in-flight or deferred entries wait for the scan loop. */
  get hasTimed(): boolean {
    return this.#inFlightPq.length > 0 || this.#deferredPq.length > 0 ||
      (this.#spill !== null && this.#spill.count > 0);
  }

  /** For peek.ts: a disk message an earlier run deferred and that is not due yet. */
  peekSkip(msg: Message): boolean {
    const due = this.#restored?.get(msg.id);
    return due !== undefined && due > Date.now();
  }

  /** For peek.ts: the first `n` messages of the memory queue. */
  peekMemory(n: number): Message[] {
    return this.#mem.head(n);
  }

  // ---- message entry ----------------------------------------------------------------------

  /** A message from the topic's fan-out (counted; DPUB'd ones go to the deferred queue). */
  receive(msg: Message): void {
    this.messageCount++;
    if (msg.deferred > 0) this.#startDeferred(msg, msg.deferred);
    else this.put(msg);
  }

  /** Deliver to a ready client now, else store (memory, then backend). Throws on backend error. */
  put(msg: Message): void {
    if (
      !this.paused && this.#mem.length === 0 && this.backend.depth() === 0 &&
      (this.#memMax > 0 || this.ephemeral)
    ) {
      const c = this.#nextReadyClient();
      if (c !== null) {
        c.deliver(msg, this);
        return;
      }
    }
    this.#store(msg);
  }

  #store(msg: Message): void {
    if (this.#mem.length < this.#memMax) {
      this.#mem.push(msg);
    } else {
      this.nsqd.backendPut(this.backend, msg);
    }
    if (this.#ready.length > 0) this.#scheduleDrain();
  }

  // ---- clients ----------------------------------------------------------------------------

  /** Adds a subscriber; returns an error text when --max-channel-consumers is reached. */
  addClient(c: ClientV2): string | null {
    if (this.clients.has(c.id)) return null;
    const max = this.nsqd.opts.maxChannelConsumers;
    if (max > 0 && this.clients.size >= max) {
      return `consumers for ${this.topic.name}:${this.name} exceeds limit of ${max}`;
    }
    this.clients.set(c.id, c);
    this.#hadClient = true;
    return null;
  }

  removeClient(c: ClientV2): void {
    if (!this.clients.delete(c.id)) return;
    // c stays in #ready until the rotation drops it (isReadyForMessages is false once closed).
    if (this.ephemeral && this.clients.size === 0 && this.#hadClient && !this.exiting) {
      this.topic.deleteChannel(this.name);
    }
  }

  /** `c` may take messages now. */
  clientReady(c: ClientV2): void {
    if (!c.inReadyList) {
      c.inReadyList = true;
      this.#ready.push(c);
    }
    this.drain();
  }

  #nextReadyClient(): ClientV2 | null {
    const r = this.#ready;
    while (r.length > 0) {
      if (this.#rr >= r.length) this.#rr = 0;
      const c = r[this.#rr];
      if (c.isReadyForMessages()) {
        this.#rr++;
        return c;
      }
      c.inReadyList = false;
      r[this.#rr] = r[r.length - 1];
      r.pop();
    }
    return null;
  }

  // ---- draining stored messages -------------------------------------------------------------

  /** Moves stored messages to ready clients, up to one batch; schedules the rest. */
  drain(): void {
    if (this.#draining || this.exiting || this.paused) return;
    this.#draining = true;
    let budget = DRAIN_BATCH;
    try {
      while (budget > 0 && (this.#mem.length > 0 || this.backend.depth() > 0)) {
        const c = this.#nextReadyClient();
        if (c === null) break;
        const msg = this.#takeStored();
        if (msg === null) break; // backend is reading ahead; onReadable calls drain again
        c.deliver(msg, this);
        budget--;
      }
    } finally {
      this.#draining = false;
    }
    if (budget === 0) this.#scheduleDrain();
  }

  /** Next stored message: alternate memory and backend when both have some (as NSQ's select). */
  #takeStored(): Message | null {
    const fromBackend = this.#mem.length === 0 || (this.#preferBackend && this.backend.depth() > 0);
    this.#preferBackend = !this.#preferBackend;
    if (!fromBackend) return this.#mem.shift()!;
    for (;;) {
      const rec = this.backend.read();
      if (rec === null) return this.#mem.shift() ?? null;
      try {
        const msg = Message.decode(rec);
        if (this.#restored !== null && this.#holdRestored(msg)) continue;
        return msg;
      } catch (err) {
        this.nsqd.logger.error(
          `TOPIC(${this.topic.name}): failed to decode message - ${(err as Error).message}`,
        );
      }
    }
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled !== undefined || this.exiting) return;
    this.#drainScheduled = setTimeout(() => {
      this.#drainScheduled = undefined;
      this.drain();
    }, 0);
  }

  // ---- in flight ----------------------------------------------------------------------------

  startInFlight(msg: Message, c: ClientV2): void {
    const now = monoNow();
    msg.client = c;
    msg.deliveryTs = now;
    msg.pri = now + c.msgTimeout;
    // A duplicate id (only possible with duplicate ids in one channel) is sent untracked.
    if (!this.#inFlight.add(msg)) return;
    this.#inFlightPq.push(msg);
    if (this.#inFlightPq.length === 1) this.nsqd.watchTimeouts(this);
  }

  #takeInFlight(c: ClientV2, id: string): Message | string {
    return this.#take(c, this.#inFlight.get(id));
  }

  #take(c: ClientV2, msg: Message | undefined): Message | string {
    if (msg === undefined) return "ID not in flight";
    if (msg.client !== c) return "client does not own message";
    this.#inFlight.delete(msg);
    this.#inFlightPq.remove(msg);
    msg.client = null;
    return msg;
  }

  /** FIN; returns an error reason or null. */
  finishMessage(c: ClientV2, id: string): string | null {
    return this.#finish(this.#takeInFlight(c, id));
  }

  /** FIN of the id in the 16 bytes at `off` of `buf` (the protocol's fast path). */
  finishMessageAt(c: ClientV2, buf: Uint8Array, off: number): string | null {
    return this.#finish(this.#take(c, this.#inFlight.getAt(buf, off)));
  }

  #finish(msg: Message | string): string | null {
    if (typeof msg === "string") return msg;
    if (this.e2eStream !== null) {
      const now = wallNowMs();
      this.e2eStream.insert((now - msg.timestampMs()) * 1e6, now);
    }
    return null;
  }

  /**
   * Beyond NSQ: a message already delivered --max-attempts / `max_attempts` times goes to the
   * dead-letter topic (or is dropped) instead of coming back; true when it did.
   */
  #deadLettered(msg: Message): boolean {
    if (this.maxAttempts <= 0 || msg.attempts < this.maxAttempts) return false;
    deadLetter(this, msg);
    return true;
  }

  /** REQ; returns an error reason or null. `timeoutMs` 0 requeues now, else defers. */
  requeueMessage(c: ClientV2, id: string, timeoutMs: number): string | null {
    const msg = this.#takeInFlight(c, id);
    if (typeof msg === "string") return msg;
    this.requeueCount++;
    if (this.#deadLettered(msg)) return null;
    if (timeoutMs === 0) this.#requeue(msg);
    else this.#startDeferred(msg, timeoutMs);
    return null;
  }

  /** TOUCH: new deadline now + msg_timeout, capped at delivery + --max-msg-timeout. */
  touchMessage(c: ClientV2, id: string): string | null {
    const msg = this.#inFlight.get(id);
    if (msg === undefined) return "ID not in flight";
    if (msg.client !== c) return "client does not own message";
    const now = monoNow();
    const deadline = Math.min(now + c.msgTimeout, msg.deliveryTs + this.nsqd.opts.maxMsgTimeout);
    this.#inFlightPq.update(msg, deadline);
    return null;
  }

  #startDeferred(msg: Message, ms: number): void {
    msg.packDeferred(ms);
    msg.pri = monoNow() + ms;
    const max = this.nsqd.opts.maxDeferredInMemory;
    if (max > 0 && this.#deferredPq.length >= max && this.#spillOut(msg)) return;
    this.#deferredPq.push(msg);
    if (this.#deferredPq.length === 1) this.nsqd.watchTimeouts(this);
  }

  // ---- beyond NSQ: deferred messages on disk (deferred.ts) ---------------------------------

  /** At construction: the index a clean exit left, and spilled messages of an earlier run. */
  #openDeferred(b: DiskQueue): void {
    const n = this.nsqd;
    if (n.opts.persistDeferred) {
      const path = deferredIndexPath(n.dataPath, this.topic.name, this.name);
      this.#restored = readDeferredIndex(path, b.position(), n.logger);
    }
    if (DeferredSpill.existsOnDisk(n.dataPath, this.topic.name, this.name)) {
      this.#spill = new DeferredSpill(n, this.topic.name, this.name);
      if (this.#spill.count > 0) n.watchTimeouts(this);
    }
  }

  /** A backend message an earlier run deferred: deferred again for the time left (true). */
  #holdRestored(msg: Message): boolean {
    const restored = this.#restored!;
    const due = restored.get(msg.id);
    if (due === undefined) return false;
    restored.delete(msg.id);
    if (restored.size === 0) this.#restored = null;
    const ms = due - wallNowMs();
    if (ms <= 0) return false;
    this.#startDeferred(msg, ms);
    return true;
  }

  /** Past --max-deferred-in-memory: appends `msg` (pri set) to the spill queue; false if it cannot. */
  #spillOut(msg: Message): boolean {
    if (this.ephemeral || !(this.backend instanceof DiskQueue)) return false;
    try {
      this.#spill ??= new DeferredSpill(this.nsqd, this.topic.name, this.name);
      this.#spill.put(msg, performance.timeOrigin + msg.pri);
    } catch (err) {
      this.nsqd.logger.error(
        `CHANNEL(${this.name}): failed to spill deferred message - ${(err as Error).message}`,
      );
      return false;
    }
    this.nsqd.watchTimeouts(this);
    return true;
  }

  /** Scan loop: spilled messages back into memory as room appears, or to delivery once due. */
  #refillFromSpill(now: number): boolean {
    const max = this.nsqd.opts.maxDeferredInMemory;
    const room = max > 0 ? max - this.#deferredPq.length : Infinity;
    const moved = this.#spill!.refill(
      performance.timeOrigin + now,
      room,
      (m) => this.#requeue(m),
      (m, dueMs) => {
        m.pri = dueMs - performance.timeOrigin;
        this.#deferredPq.push(m);
      },
    );
    return moved > 0;
  }

  /** Re-put after REQ/timeout; a backend failure is logged (the message cannot go anywhere). */
  #requeue(msg: Message): void {
    msg.compact();
    try {
      this.put(msg);
    } catch (err) {
      this.nsqd.logger.error(
        `TOPIC(${this.topic.name}): failed to requeue message on ${this.name} - ${
          (err as Error).message
        }`,
      );
    }
  }

  /**
   * Requeues in-flight messages whose deadline passed and deferred messages now due.
   * Returns true if it did any work.
   */
  processTimeouts(now: number): boolean {
    let dirty = false;
    for (let msg = this.#inFlightPq.peek(); msg !== undefined && msg.pri <= now;) {
      this.#inFlightPq.pop();
      this.#inFlight.delete(msg);
      const c = msg.client;
      msg.client = null;
      this.timeoutCount++;
      if (c !== null) c.inFlightDone();
      if (!this.#deadLettered(msg)) this.#requeue(msg);
      dirty = true;
      msg = this.#inFlightPq.peek();
    }
    for (let msg = this.#deferredPq.peek(); msg !== undefined && msg.pri <= now;) {
      this.#deferredPq.pop();
      msg.deferred = 0;
      this.#requeue(msg);
      dirty = true;
      msg = this.#deferredPq.peek();
    }
    if (this.#spill !== null && this.#spill.count > 0 && this.#refillFromSpill(now)) dirty = true;
    return dirty;
  }

  // ---- admin ------------------------------------------------------------------------------

  pause(): void {
    this.paused = true;
    for (const c of this.clients.values()) c.writer.flush();
  }

  unpause(): void {
    this.paused = false;
    for (const c of this.clients.values()) {
      if (c.isReadyForMessages()) this.clientReady(c);
    }
  }

  /** Drops every stored, in-flight and deferred message; clients' in-flight counts reset. */
  async empty(): Promise<void> {
    this.#mem.clear();
    this.#inFlight.clear();
    this.#inFlightPq.drain();
    this.#deferredPq.drain();
    this.#restored = null;
    for (const c of this.clients.values()) {
      c.inFlightCount = 0;
      if (c.isReadyForMessages()) this.clientReady(c);
    }
    await this.#spill?.empty();
    await this.backend.empty();
  }

  /** Stops delivery and closes every subscriber's connection. */
  #stop(): void {
    this.exiting = true;
    clearTimeout(this.#drainScheduled);
    this.#drainScheduled = undefined;
    for (const c of [...this.clients.values()]) c.close();
    this.clients.clear();
    this.#ready = [];
  }

  /** Deletion: close clients, drop everything, delete the backend's files. */
  async delete(): Promise<void> {
    this.#stop();
    this.#mem.clear();
    this.#inFlight.clear();
    this.#inFlightPq.drain();
    this.#deferredPq.drain();
    this.#restored = null;
    await this.#spill?.delete();
    if (this.backend instanceof DiskQueue) {
      await removeFile(deferredIndexPath(this.nsqd.dataPath, this.topic.name, this.name));
    }
    await this.backend.delete();
  }

  /**
   * Graceful exit: memory queue, in-flight and deferred messages all go to the backend, as in
   * NSQ, then the backend is synced and closed. Beyond NSQ, spilled deferred messages follow,
   * and with --persist-deferred their due times go to the deferred index (deferred.ts).
   */
  async close(): Promise<void> {
    this.#stop();
    const pending: Message[] = this.#mem.drain();
    for (const m of this.#inFlightPq.drain()) pending.push(m);
    const deferred = this.#deferredPq.drain();
    for (const m of deferred) pending.push(m);
    this.#inFlight.clear();
    for (const m of pending) {
      try {
        this.backend.putRecord(m);
      } catch (err) {
        this.nsqd.logger.error(
          `CHANNEL(${this.name}): failed to write message to backend - ${(err as Error).message}`,
        );
      }
    }
    if (pending.length > 0) {
      this.nsqd.logger.info(
        `CHANNEL(${this.name}): flushing ${pending.length} memory/in-flight/deferred messages to backend`,
      );
    }
    if (this.backend instanceof DiskQueue) {
      await closeDeferred(this, this.backend, deferred, this.#restored, this.#spill);
    } else {
      await this.backend.close();
    }
  }
}
