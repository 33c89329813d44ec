/**
 * A graceful exit loses nothing (docs/nsqd.md#graceful-exit), with real `nsqd` processes:
 * 100k messages on a topic with two channels and --mem-queue-size=100 (so most of them live in
 * go-diskqueue files), a consumer holding some in flight and some deferred, a paused channel
 * and a paused topic; SIGTERM, then a second nsqd on the same data dir delivers every message
 * that was never FINned, nothing that was, and keeps the topology and pause flags.
 */
import assert from "node:assert/strict";
import { readDiskQueue } from "../_util/disk_files.ts";
import { drainChannel, type NsqProc, post, spawnNsqd, topicStats } from "../_util/procs.ts";
import { connectSub } from "../_util/protocol.ts";
import { waitFor } from "../_util/wait.ts";
import { concat, encodeCommand, type Msg, V2Conn } from "../_util/wire.ts";

const td = new TextDecoder();

// ---- helpers --------------------------------------------------------------------------------

/** Reads exactly `n` messages (no FIN). */
async function readMessages(conn: V2Conn, n: number): Promise<Msg[]> {
  const out: Msg[] = [];
  while (out.length < n) out.push(await conn.expectMessage({ timeoutMs: 10_000 }));
  return out;
}

const bodyOf = (m: Msg) => td.decode(m.body);

// ---- the test -------------------------------------------------------------------------------

const TOTAL = 100_000;
const BATCH = 1000;
const TAKEN = 400; // delivered on channel A before the restart
const FINNED = 250; // of those, FINned
const REQUEUED = 50; // REQ'd with a long delay (deferred); the other 100 stay in flight
const T2_MSGS = 10;
/** Published with DPUB 60 s: deferred at the exit, delivered right after the restart. */
const DEFERRED_BODY = "z-deferred";

