/**
 * The msgpack dialect memberlist and Serf speak (hashicorp/go-msgpack's `MsgpackHandle{}` with its
 * defaults): structs are maps keyed by field name (sorted), strings and byte slices are both written as
 * the old "raw" family (fixstr, str16, str32: never str8 or bin, which old decoders reject),
 * integers in their smallest form, floats as float64. The decoder is lenient like Go's: it
 * accepts every msgpack type, and returns raw/str/bin as bytes so the reader of a field decides
 * whether it is text or binary.
 */

/** A value to encode as float64 (JS numbers that are integers are written as integers). */
export class F64 {
  constructor(readonly value: number) {}
}

/** Anything {@linkcode encode} can write. */
export type MsgValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | F64
  | MsgValue[]
  | { [key: string]: MsgValue | undefined };

const te = new TextEncoder();
const td = new TextDecoder();

/** A growable byte buffer. */
export class ByteWriter {
  buf = new Uint8Array(256);
  len = 0;
  #view = new DataView(this.buf.buffer);

  #grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
    this.#view = new DataView(b.buffer);
  }
  u8(v: number): void {
    this.#grow(1);
    this.buf[this.len++] = v;
  }
  u16(v: number): void {
    this.#grow(2);
    this.#view.setUint16(this.len, v);
    this.len += 2;
  }
  u32(v: number): void {
    this.#grow(4);
    this.#view.setUint32(this.len, v);
    this.len += 4;
  }
  u64(v: bigint): void {
    this.#grow(8);
    this.#view.setBigUint64(this.len, v);
    this.len += 8;
  }
  f64(v: number): void {
    this.#grow(8);
    this.#view.setFloat64(this.len, v);
    this.len += 8;
  }
  bytes(b: Uint8Array): void {
    this.#grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** A copy of what was written. */
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function writeRaw(w: ByteWriter, b: Uint8Array): void {
  const n = b.length;
  if (n < 32) w.u8(0xa0 | n);
  else if (n < 65536) {
    w.u8(0xda);
    w.u16(n);
  } else {
    w.u8(0xdb);
    w.u32(n);
  }
  w.bytes(b);
}

function writeUint(w: ByteWriter, v: number | bigint): void {
  if (typeof v === "bigint") {
    if (v <= 0xffffffffn) return writeUint(w, Number(v));
    w.u8(0xcf);
    w.u64(v);
    return;
  }
  if (v <= 0x7f) w.u8(v);
  else if (v <= 0xff) {
    w.u8(0xcc);
    w.u8(v);
  } else if (v <= 0xffff) {
    w.u8(0xcd);
    w.u16(v);
  } else if (v <= 0xffffffff) {
    w.u8(0xce);
    w.u32(v);
  } else {
    w.u8(0xcf);
    w.u64(BigInt(v));
  }
}

function writeInt(w: ByteWriter, v: number): void {
  if (v >= 0) return writeUint(w, v);
  if (v >= -32) w.u8(v & 0xff);
  else if (v >= -128) {
    w.u8(0xd0);
    w.u8(v & 0xff);
  } else if (v >= -32768) {
    w.u8(0xd1);
    w.u16(v & 0xffff);
  } else if (v >= -2147483648) {
    w.u8(0xd2);
    w.u32(v >>> 0);
  } else {
    w.u8(0xd3);
    w.u64(BigInt.asUintN(64, BigInt(v)));
  }
}

function writeLen(w: ByteWriter, n: number, fix: number, b16: number): void {
  if (n < 16) w.u8(fix | n);
  else if (n < 65536) {
    w.u8(b16);
    w.u16(n);
  } else {
    w.u8(b16 + 1);
    w.u32(n);
  }
}

/** Appends one value to `w`. Object fields that are `undefined` are left out. */
export function encodeInto(w: ByteWriter, v: MsgValue): void {
  if (v === null) w.u8(0xc0);
  else if (v === true) w.u8(0xc3);
  else if (v === false) w.u8(0xc2);
  else if (typeof v === "number") {
    if (Number.isInteger(v)) writeInt(w, v);
    else {
      w.u8(0xcb);
      w.f64(v);
    }
  } else if (typeof v === "bigint") writeUint(w, v);
  else if (typeof v === "string") writeRaw(w, te.encode(v));
  else if (v instanceof Uint8Array) writeRaw(w, v);
  else if (v instanceof F64) {
    w.u8(0xcb);
    w.f64(v.value);
  } else if (Array.isArray(v)) {
    writeLen(w, v.length, 0x90, 0xdc);
    for (const x of v) encodeInto(w, x);
  } else {
    // go-msgpack writes struct fields sorted by name; we do the same for every object
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    writeLen(w, keys.length, 0x80, 0xde);
    for (const k of keys) {
      writeRaw(w, te.encode(k));
      encodeInto(w, v[k]!);
    }
  }
}

/** Encodes values one after another, optionally after a leading type byte. */
export function encode(type: number | null, ...values: MsgValue[]): Uint8Array {
  const w = new ByteWriter();
  if (type !== null) w.u8(type);
  for (const v of values) encodeInto(w, v);
  return w.result();
}

/** A decoded value: raw/str/bin come back as bytes, maps as objects keyed by text. */
export type Decoded =
  | null
  | boolean
  | number
  | Uint8Array
  | Decoded[]
  | { [key: string]: Decoded };

/** Reads msgpack values from a buffer, one after another. */
export class Decoder {
  pos: number;
  readonly #b: Uint8Array;
  readonly #v: DataView;

  constructor(b: Uint8Array, pos = 0) {
    this.#b = b;
    this.#v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.pos = pos;
  }

  /** Bytes not yet consumed. */
  rest(): Uint8Array {
    return this.#b.subarray(this.pos);
  }

  #need(n: number): void {
    if (this.pos + n > this.#b.length) throw new RangeError("msgpack: unexpected end of data");
  }
  #u8(): number {
    this.#need(1);
    return this.#b[this.pos++];
  }
  #u16(): number {
    this.#need(2);
    const v = this.#v.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  #u32(): number {
    this.#need(4);
    const v = this.#v.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  #raw(n: number): Uint8Array {
    this.#need(n);
    const b = this.#b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  #arr(n: number): Decoded[] {
    const a: Decoded[] = [];
    for (let i = 0; i < n; i++) a.push(this.next());
    return a;
  }
  #map(n: number): { [key: string]: Decoded } {
    const o: { [key: string]: Decoded } = {};
    for (let i = 0; i < n; i++) {
      const k = this.next();
      const key = k instanceof Uint8Array ? td.decode(k) : String(k);
      o[key] = this.next();
    }
    return o;
  }

  /** Decodes the next value. */
  next(): Decoded {
    const b = this.#u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 256;
    if ((b & 0xf0) === 0x80) return this.#map(b & 0x0f);
    if ((b & 0xf0) === 0x90) return this.#arr(b & 0x0f);
    if ((b & 0xe0) === 0xa0) return this.#raw(b & 0x1f);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
      case 0xd9:
        return this.#raw(this.#u8());
      case 0xc5:
      case 0xda:
        return this.#raw(this.#u16());
      case 0xc6:
      case 0xdb:
        return this.#raw(this.#u32());
      case 0xca: {
        this.#need(4);
        const v = this.#v.getFloat32(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xcb: {
        this.#need(8);
        const v = this.#v.getFloat64(this.pos);
        this.pos += 8;
        return v;
      }
      case 0xcc:
        return this.#u8();
      case 0xcd:
        return this.#u16();
      case 0xce:
        return this.#u32();
      case 0xcf: {
        this.#need(8);
        const v = this.#v.getBigUint64(this.pos);
        this.pos += 8;
        return Number(v);
      }
      case 0xd0:
        return (this.#u8() << 24) >> 24;
      case 0xd1:
        return (this.#u16() << 16) >> 16;
      case 0xd2:
        return this.#u32() | 0;
      case 0xd3: {
        this.#need(8);
        const v = this.#v.getBigInt64(this.pos);
        this.pos += 8;
        return Number(v);
      }
      case 0xdc:
        return this.#arr(this.#u16());
      case 0xdd:
        return this.#arr(this.#u32());
      case 0xde:
        return this.#map(this.#u16());
      case 0xdf:
        return this.#map(this.#u32());
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8: {
        this.#u8();
        return this.#raw(1 << (b - 0xd4));
      }
      case 0xc7:
      case 0xc8:
      case 0xc9: {
        const n = b === 0xc7 ? this.#u8() : b === 0xc8 ? this.#u16() : this.#u32();
        this.#u8();
        return this.#raw(n);
      }
    }
    throw new RangeError(`msgpack: unknown type byte 0x${b.toString(16)}`);
  }
}

