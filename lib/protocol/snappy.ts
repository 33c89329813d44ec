/**
 * Snappy: the block codec and the framing format nsqd speaks after IDENTIFY negotiates `snappy`
 * (golang/snappy `NewReader` / `NewWriter`, https://github.com/google/snappy/blob/main/framing_format.txt).
 *
 * A framed stream is a sequence of chunks `[type u8][length u24 LE][data]`:
 * - `0xff` stream identifier, data `sNaPpY`; must come first and may repeat;
 * - `0x00` compressed data: masked CRC-32C (u32 LE) of the uncompressed bytes, then a snappy block;
 * - `0x01` uncompressed data: masked CRC-32C, then the bytes;
 * - `0x02..0x7f` reserved unskippable (an error), `0x80..0xfe` skippable (padding is `0xfe`).
 * A data chunk holds at most 65536 uncompressed bytes.
 *
 * The block codec is our own (a port of golang/snappy's pure-Go `encodeBlock` / `decode`) rather
 * than npm:snappyjs: it compresses into and decompresses out of reusable buffers, so a framed
 * write allocates nothing; it hashes with `Math.imul` and reads 4-byte words through a DataView
 * (one load instead of four byte loads and shifts). On 16 KB batches of 200-byte messages it
 * measured ~850 MB/s encode and ~970 MB/s decode here, against ~490 / ~930 MB/s for snappyjs.
 * The tests cross-check both directions against npm:snappy (napi, the C++ codec) and
 * npm:snappystream (framing).
 *
 * @module
 */

import { maskedCrc32c } from "./crc32c.ts";

/** Largest number of uncompressed bytes in one framed data chunk. */
export const MAX_BLOCK_SIZE = 65536;

/** Upper bound of the encoded size of a block of `n` bytes (golang/snappy `MaxEncodedLen`). */
export function maxEncodedLen(n: number): number {
  return 32 + n + Math.floor(n / 6);
}

/** Largest chunk body golang/snappy's reader accepts: checksum + `maxEncodedLen(65536)`. */
const MAX_CHUNK_LEN = 4 + maxEncodedLen(MAX_BLOCK_SIZE);

const CHUNK_COMPRESSED = 0x00;
const CHUNK_UNCOMPRESSED = 0x01;
const CHUNK_STREAM_ID = 0xff;

/** The stream identifier chunk that starts every framed stream. */
export const STREAM_IDENTIFIER: Uint8Array = new Uint8Array([
  0xff,
  0x06,
  0x00,
  0x00,
  0x73,
  0x4e,
  0x61,
  0x50,
  0x70,
  0x59,
]);

// ---------------------------------------------------------------------------------------------
// Block codec

const MAX_TABLE_BITS = 14;
const INPUT_MARGIN = 16 - 1;
/** Blocks shorter than this are emitted as one literal (golang/snappy minNonLiteralBlockSize). */
const MIN_NON_LITERAL_BLOCK_SIZE = 1 + 1 + INPUT_MARGIN;

function emitLiteral(
  dst: Uint8Array,
  d: number,
  src: Uint8Array,
  start: number,
  end: number,
): number {
  const n = end - start - 1;
  if (n < 60) {
    dst[d++] = n << 2;
  } else if (n < 256) {
    dst[d++] = 60 << 2;
    dst[d++] = n;
  } else {
    // A block is at most 65536 bytes, so a two-byte length always suffices.
    dst[d++] = 61 << 2;
    dst[d++] = n & 0xff;
    dst[d++] = n >>> 8;
  }
  const len = end - start;
  if (len < 32) {
    for (let i = 0; i < len; i++) dst[d + i] = src[start + i];
  } else {
    dst.set(src.subarray(start, end), d);
  }
  return d + len;
}

function emitCopy(dst: Uint8Array, d: number, offset: number, length: number): number {
  while (length >= 68) {
    // A length-64 copy, 3 bytes.
    dst[d] = (63 << 2) | 2;
    dst[d + 1] = offset & 0xff;
    dst[d + 2] = offset >>> 8;
    d += 3;
    length -= 64;
  }
  if (length > 64) {
    // A length-60 copy, so that the remainder is at least 4.
    dst[d] = (59 << 2) | 2;
    dst[d + 1] = offset & 0xff;
    dst[d + 2] = offset >>> 8;
    d += 3;
    length -= 60;
  }
  if (length >= 12 || offset >= 2048) {
    dst[d] = ((length - 1) << 2) | 2;
    dst[d + 1] = offset & 0xff;
    dst[d + 2] = offset >>> 8;
    return d + 3;
  }
  dst[d] = ((offset >>> 8) << 5) | ((length - 4) << 2) | 1;
  dst[d + 1] = offset & 0xff;
  return d + 2;
}

