/**
 * `deno task bench --compare <nsqd binary> [--go-bench-bin <dir>]`: every bench row against our
 * nsqd and another nsqd executable (Go nsqd 1.3.0), side by side.
 *
 * Each row is a fresh server per run. A row runs four times: ours then theirs, then theirs then
 * ours (alternating, so a burst of other load on a shared machine hits both), and each side keeps
 * its best of its two runs (highest rate, lowest latency or memory). The table shows both figures
 * and ours / theirs. Throughput rows also show nsqd's CPU time per message (user + system from
 * /proc/<pid>/stat over the phase, lower of two runs): on a shared machine a rate moves with other
 * processes' load, the CPU a message costs much less.
 *
 * Clients: NSQ's own `bench_writer` / `bench_reader` from `--go-bench-bin` (their connection count
 * is GOMAXPROCS, set per row), else ours (scripts/bench_writer.ts, bench_reader.ts). Rows NSQ's
 * tools cannot drive (PUB and DPUB one at a time, HTTP, latency, idle connections) use our
 * clients against both servers.
 *
 * Rows:
 * - MPUB×200 over 2 connections with `--mem-queue-size 1000000`, then consuming that backlog
 *   (RDY 2500, FIN each, 2 connections) on the same server; the same with `--mem-queue-size 0`
 *   (through the disk queue);
 * - publish and consume at once (default options);
 * - MPUB×1 and PUB, one message per round trip, over 1, 2 and 8 connections; DPUB over 2;
 * - HTTP `POST /pub` (one message per request, 16 in flight) and `/mpub` (100 per request);
 * - p50 / p99 end-to-end latency at `--rate` msgs/s (go-nsq's default output buffering);
 * - idle RSS (1 s after start), peak RSS over the default-options rows (each row's best of two,
 *   then the largest), peak RSS with `--mem-queue-size 1000000`;
 * - RSS per message queued in memory: MPUB×200 for `--runfor` into a channel nobody reads
 *   (`--mem-queue-size 1000000`), (RSS after - before) / messages;
 * - RSS per idle connection: 10,000 connections that sent the magic and IDENTIFY plus 1,000
 *   silent ones, held by a child process (`ulimit -n` raised), (RSS after - before) / 11,000;
 * - `idle-load`: 11,000 held connections (10,000 subscribed with RDY 0, 500 of them at
 *   heartbeat_interval 1000, 1,000 silent) beside a publisher and a consumer: RSS per connection
 *   idle and under load, heartbeat gaps during the load, publish / consume rates with and without
 *   the connections, messages lost (scripts/bench_idle_load.ts).
 *
 * @module
 */

import { parseGoDuration } from "./_bench_common.ts";
import {
  Child,
  fmtMb,
  log,
  nextDeadline,
  NsqdUnderTest,
  parseToolOutput,
  procCpuSeconds,
  settle,
  sleep,
  type ToolResult,
} from "./bench.ts";
import type { LatencyResult } from "./bench_latency.ts";
import { IDLE_LOAD_METRICS, quantile, runIdleLoad, startHolder } from "./bench_idle_load.ts";

/** Which server a run is against. */
type Side = "ours" | "theirs";

interface CompareSettings {
  /** The other nsqd executable. */
  theirs: string;
  /** Directory with NSQ's bench_writer / bench_reader, or "" for ours. */
  goBench: string;
  runfor: string;
  runforMs: number;
  rate: number;
  settleMs: number;
  /** Row keys to run (empty = all). */
  only: Set<string>;
}

/** One measured figure of one run. */
type Figures = Record<string, number | undefined>;

/** How a figure is shown and which is better. */
interface Metric {
  key: string;
  label: string;
  /** "ops" msgs/s, "ms", "mb", "kb", "b" (bytes), "n" (a count). */
  unit: "ops" | "ms" | "mb" | "kb" | "b" | "n";
  higherIsBetter: boolean;
  /** Keep the worse of the two runs (a correctness count, e.g. messages lost). */
  worst?: boolean;
}

/** A group of rows measured on one server per run. */
interface Session {
  id: string;
  metrics: Metric[];
  /** True when the server runs with default options (counts for the default peak RSS). */
  defaults: boolean;
  run: (side: Side, s: CompareSettings) => Promise<Figures>;
}

