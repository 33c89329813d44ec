/**
 * Protocol V2 wire tests, part 1 (https://nsq.io/clients/tcp_protocol_spec.html): the magic,
 * IDENTIFY (plain and feature negotiation, every validation failure), heartbeats and the read
 * deadline, output buffering and sample_rate.
 */
import assert from "node:assert/strict";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { encodeCommand, FRAME_TYPE_ERROR, HEARTBEAT, type Msg, V2Conn } from "../_util/wire.ts";
import { expectFatal, frameWithin } from "../_util/protocol.ts";
import { waitFor } from "../_util/wait.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** `IDENTIFY\n` + a 4-byte signed size + `body`. */
function identifyRaw(size: number, body: string | Uint8Array = ""): Uint8Array {
  const b = typeof body === "string" ? enc.encode(body) : body;
  const out = new Uint8Array(9 + 4 + b.length);
  out.set(enc.encode("IDENTIFY\n"));
  new DataView(out.buffer).setInt32(9, size);
  out.set(b, 13);
  return out;
}

// ---- magic -------------------------------------------------------------------------------------

Deno.test("magic: a wrong magic gets a framed E_BAD_PROTOCOL, then the connection closes", async () => {
  await using s = await startNsqd();
  for (const magic of ["  V1", "GET ", "V2  ", "\0\0\0\0"]) {
    await using c = await V2Conn.connect(s.tcpAddress, { magic: false });
    await c.send(magic);
    const f = await c.readFrame();
    assert.equal(f.type, FRAME_TYPE_ERROR, `magic ${JSON.stringify(magic)}`);
    assert.equal(f.text, "E_BAD_PROTOCOL");
    await c.expectClosed();
  }
});

Deno.test("magic: split across writes and followed by a command in the same write both work", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using a = await V2Conn.connect(s.tcpAddress, { magic: false });
  await a.send("  ");
  await a.send("V");
  await a.send("2");
  await a.pub(topic, "x");
  await a.expectResponse("OK");
  await using b = await V2Conn.connect(s.tcpAddress, { magic: false });
  await b.send(new Uint8Array([...enc.encode("  V2"), ...encodeCommand("PUB", [topic], "y")]));
  await b.expectResponse("OK");
});

Deno.test("magic: a client that closes before sending 4 bytes is dropped quietly", async () => {
  await using s = await startNsqd();
  const c = await V2Conn.connect(s.tcpAddress, { magic: false });
  await c.send("  V");
  await c.close();
  await waitFor(() => s.nsqd.clients.size === 0);
  await using ok = await V2Conn.connect(s.tcpAddress);
  await ok.pub(uniqueName(), "still fine");
  await ok.expectResponse("OK");
});

// ---- IDENTIFY ----------------------------------------------------------------------------------

Deno.test("IDENTIFY: without feature_negotiation answers plain OK", async () => {
  await using s = await startNsqd();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({ client_id: "a", hostname: "h", user_agent: "test/1.0" });
  await c.expectResponse("OK");
  await c.identify({ feature_negotiation: false });
  await c.expectResponse("OK");
  // identify data lands on the client
  const client = [...s.nsqd.clients.values()][0];
  assert.equal(client.userAgent, "");
  await c.pub(uniqueName(), "x");
  await c.expectResponse("OK");
});

Deno.test("IDENTIFY: client_id, hostname and user_agent are stored on the client", async () => {
  await using s = await startNsqd();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({ client_id: "cid", hostname: "host.example", user_agent: "test/1.0" });
  await c.expectResponse("OK");
  const client = [...s.nsqd.clients.values()][0];
  assert.equal(client.clientId, "cid");
  assert.equal(client.hostname, "host.example");
  assert.equal(client.userAgent, "test/1.0");
});

Deno.test("IDENTIFY: feature negotiation answers the JSON object, keys in NSQ's order", async () => {
  await using s = await startNsqd();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({ feature_negotiation: true, client_id: "x" });
  const f = await c.readFrame();
  assert.equal(f.type, 0);
  // Go's json.Marshal output of nsqd's anonymous struct: compact, fixed key order
  assert.equal(
    f.text,
    '{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,' +
      '"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,' +
      '"sample_rate":0,"auth_required":false,"output_buffer_size":16384,' +
      '"output_buffer_timeout":250}',
  );
  // still usable afterwards, with no stray frame
  await c.pub(uniqueName(), "x");
  await c.expectResponse("OK");
});

