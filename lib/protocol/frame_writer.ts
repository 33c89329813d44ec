/**
 * The buffered writer of one nsqd client connection (docs/nsqd.md#output-buffering;
 * docs/architecture.md#one-reader-and-one-writer-per-connection).
 *
 * Frames (`[4-byte size][4-byte type][data]`) are encoded straight into a buffer; `flush()` hands
 * the whole buffer to ONE `transport.write` (looping on short writes). At most one write is in
 * flight: frames added meanwhile go into a second buffer, flushed when the write completes if a
 * flush was asked for or the buffer reached the threshold. `backlogged` tells the owner to stop
 * feeding messages (a consumer that does not read fills its buffer and stops being ready).
 */
import { monoNow } from "../internal/clock.ts";
import { type Transport, writeAll } from "./transport.ts";
import type { WireMessage } from "./message.ts";

export const FRAME_TYPE_RESPONSE = 0;
export const FRAME_TYPE_ERROR = 1;
export const FRAME_TYPE_MESSAGE = 2;

/**
 * A buffer's starting size: small, so an idle connection costs little. Buffers double as frames
 * need room (a consumer's settle at about twice its output_buffer_size); `trim()` returns them to
 * this size after a burst.
 */
const INITIAL_CAPACITY = 1024;
/** Nothing: the second buffer before its first use. */
const EMPTY = new Uint8Array(0);

/** A whole frame, pre-encoded (for constant responses like `OK` and `_heartbeat_`). */
export function encodeFrame(type: number, data: Uint8Array | string): Uint8Array {
  const body = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const out = new Uint8Array(8 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 4 + body.length);
  dv.setUint32(4, type);
  out.set(body, 8);
  return out;
}

export class FrameWriter {
  transport: Transport;
  /** Flush once this many bytes are buffered (the client's output_buffer_size). */
  threshold: number;
  /** Called with the error when a write fails (the owner closes the connection). */
  onError: (err: unknown) => void = () => {};
  /** Called after a write completes (the owner may have become ready again). */
  onDrain: () => void = () => {};

  #buf: Uint8Array;
  #dv: DataView;
  #len = 0;
  #spare: Uint8Array;
  #writing: Promise<void> | null = null;
  #flushWanted = false;
  #failed = false;
  #idleWaiters: (() => void)[] = [];
  /** performance.now() when the write in flight started (write deadline checks). */
  writeStartedAt = 0;

  constructor(transport: Transport, threshold: number) {
    this.transport = transport;
    this.threshold = threshold;
    this.#buf = EMPTY;
    this.#dv = new DataView(EMPTY.buffer);
    this.#spare = EMPTY;
  }

  /** Bytes of buffer memory held (both buffers). */
  get capacity(): number {
    return this.#buf.length + this.#spare.length;
  }

  /**
   * Returns buffers grown by a burst to the starting size, when nothing is buffered or being
   * written (the owner calls this when the connection was quiet for a while).
   */
  trim(): void {
    if (this.#writing !== null || this.#len > 0) return;
    if (this.#buf.length > INITIAL_CAPACITY) {
      this.#buf = EMPTY;
      this.#dv = new DataView(EMPTY.buffer);
    }
    if (this.#spare.length > INITIAL_CAPACITY) this.#spare = EMPTY;
  }

  /** Bytes buffered and not yet handed to a write. */
  get buffered(): number {
    return this.#len;
  }

  /** True while a write is in flight. */
  get writing(): boolean {
    return this.#writing !== null;
  }

  /** True when the owner should stop adding message frames until the next drain. */
  get backlogged(): boolean {
    return this.#writing !== null && this.#len >= this.threshold;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let cap = Math.max(INITIAL_CAPACITY, this.#buf.length * 2);
    while (cap < this.#len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#dv = new DataView(next.buffer);
  }

  /** Appends pre-encoded bytes (a whole frame). */
  writeRaw(frame: Uint8Array): void {
    this.#reserve(frame.length);
    this.#buf.set(frame, this.#len);
    this.#len += frame.length;
  }

  /** Appends a frame of `type` with `data`. */
  writeFrame(type: number, data: Uint8Array): void {
    this.#reserve(8 + data.length);
    this.#dv.setUint32(this.#len, 4 + data.length);
    this.#dv.setUint32(this.#len + 4, type);
    this.#buf.set(data, this.#len + 8);
    this.#len += 8 + data.length;
  }

  /** Appends a message frame, serializing `msg` in place. */
  writeMessage(msg: WireMessage): void {
    const size = msg.size;
    this.#reserve(8 + size);
    this.#dv.setUint32(this.#len, 4 + size);
    this.#dv.setUint32(this.#len + 4, FRAME_TYPE_MESSAGE);
    this.#len = msg.writeTo(this.#buf, this.#dv, this.#len + 8);
  }

  /** Drops everything buffered and not yet written. */
  discard(): void {
    this.#len = 0;
  }

  /** Starts writing what is buffered (or marks it to be written after the write in flight). */
  flush(): void {
    if (this.#len === 0 || this.#failed) return;
    if (this.#writing !== null) {
      this.#flushWanted = true;
      return;
    }
    const data = this.#buf.subarray(0, this.#len);
    // Swap buffers: frames added during the write go into the other one.
    const spare = this.#spare;
    this.#spare = this.#buf;
    // A buffer grown far past the threshold (one huge frame) is not kept as the next one.
    this.#buf = spare.length > Math.max(64 * 1024, this.threshold * 8) ? EMPTY : spare;
    this.#dv = new DataView(this.#buf.buffer);
    this.#len = 0;
    this.writeStartedAt = monoNow();
    this.#writing = this.#write(data);
  }

  async #write(data: Uint8Array): Promise<void> {
    try {
      await writeAll(this.transport, data);
    } catch (err) {
      this.#failed = true;
      this.#writing = null;
      this.#len = 0;
      this.#wakeIdle();
      this.onError(err);
      return;
    }
    this.#writing = null;
    if (this.#len > 0 && (this.#flushWanted || this.#len >= this.threshold)) {
      this.#flushWanted = false;
      this.flush();
    } else {
      this.#flushWanted = this.#len > 0 && this.#flushWanted;
      if (this.#len === 0) this.#wakeIdle();
    }
    this.onDrain();
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Flushes and resolves once nothing is buffered or being written (or the writer failed). */
  idle(): Promise<void> {
    this.flush();
    if (this.#writing === null && (this.#len === 0 || this.#failed)) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }
}
