/**
 * nsqd's snappy and deflate upgrades end to end (docs/nsqd.md#identify-and-upgrades): alone and on
 * top of TLS, with codecs independent of lib/ (npm:snappystream, node:zlib), small and 1 MB
 * messages, deflate levels against --max-deflate-level, the both-compressions error, --snappy=false
 * / --deflate=false, and what /stats reports.
 */
import assert from "node:assert/strict";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import {
  type IdentifyResponse,
  mixedBody,
  pubSubRoundTrip,
  UpgradeConn,
} from "../_util/upgrade_client.ts";
import { waitFor } from "../_util/wait.ts";
import type { NsqdOptions } from "../../lib/nsqd/options.ts";

const DIR = new URL("../_fixtures/certs/", import.meta.url);
const path = (name: string) => new URL(name, DIR).pathname;
const CA = Deno.readTextFileSync(new URL("ca.pem", DIR));
const TLS: Partial<NsqdOptions> = { tlsCert: path("server.pem"), tlsKey: path("server.key") };

const utf8 = (s: string) => new TextEncoder().encode(s);

/** A connection that negotiated `fields`, asserting nsqd granted what `want` lists. */
async function upgraded(
  s: TestNsqd,
  fields: Record<string, unknown>,
  want: Partial<IdentifyResponse>,
): Promise<UpgradeConn> {
  const c = await UpgradeConn.connect(s.tcpAddress);
  try {
    const resp = await c.negotiate(fields, { ca: CA });
    for (const [k, v] of Object.entries(want)) {
      assert.equal(resp[k as keyof IdentifyResponse], v, `${k} for ${JSON.stringify(fields)}`);
    }
    return c;
  } catch (err) {
    await c.close();
    throw err;
  }
}

/** PUB/SUB/RDY/FIN of 10 B and 1 MB over two connections negotiated with `fields`. */
async function roundTrip(
  s: TestNsqd,
  fields: Record<string, unknown>,
  want: Partial<IdentifyResponse>,
): Promise<void> {
  const topic = uniqueName("cmp");
  await using pub = await upgraded(s, fields, want);
  await using sub = await upgraded(s, fields, want);
  await pubSubRoundTrip(pub, sub, topic, "ch", [utf8("0123456789"), mixedBody(1024 * 1024)]);
  // Many frames per flush both ways: MPUB of 100, delivered with RDY 100.
  const bodies = Array.from({ length: 100 }, (_, i) => utf8(`message ${i} `.repeat(10)));
  await pub.mpub(topic, bodies);
  await pub.expectResponse("OK");
  await sub.rdy(100);
  for (let i = 0; i < 100; i++) {
    const m = await sub.expectMessage();
    assert.deepEqual(m.body, bodies[i]);
    await sub.fin(m.id);
  }
  const ch = s.nsqd.getTopic(topic).getChannel("ch");
  await waitFor(() => ch.inFlightCount === 0 && ch.depth === 0, { message: "all FINed" });
  assert.equal(ch.messageCount, 102);
}

Deno.test("compression: snappy alone carries 10 B and 1 MB messages", async () => {
  await using s = await startNsqd();
  await roundTrip(s, { snappy: true }, { snappy: true, deflate: false, tls_v1: false });
});

Deno.test("compression: deflate alone at levels 1 and 9, capped by --max-deflate-level", async () => {
  await using s6 = await startNsqd();
  await roundTrip(s6, { deflate: true, deflate_level: 1 }, { deflate: true, deflate_level: 1 });
  await roundTrip(s6, { deflate: true, deflate_level: 9 }, { deflate: true, deflate_level: 6 });
  await using s9 = await startNsqd({ maxDeflateLevel: 9 });
  await roundTrip(s9, { deflate: true, deflate_level: 9 }, {
    deflate: true,
    deflate_level: 9,
    max_deflate_level: 9,
  });
});

Deno.test("compression: deflate levels as nsqd negotiates and reports them", async () => {
  await using s = await startNsqd({ maxDeflateLevel: 3 });
  const cases: [Record<string, unknown>, number, boolean][] = [
    [{ deflate: true }, 3, true], // 0 → 6, capped at 3
    [{ deflate: true, deflate_level: 2 }, 2, true],
    [{ deflate: true, deflate_level: 9 }, 3, true],
    [{ deflate_level: 1 }, 3, false], // not negotiated: 6 capped, reported all the same
    [{}, 3, false],
  ];
  for (const [fields, level, deflate] of cases) {
    await using c = await upgraded(s, fields, {
      deflate,
      deflate_level: level,
      max_deflate_level: 3,
    });
    await c.pub(uniqueName("cmp"), "x");
    await c.expectResponse("OK");
    const client = [...s.nsqd.clients.values()].at(-1)!; // the newest connection
    assert.equal(client.deflate, deflate, JSON.stringify(fields));
    if (deflate) assert.equal(client.deflateLevel, level);
  }
});

