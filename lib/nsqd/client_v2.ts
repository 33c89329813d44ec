/**
 * One TCP client of nsqd speaking protocol V2: its negotiated settings, counters, readiness and
 * timers. The command handling lives in protocol_v2.ts; this file is the state those commands
 * change and the delivery end of the message path (channel → `deliver` → FrameWriter).
 *
 * Timers per connection (never per message):
 * - heartbeat: every `heartbeatInterval` a `_heartbeat_` frame is flushed; the same tick enforces
 *   the write deadline (a write pending longer than one interval closes the connection) and
 *   returns the output buffers to their small starting size when no message went out since the
 *   previous tick;
 * - read deadline: closed when nothing arrived for 2 × heartbeatInterval (a lazily re-armed
 *   timeout, re-armed at most once per deadline period);
 * - output-buffer timeout: armed when message frames are buffered, flushes them.
 * The first two are entries of the process-wide timer wheel (lib/internal/timer_wheel.ts), so an
 * idle connection holds no runtime timer of its own; the output timer is a plain `setTimeout`
 * (millisecond precision, armed only while messages wait in the buffer).
 */
import { monoNow } from "../internal/clock.ts";
import { WheelTimer } from "../internal/timer_wheel.ts";
import {
  encodeFrame,
  FRAME_TYPE_ERROR,
  FRAME_TYPE_RESPONSE,
  FrameWriter,
} from "../protocol/frame_writer.ts";
import type { Transport } from "../protocol/transport.ts";
import type { Channel } from "./channel.ts";
import type { Message } from "./message.ts";
import type { NsqdOptions } from "./options.ts";

export const STATE_INIT = 0;
export const STATE_DISCONNECTED = 1;
export const STATE_CONNECTED = 2;
export const STATE_SUBSCRIBED = 3;
export const STATE_CLOSING = 4;

export const FRAME_OK = encodeFrame(FRAME_TYPE_RESPONSE, "OK");
export const FRAME_HEARTBEAT = encodeFrame(FRAME_TYPE_RESPONSE, "_heartbeat_");
export const FRAME_CLOSE_WAIT = encodeFrame(FRAME_TYPE_RESPONSE, "CLOSE_WAIT");

const encoder = new TextEncoder();
const NO_PUB_COUNTS: ReadonlyMap<string, number> = new Map();

/** What `/stats` shows about a TLS connection. */
export interface TlsInfo {
  version: string;
  cipherSuite: string;
  negotiatedProtocol: string;
  negotiatedProtocolIsMutual: boolean;
  peerCommonName: string;
}

/** What the auth server granted (see auth.ts). */
export interface ClientAuth {
  identity: string;
  identityUrl: string;
  isExpired(): boolean;
  isAllowed(topic: string, channel: string, permission: "publish" | "subscribe"): boolean;
}

export class ClientV2 {
  readonly id: number;
  readonly conn: Deno.Conn;
  transport: Transport;
  readonly writer: FrameWriter;
  readonly remoteAddress: string;
  /** Host part of the remote address ("" for unix sockets). */
  readonly remoteIp: string;
  readonly connectTs: number = Math.floor(Date.now() / 1000);

  state = STATE_INIT;
  channel: Channel | null = null;
  /** Set while this client is listed in its channel's ready list. */
  inReadyList = false;

  // IDENTIFY'd settings
  clientId: string;
  hostname: string;
  userAgent = "";
  heartbeatInterval: number;
  outputBufferSize = 16 * 1024;
  outputBufferTimeout: number;
  msgTimeout: number;
  sampleRate = 0;
  tls: TlsInfo | null = null;
  snappy = false;
  deflate = false;
  deflateLevel = 0;
  auth: ClientAuth | null = null;
  /** The AUTH secret, kept for re-querying after the TTL. */
  authSecret: string | null = null;

  // counters
  readyCount = 0;
  inFlightCount = 0;
  messageCount = 0;
  finishCount = 0;
  requeueCount = 0;
  /** Messages published per topic (PUB/MPUB/DPUB); created by the first publish. */
  #pubCounts: Map<string, number> | null = null;

  /** monoNow() when the last command completed (or the connection started). */
  lastReadAt = monoNow();
  closed = false;
  readonly #heartbeatTimer = new WheelTimer(() => this.#onHeartbeat());
  readonly #readDeadlineTimer = new WheelTimer(() => this.#onReadDeadline());
  /** messageCount at the previous heartbeat (quiet since then: trim the output buffers). */
  #messagesAtHeartbeat = 0;
  /** When the next heartbeat is due (monoNow ms): beats keep their period, like Go's ticker. */
  #nextHeartbeatAt = 0;
  #outputTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #onClose: (c: ClientV2) => void;

  constructor(
    id: number,
    conn: Deno.Conn,
    opts: NsqdOptions,
    onClose: (c: ClientV2) => void,
  ) {
    this.id = id;
    this.conn = conn;
    this.transport = conn;
    const addr = conn.remoteAddr;
    if (addr.transport === "tcp" || addr.transport === "udp") {
      this.remoteIp = addr.hostname;
      this.remoteAddress = addr.hostname.includes(":")
        ? `[${addr.hostname}]:${addr.port}`
        : `${addr.hostname}:${addr.port}`;
    } else {
      this.remoteIp = "";
      this.remoteAddress = "path" in addr ? addr.path || "@" : "@";
    }
    this.clientId = this.remoteIp;
    this.hostname = this.remoteIp;
    this.heartbeatInterval = opts.clientTimeout / 2;
    this.outputBufferTimeout = opts.outputBufferTimeout;
    this.msgTimeout = opts.msgTimeout;
    this.#onClose = onClose;
    this.writer = new FrameWriter(conn, this.outputBufferSize);
    this.writer.onError = () => this.close();
    this.writer.onDrain = () => {
      if (this.channel !== null && this.isReadyForMessages()) this.channel.clientReady(this);
    };
    this.#startTimers();
  }

