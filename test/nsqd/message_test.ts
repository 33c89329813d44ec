/** Message bodies: packing deferred bodies into shared slabs, compacting views of big buffers. */
import assert from "node:assert/strict";
import { Message } from "../../lib/nsqd/message.ts";

const body = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const msg = (b: Uint8Array) => new Message("0123456789abcdef", b, 0, 0);

Deno.test("message: the body is kept as buffer, offset and length; a view of it reads the same bytes", () => {
  const block = new Uint8Array(1000).map((_, i) => i & 0xff);
  const m = msg(block.subarray(100, 300));
  assert.equal(m.bodyLength, 200);
  assert.equal(m.size, 26 + 200);
  assert.equal(m.body.buffer, block.buffer);
  assert.equal(m.body.byteOffset, 100);
  assert.deepEqual(m.body, block.subarray(100, 300));
  const out = new Uint8Array(m.size);
  assert.equal(m.writeTo(out, new DataView(out.buffer), 0), m.size);
  assert.deepEqual(out.subarray(26), block.subarray(100, 300));
  assert.deepEqual(Message.decode(out).body, block.subarray(100, 300));
});

Deno.test("message: deferred bodies of one delay class share a slab, intact", () => {
  const msgs = Array.from({ length: 50 }, (_, i) => msg(body(100 + i, i)));
  for (const m of msgs) m.packDeferred(60_000);
  for (let i = 0; i < msgs.length; i++) {
    assert.deepEqual(msgs[i].body, body(100 + i, i));
    assert.equal(msgs[i].body.buffer, msgs[0].body.buffer, "one slab");
  }
  // Packing again (another channel's copy) keeps the body where it is.
  const before = msgs[3].body;
  msgs[3].packDeferred(60_000);
  assert.equal(msgs[3].body.buffer, before.buffer);
  assert.equal(msgs[3].body.byteOffset, before.byteOffset);
});

Deno.test("message: different delay classes and large bodies do not share a slab", () => {
  const short = msg(body(200, 1));
  const long = msg(body(200, 2));
  short.packDeferred(100);
  long.packDeferred(3_600_000);
  assert.notEqual(short.body.buffer, long.body.buffer);
  assert.deepEqual(short.body, body(200, 1));
  assert.deepEqual(long.body, body(200, 2));

  // A large body is only compacted: its own buffer when it was a small view of a bigger one.
  const big = new Uint8Array(64 * 1024).fill(7);
  const large = msg(big.subarray(10, 10 + 2000));
  large.packDeferred(60_000);
  assert.equal(large.body.buffer.byteLength, 2000);
  assert.deepEqual(large.body, big.subarray(10, 10 + 2000));
  const own = body(5000, 3);
  const kept = msg(own);
  kept.packDeferred(60_000);
  assert.equal(kept.body.buffer, own.buffer, "its own buffer, not copied");
  assert.deepEqual(kept.body, own);
});

Deno.test("message: a packed body is compacted out of its slab when requeued", () => {
  const m = msg(body(200, 9));
  m.packDeferred(1000);
  const slab = m.body.buffer;
  m.compact();
  assert.notEqual(m.body.buffer, slab);
  assert.deepEqual(m.body, body(200, 9));
});