Deno.test("IDENTIFY: negotiated values reflect the request and the server options", async () => {
  await using s = await startNsqd({ maxRdyCount: 100, maxMsgTimeout: 120_000 });
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({
    feature_negotiation: true,
    msg_timeout: 5000,
    sample_rate: 42,
    output_buffer_size: 1024,
    output_buffer_timeout: 100,
    // without deflate negotiated the reported level is the default 6 (capped at max 6)
    deflate_level: 9,
  });
  const f = await c.readFrame();
  const r = JSON.parse(f.text);
  assert.deepEqual(Object.keys(r), [
    "max_rdy_count",
    "version",
    "max_msg_timeout",
    "msg_timeout",
    "tls_v1",
    "deflate",
    "deflate_level",
    "max_deflate_level",
    "snappy",
    "sample_rate",
    "auth_required",
    "output_buffer_size",
    "output_buffer_timeout",
  ]);
  assert.equal(r.max_rdy_count, 100);
  assert.equal(r.version, "1.3.0");
  assert.equal(r.max_msg_timeout, 120_000);
  assert.equal(r.msg_timeout, 5000);
  assert.equal(r.tls_v1, false);
  assert.equal(r.snappy, false);
  assert.equal(r.deflate, false);
  assert.equal(r.deflate_level, 6);
  assert.equal(r.max_deflate_level, 6);
  assert.equal(r.sample_rate, 42);
  assert.equal(r.auth_required, false);
  assert.equal(r.output_buffer_size, 1024);
  assert.equal(r.output_buffer_timeout, 100);
  await c.pub(uniqueName(), "x");
  await c.expectResponse("OK");
});

Deno.test("IDENTIFY: output_buffer_size -1 reports size 1 and timeout 0; timeout -1 reports 0", async () => {
  await using s = await startNsqd();
  {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.identify({ feature_negotiation: true, output_buffer_size: -1 });
    const r = JSON.parse((await c.readFrame()).text);
    assert.equal(r.output_buffer_size, 1);
    assert.equal(r.output_buffer_timeout, 0);
  }
  {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.identify({ feature_negotiation: true, output_buffer_timeout: -1 });
    const r = JSON.parse((await c.readFrame()).text);
    assert.equal(r.output_buffer_size, 16384);
    assert.equal(r.output_buffer_timeout, 0);
  }
  {
    // boundaries are inclusive
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.identify({
      feature_negotiation: true,
      output_buffer_size: 64,
      output_buffer_timeout: 25,
      heartbeat_interval: 60_000,
      msg_timeout: 900_000,
      sample_rate: 99,
    });
    const r = JSON.parse((await c.readFrame()).text);
    assert.equal(r.output_buffer_size, 64);
    assert.equal(r.output_buffer_timeout, 25);
    assert.equal(r.msg_timeout, 900_000);
    assert.equal(r.sample_rate, 99);
  }
  {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.identify({
      feature_negotiation: true,
      output_buffer_size: 65536,
      output_buffer_timeout: 30_000,
      heartbeat_interval: 1000,
      msg_timeout: 1000,
    });
    const r = JSON.parse((await c.readFrame()).text);
    assert.equal(r.output_buffer_size, 65536);
    assert.equal(r.output_buffer_timeout, 30_000);
    assert.equal(r.msg_timeout, 1000);
  }
});

