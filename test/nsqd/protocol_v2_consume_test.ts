/**
 * Protocol V2 wire tests, part 3 (SUB/RDY/FIN/REQ/TOUCH/CLS in
 * https://nsq.io/clients/tcp_protocol_spec.html; docs/nsqd.md#fan-out, #in-flight-and-deferred,
 * #ephemeral, #pause): subscribing, the RDY window, finishing, requeueing and touching messages,
 * message timeouts, CLS, fan-out, competing consumers, pause and ephemeral topics/channels.
 */
import assert from "node:assert/strict";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { type Msg, V2Conn } from "../_util/wire.ts";
import {
  connectSub,
  expectFatal,
  expectNonFatal,
  frameWithin,
  publishTo,
} from "../_util/protocol.ts";
import { waitFor } from "../_util/wait.ts";

const dec = new TextDecoder();
const ID = "0123456789abcdef";

async function expectNoFrame(c: V2Conn, ms: number, why: string): Promise<void> {
  const f = await frameWithin(c, ms);
  assert.equal(f, null, `${why}: got ${f?.type === 2 ? `message ${f.text}` : f?.text}`);
}

/**
 * Round trip that proves every earlier command was processed without an error: a PUB to a side
 * topic whose OK must be the next frame (a non-fatal E_*_FAILED would come first).
 */
async function sync(c: V2Conn): Promise<void> {
  await c.pub("sync_side_topic", "s");
  await c.expectResponse("OK");
}

function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

// ---- SUB ---------------------------------------------------------------------------------------

Deno.test("SUB: state and parameter errors", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.sub(t, "ch");
    await c.expectResponse("OK");
    await c.sub(t, "other");
    await expectFatal(c, "E_INVALID cannot SUB in current state");
  }
  for (const line of ["SUB\n", `SUB ${t}\n`]) {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.send(line);
    await expectFatal(c, "E_INVALID SUB insufficient number of parameters");
  }
  {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.sub("bad!", "ch");
    await expectFatal(c, 'E_BAD_TOPIC SUB topic name "bad!" is not valid');
  }
  {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.sub(t, "bad!");
    await expectFatal(c, 'E_BAD_CHANNEL SUB channel name "bad!" is not valid');
  }
  {
    // the topic is validated before the channel
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.sub("bad!", "bad?");
    await expectFatal(c, 'E_BAD_TOPIC SUB topic name "bad!" is not valid');
  }
});

Deno.test("SUB: creates topic and channel; the initial RDY is 0", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t);
  assert.ok(s.nsqd.getExistingTopic(t)?.getExistingChannel("ch") !== undefined);
  await publishTo(s, t, "waits");
  await expectNoFrame(c, 150, "delivered before any RDY");
  await c.rdy(1);
  assert.equal(dec.decode((await c.expectMessage()).body), "waits");
});

Deno.test("SUB: --max-channel-consumers is enforced per channel", async () => {
  await using s = await startNsqd({ maxChannelConsumers: 2 });
  const t = uniqueName();
  await using a = await connectSub(s, t);
  const b = await connectSub(s, t);
  {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.sub(t, "ch");
    await expectFatal(c, `E_SUB_FAILED SUB failed consumers for ${t}:ch exceeds limit of 2`);
  }
  // another channel has its own limit
  await using other = await connectSub(s, t, "other");
  // a slot frees when a consumer leaves
  await b.close();
  await waitFor(() => s.nsqd.getTopic(t).getChannel("ch").clients.size === 1);
  await using d = await connectSub(s, t);
  assert.equal(s.nsqd.getTopic(t).getChannel("ch").clients.size, 2);
  void a;
  void other;
  void d;
});

// ---- RDY ---------------------------------------------------------------------------------------

