/**
 * Compressing transports for the IDENTIFY `snappy` and `deflate` upgrades
 * (docs/nsqd.md#identify-and-upgrades).
 *
 * Each wraps the connection's current Transport (plain socket or TLS). The connection makes one
 * `write` per output flush, so every `write` compresses and *flushes* what it was given (a
 * snappy chunk run or a deflate sync flush) and resolves only once all compressed bytes were
 * handed to the inner transport: nothing is held back for a later write. `read` decompresses
 * what the inner transport delivers. Both take `initial`: bytes the connection already read from
 * the inner stream past the IDENTIFY that belong to the compressed stream.
 *
 * Writes are serialized: a write issued while another is in flight waits for it, since both
 * encoders reuse one output buffer.
 *
 * @module
 */

import zlib from "node:zlib";
import { SnappyFrameDecoder, SnappyFrameEncoder } from "./snappy.ts";
import { type Transport, writeAll } from "./transport.ts";

/** Shared write serialization and idempotent close for the compressing transports. */
abstract class WrappingTransport implements Transport {
  protected readonly inner: Transport;
  #writing: Promise<void> | null = null;
  #closed = false;

  constructor(inner: Transport) {
    this.inner = inner;
  }

  abstract read(p: Uint8Array): Promise<number | null>;

  /** Compresses and flushes `p`; returns the bytes to hand to the inner transport. */
  protected abstract encode(p: Uint8Array): Uint8Array;