Deno.test("IDENTIFY: every field validation failure is fatal E_BAD_BODY with NSQ's text", async () => {
  await using s = await startNsqd();
  const cases: [Record<string, unknown>, string][] = [
    [{ heartbeat_interval: 999 }, "heartbeat interval (999) is invalid"],
    [{ heartbeat_interval: 60_001 }, "heartbeat interval (60001) is invalid"],
    [{ heartbeat_interval: -2 }, "heartbeat interval (-2) is invalid"],
    [{ output_buffer_timeout: 24 }, "output buffer timeout (24) is invalid"],
    [{ output_buffer_timeout: 1 }, "output buffer timeout (1) is invalid"],
    [{ output_buffer_timeout: 30_001 }, "output buffer timeout (30001) is invalid"],
    [{ output_buffer_timeout: -2 }, "output buffer timeout (-2) is invalid"],
    [{ output_buffer_size: 63 }, "output buffer size (63) is invalid"],
    [{ output_buffer_size: 65_537 }, "output buffer size (65537) is invalid"],
    [{ output_buffer_size: -2 }, "output buffer size (-2) is invalid"],
    [{ sample_rate: 100 }, "sample rate (100) is invalid"],
    [{ sample_rate: -1 }, "sample rate (-1) is invalid"],
    [{ msg_timeout: 999 }, "msg timeout (999) is invalid"],
    [{ msg_timeout: 900_001 }, "msg timeout (900001) is invalid"],
    [{ msg_timeout: -1 }, "msg timeout (-1) is invalid"],
    // order: heartbeat, then output buffer timeout, then size, then sample rate, then msg timeout
    [
      { msg_timeout: 1, sample_rate: 500, heartbeat_interval: 5 },
      "heartbeat interval (5) is invalid",
    ],
    [{ output_buffer_size: 1, output_buffer_timeout: 1 }, "output buffer timeout (1) is invalid"],
    [
      { msg_timeout: 1, sample_rate: 500, output_buffer_size: 1 },
      "output buffer size (1) is invalid",
    ],
    [{ msg_timeout: 1, sample_rate: 500 }, "sample rate (500) is invalid"],
  ];
  for (const [body, reason] of cases) {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.identify(body);
    await expectFatal(c, `E_BAD_BODY IDENTIFY ${reason}`);
  }
});

Deno.test("IDENTIFY: body size errors", async () => {
  await using s = await startNsqd({ maxBodySize: 1000 });
  const cases: [Uint8Array, string][] = [
    [identifyRaw(1001), "E_BAD_BODY IDENTIFY body too big 1001 > 1000"],
    [identifyRaw(0x7fffffff), "E_BAD_BODY IDENTIFY body too big 2147483647 > 1000"],
    [identifyRaw(0), "E_BAD_BODY IDENTIFY invalid body size 0"],
    [identifyRaw(-1), "E_BAD_BODY IDENTIFY invalid body size -1"],
    [identifyRaw(-2147483648), "E_BAD_BODY IDENTIFY invalid body size -2147483648"],
  ];
  for (const [raw, text] of cases) {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.send(raw); // no body follows: the size alone decides
    await expectFatal(c, text);
  }
  // exactly max is accepted
  await using c = await V2Conn.connect(s.tcpAddress);
  const json = JSON.stringify({ client_id: "x".repeat(1000 - 16) });
  assert.equal(json.length, 1000);
  await c.send(identifyRaw(1000, json));
  await c.expectResponse("OK");
});

Deno.test("IDENTIFY: invalid JSON and wrong JSON types fail to decode", async () => {
  await using s = await startNsqd();
  const bodies = [
    "{",
    "not json",
    "[]",
    '"str"',
    "123",
    "{} x",
    '{"heartbeat_interval":"1000"}',
    '{"feature_negotiation":"true"}',
    '{"feature_negotiation":1}',
    '{"client_id":5}',
    '{"user_agent":false}',
    '{"msg_timeout":1000.5}',
    '{"sample_rate":true}',
    '{"sample_rate":2147483648}',
    '{"output_buffer_size":[64]}',
  ];
  for (const body of bodies) {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.send(identifyRaw(enc.encode(body).length, body));
    const f = await c.expectError("E_BAD_BODY");
    assert.equal(f.text, "E_BAD_BODY IDENTIFY failed to decode JSON body", `body ${body}`);
    await c.expectClosed();
  }
});

