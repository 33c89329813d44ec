/**
 * Beyond NSQ (docs/beyond-nsq.md): peek (nsqio/nsq#848) and bounded topics (nsqio/nsq#549), at
 * the wire and over HTTP, on an in-process nsqd, plus peek over a restart.
 */
import assert from "node:assert/strict";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { connectSub, expectNonFatal } from "../_util/protocol.ts";
import { waitFor } from "../_util/wait.ts";
import { V2Conn } from "../_util/wire.ts";

const td = new TextDecoder();

interface PeekJson {
  messages: { id: string; timestamp: number; attempts: number; body_base64: string }[];
}

async function http(
  base: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://${base}${path}`, { method, body });
  return { status: r.status, text: await r.text() };
}

async function peekBodies(base: string, path: string): Promise<string[]> {
  const r = await http(base, "GET", path);
  assert.equal(r.status, 200, r.text);
  const j = JSON.parse(r.text) as PeekJson;
  return j.messages.map((m) => atob(m.body_base64));
}

async function channelStats(base: string, topic: string, channel: string) {
  const r = await http(base, "GET", `/stats?format=json&topic=${topic}&channel=${channel}`);
  const j = JSON.parse(r.text);
  return j.topics[0].channels[0];
}

Deno.test({
  name: "peek: next n in order, counts unchanged; a consumer then gets exactly those first",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using d = await startNsqd({ httpAddress: "127.0.0.1:0" });
    const base = d.httpAddress;
    const topic = uniqueName("peek");
    assert.equal(
      (await http(base, "POST", `/channel/create?topic=${topic}&channel=c`)).status,
      404,
    );
    assert.equal((await http(base, "POST", `/topic/create?topic=${topic}`)).status, 200);
    assert.equal(
      (await http(base, "POST", `/channel/create?topic=${topic}&channel=c`)).status,
      200,
    );
    await using pub = await V2Conn.connect(d.tcpAddress);
    await pub.mpub(topic, ["m0", "m1", "m2", "m3", "m4", "m5"]);
    await pub.expectResponse("OK");

    const order = ["m0", "m1", "m2", "m3", "m4", "m5"];
    assert.deepEqual(await peekBodies(base, `/channel/peek?topic=${topic}&channel=c`), ["m0"]);
    assert.deepEqual(
      await peekBodies(base, `/channel/peek?topic=${topic}&channel=c&n=3`),
      order.slice(0, 3),
    );
    const full = await http(base, "GET", `/channel/peek?topic=${topic}&channel=c&n=1000`);
    const j = JSON.parse(full.text) as PeekJson;
    assert.deepEqual(j.messages.map((m) => atob(m.body_base64)), order);
    for (const m of j.messages) {
      assert.match(m.id, /^[0-9a-f]{16}$/);
      assert.equal(m.attempts, 0);
      assert.ok(Number.isInteger(m.timestamp) && m.timestamp > 1.6e18);
      assert.deepEqual(Object.keys(m), ["id", "timestamp", "attempts", "body_base64"]);
    }
    const st = await channelStats(base, topic, "c");
    assert.equal(st.depth, 6);
    assert.equal(st.backend_depth, 0);
    assert.equal(st.message_count, 6);

    // errors, shaped like Go's other endpoints
    assert.deepEqual(await http(base, "GET", `/channel/peek?topic=nope_${topic}&channel=c`), {
      status: 404,
      text: '{"message":"TOPIC_NOT_FOUND"}',
    });
    assert.deepEqual(await http(base, "GET", `/channel/peek?topic=${topic}&channel=zz`), {
      status: 404,
      text: '{"message":"CHANNEL_NOT_FOUND"}',
    });
    assert.equal(
      (await http(base, "GET", `/channel/peek?topic=${topic}&channel=c&n=0`)).text,
      '{"message":"INVALID_ARG_N"}',
    );
    assert.equal((await http(base, "GET", `/channel/peek?topic=${topic}`)).status, 400);

    // a consumer then receives exactly the peeked messages first, in that order
    await using sub = await connectSub(d, topic, "c", { rdy: 1 });
    const got: string[] = [];
    for (let i = 0; i < order.length; i++) {
      const m = await sub.expectMessage();
      got.push(td.decode(m.body));
      await sub.fin(m.id);
    }
    assert.deepEqual(got, order);
    assert.deepEqual(await peekBodies(base, `/channel/peek?topic=${topic}&channel=c&n=5`), []);
  },
});

