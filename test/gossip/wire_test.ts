/**
 * lib/gossip's wire pieces against Go's encodings: the msgpack dialect of hashicorp/go-msgpack
 * (raw strings without str8, smallest integers, structs as maps), compound messages, LZW streams
 * written by Go's compress/lzw (LSB, 8-bit literals; vectors made with Go 1.x), the AES-GCM
 * keyring, the broadcast queue's retransmit limit and the suspicion timeout.
 */
import assert from "node:assert/strict";
import { BroadcastQueue, retransmitLimit } from "../../lib/gossip/broadcast_queue.ts";
import { crc32 } from "../../lib/gossip/crc32.ts";
import { lzwDecompress } from "../../lib/gossip/lzw.ts";
import { makeCompound, suspicionTimeout } from "../../lib/gossip/memberlist.ts";
import { asObj, bytes, decode, encode, F64, int, str } from "../../lib/gossip/msgpack.ts";
import { Keyring } from "../../lib/gossip/security.ts";
import { Suspicion } from "../../lib/gossip/suspicion.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => Uint8Array.from(s.match(/../g)!.map((x) => parseInt(x, 16)));

Deno.test("msgpack: go-msgpack's MsgpackHandle encodings", () => {
  // struct ping{SeqNo uint32; Node string} and an alive message, byte for byte as go-msgpack
  // v0.5.3 writes them (fields sorted by name)
  assert.equal(hex(encode(0, { SeqNo: 7, Node: "a" })), "0082a44e6f6465a161a55365714e6f07");
  const alive = {
    Incarnation: 1,
    Node: "n",
    Addr: new Uint8Array([127, 0, 0, 1]),
    Port: 7946,
    Meta: new Uint8Array([255]),
    Vsn: new Uint8Array([1, 5, 2, 2, 5, 4]),
  };
  assert.equal(
    hex(encode(null, alive)),
    "86a441646472a47f000001ab496e6361726e6174696f6e01a44d657461a1ffa44e6f6465a16ea4506f7274cd1f0a" +
      "a356736ea6010502020504",
  );
  // 32..65535-byte strings are raw16 (0xda), never str8 (0xd9)
  const s40 = "x".repeat(40);
  assert.equal(hex(encode(null, s40)).slice(0, 6), "da0028");
  // byte slices are raw too
  assert.equal(hex(encode(null, new Uint8Array([127, 0, 0, 1]))), "a47f000001");
  // smallest integer forms, negative ones, float64
  assert.equal(
    hex(encode(null, [127, 128, 256, 65536, -1, -33, 2 ** 32])),
    "97" + "7f" +
      "cc80" + "cd0100" + "ce00010000" + "ff" + "d0df" + "cf0000000100000000",
  );
  assert.equal(hex(encode(null, new F64(1.5))), "cb3ff8000000000000");
  // 16+ entry maps and arrays use map16/array16
  assert.equal(hex(encode(null, new Array(16).fill(0))).slice(0, 6), "dc0010");
  // the decoder reads every family back, str8 and bin included
  assert.equal(str(asObj(decode(unhex("81a14bd90161")), "m"), "K"), "a");
  assert.deepEqual([...bytes(asObj(decode(unhex("81a142c4020102")), "m"), "B")], [1, 2]);
  assert.equal(int(asObj(decode(unhex("81a149d3ffffffffffffffff")), "m"), "I"), -1);
});

