import assert from "node:assert/strict";
import { crc32c, crc32cUpdate, maskedCrc32c } from "../../lib/protocol/crc32c.ts";
import { randomBytes } from "./_helpers.ts";

/** Bit-at-a-time reference CRC-32C. */
function reference(p: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of p) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

Deno.test("crc32c: known vectors (RFC 3720 B.4 and the check value)", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

Deno.test("crc32c: matches a bitwise reference at every length and alignment", () => {
  const buf = randomBytes(600);
  for (let off = 0; off < 8; off++) {
    for (const len of [0, 1, 3, 15, 16, 17, 63, 64, 65, 100, 127, 128, 129, 255, 256, 511]) {
      const view = buf.subarray(off, off + len);
      assert.equal(crc32c(view), reference(view), `off ${off} len ${len}`);
      assert.equal(crc32c(buf, off, off + len), reference(view), `range off ${off} len ${len}`);
    }
  }
});

Deno.test("crc32c: crc32cUpdate continues a running CRC", () => {
  const data = randomBytes(70000);
  const whole = crc32c(data);
  for (const split of [0, 1, 7, 64, 4097, 69999, 70000]) {
    assert.equal(crc32cUpdate(crc32c(data.subarray(0, split)), data.subarray(split)), whole);
  }
});

Deno.test("crc32c: masked form is the snappy framing mask", () => {
  const data = new TextEncoder().encode("123456789");
  const c = 0xe3069283;
  assert.equal(maskedCrc32c(data), (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0);
  assert.equal(maskedCrc32c(new Uint8Array(0)), 0xa282ead8);
});
