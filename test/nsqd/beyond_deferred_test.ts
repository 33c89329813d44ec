/**
 * Beyond NSQ (docs/beyond-nsq.md, nsqio/nsq#1107): deferred messages keep their due time across
 * a clean restart (the deferred index) and wait on disk past --max-deferred-in-memory (the spill
 * queue); each is delivered once, never before it is due.
 */
import assert from "node:assert/strict";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { connectSub, frameWithin } from "../_util/protocol.ts";
import { waitFor } from "../_util/wait.ts";
import { type Msg, V2Conn } from "../_util/wire.ts";
import { spawnNsqd } from "../_util/procs.ts";

const td = new TextDecoder();
/** The clock nsqd computes due times with (performance.timeOrigin + monotonic). */
const now = () => performance.timeOrigin + performance.now();

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Creates `topic/channel` (non-ephemeral, no consumer left) over the wire. */
async function createChannel(target: { tcpAddress: string }, topic: string, channel: string) {
  const c = await connectSub(target, topic, channel);
  await c.close();
}

Deno.test({
  name: "deferred: DPUB 4 s and REQ 3 s survive a restart after 1 s; delivered once, not early",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_deferred_" });
    try {
      const topic = uniqueName("dfr");
      let t0 = 0;
      let reqAt = 0;
      {
        await using d = await startNsqd({ persistDeferred: true }, dir);
        await createChannel(d, topic, "c");
        await using pub = await V2Conn.connect(d.tcpAddress);
        await pub.pub(topic, "retry-me");
        await pub.expectResponse("OK");
        t0 = now();
        await pub.dpub(topic, 4000, "later");
        await pub.expectResponse("OK");
        await using sub = await connectSub(d, topic, "c", { rdy: 1 });
        const m = await sub.expectMessage();
        assert.equal(td.decode(m.body), "retry-me");
        reqAt = now();
        await sub.req(m.id, 3000);
        const ch = d.nsqd.getExistingTopic(topic)!.getExistingChannel("c")!;
        await waitFor(() => ch.deferredCount === 2);
        await waitFor(() => now() - t0 >= 1000, { intervalMs: 50 }); // restart after 1 s
      }
      const index = `${dir}/${topic}:c:deferred.dat`;
      const saved = JSON.parse(await Deno.readTextFile(index));
      assert.equal(saved.version, 1);
      assert.equal(saved.deferred.length, 2);
      assert.equal(saved.queue.depth, 2); // both are in the diskqueue too (Go delivers them)

      await using d2 = await startNsqd({ persistDeferred: true }, dir);
      await using sub = await connectSub(d2, topic, "c", { rdy: 10 });
      const ch = d2.nsqd.getExistingTopic(topic)!.getExistingChannel("c")!;
      await waitFor(() => ch.deferredCount === 2, { message: "restored as deferred" });
      assert.equal(ch.depth, 0);
      const got: [Msg, number][] = [];
      while (got.length < 2) {
        const m = await sub.expectMessage({ timeoutMs: 6000 });
        got.push([m, now()]);
        await sub.fin(m.id);
      }
      const [retry, retryAt] = got[0];
      const [later, laterAt] = got[1];
      assert.equal(td.decode(retry.body), "retry-me");
      assert.equal(retry.attempts, 2);
      assert.ok(retryAt >= reqAt + 3000, `REQ'd message ${retryAt - reqAt} ms after REQ`);
      assert.equal(td.decode(later.body), "later");
      assert.ok(laterAt >= t0 + 4000, `delivered ${laterAt - t0} ms after DPUB`);
      assert.ok(laterAt < t0 + 6000, `delivered late: ${laterAt - t0} ms`);
      assert.equal(await frameWithin(sub, 300), null, "delivered twice");
      assert.equal(ch.deferredCount + ch.depth + ch.inFlightCount, 0);
      // the next clean exit removes the index: nothing is deferred any more
      await d2.close(false);
      assert.equal(await exists(index), false);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "deferred: a stale index (the queue changed since) is ignored: due at once, as in Go",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_deferred_stale_" });
    try {
      const topic = uniqueName("stale");
      {
        await using d = await startNsqd({ persistDeferred: true }, dir);
        await createChannel(d, topic, "c");
        await using pub = await V2Conn.connect(d.tcpAddress);
        await pub.dpub(topic, 60_000, "x");
        await pub.expectResponse("OK");
        await waitFor(() =>
          d.nsqd.getExistingTopic(topic)!.getExistingChannel("c")!.deferredCount === 1
        );
      }
      // another program read the queue: its metadata no longer matches the index
      const meta = `${dir}/${topic}:c.diskqueue.meta.dat`;
      const text = await Deno.readTextFile(meta);
      await Deno.writeTextFile(meta, text.replace(/^1\n/, "2\n"));
      await using d2 = await startNsqd({ persistDeferred: true }, dir);
      assert.ok(d2.logs.some((l) => l.includes("DEFERRED: ignoring")), d2.logs.join("\n"));
      await using sub = await connectSub(d2, topic, "c", { rdy: 1 });
      const m = await sub.expectMessage({ timeoutMs: 3000 });
      assert.equal(td.decode(m.body), "x");
      await sub.fin(m.id);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "deferred: past --max-deferred-in-memory messages wait on disk, in time, over a restart",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_deferred_spill_" });
    try {
      const topic = uniqueName("spill");
      const spillMeta = `${dir}/${topic}:c:deferred.diskqueue.meta.dat`;
      const spillData = `${dir}/${topic}:c:deferred.diskqueue.000000.dat`;
      const opts = { maxDeferredInMemory: 2, httpAddress: "127.0.0.1:0", persistDeferred: true };
      // 1. in one run: 6 deferred, 2 in memory, 4 spilled; each delivered once when due
      {
        await using d = await startNsqd(opts, dir);
        await createChannel(d, topic, "c");
        await using pub = await V2Conn.connect(d.tcpAddress);
        const t0 = now();
        for (let i = 0; i < 6; i++) await pub.dpub(topic, 300 + 100 * i, `s${i}`);
        for (let i = 0; i < 6; i++) await pub.expectResponse("OK");
        const ch = d.nsqd.getExistingTopic(topic)!.getExistingChannel("c")!;
        assert.equal(ch.deferredCount, 6);
        const st = await (await fetch(`http://${d.httpAddress}/stats?format=json&topic=${topic}`))
          .json();
        assert.equal(st.topics[0].channels[0].deferred_count, 6);
        await waitFor(() => exists(spillData), { message: "spill file written" });
        await using sub = await connectSub(d, topic, "c", { rdy: 10 });
        for (let i = 0; i < 6; i++) {
          const m = await sub.expectMessage({ timeoutMs: 3000 });
          assert.equal(td.decode(m.body), `s${i}`);
          assert.ok(now() >= t0 + 300 + 100 * i, `s${i} early`);
          await sub.fin(m.id);
        }
        assert.equal(await frameWithin(sub, 200), null);
        assert.equal(ch.deferredCount, 0);
      }
      // 2. over a restart: 4 deferred 1.5 s (1 in memory, 3 spilled) with max 1
      let t1 = 0;
      {
        await using d = await startNsqd({ ...opts, maxDeferredInMemory: 1 }, dir);
        await using pub = await V2Conn.connect(d.tcpAddress);
        t1 = now();
        await pub.mpub(topic, ["warm"]); // a plain message ahead of them
        await pub.expectResponse("OK");
        for (let i = 0; i < 4; i++) await pub.dpub(topic, 1500, `r${i}`);
        for (let i = 0; i < 4; i++) await pub.expectResponse("OK");
        await waitFor(() =>
          d.nsqd.getExistingTopic(topic)!.getExistingChannel("c")!.deferredCount === 4
        );
        await waitFor(() => exists(spillData), { message: "spill file written" });
      }
      assert.equal(await exists(spillMeta), false, "spill files deleted at a clean exit");
      assert.equal(await exists(spillData), false, "spill files deleted at a clean exit");
      await using d2 = await startNsqd({ ...opts, maxDeferredInMemory: 1 }, dir);
      await using sub = await connectSub(d2, topic, "c", { rdy: 10 });
      const first = await sub.expectMessage();
      assert.equal(td.decode(first.body), "warm");
      await sub.fin(first.id);
      const bodies: string[] = [];
      for (let i = 0; i < 4; i++) {
        const m = await sub.expectMessage({ timeoutMs: 4000 });
        assert.ok(now() >= t1 + 1500, `${td.decode(m.body)} early`);
        bodies.push(td.decode(m.body));
        await sub.fin(m.id);
      }
      assert.deepEqual(bodies.sort(), ["r0", "r1", "r2", "r3"]);
      assert.equal(await frameWithin(sub, 200), null, "delivered twice");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "deferred: off by default: no index file, delivered at once after a restart (Go's way)",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_deferred_off_" });
    try {
      const topic = uniqueName("off");
      {
        await using d = await startNsqd({}, dir);
        await createChannel(d, topic, "c");
        await using pub = await V2Conn.connect(d.tcpAddress);
        await pub.dpub(topic, 60_000, "x");
        await pub.expectResponse("OK");
        await waitFor(() =>
          d.nsqd.getExistingTopic(topic)!.getExistingChannel("c")!.deferredCount === 1
        );
      }
      const names = [...Deno.readDirSync(dir)].map((e) => e.name);
      assert.deepEqual(names.filter((n) => n.includes(":deferred")), []);
      await using d2 = await startNsqd({}, dir);
      await using sub = await connectSub(d2, topic, "c", { rdy: 1 });
      const m = await sub.expectMessage({ timeoutMs: 3000 });
      assert.equal(td.decode(m.body), "x");
      await sub.fin(m.id);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "deferred: after a crash (SIGKILL) our next start resumes the synced spill queue",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_deferred_crash_" });
    try {
      const topic = uniqueName("crash");
      const t0 = now();
      {
        await using p = await spawnNsqd("nsqd-spill", dir, [
          "--max-deferred-in-memory=1",
          "--sync-every=1",
        ]);
        await createChannel({ tcpAddress: p.tcpAddress! }, topic, "c");
        await using pub = await V2Conn.connect(p.tcpAddress!);
        for (let i = 0; i < 3; i++) await pub.dpub(topic, 1500, `k${i}`);
        for (let i = 0; i < 3; i++) await pub.expectResponse("OK");
        const meta = `${dir}/${topic}:c:deferred.diskqueue.meta.dat`;
        await waitFor(
          async () => (await Deno.readTextFile(meta).catch(() => "")).startsWith("2\n"),
          {
            message: "2 spilled messages synced",
          },
        );
        await p.stop("SIGKILL");
      }
      await using d = await startNsqd({}, dir);
      await using sub = await connectSub(d, topic, "c", { rdy: 10 });
      const bodies: string[] = [];
      for (let i = 0; i < 2; i++) {
        const m = await sub.expectMessage({ timeoutMs: 4000 });
        assert.ok(now() >= t0 + 1500, "early");
        bodies.push(td.decode(m.body));
        await sub.fin(m.id);
      }
      // k0 was in memory (lost with the process, as any in-memory message in Go); k1, k2 spilled
      assert.deepEqual(bodies, ["k1", "k2"]);
      assert.equal(await frameWithin(sub, 200), null);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
