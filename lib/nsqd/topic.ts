/**
 * A topic: where publishers put messages, fanned out to every channel (docs/nsqd.md#fan-out,
 * #pause).
 *
 * While the topic is started, not paused and has channels, `put` fans each message out
 * synchronously: the first channel gets the message, the others a copy sharing the body. When
 * it cannot flow (no channels, paused, or not started because lookupd channel pre-creation is
 * still running) messages are stored in the topic's memory FIFO, then its backend, and `drain`
 * fans them out once they can flow again, in bounded batches that yield to the event loop.
 *
 * With --mem-queue-size=0 a topic without flowing channels stores everything on disk; with
 * channels, messages go straight into the channels, whose own disk queues take them.
 */
import { Fifo } from "../internal/fifo.ts";
import { isEphemeral } from "../protocol/names.ts";
import type { BackendQueue } from "./backend_queue.ts";
import { Channel } from "./channel.ts";
import { GuidFactory } from "./guid.ts";
import { Message } from "./message.ts";
import type { Nsqd } from "./nsqd.ts";

const DRAIN_BATCH = 2048;
/**
 * A channel whose disk queue has this many bytes waiting to be written pauses the topic's
 * drain until they are written (Go's pump blocks on the channel's disk write the same way),
 * so moving a large backlog into a new channel cannot outrun the disk and grow memory.
 */
const CHANNEL_BACKLOG_BYTES = 4 * 1024 * 1024;

export class Topic {
  readonly name: string;
  readonly ephemeral: boolean;
  readonly nsqd: Nsqd;
  readonly backend: BackendQueue;
  readonly guid: GuidFactory;
  readonly channels = new Map<string, Channel>();
  #channelList: Channel[] = [];
  paused = false;
  /** Fan-out starts once the topic is started (after lookupd channel pre-creation). */
  started = false;
  exiting = false;

  readonly #mem: Fifo<Message>;
  readonly #memMax: number;
  /** --max-topic-depth (0 = unbounded). */
  readonly #maxDepth: number;
  messageCount = 0;
  messageBytes = 0;

  #draining = false;
  #waiting = false;
  #drainScheduled: ReturnType<typeof setTimeout> | undefined;

  constructor(name: string, nsqd: Nsqd) {
    this.name = name;
    this.nsqd = nsqd;
    this.ephemeral = isEphemeral(name);
    this.guid = new GuidFactory(nsqd.opts.id);
    this.#memMax = nsqd.opts.memQueueSize;
    this.#maxDepth = nsqd.opts.maxTopicDepth;
    this.#mem = new Fifo(Math.min(this.#memMax, 1024));
    this.backend = nsqd.newBackend(name, this.ephemeral);
    this.backend.onReadable = () => this.drain();
  }

  get depth(): number {
    return this.#mem.length + this.backend.depth();
  }

