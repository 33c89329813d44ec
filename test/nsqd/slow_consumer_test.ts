/**
 * Stuck and slow consumers, with a real `nsqd` process (its RSS read from /proc): a consumer that
 * never reads its socket and one that reads one byte a second, both with RDY 2500, next to a
 * healthy consumer, while 64 KiB messages pour in. nsqd stops feeding a consumer whose writes
 * back up (NSQ's output buffer plus the kernel's socket buffers), so its memory stays bounded
 * far below the RDY window; the messages it holds in flight time out after --msg-timeout and go
 * to the healthy consumer, which keeps its rate.
 */
import assert from "node:assert/strict";
import { type NsqProc, post, spawnNsqd } from "../_util/procs.ts";
import { waitFor } from "../_util/wait.ts";
import { cat, encodeCommand, V2Conn } from "../_util/wire.ts";

const td = new TextDecoder();
const SIZE = 64 * 1024;
/** Messages published with the stuck consumers connected: 100 MiB. */
const TOTAL = 1600;

function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Publishes `count` 64 KiB messages `<prefix><i>` in MPUBs of 16 (1 MiB). */
async function publishBig(p: NsqProc, topic: string, prefix: string, count: number) {
  await using c = await V2Conn.connect(p.tcpAddress!);
  for (let i = 0; i < count; i += 16) {
    const bodies = Array.from(
      { length: Math.min(16, count - i) },
      (_, j) => `${prefix}${i + j}:`.padEnd(SIZE, "z"),
    );
    await c.mpub(topic, bodies);
    await c.expectResponse("OK", { timeoutMs: 10_000 });
  }
}

/** A healthy consumer: RDY 100, FINs everything, records each body's key and arrival time. */
function healthy(p: NsqProc, topic: string) {
  const got = new Map<string, number>();
  let stop = false;
  const done = (async () => {
    await using c = await V2Conn.connect(p.tcpAddress!);
    await c.sub(topic, "ch");
    await c.expectResponse("OK");
    await c.rdy(100);
    while (!stop) {
      let f;
      try {
        f = await c.readFrame(100);
      } catch (err) {
        if ((err as Error).message.startsWith("readFrame: no frame")) continue;
        throw err;
      }
      if (f.type === 0 && f.text === "_heartbeat_") await c.nop();
      if (f.type !== 2) continue;
      const body = td.decode(f.message!.body.subarray(0, 24));
      const key = body.slice(0, body.indexOf(":"));
      if (!got.has(key)) got.set(key, performance.now());
      await c.fin(f.message!.id);
    }
  })();
  return {
    got,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

Deno.test({
  name: "slow consumers: one that stops reading and one reading 1 byte/s → nsqd's RSS bounded, " +
    "their messages time out to the healthy consumer, which keeps its rate",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_slow_" });
    const topic = "slow";
    const raw: Deno.TcpConn[] = [];
    let slowTimer: ReturnType<typeof setInterval> | undefined;
    let slowRead: Promise<unknown> = Promise.resolve();
    const p = await spawnNsqd("nsqd", dir, ["--mem-queue-size=0", "--msg-timeout=2s"]);
    let good: ReturnType<typeof healthy> | null = null;
    try {
      await post(p, `/topic/create?topic=${topic}`);
      await post(p, `/channel/create?topic=${topic}&channel=ch`);
      good = healthy(p, topic);

      // Baseline: the healthy consumer alone.
      const t0 = performance.now();
      await publishBig(p, topic, "a", 320);
      await waitFor(() => good!.got.size === 320, { timeoutMs: 15_000, message: "baseline" });
      const baseRate = 320 / ((performance.now() - t0) / 1000);
      const baseRss = rssMb(p.pid);

      // A stuck consumer and a slow one, both RDY 2500 (160 MB of 64 KiB messages).
      for (let i = 0; i < 2; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: p.tcpPort });
        raw.push(conn);
        await conn.write(
          cat("  V2", encodeCommand("SUB", [topic, "ch"]), encodeCommand("RDY", ["2500"])),
        );
      }
      const slow = raw[1];
      const one = new Uint8Array(1);
      slowTimer = setInterval(() => {
        slowRead = slow.read(one).catch(() => null);
      }, 1000);
      await waitFor(async () => (await clientsOf(p, topic)).length === 3, { message: "3 clients" });

      // RSS every 50 ms; the messages the two hold in flight every 100 ms.
      let peak = baseRss;
      let held = 0;
      let stuckSeen = 0;
      const sampler = setInterval(() => peak = Math.max(peak, rssMb(p.pid)), 50);
      let sampling = true;
      const holdSampler = (async () => {
        while (sampling) {
          const stuck = (await clientsOf(p, topic)).filter((c) => c.ready_count === 2500);
          stuckSeen = Math.max(stuckSeen, stuck.length);
          held = Math.max(held, stuck.reduce((a, c) => a + c.in_flight_count, 0));
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const t1 = performance.now();
      try {
        await publishBig(p, topic, "b", TOTAL);
        await waitFor(() => good!.got.size === 320 + TOTAL, {
          timeoutMs: 20_000,
          message: "every message at the healthy consumer",
        });
      } finally {
        clearInterval(sampler);
        sampling = false;
        await holdSampler;
      }
      assert.equal(stuckSeen, 2);
      assert.equal((await clientsOf(p, topic)).length, 3, "the stuck ones are still connected");
      const ch = (await channelJson(p, topic)).channels[0];

      // Memory: the two hold at most what filled their socket buffers (~60 messages each here),
      // not their RDY window (5000 between them; 1000+ if nsqd kept feeding them). RSS is a
      // sanity bound only: 100 MiB passed through, and GC timing varies on a busy machine.
      assert.ok(held < 200, `stuck/slow consumers hold ${held} messages in flight`);
      assert.ok(held > 0, "the stuck consumers got messages");
      assert.ok(peak - baseRss < 120, `RSS ${baseRss.toFixed(0)} → peak ${peak.toFixed(0)} MB`);
      // What they held went to the healthy consumer after --msg-timeout.
      assert.ok(ch.timeout_count > 0, JSON.stringify(ch));
      const sorted = [...good.got.entries()].filter(([k]) => k.startsWith("b"))
        .map(([, t]) => t).sort((a, b) => a - b);
      // Rate over the messages not caught by the stuck ones (those wait for the timeout).
      const n = sorted.length - ch.timeout_count;
      const rate = n / ((sorted[Math.max(0, n - 1)] - t1) / 1000);
      console.log(
        `slow consumers: baseline ${baseRate.toFixed(0)} msgs/s, with a stuck and a slow ` +
          `consumer ${rate.toFixed(0)} msgs/s; nsqd RSS ${baseRss.toFixed(0)} → peak ` +
          `${peak.toFixed(0)} MB; ${held} held in flight, ${ch.timeout_count} timeouts`,
      );
      assert.ok(rate > baseRate / 4, `healthy consumer: ${rate} msgs/s vs ${baseRate} alone`);
    } finally {
      clearInterval(slowTimer);
      await good?.stop();
      for (const c of raw) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await slowRead;
      await p.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

interface ClientJson {
  ready_count: number;
  in_flight_count: number;
}

async function channelJson(
  p: NsqProc,
  topic: string,
): Promise<{ channels: { timeout_count: number; clients: ClientJson[] }[] }> {
  const r = await fetch(`http://${p.httpAddress}/stats?format=json&topic=${topic}`);
  return (await r.json()).topics[0];
}

async function clientsOf(p: NsqProc, topic: string): Promise<ClientJson[]> {
  return (await channelJson(p, topic)).channels[0]?.clients ?? [];
}