const ops = (key: string, label: string): Metric => ({
  key,
  label,
  unit: "ops",
  higherIsBetter: true,
});

// ---------------------------------------------------------------------------------------------
// Servers and clients
// ---------------------------------------------------------------------------------------------

async function withServer<T>(
  side: Side,
  s: CompareSettings,
  args: string[],
  fn: (n: NsqdUnderTest) => Promise<T>,
): Promise<T> {
  if (s.settleMs > 0) await settle(s.settleMs);
  const n = await NsqdUnderTest.start(args, side === "theirs" ? s.theirs : undefined);
  try {
    return await fn(n);
  } finally {
    await n.close();
  }
}

/** Runs a client child to completion and parses NSQ's result line. */
async function runClient(
  name: string,
  args: string[],
  opts: { cmd?: string; env?: Record<string, string> },
  s: CompareSettings,
): Promise<ToolResult> {
  const child = new Child(name, args, opts);
  try {
    const st = await child.wait(s.runforMs + 60_000);
    const r = parseToolOutput(name, child, st);
    log(`    ${name}: ${r.line.replace(/^.*duration/, "duration")}`);
    return r;
  } finally {
    await child.stop();
  }
}

/** NSQ's or our bench_writer: `batch` messages per MPUB over `conns` connections. */
function writer(
  n: NsqdUnderTest,
  s: CompareSettings,
  o: { topic: string; conns: number; batch?: number; command?: string; deadline?: string },
): Promise<ToolResult> {
  const common = [
    "--nsqd-tcp-address",
    n.tcpAddress,
    "--runfor",
    s.runfor,
    "--topic",
    o.topic,
    "--size",
    "200",
    ...(o.deadline ? ["--deadline", o.deadline] : []),
  ];
  const command = o.command ?? "MPUB";
  if (s.goBench && command === "MPUB") {
    return runClient("bench_writer", [...common, "--batch-size", String(o.batch ?? 200)], {
      cmd: `${s.goBench}/bench_writer`,
      env: { GOMAXPROCS: String(o.conns) },
    }, s);
  }
  return runClient(
    "bench_writer.ts",
    [
      "run",
      "-A",
      "scripts/bench_writer.ts",
      ...common,
      "--concurrency",
      String(o.conns),
      "--batch-size",
      String(o.batch ?? 200),
      "--command",
      command,
    ],
    {},
    s,
  );
}

/** NSQ's or our bench_reader: RDY 2500, FIN each, 2 connections. */
function reader(
  n: NsqdUnderTest,
  s: CompareSettings,
  o: { topic: string; deadline?: string },
): Promise<ToolResult> {
  const common = [
    "--nsqd-tcp-address",
    n.tcpAddress,
    "--runfor",
    s.runfor,
    "--topic",
    o.topic,
    "--channel",
    "ch",
    "--size",
    "200",
    "--rdy",
    "2500",
    ...(o.deadline ? ["--deadline", o.deadline] : []),
  ];
  if (s.goBench) {
    return runClient("bench_reader", common, {
      cmd: `${s.goBench}/bench_reader`,
      env: { GOMAXPROCS: "2" },
    }, s);
  }
  return runClient(
    "bench_reader.ts",
    [
      "run",
      "-A",
      "scripts/bench_reader.ts",
      ...common,
      "--concurrency",
      "2",
    ],
    {},
    s,
  );
}

/** nsqd CPU microseconds per message (user + system, from /proc). */
function cpuPerMsg(cpuSeconds: number, msgs: number): number {
  return msgs > 0 ? cpuSeconds * 1e6 / msgs : NaN;
}

// ---------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------