// Go's encoding/json refuses a number with a fraction or exponent for an int field ("1000.0",
// "1e3") and an int that overflows int64 (1e20), so nsqd answers "IDENTIFY failed to decode JSON
// body" although JSON.parse would read them as integral numbers.
Deno.test({
  name: "IDENTIFY: integral floats and exponents in int fields fail to decode (Go semantics)",
  fn: async () => {
    await using s = await startNsqd();
    for (
      const body of ['{"msg_timeout":1000.0}', '{"msg_timeout":1e3}', '{"heartbeat_interval":1e20}']
    ) {
      await using c = await V2Conn.connect(s.tcpAddress);
      await c.send(identifyRaw(enc.encode(body).length, body));
      await expectFatal(c, "E_BAD_BODY IDENTIFY failed to decode JSON body");
    }
  },
});

Deno.test("IDENTIFY: keys match case-insensitively, unknown keys and nulls are ignored", async () => {
  await using s = await startNsqd();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({
    Feature_Negotiation: true,
    MSG_TIMEOUT: 2000,
    Sample_Rate: 7,
    short_id: "legacy",
    long_id: "legacy",
    something_else: { nested: [1, 2, 3] },
    hostname: null,
  });
  const r = JSON.parse((await c.readFrame()).text);
  assert.equal(r.msg_timeout, 2000);
  assert.equal(r.sample_rate, 7);
  // a JSON null body decodes as "no fields"
  await using d = await V2Conn.connect(s.tcpAddress);
  await d.send(identifyRaw(4, "null"));
  await d.expectResponse("OK");
});

Deno.test("IDENTIFY: after SUB is fatal E_INVALID cannot IDENTIFY in current state", async () => {
  await using s = await startNsqd();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.sub(uniqueName(), "ch");
  await c.expectResponse("OK");
  await c.identify({ client_id: "late" });
  await expectFatal(c, "E_INVALID cannot IDENTIFY in current state");
});

Deno.test("IDENTIFY: state stays init, so SUB works after it (and a second IDENTIFY too)", async () => {
  await using s = await startNsqd();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({ client_id: "one" });
  await c.expectResponse("OK");
  await c.identify({ client_id: "two" });
  await c.expectResponse("OK");
  await c.sub(uniqueName(), "ch");
  await c.expectResponse("OK");
});

Deno.test("IDENTIFY: the body may arrive in pieces", async () => {
  await using s = await startNsqd();
  await using c = await V2Conn.connect(s.tcpAddress);
  const raw = encodeCommand("IDENTIFY", [], JSON.stringify({ feature_negotiation: true }));
  for (let i = 0; i < raw.length; i += 3) {
    await c.send(raw.subarray(i, i + 3));
  }
  const r = JSON.parse((await c.readFrame()).text);
  assert.equal(r.version, "1.3.0");
});

// ---- heartbeats --------------------------------------------------------------------------------

Deno.test("heartbeats: heartbeat_interval 1000 sends _heartbeat_; a silent client is closed after ~2 intervals", async () => {
  await using s = await startNsqd();
  await using silent = await V2Conn.connect(s.tcpAddress);
  const t0 = performance.now(); // the silent client's last bytes leave now
  await silent.identify({ heartbeat_interval: 1000 });
  await silent.expectResponse("OK");
  await using talker = await V2Conn.connect(s.tcpAddress);
  await talker.identify({ heartbeat_interval: 1000 });
  await talker.expectResponse("OK");

  // the talker answers every heartbeat with NOP and outlives two intervals
  const talk = (async () => {
    for (let i = 0; i < 3; i++) {
      await talker.expectResponse(HEARTBEAT, { timeoutMs: 2000 });
      await talker.nop();
    }
  })().then(() => null, (err: unknown) => err); // never rejects: checked below
  // the silent one gets heartbeats, then is closed without an error frame
  const f = await silent.readFrame(2000);
  assert.equal(f.text, HEARTBEAT);
  const firstHeartbeat = performance.now() - t0;
  assert.ok(firstHeartbeat >= 900 && firstHeartbeat < 1900, `first heartbeat at ${firstHeartbeat}`);
  await silent.expectClosed(3000);
  const closedAt = performance.now() - t0;
  // read deadline = 2 × heartbeat interval after the last command read
  assert.ok(closedAt >= 1900, `closed too early: ${closedAt}ms`);
  assert.ok(closedAt < 2800, `closed too late: ${closedAt}ms`);
  assert.equal(await talk, null);
  assert.ok(performance.now() - t0 >= 2900);
  await talker.pub(uniqueName(), "alive");
  await talker.expectResponse("OK");
});

