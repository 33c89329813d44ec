/**
 * Producer: publishes to one nsqd over one connection (go-nsq's producer.go).
 *
 * The connection is made lazily by the first publish (or `connect()` / `ping()`). nsqd answers
 * the commands of one connection in order, so every command pushes a transaction onto a FIFO
 * and every `OK` or error frame settles the oldest one: publish promises settle in the order
 * they were issued. An error frame rejects with a {@link ProducerError} carrying nsqd's `E_*`
 * code and its full text. When the connection is lost, every unsettled transaction rejects with
 * `not connected` and the next call reconnects.
 *
 * @module
 */

import { errorCode, NON_FATAL_ERROR_CODES } from "../protocol/errors.ts";
import { Fifo } from "../internal/fifo.ts";
import {
  type Body,
  dpubCommand,
  mpubCommand,
  NOP_COMMAND,
  pubCommand,
} from "../protocol/command.ts";
import { type ClientConfig, loggerOf, resolveConfig } from "./config.ts";
import { Conn } from "./conn.ts";
import { type LogFn, nextInstanceId, padId, prefixedLog } from "./log.ts";

const decoder = new TextDecoder();

/** An error frame from nsqd in answer to a command (go-nsq's ErrProtocol). */
export class ProducerError extends Error {
  /** The `E_*` code, e.g. `E_BAD_TOPIC`. */
  readonly code: string;

  constructor(text: string) {
    super(text);
    this.name = "ProducerError";
    this.code = errorCode(text);
  }
}

/** The connection was lost before nsqd answered, or could not be made (go-nsq's ErrNotConnected). */
export class NotConnectedError extends Error {
  constructor(message = "not connected") {
    super(message);
    this.name = "NotConnectedError";
  }
}

/** The producer was stopped (go-nsq's ErrStopped). */
export class StoppedError extends Error {
  constructor() {
    super("stopped");
    this.name = "StoppedError";
  }
}

interface Transaction {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A connection and the transactions it has not answered yet, oldest first. */
interface Link {
  conn: Conn;
  pending: Fifo<Transaction>;
  /** Resolved when `pending` becomes empty (stop() waits on it). */
  idle: (() => void)[];
}

/** Publishes to one nsqd; see the module doc. */
export class Producer implements AsyncDisposable {
  /** The nsqd TCP address, `host:port`. */
  readonly address: string;
  readonly config: ClientConfig;
  /** go-nsq's instance number (log lines). */
  readonly id: number;
  /** Logs `  2 text` (go-nsq's Producer.log). */
  #log: LogFn;
  /** The connection in use (null before the first connect and after a loss). */
  #link: Link | null = null;
  #connecting: Promise<Link> | null = null;
  /** Commands issued while connecting. */
  #queued: { cmd: Uint8Array; resolve: () => void; reject: (err: Error) => void }[] = [];
  /** Links closing after a fatal error, still to be reaped (stop() waits for them). */
  #retired = new Set<Link>();
  #stopped = false;

  constructor(nsqdTcpAddress: string, config: Partial<ClientConfig> = {}) {
    this.address = nsqdTcpAddress;
    this.config = resolveConfig(config);
    this.id = nextInstanceId();
    this.#log = prefixedLog(loggerOf(this.config), `${padId(this.id)} `);
  }

  /** Connects now (publishing connects lazily anyway). */
  async connect(): Promise<void> {
    await this.#ensureLink();
  }

  /**
   * Writes a NOP, connecting first if needed (go-nsq's Ping). nsqd does not answer NOP: this
   * checks that the connection can be made and written to.
   */
  async ping(): Promise<void> {
    const { conn } = this.#usable() ?? await this.#ensureLink();
    conn.write(NOP_COMMAND);
    await conn.drain();
    if (conn.closed) throw new NotConnectedError();
  }

  /** PUB: resolves on nsqd's `OK`, rejects with a ProducerError on an error frame. */
  publish(topic: string, body: Body): Promise<void> {
    return this.#send(() => pubCommand(topic, body));
  }

  /** MPUB: all bodies in one command (one `OK` for all). */
  multiPublish(topic: string, bodies: Body[]): Promise<void> {
    if (bodies.length === 0) return Promise.reject(new RangeError("MPUB needs at least one body"));
    return this.#send(() => mpubCommand(topic, bodies));
  }

  /** DPUB: the message becomes visible after `delayMs`. */
  deferredPublish(topic: string, delayMs: number, body: Body): Promise<void> {
    return this.#send(() => dpubCommand(topic, delayMs, body));
  }

  /** Number of commands sent and not yet answered. */
  get pending(): number {
    return this.#link?.pending.length ?? 0;
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.#usable() !== null;
  }

