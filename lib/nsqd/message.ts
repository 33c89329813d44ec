/**
 * A message as nsqd holds it (spec §1.4).
 *
 * Serialized (on the wire inside a message frame, and as a diskqueue record):
 * `[8-byte int64 timestamp ns][2-byte uint16 attempts][16-byte ASCII hex id][body]`.
 *
 * The timestamp is kept as two uint32 halves because nanoseconds since 1970 exceed 2^53: the
 * halves round-trip Go's bytes exactly. The id is the 16-character hex string (it keys the
 * in-flight and deferred maps and is compared to what FIN/REQ/TOUCH send). Fan-out to several
 * channels shares `body`; each channel gets its own Message for attempts and delivery state.
 */
import { wallNowMs } from "../internal/clock.ts";
import type { ClientV2 } from "./client_v2.ts";

export const MSG_ID_LENGTH = 16;
/** 8 (timestamp) + 2 (attempts) + 16 (id). */
export const MSG_HEADER_LENGTH = 26;
/** Smallest valid serialized message, also go-diskqueue's minimum record size. */
export const MIN_VALID_MSG_LENGTH = MSG_HEADER_LENGTH;

const TWO_32 = 4294967296;

export class Message {
  id: string;
  body: Uint8Array;
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

  constructor(id: string, body: Uint8Array, tsHi: number, tsLo: number, attempts = 0) {
    this.id = id;
    this.body = body;
    this.tsHi = tsHi;
    this.tsLo = tsLo;
    this.attempts = attempts;
  }

  /** A message created now (timestamp = wall clock in ns). */
  static create(id: string, body: Uint8Array): Message {
    const ns = wallNowMs() * 1e6;
    const hi = Math.floor(ns / TWO_32);
    return new Message(id, body, hi, Math.floor(ns - hi * TWO_32), 0);
  }

  /** A fresh per-channel copy for fan-out: same id, body, timestamp and defer; attempts 0. */
  copy(): Message {
    const m = new Message(this.id, this.body, this.tsHi, this.tsLo, 0);
    m.deferred = this.deferred;
    return m;
  }

  /**
   * Gives the body its own buffer when it is a small view of a large one (a disk read-ahead
   * chunk, an MPUB batch), so a message that lingers (requeued, deferred) does not pin it.
   */
  compact(): void {
    const b = this.body;
    if (b.buffer.byteLength > 4 * b.length + 4096) this.body = b.slice();
  }

  /** Timestamp in ms since the epoch (loses sub-µs precision; for latency figures). */
  timestampMs(): number {
    return (this.tsHi * TWO_32 + this.tsLo) / 1e6;
  }

  /** Serialized length (header + body). */
  get size(): number {
    return MSG_HEADER_LENGTH + this.body.length;
  }

  /** Writes the serialized message at `off` of `buf` (which must have room); returns the end. */
  writeTo(buf: Uint8Array, dv: DataView, off: number): number {
    dv.setUint32(off, this.tsHi);
    dv.setUint32(off + 4, this.tsLo);
    dv.setUint16(off + 8, this.attempts);
    const id = this.id;
    for (let i = 0; i < MSG_ID_LENGTH; i++) buf[off + 10 + i] = id.charCodeAt(i);
    buf.set(this.body, off + MSG_HEADER_LENGTH);
    return off + MSG_HEADER_LENGTH + this.body.length;
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

/** Bytes [start, end) as a string of char codes (for ASCII names, ids and numbers). */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  if (end - start === 16) {
    return String.fromCharCode(
      buf[start],
      buf[start + 1],
      buf[start + 2],
      buf[start + 3],
      buf[start + 4],
      buf[start + 5],
      buf[start + 6],
      buf[start + 7],
      buf[start + 8],
      buf[start + 9],
      buf[start + 10],
      buf[start + 11],
      buf[start + 12],
      buf[start + 13],
      buf[start + 14],
      buf[start + 15],
    );
  }
  if (end - start <= 1024) {
    return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  }
  let s = "";
  for (let i = start; i < end; i += 1024) {
    s += String.fromCharCode.apply(
      null,
      buf.subarray(i, Math.min(end, i + 1024)) as unknown as number[],
    );
  }
  return s;
}
