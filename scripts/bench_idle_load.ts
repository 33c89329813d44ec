/**
 * The `idle-load` row of `deno task bench --compare`: idle connections held beside a working
 * publisher and consumer.
 *
 * On one server (ours or the other nsqd), in this order:
 * 1. warm-up: the publisher and consumer below for 1 s (not counted);
 * 2. baseline: the publisher and consumer for `--runfor` with no other connections, RSS sampled
 *    every 200 ms while they run;
 * 3. a child process opens 11,000 connections and holds them: 10,000 send the magic, IDENTIFY and
 *    `SUB idle_quiet idle` (an idle go-nsq consumer: subscribed, RDY 0, answering heartbeats with
 *    NOP, on a topic nobody publishes to), of which 500 ask for `heartbeat_interval` 1000 and
 *    record the gaps between the heartbeats they receive; 1,000 send nothing at all;
 * 4. RSS per connection, idle: (RSS with them − RSS before them) / 11,000, lowest of six reads;
 * 5. the same publisher and consumer for `--runfor` again, beside the 11,000 connections, RSS
 *    sampled again: RSS per connection under load is (median RSS of this phase − median RSS of
 *    the baseline) / 11,000; the heartbeat gaps that ended during this phase give p99 and max.
 *
 * The publisher and consumer (`--traffic`, one child process): 2 connections publishing with
 * `PUB`, one 200-byte message per round trip (scripts/bench_writer.ts's loop), and one consumer
 * (go-nsq's default IDENTIFY, `SUB idle_load ch`, `RDY 2500`, FIN each). After the publisher
 * stops, the consumer waits (up to 15 s) until it has every message. Publish rate: messages / the
 * publisher's time; consume rate: first deliveries / (time from the start to the last one);
 * "lost" counts published messages never received.
 *
 * Child modes: `deno run -A scripts/bench_idle_load.ts --hold <addr> <identified> <watched>
 * <silent> <gaps file> [--no-sub]` and `--traffic <addr> <topic> <runfor ms>`. The holder also
 * serves the `idle` row (IDENTIFY only, `--no-sub`), through {@linkcode startHolder}.
 *
 * @module
 */

import {
  encodeCmd,
  FIN_LEN,
  finCapacity,
  HEARTBEAT,
  MAGIC_V2,
  NOP,
  putFin,
  readUint32,
  writeFull,
} from "./_bench_common.ts";
import { Child, fmtMb, log, type NsqdUnderTest, procCpuSeconds, sleep } from "./bench.ts";
import { runWriter } from "./bench_writer.ts";

/** Connections that sent magic + IDENTIFY + SUB. */
export const HELD_SUBSCRIBED = 10_000;
/** Of those, how many use heartbeat_interval 1000 and record heartbeat gaps. */
export const HELD_WATCHED = 500;
/** Connections that sent nothing. */
export const HELD_SILENT = 1_000;
const HELD_TOTAL = HELD_SUBSCRIBED + HELD_SILENT;

const TOPIC = "idle_load";
const QUIET_TOPIC = "idle_quiet";
/** Publisher connections (PUB, one message per round trip). */
const PUB_CONNS = 2;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Wall-clock milliseconds with sub-ms precision, comparable across processes. */
function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

// ---------------------------------------------------------------------------------------------
// The connection holder
// ---------------------------------------------------------------------------------------------