  #usable(): Link | null {
    const link = this.#link;
    return link && !link.conn.closed ? link : null;
  }

  #send(encode: () => Uint8Array): Promise<void> {
    if (this.#stopped) return Promise.reject(new StoppedError());
    let cmd: Uint8Array;
    try {
      cmd = encode();
    } catch (err) {
      return Promise.reject(err);
    }
    // Connected: write in this very call, so promises settle in call order. Otherwise wait in
    // line: the queue is written, in order, the moment the connection is up.
    const link = this.#usable();
    if (link) return this.#transact(link, cmd);
    return new Promise<void>((resolve, reject) => {
      this.#queued.push({ cmd, resolve, reject });
      this.#ensureLink().catch((err) => {
        for (const q of this.#queued.splice(0)) q.reject(err);
      });
    });
  }

  /** Writes the commands that waited for the connection, in call order. */
  #flushQueued(link: Link): void {
    for (const q of this.#queued.splice(0)) {
      this.#transact(link, q.cmd).then(q.resolve, q.reject);
    }
  }

  #transact(link: Link, cmd: Uint8Array): Promise<void> {
    if (link.conn.closed || this.#link !== link) {
      return Promise.reject(new NotConnectedError());
    }
    return new Promise<void>((resolve, reject) => {
      link.pending.push({ resolve, reject });
      link.conn.write(cmd);
    });
  }

  #ensureLink(): Promise<Link> {
    if (this.#stopped) return Promise.reject(new StoppedError());
    const link = this.#usable();
    if (link) return Promise.resolve(link);
    return this.#connecting ??= this.#dial().finally(() => this.#connecting = null);
  }

  async #dial(): Promise<Link> {
    this.#log("info", `(${this.address}) connecting to nsqd`);
    const link = { pending: new Fifo<Transaction>(), idle: [] } as unknown as Link;
    const conn = new Conn(this.address, this.config, {
      onMessage: () => {},
      onResponse: () => this.#settle(link, null),
      onError: (_c, data) => {
        const err = new ProducerError(decoder.decode(data));
        // nsqd closes the connection after a fatal error: stop using it now, so the next
        // publish reconnects instead of racing the close.
        if (!NON_FATAL_ERROR_CODES.has(err.code) && this.#link === link) {
          this.#link = null;
          this.#retired.add(link);
        }
        this.#settle(link, err);
      },
      onIoError: () => {},
      onClose: () => this.#onClose(link),
    }, this.#log);
    conn.logClose = false;
    link.conn = conn;
    try {
      await conn.connect();
    } catch (err) {
      this.#log("error", `(${this.address}) error connecting to nsqd - ${(err as Error).message}`);
      throw new NotConnectedError((err as Error).message);
    }
    if (this.#stopped) {
      conn.close();
      await conn.done;
      throw new StoppedError();
    }
    this.#link = link;
    this.#flushQueued(link);
    return link;
  }

  /** nsqd answered the oldest command of `link`. */
  #settle(link: Link, err: ProducerError | null): void {
    const t = link.pending.shift();
    if (!t) {
      if (err) this.#log("error", `(${this.address}) unexpected error frame: ${err.message}`);
      return;
    }
    if (err) t.reject(err);
    else t.resolve();
    if (link.pending.length === 0) wake(link);
  }

  #onClose(link: Link): void {
    if (this.#link === link) this.#link = null;
    this.#retired.delete(link);
    // Everything unanswered on the lost connection fails (go-nsq's transactionCleanup).
    for (let t = link.pending.shift(); t; t = link.pending.shift()) {
      t.reject(new NotConnectedError());
    }
    wake(link);
    this.#log("info", `(${this.address}) exiting router`);
  }

  /**
   * Waits until every command sent was answered, then closes the connection. Later calls
   * reject with StoppedError.
   */
  async stop(): Promise<void> {
    if (!this.#stopped) this.#log("info", `(${this.address}) stopping`);
    this.#stopped = true;
    const connecting = this.#connecting;
    if (connecting) await connecting.catch(() => {});
    const links = [...this.#retired];
    if (this.#link) links.push(this.#link);
    await Promise.all(links.map(async (link) => {
      // nsqd answers within its timeouts; otherwise the read timeout closes the connection.
      if (link.pending.length > 0 && !link.conn.closed) {
        await new Promise<void>((resolve) => link.idle.push(resolve));
      }
      link.conn.close();
      await link.conn.done;
    }));
    this.#link = null;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

function wake(link: Link): void {
  const waiters = link.idle;
  link.idle = [];
  for (const w of waiters) w();
}