/** MPUB×200 into a pre-created channel, then draining it on the same server. */
function pubThenSub(id: string, memQueue: string, label: string): Session {
  return {
    id,
    defaults: false,
    metrics: [
      ops(`${id}.pub`, `publish MPUB×200, 2 conns, ${label}`),
      ops(`${id}.sub`, `consume that backlog, RDY 2500, FIN each, 2 conns, ${label}`),
      { key: `${id}.rss`, label: `peak RSS, ${label}`, unit: "mb", higherIsBetter: false },
    ],
    run: (side, s) =>
      withServer(side, s, ["--mem-queue-size", memQueue], async (n) => {
        await n.createChannel("sub_bench", "ch");
        const c0 = procCpuSeconds(n.pid);
        const w = await writer(n, s, { topic: "sub_bench", conns: 2 });
        const c1 = procCpuSeconds(n.pid);
        const r = await reader(n, s, { topic: "sub_bench" });
        const c2 = procCpuSeconds(n.pid);
        if (r.msgs >= w.msgs * 0.999) log("    (backlog ran out: consume rate is a lower bound)");
        return {
          [`${id}.pub`]: w.opsPerSec,
          [`${id}.pub.cpu`]: cpuPerMsg(c1 - c0, w.msgs),
          [`${id}.sub`]: r.opsPerSec,
          [`${id}.sub.cpu`]: cpuPerMsg(c2 - c1, r.msgs),
          [`${id}.rss`]: n.peakRssMb(),
        };
      }),
  };
}

const pubSub: Session = {
  id: "pubsub",
  defaults: true,
  metrics: [
    ops("pubsub.in", "publish + consume at once: in (MPUB×200, 2 conns)"),
    ops("pubsub.out", "publish + consume at once: out (RDY 2500, 2 conns)"),
  ],
  run: (side, s) =>
    withServer(side, s, [], async (n) => {
      await n.createChannel("pubsub_bench", "ch");
      const d = nextDeadline(1500).text;
      const c0 = procCpuSeconds(n.pid);
      const [r, w] = await Promise.all([
        reader(n, s, { topic: "pubsub_bench", deadline: d }),
        writer(n, s, { topic: "pubsub_bench", conns: 2, deadline: d }),
      ]);
      // Per message moved in + out; includes the ~1.5 s before the deadline (idle, next to no CPU).
      const cpu = cpuPerMsg(procCpuSeconds(n.pid) - c0, w.msgs + r.msgs);
      return {
        "pubsub.in": w.opsPerSec,
        "pubsub.in.cpu": cpu,
        "pubsub.out": r.opsPerSec,
        "pubsub.out.cpu": cpu,
        rss: n.peakRssMb(),
      };
    }),
};

/** One message per round trip: MPUB×1, PUB or DPUB over `conns` connections (default options). */
function oneByOne(command: "MPUB" | "PUB" | "DPUB", conns: number): Session {
  const id = `${command.toLowerCase()}1.c${conns}`;
  const what = command === "MPUB" ? "MPUB×1" : command === "DPUB" ? "DPUB (60 s)" : "PUB";
  return {
    id,
    defaults: true,
    metrics: [ops(id, `${what}, one per round trip, ${conns} conn${conns > 1 ? "s" : ""}`)],
    run: (side, s) =>
      withServer(side, s, [], async (n) => {
        await n.createChannel("sub_bench", "ch");
        const c0 = procCpuSeconds(n.pid);
        const w = await writer(n, s, { topic: "sub_bench", conns, batch: 1, command });
        const cpu = cpuPerMsg(procCpuSeconds(n.pid) - c0, w.msgs);
        return { [id]: w.opsPerSec, [`${id}.cpu`]: cpu, rss: n.peakRssMb() };
      }),
  };
}

/** `/pub: N requests in 2.001s - R req/s - M msgs/s - X MiB/s (...)` from scripts/bench_http.ts. */
const BENCH_HTTP_RE = /(\/m?pub): \d+ requests in [\d.]+s - [\d.]+ req\/s - ([\d.]+) msgs\/s/g;

const http: Session = {
  id: "http",
  defaults: true,
  metrics: [
    ops("http./pub", "HTTP POST /pub, 1 msg per request, 16 in flight"),
    ops("http./mpub", "HTTP POST /mpub, 100 msgs per request, 16 in flight"),
  ],
  run: (side, s) =>
    withServer(side, s, [], async (n) => {
      const child = new Child("bench_http.ts", [
        "run",
        "-A",
        "scripts/bench_http.ts",
        "--nsqd-http-address",
        n.httpAddress,
        "--size",
        "200",
        "--runfor",
        s.runfor,
      ]);
      try {
        await child.wait(2 * s.runforMs + 60_000);
      } finally {
        await child.stop();
      }
      const text = child.stderr + child.stdout;
      const out: Figures = { rss: n.peakRssMb() };
      for (const m of text.matchAll(BENCH_HTTP_RE)) {
        log(`    ${m[0]}`);
        out[`http.${m[1]}`] = Number(m[2]);
      }
      if (!("http./pub" in out)) throw new Error(`bench_http.ts: no result\n${text.trim()}`);
      return out;
    }),
};