Deno.test("compression: TLS + snappy carries 10 B and 1 MB messages", async () => {
  await using s = await startNsqd(TLS);
  await roundTrip(s, { tls_v1: true, snappy: true }, { tls_v1: true, snappy: true });
});

Deno.test("compression: TLS + deflate carries 10 B and 1 MB messages", async () => {
  await using s = await startNsqd(TLS);
  await roundTrip(s, { tls_v1: true, deflate: true, deflate_level: 5 }, {
    tls_v1: true,
    deflate: true,
    deflate_level: 5,
  });
});

Deno.test("compression: asking for snappy and deflate is E_IDENTIFY_FAILED, before any JSON", async () => {
  await using s = await startNsqd(TLS);
  for (const fields of [{}, { tls_v1: true }]) {
    await using c = await UpgradeConn.connect(s.tcpAddress);
    await c.identify({ feature_negotiation: true, snappy: true, deflate: true, ...fields });
    await c.expectError("E_IDENTIFY_FAILED cannot enable both deflate and snappy compression");
    await c.expectClosed();
  }
  // Without feature negotiation nothing is negotiated, so there is no conflict.
  await using c = await UpgradeConn.connect(s.tcpAddress);
  await c.identify({ snappy: true, deflate: true });
  await c.expectResponse("OK");
  await c.pub(uniqueName("cmp"), "x");
  await c.expectResponse("OK");
});

Deno.test("compression: --snappy=false / --deflate=false answer false and do not upgrade", async () => {
  await using noSnappy = await startNsqd({ snappy: false });
  await using noDeflate = await startNsqd({ deflate: false });
  const cases: [TestNsqd, Record<string, unknown>, Partial<IdentifyResponse>][] = [
    [noSnappy, { snappy: true }, { snappy: false, deflate: false }],
    [noDeflate, { deflate: true, deflate_level: 1 }, { snappy: false, deflate: false }],
    // The disabled one drops out, so asking for both is no longer a conflict.
    [noSnappy, { snappy: true, deflate: true }, { snappy: false, deflate: true }],
    [noDeflate, { snappy: true, deflate: true }, { snappy: true, deflate: false }],
  ];
  for (const [s, fields, want] of cases) {
    await using pub = await upgraded(s, fields, want);
    await using sub = await upgraded(s, fields, want);
    await pubSubRoundTrip(pub, sub, uniqueName("cmp"), "ch", [utf8("hi")]);
    const clients = [...s.nsqd.clients.values()];
    assert.ok(clients.every((c) => c.snappy === want.snappy && c.deflate === want.deflate));
  }
});

Deno.test("compression: /stats shows snappy and deflate per client", async () => {
  await using s = await startNsqd({ ...TLS, httpAddress: "127.0.0.1:0" });
  const topic = uniqueName("cmp");
  await using snappy = await upgraded(s, { snappy: true }, { snappy: true });
  await using deflate = await upgraded(s, { deflate: true }, { deflate: true });
  await using both = await upgraded(s, { tls_v1: true, deflate: true }, { deflate: true });
  for (const c of [snappy, deflate, both]) {
    await c.sub(topic, "ch");
    await c.expectResponse("OK");
  }
  const stats = await (await fetch(`http://${s.httpAddress}/stats?format=json&topic=${topic}`))
    .json();
  const clients: { remote_address: string; snappy: boolean; deflate: boolean; tls: boolean }[] =
    stats.topics[0].channels[0].clients;
  const get = (c: UpgradeConn) => clients.find((x) => x.remote_address === c.localAddr)!;
  assert.deepEqual(
    [get(snappy), get(deflate), get(both)].map((c) => [c.snappy, c.deflate, c.tls]),
    [[true, false, false], [false, true, false], [false, true, true]],
  );
});

/** A snappy framing-format chunk: type, 3-byte little-endian length, payload. */
function snappyChunk(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  out[0] = type;
  out[1] = payload.length & 0xff;
  out[2] = (payload.length >> 8) & 0xff;
  out[3] = payload.length >> 16;
  out.set(payload, 4);
  return out;
}

Deno.test("compression: nsqd skips snappy padding and skippable chunks", async () => {
  await using s = await startNsqd(TLS);
  const topic = uniqueName("cmp");
  for (const fields of [{ snappy: true }, { tls_v1: true, snappy: true }]) {
    await using c = await upgraded(s, fields, { snappy: true });
    await c.pub(topic, "before");
    await c.expectResponse("OK");
    await c.sendBelowCompression(snappyChunk(0xfe, new Uint8Array(100))); // padding
    await c.sendBelowCompression(snappyChunk(0x80, utf8("skippable, reserved"))); // skippable
    await c.sendBelowCompression(snappyChunk(0xfd, new Uint8Array(0))); // empty skippable
    await c.pub(topic, "after");
    await c.expectResponse("OK");
  }
  assert.equal(s.nsqd.getTopic(topic).messageCount, 4);
});