Deno.test("RDY: state, parse and range errors", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.rdy(1);
    await expectFatal(c, "E_INVALID cannot RDY in current state");
  }
  const cases: [string, string][] = [
    ["abc", "E_INVALID RDY could not parse count abc"],
    ["-1", "E_INVALID RDY could not parse count -1"],
    ["+1", "E_INVALID RDY could not parse count +1"],
    ["1.0", "E_INVALID RDY could not parse count 1.0"],
    ["0x10", "E_INVALID RDY could not parse count 0x10"],
    ["2501", "E_INVALID RDY count 2501 out of range 0-2500"],
    ["99999", "E_INVALID RDY count 99999 out of range 0-2500"],
  ];
  for (const [count, text] of cases) {
    await using c = await connectSub(s, t);
    await c.rdy(count);
    await expectFatal(c, text);
  }
  await using ok = await connectSub(s, t);
  await ok.rdy(2500);
  await ok.rdy(0);
  await sync(ok);
});

Deno.test("RDY: the range follows --max-rdy-count", async () => {
  await using s = await startNsqd({ maxRdyCount: 10 });
  await using c = await connectSub(s, uniqueName());
  await c.rdy(10);
  await sync(c);
  await c.rdy(11);
  await expectFatal(c, "E_INVALID RDY count 11 out of range 0-10");
});

Deno.test("RDY: without a count means 1; an empty count means 0", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t);
  await c.send("RDY\n");
  await publishTo(s, t, "a", "b", "c");
  const m = await c.expectMessage();
  await expectNoFrame(c, 150, "RDY without count let more than 1 in flight");
  await c.send("RDY \n"); // "" parses as 0
  await c.fin(m.id);
  await expectNoFrame(c, 150, "delivered after RDY 0");
  await c.rdy(5);
  await c.expectMessage();
  await c.expectMessage();
});

Deno.test("RDY: a max-in-flight window: RDY 2 gives at most 2 in flight, more after FIN", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { rdy: 2 });
  await publishTo(s, t, "1", "2", "3", "4", "5", "6");
  const ch = s.nsqd.getTopic(t).getChannel("ch");
  const m1 = await c.expectMessage();
  const m2 = await c.expectMessage();
  await expectNoFrame(c, 150, "a third message while 2 in flight");
  assert.equal(ch.inFlightCount, 2);
  await c.fin(m1.id);
  const m3 = await c.expectMessage();
  await expectNoFrame(c, 100, "a fourth message while 2 in flight");
  // the window stays 2 (it is not a decrementing credit)
  await c.fin(m2.id);
  await c.fin(m3.id);
  const m4 = await c.expectMessage();
  const m5 = await c.expectMessage();
  await expectNoFrame(c, 100, "more than 2 in flight");
  // raising RDY lets more out at once
  await c.rdy(3);
  const m6 = await c.expectMessage();
  assert.deepEqual([m1, m2, m3, m4, m5, m6].map((m) => dec.decode(m.body)).sort(), [
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
  ]);
  assert.equal(ch.inFlightCount, 3);
});

Deno.test("RDY lowered below the in-flight count waits until in-flight drops below it", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { rdy: 4 });
  await publishTo(s, t, "1", "2", "3", "4", "5", "6");
  const ms: Msg[] = [];
  for (let i = 0; i < 4; i++) ms.push(await c.expectMessage());
  await c.rdy(2);
  await c.fin(ms[0].id);
  await c.fin(ms[1].id); // in flight 2, RDY 2: still nothing
  await expectNoFrame(c, 150, "delivered with in-flight == RDY");
  await c.fin(ms[2].id); // in flight 1 < 2: one more
  ms.push(await c.expectMessage());
  await expectNoFrame(c, 100, "more than RDY in flight");
  assert.equal(s.nsqd.getTopic(t).getChannel("ch").inFlightCount, 2);
});

Deno.test("RDY 0 stops delivery; RDY again resumes", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { rdy: 10 });
  await publishTo(s, t, "first");
  const m = await c.expectMessage();
  await c.rdy(0);
  await c.fin(m.id);
  await publishTo(s, t, "held");
  await expectNoFrame(c, 200, "delivered with RDY 0");
  assert.equal(s.nsqd.getTopic(t).getChannel("ch").depth, 1);
  await c.rdy(1);
  assert.equal(dec.decode((await c.expectMessage()).body), "held");
});

// ---- FIN / REQ / TOUCH errors ------------------------------------------------------------------