function latency(rate: number): Session {
  const label = `${(rate / 1000).toLocaleString("en-US")}k msgs/s`;
  return {
    id: "latency",
    defaults: true,
    metrics: [
      { key: "lat.p50", label: `e2e latency p50 at ${label}`, unit: "ms", higherIsBetter: false },
      { key: "lat.p99", label: `e2e latency p99 at ${label}`, unit: "ms", higherIsBetter: false },
    ],
    run: (side, s) =>
      withServer(side, s, [], async (n) => {
        const child = new Child("bench_latency.ts", [
          "run",
          "-A",
          "scripts/bench_latency.ts",
          "--nsqd-tcp-address",
          n.tcpAddress,
          "--rate",
          String(s.rate),
          "--runfor",
          s.runfor,
          "--json",
          "true",
        ]);
        try {
          const st = await child.wait(s.runforMs + 60_000);
          const line = child.stdout.trim().split("\n").pop() ?? "";
          if (!st.success || !line.startsWith("{")) {
            throw new Error(`bench_latency.ts failed (exit ${st.code}):\n${child.stderr.trim()}`);
          }
          const r = JSON.parse(line) as LatencyResult;
          log(`    p50 ${r.p50.toFixed(2)} / p99 ${r.p99.toFixed(2)} ms, ${Math.round(r.rate)}/s`);
          return { "lat.p50": r.p50, "lat.p99": r.p99, rss: n.peakRssMb() };
        } finally {
          await child.stop();
        }
      }),
  };
}

/** RSS per message queued in memory: MPUB×200 into a channel nobody reads, RSS before / after. */
const queued: Session = {
  id: "queued",
  defaults: false,
  metrics: [{
    key: "queued.per",
    label:
      "RSS per queued in-memory message (200-byte body, one channel, --mem-queue-size 1000000)",
    unit: "b",
    higherIsBetter: false,
  }],
  run: (side, s) =>
    withServer(side, s, ["--mem-queue-size", "1000000"], async (n) => {
      await n.createChannel("queued_bench", "ch");
      await sleep(500);
      const before = n.rssMb();
      const w = await writer(n, s, { topic: "queued_bench", conns: 2 });
      await sleep(1000);
      const after = n.rssMb();
      const msgs = Math.min(w.msgs, 1_000_000);
      const per = (after - before) * 1024 * 1024 / msgs;
      log(`    ${msgs} queued: ${fmtMb(before)} -> ${fmtMb(after)}, ${per.toFixed(0)} B each`);
      return { "queued.per": per };
    }),
};

const IDLE_IDENTIFIED = 10_000;
const IDLE_SILENT = 1_000;
/** Connections with a 1 s heartbeat_interval that check heartbeats stay on time beside the idle. */
const HEARTBEAT_WATCHERS = 20;

const idle: Session = {
  id: "idle",
  defaults: false,
  metrics: [
    { key: "idle.rss", label: "idle RSS (1 s after start)", unit: "mb", higherIsBetter: false },
    {
      key: "idle.perconn",
      label: `RSS per idle connection (${
        IDLE_IDENTIFIED.toLocaleString("en-US")
      } magic+IDENTIFY + ${IDLE_SILENT.toLocaleString("en-US")} silent)`,
      unit: "kb",
      higherIsBetter: false,
    },
  ],
  run: (side, s) =>
    withServer(side, s, [], async (n) => {
      await sleep(1000);
      const idleRss = n.rssMb();
      // The watchers are held beside the idle ones (not counted in the per-connection figure).
      const holder = await startHolder(n.tcpAddress, {
        identified: IDLE_IDENTIFIED + HEARTBEAT_WATCHERS,
        watched: HEARTBEAT_WATCHERS,
        silent: IDLE_SILENT,
        subscribe: false,
      });
      let stopped = false;
      try {
        // Let the server settle (GC, lazily freed buffers), then take the lowest of a few reads.
        let rss = Infinity;
        for (let i = 0; i < 6; i++) {
          await sleep(500);
          rss = Math.min(rss, n.rssMb());
        }
        const per = (rss - idleRss) * 1024 / (IDLE_IDENTIFIED + IDLE_SILENT);
        log(
          `    idle ${fmtMb(idleRss)}, with connections ${fmtMb(rss)}: ${per.toFixed(1)} KB each`,
        );
        stopped = true;
        const gaps = (await holder.stop()).map(([, g]) => g).sort((a, b) => a - b);
        log(
          `    heartbeats: ${gaps.length} gaps, median ${quantile(gaps, 0.5).toFixed(0)} ms, max ${
            quantile(gaps, 1).toFixed(0)
          } ms (heartbeat_interval 1000, ${HEARTBEAT_WATCHERS} connections)`,
        );
        return { "idle.rss": idleRss, "idle.perconn": per, rss: n.peakRssMb() };
      } finally {
        if (!stopped) await holder.stop();
      }
    }),
};

