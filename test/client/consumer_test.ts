/**
 * lib/client Consumer against our nsqd in-process: every message handled once (FIN), a
 * throwing handler REQs (attempts grow), explicit requeue/touch/disableAutoResponse, maxAttempts
 * FINs without the handler, maxInFlight split over several nsqd, reconnect to a restarted nsqd,
 * and a graceful stop that waits for in-flight handlers.
 */
import assert from "node:assert/strict";
import { Consumer, type Message, Producer } from "../../mod.ts";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";

const text = (m: Message) => new TextDecoder().decode(m.body);

Deno.test("Consumer: receives and FINs every message across several nsqd", async () => {
  await using a = await startNsqd({ logLevel: "warn" });
  await using b = await startNsqd({ logLevel: "warn" });
  const topic = uniqueName();
  await using pa = new Producer(a.tcpAddress);
  await using pb = new Producer(b.tcpAddress);
  const sent = new Set<string>();
  const bodies = (p: string) => Array.from({ length: 250 }, (_, i) => `${p}${i}`);
  for (const s of [...bodies("a"), ...bodies("b")]) sent.add(s);
  await pa.multiPublish(topic, bodies("a"));
  await pb.multiPublish(topic, bodies("b"));

  const got = new Map<string, number>();
  const c = new Consumer(topic, "ch", { maxInFlight: 20 });
  c.addHandler(async (m) => {
    await Promise.resolve();
    got.set(text(m), (got.get(text(m)) ?? 0) + 1);
    assert.ok(m.nsqdAddress === a.tcpAddress || m.nsqdAddress === b.tcpAddress);
    assert.equal(m.id.length, 16);
    assert.ok(m.timestamp > 1_600_000_000_000_000_000n);
  }, { concurrency: 5 });
  await c.connectToNsqds([a.tcpAddress, b.tcpAddress]);
  assert.deepEqual([...c.rdyCounts().values()], [10, 10]);
  await waitFor(() => got.size === sent.size, { message: `got ${got.size}` });
  await c.stop();
  assert.ok([...got.values()].every((n) => n === 1));
  const s = c.stats();
  assert.equal(s.messagesReceived, 500);
  assert.equal(s.messagesFinished, 500);
  assert.equal(s.connections, 0);
  const ch = a.nsqd.getExistingTopic(topic)!.getExistingChannel("ch");
  assert.ok(ch === undefined || ch.depth === 0);
});

Deno.test("Consumer: a throwing handler REQs; requeue/touch/auto response; maxAttempts", async () => {
  await using n = await startNsqd({ logLevel: "warn" });
  const topic = uniqueName();
  await using p = new Producer(n.tcpAddress);
  await p.multiPublish(topic, ["fail-once", "manual", "too-many"]);
  const seen: string[] = [];
  const c = new Consumer(topic, "ch", {
    maxInFlight: 5,
    maxAttempts: 2,
    defaultRequeueDelay: 0,
    backoffMultiplier: 1,
  });
  let held: Message | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  c.addHandler((m) => {
    seen.push(`${text(m)}:${m.attempts}`);
    switch (text(m)) {
      case "fail-once":
        if (m.attempts === 1) throw new Error("boom");
        return;
      case "manual":
        m.disableAutoResponse();
        m.touch();
        held = m;
        // Answered later; meanwhile it holds the single RDY of the backoff probe.
        timer = setTimeout(() => m.finish(), 30);
        return;
      case "too-many":
        m.requeue(0, false);
        assert.ok(m.hasResponded);
        m.finish(); // no-op after a response
        return;
    }
  });
  await c.connectToNsqd(n.tcpAddress);
  // "too-many" attempt 3 exceeds maxAttempts 2: FINed without reaching the handler.
  await waitFor(() => c.stats().messagesFinished === 3, { message: JSON.stringify(seen) });
  clearTimeout(timer);
  await c.stop();
  assert.deepEqual(seen.filter((s) => !s.startsWith("manual")).sort(), [
    "fail-once:1",
    "fail-once:2",
    "too-many:1",
    "too-many:2",
  ]);
  assert.ok(held!.hasResponded);
  assert.equal(c.stats().messagesRequeued, 3);
  assert.equal(n.nsqd.getExistingTopic(topic)!.getExistingChannel("ch")!.depth, 0);
});

Deno.test("Consumer: stop() waits for in-flight handlers and FINs their messages", async () => {
  await using n = await startNsqd({ logLevel: "warn" });
  const topic = uniqueName();
  await using p = new Producer(n.tcpAddress);
  await p.multiPublish(topic, ["1", "2", "3"]);
  const c = new Consumer(topic, "ch", { maxInFlight: 3 });
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let started = 0;
  let finished = 0;
  c.addHandler(async () => {
    started++;
    await gate;
    finished++;
  }, { concurrency: 3 });
  await c.connectToNsqd(n.tcpAddress);
  await waitFor(() => started === 3);
  let stopped = false;
  const stopping = c.stop().then(() => stopped = true);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(stopped, false);
  release();
  await stopping;
  assert.equal(finished, 3);
  assert.equal(c.stats().messagesFinished, 3);
  await waitFor(() =>
    n.nsqd.getExistingTopic(topic)!.getExistingChannel("ch")!.inFlightCount === 0
  );
  await c.connectToNsqd(n.tcpAddress).then(
    () => assert.fail("connect after stop"),
    (e) => assert.equal(e.message, "consumer stopped"),
  );
});

Deno.test("Consumer: reconnects to a directly given nsqd after it restarts", async () => {
  const n1 = await startNsqd({ logLevel: "warn" });
  const addr = n1.tcpAddress;
  const topic = uniqueName();
  const got: string[] = [];
  const c = new Consumer(topic, "ch", { maxInFlight: 4, lookupdPollInterval: 50 });
  c.addHandler((m) => {
    got.push(text(m));
  });
  try {
    const p0 = new Producer(addr);
    await p0.publish(topic, "before");
    await p0.stop();
    await c.connectToNsqd(addr);
    await waitFor(() => got.length === 1);
    await n1.close(false);
    await waitFor(() => c.stats().connections === 0);
    await using n2 = await startNsqd({ logLevel: "warn", tcpAddress: addr }, n1.dataPath);
    await using p = new Producer(addr);
    await p.publish(topic, "after");
    await waitFor(() => got.includes("after"), { message: "after reconnect" });
    assert.equal(c.stats().connections, 1);
    await c.stop();
    void n2;
  } finally {
    await c.stop();
    await n1.close(true);
    await Deno.remove(n1.dataPath, { recursive: true }).catch(() => {});
  }
});
