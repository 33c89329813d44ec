import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import zlib from "node:zlib";
import { UnsnappyStream } from "snappystream";
import { DeflateTransport, SnappyTransport } from "../../lib/protocol/compress.ts";
import { SnappyFrameDecoder, SnappyFrameEncoder } from "../../lib/protocol/snappy.ts";
import { type Transport, writeAll } from "../../lib/protocol/transport.ts";
import { memoryPipe, messageBytes, randomBytes, readAll, readN, tcpPair } from "./_helpers.ts";
import { concat } from "../_util/wire.ts";

const inflateSync = (p: Uint8Array) =>
  new Uint8Array(zlib.inflateRawSync(p, { finishFlush: zlib.constants.Z_SYNC_FLUSH }));

async function unsnappy(framed: Uint8Array): Promise<Uint8Array> {
  const un = new UnsnappyStream(true);
  const out: Uint8Array[] = [];
  const done = new Promise<void>((resolve, reject) => {
    un.on("data", (c: Uint8Array) => out.push(new Uint8Array(c)));
    un.on("end", resolve);
    un.on("error", reject);
  });
  un.end(Buffer.from(framed));
  await done;
  return concat(out);
}

/** Streams `data` through `writer` in 16 KB writes while `reader` reads it back. */
async function roundTrip(writer: Transport, reader: Transport, data: Uint8Array, readSize = 4096) {
  const got = readN(reader, data.length, readSize);
  for (let i = 0; i < data.length; i += 16384) {
    const p = data.subarray(i, i + 16384);
    assert.equal(await writer.write(p), p.length);
  }
  assert.deepEqual(await got, data);
}

Deno.test("SnappyTransport: writes are complete framed streams npm:snappystream decodes", async () => {
  const [a, b] = memoryPipe(1000); // short inner writes: the transport must loop
  const t = new SnappyTransport(a);
  const inputs = [new TextEncoder().encode("OK"), messageBytes(40_000), randomBytes(70_000)];
  for (const p of inputs) {
    const before = a.written.length;
    assert.equal(await t.write(p), p.length);
    // Everything this write produced is already with the inner transport and decodable.
    const dec = new SnappyFrameDecoder();
    dec.push(concat(a.written));
    let n = 0;
    for (let c = dec.next(); c; c = dec.next()) n += c.length;
    assert.equal(dec.buffered, 0);
    assert.ok(a.written.length > before);
    assert.equal(n, inputs.slice(0, inputs.indexOf(p) + 1).reduce((s, x) => s + x.length, 0));
  }
  assert.deepEqual(await unsnappy(concat(a.written)), concat(inputs));
  t.close();
  t.close();
  assert.ok(a.closed);
  assert.equal((await readAll(b)).length, concat(a.written).length, "peer sees the end");
});

Deno.test("SnappyTransport: reads a framed stream in small pieces, with initial bytes", async () => {
  const data = concat([messageBytes(100_000), randomBytes(50_000)]);
  const enc = new SnappyFrameEncoder();
  const first = enc.encode(data.subarray(0, 70_000)).slice();
  const framed = concat([first, enc.encode(data.subarray(70_000))]);
  const [a, b] = memoryPipe(777);
  // The connection had already read the first 25 bytes of the compressed stream.
  const t = new SnappyTransport(a, framed.subarray(0, 25));
  const reading = readAll(t, 100);
  await writeAll(b, framed.subarray(25));
  b.closeWrite();
  assert.deepEqual(await reading, data);
  t.close();
  b.close();
});

Deno.test("SnappyTransport: both ends over a pipe, 1 MB each way", async () => {
  const [a, b] = memoryPipe();
  const ta = new SnappyTransport(a);
  const tb = new SnappyTransport(b);
  const ab = messageBytes(1 << 20);
  const ba = randomBytes(1 << 20);
  await Promise.all([roundTrip(ta, tb, ab, 65536), roundTrip(tb, ta, ba, 1000)]);
  ta.close();
  tb.close();
});

Deno.test("compressing transports serialize overlapping writes", async () => {
  for (
    const make of [
      (t: Transport) => new SnappyTransport(t),
      (t: Transport) => new DeflateTransport(t),
    ]
  ) {
    const [a, b] = memoryPipe(100);
    const ta = make(a);
    const tb = make(b);
    const parts = [messageBytes(30_000, 1), randomBytes(20_000), messageBytes(30_000, 9)];
    const reading = readN(tb, 80_000);
    assert.deepEqual(await Promise.all(parts.map((p) => ta.write(p))), [30_000, 20_000, 30_000]);
    assert.deepEqual(await reading, concat(parts));
    ta.close();
    tb.close();
    await assert.rejects(ta.write(parts[0]), Deno.errors.BadResource);
  }
});