function dialAddr(addr: string): { hostname: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { hostname: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

function identifyCmd(body: Record<string, unknown>): Uint8Array {
  return encodeCmd("IDENTIFY", enc.encode(JSON.stringify(body)));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Holds the connections until SIGTERM, then writes `[[end epoch ms, gap ms], ...]` of the
 * watched connections' heartbeat gaps to `gapsFile`. `identified` connections send the magic,
 * IDENTIFY and, with `subscribe`, `SUB`; `watched` of them use heartbeat_interval 1000.
 */
async function hold(
  addr: string,
  identified: number,
  watched: number,
  silent: number,
  gapsFile: string,
  subscribe: boolean,
): Promise<number> {
  const dial = dialAddr(addr);
  const sub = subscribe ? encodeCmd(`SUB ${QUIET_TOPIC} idle`) : new Uint8Array(0);
  const handshakeResponses = subscribe ? 2 : 1;
  const helloIdle = concat(
    MAGIC_V2,
    identifyCmd({ client_id: "idle", hostname: "idle", user_agent: "idle" }),
    sub,
  );
  const helloWatched = concat(
    MAGIC_V2,
    identifyCmd({ client_id: "hb", hostname: "hb", user_agent: "hb", heartbeat_interval: 1000 }),
    sub,
  );
  const conns: Deno.TcpConn[] = [];
  const gaps: number[] = [];
  let stopped = false;
  const loops: Promise<void>[] = [];
  const fail = (err: unknown) => {
    console.error(`hold: ${err instanceof Error ? err.message : err}`);
    Deno.exit(2);
  };

  /** Reads frames forever: counts the handshake responses, answers heartbeats with NOP. */
  const serve = async (c: Deno.TcpConn, watch: boolean, handshake: () => void) => {
    let buf = new Uint8Array(256);
    let end = 0;
    let responses = 0;
    let last = 0;
    try {
      for (;;) {
        const k = await c.read(buf.subarray(end));
        if (k === null) break;
        end += k;
        let start = 0;
        while (end - start >= 8) {
          const size = readUint32(buf, start);
          if (4 + size > buf.length) {
            const bigger = new Uint8Array(4 + size);
            bigger.set(buf.subarray(start, end));
            end -= start;
            start = 0;
            buf = bigger;
          }
          if (end - start < 4 + size) break;
          const type = readUint32(buf, start + 4);
          const text = dec.decode(buf.subarray(start + 8, start + 4 + size));
          start += 4 + size;
          if (type !== 0) throw new Error(`idle connection got frame type ${type}: ${text}`);
          if (text === HEARTBEAT) {
            if (watch) {
              const now = epochMs();
              if (last > 0) gaps.push(now, now - last);
              last = now;
            }
            await writeFull(c, NOP);
          } else if (++responses === handshakeResponses) {
            handshake();
          }
        }
        buf.copyWithin(0, start, end);
        end -= start;
      }
    } catch (err) {
      if (!stopped) throw err;
    }
  };

  const one = async (watch: boolean) => {
    const c = await Deno.connect(dial);
    conns.push(c);
    c.setNoDelay(true);
    await writeFull(c, watch ? helloWatched : helloIdle);
    await new Promise<void>((resolve) => {
      const loop = serve(c, watch, resolve);
      loops.push(loop);
      // A server that closes a held connection, or sends it anything but responses and
      // heartbeats, fails the run (the parent sees this process exit).
      loop.then(() => {
        if (!stopped) fail("a held connection was closed by the server");
      }, fail);
    });
  };
  // Watched connections are spread evenly among the identified ones.
  const every = Math.max(1, Math.floor(identified / Math.max(1, watched)));
  for (let i = 0; i < identified; i += 100) {
    await Promise.all(
      Array.from(
        { length: Math.min(100, identified - i) },
        (_, j) => one((i + j) % every === 0 && (i + j) / every < watched),
      ),
    );
  }
  for (let i = 0; i < silent; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, silent - i) }, async () => {
        conns.push(await Deno.connect(dial));
      }),
    );
  }
  console.log("ready");
  await new Promise<void>((resolve) => Deno.addSignalListener("SIGTERM", resolve));
  stopped = true;
  const pairs: number[][] = [];
  for (let i = 0; i < gaps.length; i += 2) pairs.push([gaps[i], gaps[i + 1]]);
  Deno.writeTextFileSync(gapsFile, JSON.stringify(pairs));
  for (const c of conns) {
    try {
      c.close();
    } catch { /* gone */ }
  }
  await Promise.allSettled(loops);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The publisher and consumer
