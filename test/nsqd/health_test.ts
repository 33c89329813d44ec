/**
 * nsqd health (docs/nsqd.md#http-api `/ping`, #memory-and-disk-queues): a failed disk-queue write
 * makes nsqd unhealthy — `/ping` answers 500 `NOK - <error>` and the publish fails with
 * `E_PUB_FAILED` / `E_MPUB_FAILED` / `E_DPUB_FAILED` — and the next successful write makes it
 * healthy again.
 *
 * How a write is made to fail (we run as root, so permissions do not stop writes): a directory
 * sits where the disk queue must create its next segment file, so opening it for writing fails
 * with "Is a directory". Removing that directory lets the next write succeed.
 */
import assert from "node:assert/strict";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import { segmentPath } from "../_util/disk_files.ts";
import { waitFor } from "../_util/wait.ts";
import { V2Conn } from "../_util/wire.ts";

const segment = (s: TestNsqd, topic: string, n: number) => segmentPath(s.dataPath, topic, n);

async function ping(s: TestNsqd): Promise<string> {
  const res = await fetch(`http://${s.httpAddress}/ping`);
  return `${res.status} ${await res.text()}`;
}

async function statsHealth(s: TestNsqd): Promise<string> {
  const res = await fetch(`http://${s.httpAddress}/stats?format=json`);
  return (await res.json()).health;
}

/** Waits until `topic` and its channels hold nothing: no depth, nothing in flight or deferred. */
async function drained(s: TestNsqd, topic: string): Promise<void> {
  let last = "";
  await waitFor(async () => {
    const res = await fetch(`http://${s.httpAddress}/stats?format=json&topic=${topic}`);
    const t = (await res.json()).topics[0];
    last = JSON.stringify(t);
    return t.depth === 0 &&
      t.channels.every((c: Record<string, number>) =>
        c.depth === 0 && c.in_flight_count === 0 && c.deferred_count === 0
      );
  }, { timeoutMs: 5000 }).catch((e) => {
    throw new Error(`${e.message}: ${last}`);
  });
}

/** Sends one publish command on a fresh connection and returns the reply frame's text. */
async function publishReply(
  s: TestNsqd,
  send: (c: V2Conn) => Promise<void>,
): Promise<{ text: string; closed: boolean }> {
  await using c = await V2Conn.connect(s.tcpAddress);
  await send(c);
  const f = await c.readFrame(5000);
  let closed = false;
  if (f.type === 1) {
    await c.expectClosed(); // PUB/MPUB/DPUB failures are fatal in NSQ
    closed = true;
  }
  return { text: f.text, closed };
}

Deno.test({
  name:
    "health: a failed disk write → /ping 500 NOK and E_PUB/MPUB/DPUB_FAILED; a good write heals",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using s = await startNsqd({ httpAddress: "127.0.0.1:0", memQueueSize: 0 });
    const topic = uniqueName("health");
    assert.equal(await ping(s), "200 OK");

    // The topic has no channel, so with --mem-queue-size=0 every message goes to its disk queue,
    // whose first segment cannot be opened. (Blocked only after the topic exists: a disk queue
    // starting with a write file bigger than its metadata's writePos skips to the next file.)
    const created = await fetch(`http://${s.httpAddress}/topic/create?topic=${topic}`, {
      method: "POST",
    });
    assert.equal(created.status, 200, await created.text());
    const blocker = segment(s, topic, 0);
    await Deno.mkdir(blocker);

    const pub = await publishReply(s, (c) => c.pub(topic, "p1"));
    assert.match(pub.text, /^E_PUB_FAILED PUB failed \S/);
    assert.ok(pub.closed);
    const nok = await ping(s);
    assert.match(nok, /^500 NOK - \S/);
    assert.equal(nok.slice("500 NOK - ".length), pub.text.slice("E_PUB_FAILED PUB failed ".length));
    assert.equal(await statsHealth(s), nok.slice(4));

    const mpub = await publishReply(s, (c) => c.mpub(topic, ["m1", "m2"]));
    assert.match(mpub.text, /^E_MPUB_FAILED MPUB failed \S/);
    assert.ok(mpub.closed);
    const dpub = await publishReply(s, (c) => c.dpub(topic, 1000, "d1"));
    assert.match(dpub.text, /^E_DPUB_FAILED DPUB failed \S/);
    assert.ok(dpub.closed);
    // HTTP /pub answers as Go's doPUB does when PutMessage fails.
    const hp = await fetch(`http://${s.httpAddress}/pub?topic=${topic}`, {
      method: "POST",
      body: "h1",
    });
    assert.equal(hp.status, 503);
    assert.deepEqual(await hp.json(), { message: "EXITING" });
    assert.match(await ping(s), /^500 NOK - /);

    // Make the disk writable again: the next successful write clears the health error.
    await Deno.remove(blocker);
    const ok = await publishReply(s, (c) => c.pub(topic, "p2"));
    assert.deepEqual(ok, { text: "OK", closed: false });
    assert.equal(await ping(s), "200 OK");
    assert.equal(await statsHealth(s), "OK");

    // Only the acknowledged message is in the queue.
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.sub(topic, "ch");
    await c.expectResponse("OK");
    await c.rdy(10);
    const m = await c.expectMessage();
    assert.equal(new TextDecoder().decode(m.body), "p2");
    await c.fin(m.id);
    await drained(s, topic);
  },
});

Deno.test({
  name: "health: a segment roll that cannot create the next file fails the publish, then heals",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    // 100-byte segments: the second 50-byte message (80 bytes on disk) must roll to file 1.
    await using s = await startNsqd({
      httpAddress: "127.0.0.1:0",
      memQueueSize: 0,
      maxBytesPerFile: 100,
    });
    const topic = uniqueName("roll");
    const body = (i: number) => `${i}`.padEnd(50, ".");
    await Deno.mkdir(segment(s, topic, 1));

    const first = await publishReply(s, (c) => c.pub(topic, body(1)));
    assert.deepEqual(first, { text: "OK", closed: false });
    assert.equal(await ping(s), "200 OK");

    const second = await publishReply(s, (c) => c.pub(topic, body(2)));
    assert.match(second.text, /^E_PUB_FAILED PUB failed \S/);
    assert.match(await ping(s), /^500 NOK - \S/);

    await Deno.remove(segment(s, topic, 1));
    const third = await publishReply(s, (c) => c.pub(topic, body(3)));
    assert.deepEqual(third, { text: "OK", closed: false });
    assert.equal(await ping(s), "200 OK");

    // Messages 1 and 3 were acknowledged and are delivered; 2 was refused.
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.sub(topic, "ch");
    await c.expectResponse("OK");
    await c.rdy(10);
    const got = [await c.expectMessage(), await c.expectMessage()];
    assert.deepEqual(got.map((m) => new TextDecoder().decode(m.body)).sort(), [body(1), body(3)]);
    for (const m of got) await c.fin(m.id);
    await drained(s, topic);
  },
});