Deno.test("compression: a corrupt compressed stream closes that connection only", async () => {
  await using s = await startNsqd(TLS);
  const topic = uniqueName("cmp");
  await using bystander = await upgraded(s, { tls_v1: true, deflate: true }, { deflate: true });
  const badChecksum = new Uint8Array(4 + 6);
  badChecksum.set(utf8("NOP\nNO"), 4); // CRC field left 0: wrong
  const corrupt: [string, Record<string, unknown>, Uint8Array][] = [
    ["snappy unskippable chunk", { snappy: true }, snappyChunk(0x02, utf8("NOP\n"))],
    ["snappy bad checksum", { snappy: true }, snappyChunk(0x01, badChecksum)],
    ["snappy chunk too long", { snappy: true }, snappyChunk(0x00, new Uint8Array(70000))],
    ["deflate reserved block type", { deflate: true }, Uint8Array.of(0x07, 0xff, 0xff, 0xff)],
    ["tls+snappy garbage", { tls_v1: true, snappy: true }, utf8("garbage garbage")],
    ["tls+deflate garbage", { tls_v1: true, deflate: true }, Uint8Array.of(0xff, 0xff, 0xff)],
  ];
  for (const [name, fields, bytes] of corrupt) {
    await using c = await upgraded(s, fields, {});
    await c.pub(topic, name);
    await c.expectResponse("OK");
    await c.sendBelowCompression(bytes);
    try {
      await c.expectClosed();
    } catch (err) {
      throw new Error(`${name}: ${(err as Error).message}`);
    }
  }
  await waitFor(() => s.nsqd.clients.size === 1, { message: "only the bystander left" });
  await bystander.pub(topic, "still served");
  await bystander.expectResponse("OK");
  assert.equal(s.nsqd.getTopic(topic).messageCount, corrupt.length + 1);
});

Deno.test("compression: heartbeats arrive compressed and NOP answers them", async () => {
  await using s = await startNsqd(TLS);
  const topic = uniqueName("cmp");
  const hb = { heartbeat_interval: 1000 };
  await using a = await upgraded(s, { ...hb, snappy: true }, { snappy: true });
  await using b = await upgraded(s, { ...hb, tls_v1: true, deflate: true }, { deflate: true });
  for (const c of [a, b]) {
    await c.sub(topic, "ch");
    await c.expectResponse("OK");
  }
  await Promise.all([a, b].map((c) => c.expectResponse("_heartbeat_", 3000)));
  for (const c of [a, b]) await c.nop();
  // Still alive and delivering after the heartbeat.
  for (const c of [a, b]) await c.rdy(1);
  await using p = await upgraded(s, { snappy: true }, { snappy: true });
  await p.mpub(topic, ["one", "two"]);
  await p.expectResponse("OK");
  const bodies = await Promise.all([a, b].map(async (c) => {
    const m = await c.expectMessage();
    await c.fin(m.id);
    return new TextDecoder().decode(m.body);
  }));
  assert.deepEqual(bodies.sort(), ["one", "two"]);
});

Deno.test("compression: clients leaving abruptly, and nsqd closing under upgraded clients", async () => {
  const s = await startNsqd(TLS);
  try {
    const topic = uniqueName("cmp");
    const kinds = [{ snappy: true }, { deflate: true }, { tls_v1: true }, {
      tls_v1: true,
      snappy: true,
    }, { tls_v1: true, deflate: true }];
    // Abrupt close mid-delivery: nsqd forgets the client; as in NSQ its in-flight message
    // stays in flight until msg_timeout (1 s here) and is then requeued.
    for (const fields of kinds) {
      const c = await upgraded(s, { ...fields, msg_timeout: 1000 }, {});
      await c.pub(topic, "x");
      await c.expectResponse("OK");
      await c.sub(topic, "ch");
      await c.expectResponse("OK");
      await c.rdy(1);
      await c.expectMessage();
      await c.close();
    }
    await waitFor(() => s.nsqd.clients.size === 0, { message: "abrupt clients removed" });
    const ch = s.nsqd.getTopic(topic).getChannel("ch");
    await waitFor(() => ch.inFlightCount === 0 && ch.depth === kinds.length, {
      timeoutMs: 5000,
      message: "in-flight messages timed out and requeued",
    });
    assert.equal(ch.timeoutCount, kinds.length);
    // nsqd.close() with subscribed upgraded clients: resolves and closes each of them.
    const open: UpgradeConn[] = [];
    for (const fields of kinds) {
      const c = await upgraded(s, fields, {});
      open.push(c);
      await c.sub(topic, "ch2");
      await c.expectResponse("OK");
    }
    await s.close();
    for (const c of open) {
      await c.expectClosed();
      await c.close();
    }
  } finally {
    await s.close();
  }
});
