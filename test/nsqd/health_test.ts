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
import { frameWithin } from "../_util/protocol.ts";
import { fillUp, tmpfsUnavailable, withTmpfs } from "../_util/tmpfs.ts";

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

// ---- a full disk ----------------------------------------------------------------------------

/**
 * The full-disk sequence on a real file system that runs out of space (a 6 MB tmpfs, as root):
 * `--mem-queue-size=0 --sync-every=1`, a channel, 4 KB PUBs one at a time until one is refused
 * with `E_PUB_FAILED`. While full: `/ping` answers `NOK - <error>`, HTTP `/pub` answers Go's 503
 * `EXITING`, a consumer is still served, and an nsqd.dat that cannot be written leaves the
 * previous one intact. Once space is freed (no restart) publishing and `/ping` recover, and
 * draining the channel returns every acknowledged message.
 */
Deno.test({
  name: "health: full disk → E_PUB_FAILED, /ping NOK, consumers served, nsqd.dat intact; space " +
    "freed → publishing resumes; 0 acknowledged lost",
  ignore: tmpfsUnavailable !== null,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await withTmpfs(6, async (dir) => {
      // 1.5 MB of ballast, deleted later to free space.
      await Deno.writeFile(`${dir}/ballast`, new Uint8Array(1536 * 1024));
      await using s = await startNsqd(
        { httpAddress: "127.0.0.1:0", memQueueSize: 0, syncEvery: 1 },
        dir,
      );
      const topic = uniqueName("full");
      const post = (path: string) => fetch(`http://${s.httpAddress}${path}`, { method: "POST" });
      assert.equal((await post(`/topic/create?topic=${topic}`)).status, 200);
      assert.equal((await post(`/channel/create?topic=${topic}&channel=ch`)).status, 200);
      await waitFor(async () => /"ch"/.test(await Deno.readTextFile(`${dir}/nsqd.dat`)), {
        timeoutMs: 5000,
        message: "nsqd.dat lists the channel",
      });
      const datBefore = await Deno.readTextFile(`${dir}/nsqd.dat`);
      assert.match(datBefore, new RegExp(`"${topic}"`));

      // Publish until refused.
      const body = (i: number) => `m${i}:`.padEnd(4096, "x");
      const acked = new Set<string>();
      let refused = "";
      {
        await using c = await V2Conn.connect(s.tcpAddress);
        for (let i = 0; i < 3000 && refused === ""; i++) {
          await c.pub(topic, body(i));
          const f = await c.readFrame(5000);
          if (f.type === 0 && f.text === "OK") acked.add(`m${i}:`);
          else refused = f.text;
        }
        assert.match(
          refused,
          /^E_PUB_FAILED PUB failed \S/,
          "a PUB is refused once the disk is full",
        );
        await c.expectClosed();
      }
      assert.ok(acked.size > 500 && acked.size < 1500, `${acked.size} acknowledged`);
      fillUp(dir); // whatever the refused write left free, so every write now fails

      const nok = await ping(s);
      assert.match(nok, /^500 NOK - \S/);
      assert.equal(
        nok.slice("500 NOK - ".length),
        refused.slice("E_PUB_FAILED PUB failed ".length),
      );
      const hp = await fetch(`http://${s.httpAddress}/pub?topic=${topic}`, {
        method: "POST",
        body: "h1",
      });
      assert.equal(hp.status, 503);
      assert.deepEqual(await hp.json(), { message: "EXITING" });

      // nsqd.dat cannot be written: the previous one stays as it was.
      const other = uniqueName("other");
      assert.equal((await post(`/topic/create?topic=${other}`)).status, 200);
      await waitFor(() => s.logs.some((l) => /failed to persist metadata/.test(l)), {
        timeoutMs: 5000,
        message: "the failed nsqd.dat write logged",
      });
      assert.equal(await Deno.readTextFile(`${dir}/nsqd.dat`), datBefore);

      // A consumer is still served while the disk is full.
      const received = new Map<string, number>();
      const see = (m: { body: Uint8Array }) => {
        const text = new TextDecoder().decode(m.body.subarray(0, 16));
        const k = text.slice(0, text.indexOf(":") + 1) || text;
        received.set(k, (received.get(k) ?? 0) + 1);
      };
      {
        await using c = await V2Conn.connect(s.tcpAddress);
        await c.sub(topic, "ch");
        await c.expectResponse("OK");
        await c.rdy(1);
        for (let i = 0; i < 10; i++) {
          const m = await c.expectMessage();
          see(m);
          if (i === 9) await c.rdy(0); // nothing more in flight after this FIN
          await c.fin(m.id);
        }
        await waitFor(async () => {
          const r = await fetch(`http://${s.httpAddress}/stats?format=json&topic=${topic}`);
          return (await r.json()).topics[0].channels[0].in_flight_count === 0;
        }, { timeoutMs: 5000, message: "the 10 FINs processed" });
      }

      // Free space: publishing and /ping recover without a restart.
      await Deno.remove(`${dir}/filler`);
      await Deno.remove(`${dir}/ballast`);
      {
        await using c = await V2Conn.connect(s.tcpAddress);
        await c.pub(topic, body(100_000));
        await c.expectResponse("OK");
        acked.add("m100000:");
      }
      assert.equal(await ping(s), "200 OK");
      // The next nsqd.dat write goes through and has both topics.
      await post(`/topic/create?topic=${uniqueName("after")}`);
      await waitFor(async () => (await Deno.readTextFile(`${dir}/nsqd.dat`)).includes(other), {
        timeoutMs: 5000,
        message: "nsqd.dat written again",
      });

      // Drain: every acknowledged message is there.
      {
        await using c = await V2Conn.connect(s.tcpAddress);
        await c.sub(topic, "ch");
        await c.expectResponse("OK");
        await c.rdy(200);
        for (;;) {
          const f = await frameWithin(c, 300);
          if (f === null) {
            const r = await fetch(`http://${s.httpAddress}/stats?format=json&topic=${topic}`);
            const ch = (await r.json()).topics[0].channels[0];
            if (ch.depth === 0 && ch.in_flight_count === 0) break;
            continue;
          }
          if (f.type !== 2) continue;
          see(f.message!);
          await c.fin(f.message!.id);
        }
      }
      const lost = [...acked].filter((k) => !received.has(k));
      assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged lost`);
      // A refused publish may still have reached the disk (its write went through, the fsync or
      // metadata write after it failed): delivered although refused, at least once as in NSQ.
      const phantom = [...received.keys()].filter((k) => !acked.has(k));
      assert.ok(
        phantom.every((k) => k === "h1" || /^m\d+:$/.test(k) && Number(k.slice(1, -1)) < 3000),
        `delivered, never published: ${phantom}`,
      );
      assert.ok(phantom.length <= 2, `only the refused publishes may appear: ${phantom}`);
      // No temp file of a failed metadata write is left behind.
      const tmps = [];
      for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".tmp")) tmps.push(e.name);
      assert.deepEqual(tmps, []);
    });
  },
});