Deno.test("FIN/REQ/TOUCH: state errors before SUB", async () => {
  await using s = await startNsqd();
  for (
    const [raw, text] of [
      [`FIN ${ID}\n`, "E_INVALID cannot FIN in current state"],
      [`REQ ${ID} 0\n`, "E_INVALID cannot REQ in current state"],
      [`TOUCH ${ID}\n`, "E_INVALID cannot TOUCH in current state"],
      ["CLS\n", "E_INVALID cannot CLS in current state"],
      // the state check comes before the parameter checks
      ["FIN\n", "E_INVALID cannot FIN in current state"],
    ]
  ) {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.send(raw);
    await expectFatal(c, text);
  }
});

Deno.test("FIN/REQ/TOUCH: parameter, message ID and timeout errors are fatal", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  const cases: [string, string][] = [
    ["FIN\n", "E_INVALID FIN insufficient number of params"],
    ["FIN abc\n", "E_INVALID invalid message ID"],
    [`FIN ${ID}0\n`, "E_INVALID invalid message ID"],
    ["FIN \n", "E_INVALID invalid message ID"],
    ["REQ\n", "E_INVALID REQ insufficient number of params"],
    [`REQ ${ID}\n`, "E_INVALID REQ insufficient number of params"],
    ["REQ abc 0\n", "E_INVALID invalid message ID"],
    // the ID is checked before the timeout
    ["REQ abc xyz\n", "E_INVALID invalid message ID"],
    [`REQ ${ID} xyz\n`, "E_INVALID REQ could not parse timeout xyz"],
    [`REQ ${ID} -5\n`, "E_INVALID REQ could not parse timeout -5"],
    ["TOUCH\n", "E_INVALID TOUCH insufficient number of params"],
    ["TOUCH 0123\n", "E_INVALID invalid message ID"],
  ];
  for (const [raw, text] of cases) {
    await using c = await connectSub(s, t);
    await c.send(raw);
    await expectFatal(c, text);
  }
});

Deno.test("FIN/REQ/TOUCH: unknown IDs are non-fatal E_*_FAILED ... ID not in flight", async () => {
  await using s = await startNsqd();
  await using c = await connectSub(s, uniqueName());
  await c.fin(ID);
  await expectNonFatal(c, `E_FIN_FAILED FIN ${ID} failed ID not in flight`);
  await c.req(ID, 0);
  await expectNonFatal(c, `E_REQ_FAILED REQ ${ID} failed ID not in flight`);
  await c.touch(ID);
  await expectNonFatal(c, `E_TOUCH_FAILED TOUCH ${ID} failed ID not in flight`);
  await sync(c); // the connection stays open
});

Deno.test("FIN/REQ/TOUCH: another client's message is non-fatal 'client does not own message'", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using owner = await connectSub(s, t, "ch", { rdy: 1 });
  await using other = await connectSub(s, t, "ch");
  await publishTo(s, t, "mine");
  const m = await owner.expectMessage();
  await other.fin(m.id);
  await expectNonFatal(other, `E_FIN_FAILED FIN ${m.id} failed client does not own message`);
  await other.req(m.id, 0);
  await expectNonFatal(other, `E_REQ_FAILED REQ ${m.id} failed client does not own message`);
  await other.touch(m.id);
  await expectNonFatal(other, `E_TOUCH_FAILED TOUCH ${m.id} failed client does not own message`);
  await sync(other);
  // a consumer on another channel does not see the message at all
  await using elsewhere = await connectSub(s, t, "ch2");
  await elsewhere.fin(m.id);
  await expectNonFatal(elsewhere, `E_FIN_FAILED FIN ${m.id} failed ID not in flight`);
  // the owner still can
  await owner.fin(m.id);
  await sync(owner);
  await owner.fin(m.id);
  await expectNonFatal(owner, `E_FIN_FAILED FIN ${m.id} failed ID not in flight`);
});

// ---- REQ ---------------------------------------------------------------------------------------

