/**
 * A test client for nsqd's in-band upgrades (docs/nsqd.md#identify-and-upgrades): IDENTIFY with
 * feature negotiation, the JSON answer read in the clear, then a TLS client handshake on the same
 * socket, then snappy or deflate on top, each step confirmed by nsqd's `OK` over the new stream.
 *
 * The codecs are deliberately independent of lib/: TLS is node:tls over a node:net socket (which,
 * unlike `Deno.startTls`, can present a client certificate), snappy framing is
 * npm:snappystream (checksums verified), deflate is node:zlib raw deflate with a sync flush on
 * every write. Frames are parsed lazily, one per `readFrame`, so bytes that arrive behind the
 * frame that precedes a switch (nsqd may send the compressed `OK` right behind the JSON) are
 * handed to the decompressor rather than misread as plain frames.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import net from "node:net";
import type { Transform } from "node:stream";
import tls from "node:tls";
import zlib from "node:zlib";
import { SnappyStream, UnsnappyStream } from "snappystream";
import {
  DEFAULT_MAX_FRAME_SIZE,
  describeFrame,
  encodeCommand,
  encodeMpubBody,
  type Frame,
  FRAME_TYPE_ERROR,
  FRAME_TYPE_MESSAGE,
  FRAME_TYPE_RESPONSE,
  type FrameType,
  HEARTBEAT,
  MAGIC_V2,
  makeFrame,
  type Msg,
} from "./wire.ts";
import { dialAddress } from "../../lib/internal/net_addr.ts";
import type { IdentifyResponse } from "../../lib/protocol/identify.ts";

export type { IdentifyResponse };

/** node:tls client options for the upgrade (PEM strings). */
export interface TlsClientOptions {
  /** CA that must have signed nsqd's certificate (verification is on unless disabled). */
  ca?: string;
  /** Client certificate and key, for `--tls-client-auth-policy`. */
  cert?: string;
  key?: string;
  /** Default true. */
  rejectUnauthorized?: boolean;
  maxVersion?: tls.SecureVersion;
}

const encoder = new TextEncoder();
const TIMED_OUT = Symbol("timed out");

/** A V2 connection that can upgrade itself; see the module doc. */
export class UpgradeConn implements AsyncDisposable {
  #sock: net.Socket;
  #tls: tls.TLSSocket | null = null;
  /** Where frames travel: the TCP socket, or the TLS socket over it. */
  #stream: net.Socket | tls.TLSSocket;
  #compressor: Transform | null = null;
  #decompressor: Transform | null = null;
  /** Plain (decrypted, decompressed) bytes not parsed into frames yet: buf[start, end). */
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #eof = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #closed = false;
  #waitClosed: Promise<void>[] = [];