/** Idle connections beside a working publisher and consumer (scripts/bench_idle_load.ts). */
const idleLoad: Session = {
  id: "idle-load",
  defaults: false,
  metrics: IDLE_LOAD_METRICS.map(([key, label, unit, higherIsBetter, worst]) => ({
    key,
    label,
    unit,
    higherIsBetter,
    worst,
  })),
  run: (side, s) => withServer(side, s, [], (n) => runIdleLoad(n, s.runforMs)),
};

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

function sessions(s: CompareSettings): Session[] {
  return [
    pubThenSub("mem", "1000000", "--mem-queue-size 1000000"),
    pubThenSub("disk", "0", "--mem-queue-size 0"),
    pubSub,
    oneByOne("MPUB", 1),
    oneByOne("MPUB", 2),
    oneByOne("MPUB", 8),
    oneByOne("PUB", 1),
    oneByOne("PUB", 2),
    oneByOne("PUB", 8),
    oneByOne("DPUB", 2),
    http,
    latency(s.rate),
    idle,
    idleLoad,
    queued,
  ].filter((x) => s.only.size === 0 || s.only.has(x.id));
}

function fmt(m: Metric, x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "n/a";
  switch (m.unit) {
    case "ops":
      return x >= 10_000
        ? `${(x / 1000).toFixed(x >= 100_000 ? 0 : 1)}k msgs/s`
        : `${x.toFixed(0)} msgs/s`;
    case "ms":
      return `${x.toFixed(2)} ms`;
    case "mb":
      return `${x.toFixed(1)} MB`;
    case "kb":
      return `${x.toFixed(1)} KB`;
    case "b":
      return `${x.toFixed(0)} B`;
    case "n":
      return x.toFixed(0);
  }
}

const LOWER: Metric = { key: "", label: "", unit: "b", higherIsBetter: false };

function better(m: Metric, a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || !Number.isFinite(a)) return b;
  if (b === undefined || !Number.isFinite(b)) return a;
  return m.higherIsBetter !== (m.worst ?? false) ? Math.max(a, b) : Math.min(a, b);
}

