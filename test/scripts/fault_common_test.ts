/**
 * Tests for scripts/_fault_common.ts (what soak.ts and durability.ts share): the ledgers, the
 * message bodies, the reconciliation of acknowledged against received, the RSS slope, and the
 * publisher and consumer against a real in-process nsqd.
 */
import assert from "node:assert/strict";
import {
  Consumer,
  makeBody,
  parseBody,
  Publisher,
  reconcile,
  SeqMap,
  slope,
} from "../../scripts/_fault_common.ts";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";

Deno.test("fault common: SeqMap counts per sequence number and grows", () => {
  const m = new SeqMap();
  assert.equal(m.max, -1);
  assert.equal(m.bump(5), 1);
  assert.equal(m.bump(5), 2);
  assert.equal(m.bump(100_000), 1);
  assert.equal(m.get(5), 2);
  assert.equal(m.get(6), 0);
  assert.equal(m.get(1 << 30), 0);
  assert.equal(m.max, 100_000);
});

Deno.test("fault common: bodies carry publisher and sequence number, padded to size", () => {
  const b = makeBody(3, 12345, 200);
  assert.equal(b.length, 200);
  assert.deepEqual(parseBody(b), { pub: 3, seq: 12345 });
  assert.equal(parseBody(new TextEncoder().encode("hello")), null);
  assert.equal(makeBody(1, 1, 2).length, "P1:1:".length);
});

Deno.test("fault common: slope is the least-squares fit", () => {
  assert.equal(slope([0, 1, 2, 3], [5, 7, 9, 11]), 2);
  assert.equal(slope([0, 1, 2], [4, 4, 4]), 0);
  assert.equal(slope([1], [1]), 0);
});

Deno.test("fault common: publisher and consumers over a real nsqd reconcile to 0 lost", async () => {
  await using s = await startNsqd();
  const topic = uniqueName("fc");
  const pub = new Publisher(7, topic, 64, 0, 3);
  const consumers = [0, 1].map(() => new Consumer({ topic, channel: "ch", rdy: 10, sessionMs: 0 }));
  const stopPub = new AbortController();
  const stopCon = new AbortController();
  const target = { addr: () => s.tcpAddress };
  // The channel exists before the first publish.
  const tasks = consumers.map((c) => c.run(target, stopCon.signal));
  await waitFor(() => consumers.every((c) => c.sessions === 1), { message: "subscribed" });
  await waitFor(() => s.nsqd.getExistingTopic(topic)?.getExistingChannel("ch") !== undefined);
  const p = pub.run(target, stopPub.signal);
  await waitFor(() => pub.ackedCount >= 300, { timeoutMs: 10_000, message: "300 acknowledged" });
  stopPub.abort();
  await p;
  await waitFor(() => reconcile([pub], consumers).lost === 0, {
    timeoutMs: 10_000,
    message: "every acknowledged message received",
  });
  stopCon.abort();
  await Promise.all(tasks);
  const r = reconcile([pub], consumers);
  assert.equal(r.acked, pub.ackedCount);
  assert.equal(r.receivedAcked, r.acked);
  assert.equal(r.phantom, 0);
  assert.deepEqual(r.lostAckTimes, []);
  assert.ok(pub.ackTimes[0] > 0);
  assert.equal(consumers.reduce((a, c) => a + c.received, 0), pub.sent);
});