Deno.test("REQ 0 redelivers at once with attempts 2, same id, body and timestamp", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { rdy: 1 });
  await publishTo(s, t, "again");
  const m1 = await c.expectMessage();
  assert.equal(m1.attempts, 1);
  await c.req(m1.id, 0);
  const m2 = await c.expectMessage({ timeoutMs: 1000 });
  assert.equal(m2.attempts, 2);
  assert.equal(m2.id, m1.id);
  assert.equal(m2.timestamp, m1.timestamp);
  assert.deepEqual(m2.body, m1.body);
  const ch = s.nsqd.getTopic(t).getChannel("ch");
  assert.equal(ch.requeueCount, 1);
  await c.req(m2.id, 0);
  assert.equal((await c.expectMessage()).attempts, 3);
});

Deno.test("REQ with a delay redelivers after the delay, not before", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { rdy: 1 });
  await publishTo(s, t, "later");
  const m1 = await c.expectMessage();
  const t0 = performance.now();
  await c.req(m1.id, 300);
  await expectNoFrame(c, 200, "redelivered before the REQ delay");
  const ch = s.nsqd.getTopic(t).getChannel("ch");
  assert.equal(ch.deferredCount, 1);
  assert.equal(ch.inFlightCount, 0);
  const m2 = await c.expectMessage({ timeoutMs: 2000 });
  const at = performance.now() - t0;
  assert.equal(m2.id, m1.id);
  assert.equal(m2.attempts, 2);
  assert.ok(at >= 295 && at < 900, `redelivered after ${at}ms`);
});

Deno.test("REQ: a timeout above --max-req-timeout is clamped, not an error", async () => {
  await using s = await startNsqd({ maxReqTimeout: 300 });
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { rdy: 1 });
  await publishTo(s, t, "clamped");
  const m1 = await c.expectMessage();
  const t0 = performance.now();
  await c.req(m1.id, "99999999");
  const m2 = await c.expectMessage({ timeoutMs: 2000 }); // no error frame first
  const at = performance.now() - t0;
  assert.equal(m2.id, m1.id);
  assert.ok(at >= 295 && at < 900, `redelivered after ${at}ms`);
});

Deno.test("REQ and FIN are accepted in any order relative to other clients' traffic", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using a = await connectSub(s, t, "ch", { rdy: 1 });
  await publishTo(s, t, "x");
  const m = await a.expectMessage();
  await a.req(m.id, 0);
  const again = await a.expectMessage();
  await a.fin(again.id);
  await sync(a);
  const ch = s.nsqd.getTopic(t).getChannel("ch");
  assert.equal(ch.inFlightCount, 0);
  assert.equal(ch.depth, 0);
});

// ---- message timeouts and TOUCH ------------------------------------------------------------------

Deno.test("message timeout: an unfinished message is redelivered with attempts counting up", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { identify: { msg_timeout: 1000 }, rdy: 1 });
  await publishTo(s, t, "slow");
  const m1 = await c.expectMessage();
  const t0 = performance.now();
  assert.equal(m1.attempts, 1);
  await expectNoFrame(c, 800, "redelivered before msg_timeout");
  const m2 = await c.expectMessage({ timeoutMs: 2000 });
  const at2 = performance.now() - t0;
  assert.equal(m2.id, m1.id);
  assert.equal(m2.attempts, 2);
  assert.ok(at2 >= 950 && at2 < 1600, `second delivery after ${at2}ms`);
  const m3 = await c.expectMessage({ timeoutMs: 2000 });
  assert.equal(m3.attempts, 3);
  const ch = s.nsqd.getTopic(t).getChannel("ch");
  assert.equal(ch.timeoutCount, 2);
  await c.fin(m3.id);
  await sync(c);
  assert.equal(ch.inFlightCount, 0);
});

