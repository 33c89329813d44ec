/**
 * A small, strict NSQ TCP protocol V2 client for wire-level tests
 * (https://nsq.io/clients/tcp_protocol_spec.html).
 *
 * Commands are send-only: `await c.sub("t", "c")` writes the bytes and returns; the test then
 * states what it expects next (`expectResponse("OK")`, `expectError("E_INVALID")`,
 * `expectMessage()`, `expectClosed()`). Anything else arriving is a failure naming the frame.
 *
 * Also pure encoders/decoders (commands, MPUB bodies, frames, messages) and an incremental
 * {@linkcode FrameParser}, useful for fake servers in tests.
 *
 * @module
 */
import { dialAddress } from "../../lib/internal/net_addr.ts";

/** Frame types (lib/protocol/frame_writer.ts). */
export const FRAME_TYPE_RESPONSE = 0;
export const FRAME_TYPE_ERROR = 1;
export const FRAME_TYPE_MESSAGE = 2;
export type FrameType = 0 | 1 | 2;

/** The 4 magic bytes a V2 client sends first. */
export const MAGIC_V2 = "  V2";
/** The response text nsqd sends as a heartbeat. */
export const HEARTBEAT = "_heartbeat_";
/** Timestamp + attempts + ID: the smallest serialized message (lib/protocol/message.ts). */
export const MESSAGE_HEADER_SIZE = 26;
/** Length of a message ID on the wire. */
export const MESSAGE_ID_LENGTH = 16;

/** A decoded message (the payload of a frame of type 2). */
export interface Msg {
  /** Nanoseconds since the Unix epoch, set when the message was published. */
  timestamp: bigint;
  /** Delivery count, 1 on the first delivery. */
  attempts: number;
  /** The 16-character ID, echoed verbatim in FIN/REQ/TOUCH. */
  id: string;
  body: Uint8Array;
}

/** One server frame. */
export interface Frame {
  type: FrameType;
  /** The frame payload (after size and type); a private copy. */
  data: Uint8Array;
  /** `data` as UTF-8 for response and error frames; the message body as UTF-8 for messages. */
  text: string;
  /** Present on message frames. */
  message?: Msg;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytesOf(v: string | Uint8Array): Uint8Array {
  return typeof v === "string" ? encoder.encode(v) : v;
}

/**
 * Encodes a command like go-nsq's `Command.WriteTo`: `NAME[ param]...\n`, then, when `body` is
 * given (even empty), a 4-byte big-endian length and the body.
 */
export function encodeCommand(
  name: string,
  params: ReadonlyArray<string | Uint8Array> = [],
  body?: string | Uint8Array,
): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(name)];
  for (const p of params) parts.push(SPACE, bytesOf(p));
  parts.push(NEWLINE);
  if (body !== undefined) {
    const b = bytesOf(body);
    const size = new Uint8Array(4);
    new DataView(size.buffer).setUint32(0, b.length);
    parts.push(size, b);
  }
  return concat(parts);
}

const SPACE = Uint8Array.of(0x20);
const NEWLINE = Uint8Array.of(0x0a);

/** The body of an MPUB command: `[4-byte count]([4-byte size][bytes])*`. */
export function encodeMpubBody(bodies: ReadonlyArray<string | Uint8Array>): Uint8Array {
  const bs = bodies.map(bytesOf);
  let total = 4;
  for (const b of bs) total += 4 + b.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, bs.length);
  let off = 4;
  for (const b of bs) {
    view.setUint32(off, b.length);
    out.set(b, off + 4);
    off += 4 + b.length;
  }
  return out;
}

/** Serializes a message: `[8-byte timestamp][2-byte attempts][16-byte id][body]`. */
export function encodeMessage(msg: {
  timestamp: bigint;
  attempts: number;
  id: string | Uint8Array;
  body: string | Uint8Array;
}): Uint8Array {
  const id = bytesOf(msg.id);
  if (id.length !== MESSAGE_ID_LENGTH) {
    throw new RangeError(`Message ID must be ${MESSAGE_ID_LENGTH} bytes, got ${id.length}`);
  }
  const body = bytesOf(msg.body);
  const out = new Uint8Array(MESSAGE_HEADER_SIZE + body.length);
  const view = new DataView(out.buffer);
  view.setBigInt64(0, msg.timestamp);
  view.setUint16(8, msg.attempts);
  out.set(id, 10);
  out.set(body, MESSAGE_HEADER_SIZE);
  return out;
}

