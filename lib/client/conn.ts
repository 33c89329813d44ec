/**
 * One client connection to an nsqd TCP address (go-nsq's conn.go): dial, the `  V2` magic,
 * IDENTIFY with feature negotiation, the in-band TLS / deflate / snappy upgrades, AUTH, then a
 * read loop that answers heartbeats with NOP and hands every other frame to its delegate.
 *
 * Commands go through one buffered writer: `write()` appends, and one flush per microtask turn
 * hands everything appended meanwhile to a single transport write (FINs for a whole batch of
 * messages leave together). A watchdog closes the connection when nothing was read for
 * `readTimeout` (nsqd heartbeats every `heartbeatInterval`, half of it by default) or a write
 * has been pending for `writeTimeout`.
 *
 * @module
 */

import { monoNow } from "../internal/clock.ts";
import { dialAddress, splitHostPort } from "../internal/net_addr.ts";
import { authCommand, identifyCommand, MAGIC_V2, NOP_COMMAND } from "../protocol/command.ts";
import { DeflateTransport, SnappyTransport } from "../protocol/compress.ts";
import { FrameReader } from "../protocol/frame_reader.ts";
import {
  FRAME_TYPE_ERROR,
  FRAME_TYPE_MESSAGE,
  FRAME_TYPE_RESPONSE,
  FrameWriter,
} from "../protocol/frame_writer.ts";
import { SocketTransport } from "../protocol/socket_transport.ts";
import { upgradeTlsClient } from "../protocol/tls.ts";
import { connect as netConnect } from "node:net";
import { type Transport, writeAll } from "../protocol/transport.ts";
import type { IdentifyRequest, IdentifyResponse } from "../protocol/identify.ts";
import type { ClientConfig } from "./config.ts";
import type { LogFn } from "./log.ts";

export type { IdentifyResponse };

/** nsqd's answer to AUTH. */
export interface AuthResponse {
  identity: string;
  identity_url: string;
  permission_count: number;
}

/** What a connection reports to its owner (Producer or Consumer). */
export interface ConnDelegate {
  /** A message frame; `data` is a view valid only during the call. */
  onMessage(conn: Conn, data: Uint8Array): void;
  /** A response frame other than `_heartbeat_`. */
  onResponse(conn: Conn, data: Uint8Array): void;
  /** An error frame (`E_...` text). */
  onError(conn: Conn, data: Uint8Array): void;
  /** The connection failed (read/write error, timeout, bad frame); it is closing. */
  onIoError(conn: Conn, err: Error): void;
  /** The read loop ended and the transport is closed (called once, after connect succeeded). */
  onClose(conn: Conn): void;
}

const decoder = new TextDecoder();
const HEARTBEAT = "_heartbeat_";

/** A failed IDENTIFY (go-nsq's ErrIdentify). */
export class IdentifyError extends Error {
  constructor(reason: string) {
    super(`failed to IDENTIFY - ${reason}`);
    this.name = "IdentifyError";
  }
}

/** One connection to nsqd; see the module doc. */
export class Conn {
  /** The nsqd `host:port` this connection dials (go-nsq's `Conn.String()`). */
  readonly address: string;
  /** nsqd's negotiated maximum RDY count. */
  maxRdyCount = 2500;
  /** nsqd's IDENTIFY answer (null when nsqd answered a plain `OK`). */
  identifyResponse: IdentifyResponse | null = null;
  /** Consumer bookkeeping: RDY sent, messages not yet answered, timestamps. */
  rdyCount = 0;
  lastRdyCount = 0;
  messagesInFlight = 0;
  /** Messages received since the last RDY (for the RDY refresh as the window drains). */
  receivedSinceRdy = 0;
  lastRdyAt = 0;
  lastMessageAt = 0;
  /**
   * Log go-nsq's close sequence (`beginning close` ... `clean close complete`). A go-nsq
   * Producer's tool usually exits before its connection says it, so the Producer turns it off.
   */
  logClose = true;
  /** True once CLS was acknowledged or close began: no RDY may be sent any more. */
  closing = false;