Deno.test("message timeout: a disconnected client's in-flight messages wait for their timeout", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  // RDY 10 with 5 in flight: once they time out the dead client looks "ready" by its counts,
  // so this also checks that a closed client is never picked for redelivery
  const a = await connectSub(s, t, "ch", { identify: { msg_timeout: 1000 }, rdy: 10 });
  await publishTo(s, t, "o1", "o2", "o3", "o4", "o5");
  const first = new Map<string, Msg>();
  while (first.size < 5) {
    const m = await a.expectMessage();
    first.set(m.id, m);
  }
  const t0 = performance.now();
  await using b = await connectSub(s, t, "ch", { rdy: 10 });
  await a.close();
  await expectNoFrame(b, 400, "requeued on disconnect instead of on timeout");
  const again = new Map<string, Msg>();
  while (again.size < 5) {
    const m = await b.expectMessage({ timeoutMs: 2000 });
    again.set(m.id, m);
  }
  const at = performance.now() - t0;
  assert.ok(at >= 900, `redelivered after ${at}ms`);
  assert.deepEqual([...again.keys()].sort(), [...first.keys()].sort());
  for (const m of again.values()) assert.equal(m.attempts, 2);
  assert.equal(s.nsqd.getTopic(t).getChannel("ch").timeoutCount, 5);
});

Deno.test("TOUCH extends the in-flight deadline by msg_timeout", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { identify: { msg_timeout: 1000 }, rdy: 1 });
  await publishTo(s, t, "touched");
  const m = await c.expectMessage();
  await expectNoFrame(c, 600, "early redelivery");
  await c.touch(m.id);
  await expectNoFrame(c, 700, "redelivered although touched"); // ~1300 ms after delivery
  await c.touch(m.id);
  await expectNoFrame(c, 500, "redelivered although touched twice"); // ~1800 ms
  await c.fin(m.id);
  await sync(c);
  assert.equal(s.nsqd.getTopic(t).getChannel("ch").timeoutCount, 0);
});

Deno.test("TOUCH never extends beyond delivery + --max-msg-timeout", async () => {
  await using s = await startNsqd({ maxMsgTimeout: 1500 });
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { identify: { msg_timeout: 1000 }, rdy: 1 });
  await publishTo(s, t, "capped");
  const m = await c.expectMessage();
  const t0 = performance.now();
  await expectNoFrame(c, 800, "early redelivery");
  await c.touch(m.id); // now + 1000 = 1800 > 1500: capped at 1500
  const again = await c.expectMessage({ timeoutMs: 2000 });
  const at = performance.now() - t0;
  assert.equal(again.attempts, 2);
  assert.ok(at >= 1400 && at < 1780, `redelivered after ${at}ms`);
});

// ---- CLS ---------------------------------------------------------------------------------------

Deno.test("CLS: CLOSE_WAIT, then RDY is ignored while FIN/REQ/TOUCH still work", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { rdy: 2 });
  await publishTo(s, t, "a", "b");
  const m1 = await c.expectMessage();
  const m2 = await c.expectMessage();
  await c.cls();
  await c.expectResponse("CLOSE_WAIT");
  await c.rdy(100); // ignored: no error, no delivery
  await c.touch(m1.id);
  await c.fin(m1.id);
  await c.req(m2.id, 0);
  await sync(c);
  await publishTo(s, t, "c");
  await expectNoFrame(c, 200, "delivered after CLS");
  const ch = s.nsqd.getTopic(t).getChannel("ch");
  assert.equal(ch.inFlightCount, 0);
  assert.equal(ch.depth, 2); // b (requeued) and c
  // the connection stays open; nsqd leaves closing it to the client
  await c.cls();
  await expectFatal(c, "E_INVALID cannot CLS in current state");
});

Deno.test("CLS: SUB and IDENTIFY are refused in the closing state", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  {
    await using c = await connectSub(s, t);
    await c.cls();
    await c.expectResponse("CLOSE_WAIT");
    await c.sub(t, "ch");
    await expectFatal(c, "E_INVALID cannot SUB in current state");
  }
  {
    await using c = await connectSub(s, t);
    await c.cls();
    await c.expectResponse("CLOSE_WAIT");
    await c.identify({});
    await expectFatal(c, "E_INVALID cannot IDENTIFY in current state");
  }
});

// ---- message format ------------------------------------------------------------------------------