// The read deadline is set once before each command line is read, and the command's body is read
// under the same deadline (Go's IOLoop): trickling a body byte by byte does not extend it.
Deno.test({
  name: "heartbeats: the read deadline covers a whole command; a trickled body does not extend it",
  fn: async () => {
    await using s = await startNsqd();
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.identify({ heartbeat_interval: 1000 });
    await c.expectResponse("OK");
    const t0 = performance.now();
    await c.send(`PUB ${uniqueName()}\n\0\0\0\x10`); // a 16-byte body follows, slowly
    let closedAt = -1;
    for (let i = 0; i < 16 && closedAt < 0; i++) {
      try {
        await c.send("x");
      } catch {
        closedAt = performance.now() - t0;
        break;
      }
      try {
        const f = await c.readFrame(300); // paces the trickle; only heartbeats may arrive
        if (f.text !== HEARTBEAT) break; // the PUB completed: its OK arrived
      } catch (err) {
        const msg = (err as Error).message;
        if (msg.startsWith("readFrame: no frame within")) continue;
        if (msg.startsWith("connection closed by server")) closedAt = performance.now() - t0;
        else throw err;
      }
    }
    assert.ok(closedAt > 0, "still open after the whole body was trickled in");
    assert.ok(closedAt >= 1800 && closedAt < 2800, `closed after ${closedAt}ms`);
  },
});

Deno.test("heartbeats: flow from connection start, before IDENTIFY, at client-timeout / 2", async () => {
  await using s = await startNsqd({ clientTimeout: 2000 });
  await using c = await V2Conn.connect(s.tcpAddress);
  const t0 = performance.now();
  await c.expectResponse(HEARTBEAT, { timeoutMs: 2000 });
  const at = performance.now() - t0;
  assert.ok(at >= 900 && at < 1600, `first heartbeat after ${at}ms`);
  // and a client that sends nothing is closed after 2 × that default interval
  await c.expectClosed(2000);
  const closedAt = performance.now() - t0;
  assert.ok(closedAt >= 1900 && closedAt < 2800, `closed after ${closedAt}ms`);
});

Deno.test("heartbeats: heartbeat_interval -1 then SUB is E_INVALID cannot SUB with heartbeats disabled", async () => {
  await using s = await startNsqd();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({ heartbeat_interval: -1 });
  await c.expectResponse("OK");
  await c.sub(uniqueName(), "ch");
  await expectFatal(c, "E_INVALID cannot SUB with heartbeats disabled");
  // a publisher without heartbeats works
  await using p = await V2Conn.connect(s.tcpAddress);
  await p.identify({ heartbeat_interval: -1 });
  await p.expectResponse("OK");
  await p.pub(uniqueName(), "x");
  await p.expectResponse("OK");
});

// ---- output buffering --------------------------------------------------------------------------

Deno.test("output buffering: with output_buffer_timeout 1000 and RDY 10 a lone message waits for the timeout", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({ output_buffer_timeout: 1000 });
  await c.expectResponse("OK");
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.rdy(10);
  await using p = await V2Conn.connect(s.tcpAddress);
  const t0 = performance.now();
  await p.pub(topic, "buffered");
  await p.expectResponse("OK");
  assert.equal(await frameWithin(c, 300), null, "message flushed before the buffer timeout");
  const m = await c.expectMessage({ timeoutMs: 2000 });
  const at = performance.now() - t0;
  assert.equal(dec.decode(m.body), "buffered");
  assert.ok(at >= 300 && at < 1600, `arrived after ${at}ms`);
});

Deno.test("output buffering: with output_buffer_timeout -1 a lone message waits for the heartbeat's flush", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  const t0 = performance.now();
  await c.identify({ output_buffer_timeout: -1, heartbeat_interval: 1000 });
  await c.expectResponse("OK");
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.rdy(10);
  await using p = await V2Conn.connect(s.tcpAddress);
  await p.pub(topic, "parked");
  await p.expectResponse("OK");
  // no timed flush: the message leaves with the first heartbeat, just before it
  const f = await c.readFrame(2000);
  assert.equal(f.type, 2, `got ${f.text} first`);
  assert.equal(f.text, "parked");
  await c.expectResponse(HEARTBEAT, { timeoutMs: 100 });
  const at = performance.now() - t0;
  assert.ok(at >= 900 && at < 1600, `flushed after ${at}ms`);
});