Deno.test("memberlist: compound messages and CRC-32 as Go writes them", () => {
  const c = makeCompound([new Uint8Array([1, 2]), new Uint8Array([3])]);
  assert.equal(hex(c), "0702" + "0002" + "0001" + "0102" + "03");
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

Deno.test("lzw: decodes Go's compress/lzw (LSB, litWidth 8), including a full table", async () => {
  const small = lzwDecompress(
    unhex(
      "00a93c1152e48914274fa80824687061c1830947849948b1a2c58b18335a141386a3c78e203f7a0c08",
    ),
  );
  assert.equal(
    new TextDecoder().decode(small),
    "TOBEORNOTTOBEORTOBEORNOT#aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabababababababababab",
  );
  // 20 000 pseudo-random letters: widths grow to 12 bits and the table fills up
  const b64 = await Deno.readTextFile(new URL("./testdata/lzw_lsb8_20000.b64", import.meta.url));
  const big = lzwDecompress(Uint8Array.from(atob(b64.trim()), (ch) => ch.charCodeAt(0)));
  let x = 1;
  const want = new Uint8Array(20000);
  for (let i = 0; i < want.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    want[i] = 97 + ((x >>> 16) % 7);
  }
  assert.deepEqual(big, want);
  assert.throws(() => lzwDecompress(new Uint8Array([0xff, 0xff, 0xff])), RangeError);
});

Deno.test("keyring: AES-GCM seal/open, additional data, any installed key opens", async () => {
  const k1 = crypto.getRandomValues(new Uint8Array(32));
  const k2 = crypto.getRandomValues(new Uint8Array(16));
  const ring = await Keyring.create([k1]);
  const msg = new TextEncoder().encode("hello");
  const sealed = await ring.seal(msg);
  assert.equal(sealed.length, 1 + 12 + msg.length + 16);
  assert.equal(sealed[0], 1);
  assert.deepEqual(await ring.open(sealed), msg);
  const aad = new Uint8Array([10, 0, 0, 0, 34]);
  const withAad = await ring.seal(msg, aad);
  await assert.rejects(() => ring.open(withAad), RangeError);
  assert.deepEqual(await ring.open(withAad, aad), msg);
  const other = await Keyring.create([k2]);
  await assert.rejects(() => other.open(sealed), /no installed keys/);
  await other.add(k1);
  assert.deepEqual(await other.open(sealed), msg);
  await assert.rejects(() => Keyring.create([new Uint8Array(10)]), /16, 24 or 32 bytes/);
});

Deno.test("broadcast queue: retransmit limit, fewest-sent first, invalidation by node", () => {
  assert.equal(retransmitLimit(4, 5), 4);
  assert.equal(retransmitLimit(4, 50), 8);
  const q = new BroadcastQueue(() => 5, 4);
  let done = 0;
  q.queue(new Uint8Array(10), "a", () => done++);
  q.queue(new Uint8Array(10), "a", () => done++); // replaces the first
  assert.equal(done, 1);
  q.queue(new Uint8Array(10), "b");
  for (let i = 0; i < 4; i++) assert.equal(q.get(2, 100).length, 2);
  assert.equal(q.length, 0);
  assert.equal(done, 2);
  q.queue(new Uint8Array(50));
  q.queue(new Uint8Array(50));
  assert.equal(q.get(2, 60).length, 1); // only one fits
});

Deno.test("suspicion: memberlist's timeouts", () => {
  assert.equal(suspicionTimeout(5, 3, 1000), 5000);
  assert.equal(suspicionTimeout(4, 100, 1000), 8000);
  // max 30 s, min 5 s, k = 3: each confirmation shortens what is left
  assert.equal(Suspicion.remaining(0, 3, 0, 5000, 30000), 30000);
  assert.equal(Suspicion.remaining(1, 3, 0, 5000, 30000), 17500);
  assert.equal(Suspicion.remaining(3, 3, 0, 5000, 30000), 5000);
  assert.equal(Suspicion.remaining(3, 3, 2000, 5000, 30000), 3000);
});

Deno.test("broadcast queue: prune keeps the newest", () => {
  const q = new BroadcastQueue(() => 1, 4);
  for (let i = 0; i < 10; i++) q.queue(new Uint8Array([i]));
  q.prune(3);
  assert.equal(q.length, 3);
  assert.deepEqual(q.get(0, 100).map((m) => m[0]).sort(), [7, 8, 9]);
});