  /** Compresses all of `p`, flushes, writes it all to the inner transport; resolves p.length. */
  async write(p: Uint8Array): Promise<number> {
    while (this.#writing) await this.#writing;
    if (this.#closed) throw new Deno.errors.BadResource("Transport is closed");
    if (p.length === 0) return 0;
    let done!: () => void;
    this.#writing = new Promise((resolve) => done = resolve);
    try {
      await writeAll(this.inner, this.encode(p));
      return p.length;
    } finally {
      this.#writing = null;
      done();
    }
  }

  /** Closes the inner transport (once) and releases the codec. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.release();
    try {
      this.inner.close();
    } catch {
      // The inner transport was already closed.
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  protected release(): void {}
}

/**
 * Snappy framing format over an inner transport (golang/snappy `NewReader` / `NewWriter`, as
 * nsqd's `UpgradeSnappy` uses). Each write emits the chunks for exactly its bytes.
 */
export class SnappyTransport extends WrappingTransport {
  #enc = new SnappyFrameEncoder();
  #dec = new SnappyFrameDecoder();
  /** Decoded bytes of the current chunk not yet returned by read (a view into the decoder). */
  #pending: Uint8Array | null = null;
  #pendingOff = 0;

  constructor(inner: Transport, initial?: Uint8Array) {
    super(inner);
    if (initial && initial.length > 0) this.#dec.push(initial);
  }

  /** Reads decompressed bytes; null at the end of the inner stream (TypeError if mid-chunk). */
  async read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return 0;
    for (;;) {
      const pending = this.#pending;
      if (pending) {
        const n = Math.min(p.length, pending.length - this.#pendingOff);
        p.set(pending.subarray(this.#pendingOff, this.#pendingOff + n));
        this.#pendingOff += n;
        if (this.#pendingOff === pending.length) this.#pending = null;
        return n;
      }
      const chunk = this.#dec.next();
      if (chunk) {
        this.#pending = chunk;
        this.#pendingOff = 0;
        continue;
      }
      // The decoder's views stay valid until spare(): nothing is pending here.
      const n = await this.inner.read(this.#dec.spare());
      if (n === null) {
        if (this.#dec.buffered > 0) throw new TypeError("Snappy stream is truncated");
        return null;
      }
      this.#dec.commit(n);
    }
  }

  protected encode(p: Uint8Array): Uint8Array {
    return this.#enc.encode(p);
  }
}

const Z_SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;

/** The native zlib handle behind a node:zlib stream (Node's `internalBinding('zlib').Zlib`). */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  onerror: (message: string, errno: number) => void;
}

/**
 * Synchronous access to a node:zlib engine. node:zlib's stream API costs an event-loop turn
 * and a callback per flush (measured ~190 MB/s deflate+inflate on 16 KB writes here); driving
 * the handle's `writeSync` directly, as node:zlib's own `*Sync` functions do, measured ~300 MB/s
 * and lets inflate write straight into the reader's buffer. The handle's results land in
 * `state`: `[availOutAfter, availInAfter]`.
 */
class ZlibEngine {
  readonly #stream: zlib.DeflateRaw | zlib.InflateRaw;
  readonly #handle: ZlibHandle;
  readonly #state: Uint32Array;
  #error: TypeError | null = null;
  produced = 0;
  consumed = 0;
  outFull = false;

  constructor(stream: zlib.DeflateRaw | zlib.InflateRaw) {
    const internals = stream as unknown as { _handle?: ZlibHandle; _writeState?: Uint32Array };
    const handle = internals._handle;
    const state = internals._writeState;
    if (!handle || typeof handle.writeSync !== "function" || !(state instanceof Uint32Array)) {
      stream.close();
      throw new TypeError("node:zlib no longer exposes _handle.writeSync/_writeState");
    }
    // Errors are reported synchronously through onerror; keep them here instead of letting the
    // stream emit an 'error' event nobody awaits.
    handle.onerror = (message: string) => {
      this.#error ??= new TypeError(`Deflate stream is corrupt: ${message}`);
    };
    stream.on("error", () => {});
    this.#stream = stream;
    this.#handle = handle;
    this.#state = state;
  }

  /** Runs the engine once; sets `produced`, `consumed` and `outFull`. Throws on a data error. */
  run(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff = 0) {
    if (this.#error) throw this.#error;
    const outLen = out.length - outOff;
    this.#handle.writeSync(flush, input, inOff, inLen, out, outOff, outLen);
    if (this.#error) throw this.#error;
    const availOut = this.#state[0];
    this.produced = outLen - availOut;
    this.consumed = inLen - this.#state[1];
    this.outFull = availOut === 0;
  }

  close() {
    this.#stream.close();
  }
}

/**
 * Raw DEFLATE (RFC 1951, no header) over an inner transport, as nsqd's `UpgradeDeflate`: each
 * write ends with a sync flush (`00 00 ff ff`), so the peer can inflate everything written.
 */
export class DeflateTransport extends WrappingTransport {
  #deflate: ZlibEngine;
  #inflate: ZlibEngine;
  #out = new Uint8Array(32 * 1024);
  /** Compressed input: `#in[#inOff, #inOff + #inLen)` not yet inflated. */
  #in: Uint8Array;
  #inOff = 0;
  #inLen = 0;
  /** The last inflate filled the caller's buffer, so zlib may hold more output. */
  #moreOut = false;
  #ended = false;

  /** `level` is the deflate level, 1 (fastest) to 9 (best); nsqd's default is 6. */
  constructor(inner: Transport, initial?: Uint8Array, level = 6) {
    super(inner);
    if (!Number.isInteger(level) || level < 1 || level > 9) {
      throw new RangeError(`Invalid deflate level ${level} (must be 1-9)`);
    }
    this.#deflate = new ZlibEngine(zlib.createDeflateRaw({ level }));
    this.#inflate = new ZlibEngine(zlib.createInflateRaw());
    this.#in = new Uint8Array(Math.max(16 * 1024, initial?.length ?? 0));
    if (initial && initial.length > 0) {
      this.#in.set(initial);
      this.#inLen = initial.length;
    }
  }

  /** Reads inflated bytes; null at the end of the inner stream or of the deflate stream. */
  async read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return 0;
    const z = this.#inflate;
    for (;;) {
      if (this.#ended) return null;
      if (this.#inLen > 0 || this.#moreOut) {
        z.run(Z_SYNC_FLUSH, this.#in, this.#inOff, this.#inLen, p);
        this.#inOff += z.consumed;
        this.#inLen -= z.consumed;
        this.#moreOut = z.outFull;
        if (z.produced > 0) return z.produced;
        if (this.#inLen > 0 && z.consumed === 0) {
          // Input left but zlib takes none: the stream's final block has ended.
          this.#ended = true;
          return null;
        }
      }
      const n = await this.inner.read(this.#in);
      if (n === null || this.closed) return null;
      this.#inOff = 0;
      this.#inLen = n;
    }
  }

  protected encode(p: Uint8Array): Uint8Array {
    const z = this.#deflate;
    let inOff = 0;
    let o = 0;
    for (;;) {
      z.run(Z_SYNC_FLUSH, p, inOff, p.length - inOff, this.#out, o);
      inOff += z.consumed;
      o += z.produced;
      // A sync flush is complete when zlib returns with output space left.
      if (!z.outFull) return this.#out.subarray(0, o);
      const next = new Uint8Array(this.#out.length * 2);
      next.set(this.#out.subarray(0, o));
      this.#out = next;
    }
  }

  protected override release(): void {
    this.#deflate.close();
    this.#inflate.close();
  }
}