  private constructor(sock: net.Socket) {
    this.#sock = sock;
    this.#stream = sock;
    this.#watch(sock);
    sock.on("data", this.#onStreamData);
  }

  /** Connects to `host:port` and sends the V2 magic. */
  static async connect(addr: string): Promise<UpgradeConn> {
    const { hostname, port } = dialAddress(addr);
    const sock = net.connect({ host: hostname, port });
    sock.setNoDelay(true);
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once("connect", () => resolve());
        sock.once("error", reject);
      });
    } catch (err) {
      sock.destroy();
      throw err;
    }
    const c = new UpgradeConn(sock);
    await c.send(MAGIC_V2);
    return c;
  }

  /** The client's local `host:port`, as nsqd names it in /stats. */
  get localAddr(): string {
    return `${this.#sock.localAddress}:${this.#sock.localPort}`;
  }

  /** The TLS socket once upgraded (for the negotiated version, peer certificate...). */
  get tlsSocket(): tls.TLSSocket | null {
    return this.#tls;
  }

  #watch(s: net.Socket | tls.TLSSocket): void {
    this.#waitClosed.push(new Promise<void>((resolve) => s.once("close", () => resolve())));
    s.on("error", this.#onError);
    s.on("end", this.#onEnd);
    s.on("close", this.#onEnd);
  }

  #onStreamData = (d: Uint8Array): void => {
    if (this.#decompressor) this.#decompressor.write(d);
    else this.#onPlain(d);
  };

  #onPlain = (d: Uint8Array): void => {
    if (this.#end + d.length > this.#buf.length) {
      const held = this.#end - this.#start;
      let target = this.#buf;
      if (held + d.length > this.#buf.length) {
        target = new Uint8Array(Math.max(this.#buf.length * 2, held + d.length));
      }
      target.set(this.#buf.subarray(this.#start, this.#end), 0);
      this.#buf = target;
      this.#start = 0;
      this.#end = held;
    }
    this.#buf.set(d, this.#end);
    this.#end += d.length;
    this.#notify();
  };

  #onError = (err: Error): void => {
    this.#error ??= err;
    this.#eof = true;
    this.#notify();
  };

  #onEnd = (): void => {
    this.#eof = true;
    this.#notify();
  };

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Writes raw bytes through the current stack (compressor, TLS, socket). */
  send(raw: Uint8Array | string): Promise<void> {
    const p = typeof raw === "string" ? encoder.encode(raw) : raw;
    if (this.#closed) return Promise.reject(new Error("connection closed locally"));
    const target = this.#compressor ?? this.#stream;
    return new Promise<void>((resolve, reject) => {
      target.write(p, (err?: Error | null) => err ? reject(err) : resolve());
    });
  }

  /**
   * Writes raw bytes below the compressor (into the TLS or TCP stream), e.g. hand-made snappy
   * chunks or corrupt data. Await earlier `send`s first so the compressed bytes precede these.
   */
  sendBelowCompression(raw: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("connection closed locally"));
    const stream = this.#stream;
    return new Promise<void>((resolve, reject) => {
      stream.write(raw, (err?: Error | null) => err ? reject(err) : resolve());
    });
  }

  /** Sends `IDENTIFY` with `obj` as the JSON body. */
  identify(obj: Record<string, unknown>): Promise<void> {
    return this.send(encodeCommand("IDENTIFY", [], JSON.stringify(obj)));
  }

  /**
   * IDENTIFY with `feature_negotiation: true` plus `fields`, then every upgrade nsqd agreed to,
   * in nsqd's order (TLS, then snappy or deflate), each confirmed by `OK`. Returns the JSON.
   */
  async negotiate(
    fields: Record<string, unknown>,
    tlsOpts: TlsClientOptions = {},
  ): Promise<IdentifyResponse> {
    await this.identify({ feature_negotiation: true, ...fields });
    const f = await this.readFrame();
    if (f.type !== FRAME_TYPE_RESPONSE || !f.text.startsWith("{")) {
      throw new Error(`expected the IDENTIFY JSON, got ${describeFrame(f)}`);
    }
    const resp = JSON.parse(f.text) as IdentifyResponse;
    if (resp.tls_v1) {
      await this.startTls(tlsOpts);
      await this.expectResponse("OK");
    }
    if (resp.snappy) {
      this.startSnappy();
      await this.expectResponse("OK");
    }
    if (resp.deflate) {
      this.startDeflate(resp.deflate_level);
      await this.expectResponse("OK");
    }
    return resp;
  }

  /**
   * Runs the TLS client handshake on the socket (servername "localhost"). Resolves once the
   * handshake completed on the client side; rejects if it fails or the socket closes first.
   */
  async startTls(opts: TlsClientOptions = {}): Promise<void> {
    if (this.#tls) throw new Error("TLS already started");
    if (this.#start !== this.#end) throw new Error("unread plaintext bytes before TLS");
    this.#sock.off("data", this.#onStreamData);
    this.#sock.pause();
    const t = tls.connect({
      socket: this.#sock,
      servername: "localhost",
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      rejectUnauthorized: opts.rejectUnauthorized ?? true,
      maxVersion: opts.maxVersion,
    });
    this.#tls = t;
    this.#stream = t;
    this.#watch(t);
    t.on("data", this.#onStreamData);
    await new Promise<void>((resolve, reject) => {
      if (this.#eof) reject(this.#error ?? new Error("closed before the TLS handshake"));
      const done = (err?: Error) => {
        t.off("secureConnect", ok);
        t.off("error", done);
        t.off("close", closed);
        if (err) reject(err);
        else resolve();
      };
      const ok = () => done();
      const closed = () => done(new Error("connection closed during the TLS handshake"));
      t.on("secureConnect", ok);
      t.on("error", done);
      t.on("close", closed);
    });
  }

  /** Starts snappy framing both ways (npm:snappystream, checksums verified). */
  startSnappy(): void {
    this.#startCompression(new SnappyStream(), new UnsnappyStream(true));
  }

  /** Starts raw deflate both ways at `level`, every write sync-flushed (node:zlib). */
  startDeflate(level: number): void {
    this.#startCompression(
      zlib.createDeflateRaw({ level, flush: zlib.constants.Z_SYNC_FLUSH }),
      zlib.createInflateRaw({ flush: zlib.constants.Z_SYNC_FLUSH }),
    );
  }

  #startCompression(compressor: Transform, decompressor: Transform): void {
    if (this.#compressor) throw new Error("compression already started");
    const stream = this.#stream;
    compressor.on("data", (d: Uint8Array) => stream.write(d));
    compressor.on("error", this.#onError);
    decompressor.on("data", this.#onPlain);
    decompressor.on("error", this.#onError);
    this.#compressor = compressor;
    this.#decompressor = decompressor;
    // Bytes behind the last plain frame already belong to the compressed stream.
    const behind = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end = 0;
    if (behind.length > 0) decompressor.write(Buffer.from(behind));
  }

  /** Sends `AUTH` with `secret` as the body. */
  auth(secret: string): Promise<void> {
    return this.send(encodeCommand("AUTH", [], secret));
  }

  /** Sends `SUB <topic> <channel>`. */
  sub(topic: string, channel: string): Promise<void> {
    return this.send(encodeCommand("SUB", [topic, channel]));
  }

  /** Sends `RDY <n>`. */
  rdy(n: number): Promise<void> {
    return this.send(encodeCommand("RDY", [String(n)]));
  }

  /** Sends `FIN <id>`. */
  fin(id: string): Promise<void> {
    return this.send(encodeCommand("FIN", [id]));
  }

  /** Sends `PUB <topic>` with `body`. */
  pub(topic: string, body: string | Uint8Array): Promise<void> {
    return this.send(encodeCommand("PUB", [topic], body));
  }

  /** Sends `MPUB <topic>`. */
  mpub(topic: string, bodies: ReadonlyArray<string | Uint8Array>): Promise<void> {
    return this.send(encodeCommand("MPUB", [topic], encodeMpubBody(bodies)));
  }

  /** Sends `DPUB <topic> <ms>` with `body`. */
  dpub(topic: string, ms: number, body: string | Uint8Array): Promise<void> {
    return this.send(encodeCommand("DPUB", [topic, String(ms)], body));
  }

  /** Sends `NOP`. */
  nop(): Promise<void> {
    return this.send(encodeCommand("NOP"));
  }

  /** Takes one complete frame off the plain buffer, or null. */
  #takeFrame(): Frame | null {
    const avail = this.#end - this.#start;
    if (avail < 8) return null;
    const view = new DataView(this.#buf.buffer, this.#buf.byteOffset + this.#start, avail);
    const size = view.getUint32(0);
    if (size < 4 || size > DEFAULT_MAX_FRAME_SIZE) {
      throw new RangeError(`Invalid frame size ${size}`);
    }
    if (avail < 4 + size) return null;
    const type = view.getUint32(4);
    if (type > FRAME_TYPE_MESSAGE) throw new RangeError(`Invalid frame type ${type}`);
    const data = this.#buf.slice(this.#start + 8, this.#start + 4 + size);
    this.#start += 4 + size;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return makeFrame(type as FrameType, data);
  }

  /** Waits for more bytes, end of stream or `ms`; false on timeout. */
  async #wait(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await new Promise<boolean | typeof TIMED_OUT>((resolve) => {
      this.#wake = () => resolve(true);
      timer = setTimeout(() => resolve(TIMED_OUT), ms);
    });
    clearTimeout(timer);
    this.#wake = null;
    return r !== TIMED_OUT;
  }

  /** A frame already received, or null (never waits). */
  pollFrame(): Frame | null {
    return this.#takeFrame();
  }

  /** The next frame (heartbeats included); rejects on timeout or when the connection ended. */
  async readFrame(timeoutMs = 5000): Promise<Frame> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const f = this.#takeFrame();
      if (f) return f;
      if (this.#closed) throw new Error("connection closed locally");
      if (this.#eof) {
        const why = this.#error ? ` (${this.#error.message})` : "";
        throw new Error(`connection closed by server${why}`);
      }
      const remaining = deadline - performance.now();
      if (remaining <= 0 || !(await this.#wait(remaining))) {
        throw new Error(`readFrame: no frame within ${timeoutMs}ms`);
      }
    }
  }

  async #next(timeoutMs: number, wantHeartbeat: boolean): Promise<Frame> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const f = await this.readFrame(Math.max(0, deadline - performance.now()));
      if (!wantHeartbeat && f.type === FRAME_TYPE_RESPONSE && f.text === HEARTBEAT) continue;
      return f;
    }
  }

  /** Asserts the next non-heartbeat frame is the response `text`. */
  async expectResponse(text: string, timeoutMs = 5000): Promise<Frame> {
    const f = await this.#next(timeoutMs, text === HEARTBEAT);
    if (f.type !== FRAME_TYPE_RESPONSE || f.text !== text) {
      throw new Error(`expected response ${JSON.stringify(text)}, got ${describeFrame(f)}`);
    }
    return f;
  }

  /** Asserts the next non-heartbeat frame is an error with exactly `text`. */
  async expectError(text: string, timeoutMs = 5000): Promise<Frame> {
    const f = await this.#next(timeoutMs, false);
    if (f.type !== FRAME_TYPE_ERROR || f.text !== text) {
      throw new Error(`expected error ${JSON.stringify(text)}, got ${describeFrame(f)}`);
    }
    return f;
  }

  /** Asserts the next non-heartbeat frame is a message and returns it. */
  async expectMessage(timeoutMs = 5000): Promise<Msg> {
    const f = await this.#next(timeoutMs, false);
    if (f.type !== FRAME_TYPE_MESSAGE) {
      throw new Error(`expected a message, got ${describeFrame(f)}`);
    }
    return f.message!;
  }

  /**
   * Resolves once the server ended the connection (end of stream, reset, or a TLS alert); any
   * frame other than a heartbeat arriving first is a failure.
   */
  async expectClosed(timeoutMs = 5000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const f = this.#takeFrame();
      if (f) {
        if (f.type === FRAME_TYPE_RESPONSE && f.text === HEARTBEAT) continue;
        throw new Error(`expected the connection to close, got ${describeFrame(f)}`);
      }
      if (this.#eof) return;
      if (this.#closed) throw new Error("expectClosed: connection closed locally");
      const remaining = deadline - performance.now();
      if (remaining <= 0 || !(await this.#wait(remaining))) {
        throw new Error(`expectClosed: connection still open after ${timeoutMs}ms`);
      }
    }
  }

  /** Closes everything (idempotent) and waits until the sockets reported closing. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#compressor?.destroy();
      this.#decompressor?.destroy();
      this.#tls?.destroy();
      this.#sock.destroy();
      this.#notify();
    }
    await Promise.all(this.#waitClosed);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** `n` bytes, half random and half repetitive text: exercises stored and compressed chunks. */
export function mixedBody(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  const half = n >> 1;
  for (let i = 0; i < half; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(half, i + 65536)));
  }
  const line = encoder.encode(`nsq message ${seed} lorem ipsum dolor sit amet `);
  for (let i = half; i < n; i++) out[i] = line[(i - half) % line.length];
  return out;
}

/**
 * Publishes `bodies` on `pub` (PUB each), subscribes `sub` to `topic`/`channel` with RDY
 * `bodies.length`, receives and FINs every message, and checks each arrived intact and in order.
 */
export async function pubSubRoundTrip(
  pub: UpgradeConn,
  sub: UpgradeConn,
  topic: string,
  channel: string,
  bodies: Uint8Array[],
): Promise<void> {
  for (const b of bodies) {
    await pub.pub(topic, b);
    await pub.expectResponse("OK");
  }
  await sub.sub(topic, channel);
  await sub.expectResponse("OK");
  await sub.rdy(bodies.length);
  for (const [i, b] of bodies.entries()) {
    const m = await sub.expectMessage();
    if (m.attempts !== 1) throw new Error(`message ${i}: attempts ${m.attempts}`);
    if (!equalBytes(m.body, b)) {
      throw new Error(`message ${i}: body differs (${m.body.length} bytes, want ${b.length})`);
    }
    await sub.fin(m.id);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