Deno.test("message format: ns timestamp near now, attempts 1, 16 lowercase hex id, exact body", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { rdy: 10 });
  const body = new Uint8Array(300);
  for (let i = 0; i < body.length; i++) body[i] = i & 0xff; // includes \n, \r, 0 and 0xff
  const before = nowNs();
  await using p = await V2Conn.connect(s.tcpAddress);
  await p.pub(t, body);
  await p.expectResponse("OK");
  await p.pub(t, "second");
  await p.expectResponse("OK");
  const after = nowNs();
  const m = await c.expectMessage();
  const m2 = await c.expectMessage();
  assert.deepEqual(m.body, body);
  assert.equal(m.attempts, 1);
  assert.match(m.id, /^[0-9a-f]{16}$/);
  assert.match(m2.id, /^[0-9a-f]{16}$/);
  assert.ok(BigInt("0x" + m2.id) > BigInt("0x" + m.id), "ids increase within a topic");
  const slack = 5_000_000n; // 5 ms of float rounding / clock reads
  assert.ok(m.timestamp >= before - slack && m.timestamp <= after + slack, `ts ${m.timestamp}`);
  assert.ok(m2.timestamp >= m.timestamp);
});

// ---- fan-out and competition ---------------------------------------------------------------------

Deno.test("fan-out: every channel gets every message with the same id, body and timestamp", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c1 = await connectSub(s, t, "one", { rdy: 10 });
  await using c2 = await connectSub(s, t, "two", { rdy: 10 });
  const bodies = ["a", "b", "c"];
  await publishTo(s, t, ...bodies);
  const got1: Msg[] = [];
  const got2: Msg[] = [];
  for (let i = 0; i < bodies.length; i++) {
    got1.push(await c1.expectMessage());
    got2.push(await c2.expectMessage());
  }
  const byId = (ms: Msg[]) => new Map(ms.map((m) => [m.id, m]));
  const a = byId(got1);
  const b = byId(got2);
  assert.equal(a.size, 3);
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [id, m] of a) {
    const n = b.get(id)!;
    assert.deepEqual(n.body, m.body);
    assert.equal(n.timestamp, m.timestamp);
    assert.equal(m.attempts, 1);
    assert.equal(n.attempts, 1);
  }
  assert.deepEqual(got1.map((m) => dec.decode(m.body)).sort(), bodies);
  // requeueing in one channel does not affect the other
  await c1.req(got1[0].id, 0);
  const again = await c1.expectMessage();
  assert.equal(again.attempts, 2);
  await expectNoFrame(c2, 100, "a REQ in channel one reached channel two");
});

Deno.test("fan-out: a DPUB is deferred in every channel", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c1 = await connectSub(s, t, "one", { rdy: 1 });
  await using c2 = await connectSub(s, t, "two", { rdy: 1 });
  await using p = await V2Conn.connect(s.tcpAddress);
  const t0 = performance.now();
  await p.dpub(t, 200, "both");
  await p.expectResponse("OK");
  assert.equal(s.nsqd.getTopic(t).getChannel("one").deferredCount, 1);
  assert.equal(s.nsqd.getTopic(t).getChannel("two").deferredCount, 1);
  const [m1, m2] = await Promise.all([c1.expectMessage(), c2.expectMessage()]);
  assert.ok(performance.now() - t0 >= 195);
  assert.equal(m1.id, m2.id);
  assert.equal(m1.attempts, 1);
  assert.equal(m2.attempts, 1);
});

Deno.test("fan-out: a channel created later only sees later messages", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using first = await connectSub(s, t, "first", { rdy: 10 });
  await publishTo(s, t, "early");
  await first.expectMessage();
  await using late = await connectSub(s, t, "late", { rdy: 10 });
  await publishTo(s, t, "later");
  assert.equal(dec.decode((await late.expectMessage()).body), "later");
  await expectNoFrame(late, 100, "the late channel got an earlier message");
});

Deno.test("fan-out: a topic without channels keeps messages for its first channel", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await publishTo(s, t, "kept1", "kept2");
  assert.equal(s.nsqd.getTopic(t).depth, 2);
  await using c = await connectSub(s, t, "ch", { rdy: 10 });
  const got = [await c.expectMessage(), await c.expectMessage()].map((m) => dec.decode(m.body));
  assert.deepEqual(got.sort(), ["kept1", "kept2"]);
  assert.equal(s.nsqd.getTopic(t).depth, 0);
});