  #config: ClientConfig;
  #delegate: ConnDelegate;
  /** Logs with the owner's prefix and this connection's address (go-nsq's Conn.log). */
  #log: LogFn;
  #tcp: Deno.TcpConn | null = null;
  #transport: Transport | null = null;
  #reader: FrameReader | null = null;
  #writer: FrameWriter | null = null;
  #flushScheduled = false;
  #closed = false;
  #lastReadAt = 0;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #loop: Promise<void> | null = null;
  #done!: () => void;
  /** Resolves once the connection is closed and its read loop has ended. */
  readonly done: Promise<void>;

  constructor(address: string, config: ClientConfig, delegate: ConnDelegate, log: LogFn) {
    this.address = address;
    this.#config = config;
    this.#delegate = delegate;
    this.#log = (level, msg) => log(level, `(${address}) ${msg}`);
    this.done = new Promise((resolve) => this.#done = resolve);
  }

  /** True once `close()` was called or the connection failed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Dials, identifies, upgrades and authenticates, then starts the read loop. Rejects (and
   * closes) on any failure; the delegate hears nothing of a connection that never connected.
   */
  async connect(): Promise<IdentifyResponse | null> {
    try {
      return await this.#connect();
    } catch (err) {
      this.#closeTransport();
      this.#closed = true;
      this.#done();
      throw err;
    }
  }

  async #connect(): Promise<IdentifyResponse | null> {
    let transport: Transport = await this.#dial();
    this.#transport = transport;
    if (this.#closed) throw new Error(`connection to ${this.address} closed`);
    const reader = new FrameReader(transport);
    this.#reader = reader;
    this.#lastReadAt = monoNow();
    this.#startWatchdog();

    await writeAll(transport, MAGIC_V2);
    const resp = await this.#identify(transport, reader);
    transport = this.#transport;
    if (resp?.auth_required) {
      if (this.#config.authSecret === "") throw new Error("Auth Required");
      await this.#auth(transport, reader);
    }
    if (this.#closed) throw new Error(`connection to ${this.address} closed`);
    const writer = new FrameWriter(transport, Math.max(1024, this.#config.outputBufferSize));
    writer.onError = (err) => this.#fail(err);
    this.#writer = writer;
    this.#loop = this.#readLoop(reader);
    return resp;
  }

  /**
   * Opens the TCP connection within `dialTimeout`. With `tlsV1` it is a node:net socket (the
   * TLS upgrade needs one, see upgradeTlsClient); otherwise a Deno.TcpConn.
   */
  async #dial(): Promise<Transport> {
    const { hostname, port } = dialAddress(this.address);
    const timeoutMs = this.#config.dialTimeout;
    if (this.#config.tlsV1) {
      const sock = netConnect({ host: hostname, port });
      sock.setNoDelay(true);
      const transport = new SocketTransport(sock);
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`dial tcp ${this.address}: i/o timeout`)),
            timeoutMs,
          );
          sock.once("connect", () => {
            clearTimeout(timer);
            resolve();
          });
          sock.once("error", (err) => {
            clearTimeout(timer);
            reject(dialError(this.address, err));
          });
        });
      } catch (err) {
        transport.close();
        throw err;
      }
      return transport;
    }
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeoutMs);
    try {
      this.#tcp = await Deno.connect({ hostname, port, signal: ctl.signal });
    } catch (err) {
      if (ctl.signal.aborted) throw new Error(`dial tcp ${this.address}: i/o timeout`);
      throw dialError(this.address, err);
    } finally {
      clearTimeout(timer);
    }
    this.#tcp.setNoDelay(true);
    return this.#tcp;
  }

  async #identify(transport: Transport, reader: FrameReader): Promise<IdentifyResponse | null> {
    const c = this.#config;
    const fields: IdentifyRequest & { short_id: string; long_id: string } = {
      client_id: c.clientId,
      hostname: c.hostname,
      user_agent: c.userAgent,
      short_id: c.clientId,
      long_id: c.hostname,
      tls_v1: c.tlsV1,
      deflate: c.deflate,
      deflate_level: c.deflateLevel,
      snappy: c.snappy,
      feature_negotiation: true,
      heartbeat_interval: c.heartbeatInterval === -1 ? -1 : Math.trunc(c.heartbeatInterval),
      sample_rate: c.sampleRate,
      output_buffer_size: c.outputBufferSize,
      output_buffer_timeout: c.outputBufferTimeout === -1 ? -1 : Math.trunc(c.outputBufferTimeout),
      msg_timeout: Math.trunc(c.msgTimeout),
    };
    try {
      await writeAll(transport, identifyCommand(fields));
    } catch (err) {
      throw new IdentifyError((err as Error).message);
    }
    const { type, text } = await this.#readResponse(reader, "IDENTIFY");
    if (type === FRAME_TYPE_ERROR) throw new IdentifyError(text);
    if (!text.startsWith("{")) return null;
    let resp: IdentifyResponse;
    try {
      resp = JSON.parse(text);
    } catch (err) {
      throw new IdentifyError((err as Error).message);
    }
    this.identifyResponse = resp;
    if (typeof resp.max_rdy_count === "number") this.maxRdyCount = resp.max_rdy_count;
    this.#log("debug", `IDENTIFY response: ${text}`);

    if (resp.tls_v1) {
      this.#log("info", `upgrading to TLS`);
      const tls = c.tlsConfig ?? {};
      const upgraded = await upgradeTlsClient(transport, {
        serverName: tls.serverName ?? splitHostPort(this.address).hostname,
        ca: tls.caCerts,
        cert: tls.cert,
        key: tls.key,
        insecureSkipVerify: tls.insecureSkipVerify,
        minVersion: tls.minVersion,
        initial: reader.takeBuffered(),
        handshakeTimeoutMs: Math.max(c.dialTimeout, 5000),
      }).catch((err) => {
        throw new IdentifyError((err as Error).message);
      });
      transport = this.#swap(reader, upgraded);
      await this.#expectOk(reader, "TLS");
    }
    if (resp.deflate) {
      this.#log("info", `upgrading to Deflate`);
      const level = resp.deflate_level > 0 ? resp.deflate_level : c.deflateLevel;
      transport = this.#swap(reader, new DeflateTransport(transport, reader.takeBuffered(), level));
      await this.#expectOk(reader, "Deflate");
    }
    if (resp.snappy) {
      this.#log("info", `upgrading to Snappy`);
      transport = this.#swap(reader, new SnappyTransport(transport, reader.takeBuffered()));
      await this.#expectOk(reader, "Snappy");
    }
    return resp;
  }

  #swap(reader: FrameReader, t: Transport): Transport {
    this.#transport = t;
    reader.transport = t;
    return t;
  }

  async #expectOk(reader: FrameReader, what: string): Promise<void> {
    const { type, text } = await this.#readResponse(reader, what);
    if (type !== FRAME_TYPE_RESPONSE || text !== "OK") {
      throw new IdentifyError(`invalid response from ${what} upgrade`);
    }
  }

  async #auth(transport: Transport, reader: FrameReader): Promise<void> {
    await writeAll(transport, authCommand(this.#config.authSecret));
    const { type, text } = await this.#readResponse(reader, "AUTH");
    if (type === FRAME_TYPE_ERROR) throw new Error(`Error authenticating ${text}`);
    const resp = JSON.parse(text) as AuthResponse;
    this.#log(
      "info",
      `Auth accepted. Identity: ${JSON.stringify(resp.identity)} ` +
        `${resp.identity_url} Permissions: ${resp.permission_count}`,
    );
  }

  /** Reads one non-heartbeat frame during the handshake. */
  async #readResponse(reader: FrameReader, what: string): Promise<{ type: number; text: string }> {
    for (;;) {
      if (!await reader.readFrame()) {
        throw new IdentifyError(`connection closed by ${this.address} during ${what}`);
      }
      this.#lastReadAt = monoNow();
      const text = decoder.decode(reader.frameData);
      if (reader.frameType === FRAME_TYPE_RESPONSE && text === HEARTBEAT) {
        await writeAll(this.#transport!, NOP_COMMAND);
        continue;
      }
      return { type: reader.frameType, text };
    }
  }

  /**
   * The read loop: parses every complete frame of each read synchronously, answers heartbeats
   * with NOP and passes the rest to the delegate. Ends at end of stream, on an error, or when
   * `close()` closes the transport under it.
   */
  async #readLoop(reader: FrameReader): Promise<void> {
    try {
      for (;;) {
        while (reader.next()) {
          const type = reader.frameType;
          const data = reader.frameData;
          if (type === FRAME_TYPE_MESSAGE) {
            this.#delegate.onMessage(this, data);
          } else if (type === FRAME_TYPE_RESPONSE) {
            if (data.length === 11 && decoder.decode(data) === HEARTBEAT) {
              this.#log("debug", `heartbeat received`);
              this.write(NOP_COMMAND);
            } else {
              this.#delegate.onResponse(this, data);
            }
          } else {
            this.#log("error", `protocol error - ${decoder.decode(data)}`);
            this.#delegate.onError(this, data);
          }
          if (this.#closed) break;
        }
        if (this.#closed) break;
        if (!await reader.fill()) {
          if (!this.#closed) this.#fail(new Error("EOF"));
          break;
        }
        this.#lastReadAt = monoNow();
      }
    } catch (err) {
      if (!this.#closed) this.#fail(err);
    } finally {
      this.close();
      // go-nsq's close sequence, line for line (its read loop, write loop and cleanup
      // goroutines each say they are done).
      if (this.logClose) {
        this.#log("info", "readLoop exiting");
        this.#log("info", "breaking out of writeLoop");
        this.#log("info", "writeLoop exiting");
        this.#log("info", "finished draining, cleanup exiting");
        this.#log("info", "clean close complete");
      }
      try {
        this.#delegate.onClose(this);
      } finally {
        this.#done();
      }
    }
  }

  /** Appends a command; it leaves in the next flush (one write per microtask turn). */
  write(cmd: Uint8Array): void {
    const w = this.#writer;
    if (!w || this.#closed) return;
    w.writeRaw(cmd);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  #flush = () => {
    this.#flushScheduled = false;
    this.#writer?.flush();
  };

  /** Resolves once everything written so far has reached the transport (or it failed). */
  async drain(): Promise<void> {
    if (!this.#writer) return;
    await this.#writer.idle();
  }

  #fail(err: unknown): void {
    if (this.#closed) return;
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.#loop) {
      this.#log("error", `IO error - ${e.message}`);
      this.#delegate.onIoError(this, e);
    }
    this.close();
  }

  /**
   * Sends what is buffered (FINs of the last messages), then closes; the write deadline
   * still applies. Idempotent with close().
   */
  closeAfterFlush(): void {
    if (this.#closed || this.#closingAfterFlush) return;
    this.#closingAfterFlush = true;
    this.closing = true;
    const w = this.#writer;
    if (!w) return this.close();
    // Flush now rather than at the end of this microtask turn.
    this.#flushScheduled = false;
    w.idle().then(() => this.close());
  }

  #closingAfterFlush = false;

  /** Closes the connection now (idempotent); `done` resolves once the read loop has ended. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closing = true;
    if (this.#loop && this.logClose) this.#log("info", "beginning close");
    this.#closeTransport();
    if (!this.#loop) this.#done();
  }

  #closeTransport(): void {
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    const t = this.#transport ?? this.#tcp;
    this.#transport = null;
    if (t) {
      try {
        t.close();
      } catch {
        // Already closed.
      }
    }
    if (this.#tcp && t !== this.#tcp) {
      try {
        this.#tcp.close();
      } catch {
        // Closed with the transport above.
      }
    }
  }

  /** Checks the read and write deadlines about four times per read timeout (at most 1/s). */
  #startWatchdog(): void {
    const c = this.#config;
    const every = Math.max(50, Math.min(1000, c.readTimeout / 4, c.writeTimeout / 2));
    this.#watchdog = setInterval(() => {
      const now = monoNow();
      if (now - this.#lastReadAt > c.readTimeout) {
        this.#fail(new Error(`read tcp ${this.address}: i/o timeout`));
        return;
      }
      const w = this.#writer;
      if (w && w.writing && now - w.writeStartedAt > c.writeTimeout) {
        this.#fail(new Error(`write tcp ${this.address}: i/o timeout`));
      }
    }, every);
  }
}

/** A failed dial in Go's words (`dial tcp 127.0.0.1:4150: connect: connection refused`). */
function dialError(address: string, err: unknown): Error {
  const e = err as Error & { code?: string };
  if (e instanceof Deno.errors.ConnectionRefused || e?.code === "ECONNREFUSED") {
    return new Error(`dial tcp ${address}: connect: connection refused`);
  }
  if (e?.code === "ENOTFOUND" || /lookup address|Name or service not known/i.test(e?.message)) {
    const host = address.slice(0, address.lastIndexOf(":")).replace(/^\[|\]$/g, "");
    return new Error(`dial tcp: lookup ${host}: no such host`);
  }
  return new Error(`dial tcp ${address}: ${e?.message ?? String(err)}`);
}