Deno.test("SnappyTransport: corrupt and truncated input reject the read", async () => {
  const [a, b] = memoryPipe();
  const t = new SnappyTransport(a);
  const framed = new SnappyFrameEncoder().encode(new TextEncoder().encode("hello")).slice();
  framed[framed.length - 1] ^= 1;
  await writeAll(b, framed);
  await assert.rejects(t.read(new Uint8Array(100)), TypeError);
  t.close();
  b.close();

  const [c, d] = memoryPipe();
  const t2 = new SnappyTransport(c);
  await writeAll(d, framed.subarray(0, 14));
  d.closeWrite();
  await assert.rejects(t2.read(new Uint8Array(100)), /truncated/);
  t2.close();
  d.close();
});

Deno.test("DeflateTransport: each write ends in a sync flush that zlib inflates", async () => {
  const [a, b] = memoryPipe(999);
  const t = new DeflateTransport(a, undefined, 6);
  const inputs = [new TextEncoder().encode("OK"), messageBytes(40_000), randomBytes(70_000)];
  let sent: Uint8Array = new Uint8Array(0);
  for (const p of inputs) {
    assert.equal(await t.write(p), p.length);
    const wire = concat(a.written);
    assert.deepEqual(Array.from(wire.subarray(wire.length - 4)), [0x00, 0x00, 0xff, 0xff]);
    sent = concat([sent, p]);
    assert.deepEqual(inflateSync(wire), sent);
  }
  assert.equal(await t.write(new Uint8Array(0)), 0);
  t.close();
  b.close();
});

Deno.test("DeflateTransport: reads what node:zlib deflates, in pieces, with initial bytes", async () => {
  const data = concat([messageBytes(200_000), randomBytes(30_000)]);
  // A peer that sync-flushes after each message batch, like go-nsq's flate writer.
  const z = zlib.createDeflateRaw({ level: 9 });
  const wire: Uint8Array[] = [];
  z.on("data", (c: Uint8Array) => wire.push(new Uint8Array(c)));
  for (let i = 0; i < data.length; i += 5000) {
    z.write(data.subarray(i, i + 5000));
    await new Promise<void>((resolve) => z.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  }
  z.close();
  const compressed = concat(wire);
  const [a, b] = memoryPipe(3000);
  const t = new DeflateTransport(a, compressed.subarray(0, 10));
  const reading = readAll(t, 333);
  await writeAll(b, compressed.subarray(10));
  b.closeWrite();
  assert.deepEqual(await reading, data);
  t.close();
  b.close();
});

Deno.test("DeflateTransport: both ends over a pipe at every level, and end of deflate stream", async () => {
  for (const level of [1, 6, 9]) {
    const [a, b] = memoryPipe();
    const ta = new DeflateTransport(a, undefined, level);
    const tb = new DeflateTransport(b, undefined, level);
    await Promise.all([
      roundTrip(ta, tb, messageBytes(300_000), 65536),
      roundTrip(tb, ta, randomBytes(100_000), 100),
    ]);
    ta.close();
    tb.close();
  }
  // A complete deflate stream (final block) followed by garbage ends the stream.
  const [a, b] = memoryPipe();
  const t = new DeflateTransport(a);
  const reading = readAll(t);
  await writeAll(
    b,
    concat([zlib.deflateRawSync(new TextEncoder().encode("bye")), randomBytes(10)]),
  );
  assert.equal(new TextDecoder().decode(await reading), "bye");
  t.close();
  b.close();
  assert.throws(() => new DeflateTransport(memoryPipe()[0], undefined, 10), RangeError);
});

Deno.test("DeflateTransport: corrupt input rejects the read", async () => {
  const [a, b] = memoryPipe();
  const t = new DeflateTransport(a);
  await writeAll(b, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x12, 0x34]));
  await assert.rejects(t.read(new Uint8Array(100)), TypeError);
  await assert.rejects(t.read(new Uint8Array(100)), TypeError);
  t.close();
  b.close();
});

Deno.test("compressing transports over real loopback TCP sockets", async () => {
  const [server, client] = await tcpPair();
  const data = messageBytes(500_000);
  const s = new SnappyTransport(server);
  const c = new SnappyTransport(client);
  await Promise.all([roundTrip(s, c, data), roundTrip(c, s, data.subarray(0, 100_000))]);
  s.close();
  c.close();

  const [server2, client2] = await tcpPair();
  const s2 = new DeflateTransport(server2);
  const c2 = new DeflateTransport(client2);
  await Promise.all([roundTrip(s2, c2, data), roundTrip(c2, s2, data.subarray(0, 100_000))]);
  s2.close();
  assert.equal(await c2.read(new Uint8Array(10)), null);
  c2.close();
});