/** Decodes one value from `b`. */
export function decode(b: Uint8Array): Decoded {
  return new Decoder(b).next();
}

// ---- field readers: how a struct field is read back, whatever encoding the sender chose -------

type Obj = { [key: string]: Decoded };

/** The map at the top of a decoded struct (throws if it is not one). */
export function asObj(v: Decoded, what: string): Obj {
  if (v === null || typeof v !== "object" || v instanceof Uint8Array || Array.isArray(v)) {
    throw new TypeError(`msgpack: ${what} is not a map`);
  }
  return v;
}

/** A text field ("" when absent). */
export function str(o: Obj, k: string): string {
  const v = o[k];
  return v instanceof Uint8Array ? td.decode(v) : v == null ? "" : String(v);
}

/** A byte-slice field (empty when absent). */
export function bytes(o: Obj, k: string): Uint8Array {
  const v = o[k];
  if (v instanceof Uint8Array) return v.slice();
  if (Array.isArray(v)) return Uint8Array.from(v as number[]);
  return new Uint8Array(0);
}

/** An integer field (0 when absent). */
export function int(o: Obj, k: string): number {
  const v = o[k];
  return typeof v === "number" ? v : 0;
}

/** A boolean field. */
export function bool(o: Obj, k: string): boolean {
  return o[k] === true;
}

/** Text of a decoded raw value. */
export function text(v: Decoded): string {
  return v instanceof Uint8Array ? td.decode(v) : v == null ? "" : String(v);
}
