import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import snappy from "snappy";
import { SnappyStream, UnsnappyStream } from "snappystream";
import { maskedCrc32c } from "../../lib/protocol/crc32c.ts";
import {
  MAX_BLOCK_SIZE,
  maxEncodedLen,
  snappyDecodeBlock,
  snappyEncodeBlock,
  SnappyFrameDecoder,
  SnappyFrameEncoder,
  STREAM_IDENTIFIER,
} from "../../lib/protocol/snappy.ts";
import { messageBytes, randomBytes } from "./_helpers.ts";
import { concat } from "../_util/wire.ts";

const SIZES = [0, 1, 10, 16, 17, 18, 100, 4096, 65535, 65536, 65537, 200_000];

function samples(): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  for (const n of SIZES) {
    out.push([`random ${n}`, randomBytes(n)]);
    out.push([`messages ${n}`, messageBytes(n)]);
    out.push([`zeros ${n}`, new Uint8Array(n)]);
    out.push([`period-3 ${n}`, Uint8Array.from({ length: n }, (_, i) => i % 3)]);
  }
  return out;
}

/** Decodes a whole framed stream, feeding it in pieces cut at `splits`. */
function decodeAll(framed: Uint8Array, splits: number[] = []): Uint8Array {
  const dec = new SnappyFrameDecoder();
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const at of [...splits.filter((s) => s > 0 && s < framed.length), framed.length]) {
    dec.push(framed.subarray(prev, at));
    prev = at;
    for (let c = dec.next(); c; c = dec.next()) parts.push(c.slice());
  }
  assert.equal(dec.buffered, 0, "decoder left bytes undecoded");
  return concat(parts);
}

/** Splits `s` into chunks: [type, payload] pairs. */
function chunks(framed: Uint8Array): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  for (let o = 0; o < framed.length;) {
    const len = framed[o + 1] | (framed[o + 2] << 8) | (framed[o + 3] << 16);
    out.push([framed[o], framed.subarray(o + 4, o + 4 + len)]);
    o += 4 + len;
  }
  return out;
}

function chunk(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  out[0] = type;
  out[1] = payload.length & 0xff;
  out[2] = (payload.length >> 8) & 0xff;
  out[3] = payload.length >> 16;
  out.set(payload, 4);
  return out;
}

function dataChunk(data: Uint8Array, compressed: boolean, crc = maskedCrc32c(data)): Uint8Array {
  const body = compressed ? snappyEncodeBlock(data) : data;
  const payload = new Uint8Array(4 + body.length);
  new DataView(payload.buffer).setUint32(0, crc, true);
  payload.set(body, 4);
  return chunk(compressed ? 0x00 : 0x01, payload);
}

Deno.test("snappy block: round trip, and both directions against npm:snappy (C++ codec)", () => {
  for (const [name, data] of samples()) {
    const mine = snappyEncodeBlock(data);
    assert.ok(mine.length <= maxEncodedLen(data.length), name);
    assert.deepEqual(snappyDecodeBlock(mine), data, `${name}: own round trip`);
    const theirs = snappy.uncompressSync(Buffer.from(mine), { asBuffer: true }) as Buffer;
    assert.ok(Buffer.from(data).equals(theirs), `${name}: napi decodes ours`);
    const napi = snappy.compressSync(Buffer.from(data));
    assert.deepEqual(snappyDecodeBlock(new Uint8Array(napi)), data, `${name}: we decode napi's`);
  }
});

Deno.test("snappy block: compresses repetitive data and rejects corrupt blocks", () => {
  const data = messageBytes(16384);
  assert.ok(snappyEncodeBlock(data).length < data.length / 3);
  assert.ok(snappyEncodeBlock(new Uint8Array(65536)).length < 4000);
  const good = snappyEncodeBlock(data);
  assert.throws(() => snappyDecodeBlock(good.subarray(0, good.length - 1)), TypeError);
  assert.throws(() => snappyDecodeBlock(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80])), TypeError);
  // A copy that reaches before the start of the output.
  assert.throws(() => snappyDecodeBlock(new Uint8Array([4, 0x01, 0x05])), TypeError);
  // Declared length larger than the elements produce.
  assert.throws(() => snappyDecodeBlock(new Uint8Array([5, 0x00, 0x41])), TypeError);
});

Deno.test("snappy frames: encoder writes the stream identifier once, chunks of at most 64 KiB", () => {
  const enc = new SnappyFrameEncoder();
  assert.equal(enc.encode(new Uint8Array(0)).length, 0, "empty input emits nothing");
  const first = enc.encode(messageBytes(150_000)).slice();
  assert.deepEqual(first.subarray(0, 10), STREAM_IDENTIFIER);
  const firstChunks = chunks(first);
  assert.deepEqual(firstChunks.map(([t]) => t), [0xff, 0x00, 0x00, 0x00]);
  const second = enc.encode(randomBytes(70_000)).slice();
  const secondChunks = chunks(second);
  assert.deepEqual(secondChunks.map(([t]) => t), [0x01, 0x01], "incompressible → uncompressed");
  assert.equal(secondChunks[0][1].length, 4 + MAX_BLOCK_SIZE);
  assert.deepEqual(decodeAll(concat([first, second])).length, 220_000);
});