// ---------------------------------------------------------------------------------------------

/** What `--traffic` prints (one JSON line). */
export interface TrafficResult {
  published: number;
  pubMs: number;
  /** First deliveries (attempts = 1). */
  received: number;
  /** Deliveries with attempts > 1 (none expected). */
  redelivered: number;
  /** From the start to the last first delivery. */
  subMs: number;
}

async function traffic(addr: string, topic: string, runforMs: number): Promise<number> {
  const c = await Deno.connect(dialAddr(addr));
  c.setNoDelay(true);
  // go-nsq's defaults: output buffering 16 KB / 250 ms, heartbeats 30 s.
  await writeFull(
    c,
    concat(
      MAGIC_V2,
      identifyCmd({
        client_id: "consumer",
        hostname: "consumer",
        feature_negotiation: true,
        heartbeat_interval: 30000,
        output_buffer_size: 16384,
        output_buffer_timeout: 250,
        user_agent: "idle_load",
      }),
      encodeCmd(`SUB ${topic} ch`),
      encodeCmd("RDY 2500"),
    ),
  );
  let received = 0;
  let redelivered = 0;
  let lastAt = 0;
  let stopped = false;
  const start = performance.now();
  const consume = async () => {
    let buf = new Uint8Array(256 * 1024);
    let out = new Uint8Array(finCapacity(buf.length));
    let end = 0;
    try {
      for (;;) {
        const k = await c.read(buf.subarray(end));
        if (k === null) break;
        end += k;
        let s = 0;
        let o = 0;
        while (end - s >= 8) {
          const size = readUint32(buf, s);
          if (s + 4 + size > end) {
            if (4 + size > buf.length) {
              const bigger = new Uint8Array(buf.length * 2 + size);
              bigger.set(buf.subarray(s, end));
              end -= s;
              s = 0;
              buf = bigger;
              out = new Uint8Array(finCapacity(buf.length));
            }
            break;
          }
          const type = readUint32(buf, s + 4);
          if (type === 2) {
            const attempts = (buf[s + 16] << 8) | buf[s + 17];
            if (attempts > 1) redelivered++;
            else received++;
            putFin(out, o, buf, s + 18);
            o += FIN_LEN;
          } else if (type === 1) {
            throw new Error(dec.decode(buf.subarray(s + 8, s + 4 + size)));
          } else if (size === 4 + HEARTBEAT.length) {
            out.set(NOP, o);
            o += NOP.length;
          }
          s += 4 + size;
        }
        if (o > 0) lastAt = performance.now();
        buf.copyWithin(0, s, end);
        end -= s;
        if (o > 0) await writeFull(c, out.subarray(0, o));
      }
    } catch (err) {
      if (!stopped) throw err;
    }
  };
  const consuming = consume();
  const w = await runWriter({
    nsqdTcpAddress: addr,
    topic,
    size: 200,
    runforMs,
    concurrency: PUB_CONNS,
    command: "PUB",
    deadline: "",
    log: () => {},
  });
  const deadline = performance.now() + 15_000;
  while (received < w.msgs && performance.now() < deadline) await sleep(10);
  stopped = true;
  c.close();
  await consuming;
  const r: TrafficResult = {
    published: w.msgs,
    pubMs: w.durationMs,
    received,
    redelivered,
    subMs: lastAt - start,
  };
  console.log(JSON.stringify(r));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The row
// ---------------------------------------------------------------------------------------------

/** One traffic run with nsqd's CPU and RSS (sampled every 200 ms) over it. */
async function runTraffic(n: NsqdUnderTest, runforMs: number) {
  const samples: number[] = [];
  const c0 = procCpuSeconds(n.pid);
  const t0 = epochMs();
  const child = new Child("traffic", [
    "run",
    "-A",
    "scripts/bench_idle_load.ts",
    "--traffic",
    n.tcpAddress,
    TOPIC,
    String(runforMs),
  ]);
  try {
    const sampler = (async () => {
      while (child.running) {
        await sleep(200);
        if (child.running) samples.push(n.rssMb());
      }
    })();
    const st = await child.wait(runforMs + 60_000);
    await sampler;
    const line = child.stdout.trim().split("\n").pop() ?? "";
    if (!st.success || !line.startsWith("{")) {
      throw new Error(`traffic failed (exit ${st.code}):\n${child.stderr.trim()}`);
    }
    const r = JSON.parse(line) as TrafficResult;
    const cpuUs = (procCpuSeconds(n.pid) - c0) * 1e6 / Math.max(1, r.published);
    samples.sort((a, b) => a - b);
    const rss = samples.length ? samples[samples.length >> 1] : n.rssMb();
    const pubRate = r.published * 1000 / r.pubMs;
    const subRate = r.received * 1000 / r.subMs;
    log(
      `    published ${r.published} (${pubRate.toFixed(0)}/s), received ${r.received}` +
        ` (${subRate.toFixed(0)}/s, ${r.redelivered} redelivered); nsqd ${
          cpuUs.toFixed(1)
        } µs CPU/msg, RSS median ${fmtMb(rss)}`,
    );
    return { r, pubRate, subRate, cpuUs, rss, t0, t1: epochMs() };
  } finally {
    await child.stop();
  }
}

export function quantile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
}