/**
 * Compresses `src[start, end)` (at most 65536 bytes, at least MIN_NON_LITERAL_BLOCK_SIZE) as
 * block elements into `dst` at `d`, without the length prefix; returns the new end in `dst`.
 * Greedy LZ77 with a 4-byte hash table of positions and golang/snappy's skip heuristic (the
 * step between probes grows by one every 32 misses, so incompressible input is scanned fast).
 */
function encodeFragment(
  dst: Uint8Array,
  d: number,
  src: Uint8Array,
  start: number,
  end: number,
  table: Uint16Array,
): number {
  const len = end - start;
  let shift = 32 - 8;
  for (let size = 1 << 8; size < 1 << MAX_TABLE_BITS && size < len; size *= 2) shift--;
  const mask = (1 << (32 - shift)) - 1;
  table.fill(0, 0, mask + 1);

  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const sLimit = end - INPUT_MARGIN;
  let nextEmit = start;
  let s = start + 1;
  let nextHash = Math.imul(dv.getInt32(s, true), 0x1e35a7bd) >>> shift;

  for (;;) {
    // Probe for a 4-byte match, stepping further the longer nothing matched.
    let skip = 32;
    let nextS = s;
    let candidate = 0;
    do {
      s = nextS;
      const step = skip >> 5;
      nextS = s + step;
      skip += step;
      if (nextS > sLimit) return emitRemainder(dst, d, src, nextEmit, end);
      candidate = start + table[nextHash & mask];
      table[nextHash & mask] = s - start;
      nextHash = Math.imul(dv.getInt32(nextS, true), 0x1e35a7bd) >>> shift;
    } while (dv.getInt32(s, true) !== dv.getInt32(candidate, true));

    d = emitLiteral(dst, d, src, nextEmit, s);

    // Emit copies while the byte after each match starts another match.
    let cur: number;
    do {
      const base = s;
      s += 4;
      let i = candidate + 4;
      while (s + 4 <= end && dv.getInt32(i, true) === dv.getInt32(s, true)) {
        i += 4;
        s += 4;
      }
      for (; s < end && src[i] === src[s]; i++) s++;
      d = emitCopy(dst, d, base - candidate, s - base);
      nextEmit = s;
      if (s >= sLimit) return emitRemainder(dst, d, src, nextEmit, end);
      const prevHash = Math.imul(dv.getInt32(s - 1, true), 0x1e35a7bd) >>> shift;
      table[prevHash & mask] = s - 1 - start;
      cur = dv.getInt32(s, true);
      const curHash = Math.imul(cur, 0x1e35a7bd) >>> shift;
      candidate = start + table[curHash & mask];
      table[curHash & mask] = s - start;
    } while (cur === dv.getInt32(candidate, true));
    nextHash = Math.imul(dv.getInt32(s + 1, true), 0x1e35a7bd) >>> shift;
    s++;
  }
}

function emitRemainder(
  dst: Uint8Array,
  d: number,
  src: Uint8Array,
  nextEmit: number,
  end: number,
): number {
  return nextEmit < end ? emitLiteral(dst, d, src, nextEmit, end) : d;
}

/**
 * Encodes `src[start, end)` (at most 65536 bytes) as one snappy block (varint length, then
 * elements) into `dst` at `d`, which must have room for `maxEncodedLen(end - start)` bytes.
 * Returns the new end in `dst`. `table` is scratch space of at least 2^14 entries.
 */
