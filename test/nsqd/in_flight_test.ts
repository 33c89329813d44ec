import assert from "node:assert/strict";
import { idKey, idKeyAt, InFlightIndex } from "../../lib/nsqd/in_flight.ts";
import { Message } from "../../lib/nsqd/message.ts";

const enc = new TextEncoder();
const msg = (id: string) => new Message(id, new Uint8Array(1), 0, 0);

/** Two different 16-hex-char ids with the same idKey (birthday search, ~2^15 tries). */
function collidingIds(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0;; i++) {
    const id = (0x10000000 + i).toString(16) + "a1b2c3d4";
    const k = idKey(id);
    const other = seen.get(k);
    if (other !== undefined) return [other, id];
    seen.set(k, id);
  }
}

Deno.test("in-flight index: idKeyAt of bytes equals idKey of their text", () => {
  for (const id of ["0123456789abcdef", "\x00\xff zzzzzzzzzzzzz", "aaaaaaaaaaaaaaaa"]) {
    const buf = new Uint8Array(20);
    for (let i = 0; i < 16; i++) buf[2 + i] = id.charCodeAt(i);
    assert.equal(idKeyAt(buf, 2), idKey(id));
  }
});

Deno.test("in-flight index: add, get, getAt, duplicate ids, delete by identity", () => {
  const x = new InFlightIndex();
  const a = msg("0123456789abcdef");
  assert.equal(x.add(a), true);
  assert.equal(x.add(msg("0123456789abcdef")), false, "same id twice");
  assert.equal(x.size, 1);
  assert.equal(x.get("0123456789abcdef"), a);
  assert.equal(x.getAt(enc.encode("FIN 0123456789abcdef\n"), 4), a);
  assert.equal(x.get("0123456789abcdee"), undefined);
  assert.equal(x.getAt(enc.encode("0123456789abcdee"), 0), undefined);
  x.delete(msg("0123456789abcdef")); // another message with the id: not removed
  assert.equal(x.size, 1);
  x.delete(a);
  assert.equal(x.size, 0);
  assert.equal(x.get("0123456789abcdef"), undefined);
});

Deno.test("in-flight index: colliding keys are kept apart and found by full id", () => {
  const [id1, id2] = collidingIds();
  assert.notEqual(id1, id2);
  assert.equal(idKey(id1), idKey(id2));
  const x = new InFlightIndex();
  const m1 = msg(id1), m2 = msg(id2);
  assert.equal(x.add(m1), true);
  assert.equal(x.add(m2), true);
  assert.equal(x.add(msg(id2)), false, "duplicate of the overflowed id");
  assert.equal(x.size, 2);
  assert.equal(x.get(id1), m1);
  assert.equal(x.get(id2), m2);
  assert.equal(x.getAt(enc.encode(id2), 0), m2);
  x.delete(m1);
  assert.equal(x.get(id1), undefined);
  assert.equal(x.get(id2), m2, "found in the overflow after the primary entry left");
  assert.equal(x.getAt(enc.encode(id2), 0), m2);
  x.delete(m2);
  assert.equal(x.size, 0);
  x.add(m1);
  x.clear();
  assert.equal(x.size, 0);
});
