/**
 * LZW decompression as Go's compress/lzw reads it with `lzw.LSB` and a literal width of 8
 * (what memberlist's compressMsg carries): codes start 9 bits wide, 256 clears, 257 ends, the
 * width grows to at most 12 bits, and the table freezes once full until the next clear.
 */
const CLEAR = 256;
const EOF = 257;
const MAX_WIDTH = 12;
const INVALID = 0xffff;

/** Decompresses `src`; throws a RangeError on a corrupt stream. */
export function lzwDecompress(src: Uint8Array, maxOut = 20 * 1024 * 1024): Uint8Array {
  const prefix = new Uint16Array(1 << MAX_WIDTH);
  const suffix = new Uint8Array(1 << MAX_WIDTH);
  const stack = new Uint8Array(1 << MAX_WIDTH);
  let out = new Uint8Array(Math.max(64, src.length * 3));
  let o = 0;
  let width = 9;
  let hi = EOF;
  let overflow = 1 << width;
  let last = INVALID;
  let bits = 0;
  let nBits = 0;
  let p = 0;
  const push = (b: Uint8Array, from: number, to: number) => {
    const n = to - from;
    if (o + n > out.length) {
      if (o + n > maxOut) throw new RangeError("lzw: output too large");
      let size = out.length * 2;
      while (size < o + n) size *= 2;
      const g = new Uint8Array(size);
      g.set(out.subarray(0, o));
      out = g;
    }
    out.set(b.subarray(from, to), o);
    o += n;
  };
  const one = new Uint8Array(1);
  for (;;) {
    while (nBits < width) {
      if (p >= src.length) throw new RangeError("lzw: unexpected end of stream");
      bits |= src[p++] << nBits;
      nBits += 8;
    }
    const code = bits & ((1 << width) - 1);
    bits >>>= width;
    nBits -= width;
    if (code < CLEAR) {
      one[0] = code;
      push(one, 0, 1);
      if (last !== INVALID) {
        suffix[hi] = code;
        prefix[hi] = last;
      }
    } else if (code === CLEAR) {
      width = 9;
      hi = EOF;
      overflow = 1 << width;
      last = INVALID;
      continue;
    } else if (code === EOF) {
      return out.slice(0, o);
    } else if (code <= hi) {
      let c = code;
      let i = stack.length - 1;
      if (code === hi && last !== INVALID) {
        c = last;
        while (c >= CLEAR) c = prefix[c];
        stack[i--] = c;
        c = last;
      }
      while (c >= CLEAR) {
        stack[i--] = suffix[c];
        c = prefix[c];
      }
      stack[i] = c;
      push(stack, i, stack.length);
      if (last !== INVALID) {
        suffix[hi] = c;
        prefix[hi] = last;
      }
    } else {
      throw new RangeError("lzw: invalid code");
    }
    last = code;
    hi++;
    if (hi >= overflow) {
      if (width === MAX_WIDTH) {
        last = INVALID;
        hi--;
      } else {
        width++;
        overflow = 1 << width;
      }
    }
  }
}
