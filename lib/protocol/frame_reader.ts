/**
 * Incremental parsing of V2 frames (`[4-byte size][4-byte type][data]`) as a client reads them.
 *
 * One reused read buffer: `fill()` reads whatever the transport has into the free space after
 * the unparsed bytes, `next()` parses one complete frame in place and exposes it as
 * `frameType` / `frameData` (a view into the buffer, valid until the next `fill()`). A read
 * loop therefore handles every complete frame of one read synchronously and only then awaits
 * the next read. The buffer grows for a frame larger than it and shrinks back after.
 *
 * At an in-band upgrade (TLS, snappy, deflate after IDENTIFY) the bytes already read past the
 * last parsed frame belong to the new stream: `takeBuffered()` hands them over, and
 * `transport` is then replaced by the upgraded one.
 *
 * @module
 */

import { FRAME_TYPE_MESSAGE } from "./frame_writer.ts";
import type { Transport } from "./transport.ts";

const DEFAULT_CAPACITY = 64 * 1024;

/** Largest frame accepted by default (nsqd's largest body is --max-msg-size / --max-body-size). */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;

export class FrameReader {
  /** Where bytes come from; replaced after an in-band upgrade. */
  transport: Transport;
  /** Type of the frame `next()` found (FRAME_TYPE_*). */
  frameType = -1;
  /** Data of the frame `next()` found: a view into the read buffer, valid until `fill()`. */
  frameData: Uint8Array = new Uint8Array(0);

  #buf: Uint8Array;
  #dv: DataView;
  #start = 0;
  #end = 0;
  #maxFrameSize: number;

  constructor(transport: Transport, maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    this.transport = transport;
    this.#maxFrameSize = maxFrameSize;
    this.#buf = new Uint8Array(DEFAULT_CAPACITY);
    this.#dv = new DataView(this.#buf.buffer);
  }

  /** Bytes read and not yet parsed into a frame. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Parses the next complete frame in the buffer into `frameType` / `frameData`. Returns false
   * when the buffer holds no complete frame. Throws a RangeError on an invalid size or type.
   */
  next(): boolean {
    const avail = this.#end - this.#start;
    if (avail < 8) return false;
    const size = this.#dv.getUint32(this.#start);
    if (size < 4 || size > this.#maxFrameSize) {
      throw new RangeError(`Invalid frame size ${size}`);
    }
    if (avail < 4 + size) return false;
    const type = this.#dv.getUint32(this.#start + 4);
    if (type > FRAME_TYPE_MESSAGE) throw new RangeError(`Invalid frame type ${type}`);
    this.frameType = type;
    this.frameData = this.#buf.subarray(this.#start + 8, this.#start + 4 + size);
    this.#start += 4 + size;
    return true;
  }

  /**
   * Reads more bytes from the transport (at least one, unless the stream ended). Returns false
   * at end of stream. Invalidates the last `frameData` view.
   */
  async fill(): Promise<boolean> {
    this.#makeRoom();
    const n = await this.transport.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** Reads until one complete frame is parsed; false if the stream ends first. */
  async readFrame(): Promise<boolean> {
    while (!this.next()) {
      if (!await this.fill()) return false;
    }
    return true;
  }

  /** Removes and returns (a copy of) the bytes read past the last parsed frame. */
  takeBuffered(): Uint8Array {
    const out = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end = 0;
    return out;
  }

  /** Compacts, and grows the buffer when a pending frame does not fit (or shrinks it back). */
  #makeRoom(): void {
    const held = this.#end - this.#start;
    let need = held + 1;
    if (held >= 4) {
      const size = this.#dv.getUint32(this.#start);
      if (size <= this.#maxFrameSize) need = Math.max(need, 4 + size);
    }
    const want = Math.max(DEFAULT_CAPACITY, need);
    const shrink = this.#buf.length > DEFAULT_CAPACITY && want === DEFAULT_CAPACITY &&
      held < DEFAULT_CAPACITY / 2;
    if (want > this.#buf.length || shrink) {
      let cap = DEFAULT_CAPACITY;
      while (cap < want) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#dv = new DataView(next.buffer);
      this.#start = 0;
      this.#end = held;
      return;
    }
    if (held === 0) {
      this.#start = this.#end = 0;
    } else if (
      this.#start > 0 &&
      (this.#start + need > this.#buf.length || this.#buf.length - this.#end < 4096)
    ) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#start = 0;
      this.#end = held;
    }
  }
}