export async function compareMain(args: string[]): Promise<number> {
  const s: CompareSettings = {
    theirs: "",
    goBench: "",
    runfor: "5s",
    runforMs: 0,
    rate: 20_000,
    settleMs: 3_000,
    only: new Set(),
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new TypeError(`${a} needs a value`);
      return args[++i];
    };
    if (a === "--compare") s.theirs = value();
    else if (a === "--go-bench-bin") s.goBench = value().replace(/\/$/, "");
    else if (a === "--quick") s.runfor = "2s";
    else if (a === "--runfor") s.runfor = value();
    else if (a === "--rate") s.rate = Number(value());
    else if (a === "--settle") s.settleMs = parseGoDuration(value());
    else if (a === "--only") s.only = new Set(value().split(",").map((x) => x.trim()));
    else throw new TypeError(`unknown argument "${a}" with --compare`);
  }
  s.runforMs = parseGoDuration(s.runfor);
  if (!(s.runforMs > 0)) throw new RangeError(`invalid --runfor ${s.runfor}`);
  await Deno.stat(s.theirs); // a clear error for a wrong path
  if (s.goBench) {
    await Deno.stat(`${s.goBench}/bench_writer`);
    await Deno.stat(`${s.goBench}/bench_reader`);
  }
  const started = new Date();
  const list = sessions(s);
  const best: Record<Side, Figures> = { ours: {}, theirs: {} };
  /** Per side, the best-of-two peak RSS of each default-options session. */
  const peaks: Record<Side, number[]> = { ours: [], theirs: [] };
  const failures: string[] = [];
  for (const sess of list) {
    const rssBest: Record<Side, number> = { ours: NaN, theirs: NaN };
    for (let round = 0; round < 2; round++) {
      const order: Side[] = round === 0 ? ["ours", "theirs"] : ["theirs", "ours"];
      for (const side of order) {
        log(`${sess.id} round ${round + 1}: ${side === "ours" ? "nsq-deno" : s.theirs}`);
        try {
          const f = await sess.run(side, s);
          for (const m of sess.metrics) {
            best[side][m.key] = better(m, best[side][m.key], f[m.key]);
            // CPU per message: the lower of the two runs (the less disturbed one).
            const cpuKey = `${m.key}.cpu`;
            best[side][cpuKey] = better(LOWER, best[side][cpuKey], f[cpuKey]);
          }
          if (f.rss !== undefined && Number.isFinite(f.rss)) {
            log(`    peak RSS ${fmtMb(f.rss)}`);
            rssBest[side] = Number.isFinite(rssBest[side]) ? Math.min(rssBest[side], f.rss) : f.rss;
          }
        } catch (err) {
          const msg = (err instanceof Error ? err.message : String(err)).split("\n")[0];
          log(`  FAILED: ${msg}`);
          failures.push(`${sess.id} (${side}): ${msg}`);
        }
      }
    }
    if (sess.defaults) {
      for (const side of ["ours", "theirs"] as Side[]) peaks[side].push(rssBest[side]);
    }
  }
  const peakMetric: Metric = {
    key: "peak",
    label: "peak RSS over the default-options rows",
    unit: "mb",
    higherIsBetter: false,
  };
  for (const side of ["ours", "theirs"] as Side[]) {
    const p = peaks[side].filter(Number.isFinite);
    if (p.length) best[side].peak = Math.max(...p);
  }
  const metrics = [...list.flatMap((x) => x.metrics), ...(peaks.ours.length ? [peakMetric] : [])];

  let cpu = "unknown CPU";
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? cpu;
  } catch { /* not Linux */ }
  const theirsName = s.theirs.includes("nsq-1.3") ? "Go nsqd 1.3.0" : s.theirs;
  console.log(`## nsq-deno vs ${theirsName} (--runfor ${s.runfor}, 200-byte messages)\n`);
  console.log(
    `- ${
      started.toISOString().slice(0, 16).replace("T", " ")
    } UTC; ${navigator.hardwareConcurrency} cores, ${cpu}; deno ${Deno.version.deno}`,
  );
  console.log(
    `- clients: ${
      s.goBench ? "NSQ's Go bench_writer/bench_reader for MPUB and consume rows" : "ours"
    }; PUB/DPUB/HTTP/latency/idle rows: our scripts against both`,
  );
  console.log(
    "- each row: fresh server per run, ours and theirs alternating, two rounds, best of two each\n",
  );
  console.log(
    `| row | nsq-deno | ${theirsName} | ours / theirs | nsqd CPU µs per msg, ours / theirs |`,
  );
  console.log("|---|---|---|---|---|");
  const ratioOf = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0
      ? (a / b).toFixed(2)
      : "n/a";
  for (const m of metrics) {
    const a = best.ours[m.key];
    const b = best.theirs[m.key];
    const ca = best.ours[`${m.key}.cpu`];
    const cb = best.theirs[`${m.key}.cpu`];
    const cpu = ca !== undefined && cb !== undefined
      ? `${ca.toFixed(2)} / ${cb.toFixed(2)} (${ratioOf(ca, cb)})`
      : "";
    console.log(`| ${m.label} | ${fmt(m, a)} | ${fmt(m, b)} | ${ratioOf(a, b)} | ${cpu} |`);
  }
  if (failures.length) {
    console.log(`\nFailed runs:\n${failures.map((f) => `- ${f}`).join("\n")}`);
  }
  return failures.length ? 1 : 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await compareMain(Deno.args));
  } catch (err) {
    console.error(`[bench] ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  }
}
