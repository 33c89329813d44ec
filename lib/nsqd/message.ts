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

export class Message implements WireMessage {
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
  /** The in-flight index's hash of `id` (in_flight.ts), computed on first use; -1 = not yet. */
  idKey = -1;

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
    m.idKey = this.idKey;
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
    const start = writeMessageHeader(buf, dv, off, this.tsHi, this.tsLo, this.attempts, this.id);
    buf.set(this.body, start);
    return start + this.body.length;
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
