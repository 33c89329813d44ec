/**
 * Beyond NSQ (docs/beyond-nsq.md): server-side max attempts and a dead-letter topic per channel
 * (nsqio/nsq#974, #1050), at the wire, over HTTP (/channel/config, /stats, /metrics) and over
 * a restart (nsqd.dat).
 */
import assert from "node:assert/strict";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { connectSub, frameWithin, publishTo } from "../_util/protocol.ts";
import { waitFor } from "../_util/wait.ts";

const td = new TextDecoder();

async function http(
  base: string,
  method: string,
  path: string,
): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://${base}${path}`, { method });
  return { status: r.status, text: await r.text() };
}

// deno-lint-ignore no-explicit-any
async function channelStats(base: string, topic: string, channel: string): Promise<any> {
  const r = await http(base, "GET", `/stats?format=json&topic=${topic}&channel=${channel}`);
  return JSON.parse(r.text).topics[0].channels[0];
}

Deno.test({
  name: "dead letter: REQ'd 3 times with max_attempts=3, then once in the dead-letter topic",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_dlq_" });
    try {
      const topic = uniqueName("work");
      const dlq = uniqueName("dlq");
      {
        await using d = await startNsqd({ httpAddress: "127.0.0.1:0" }, dir);
        const base = d.httpAddress;
        await http(base, "POST", `/topic/create?topic=${topic}`);
        await http(base, "POST", `/channel/create?topic=${topic}&channel=c`);
        // off by default: no extra keys in the channel's stats
        assert.equal("max_attempts" in await channelStats(base, topic, "c"), false);

        const cfg = `/channel/config?topic=${topic}&channel=c`;
        assert.deepEqual(await http(base, "POST", `${cfg}&max_attempts=x`), {
          status: 400,
          text: '{"message":"INVALID_MAX_ATTEMPTS"}',
        });
        assert.deepEqual(await http(base, "POST", `${cfg}&dead_letter_topic=bad!name`), {
          status: 400,
          text: '{"message":"INVALID_DEAD_LETTER_TOPIC"}',
        });
        assert.equal(
          (await http(base, "POST", `/channel/config?topic=${topic}&channel=zz&max_attempts=1`))
            .text,
          '{"message":"CHANNEL_NOT_FOUND"}',
        );
        const ok = await http(base, "POST", `${cfg}&max_attempts=3&dead_letter_topic=${dlq}`);
        assert.equal(ok.status, 200, ok.text);
        assert.deepEqual(JSON.parse(ok.text), { max_attempts: 3, dead_letter_topic: dlq });

        await publishTo(d, topic, "poison");
        await using sub = await connectSub(d, topic, "c", { rdy: 1 });
        for (let attempt = 1; attempt <= 3; attempt++) {
          const m = await sub.expectMessage();
          assert.equal(td.decode(m.body), "poison");
          assert.equal(m.attempts, attempt);
          await sub.req(m.id, 0);
        }
        assert.equal(await frameWithin(sub, 300), null, "delivered a 4th time");

        const st = await channelStats(base, topic, "c");
        assert.equal(st.depth, 0);
        assert.equal(st.in_flight_count, 0);
        assert.equal(st.deferred_count, 0);
        assert.equal(st.requeue_count, 3);
        assert.equal(st.max_attempts, 3);
        assert.equal(st.dead_letter_topic, dlq);
        assert.equal(st.dead_letter_count, 1);
        const metrics = (await http(base, "GET", "/metrics")).text;
        assert.match(
          metrics,
          new RegExp(`nsq_channel_dead_letter_count\\{topic="${topic}",channel="c"\\} 1\\n`),
        );
        assert.match(
          metrics,
          new RegExp(`nsq_channel_max_attempts\\{topic="${topic}",channel="c"\\} 3\\n`),
        );

        // exactly one copy in the dead-letter topic, with the original body
        await using dsub = await connectSub(d, dlq, "inspect", { rdy: 5 });
        const dm = await dsub.expectMessage();
        assert.equal(td.decode(dm.body), "poison");
        assert.equal(dm.attempts, 1);
        await dsub.fin(dm.id);
        assert.equal(await frameWithin(dsub, 200), null);
      }
      // the configuration survives a restart (extra keys in nsqd.dat)
      const meta = JSON.parse(await Deno.readTextFile(`${dir}/nsqd.dat`));
      const t = meta.topics.find((x: { name: string }) => x.name === topic);
      assert.deepEqual(t.channels, [{
        name: "c",
        paused: false,
        max_attempts: 3,
        dead_letter_topic: dlq,
      }]);
      await using d2 = await startNsqd({ httpAddress: "127.0.0.1:0" }, dir);
      const st = await channelStats(d2.httpAddress, topic, "c");
      assert.equal(st.max_attempts, 3);
      assert.equal(st.dead_letter_topic, dlq);
      assert.equal(st.dead_letter_count, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "dead letter: a timeout counts; without a dead-letter topic the message is dropped",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using d = await startNsqd({ httpAddress: "127.0.0.1:0" });
    const base = d.httpAddress;
    const topic = uniqueName("tmo");
    const dlq = uniqueName("tmo_dlq");
    await http(base, "POST", `/topic/create?topic=${topic}`);
    await http(base, "POST", `/channel/create?topic=${topic}&channel=a`);
    await http(base, "POST", `/channel/create?topic=${topic}&channel=b`);
    await http(
      base,
      "POST",
      `/channel/config?topic=${topic}&channel=a&max_attempts=1&dead_letter_topic=${dlq}`,
    );
    await http(base, "POST", `/channel/config?topic=${topic}&channel=b&max_attempts=1`);
    await publishTo(d, topic, "slow");
    // channel a: delivered once, never answered: the timeout dead-letters it
    await using a = await connectSub(d, topic, "a", { identify: { msg_timeout: 1000 }, rdy: 1 });
    assert.equal(td.decode((await a.expectMessage()).body), "slow");
    await waitFor(async () => (await channelStats(base, topic, "a")).dead_letter_count === 1, {
      timeoutMs: 5000,
    });
    const sa = await channelStats(base, topic, "a");
    assert.equal(sa.timeout_count, 1);
    assert.equal(sa.depth + sa.in_flight_count + sa.deferred_count, 0);
    assert.equal(d.nsqd.getExistingTopic(dlq)?.depth, 1);
    assert.equal(await frameWithin(a, 150), null);
    // channel b: REQ with a delay at the last attempt: dropped, not deferred
    await using b = await connectSub(d, topic, "b", { rdy: 1 });
    const mb = await b.expectMessage();
    await b.req(mb.id, 60_000);
    await waitFor(async () => (await channelStats(base, topic, "b")).dead_letter_count === 1);
    const sb = await channelStats(base, topic, "b");
    assert.equal(sb.deferred_count, 0);
    assert.equal(sb.dead_letter_topic, "");
    assert.equal(sb.depth, 0);
  },
});

Deno.test({
  name: "dead letter: --max-attempts and --dead-letter-topic-suffix give new channels defaults",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using d = await startNsqd({
      httpAddress: "127.0.0.1:0",
      maxAttempts: 2,
      deadLetterTopicSuffix: ".dlq",
    });
    const base = d.httpAddress;
    const topic = uniqueName("dflt");
    await publishTo(d, topic, "x");
    await using sub = await connectSub(d, topic, "c", { rdy: 1 });
    for (let i = 0; i < 2; i++) await sub.req((await sub.expectMessage()).id, 0);
    await waitFor(() => d.nsqd.getExistingTopic(`${topic}.dlq`)?.depth === 1);
    const st = await channelStats(base, topic, "c");
    assert.equal(st.max_attempts, 2);
    assert.equal(st.dead_letter_topic, `${topic}.dlq`);
    assert.equal(st.dead_letter_count, 1);
    // the dead-letter topic's own channels get no `.dlq.dlq`; defaults are not persisted
    await http(base, "POST", `/channel/create?topic=${topic}.dlq&channel=c`);
    const ds = await channelStats(base, `${topic}.dlq`, "c");
    assert.equal(ds.dead_letter_topic, "");
    await d.nsqd.persistMetadata();
    const meta = JSON.parse(await Deno.readTextFile(`${d.dataPath}/nsqd.dat`));
    for (const t of meta.topics) {
      for (const c of t.channels ?? []) assert.deepEqual(Object.keys(c), ["name", "paused"]);
    }
  },
});