Deno.test("output buffering: with RDY 1 the message is flushed at once (client becomes not ready)", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({ output_buffer_timeout: 5000 });
  await c.expectResponse("OK");
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.rdy(1);
  await using p = await V2Conn.connect(s.tcpAddress);
  const t0 = performance.now();
  await p.pub(topic, "now");
  await p.expectResponse("OK");
  const m = await c.expectMessage({ timeoutMs: 1000 });
  assert.equal(dec.decode(m.body), "now");
  assert.ok(performance.now() - t0 < 500);
});

Deno.test("output buffering: output_buffer_size -1 flushes every message", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({ output_buffer_size: -1 });
  await c.expectResponse("OK");
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.rdy(100);
  await using p = await V2Conn.connect(s.tcpAddress);
  for (const body of ["one", "two"]) {
    const t0 = performance.now();
    await p.pub(topic, body);
    await p.expectResponse("OK");
    const m = await c.expectMessage({ timeoutMs: 1000 });
    assert.equal(dec.decode(m.body), body);
    assert.ok(performance.now() - t0 < 200, `${body} took ${performance.now() - t0}ms`);
  }
});

Deno.test("output buffering: a full buffer is flushed before the timeout", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({ output_buffer_timeout: 10_000, output_buffer_size: 64 });
  await c.expectResponse("OK");
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.rdy(100);
  await using p = await V2Conn.connect(s.tcpAddress);
  await p.pub(topic, "x".repeat(100)); // frame larger than the 64-byte buffer
  await p.expectResponse("OK");
  const m = await c.expectMessage({ timeoutMs: 1000 });
  assert.equal(m.body.length, 100);
});

Deno.test("output buffering: RDY 0 and a response frame both flush buffered messages", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({ output_buffer_timeout: 10_000 });
  await c.expectResponse("OK");
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.rdy(10);
  await using p = await V2Conn.connect(s.tcpAddress);
  await p.pub(topic, "one");
  await p.expectResponse("OK");
  assert.equal(await frameWithin(c, 100), null, "flushed before any trigger");
  // a response on the same connection flushes: the message comes first, then the OK
  await c.pub(uniqueName(), "x");
  assert.equal(dec.decode((await c.expectMessage({ timeoutMs: 1000 })).body), "one");
  await c.expectResponse("OK");
  await p.pub(topic, "two");
  await p.expectResponse("OK");
  assert.equal(await frameWithin(c, 100), null, "flushed before any trigger");
  // the client becoming not ready flushes
  await c.rdy(0);
  assert.equal(dec.decode((await c.expectMessage({ timeoutMs: 1000 })).body), "two");
});

// ---- sample rate -------------------------------------------------------------------------------

Deno.test("sample_rate 50 delivers roughly half of 1000 messages; the rest are dropped for the client", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({ sample_rate: 50 });
  await c.expectResponse("OK");
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.rdy(2500);
  await using p = await V2Conn.connect(s.tcpAddress);
  const bodies = Array.from({ length: 1000 }, (_, i) => `m${i}`);
  await p.mpub(topic, bodies);
  await p.expectResponse("OK");
  const ch = s.nsqd.getTopic(topic).getChannel("ch");
  await waitFor(() => ch.depth === 0 && ch.messageCount === 1000);
  // every delivered message is in flight (none FINed yet); sampled-out ones are gone
  const delivered = ch.inFlightCount;
  // (s+1)% = 51% expected; binomial sd ≈ 16: a very loose bound
  assert.ok(delivered > 380 && delivered < 640, `delivered ${delivered} of 1000`);
  const got: Msg[] = [];
  for (let i = 0; i < delivered; i++) got.push(await c.expectMessage());
  assert.equal(new Set(got.map((m) => m.id)).size, delivered);
  assert.equal(await frameWithin(c, 100), null);
  assert.equal(ch.depth, 0);
});
