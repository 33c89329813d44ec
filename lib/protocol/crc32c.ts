/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), as used by the snappy framing format.
 *
 * Slicing-by-16: sixteen 256-entry tables let the inner loop consume 16 bytes per iteration with
 * table look-ups only. On little-endian hosts the 16 bytes are read as four aligned 32-bit words
 * through an Int32Array view (~1.9 GB/s here, against ~1.3 GB/s assembling words from bytes).
 * Short inputs and unaligned heads and tails go byte by byte with the first table.
 *
 * @module
 */

const POLY = 0x82f63b78;

/** T[k * 256 + b] is the CRC contribution of byte b followed by k zero bytes. */
const T = (() => {
  const t = new Int32Array(16 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[i];
    for (let k = 1; k < 16; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + i] = c;
    }
  }
  return t;
})();

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Below this length the word-view set-up costs more than it saves. */
const WORD_MIN = 64;

/**
 * Continues a CRC-32C over `p[start, end)` from a previous result `crc` (0 to begin).
 * Returns the CRC as an unsigned 32-bit number.
 */
export function crc32cUpdate(crc: number, p: Uint8Array, start = 0, end = p.length): number {
  const t = T;
  let c = ~crc;
  let i = start;
  if (end - i >= WORD_MIN) {
    if (LITTLE_ENDIAN) {
      // Reach a 4-byte-aligned address, then read whole words.
      while (((p.byteOffset + i) & 3) !== 0) c = t[(c ^ p[i++]) & 0xff] ^ (c >>> 8);
      const n = ((end - i) >>> 4) << 2;
      const w = new Int32Array(p.buffer, p.byteOffset + i, n);
      for (let k = 0; k < n; k += 4) {
        const a = c ^ w[k];
        const b = w[k + 1];
        const d = w[k + 2];
        const e = w[k + 3];
        c = t[3840 + (a & 0xff)] ^ t[3584 + ((a >>> 8) & 0xff)] ^ t[3328 + ((a >>> 16) & 0xff)] ^
          t[3072 + (a >>> 24)] ^ t[2816 + (b & 0xff)] ^ t[2560 + ((b >>> 8) & 0xff)] ^
          t[2304 + ((b >>> 16) & 0xff)] ^ t[2048 + (b >>> 24)] ^ t[1792 + (d & 0xff)] ^
          t[1536 + ((d >>> 8) & 0xff)] ^ t[1280 + ((d >>> 16) & 0xff)] ^ t[1024 + (d >>> 24)] ^
          t[768 + (e & 0xff)] ^ t[512 + ((e >>> 8) & 0xff)] ^ t[256 + ((e >>> 16) & 0xff)] ^
          t[e >>> 24];
      }
      i += n * 4;
    } else {
      const end16 = end - ((end - i) & 15);
      for (; i < end16; i += 16) {
        const a = c ^ (p[i] | (p[i + 1] << 8) | (p[i + 2] << 16) | (p[i + 3] << 24));
        const b = p[i + 4] | (p[i + 5] << 8) | (p[i + 6] << 16) | (p[i + 7] << 24);
        const d = p[i + 8] | (p[i + 9] << 8) | (p[i + 10] << 16) | (p[i + 11] << 24);
        const e = p[i + 12] | (p[i + 13] << 8) | (p[i + 14] << 16) | (p[i + 15] << 24);
        c = t[3840 + (a & 0xff)] ^ t[3584 + ((a >>> 8) & 0xff)] ^ t[3328 + ((a >>> 16) & 0xff)] ^
          t[3072 + (a >>> 24)] ^ t[2816 + (b & 0xff)] ^ t[2560 + ((b >>> 8) & 0xff)] ^
          t[2304 + ((b >>> 16) & 0xff)] ^ t[2048 + (b >>> 24)] ^ t[1792 + (d & 0xff)] ^
          t[1536 + ((d >>> 8) & 0xff)] ^ t[1280 + ((d >>> 16) & 0xff)] ^ t[1024 + (d >>> 24)] ^
          t[768 + (e & 0xff)] ^ t[512 + ((e >>> 8) & 0xff)] ^ t[256 + ((e >>> 16) & 0xff)] ^
          t[e >>> 24];
      }
    }
  }
  for (; i < end; i++) c = t[(c ^ p[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32C of `p[start, end)` as an unsigned 32-bit number. */
export function crc32c(p: Uint8Array, start = 0, end = p.length): number {
  return crc32cUpdate(0, p, start, end);
}

/**
 * The snappy framing format's masked CRC-32C of `p[start, end)`:
 * `((crc >>> 15) | (crc << 17)) + 0xa282ead8`, as an unsigned 32-bit number.
 */
export function maskedCrc32c(p: Uint8Array, start = 0, end = p.length): number {
  const c = crc32cUpdate(0, p, start, end);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}