Deno.test("consumers of one channel compete: each message goes to exactly one", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using a = await connectSub(s, t, "ch", { rdy: 100 });
  await using b = await connectSub(s, t, "ch", { rdy: 100 });
  const n = 200;
  await publishTo(s, t, ...Array.from({ length: n }, (_, i) => `m${i}`));
  const ch = s.nsqd.getTopic(t).getChannel("ch");
  await waitFor(() => ch.inFlightCount === n);
  const seen = new Map<string, number>();
  const drain = async (c: V2Conn) => {
    let k = 0;
    for (;;) {
      const f = await frameWithin(c, 100);
      if (f === null) return k;
      assert.equal(f.type, 2);
      seen.set(f.text, (seen.get(f.text) ?? 0) + 1);
      k++;
    }
  };
  const [fromA, fromB] = await Promise.all([drain(a), drain(b)]);
  assert.equal(fromA + fromB, n);
  assert.equal(seen.size, n);
  assert.ok([...seen.values()].every((v) => v === 1));
  assert.ok(fromA > 0 && fromB > 0, `split ${fromA}/${fromB}`);
});

// ---- pause -------------------------------------------------------------------------------------

Deno.test("pause: a paused topic holds messages until unpaused", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { rdy: 10 });
  const topic = s.nsqd.getTopic(t);
  topic.pause();
  await publishTo(s, t, "p1", "p2");
  await expectNoFrame(c, 200, "delivered while the topic was paused");
  assert.equal(topic.depth, 2);
  assert.equal(topic.getChannel("ch").depth, 0);
  topic.unpause();
  const got = [await c.expectMessage(), await c.expectMessage()].map((m) => dec.decode(m.body));
  assert.deepEqual(got.sort(), ["p1", "p2"]);
});

Deno.test("pause: a paused channel holds messages; in-flight ones can still be finished", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await connectSub(s, t, "ch", { rdy: 10 });
  await using other = await connectSub(s, t, "other", { rdy: 10 });
  await publishTo(s, t, "before");
  const m = await c.expectMessage();
  await other.expectMessage();
  const ch = s.nsqd.getTopic(t).getChannel("ch");
  ch.pause();
  await publishTo(s, t, "during");
  await expectNoFrame(c, 200, "delivered while the channel was paused");
  // only this channel is paused
  assert.equal(dec.decode((await other.expectMessage()).body), "during");
  assert.equal(ch.depth, 1);
  await c.fin(m.id);
  await sync(c);
  ch.unpause();
  assert.equal(dec.decode((await c.expectMessage()).body), "during");
});

// ---- ephemeral ---------------------------------------------------------------------------------

Deno.test("ephemeral: a channel is deleted when its last client disconnects", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  const name = "eph#ephemeral";
  const a = await connectSub(s, t, name);
  const b = await connectSub(s, t, name);
  const topic = s.nsqd.getTopic(t);
  assert.ok(topic.getExistingChannel(name) !== undefined);
  await a.close();
  await waitFor(() => topic.getExistingChannel(name)?.clients.size === 1);
  await b.close();
  await waitFor(() => topic.getExistingChannel(name) === undefined);
  // a non-ephemeral topic stays
  assert.equal(s.nsqd.getExistingTopic(t), topic);
});

Deno.test("ephemeral: a topic is deleted when its last channel goes", async () => {
  await using s = await startNsqd();
  const t = uniqueName() + "#ephemeral";
  const c = await connectSub(s, t, "c#ephemeral", { rdy: 1 });
  await publishTo(s, t, "x");
  await c.expectMessage();
  assert.ok(s.nsqd.getExistingTopic(t) !== undefined);
  await c.close();
  await waitFor(() => s.nsqd.getExistingTopic(t) === undefined);
  // it can be used again afterwards
  await using again = await connectSub(s, t, "c#ephemeral", { rdy: 1 });
  await publishTo(s, t, "y");
  assert.equal(dec.decode((await again.expectMessage()).body), "y");
});