Deno.test("snappy frames: round trips with arbitrary split points", () => {
  for (const [name, data] of samples()) {
    const framed = new SnappyFrameEncoder().encode(data).slice();
    assert.deepEqual(decodeAll(framed), data, name);
    const splits = Array.from({ length: 20 }, () => Math.floor(Math.random() * framed.length));
    splits.sort((a, b) => a - b);
    assert.deepEqual(decodeAll(framed, splits), data, `${name} split at ${splits}`);
  }
  // Byte by byte, across many writes of one encoder.
  const enc = new SnappyFrameEncoder();
  const inputs = [new TextEncoder().encode("OK"), messageBytes(1000), randomBytes(300)];
  const framed = concat(inputs.map((p) => enc.encode(p).slice()));
  assert.deepEqual(decodeAll(framed, Array.from(framed.keys())), concat(inputs));
});

Deno.test("snappy frames: 1 MB random and compressible streams", () => {
  for (const data of [randomBytes(1 << 20), messageBytes(1 << 20)]) {
    const enc = new SnappyFrameEncoder();
    const parts: Uint8Array[] = [];
    for (let i = 0; i < data.length; i += 16384) {
      parts.push(enc.encode(data.subarray(i, i + 16384)).slice());
    }
    assert.deepEqual(decodeAll(concat(parts), [1, 5000, 99_999, 500_000]), data);
  }
});

Deno.test("snappy frames: npm:snappystream decodes our stream (checksums verified)", async () => {
  const data = concat([messageBytes(100_000), randomBytes(100_000), new Uint8Array(70_000)]);
  const enc = new SnappyFrameEncoder();
  const framed: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += 30_000) {
    framed.push(enc.encode(data.subarray(i, i + 30_000)).slice());
  }
  const un = new UnsnappyStream(true);
  const out: Uint8Array[] = [];
  const done = new Promise<void>((resolve, reject) => {
    un.on("data", (c: Uint8Array) => out.push(c));
    un.on("end", resolve);
    un.on("error", reject);
  });
  for (const f of framed) un.write(Buffer.from(f));
  un.end();
  await done;
  assert.deepEqual(new Uint8Array(concat(out)), data);
});

Deno.test("snappy frames: we decode npm:snappystream's stream", async () => {
  const data = concat([messageBytes(100_000), randomBytes(100_000)]);
  const s = new SnappyStream();
  const out: Uint8Array[] = [];
  const done = new Promise<void>((resolve, reject) => {
    s.on("data", (c: Uint8Array) => out.push(new Uint8Array(c)));
    s.on("end", resolve);
    s.on("error", reject);
  });
  for (let i = 0; i < data.length; i += 25_000) s.write(Buffer.from(data.subarray(i, i + 25_000)));
  s.end();
  await done;
  const framed = concat(out);
  assert.deepEqual(decodeAll(framed, [3, 11, 12, 40_000]), data);
});

Deno.test("snappy frames: padding, skippable chunks, repeated identifiers, empty chunks", () => {
  const a = new TextEncoder().encode("hello, ");
  const b = new TextEncoder().encode("world");
  const stream = concat([
    STREAM_IDENTIFIER,
    chunk(0xfe, new Uint8Array(100)),
    dataChunk(a, true),
    chunk(0x80, randomBytes(300)),
    STREAM_IDENTIFIER,
    dataChunk(new Uint8Array(0), false),
    chunk(0xfd, new Uint8Array(0)),
    dataChunk(b, false),
  ]);
  assert.equal(new TextDecoder().decode(decodeAll(stream)), "hello, world");
  assert.equal(
    new TextDecoder().decode(decodeAll(stream, Array.from(stream.keys()))),
    "hello, world",
  );
  // A skippable chunk longer than one data chunk is skipped without being buffered.
  const big = concat([STREAM_IDENTIFIER, chunk(0x99, new Uint8Array(200_000)), dataChunk(b, true)]);
  assert.equal(new TextDecoder().decode(decodeAll(big, [50, 100_000])), "world");
});

Deno.test("snappy frames: rejects corrupt and unsupported streams", () => {
  const data = new TextEncoder().encode("some data some data some data");
  const cases: [string, Uint8Array][] = [
    ["missing stream identifier", dataChunk(data, true)],
    ["padding before the identifier", concat([chunk(0xfe, new Uint8Array(4)), STREAM_IDENTIFIER])],
    ["bad identifier", chunk(0xff, new TextEncoder().encode("sNaPpZ"))],
    ["reserved unskippable 0x02", concat([STREAM_IDENTIFIER, chunk(0x02, new Uint8Array(4))])],
    ["reserved unskippable 0x7f", concat([STREAM_IDENTIFIER, chunk(0x7f, new Uint8Array(0))])],
    ["bad checksum (compressed)", concat([STREAM_IDENTIFIER, dataChunk(data, true, 1234)])],
    ["bad checksum (uncompressed)", concat([STREAM_IDENTIFIER, dataChunk(data, false, 1234)])],
    ["short data chunk", concat([STREAM_IDENTIFIER, chunk(0x00, new Uint8Array(3))])],
    [
      "uncompressed chunk over 64 KiB",
      concat([STREAM_IDENTIFIER, dataChunk(new Uint8Array(MAX_BLOCK_SIZE + 1), false)]),
    ],
    [
      "compressed chunk over 64 KiB",
      concat([STREAM_IDENTIFIER, dataChunk(new Uint8Array(MAX_BLOCK_SIZE + 1), true)]),
    ],
    ["chunk length over the limit", concat([STREAM_IDENTIFIER, new Uint8Array([0, 0, 0, 2])])],
  ];
  for (const [name, stream] of cases) {
    const dec = new SnappyFrameDecoder();
    dec.push(stream);
    assert.throws(() => dec.next(), TypeError, name);
    assert.throws(() => dec.next(), TypeError, `${name}: stays failed`);
  }
});
