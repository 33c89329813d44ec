/**
 * lib/client Producer against our nsqd in-process: PUB/MPUB/DPUB settle in order on OK, an
 * error frame rejects with nsqd's exact E_ text and the next publish reconnects, ping, lazy
 * reconnect after nsqd restarts, stop() waits for answers.
 */
import assert from "node:assert/strict";
import { NotConnectedError, Producer, ProducerError, StoppedError } from "../../mod.ts";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";

function depth(n: Awaited<ReturnType<typeof startNsqd>>, topic: string): number {
  return n.nsqd.getExistingTopic(topic)?.depth ?? 0;
}

Deno.test("Producer: PUB, MPUB, DPUB resolve on OK in call order", async () => {
  await using n = await startNsqd({ logLevel: "warn" });
  await using p = new Producer(n.tcpAddress);
  const topic = uniqueName();
  const order: number[] = [];
  const all = [];
  for (let i = 0; i < 50; i++) {
    const ops = [
      () => p.publish(topic, `m${i}`),
      () => p.multiPublish(topic, [`a${i}`, new TextEncoder().encode(`b${i}`)]),
      () => p.deferredPublish(topic, 60_000, `d${i}`),
    ];
    all.push(ops[i % 3]().then(() => order.push(i)));
  }
  await Promise.all(all);
  assert.deepEqual(order, [...Array(50).keys()]);
  assert.equal(p.pending, 0);
  // Without a channel the topic keeps all: 17 PUB + 17 MPUB x2 + 16 DPUB.
  assert.equal(depth(n, topic), 17 + 34 + 16);
});

Deno.test("Producer: an error frame rejects with nsqd's exact text; the next publish reconnects", async () => {
  await using n = await startNsqd({ logLevel: "warn" });
  await using p = new Producer(n.tcpAddress);
  const topic = uniqueName();
  await p.publish(topic, "ok");
  const err = await p.publish("bad!", "x").then(() => null, (e) => e);
  assert.ok(err instanceof ProducerError);
  assert.equal(err.code, "E_BAD_TOPIC");
  assert.equal(err.message, 'E_BAD_TOPIC PUB topic name "bad!" is not valid');
  const empty = await p.multiPublish(topic, []).then(() => null, (e) => e);
  assert.ok(empty instanceof RangeError);
  const body = await p.publish(topic, new Uint8Array(0)).then(() => null, (e) => e);
  assert.ok(body instanceof ProducerError);
  assert.equal(body.code, "E_BAD_MESSAGE");
  await p.publish(topic, "after");
  await p.ping();
  assert.equal(depth(n, topic), 2);
});

Deno.test("Producer: reconnects lazily after nsqd restarts; stop() rejects later calls", async () => {
  const n1 = await startNsqd({ logLevel: "warn" });
  const addr = n1.tcpAddress;
  const p = new Producer(addr, { dialTimeout: 500 });
  try {
    const topic = uniqueName();
    await p.publish(topic, "one");
    await n1.close(false);
    await waitFor(() => !p.connected, { message: "producer saw the close" });
    const down = await p.publish(topic, "lost").then(() => null, (e) => e);
    assert.ok(down instanceof NotConnectedError, String(down));
    await using n2 = await startNsqd({ logLevel: "warn", tcpAddress: addr }, n1.dataPath);
    await p.publish(topic, "two");
    await p.ping();
    assert.equal(depth(n2, topic), 2); // "one" survived the restart on disk/metadata
  } finally {
    await p.stop();
    await Deno.remove(n1.dataPath, { recursive: true }).catch(() => {});
  }
  const stopped = await p.publish("t", "x").then(() => null, (e) => e);
  assert.ok(stopped instanceof StoppedError);
});

Deno.test("Producer: stop() waits for outstanding answers", async () => {
  await using n = await startNsqd({ logLevel: "warn" });
  const p = new Producer(n.tcpAddress);
  const topic = uniqueName();
  await p.connect();
  const pubs = Array.from({ length: 200 }, (_, i) => p.publish(topic, `m${i}`));
  await p.stop();
  await Promise.all(pubs);
  assert.equal(depth(n, topic), 200);
});

Deno.test("Producer: nsqd closing with commands outstanding rejects each with NotConnectedError", async () => {
  const n = await startNsqd({ logLevel: "warn" });
  const p = new Producer(n.tcpAddress, { dialTimeout: 300 });
  try {
    const topic = uniqueName();
    await p.connect();
    const results = Array.from(
      { length: 2000 },
      (_, i) => p.publish(topic, `m${i}`).then(() => "ok", (e) => e.name),
    );
    const closing = n.close();
    const settled = await Promise.all(results);
    await closing;
    const ok = settled.filter((r) => r === "ok").length;
    const lost = settled.filter((r) => r === "NotConnectedError").length;
    assert.equal(ok + lost, 2000, JSON.stringify([...new Set(settled)]));
    // Whatever was acknowledged is a prefix: answers come in order.
    assert.ok(settled.slice(0, ok).every((r) => r === "ok"));
    const after = await p.publish(topic, "x").then(() => null, (e) => e);
    assert.ok(after instanceof NotConnectedError);
    assert.equal(after.message, `dial tcp ${n.tcpAddress}: connect: connection refused`);
  } finally {
    await p.stop();
  }
});