  /**
   * Beyond NSQ (--max-topic-depth, docs/beyond-nsq.md): true while the topic or one of its
   * channels holds at least that many queued messages, so a publish is refused. Always false
   * (one comparison) when the flag is 0.
   */
  isFull(): boolean {
    const max = this.#maxDepth;
    if (max <= 0) return false;
    if (this.depth >= max) return true;
    for (const ch of this.#channelList) if (ch.depth >= max) return true;
    return false;
  }

  /** For peek.ts: the first `n` messages of the memory queue. */
  peekMemory(n: number): Message[] {
    return this.#mem.head(n);
  }

  /** Channels sorted by name (stats, metadata). */
  sortedChannels(): Channel[] {
    return [...this.channels.values()].sort((
      a,
      b,
    ) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** A new message with this topic's next id. */
  newMessage(body: Uint8Array): Message {
    return Message.create(this.guid.next(), body);
  }

  #flowing(): boolean {
    return this.started && !this.paused && this.#channelList.length > 0;
  }

  /** Publishes one message. Throws if the topic is exiting or the backend write fails. */
  put(msg: Message): void {
    if (this.exiting) throw new Error("exiting");
    this.messageCount++;
    this.messageBytes += msg.bodyLength;
    if (this.#flowing() && this.#mem.length === 0 && this.backend.depth() === 0) {
      this.#fanOut(msg);
    } else {
      this.#store(msg);
    }
  }

  #store(msg: Message): void {
    if (this.#mem.length < this.#memMax) this.#mem.push(msg);
    else this.nsqd.backendPut(this.backend, msg);
    if (this.#flowing()) this.#scheduleDrain();
  }

  #fanOut(msg: Message): void {
    const list = this.#channelList;
    // Every channel defers its copy: pack the shared body once (Message.packDeferred).
    if (msg.deferred > 0 && list.length > 1) msg.packDeferred(msg.deferred);
    for (let i = 0; i < list.length; i++) {
      const ch = list[i];
      try {
        ch.receive(i === 0 ? msg : msg.copy());
      } catch (err) {
        this.nsqd.logger.error(
          `TOPIC(${this.name}): failed to put msg(${msg.id}) to channel(${ch.name}) - ${
            (err as Error).message
          }`,
        );
      }
    }
  }

  /** Fans stored messages out while the topic flows, one batch per turn of the event loop. */
  drain(): void {
    if (this.#draining || !this.#flowing() || this.exiting) return;
    this.#draining = true;
    let budget = DRAIN_BATCH;
    try {
      while (budget > 0 && this.#flowing()) {
        const slow = this.#slowChannel();
        if (slow !== null) {
          this.#waitFor(slow);
          return;
        }
        let msg = this.#mem.shift();
        if (msg === undefined) {
          const rec = this.backend.read();
          if (rec === null) break;
          try {
            msg = Message.decode(rec);
          } catch (err) {
            this.nsqd.logger.error(
              `TOPIC(${this.name}): failed to decode message - ${(err as Error).message}`,
            );
            continue;
          }
        }
        this.#fanOut(msg);
        budget--;
      }
    } finally {
      this.#draining = false;
    }
    if (budget === 0) this.#scheduleDrain();
  }

  /** A channel whose disk writes lag behind, or null. */
  #slowChannel(): Channel | null {
    for (const ch of this.#channelList) {
      if (ch.backend.bufferedBytes > CHANNEL_BACKLOG_BYTES) return ch;
    }
    return null;
  }

  /** Resumes draining once `ch`'s backend has written what it holds. */
  #waitFor(ch: Channel): void {
    if (this.#waiting) return;
    this.#waiting = true;
    ch.backend.flushed().catch(() => {}).finally(() => {
      this.#waiting = false;
      this.drain();
    });
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled !== undefined) return;
    this.#drainScheduled = setTimeout(() => {
      this.#drainScheduled = undefined;
      this.drain();
    }, 0);
  }

  /** Starts fan-out (called once channels known to lookupd or nsqd.dat exist). */
  start(): void {
    this.started = true;
    this.drain();
  }

  getExistingChannel(name: string): Channel | undefined {
    return this.channels.get(name);
  }

  /** Gets or creates a channel; creation registers it with lookupd and persists metadata. */
  getChannel(name: string): Channel {
    let ch = this.channels.get(name);
    if (ch !== undefined) return ch;
    ch = new Channel(this, name, this.nsqd);
    this.channels.set(name, ch);
    this.#channelList = [...this.channels.values()];
    this.nsqd.logger.info(`TOPIC(${this.name}): new channel(${name})`);
    this.nsqd.notifyChannelCreated(this, ch);
    this.drain();
    return ch;
  }

  /** Deletes a channel (closes its clients, removes its files); false if absent. */
  deleteChannel(name: string): boolean {
    const ch = this.channels.get(name);
    if (ch === undefined) return false;
    this.channels.delete(name);
    this.#channelList = [...this.channels.values()];
    this.nsqd.logger.info(`TOPIC(${this.name}): deleting channel ${name}`);
    this.nsqd.track(`${this.name}:${name}`, ch.delete());
    this.nsqd.notifyChannelDeleted(this, ch);
    if (this.ephemeral && this.channels.size === 0 && !this.exiting) {
      this.nsqd.deleteExistingTopic(this.name);
    }
    return true;
  }

  pause(): void {
    this.paused = true;
  }

  unpause(): void {
    this.paused = false;
    this.drain();
  }

  /** Drops the topic's stored messages (channels untouched). */
  async empty(): Promise<void> {
    this.#mem.clear();
    await this.backend.empty();
  }

  #stop(): void {
    this.exiting = true;
    clearTimeout(this.#drainScheduled);
    this.#drainScheduled = undefined;
  }

  /** Deletion: every channel and the topic's own queue, files included. */
  async delete(): Promise<void> {
    this.#stop();
    const chans = [...this.channels.values()];
    this.channels.clear();
    this.#channelList = [];
    this.#mem.clear();
    await Promise.all([...chans.map((c) => c.delete()), this.backend.delete()]);
  }

  /** Graceful exit: channels flush to disk, then the topic's memory queue, then close. */
  async close(): Promise<void> {
    this.#stop();
    await Promise.all([...this.channels.values()].map((c) => c.close()));
    const pending = this.#mem.drain();
    for (const m of pending) {
      try {
        this.backend.putRecord(m);
      } catch (err) {
        this.nsqd.logger.error(
          `TOPIC(${this.name}): failed to write message to backend - ${(err as Error).message}`,
        );
      }
    }
    await this.backend.close();
  }
}
