import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { crc32Ieee, md5 } from "../../lib/internal/hash.ts";
import { defaultNodeId } from "../../lib/nsqd/options.ts";

const enc = new TextEncoder();

Deno.test("md5 and crc32Ieee match node:crypto and node:zlib at every length up to 200", () => {
  for (let n = 0; n <= 200; n++) {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = (i * 131 + n) & 0xff;
    assert.deepEqual(md5(data), new Uint8Array(createHash("md5").update(data).digest()));
    assert.equal(crc32Ieee(data), crc32(data));
  }
  assert.equal(
    Array.from(md5(enc.encode("abc")), (b) => b.toString(16).padStart(2, "0")).join(""),
    "900150983cd24fb0d6963f7d28e17f72",
  );
  assert.equal(crc32Ieee(enc.encode("123456789")), 0xcbf43926);
});

Deno.test("defaultNodeId: Go's crc32(md5(hostname)) % 1024", () => {
  for (const h of ["", "localhost", "nsqd-1.example.com", "höst"]) {
    const want = crc32(createHash("md5").update(enc.encode(h)).digest()) % 1024;
    assert.equal(defaultNodeId(h), want);
  }
});
