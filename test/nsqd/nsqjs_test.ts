/**
 * nsqd against a real third-party client, npm:nsqjs 0.13 (Node's net under Deno): a Writer
 * publishes (PUB and MPUB), a Reader consumes with FIN, requeues, backs off, and both close
 * cleanly. Closing waits for nsqjs's close events so no socket or timer outlives a test.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import nsq from "nsqjs";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";

interface NsqMessage {
  id: string;
  attempts: number;
  timestamp: unknown;
  body: Uint8Array;
  finish(): void;
  requeue(delay?: number, backoff?: boolean): void;
  touch(): void;
}

function hostPort(s: TestNsqd): [string, number] {
  const i = s.tcpAddress.lastIndexOf(":");
  return [s.tcpAddress.slice(0, i), Number(s.tcpAddress.slice(i + 1))];
}

/** A connected nsqjs Writer; `close()` resolves once its connection has closed. */
async function openWriter(s: TestNsqd) {
  const [host, port] = hostPort(s);
  const w = new nsq.Writer(host, port, {});
  const ready = once(w, "ready");
  w.connect();
  await ready;
  const publish = (topic: string, msgs: string | string[]) =>
    new Promise<void>((resolve, reject) =>
      w.publish(topic, msgs, (err?: Error) => (err ? reject(err) : resolve()))
    );
  const deferPublish = (topic: string, msg: string, ms: number) =>
    new Promise<void>((resolve, reject) =>
      // nsqjs 0.13's deferPublish hands its argument straight to a function expecting an array
      w.deferPublish(topic, [msg], ms, (err?: Error) => (err ? reject(err) : resolve()))
    );
  const close = async () => {
    const closed = once(w, "closed");
    w.close();
    await closed;
  };
  return { writer: w, publish, deferPublish, close };
}

/** An nsqjs Reader; `close()` resolves once its nsqd connection has closed. */
function openReader(
  s: TestNsqd,
  topic: string,
  channel: string,
  options: Record<string, unknown> = {},
) {
  const r = new nsq.Reader(topic, channel, {
    nsqdTCPAddresses: [s.tcpAddress],
    lookupdPollInterval: 1,
    maxInFlight: 10,
    maxBackoffDuration: 1,
    ...options,
  });
  const errors: unknown[] = [];
  r.on("error", (err: unknown) => errors.push(err));
  const connected = once(r, "nsqd_connected");
  r.connect();
  const close = async () => {
    const closed = once(r, "nsqd_closed");
    r.close();
    await closed;
  };
  return { reader: r, connected, errors, close };
}

const text = (m: NsqMessage) => new TextDecoder().decode(m.body);

Deno.test("nsqjs: Writer publishes one message and an array; Reader consumes and FINs", async () => {
  await using s = await startNsqd();
  const topic = uniqueName("nsqjs");
  const w = await openWriter(s);
  await w.publish(topic, "single");
  await w.publish(topic, ["one", "two", "three"]);
  const got: string[] = [];
  const r = openReader(s, topic, "ch");
  const seen: { id: string; attempts: number }[] = [];
  r.reader.on("message", (m: NsqMessage) => {
    seen.push({ id: m.id, attempts: m.attempts });
    got.push(text(m));
    m.finish();
  });
  await r.connected;
  await waitFor(() => got.length === 4, { message: `got ${got}` });
  assert.deepEqual(got.sort(), ["one", "single", "three", "two"]);
  for (const { id, attempts } of seen) {
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.equal(attempts, 1);
  }
  const ch = s.nsqd.getTopic(topic).getChannel("ch");
  await waitFor(() => ch.inFlightCount === 0, { message: "FINs processed" });
  assert.equal(ch.depth, 0);
  assert.equal(s.nsqd.getTopic(topic).messageCount, 4);
  assert.deepEqual(r.errors, []);
  await r.close();
  await w.close();
  await waitFor(() => s.nsqd.clients.size === 0);
});

Deno.test("nsqjs: messages published while the Reader is connected arrive; deferPublish too", async () => {
  await using s = await startNsqd();
  const topic = uniqueName("nsqjs");
  const got: string[] = [];
  const r = openReader(s, topic, "ch");
  r.reader.on("message", (m: NsqMessage) => {
    got.push(text(m));
    m.finish();
  });
  await r.connected;
  await waitFor(() => s.nsqd.getExistingTopic(topic)?.getExistingChannel("ch") !== undefined);
  const w = await openWriter(s);
  const t0 = performance.now();
  await w.deferPublish(topic, "deferred", 200);
  await w.publish(topic, ["a", "b"]);
  await waitFor(() => got.length === 3);
  assert.ok(performance.now() - t0 >= 195);
  assert.deepEqual(got, ["a", "b", "deferred"]);
  await r.close();
  await w.close();
});

Deno.test("nsqjs: requeue(0, false) redelivers with attempts 2", async () => {
  await using s = await startNsqd();
  const topic = uniqueName("nsqjs");
  const w = await openWriter(s);
  await w.publish(topic, "retry-me");
  const attempts: number[] = [];
  const ids: string[] = [];
  const r = openReader(s, topic, "ch");
  r.reader.on("message", (m: NsqMessage) => {
    attempts.push(m.attempts);
    ids.push(m.id);
    if (m.attempts === 1) m.requeue(0, false);
    else m.finish();
  });
  await r.connected;
  await waitFor(() => attempts.length === 2);
  assert.deepEqual(attempts, [1, 2]);
  assert.equal(ids[0], ids[1]);
  const ch = s.nsqd.getTopic(topic).getChannel("ch");
  await waitFor(() => ch.inFlightCount === 0 && ch.requeueCount === 1);
  await r.close();
  await w.close();
});