  /** Subscribed, channel not paused, in-flight below RDY, output not backlogged. */
  isReadyForMessages(): boolean {
    return this.state === STATE_SUBSCRIBED &&
      !this.closed &&
      this.inFlightCount < this.readyCount &&
      !this.channel!.paused &&
      !this.writer.backlogged;
  }

  /**
   * Sends one message of the subscribed channel: the end of the delivery path.
   * Applies sample_rate (a sampled-out message is dropped for this channel, as in NSQ).
   */
  deliver(msg: Message, channel: Channel): void {
    if (this.sampleRate > 0 && Math.floor(Math.random() * 100) > this.sampleRate) return;
    msg.attempts++;
    channel.startInFlight(msg, this);
    this.inFlightCount++;
    this.messageCount++;
    this.writer.writeMessage(msg);
    if (this.writer.buffered >= this.outputBufferSize || !this.isReadyForMessages()) {
      this.writer.flush();
    } else if (this.#outputTimer === undefined && this.outputBufferTimeout > 0) {
      this.#outputTimer = setTimeout(this.#onOutputTimer, this.outputBufferTimeout);
    }
  }

  #onOutputTimer = (): void => {
    this.#outputTimer = undefined;
    this.writer.flush();
  };

  /** A response frame; flushed by the read loop at the end of the command batch. */
  sendResponse(frame: Uint8Array): void {
    this.writer.writeRaw(frame);
  }

  sendResponseText(text: string): void {
    this.writer.writeFrame(FRAME_TYPE_RESPONSE, encoder.encode(text));
  }

  /**
   * An error frame. Error texts echo wire bytes (decoded one char per byte), so they are
   * encoded back one byte per char: a command NSQ cannot parse is echoed byte for byte.
   */
  sendError(text: string): void {
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    this.writer.writeFrame(FRAME_TYPE_ERROR, bytes);
  }

  /** RDY: the max-in-flight window. */
  setReadyCount(n: number): void {
    this.readyCount = n;
    if (this.channel === null) return;
    if (this.isReadyForMessages()) this.channel.clientReady(this);
    else this.writer.flush();
  }

  /** In-flight went down (FIN, REQ, timeout): the client may take more. */
  inFlightDone(): void {
    this.inFlightCount--;
    if (this.channel !== null && this.inFlightCount === this.readyCount - 1) {
      if (this.isReadyForMessages()) this.channel.clientReady(this);
    }
  }

  /** After IDENTIFY changed the intervals. */
  applySettings(): void {
    this.writer.threshold = this.outputBufferSize;
    this.#startTimers();
  }

  recordPub(topic: string, n: number): void {
    const m = this.#pubCounts ??= new Map();
    m.set(topic, (m.get(topic) ?? 0) + n);
  }

  /** Messages published per topic (PUB/MPUB/DPUB). */
  get pubCounts(): ReadonlyMap<string, number> {
    return this.#pubCounts ?? NO_PUB_COUNTS;
  }

  #startTimers(): void {
    this.#heartbeatTimer.cancel();
    this.#readDeadlineTimer.cancel();
    if (this.heartbeatInterval <= 0 || this.closed) return;
    this.#nextHeartbeatAt = monoNow() + this.heartbeatInterval;
    this.#heartbeatTimer.schedule(this.heartbeatInterval);
    this.#readDeadlineTimer.schedule(this.heartbeatInterval * 2);
  }

  #onHeartbeat(): void {
    if (this.closed) return;
    if (
      this.writer.writing && monoNow() - this.writer.writeStartedAt > this.heartbeatInterval
    ) {
      this.close(); // write deadline exceeded: the client stopped reading
      return;
    }
    // The wheel fires up to one tick late; the next beat is due one interval after this one was.
    const now = monoNow();
    this.#nextHeartbeatAt += this.heartbeatInterval;
    if (this.#nextHeartbeatAt <= now) this.#nextHeartbeatAt = now + this.heartbeatInterval;
    this.#heartbeatTimer.schedule(this.#nextHeartbeatAt - now);
    if (this.messageCount === this.#messagesAtHeartbeat) this.writer.trim();
    this.#messagesAtHeartbeat = this.messageCount;
    this.writer.writeRaw(FRAME_HEARTBEAT);
    this.writer.flush();
  }

  #onReadDeadline(): void {
    if (this.closed) return;
    const deadline = this.heartbeatInterval * 2;
    const idle = monoNow() - this.lastReadAt;
    if (idle >= deadline) {
      this.close();
      return;
    }
    this.#readDeadlineTimer.schedule(deadline - idle);
  }

  /** Closes the connection (idempotent); the read loop ends and cleans up. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#heartbeatTimer.cancel();
    this.#readDeadlineTimer.cancel();
    clearTimeout(this.#outputTimer);
    try {
      this.transport.close();
    } catch { /* already closed */ }
    if (this.transport !== this.conn) {
      try {
        this.conn.close();
      } catch { /* already closed */ }
    }
    this.#onClose(this);
  }
}