/** Parses a serialized message; throws a RangeError when shorter than 26 bytes. */
export function decodeMessage(data: Uint8Array): Msg {
  if (data.length < MESSAGE_HEADER_SIZE) {
    throw new RangeError(
      `Message must be at least ${MESSAGE_HEADER_SIZE} bytes, got ${data.length}`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    timestamp: view.getBigInt64(0),
    attempts: view.getUint16(8),
    id: decoder.decode(data.subarray(10, MESSAGE_HEADER_SIZE)),
    body: data.slice(MESSAGE_HEADER_SIZE),
  };
}

/** Encodes one server frame: `[4-byte size = 4 + len(data)][4-byte type][data]`. */
export function encodeFrame(type: number, data: string | Uint8Array): Uint8Array {
  const d = bytesOf(data);
  const out = new Uint8Array(8 + d.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 4 + d.length);
  view.setUint32(4, type);
  out.set(d, 8);
  return out;
}

/** Builds a {@linkcode Frame} from a type and a payload (the payload is used, not copied). */
export function makeFrame(type: FrameType, data: Uint8Array): Frame {
  if (type === FRAME_TYPE_MESSAGE) {
    const message = decodeMessage(data);
    return { type, data, text: decoder.decode(message.body), message };
  }
  return { type, data, text: decoder.decode(data) };
}

/** Default cap on one frame's size field (far above nsqd's limits; catches garbage). */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;

/**
 * Incremental frame parser: feed it whatever `read` returned; it returns every complete frame and
 * keeps the remainder, so frames split across reads and many frames per read both work.
 * Strict: a size below 4, above `maxFrameSize`, an unknown frame type or a message payload
 * shorter than 26 bytes throws a RangeError (the stream cannot be resynchronized after that).
 */
export class FrameParser {
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #maxFrameSize: number;

  constructor(maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    this.#maxFrameSize = maxFrameSize;
  }

  /** Bytes held that do not form a complete frame yet. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Appends `chunk` and returns the frames it completed (payloads are copies), appended to `out`
   * when given; frames completed before an invalid one are already in `out` when this throws.
   */
  push(chunk: Uint8Array, out: Frame[] = []): Frame[] {
    this.#append(chunk);
    const frames = out;
    const buf = this.#buf;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    while (this.#end - this.#start >= 4) {
      const size = view.getUint32(this.#start);
      if (size < 4 || size > this.#maxFrameSize) {
        throw new RangeError(`Invalid frame size ${size}`);
      }
      if (this.#end - this.#start < 4 + size) break;
      const type = view.getUint32(this.#start + 4);
      if (type > FRAME_TYPE_MESSAGE) throw new RangeError(`Invalid frame type ${type}`);
      const data = buf.slice(this.#start + 8, this.#start + 4 + size);
      this.#start += 4 + size;
      frames.push(makeFrame(type as FrameType, data));
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return frames;
  }

  #append(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buf.length) {
      const held = this.#end - this.#start;
      let target = this.#buf;
      if (held + chunk.length > this.#buf.length) {
        target = new Uint8Array(Math.max(this.#buf.length * 2, held + chunk.length));
      }
      target.set(this.#buf.subarray(this.#start, this.#end), 0);
      this.#buf = target;
      this.#start = 0;
      this.#end = held;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }
}

/** A short description of a frame for assertion messages. */
export function describeFrame(f: Frame): string {
  switch (f.type) {
    case FRAME_TYPE_RESPONSE:
      return `response ${JSON.stringify(f.text)}`;
    case FRAME_TYPE_ERROR:
      return `error ${JSON.stringify(f.text)}`;
    default: {
      const m = f.message!;
      const body = f.text.length > 64 ? f.text.slice(0, 64) + "..." : f.text;
      return `message id=${m.id} attempts=${m.attempts} body=${JSON.stringify(body)}`;
    }
  }
}

/** Options for {@linkcode V2Conn.connect}. */
export interface V2ConnectOptions {
  /** Send the `"  V2"` magic right after connecting (default true). */
  magic?: boolean;
  /** Cap on a frame's size field (default 64 MiB). */
  maxFrameSize?: number;
}

/** Options for the `expect*` helpers. */
export interface ExpectOptions {
  /** Per-call deadline in ms (default 5000). */
  timeoutMs?: number;
}

const TIMED_OUT = Symbol("timed out");

/**
 * A test connection to nsqd speaking protocol V2.
 *
 * One read is outstanding at most; a `readFrame` that times out leaves it pending for the next
 * call, so no bytes are lost. `close()` (or `await using`) closes the socket and waits for that
 * read to settle, which keeps `--sanitize-ops --sanitize-resources` happy.
 */
export class V2Conn implements AsyncDisposable {
  #conn: Deno.TcpConn;
  #parser: FrameParser;
  #readBuf = new Uint8Array(64 * 1024);
  #frames: Frame[] = [];
  #reading: Promise<void> | null = null;
  #eof = false;
  #readError: unknown = null;
  #closed = false;

  private constructor(conn: Deno.TcpConn, maxFrameSize: number) {
    this.#conn = conn;
    this.#parser = new FrameParser(maxFrameSize);
  }

  /** Connects to `host:port`, sets TCP_NODELAY and (by default) sends the V2 magic. */
  static async connect(addr: string, opts: V2ConnectOptions = {}): Promise<V2Conn> {
    const conn = await Deno.connect({ ...dialAddress(addr), transport: "tcp" });
    conn.setNoDelay(true);
    const c = new V2Conn(conn, opts.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE);
    if (opts.magic ?? true) {
      try {
        await c.send(MAGIC_V2);
      } catch (err) {
        await c.close();
        throw err;
      }
    }
    return c;
  }

  /** The underlying socket, for tests that need raw access (half-close, addresses). */
  get conn(): Deno.TcpConn {
    return this.#conn;
  }

  /** The client's local address as `host:port` (how nsqd names it in /stats). */
  get localAddr(): string {
    const a = this.#conn.localAddr;
    return `${a.hostname}:${a.port}`;
  }

  /** Writes raw bytes (a string is UTF-8 encoded), looping on short writes. */
  async send(raw: Uint8Array | string): Promise<void> {
    const p = bytesOf(raw);
    let off = 0;
    while (off < p.length) off += await this.#conn.write(off === 0 ? p : p.subarray(off));
  }

  /** Sends `IDENTIFY` with `obj` as the JSON body (does not read the response). */
  identify(obj: Record<string, unknown>): Promise<void> {
    return this.send(encodeCommand("IDENTIFY", [], JSON.stringify(obj)));
  }

  /** Sends `AUTH` with `secret` as the body. */
  auth(secret: string | Uint8Array): Promise<void> {
    return this.send(encodeCommand("AUTH", [], secret));
  }

  /** Sends `SUB <topic> <channel>`. */
  sub(topic: string, channel: string): Promise<void> {
    return this.send(encodeCommand("SUB", [topic, channel]));
  }

  /** Sends `RDY <n>`. */
  rdy(n: number | string): Promise<void> {
    return this.send(encodeCommand("RDY", [String(n)]));
  }

  /** Sends `FIN <id>`. */
  fin(id: string | Uint8Array): Promise<void> {
    return this.send(encodeCommand("FIN", [id]));
  }

  /** Sends `REQ <id> <ms>`. */
  req(id: string | Uint8Array, ms: number | string): Promise<void> {
    return this.send(encodeCommand("REQ", [id, String(ms)]));
  }

  /** Sends `TOUCH <id>`. */
  touch(id: string | Uint8Array): Promise<void> {
    return this.send(encodeCommand("TOUCH", [id]));
  }

  /** Sends `CLS`. */
  cls(): Promise<void> {
    return this.send(encodeCommand("CLS"));
  }

  /** Sends `NOP`. */
  nop(): Promise<void> {
    return this.send(encodeCommand("NOP"));
  }

  /** Sends `PUB <topic>` with `body`. */
  pub(topic: string, body: string | Uint8Array): Promise<void> {
    return this.send(encodeCommand("PUB", [topic], body));
  }

  /** Sends `MPUB <topic>` with the bodies encoded as an MPUB body. */
  mpub(topic: string, bodies: ReadonlyArray<string | Uint8Array>): Promise<void> {
    return this.send(encodeCommand("MPUB", [topic], encodeMpubBody(bodies)));
  }

  /** Sends `DPUB <topic> <ms>` with `body`. */
  dpub(topic: string, ms: number | string, body: string | Uint8Array): Promise<void> {
    return this.send(encodeCommand("DPUB", [topic, String(ms)], body));
  }

  /**
   * Returns the next frame (heartbeats included). Rejects when none arrives within `timeoutMs`,
   * when the server closed the connection, or when the stream is not valid V2 framing.
   */
  async readFrame(timeoutMs = 5000): Promise<Frame> {
    const deadline = performance.now() + timeoutMs;
    while (this.#frames.length === 0) {
      this.#throwIfDone();
      const remaining = deadline - performance.now();
      if (remaining <= 0 || (await withTimeout(this.#fill(), remaining)) === TIMED_OUT) {
        throw new Error(`readFrame: no frame within ${timeoutMs}ms`);
      }
    }
    return this.#frames.shift()!;
  }

  /**
   * Reads the next frame, skipping heartbeats unless `text` is the heartbeat itself, and asserts it
   * is a response frame with exactly `text`.
   */
  async expectResponse(text: string, opts: ExpectOptions = {}): Promise<Frame> {
    const f = await this.#next(opts, text === HEARTBEAT);
    if (f.type !== FRAME_TYPE_RESPONSE || f.text !== text) {
      throw new Error(`expected response ${JSON.stringify(text)}, got ${describeFrame(f)}`);
    }
    return f;
  }

  /** Reads the next non-heartbeat frame and asserts it is an error frame starting with `prefix`. */
  async expectError(prefix: string, opts: ExpectOptions = {}): Promise<Frame> {
    const f = await this.#next(opts, false);
    if (f.type !== FRAME_TYPE_ERROR || !f.text.startsWith(prefix)) {
      throw new Error(`expected error starting ${JSON.stringify(prefix)}, got ${describeFrame(f)}`);
    }
    return f;
  }

  /** Reads the next non-heartbeat frame and asserts it is a message; returns the message. */
  async expectMessage(opts: ExpectOptions = {}): Promise<Msg> {
    const f = await this.#next(opts, false);
    if (f.type !== FRAME_TYPE_MESSAGE) {
      throw new Error(`expected a message, got ${describeFrame(f)}`);
    }
    return f.message!;
  }

  /**
   * Resolves once the server has closed the connection (read returned end of stream or failed,
   * e.g. ECONNRESET). Heartbeats are skipped; any other frame first is a failure.
   */
  async expectClosed(timeoutMs = 5000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const f = this.#frames.shift();
      if (f) {
        if (f.type === FRAME_TYPE_RESPONSE && f.text === HEARTBEAT) continue;
        throw new Error(`expected the connection to close, got ${describeFrame(f)}`);
      }
      if (this.#eof) {
        if (this.#readError instanceof RangeError) throw this.#readError;
        return;
      }
      if (this.#closed) throw new Error("expectClosed: connection closed locally");
      const remaining = deadline - performance.now();
      if (remaining <= 0 || (await withTimeout(this.#fill(), remaining)) === TIMED_OUT) {
        throw new Error(`expectClosed: connection still open after ${timeoutMs}ms`);
      }
    }
  }

  /** Closes the socket (idempotent) and waits for an outstanding read to settle. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#conn.close();
      } catch {
        // already closed by the runtime
      }
    }
    if (this.#reading) await this.#reading;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #next(opts: ExpectOptions, wantHeartbeat: boolean): Promise<Frame> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const f = await this.readFrame(Math.max(0, deadline - performance.now()));
      if (!wantHeartbeat && f.type === FRAME_TYPE_RESPONSE && f.text === HEARTBEAT) continue;
      return f;
    }
  }

  #throwIfDone(): void {
    if (this.#closed) throw new Error("connection closed locally");
    if (this.#eof) {
      if (this.#readError instanceof RangeError) throw this.#readError;
      const why = this.#readError ? ` (${errorText(this.#readError)})` : "";
      throw new Error(`connection closed by server${why}`);
    }
  }

  /** Starts (or joins) the single outstanding read; never rejects. */
  #fill(): Promise<void> {
    if (this.#reading) return this.#reading;
    this.#reading = (async () => {
      try {
        const n = await this.#conn.read(this.#readBuf);
        if (n === null) {
          this.#eof = true;
        } else {
          this.#parser.push(this.#readBuf.subarray(0, n), this.#frames);
        }
      } catch (err) {
        this.#eof = true;
        this.#readError = err;
      } finally {
        this.#reading = null;
      }
    })();
    return this.#reading;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Races `p` against a timer that is always cleared. */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** `parts` (strings as UTF-8) one after another, for building raw input byte by byte. */
export function cat(...parts: (string | Uint8Array)[]): Uint8Array {
  return concat(parts.map(bytesOf));
}

/** A 4-byte big-endian signed integer, e.g. a size field (negative ones included). */
export function int32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n);
  return b;
}

/** The bytes of `parts` one after another, in one new array. */
export function concat(parts: Uint8Array[]): Uint8Array {
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
