import assert from "node:assert/strict";
import {
  cutHostPort,
  dialAddress,
  formatAddr,
  joinHostPort,
  splitHostPort,
} from "../../lib/internal/net_addr.ts";

Deno.test("splitHostPort / joinHostPort", () => {
  assert.deepEqual(splitHostPort("127.0.0.1:4150"), { hostname: "127.0.0.1", port: 4150 });
  assert.deepEqual(splitHostPort(":0"), { hostname: "", port: 0 });
  assert.deepEqual(splitHostPort("[::1]:80"), { hostname: "::1", port: 80 });
  assert.throws(() => splitHostPort("localhost"), TypeError);
  assert.throws(() => splitHostPort("a:b:1"), TypeError);
  assert.throws(() => splitHostPort("a:70000"), TypeError);
  assert.throws(() => splitHostPort("a:"), TypeError);
  assert.equal(joinHostPort("::1", 4150), "[::1]:4150");
  assert.equal(joinHostPort("10.0.0.1", 4150), "10.0.0.1:4150");
});

Deno.test("dialAddress", () => {
  assert.deepEqual(dialAddress("127.0.0.1:4150"), { hostname: "127.0.0.1", port: 4150 });
  assert.deepEqual(dialAddress("[::1]:80"), { hostname: "::1", port: 80 });
  assert.deepEqual(dialAddress(":4150"), { hostname: "127.0.0.1", port: 4150 });
  assert.throws(() => dialAddress("nohost"), TypeError);
  assert.throws(() => dialAddress("h:"), TypeError);
  assert.throws(() => dialAddress("h:70000"), TypeError);
});

Deno.test("cutHostPort keeps the port text; formatAddr prints tcp, udp and unix addresses", () => {
  assert.deepEqual(cutHostPort("h:abc"), { host: "h", port: "abc" });
  assert.deepEqual(cutHostPort("[::1]:5000"), { host: "::1", port: "5000" });
  assert.throws(() => cutHostPort("::1:5000"), /too many colons/);
  assert.throws(() => cutHostPort("[::1]"), /missing port/);
  assert.equal(formatAddr({ transport: "tcp", hostname: "::1", port: 4150 }), "[::1]:4150");
  assert.equal(formatAddr({ transport: "udp", hostname: "10.0.0.1", port: 8125 }), "10.0.0.1:8125");
  assert.equal(formatAddr({ transport: "unix", path: "/tmp/nsqd.sock" }), "/tmp/nsqd.sock");
});
