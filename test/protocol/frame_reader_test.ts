/**
 * lib/protocol/frame_reader.ts: frames split at every byte boundary, many frames in one read, a
 * frame larger than the buffer (growth, then shrinking back), takeBuffered at an upgrade, end of
 * stream, and invalid sizes and types.
 */
import assert from "node:assert/strict";
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { encodeFrame } from "../../lib/protocol/frame_writer.ts";
import type { Transport } from "../../lib/protocol/transport.ts";

/** A transport that hands out the given chunks, one per read (split to the reader's space). */
function chunks(parts: Uint8Array[]): Transport & { reads: number } {
  const queue = [...parts];
  const t = {
    reads: 0,
    read(p: Uint8Array): Promise<number | null> {
      t.reads++;
      const next = queue.shift();
      if (next === undefined) return Promise.resolve(null);
      const n = Math.min(p.length, next.length);
      p.set(next.subarray(0, n));
      if (n < next.length) queue.unshift(next.subarray(n));
      return Promise.resolve(n);
    },
    write: (p: Uint8Array) => Promise.resolve(p.length),
    close() {},
  };
  return t;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function readAll(r: FrameReader): Promise<[number, string][]> {
  const out: [number, string][] = [];
  while (await r.readFrame()) out.push([r.frameType, new TextDecoder().decode(r.frameData)]);
  return out;
}

Deno.test("frame_reader: frames split at every boundary and many per read", async () => {
  const frames = [
    encodeFrame(0, "OK"),
    encodeFrame(1, "E_INVALID x"),
    encodeFrame(0, "_heartbeat_"),
  ];
  const all = concat(frames);
  const want: [number, string][] = [[0, "OK"], [1, "E_INVALID x"], [0, "_heartbeat_"]];
  for (let cut = 1; cut < all.length; cut++) {
    const r = new FrameReader(chunks([all.subarray(0, cut), all.subarray(cut)]));
    assert.deepEqual(await readAll(r), want, `cut at ${cut}`);
  }
  const bytewise = new FrameReader(chunks([...all].map((b) => Uint8Array.of(b))));
  assert.deepEqual(await readAll(bytewise), want);
  const one = chunks([all]);
  const r = new FrameReader(one);
  assert.equal(await r.fill(), true);
  let n = 0;
  while (r.next()) n++;
  assert.equal(n, 3);
  assert.equal(one.reads, 1);
});

Deno.test("frame_reader: a frame larger than the buffer, then small ones again", async () => {
  const big = new Uint8Array(1_000_000).map((_, i) => i & 0xff);
  const parts = [encodeFrame(2, big), encodeFrame(0, "after")];
  const all = concat(parts);
  const split: Uint8Array[] = [];
  for (let i = 0; i < all.length; i += 10_000) split.push(all.subarray(i, i + 10_000));
  const r = new FrameReader(chunks(split));
  assert.equal(await r.readFrame(), true);
  assert.equal(r.frameType, 2);
  assert.deepEqual(r.frameData, big);
  assert.equal(await r.readFrame(), true);
  assert.equal(new TextDecoder().decode(r.frameData), "after");
  assert.equal(await r.readFrame(), false);
});

Deno.test("frame_reader: takeBuffered hands over the bytes behind the last frame", async () => {
  const tail = Uint8Array.of(0xff, 6, 0, 0, 0x73);
  const r = new FrameReader(chunks([concat([encodeFrame(0, "{}"), tail])]));
  assert.equal(await r.readFrame(), true);
  assert.equal(r.buffered, tail.length);
  assert.deepEqual(r.takeBuffered(), tail);
  assert.equal(r.buffered, 0);
});

Deno.test("frame_reader: invalid size or type throws RangeError", async () => {
  const tooSmall = Uint8Array.of(0, 0, 0, 2, 0, 0, 0, 0);
  await assert.rejects(() => new FrameReader(chunks([tooSmall])).readFrame(), RangeError);
  const tooBig = Uint8Array.of(0, 0, 0, 200, 0, 0, 0, 0);
  await assert.rejects(() => new FrameReader(chunks([tooBig]), 100).readFrame(), RangeError);
  const badType = encodeFrame(7, "x");
  await assert.rejects(() => new FrameReader(chunks([badType])).readFrame(), /frame type 7/);
});
