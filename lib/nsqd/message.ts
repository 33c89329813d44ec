/**
 * A message as nsqd holds it: the shared layout of lib/protocol/message.ts plus per-channel
 * delivery state. The id is the 16-character hex string (it keys the
 * in-flight and deferred maps and is compared to what FIN/REQ/TOUCH send). Fan-out to several
 * channels shares `body`; each channel gets its own Message for attempts and delivery state.
 */
import { wallNowMs } from "../internal/clock.ts";
import type { ClientV2 } from "./client_v2.ts";
import {
  latin1,
  MSG_HEADER_LENGTH,
  type WireMessage,
  writeMessageHeader,
} from "../protocol/message.ts";

const TWO_32 = 4294967296;
/** Placeholder body for a Message whose body fields are set right after construction. */
const NO_BODY = new Uint8Array(0);

/**
 * Deferred bodies are packed into shared slabs: a body of its own (PUB and DPUB copy each body
 * out of the read buffer) costs V8 an ArrayBuffer, a backing store and its bookkeeping, ~300
 * bytes beside a 200-byte body, and a deferred message lives for its whole delay. A slab is
 * freed once every body in it is gone, so each slab takes bodies of one delay class (delays
 * within 2× of each other, arriving together): its bodies come due at about the same time.
 */
const SLAB_SIZE = 16 * 1024;
/** Bodies up to this size are packed; larger ones keep (or get, see compact) their own buffer. */
const PACK_MAX = 1024;
/** The slab being filled, per delay class (log2 of the delay in ms). */
const slabs: { buf: Uint8Array; off: number }[] = [];
/** Every slab's buffer: a body in one is already packed. */
const slabBuffers = new WeakSet<ArrayBufferLike>();

/** A copy of `body` in the slab of delay class `ms`. */
function packInSlab(body: Uint8Array, ms: number): Uint8Array {
  const cls = Math.min(40, Math.floor(Math.log2(Math.max(1, ms))));
  let slab = slabs[cls];
  if (slab === undefined || slab.off + body.length > SLAB_SIZE) {
    slab = slabs[cls] = { buf: new Uint8Array(SLAB_SIZE), off: 0 };
    slabBuffers.add(slab.buf.buffer);
  }
  const start = slab.off;
  slab.buf.set(body, start);
  slab.off = start + body.length;
  return slab.buf.subarray(start, start + body.length);
}

export class Message implements WireMessage {
  id: string;
  /**
   * The body as its buffer, offset and length rather than a Uint8Array view: a view costs 104
   * bytes per message (Deno's V8 has no pointer compression), and bodies mostly live inside a
   * buffer shared with others (an MPUB batch, a disk read-ahead chunk, a deferred slab).
   */
  #bodyBuf: ArrayBufferLike;
  #bodyOff: number;
  #bodyLen: number;
  tsHi: number;
  tsLo: number;
  attempts: number;
  /** Delay requested at publish (DPUB, HTTP `defer`), ms; 0 for none. Not persisted. */
  deferred = 0;

  // Per-channel delivery state (in flight or deferred, never both).
  /** The client a delivery went to; null when not in flight. */
  client: ClientV2 | null = null;
  /** Monotonic ms of the delivery (caps TOUCH at delivery + max-msg-timeout). */
  deliveryTs = 0;
  /** Priority-queue key: in-flight deadline or deferred due time, monotonic ms. */
  pri = 0;
  /** Index in the priority queue holding it, -1 when in none. */
  index = -1;
  /** The in-flight index's hash of `id` (in_flight.ts), computed on first use; -1 = not yet. */
  idKey = -1;

  constructor(id: string, body: Uint8Array, tsHi: number, tsLo: number, attempts = 0) {
    this.id = id;
    this.#bodyBuf = body.buffer;
    this.#bodyOff = body.byteOffset;
    this.#bodyLen = body.length;
    this.tsHi = tsHi;
    this.tsLo = tsLo;
    this.attempts = attempts;
  }

  /** The body (a fresh view of it on each access). */
  get body(): Uint8Array {
    return new Uint8Array(this.#bodyBuf, this.#bodyOff, this.#bodyLen);
  }

  set body(b: Uint8Array) {
    this.#bodyBuf = b.buffer;
    this.#bodyOff = b.byteOffset;
    this.#bodyLen = b.length;
  }

  /** The body's length in bytes. */
  get bodyLength(): number {
    return this.#bodyLen;
  }

  /** A message created now (timestamp = wall clock in ns). */
  static create(id: string, body: Uint8Array): Message {
    const ns = wallNowMs() * 1e6;
    const hi = Math.floor(ns / TWO_32);
    return new Message(id, body, hi, Math.floor(ns - hi * TWO_32), 0);
  }

  /** A fresh per-channel copy for fan-out: same id, body, timestamp and defer; attempts 0. */
  copy(): Message {
    const m = new Message(this.id, NO_BODY, this.tsHi, this.tsLo, 0);
    m.#bodyBuf = this.#bodyBuf;
    m.#bodyOff = this.#bodyOff;
    m.#bodyLen = this.#bodyLen;
    m.deferred = this.deferred;
    m.idKey = this.idKey;
    return m;
  }

  /**
   * Gives the body its own buffer when it is a small view of a large one (a disk read-ahead
   * chunk, an MPUB batch), so a message that lingers (requeued, deferred) does not pin it.
   */
  compact(): void {
    if (this.#bodyBuf.byteLength > 4 * this.#bodyLen + 4096) this.body = this.body.slice();
  }

  /**
   * For a message about to wait `ms` deferred: a small body moves into a slab shared with other
   * deferred bodies of about the same delay (see SLAB_SIZE); a large one is compacted. A body
   * already in a slab stays (the fan-out packs once for every channel's copy).
   */
  packDeferred(ms: number): void {
    if (this.#bodyLen > PACK_MAX) this.compact();
    else if (!slabBuffers.has(this.#bodyBuf)) this.body = packInSlab(this.body, ms);
  }

  /** Timestamp in ms since the epoch (loses sub-µs precision; for latency figures). */
  timestampMs(): number {
    return (this.tsHi * TWO_32 + this.tsLo) / 1e6;
  }

  /** Serialized length (header + body). */
  get size(): number {
    return MSG_HEADER_LENGTH + this.#bodyLen;
  }

  /** Writes the serialized message at `off` of `buf` (which must have room); returns the end. */
  writeTo(buf: Uint8Array, dv: DataView, off: number): number {
    const start = writeMessageHeader(buf, dv, off, this.tsHi, this.tsLo, this.attempts, this.id);
    buf.set(new Uint8Array(this.#bodyBuf, this.#bodyOff, this.#bodyLen), start);
    return start + this.#bodyLen;
  }

  /** The serialized bytes (a diskqueue record). */
  encode(): Uint8Array {
    const buf = new Uint8Array(this.size);
    this.writeTo(buf, new DataView(buf.buffer), 0);
    return buf;
  }

  /** Parses a serialized message; the body is a view into `data`. Throws a RangeError if short. */
  static decode(data: Uint8Array): Message {
    if (data.length < MSG_HEADER_LENGTH) {
      throw new RangeError(`invalid message buffer size (${data.length})`);
    }
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return new Message(
      latin1(data, 10, 26),
      data.subarray(MSG_HEADER_LENGTH),
      dv.getUint32(0),
      dv.getUint32(4),
      dv.getUint16(8),
    );
  }
}