/** A running connection holder (the `--hold` child). */
export interface Holder {
  readonly child: Child;
  /** Stops the holder; returns the watched connections' heartbeat gaps as [end epoch ms, gap ms]. */
  stop(): Promise<[number, number][]>;
}

/** Starts the connection holder against `tcpAddress` and waits until every connection is open. */
export async function startHolder(
  tcpAddress: string,
  o: { identified: number; watched: number; silent: number; subscribe: boolean },
): Promise<Holder> {
  const gapsFile = Deno.makeTempFileSync({ prefix: "held_conns_gaps_" });
  const child = new Child("hold", [
    "run",
    "-A",
    "scripts/bench_idle_load.ts",
    "--hold",
    tcpAddress,
    String(o.identified),
    String(o.watched),
    String(o.silent),
    gapsFile,
    ...(o.subscribe ? [] : ["--no-sub"]),
  ], { maxFiles: true });
  const stop = async (): Promise<[number, number][]> => {
    await child.stop();
    try {
      return JSON.parse(Deno.readTextFileSync(gapsFile));
    } catch {
      return [];
    } finally {
      try {
        Deno.removeSync(gapsFile);
      } catch { /* gone */ }
    }
  };
  try {
    const t = performance.now();
    while (!child.stdout.includes("ready")) {
      if (!child.running) throw new Error(`hold exited:\n${child.stderr.trim()}`);
      if (performance.now() > t + 120_000) throw new Error("hold: not ready in 120 s");
      await sleep(100);
    }
    const total = o.identified + o.silent;
    log(`    ${total} connections open in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, stop };
}

/** Runs the row on a started server; returns the figures keyed as in {@linkcode IDLE_LOAD_METRICS}. */
export async function runIdleLoad(
  n: NsqdUnderTest,
  runforMs: number,
): Promise<Record<string, number>> {
  await n.createChannel(TOPIC, "ch");
  await sleep(500);
  await runTraffic(n, 1000); // warm-up
  const base = await runTraffic(n, runforMs);
  await sleep(1000);
  let before = Infinity;
  for (let i = 0; i < 3; i++) {
    before = Math.min(before, n.rssMb());
    await sleep(300);
  }
  const holder = await startHolder(n.tcpAddress, {
    identified: HELD_SUBSCRIBED,
    watched: HELD_WATCHED,
    silent: HELD_SILENT,
    subscribe: true,
  });
  let stopped = false;
  try {
    let idle = Infinity;
    for (let i = 0; i < 6; i++) {
      await sleep(500);
      idle = Math.min(idle, n.rssMb());
    }
    const held = await runTraffic(n, runforMs);
    if (!holder.child.running) throw new Error(`hold exited:\n${holder.child.stderr.trim()}`);
    stopped = true;
    const pairs = await holder.stop();
    const during = pairs.filter(([at]) => at >= held.t0 && at <= held.t1).map(([, g]) => g);
    during.sort((a, b) => a - b);
    const all = pairs.map(([, g]) => g).sort((a, b) => a - b);
    const perIdle = (idle - before) * 1024 / HELD_TOTAL;
    const perLoad = (held.rss - base.rss) * 1024 / HELD_TOTAL;
    log(
      `    RSS before ${fmtMb(before)}, with connections ${fmtMb(idle)}: ${
        perIdle.toFixed(1)
      } KB each; under load ${fmtMb(base.rss)} -> ${fmtMb(held.rss)}: ${
        perLoad.toFixed(1)
      } KB each`,
    );
    log(
      `    heartbeat gaps during the load: ${during.length}, median ${
        quantile(during, 0.5).toFixed(0)
      } / p99 ${quantile(during, 0.99).toFixed(0)} / max ${
        quantile(during, 1).toFixed(0)
      } ms (whole hold: ${all.length}, max ${quantile(all, 1).toFixed(0)} ms)`,
    );
    const lost = Math.max(0, base.r.published - base.r.received) +
      Math.max(0, held.r.published - held.r.received);
    return {
      "il.conn.idle": perIdle,
      "il.conn.load": perLoad,
      "il.hb.p99": quantile(during, 0.99),
      "il.hb.max": quantile(during, 1),
      "il.pub.base": base.pubRate,
      "il.pub.base.cpu": base.cpuUs,
      "il.pub.held": held.pubRate,
      "il.pub.held.cpu": held.cpuUs,
      "il.sub.base": base.subRate,
      "il.sub.held": held.subRate,
      "il.lost": lost,
      rss: n.peakRssMb(),
    };
  } finally {
    if (!stopped) await holder.stop();
  }
}

/** The row's figures: [key, label, unit, higher is better, keep the worse of two runs]. */
export const IDLE_LOAD_METRICS: [string, string, "ops" | "ms" | "kb" | "n", boolean, boolean][] = [
  [
    "il.conn.idle",
    `RSS per held connection (${HELD_SUBSCRIBED.toLocaleString("en-US")} SUBscribed RDY 0 + ${
      HELD_SILENT.toLocaleString("en-US")
    } silent), idle`,
    "kb",
    false,
    false,
  ],
  ["il.conn.load", "the same, with the publisher and consumer running", "kb", false, false],
  [
    "il.hb.p99",
    `heartbeat gap p99 during the load (${HELD_WATCHED} of them at heartbeat_interval 1000)`,
    "ms",
    false,
    false,
  ],
  ["il.hb.max", "heartbeat gap max during the load", "ms", false, false],
  ["il.pub.base", `publisher (PUB, ${PUB_CONNS} conns), no held connections`, "ops", true, false],
  ["il.pub.held", `publisher beside the ${HELD_TOTAL.toLocaleString("en-US")}`, "ops", true, false],
  ["il.sub.base", "consumer (RDY 2500, FIN each), no held connections", "ops", true, false],
  ["il.sub.held", `consumer beside the ${HELD_TOTAL.toLocaleString("en-US")}`, "ops", true, false],
  ["il.lost", "messages published but not received (worse run)", "n", false, true],
];

if (import.meta.main) {
  const a = Deno.args;
  let code = 2;
  if (a[0] === "--hold") {
    code = await hold(a[1], Number(a[2]), Number(a[3]), Number(a[4]), a[5], a[6] !== "--no-sub");
  } else if (a[0] === "--traffic") {
    code = await traffic(a[1], a[2], Number(a[3]));
  } else {
    console.error("usage: bench_idle_load.ts --hold ... | --traffic ... (run by bench_compare.ts)");
  }
  Deno.exit(code);
}