Deno.test({
  name: "peek: a topic without channels, and a channel after a restart (all on disk)",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_peek_" });
    try {
      const topic = uniqueName("peekt");
      {
        await using d = await startNsqd({ httpAddress: "127.0.0.1:0", memQueueSize: 3 }, dir);
        await using pub = await V2Conn.connect(d.tcpAddress);
        await pub.mpub(topic, ["a", "b", "c", "d", "e"]);
        await pub.expectResponse("OK");
        assert.deepEqual(
          await peekBodies(d.httpAddress, `/topic/peek?topic=${topic}&n=10`),
          ["a", "b", "c", "d", "e"],
        );
        assert.deepEqual(await peekBodies(d.httpAddress, `/topic/peek?topic=${topic}`), ["a"]);
        assert.equal(
          (await http(d.httpAddress, "GET", `/topic/peek?topic=x_${topic}`)).text,
          '{"message":"TOPIC_NOT_FOUND"}',
        );
      }
      // at exit the memory queue (a, b, c) went to disk after what was there (d, e), as in Go
      await using d2 = await startNsqd({ httpAddress: "127.0.0.1:0", memQueueSize: 3 }, dir);
      assert.deepEqual(
        await peekBodies(d2.httpAddress, `/topic/peek?topic=${topic}&n=2`),
        ["d", "e"],
      );
      // the topic's messages move to a new channel; peek reads the channel's disk queue
      await http(d2.httpAddress, "POST", `/channel/create?topic=${topic}&channel=c`);
      await waitFor(async () =>
        (await peekBodies(d2.httpAddress, `/channel/peek?topic=${topic}&channel=c&n=9`))
          .join() === "d,e,a,b,c"
      );
      // a consumer receives them in that order
      await using sub = await connectSub(d2, topic, "c", { rdy: 5 });
      const got: string[] = [];
      for (let i = 0; i < 5; i++) got.push(td.decode((await sub.expectMessage()).body));
      assert.deepEqual(got, ["d", "e", "a", "b", "c"]);
      const st = await channelStats(d2.httpAddress, topic, "c");
      assert.equal(st.in_flight_count, 5);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "bounded topics: --max-topic-depth refuses PUB/MPUB/DPUB and HTTP until drained",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using d = await startNsqd({ httpAddress: "127.0.0.1:0", maxTopicDepth: 100 });
    const base = d.httpAddress;
    const topic = uniqueName("bound");
    await using pub = await V2Conn.connect(d.tcpAddress);
    for (let i = 0; i < 100; i++) await pub.pub(topic, `m${i}`);
    for (let i = 0; i < 100; i++) await pub.expectResponse("OK");

    await pub.pub(topic, "m100");
    await expectNonFatal(pub, `E_PUB_FAILED PUB failed topic ${topic} is full`);
    await pub.mpub(topic, ["x", "y"]);
    await expectNonFatal(pub, `E_MPUB_FAILED MPUB failed topic ${topic} is full`);
    await pub.dpub(topic, 10, "z");
    await expectNonFatal(pub, `E_DPUB_FAILED DPUB failed topic ${topic} is full`);
    await pub.nop(); // the connection stays open and in sync

    assert.deepEqual(await http(base, "POST", `/pub?topic=${topic}`, "h"), {
      status: 503,
      text: '{"message":"TOPIC_FULL"}',
    });
    assert.deepEqual(await http(base, "POST", `/pub?topic=${topic}&defer=5`, "h"), {
      status: 503,
      text: '{"message":"TOPIC_FULL"}',
    });
    assert.deepEqual(await http(base, "POST", `/mpub?topic=${topic}`, "h\ni"), {
      status: 503,
      text: '{"message":"TOPIC_FULL"}',
    });
    // other topics are unaffected; nothing already accepted was dropped
    assert.equal((await http(base, "POST", `/pub?topic=other_${topic}`, "h")).status, 200);

    // a consumer drains 50: the channel (which took the topic's 100) drops to 50
    await using sub = await connectSub(d, topic, "c", { rdy: 50 });
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const m = await sub.expectMessage();
      assert.equal(td.decode(m.body), `m${i}`);
      ids.push(m.id);
    }
    await sub.rdy(0); // so that FINs do not open the window for more
    for (const id of ids) await sub.fin(id);
    await waitFor(async () => (await channelStats(base, topic, "c")).in_flight_count === 0, {
      message: JSON.stringify(await channelStats(base, topic, "c")),
    });
    assert.equal((await channelStats(base, topic, "c")).depth, 50);
    await pub.pub(topic, "again");
    await pub.expectResponse("OK");
    assert.equal((await http(base, "POST", `/pub?topic=${topic}`, "h")).status, 200);
    assert.equal((await channelStats(base, topic, "c")).depth, 52);
  },
});

Deno.test({
  name: "bounded topics: off by default (no limit)",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using d = await startNsqd({ httpAddress: "127.0.0.1:0", memQueueSize: 10 });
    const topic = uniqueName("unbound");
    const bodies = Array.from({ length: 300 }, (_, i) => `b${i}`);
    await using pub = await V2Conn.connect(d.tcpAddress);
    await pub.mpub(topic, bodies);
    await pub.expectResponse("OK");
    await pub.pub(topic, "more");
    await pub.expectResponse("OK");
    assert.equal(d.nsqd.getExistingTopic(topic)!.depth, 301);
  },
});

Deno.test({
  name: "bounded topics: over a restart a full topic stays full; a larger bound accepts again",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_bound_" });
    try {
      const topic = uniqueName("boundr");
      {
        await using d = await startNsqd({ maxTopicDepth: 10, memQueueSize: 4 }, dir);
        await using pub = await V2Conn.connect(d.tcpAddress);
        await pub.mpub(topic, Array.from({ length: 10 }, (_, i) => `m${i}`));
        await pub.expectResponse("OK");
        await pub.pub(topic, "x");
        await expectNonFatal(pub, `E_PUB_FAILED PUB failed topic ${topic} is full`);
      }
      {
        await using d = await startNsqd({ maxTopicDepth: 10, memQueueSize: 4 }, dir);
        assert.equal(d.nsqd.getExistingTopic(topic)!.depth, 10);
        await using pub = await V2Conn.connect(d.tcpAddress);
        await pub.pub(topic, "x");
        await expectNonFatal(pub, `E_PUB_FAILED PUB failed topic ${topic} is full`);
      }
      await using d = await startNsqd({ maxTopicDepth: 11 }, dir);
      await using pub = await V2Conn.connect(d.tcpAddress);
      await pub.pub(topic, "x");
      await pub.expectResponse("OK");
      await pub.pub(topic, "y");
      await expectNonFatal(pub, `E_PUB_FAILED PUB failed topic ${topic} is full`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