Deno.test({
  name: "restart: SIGTERM persists memory, in-flight and deferred; nothing FINned comes back",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_restart_" });
    const procs: NsqProc[] = [];
    const conns: V2Conn[] = [];
    const flags = ["--mem-queue-size=100", "--max-bytes-per-file=1048576"];
    const topic = "orders";
    const topic2 = "audit";
    try {
      const p1 = await spawnNsqd("nsqd1", dir, flags);
      procs.push(p1);
      await post(p1, `/topic/create?topic=${topic}`);
      await post(p1, `/channel/create?topic=${topic}&channel=A`);
      await post(p1, `/channel/create?topic=${topic}&channel=B`);
      await post(p1, `/channel/pause?topic=${topic}&channel=B`);
      await post(p1, `/topic/create?topic=${topic2}`);
      await post(p1, `/channel/create?topic=${topic2}&channel=c2`);
      await post(p1, `/topic/pause?topic=${topic2}`);

      const all = Array.from({ length: TOTAL }, (_, i) => `m${String(i).padStart(6, "0")}`);
      const pub = await V2Conn.connect(p1.tcpAddress!);
      conns.push(pub);
      for (let i = 0; i < TOTAL; i += BATCH) {
        await pub.mpub(topic, all.slice(i, i + BATCH));
        await pub.expectResponse("OK", { timeoutMs: 10_000 });
      }
      // A deferred publish: in each channel's deferred queue at the exit.
      await pub.dpub(topic, 60_000, DEFERRED_BODY);
      await pub.expectResponse("OK");
      const audit = Array.from({ length: T2_MSGS }, (_, i) => `audit-${i}`);
      await pub.mpub(topic2, audit);
      await pub.expectResponse("OK");

      // Channel A: take 400, then RDY 0 so nothing else arrives; FIN 250, REQ 50 for a minute,
      // hold 100 in flight.
      const a = await connectSub(p1, topic, "A");
      conns.push(a);
      await a.rdy(TAKEN);
      const taken = await readMessages(a, TAKEN);
      await a.rdy(0);
      const finned = taken.slice(0, FINNED);
      const requeued = taken.slice(FINNED, FINNED + REQUEUED);
      const held = taken.slice(FINNED + REQUEUED);
      await a.send(concat([
        ...finned.map((m) => encodeCommand("FIN", [m.id])),
        ...requeued.map((m) => encodeCommand("REQ", [m.id, "60000"])),
      ]));
      let last: unknown = null;
      await waitFor(async () => {
        const ts = await topicStats(p1);
        last = ts;
        const t = ts.find((t) => t.topic_name === topic);
        const ca = t?.channels.find((c) => c.channel_name === "A");
        const cb = t?.channels.find((c) => c.channel_name === "B");
        return ca?.in_flight_count === held.length && ca.deferred_count === REQUEUED + 1 &&
          ca.depth === TOTAL - TAKEN && cb?.depth === TOTAL && cb.deferred_count === 1;
      }, { timeoutMs: 10_000, message: "channel A: 100 in flight, 51 deferred" }).catch((e) => {
        throw new Error(`${e.message}: ${JSON.stringify(last)}`);
      });

      // Graceful exit with a consumer still connected.
      const status = await p1.stop("SIGTERM", 15_000);
      assert.equal(status.code, 0, `exit code of a SIGTERM'd nsqd\n${p1.logText()}`);
      assert.match(p1.lines.at(-1) ?? "", /NSQ: bye/);
      for (const c of conns.splice(0)) await c.close();

      // The data dir: go-diskqueue files and nsqd.dat as Go writes them.
      const files = new Set<string>();
      for await (const e of Deno.readDir(dir)) files.add(e.name);
      const names = [...files].sort();
      for (const q of [topic, `${topic}:A`, `${topic}:B`, topic2, `${topic2}:c2`]) {
        assert.ok(files.has(`${q}.diskqueue.meta.dat`), `${q} metadata in ${names}`);
      }
      for (const q of [`${topic}:A`, `${topic}:B`, topic2]) {
        const re = new RegExp(`^${q}\\.diskqueue\\.\\d{6}\\.dat$`);
        assert.ok(names.some((n) => re.test(n)), `a ${q} segment in ${names}`);
      }
      assert.ok(
        names.filter((n) => new RegExp(`^${topic}:B\\.diskqueue\\.\\d{6}\\.dat$`).test(n))
          .length >= 4,
        `100k records over 1 MiB segments: several files for ${topic}:B in ${names}`,
      );
      assert.deepEqual(names.filter((n) => n.endsWith(".tmp") || n.endsWith(".bad")), []);

      const nsqdDat = await Deno.readTextFile(`${dir}/nsqd.dat`);
      const meta = JSON.parse(nsqdDat);
      assert.deepEqual(Object.keys(meta), ["topics", "version"], nsqdDat);
      assert.match(meta.version, /^\d+\.\d+\.\d+/);
      for (const t of meta.topics) {
        assert.deepEqual(Object.keys(t), ["name", "paused", "channels"], nsqdDat);
        for (const c of t.channels) assert.deepEqual(Object.keys(c), ["name", "paused"], nsqdDat);
        t.channels.sort((x: { name: string }, y: { name: string }) => x.name < y.name ? -1 : 1);
      }
      meta.topics.sort((x: { name: string }, y: { name: string }) => x.name < y.name ? -1 : 1);
      assert.deepEqual(meta.topics, [
        { name: topic2, paused: true, channels: [{ name: "c2", paused: false }] },
        {
          name: topic,
          paused: false,
          channels: [{ name: "A", paused: false }, { name: "B", paused: true }],
        },
      ]);

      // What the files hold, read independently of nsqd: A = everything not FINned (in-flight
      // and deferred included), B = all 100k, the paused topic = its 10 messages.
      const finnedBodies = new Set(finned.map(bodyOf));
      const unfinished = [...all.filter((b) => !finnedBodies.has(b)), DEFERRED_BODY].sort();
      const allB = [...all, DEFERRED_BODY].sort();
      const onDiskA = await readDiskQueue(dir, `${topic}:A`);
      assert.deepEqual(onDiskA.map(bodyOf).sort(), unfinished);
      assert.equal((await readDiskQueue(dir, `${topic}:B`)).length, TOTAL + 1);
      assert.deepEqual((await readDiskQueue(dir, topic2)).map(bodyOf).sort(), audit);
      assert.equal((await readDiskQueue(dir, topic)).length, 0);

      // Restart on the same data dir.
      const p2 = await spawnNsqd("nsqd2", dir, flags);
      procs.push(p2);
      const ts = await topicStats(p2);
      assert.deepEqual(
        ts.map((t) => ({
          topic: t.topic_name,
          paused: t.paused,
          depth: t.depth,
          channels: t.channels.map((c) => ({
            channel: c.channel_name,
            paused: c.paused,
            depth: c.depth,
            in_flight: c.in_flight_count,
            deferred: c.deferred_count,
          })),
        })),
        [
          {
            topic: topic2,
            paused: true,
            depth: T2_MSGS,
            channels: [{ channel: "c2", paused: false, depth: 0, in_flight: 0, deferred: 0 }],
          },
          {
            topic,
            paused: false,
            depth: 0,
            channels: [
              {
                channel: "A",
                paused: false,
                depth: unfinished.length,
                in_flight: 0,
                deferred: 0,
              },
              { channel: "B", paused: true, depth: TOTAL + 1, in_flight: 0, deferred: 0 },
            ],
          },
        ],
      );

      const a2 = await connectSub(p2, topic, "A");
      conns.push(a2);
      const b2 = await connectSub(p2, topic, "B");
      conns.push(b2);
      await post(p2, `/channel/unpause?topic=${topic}&channel=B`);
      const [gotA, gotB] = await Promise.all([
        drainChannel(p2, a2, topic, "A", 20_000),
        drainChannel(p2, b2, topic, "B", 20_000),
      ]);

      // A: exactly the unfinished ones, once each; nothing FINned came back.
      const bodiesA = gotA.map(bodyOf);
      assert.equal(bodiesA.filter((b) => finnedBodies.has(b)).length, 0, "FINned came back");
      assert.equal(new Set(bodiesA).size, bodiesA.length, "duplicates on A");
      assert.deepEqual(bodiesA.sort(), unfinished);
      // In-flight and deferred messages keep their id; their first delivery counts (attempts 2).
      const byBody = new Map(gotA.map((m) => [bodyOf(m), m]));
      for (const m of [...held, ...requeued]) {
        const again = byBody.get(bodyOf(m))!;
        assert.equal(again.id, m.id, `id of ${bodyOf(m)}`);
        assert.equal(again.attempts, 2, `attempts of ${bodyOf(m)}`);
      }
      const delivered = new Set(taken.map(bodyOf));
      assert.ok(
        gotA.every((m) => delivered.has(bodyOf(m)) || m.attempts === 1),
        "never-delivered messages arrive with attempts 1",
      );

      // B: all 100k (and the deferred one) once.
      const bodiesB = gotB.map(bodyOf);
      assert.equal(new Set(bodiesB).size, bodiesB.length, "duplicates on B");
      assert.deepEqual(bodiesB.sort(), allB);

      // The paused topic keeps its messages until unpaused.
      const c2 = await connectSub(p2, topic2, "c2");
      conns.push(c2);
      await post(p2, `/topic/unpause?topic=${topic2}`);
      const gotAudit = await drainChannel(p2, c2, topic2, "c2", 10_000);
      assert.deepEqual(gotAudit.map(bodyOf).sort(), audit);

      const status2 = await p2.stop("SIGTERM", 15_000);
      assert.equal(status2.code, 0, p2.logText());
    } finally {
      for (const c of conns) await c.close();
      for (const p of procs) await p.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