Deno.test("nsqjs: an unanswered message times out (messageTimeout) and comes back; touch() holds it", async () => {
  await using s = await startNsqd();
  const topic = uniqueName("nsqjs");
  const w = await openWriter(s);
  await w.publish(topic, ["forgotten", "touched"]);
  const deliveries: { body: string; attempts: number; at: number }[] = [];
  const unanswered: { timedOut: boolean }[] = [];
  const timers: ReturnType<typeof setTimeout>[] = [];
  const t0 = performance.now();
  const r = openReader(s, topic, "ch", { messageTimeout: 1000, maxInFlight: 5 });
  r.reader.on("message", (m: NsqMessage) => {
    deliveries.push({ body: text(m), attempts: m.attempts, at: performance.now() - t0 });
    if (text(m) === "touched") {
      // touch at ~600 and ~1200 ms, finish at ~1500 ms: it never times out
      timers.push(setTimeout(() => m.touch(), 600));
      timers.push(setTimeout(() => m.touch(), 1200));
      timers.push(setTimeout(() => m.finish(), 1500));
    } else if (m.attempts === 1) {
      unanswered.push(m as unknown as { timedOut: boolean }); // nsqd times it out
    } else {
      m.finish();
    }
  });
  await r.connected;
  await waitFor(() => deliveries.length === 3, {
    timeoutMs: 4000,
    message: JSON.stringify(deliveries),
  });
  const again = deliveries[2];
  assert.equal(again.body, "forgotten");
  assert.equal(again.attempts, 2);
  assert.ok(again.at >= 900, `redelivered after ${again.at}ms`);
  const ch = s.nsqd.getTopic(topic).getChannel("ch");
  await waitFor(() => ch.inFlightCount === 0, { timeoutMs: 3000 });
  assert.equal(ch.timeoutCount, 1, "only the forgotten message times out");
  assert.equal(deliveries.filter((d) => d.body === "touched").length, 1);
  // nsqjs keeps a timer per unanswered message until its timeout has passed
  await waitFor(() => unanswered.every((m) => m.timedOut));
  timers.forEach(clearTimeout);
  await r.close();
  await w.close();
});

Deno.test("nsqjs: requeue with backoff still delivers every message", async () => {
  await using s = await startNsqd();
  const topic = uniqueName("nsqjs");
  const w = await openWriter(s);
  await w.publish(topic, ["b1", "b2", "b3"]);
  const finished = new Set<string>();
  let requeues = 0;
  const r = openReader(s, topic, "ch", { maxInFlight: 3 });
  r.reader.on("message", (m: NsqMessage) => {
    if (m.attempts === 1) {
      requeues++;
      m.requeue(0, true); // backoff: nsqjs sends RDY 0, waits, then tries RDY 1
    } else {
      finished.add(text(m));
      m.finish();
    }
  });
  await r.connected;
  await waitFor(() => finished.size === 3, { timeoutMs: 10_000, message: `${[...finished]}` });
  assert.equal(requeues, 3);
  const ch = s.nsqd.getTopic(topic).getChannel("ch");
  await waitFor(() => ch.inFlightCount === 0 && ch.depth === 0);
  await r.close();
  await w.close();
});

Deno.test("nsqjs: heartbeats are answered with NOP and keep the connection alive", async () => {
  await using s = await startNsqd();
  const topic = uniqueName("nsqjs");
  const got: string[] = [];
  const r = openReader(s, topic, "ch", { heartbeatInterval: 1 }); // seconds
  r.reader.on("message", (m: NsqMessage) => {
    got.push(text(m));
    m.finish();
  });
  await r.connected;
  await waitFor(() => s.nsqd.getExistingTopic(topic)?.getExistingChannel("ch")?.clients.size === 1);
  const client = [...s.nsqd.getTopic(topic).getChannel("ch").clients.values()][0];
  assert.equal(client.heartbeatInterval, 1000);
  // nsqd closes a client silent for 2 intervals; nsqjs NOPs every heartbeat. Watch 2.5 intervals.
  const start = performance.now();
  await waitFor(() => {
    assert.equal(client.closed, false, "nsqd closed the nsqjs connection");
    return performance.now() - start > 2500;
  }, { timeoutMs: 4000, intervalMs: 100 });
  const w = await openWriter(s);
  await w.publish(topic, "still here");
  await waitFor(() => got.length === 1);
  await r.close();
  await w.close();
});

Deno.test("nsqjs: closing the Reader sends CLS and the connection is released", async () => {
  await using s = await startNsqd();
  const topic = uniqueName("nsqjs");
  const r = openReader(s, topic, "ch");
  await r.connected;
  await waitFor(() => s.nsqd.getExistingTopic(topic)?.getExistingChannel("ch")?.clients.size === 1);
  await r.close();
  await waitFor(() => s.nsqd.clients.size === 0);
  assert.equal(s.nsqd.getTopic(topic).getChannel("ch").clients.size, 0);
});