Deno.test("ephemeral: a topic with a durable channel survives its ephemeral channel", async () => {
  await using s = await startNsqd();
  const t = uniqueName() + "#ephemeral";
  await using durable = await connectSub(s, t, "durable");
  const eph = await connectSub(s, t, "e#ephemeral");
  await eph.close();
  const topic = s.nsqd.getTopic(t);
  await waitFor(() => topic.getExistingChannel("e#ephemeral") === undefined);
  assert.equal(s.nsqd.getExistingTopic(t), topic);
  void durable;
});

Deno.test("ephemeral: overflow beyond --mem-queue-size is dropped", async () => {
  await using s = await startNsqd({ memQueueSize: 10 });
  const t = uniqueName();
  await using c = await connectSub(s, t, "e#ephemeral");
  await publishTo(s, t, ...Array.from({ length: 25 }, (_, i) => `m${i}`));
  const ch = s.nsqd.getTopic(t).getChannel("e#ephemeral");
  await waitFor(() => ch.messageCount === 25);
  assert.equal(ch.depth, 10);
  await c.rdy(100);
  const got = [];
  for (let i = 0; i < 10; i++) got.push(dec.decode((await c.expectMessage()).body));
  await expectNoFrame(c, 100, "more than mem-queue-size messages kept");
  assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `m${i}`));
});

Deno.test("ephemeral: SUB racing the deletion of the same topic/channel still works", async () => {
  await using s = await startNsqd();
  const t = uniqueName() + "#ephemeral";
  for (let i = 0; i < 30; i++) {
    // subscribe, leave (deletes channel and topic), come back at once, maybe even pipelined
    const c = await connectSub(s, t, "c#ephemeral", { rdy: 1 });
    const next = V2Conn.connect(s.tcpAddress);
    await c.close();
    await using d = await next;
    await d.sub(t, "c#ephemeral");
    await d.expectResponse("OK");
    await d.rdy(1);
    await publishTo(s, t, `m${i}`);
    assert.equal(dec.decode((await d.expectMessage()).body), `m${i}`);
  }
  await waitFor(() => s.nsqd.getExistingTopic(t) === undefined);
});

// ---- through the backend (disk) queue ------------------------------------------------------------

Deno.test("--mem-queue-size 0: delivery, REQ, DPUB and fan-out all go through the disk queue", async () => {
  await using s = await startNsqd({ memQueueSize: 0 });
  const t = uniqueName();
  await using a = await connectSub(s, t, "a", { rdy: 1 });
  await using b = await connectSub(s, t, "b", { rdy: 10 });
  const before = nowNs();
  await publishTo(s, t, "d1", "d2", "d3");
  const m1 = await a.expectMessage();
  assert.equal(m1.attempts, 1);
  assert.ok(m1.timestamp >= before - 5_000_000n);
  assert.match(m1.id, /^[0-9a-f]{16}$/);
  // REQ 0 goes back to disk; attempts and timestamp survive the round trip
  await a.req(m1.id, 0);
  const seenA: Msg[] = [];
  while (seenA.length < 3) {
    const m = await a.expectMessage();
    seenA.push(m);
    await a.fin(m.id);
  }
  const again = seenA.find((m) => m.id === m1.id)!;
  assert.equal(again.attempts, 2);
  assert.equal(again.timestamp, m1.timestamp);
  assert.deepEqual(seenA.map((m) => dec.decode(m.body)).sort(), ["d1", "d2", "d3"]);
  const seenB = [await b.expectMessage(), await b.expectMessage(), await b.expectMessage()];
  assert.deepEqual(seenB.map((m) => dec.decode(m.body)).sort(), ["d1", "d2", "d3"]);
  // DPUB with no memory queue
  await using p = await V2Conn.connect(s.tcpAddress);
  const t0 = performance.now();
  await p.dpub(t, 200, "late");
  await p.expectResponse("OK");
  const late = await a.expectMessage({ timeoutMs: 2000 });
  assert.equal(dec.decode(late.body), "late");
  assert.ok(performance.now() - t0 >= 195);
  await a.fin(late.id);
  await sync(a);
  const ch = s.nsqd.getTopic(t).getChannel("a");
  assert.equal(ch.depth, 0);
  assert.equal(ch.inFlightCount, 0);
});