function encodeBlockInto(
  dst: Uint8Array,
  d: number,
  src: Uint8Array,
  start: number,
  end: number,
  table: Uint16Array,
): number {
  let v = end - start;
  while (v >= 0x80) {
    dst[d++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  dst[d++] = v;
  if (end - start < MIN_NON_LITERAL_BLOCK_SIZE) {
    return start === end ? d : emitLiteral(dst, d, src, start, end);
  }
  return encodeFragment(dst, d, src, start, end, table);
}

/**
 * Reads a block's varint length prefix from `src[start, end)`.
 * Returns `[decodedLength, prefixLength]`; throws TypeError if the prefix is malformed.
 */
function decodedLen(src: Uint8Array, start: number, end: number): [number, number] {
  let v = 0;
  for (let i = 0; i < 5 && start + i < end; i++) {
    const b = src[start + i];
    if (i === 4 && b > 0x0f) break;
    v += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return [v, i + 1];
  }
  throw new TypeError("Snappy block is corrupt: bad length prefix");
}

/**
 * Decodes the block elements in `src[s, end)` into `dst[0, n)`, which they must fill exactly.
 * Throws TypeError on corrupt input.
 */
function decodeElements(src: Uint8Array, s: number, end: number, dst: Uint8Array, n: number) {
  let d = 0;
  while (s < end) {
    const tag = src[s];
    let length: number;
    let offset: number;
    switch (tag & 3) {
      case 0: {
        let x = tag >>> 2;
        if (x < 60) {
          s++;
        } else if (x === 60) {
          s += 2;
          if (s > end) throw corrupt();
          x = src[s - 1];
        } else if (x === 61) {
          s += 3;
          if (s > end) throw corrupt();
          x = src[s - 2] | (src[s - 1] << 8);
        } else if (x === 62) {
          s += 4;
          if (s > end) throw corrupt();
          x = src[s - 3] | (src[s - 2] << 8) | (src[s - 1] << 16);
        } else {
          s += 5;
          if (s > end) throw corrupt();
          x = (src[s - 4] | (src[s - 3] << 8) | (src[s - 2] << 16) | (src[s - 1] << 24)) >>> 0;
        }
        length = x + 1;
        if (length > n - d || length > end - s) throw corrupt();
        if (length < 32) {
          for (let i = 0; i < length; i++) dst[d + i] = src[s + i];
        } else {
          dst.set(src.subarray(s, s + length), d);
        }
        d += length;
        s += length;
        continue;
      }
      case 1:
        s += 2;
        if (s > end) throw corrupt();
        length = 4 + ((tag >>> 2) & 7);
        offset = ((tag & 0xe0) << 3) | src[s - 1];
        break;
      case 2:
        s += 3;
        if (s > end) throw corrupt();
        length = 1 + (tag >>> 2);
        offset = src[s - 2] | (src[s - 1] << 8);
        break;
      default:
        s += 5;
        if (s > end) throw corrupt();
        length = 1 + (tag >>> 2);
        offset = (src[s - 4] | (src[s - 3] << 8) | (src[s - 2] << 16) | (src[s - 1] << 24)) >>> 0;
    }
    if (offset <= 0 || d < offset || length > n - d) throw corrupt();
    if (offset >= length && length >= 32) {
      dst.copyWithin(d, d - offset, d - offset + length);
    } else {
      // Overlapping copies repeat the last `offset` bytes: copy forward byte by byte.
      for (let i = 0; i < length; i++) dst[d + i] = dst[d - offset + i];
    }
    d += length;
  }
  if (d !== n) throw corrupt();
}

function corrupt(): TypeError {
  return new TypeError("Snappy block is corrupt");
}

/** Compresses `src` (any length) into one snappy block. */
export function snappyEncodeBlock(src: Uint8Array): Uint8Array {
  if (src.length > 0xffffffff) throw new RangeError(`Snappy block too large: ${src.length}`);
  // Blocks longer than 64 KiB are encoded as consecutive 64 KiB fragments (like the C++ codec).
  const dst = new Uint8Array(maxEncodedLen(src.length));
  const table = new Uint16Array(1 << MAX_TABLE_BITS);
  let v = src.length;
  let d = 0;
  while (v >= 0x80) {
    dst[d++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  dst[d++] = v;
  for (let i = 0; i < src.length; i += MAX_BLOCK_SIZE) {
    const end = Math.min(src.length, i + MAX_BLOCK_SIZE);
    d = end - i < MIN_NON_LITERAL_BLOCK_SIZE
      ? emitLiteral(dst, d, src, i, end)
      : encodeFragment(dst, d, src, i, end, table);
  }
  return dst.slice(0, d);
}

/** Decompresses one snappy block. Throws TypeError if it is corrupt. */
export function snappyDecodeBlock(src: Uint8Array, maxLength = 0x7fffffff): Uint8Array {
  const [n, h] = decodedLen(src, 0, src.length);
  if (n > maxLength) throw new RangeError(`Snappy block decodes to ${n} bytes > ${maxLength}`);
  const dst = new Uint8Array(n);
  decodeElements(src, h, src.length, dst, n);
  return dst;
}

// ---------------------------------------------------------------------------------------------
// Framing format

/**
 * Incremental framed-snappy encoder (golang/snappy `Writer` semantics, unbuffered).
 *
 * Every `encode(p)` call emits complete chunks for all of `p` (nothing is held back), so a
 * transport can write the result and know the peer can decode everything it was given. The
 * stream identifier precedes the first chunk. Each 64 KiB slice of input becomes a compressed
 * chunk, or an uncompressed one when compression saves less than 12.5% (as golang/snappy does).
 */
export class SnappyFrameEncoder {
  #out: Uint8Array = new Uint8Array(32 * 1024);
  #table = new Uint16Array(1 << MAX_TABLE_BITS);
  #wroteHeader = false;

  /**
   * Frames `p`. Returns a view of an internal buffer, valid until the next `encode` call.
   * An empty `p` yields no bytes (not even the stream identifier).
   */
  encode(p: Uint8Array): Uint8Array {
    let o = 0;
    if (p.length === 0) return this.#out.subarray(0, 0);
    if (!this.#wroteHeader) {
      this.#out.set(STREAM_IDENTIFIER, 0);
      o = STREAM_IDENTIFIER.length;
      this.#wroteHeader = true;
    }
    for (let i = 0; i < p.length; i += MAX_BLOCK_SIZE) {
      const end = Math.min(p.length, i + MAX_BLOCK_SIZE);
      const n = end - i;
      const need = o + 8 + maxEncodedLen(n);
      if (need > this.#out.length) this.#grow(need);
      const out = this.#out;
      const checksum = maskedCrc32c(p, i, end);
      // Compress straight into place after the 8-byte chunk header and checksum.
      let type = CHUNK_COMPRESSED;
      let dataEnd = encodeBlockInto(out, o + 8, p, i, end, this.#table);
      if (dataEnd - (o + 8) >= n - (n >>> 3)) {
        type = CHUNK_UNCOMPRESSED;
        out.set(p.subarray(i, end), o + 8);
        dataEnd = o + 8 + n;
      }
      const chunkLen = dataEnd - o - 4;
      out[o] = type;
      out[o + 1] = chunkLen & 0xff;
      out[o + 2] = (chunkLen >>> 8) & 0xff;
      out[o + 3] = chunkLen >>> 16;
      out[o + 4] = checksum & 0xff;
      out[o + 5] = (checksum >>> 8) & 0xff;
      out[o + 6] = (checksum >>> 16) & 0xff;
      out[o + 7] = checksum >>> 24;
      o = dataEnd;
    }
    return this.#out.subarray(0, o);
  }

  #grow(need: number) {
    let size = this.#out.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#out);
    this.#out = next;
  }
}

/**
 * Incremental framed-snappy decoder (golang/snappy `Reader` semantics).
 *
 * Feed it bytes split anywhere with `push(bytes)`, or read straight into `spare()` and
 * `commit(n)`; then call `next()` until it returns null (more input needed). Verifies every
 * checksum, skips padding and reserved skippable chunks (of any length, without buffering
 * them), and throws TypeError for a corrupt stream or an unskippable reserved chunk (0x02-0x7f);
 * after an error the decoder stays failed.
 */
export class SnappyFrameDecoder {
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #out = new Uint8Array(MAX_BLOCK_SIZE);
  #sawHeader = false;
  /** Bytes still to discard of a skippable chunk. */
  #skip = 0;
  #error: TypeError | null = null;

  constructor(initialCapacity = 128 * 1024) {
    this.#buf = new Uint8Array(Math.max(initialCapacity, MAX_CHUNK_LEN + 4));
  }

  /** Number of framed bytes received but not yet decoded. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Appends framed bytes (copied). */
  push(p: Uint8Array): void {
    this.spare(p.length).set(p);
    this.commit(p.length);
  }

  /**
   * Returns free space of at least `min` bytes at the end of the input buffer, to read framed
   * bytes into directly; follow with `commit(n)`. The view is valid until the next call.
   */
  spare(min = 16 * 1024): Uint8Array {
    if (this.#buf.length - this.#end < min) {
      const live = this.#end - this.#start;
      if (this.#buf.length - live >= min && this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        let size = this.#buf.length * 2;
        while (size - live < min) size *= 2;
        const next = new Uint8Array(size);
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
      }
      this.#start = 0;
      this.#end = live;
    }
    return this.#buf.subarray(this.#end);
  }

  /** Marks `n` bytes written into the last `spare()` view as received. */
  commit(n: number): void {
    if (n < 0 || this.#end + n > this.#buf.length) throw new RangeError(`Bad commit length ${n}`);
    this.#end += n;
  }

  /**
   * Decodes the next non-empty data chunk. Returns a view of its bytes, valid until the next
   * call on this decoder, or null if no complete data chunk is buffered.
   */
  next(): Uint8Array | null {
    if (this.#error) throw this.#error;
    try {
      return this.#next();
    } catch (e) {
      this.#error = e instanceof TypeError ? e : new TypeError(String(e));
      throw this.#error;
    }
  }

  #next(): Uint8Array | null {
    const buf = this.#buf;
    for (;;) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, this.#end - this.#start);
        this.#skip -= n;
        this.#start += n;
        if (this.#skip > 0) return null;
      }
      const s = this.#start;
      if (this.#end - s < 4) return this.#rewindIfEmpty();
      const type = buf[s];
      const len = buf[s + 1] | (buf[s + 2] << 8) | (buf[s + 3] << 16);
      if (!this.#sawHeader && type !== CHUNK_STREAM_ID) {
        throw new TypeError("Snappy stream is corrupt: missing stream identifier");
      }
      if (type >= 0x80 && type <= 0xfe) {
        // Padding / reserved skippable chunk: discard it as it arrives.
        this.#start = s + 4;
        this.#skip = len;
        continue;
      }
      if (type >= 0x02 && type <= 0x7f) {
        throw new TypeError(`Snappy stream has an unsupported chunk type 0x${type.toString(16)}`);
      }
      if (len > MAX_CHUNK_LEN) {
        throw new TypeError(`Snappy stream has an unsupported chunk length ${len}`);
      }
      if (this.#end - s < 4 + len) return null;
      const d = s + 4;
      this.#start = d + len;
      if (type === CHUNK_STREAM_ID) {
        if (
          len !== 6 || buf[d] !== 0x73 || buf[d + 1] !== 0x4e || buf[d + 2] !== 0x61 ||
          buf[d + 3] !== 0x50 || buf[d + 4] !== 0x70 || buf[d + 5] !== 0x59
        ) {
          throw new TypeError("Snappy stream is corrupt: bad stream identifier");
        }
        this.#sawHeader = true;
        continue;
      }
      if (len < 4) throw new TypeError("Snappy stream is corrupt: short data chunk");
      const checksum = (buf[d] | (buf[d + 1] << 8) | (buf[d + 2] << 16) | (buf[d + 3] << 24)) >>> 0;
      let data: Uint8Array;
      if (type === CHUNK_COMPRESSED) {
        const [n, h] = decodedLen(buf, d + 4, d + len);
        if (n > MAX_BLOCK_SIZE) throw new TypeError("Snappy stream is corrupt: chunk too large");
        decodeElements(buf, d + 4 + h, d + len, this.#out, n);
        data = this.#out.subarray(0, n);
      } else {
        data = buf.subarray(d + 4, d + len);
        if (data.length > MAX_BLOCK_SIZE) {
          throw new TypeError("Snappy stream is corrupt: chunk too large");
        }
      }
      if (maskedCrc32c(data) !== checksum) {
        throw new TypeError("Snappy stream is corrupt: checksum mismatch");
      }
      if (data.length > 0) return data;
    }
  }

  /** With nothing buffered, restart at the front of the buffer so `spare()` rarely copies. */
  #rewindIfEmpty(): null {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return null;
  }
}
