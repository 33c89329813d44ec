/**
 * `deno task bench`: NSQ-style end-to-end benchmarks of our nsqd, as a markdown table.
 *
 * For every scenario a fresh nsqd (`deno run -A main.ts nsqd`, 127.0.0.1, a temp data dir,
 * `--log-level warn`) runs as a child process, and the bench clients run as further child
 * processes (scripts/bench_writer.ts, bench_reader.ts, bench_latency.ts), so server and client
 * each get a core, as with NSQ's tools. Results come from the tools' own output lines; nsqd's
 * peak RSS comes from /proc/<pid>/status (VmHWM) and its CPU use from /proc/<pid>/stat.
 *
 * Scenarios (like nsq's bench.sh / bench.py):
 * - pub:     MPUB×200, 2 writer connections, `--runfor` (the topic and channel `sub_bench`/`ch`
 *            are created first, as bench.sh does, so messages go into the channel).
 * - sub:     then, on the same nsqd, 2 readers with RDY 2500 drain what the writer stored.
 * - pubsub:  a fresh nsqd; reader and writer start together (same `--deadline`).
 * - pub1:    MPUB×1 (`--batch-size 1`).
 * - disk:    MPUB×200 with `--mem-queue-size 0` (every message through the backend queue), then
 *            a reader drains it.
 * - http:    `POST /pub` over HTTP/1.1 keep-alive (scripts/bench_http.ts when present, else the
 *            fetch loop in this file), skipped when nsqd does not answer `/ping`.
 * - latency: scripts/bench_latency.ts at `--rate` msgs/s: go-nsq's default consumer settings,
 *            `output_buffer_timeout` lowered to 25 ms, output buffering off, and a low rate.
 *
 * Usage: deno task bench [--quick] [--runfor 10s] [--only pub,sub,...] [--rate 20000]
 *        [--settle 15s]
 *
 * Machine noise: on a 2-core machine any other work moves these figures a lot. Before each nsqd
 * start the bench waits (up to `--settle`, 0 = don't) for other processes to use less than a
 * quarter of a core, and every row shows the other processes' load during its measured window
 * (from /proc/stat minus this bench's own processes).
 *
 * @module
 */

import { benchLog, formatBenchLine, parseGoDuration } from "./_bench_common.ts";
import type { LatencyResult } from "./bench_latency.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();

/** Go nsqd 1.3.0 on this machine kind (2 cores), for the table. */
const GO_REFERENCE: Record<string, string> = {
  pub: "≈ 360k",
  sub: "≈ 265k",
  pubsub: "≈ 460k in / 330k out",
  pub1: "≈ 54k",
  rss: "≈ 24 MB",
};

const ALL_SCENARIOS = ["pub", "sub", "pubsub", "pub1", "disk", "http", "latency"] as const;
type ScenarioId = typeof ALL_SCENARIOS[number];

/** `--settle`: how long to wait for other processes to go quiet before each nsqd start. */
let settleMs = 15_000;

/** Aborted on SIGINT/SIGTERM: every wait gives up, every `finally` kills its children. */
export const stopper = new AbortController();

export function log(msg: string): void {
  console.error(`[bench] ${msg}`);
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

/** Children alive right now (their CPU is not "other load"). */
const liveChildren = new Set<Child>();

/** A running child with its stdout/stderr collected. */
export class Child {
  readonly name: string;
  readonly proc: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #collected: Promise<void>;
  #status: Deno.CommandStatus | null = null;
  readonly exited: Promise<Deno.CommandStatus>;

  /**
   * Runs `deno <args>`, or `<cmd> <args>` when `cmd` is given; `env` adds variables. With
   * `maxFiles` the child starts through `sh` with `ulimit -n` raised to its hard limit (the same
   * pid: `sh` execs it).
   */
  constructor(
    name: string,
    args: string[],
    opts: { cmd?: string; env?: Record<string, string>; maxFiles?: boolean } = {},
  ) {
    this.name = name;
    const cmd = opts.cmd ?? DENO;
    const [file, argv] = opts.maxFiles
      ? ["/bin/sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", cmd, ...args]]
      : [cmd, args];
    this.proc = new Deno.Command(file, {
      args: argv,
      env: opts.env,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    liveChildren.add(this);
    const collect = async (s: ReadableStream<Uint8Array>, to: "stdout" | "stderr") => {
      const dec = new TextDecoder();
      for await (const chunk of s) {
        const text = dec.decode(chunk, { stream: true });
        // Keep at most the last 256 KiB (nsqd at warn level writes little).
        this[to] = (this[to] + text).slice(-256 * 1024);
      }
    };
    this.#collected = Promise.all([
      collect(this.proc.stdout, "stdout"),
      collect(this.proc.stderr, "stderr"),
    ]).then(() => {});
    this.exited = this.proc.status.then(async (st) => {
      liveChildren.delete(this);
      await this.#collected;
      this.#status = st;
      return st;
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.#status === null;
  }

  /** Resolves with the status, or kills the child after `ms` (then rejects). */
  async wait(ms: number): Promise<Deno.CommandStatus> {
    const st = await raceTimeout(this.exited, ms);
    if (st === null) {
      await this.stop();
      throw new Error(`${this.name} did not finish within ${ms} ms`);
    }
    return st;
  }

  /** SIGTERM, wait up to `graceMs`, then SIGKILL; always awaits the exit. Idempotent. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    try {
      this.proc.kill("SIGTERM");
    } catch { /* already gone */ }
    const st = await raceTimeout(this.exited, graceMs, false);
    if (st === null) {
      log(`${this.name} (pid ${this.pid}) ignored SIGTERM for ${graceMs} ms: SIGKILL`);
      try {
        this.proc.kill("SIGKILL");
      } catch { /* already gone */ }
      await this.exited;
    }
  }
}

/**
 * `p` or null after `ms`; with `abortable` (default) also rejects when the bench is interrupted.
 */
export async function raceTimeout<T>(
  p: Promise<T>,
  ms: number,
  abortable = true,
): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<null>((resolve, reject) => {
    timer = setTimeout(() => resolve(null), ms);
    if (abortable) {
      onAbort = () => reject(new Error("interrupted"));
      if (stopper.signal.aborted) onAbort();
      else stopper.signal.addEventListener("abort", onAbort);
    }
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
    if (onAbort) stopper.signal.removeEventListener("abort", onAbort);
  }
}

export function sleep(ms: number): Promise<void> {
  return raceTimeout(new Promise<never>(() => {}), ms).then(() => {});
}

// ---------------------------------------------------------------------------------------------
// nsqd under test
// ---------------------------------------------------------------------------------------------

/** A free 127.0.0.1 port (bound then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** /proc/<pid>/status fields in kB. */
export function procStatusKb(pid: number, field: "VmHWM" | "VmRSS"): number {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

const CLK_TCK = 100; // Linux USER_HZ

/** utime + stime of `pid` in seconds. */
export function procCpuSeconds(pid: number): number {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** A fresh nsqd child with a temp data dir; `close()` stops it and removes the dir. */
export class NsqdUnderTest {
  readonly child: Child;
  readonly tcpAddress: string;
  readonly httpAddress: string;
  readonly dataPath: string;
  /** True when `GET /ping` answered (the HTTP API is integrated). */
  http = false;

  private constructor(child: Child, tcp: string, http: string, dataPath: string) {
    this.child = child;
    this.tcpAddress = tcp;
    this.httpAddress = http;
    this.dataPath = dataPath;
  }

  /**
   * Starts our nsqd (`deno run -A main.ts nsqd`), or the nsqd executable `binary` (e.g. Go's)
   * when given, on free 127.0.0.1 ports with a temp data dir and `ulimit -n` at its hard limit.
   */
  static async start(extraArgs: string[] = [], binary?: string): Promise<NsqdUnderTest> {
    for (let attempt = 0;; attempt++) {
      const dataPath = Deno.makeTempDirSync({ prefix: "nsq_bench_" });
      const tcp = `127.0.0.1:${freePort()}`;
      const http = `127.0.0.1:${freePort()}`;
      const common = [
        "--tcp-address",
        tcp,
        "--http-address",
        http,
        "--data-path",
        dataPath,
        "--log-level",
        "warn",
      ];
      // Our nsqd: with NSQ_BENCH_V8_FLAGS set, those V8 flags; otherwise what `deno run -A
      // main.ts nsqd` does by itself.
      const v8 = Deno.env.get("NSQ_BENCH_V8_FLAGS");
      const child = binary
        ? new Child("go-nsqd", [...common, ...extraArgs], { cmd: binary, maxFiles: true })
        : new Child("nsqd", [
          "run",
          "-A",
          ...(v8 ? [`--v8-flags=${v8}`] : []),
          "main.ts",
          "nsqd",
          ...common,
          "--https-address",
          "",
          ...extraArgs,
        ], { maxFiles: true });
      const n = new NsqdUnderTest(child, tcp, http, dataPath);
      try {
        await n.#waitUp();
        return n;
      } catch (err) {
        await n.close();
        if (attempt < 2 && /in use/i.test(child.stderr)) continue; // lost a port race
        throw err;
      }
    }
  }

  async #waitUp(): Promise<void> {
    const [hostname, port] = this.tcpAddress.split(":");
    const deadline = performance.now() + 20_000;
    for (;;) {
      if (!this.child.running) {
        throw new Error(`nsqd exited at start:\n${this.child.stderr.trim()}`);
      }
      try {
        // Send the V2 magic so nsqd does not log a failed protocol read for this probe.
        const c = await Deno.connect({ hostname, port: Number(port) });
        try {
          await c.write(new TextEncoder().encode("  V2"));
        } finally {
          c.close();
        }
        break;
      } catch {
        if (performance.now() > deadline) throw new Error("nsqd did not start listening in 20 s");
        await sleep(50);
      }
    }
    // The HTTP listener starts after TCP; give it a moment before deciding it is absent.
    for (let i = 0; i < 10 && !this.http; i++) {
      try {
        const res = await fetch(`http://${this.httpAddress}/ping`);
        await res.body?.cancel();
        this.http = res.ok;
      } catch {
        await sleep(100);
      }
    }
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Peak RSS so far, MB. */
  peakRssMb(): number {
    return procStatusKb(this.pid, "VmHWM") / 1024;
  }

  rssMb(): number {
    return procStatusKb(this.pid, "VmRSS") / 1024;
  }

  /** Whether any go-diskqueue data file exists under the data path. */
  hasDiskQueueFiles(): boolean {
    try {
      for (const e of Deno.readDirSync(this.dataPath)) {
        if (/\.diskqueue\.\d+\.dat$/.test(e.name)) return true;
      }
    } catch { /* gone */ }
    return false;
  }

  /**
   * Creates `topic` and `channel` over TCP (a SUB that then disconnects), as bench.sh does with
   * /create_topic and /create_channel, so published messages go into the channel.
   */
  async createChannel(topic: string, channel: string): Promise<void> {
    const [hostname, port] = this.tcpAddress.split(":");
    const conn = await Deno.connect({ hostname, port: Number(port) });
    try {
      const enc = new TextEncoder();
      await conn.write(enc.encode(`  V2SUB ${topic} ${channel}\n`));
      const buf = new Uint8Array(64);
      let got = 0;
      while (got < 10) {
        const n = await conn.read(buf.subarray(got));
        if (n === null) break;
        got += n;
      }
      const text = new TextDecoder().decode(buf.subarray(8, got));
      if (text !== "OK") throw new Error(`SUB ${topic} ${channel}: ${text || "closed"}`);
    } finally {
      conn.close();
    }
  }

  async close(): Promise<void> {
    try {
      await this.child.stop();
    } finally {
      try {
        Deno.removeSync(this.dataPath, { recursive: true });
      } catch { /* already gone */ }
    }
    if (/FATAL|ERROR/.test(this.child.stderr)) {
      log(`nsqd stderr:\n${this.child.stderr.trim().split("\n").slice(-10).join("\n")}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Bench clients
// ---------------------------------------------------------------------------------------------

/** One parsed NSQ result line. */
export interface ToolResult {
  opsPerSec: number;
  mbPerSec: number;
  durationText: string;
  msgs: number;
  line: string;
}

const RESULT_RE = /duration: (\S+) - ([\d.]+|NaN|[+-]Inf)mb\/s - ([\d.]+|NaN|[+-]Inf)ops\/s/;

export function parseToolOutput(name: string, child: Child, st: Deno.CommandStatus): ToolResult {
  const text = child.stderr + child.stdout;
  const m = RESULT_RE.exec(text);
  if (!st.success || !m) {
    throw new Error(`${name} failed (exit ${st.code}):\n${text.trim()}`);
  }
  const ops = Number(m[3]);
  const seconds = parseGoDuration(m[1]) / 1000;
  return {
    opsPerSec: ops,
    mbPerSec: Number(m[2]),
    durationText: m[1],
    msgs: Math.round(ops * seconds),
    line: text.trim().split("\n").find((l) => RESULT_RE.test(l)) ?? "",
  };
}

/** Runs a bench tool script to completion and parses its result line. */
export async function runTool(
  script: string,
  args: string[],
  runforMs: number,
): Promise<ToolResult> {
  const child = new Child(script, ["run", "-A", `scripts/${script}`, ...args]);
  try {
    const st = await child.wait(runforMs + 60_000);
    const r = parseToolOutput(script, child, st);
    log(`  ${r.line}`);
    return r;
  } finally {
    await child.stop();
  }
}

/** A start time `aheadMs` from now, rounded up to a whole second, and its `--deadline` text. */
export function nextDeadline(aheadMs: number): { atMs: number; text: string } {
  const atMs = Math.ceil((Date.now() + aheadMs) / 1000) * 1000;
  return { atMs, text: new Date(atMs).toISOString().slice(0, 19).replace("T", " ") };
}

/** Busy and total CPU seconds of the whole machine (/proc/stat, all cores). */
function systemCpuSeconds(): { busy: number; total: number } {
  try {
    const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
      .map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = f[3] + f[4];
    return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** CPU seconds of every process this bench started (nsqd and live clients), by pid. */
function ownCpuSeconds(): Map<number, number> {
  const m = new Map<number, number>();
  for (const c of liveChildren) m.set(c.pid, procCpuSeconds(c.pid));
  return m;
}

/** CPU use in a window, in cores: nsqd's, and everything not started by this bench. */
export interface CpuUse {
  nsqd: number;
  other: number;
}

/** Measures {@linkcode CpuUse} from `start()` to `read()`. */
export class CpuMeter {
  readonly nsqdPid: number;
  #sys0 = 0;
  #own0 = new Map<number, number>();
  #t0 = 0;
  #self0 = 0;

  constructor(nsqdPid: number) {
    this.nsqdPid = nsqdPid;
    this.start();
  }

  start(): void {
    this.#sys0 = systemCpuSeconds().busy;
    this.#own0 = ownCpuSeconds();
    this.#self0 = procCpuSeconds(Deno.pid);
    this.#t0 = performance.now();
  }

  read(): CpuUse {
    const sys1 = systemCpuSeconds().busy;
    const own1 = ownCpuSeconds();
    const wall = (performance.now() - this.#t0) / 1000;
    let own = procCpuSeconds(Deno.pid) - this.#self0; // this bench process itself
    for (const [p, c1] of own1) {
      const c0 = this.#own0.get(p);
      if (c0 !== undefined && Number.isFinite(c0) && Number.isFinite(c1)) own += c1 - c0;
    }
    const pid = this.nsqdPid;
    const nsqd = (own1.get(pid) ?? NaN) - (this.#own0.get(pid) ?? NaN);
    return { nsqd: nsqd / wall, other: Math.max(0, (sys1 - this.#sys0 - own) / wall) };
  }
}

/** Measures {@linkcode CpuUse} over [atMs, atMs + durationMs] (epoch ms). */
export async function cpuWindow(pid: number, atMs: number, durationMs: number): Promise<CpuUse> {
  await sleep(atMs - Date.now());
  const meter = new CpuMeter(pid);
  await sleep(durationMs);
  return meter.read();
}

export const NO_CPU: CpuUse = { nsqd: NaN, other: NaN };

/**
 * Waits (up to `maxMs`) until processes other than this bench's use less than a quarter of a
 * core over one second, so a scenario does not start in the middle of someone else's burst.
 * Returns the last measured other load (cores).
 */
export async function settle(maxMs: number): Promise<number> {
  const end = performance.now() + maxMs;
  for (;;) {
    const meter = new CpuMeter(-1);
    await sleep(1000);
    const other = meter.read().other;
    if (!(other >= 0.25) || performance.now() >= end) return other;
  }
}

/**
 * Runs `fn` with a `--deadline` ~1.5 s ahead (the tools connect, then start together at it) and
 * measures nsqd's CPU over the `runfor` after the deadline, so tool start-up is not counted.
 */
async function atDeadline<T>(
  n: NsqdUnderTest,
  s: Settings,
  fn: (deadline: string) => Promise<T>,
): Promise<{ result: T; cpu: CpuUse }> {
  const d = nextDeadline(1500);
  const cpu = cpuWindow(n.pid, d.atMs, s.runforMs).catch(() => NO_CPU);
  const result = await fn(d.text);
  return { result, cpu: await cpu };
}

/** The flags bench_writer and bench_reader share: 200-byte messages on 2 connections. */
function clientArgs(n: NsqdUnderTest, runfor: string, topic: string): string[] {
  return [
    "--nsqd-tcp-address",
    n.tcpAddress,
    "--runfor",
    runfor,
    "--topic",
    topic,
    "--size",
    "200",
    "--concurrency",
    "2",
  ];
}

function writerArgs(n: NsqdUnderTest, runfor: string, topic: string, batch: number): string[] {
  return [...clientArgs(n, runfor, topic), "--batch-size", String(batch)];
}

function readerArgs(n: NsqdUnderTest, runfor: string, topic: string): string[] {
  return [...clientArgs(n, runfor, topic), "--channel", "ch", "--rdy", "2500"];
}

// ---------------------------------------------------------------------------------------------
// The HTTP client (`bench.ts --http-client ...`, run as a child process)
// ---------------------------------------------------------------------------------------------

/** Keeps `concurrency` `POST /pub` requests going for `runforMs`; prints NSQ's result line. */
async function httpClientMain(args: string[]): Promise<number> {
  const opt = (name: string, def: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
  };
  const addr = opt("address", "127.0.0.1:4151");
  const topic = opt("topic", "http_bench");
  const size = Number(opt("size", "200"));
  const concurrency = Number(opt("concurrency", "4"));
  const runforMs = parseGoDuration(opt("runfor", "10s"));
  const log = benchLog("bench_http");
  const url = `http://${addr}/pub?topic=${encodeURIComponent(topic)}`;
  const body = new Uint8Array(size);
  let count = 0;
  const start = performance.now();
  const end = start + runforMs;
  try {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const res = await fetch(url, { method: "POST", body });
        const text = await res.text();
        if (!res.ok || text !== "OK") throw new Error(`POST /pub: ${res.status} ${text}`);
        count++;
      }
    }));
  } catch (err) {
    log((err as Error).message);
    return 1;
  }
  log(formatBenchLine(performance.now() - start, count, size));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/** One table row. */
interface Row {
  scenario: string;
  result: string;
  goRef: string;
  mbps: string;
  cpu: string;
  rss: string;
  notes: string;
}

function fmtOps(ops: number): string {
  return `${Math.round(ops).toLocaleString("en-US")} msgs/s`;
}

export function fmtMb(mb: number): string {
  return Number.isFinite(mb) ? `${mb.toFixed(1)} MB` : "n/a";
}

export function fmtPct(frac: number): string {
  return Number.isFinite(frac) ? `${Math.round(frac * 100)}%` : "n/a";
}

/** `nsqd% (other%)`: nsqd's share of one core, and other processes' load in the same window. */
function fmtCpu(c: CpuUse): string {
  return `${fmtPct(c.nsqd)} (${fmtPct(c.other)})`;
}

interface Settings {
  runforMs: number;
  runfor: string;
  rate: number;
  only: Set<ScenarioId>;
}

type Scenario = (s: Settings, rows: Row[]) => Promise<void>;

/** Runs `fn` with a fresh nsqd, always stopping it. */
async function withNsqd<T>(
  extraArgs: string[],
  fn: (n: NsqdUnderTest) => Promise<T>,
): Promise<T> {
  if (settleMs > 0) {
    const t0 = performance.now();
    const other = await settle(settleMs);
    const waited = performance.now() - t0;
    if (other >= 0.25) {
      log(
        `  machine still busy after ${(waited / 1000).toFixed(0)} s (other load ${fmtPct(other)})`,
      );
    } else if (waited > 1500) log(`  waited ${(waited / 1000).toFixed(0)} s for a quiet machine`);
  }
  const n = await NsqdUnderTest.start(extraArgs);
  try {
    log(`  nsqd pid ${n.pid} on ${n.tcpAddress}, idle RSS ${fmtMb(n.rssMb())}`);
    return await fn(n);
  } finally {
    await n.close();
  }
}

const pubThenSub: Scenario = async (s, rows) => {
  await withNsqd([], async (n) => {
    await n.createChannel("sub_bench", "ch");
    let pubMsgs = NaN;
    if (s.only.has("pub")) {
      log("publish MPUB×200 (2 connections)");
      const { result: w, cpu } = await atDeadline(n, s, (deadline) =>
        runTool(
          "bench_writer.ts",
          [...writerArgs(n, s.runfor, "sub_bench", 200), "--deadline", deadline],
          s.runforMs,
        ));
      pubMsgs = w.msgs;
      rows.push({
        scenario: "publish MPUB×200, 2 conns",
        result: fmtOps(w.opsPerSec),
        goRef: GO_REFERENCE.pub,
        mbps: w.mbPerSec.toFixed(1),
        cpu: fmtCpu(cpu),
        rss: fmtMb(n.peakRssMb()),
        notes: `${w.msgs.toLocaleString("en-US")} msgs into sub_bench/ch` +
          (n.hasDiskQueueFiles() ? " (past --mem-queue-size: disk queue)" : ""),
      });
    }
    if (s.only.has("sub")) {
      log("consume RDY 2500 (2 connections)");
      const { result: r, cpu } = await atDeadline(n, s, (deadline) =>
        runTool(
          "bench_reader.ts",
          [...readerArgs(n, s.runfor, "sub_bench"), "--deadline", deadline],
          s.runforMs,
        ));
      const drained = Number.isFinite(pubMsgs) && r.msgs >= pubMsgs * 0.999;
      rows.push({
        scenario: "consume RDY 2500, 2 conns",
        result: fmtOps(r.opsPerSec),
        goRef: GO_REFERENCE.sub,
        mbps: r.mbPerSec.toFixed(1),
        cpu: fmtCpu(cpu),
        rss: fmtMb(n.peakRssMb()),
        notes:
          (s.only.has("pub") ? "drains the publish row's backlog (same nsqd)" : "empty topic") +
          (drained ? "; backlog ran out: rate is a lower bound" : ""),
      });
    }
  });
};

const pubSub: Scenario = async (s, rows) => {
  log("publish + consume at once (2 + 2 connections)");
  await withNsqd([], async (n) => {
    await n.createChannel("pubsub_bench", "ch");
    const { result: [r, w], cpu } = await atDeadline(n, s, async (deadline) => {
      // allSettled: both children are awaited (and stopped) even when one fails.
      const both = await Promise.allSettled([
        runTool(
          "bench_reader.ts",
          [...readerArgs(n, s.runfor, "pubsub_bench"), "--deadline", deadline],
          s.runforMs,
        ),
        runTool(
          "bench_writer.ts",
          [...writerArgs(n, s.runfor, "pubsub_bench", 200), "--deadline", deadline],
          s.runforMs,
        ),
      ]);
      for (const x of both) if (x.status === "rejected") throw x.reason;
      return both.map((x) => (x as PromiseFulfilledResult<ToolResult>).value);
    });
    rows.push({
      scenario: "publish + consume at once",
      result: `${fmtOps(w.opsPerSec)} in / ${fmtOps(r.opsPerSec)} out`,
      goRef: GO_REFERENCE.pubsub,
      mbps: `${w.mbPerSec.toFixed(1)} / ${r.mbPerSec.toFixed(1)}`,
      cpu: fmtCpu(cpu),
      rss: fmtMb(n.peakRssMb()),
      notes: `reader subscribes as the writer starts (same --deadline); Go RSS ${GO_REFERENCE.rss}`,
    });
  });
};

const pubOne: Scenario = async (s, rows) => {
  log("publish MPUB×1 (2 connections)");
  await withNsqd([], async (n) => {
    await n.createChannel("sub_bench", "ch");
    const { result: w, cpu } = await atDeadline(n, s, (deadline) =>
      runTool(
        "bench_writer.ts",
        [...writerArgs(n, s.runfor, "sub_bench", 1), "--deadline", deadline],
        s.runforMs,
      ));
    rows.push({
      scenario: "publish MPUB×1, 2 conns",
      result: fmtOps(w.opsPerSec),
      goRef: GO_REFERENCE.pub1,
      mbps: w.mbPerSec.toFixed(1),
      cpu: fmtCpu(cpu),
      rss: fmtMb(n.peakRssMb()),
      notes: "one round trip per message per connection" +
        (n.hasDiskQueueFiles() ? "; past --mem-queue-size each OK waits for its disk write" : ""),
    });
  });
};

const disk: Scenario = async (s, rows) => {
  log("publish MPUB×200 with --mem-queue-size 0, then consume");
  await withNsqd(["--mem-queue-size", "0"], async (n) => {
    await n.createChannel("sub_bench", "ch");
    const { result: w, cpu } = await atDeadline(n, s, (deadline) =>
      runTool(
        "bench_writer.ts",
        [...writerArgs(n, s.runfor, "sub_bench", 200), "--deadline", deadline],
        s.runforMs,
      ));
    const onDisk = n.hasDiskQueueFiles();
    rows.push({
      scenario: "publish MPUB×200, --mem-queue-size 0",
      result: fmtOps(w.opsPerSec),
      goRef: "",
      mbps: w.mbPerSec.toFixed(1),
      cpu: fmtCpu(cpu),
      rss: fmtMb(n.peakRssMb()),
      notes: onDisk
        ? "every message through the disk queue"
        : "no .diskqueue files: the backend is not the disk queue yet (in-memory stand-in)",
    });
    const sub = await atDeadline(n, s, (deadline) =>
      runTool(
        "bench_reader.ts",
        [...readerArgs(n, s.runfor, "sub_bench"), "--deadline", deadline],
        s.runforMs,
      ));
    const r = sub.result;
    rows.push({
      scenario: "consume RDY 2500, --mem-queue-size 0",
      result: fmtOps(r.opsPerSec),
      goRef: "",
      mbps: r.mbPerSec.toFixed(1),
      cpu: fmtCpu(sub.cpu),
      rss: fmtMb(n.peakRssMb()),
      notes: (onDisk ? "reads the disk queue back" : "reads the in-memory stand-in back") +
        (r.msgs >= w.msgs * 0.999 ? "; backlog ran out: rate is a lower bound" : ""),
    });
  });
};

/** `/pub: N requests in 2.001s - R req/s - M msgs/s - X MiB/s (...)` from scripts/bench_http.ts. */
const BENCH_HTTP_RE =
  /(\/m?pub): (\d+) requests in ([\d.]+)s - ([\d.]+) req\/s - ([\d.]+) msgs\/s - ([\d.]+) MiB\/s \(([^)]*)\)/g;

const http: Scenario = async (s, rows) => {
  log("HTTP POST /pub (and /mpub)");
  await withNsqd([], async (n) => {
    const skipped = (why: string) => {
      log(`  skipped: ${why}`);
      rows.push({
        scenario: "HTTP POST /pub",
        result: "skipped",
        goRef: "",
        mbps: "",
        cpu: "",
        rss: "",
        notes: why,
      });
    };
    if (!n.http) return skipped("nsqd did not answer GET /ping: HTTP API not integrated yet");
    const meter = new CpuMeter(n.pid);
    let hasScript = true;
    try {
      await Deno.stat(`${ROOT}scripts/bench_http.ts`);
    } catch {
      hasScript = false;
    }
    if (hasScript) {
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
      let text = "";
      try {
        const st = await child.wait(2 * s.runforMs + 60_000);
        text = child.stderr + child.stdout;
        if (!st.success) log(`  scripts/bench_http.ts exited ${st.code}`);
      } finally {
        await child.stop();
      }
      const found = [...text.matchAll(BENCH_HTTP_RE)];
      if (found.length > 0) {
        const cpu = meter.read();
        for (const m of found) {
          log(`  ${m[0]}`);
          rows.push({
            scenario: `HTTP POST ${m[1]}`,
            result: fmtOps(Number(m[5])),
            goRef: "",
            mbps: (Number(m[6]) * 1.048576).toFixed(1),
            cpu: `${fmtCpu(cpu)} (both phases)`,
            rss: fmtMb(n.peakRssMb()),
            notes: `scripts/bench_http.ts: ${Number(m[4]).toFixed(0)} req/s; ${m[7]}`,
          });
        }
        return;
      }
      log(`  no result line from scripts/bench_http.ts; using the fetch loop:\n${text.trim()}`);
      meter.start();
    }
    const r = await runTool("bench.ts", [
      "--http-client",
      "--address",
      n.httpAddress,
      "--topic",
      "http_bench",
      "--size",
      "200",
      "--runfor",
      s.runfor,
      "--concurrency",
      "16",
    ], s.runforMs);
    rows.push({
      scenario: "HTTP POST /pub",
      result: fmtOps(r.opsPerSec),
      goRef: "",
      mbps: r.mbPerSec.toFixed(1),
      cpu: fmtCpu(meter.read()),
      rss: fmtMb(n.peakRssMb()),
      notes: "fetch loop in bench.ts, 16 requests in flight",
    });
  });
};

const latency: Scenario = async (s, rows) => {
  const modes: { label: string; rate: number; args: string[]; note: string }[] = [
    {
      label: "go-nsq defaults",
      rate: s.rate,
      args: [],
      note: "output_buffer_size 16384, output_buffer_timeout 250 ms",
    },
    {
      label: "output_buffer_timeout 25 ms",
      rate: s.rate,
      args: ["--output-buffer-timeout", "25"],
      note: "nsqd's --min-output-buffer-timeout",
    },
    {
      label: "output buffering off",
      rate: s.rate,
      args: ["--output-buffer-size", "-1"],
      note: "output_buffer_size -1 (flush per delivery batch)",
    },
    {
      label: "go-nsq defaults",
      rate: Math.max(1, Math.round(s.rate / 20)),
      args: [],
      note: "at a low rate the buffer rarely fills: flushes wait for the timer",
    },
  ];
  for (const m of modes) {
    log(`e2e latency at ${m.rate} msgs/s, ${m.label}`);
    // Tail latency is what other processes' bursts hurt most: one retry when the window was busy.
    let row: Row | null = null;
    let busy = NaN;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const res = await withNsqd([], (n) => latencyRun(n, s, m.rate, m.args));
      const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
      const r = res.result;
      const next: Row = {
        scenario: `e2e latency ${(m.rate / 1000).toLocaleString("en-US")}k msgs/s, ${m.label}`,
        result: `p50 ${f(r.p50)} / p99 ${f(r.p99)} / p999 ${f(r.p999)} / max ${f(r.max)} ms`,
        goRef: "",
        mbps: "",
        cpu: fmtCpu(res.cpu),
        rss: fmtMb(res.peakRssMb),
        notes: `${m.note}; ${r.count.toLocaleString("en-US")} samples` +
          (r.received < r.sent ? `; ${r.sent - r.received} lost` : "") +
          (r.rate < m.rate * 0.95 ? `; achieved only ${Math.round(r.rate)} msgs/s` : "") +
          (attempt > 1 ? `; 2nd try (other load ${fmtPct(busy)} on the 1st)` : ""),
      };
      if (row === null || !(res.cpu.other >= busy)) row = next;
      if (!(res.cpu.other >= 0.5) || attempt === 2) break;
      busy = res.cpu.other;
      log(`  other processes used ${fmtPct(busy)} of a core meanwhile: once more`);
    }
    rows.push(row!);
  }
};

/** One bench_latency.ts run against `n`, with nsqd's CPU over its measured window. */
async function latencyRun(
  n: NsqdUnderTest,
  s: Settings,
  rate: number,
  args: string[],
): Promise<{ result: LatencyResult; cpu: CpuUse; peakRssMb: number }> {
  // Its measured window starts after process start-up and the 1 s warm-up.
  const cpu = cpuWindow(n.pid, Date.now() + 1500, s.runforMs).catch(() => NO_CPU);
  const child = new Child("bench_latency.ts", [
    "run",
    "-A",
    "scripts/bench_latency.ts",
    "--nsqd-tcp-address",
    n.tcpAddress,
    "--rate",
    String(rate),
    "--runfor",
    s.runfor,
    "--json",
    ...args,
  ]);
  try {
    const st = await child.wait(s.runforMs + 60_000);
    const line = child.stdout.trim().split("\n").pop() ?? "";
    if (!st.success || !line.startsWith("{")) {
      throw new Error(`bench_latency.ts failed (exit ${st.code}):\n${child.stderr.trim()}`);
    }
    log(`  ${child.stderr.trim().split("\n").pop()}`);
    return { result: JSON.parse(line), cpu: await cpu, peakRssMb: n.peakRssMb() };
  } finally {
    await child.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

function machineLines(): string[] {
  let cpu = "unknown CPU";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"));
    if (m) cpu = m[1].trim();
  } catch { /* not Linux */ }
  let load = "n/a";
  try {
    load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch { /* not Linux */ }
  return [
    `- machine: ${navigator.hardwareConcurrency} cores, ${cpu}, ${Deno.build.os}/${Deno.build.arch}`,
    `- deno ${Deno.version.deno} (V8 ${Deno.version.v8}), load average at start: ${load}`,
  ];
}

function renderTable(rows: Row[]): string {
  const head = [
    "scenario",
    "nsq-deno",
    "Go nsqd 1.3.0",
    "MB/s",
    "nsqd CPU",
    "nsqd peak RSS",
    "notes",
  ];
  const lines = [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
  ];
  for (const r of rows) {
    lines.push(
      `| ${[r.scenario, r.result, r.goRef, r.mbps, r.cpu, r.rss, r.notes].join(" | ")} |`,
    );
  }
  return lines.join("\n");
}

function usage(): string {
  return `Usage: deno task bench [--quick] [--runfor 10s] [--rate 20000] [--settle 15s] [--only ${
    ALL_SCENARIOS.join(",")
  }]
       deno task bench --compare <nsqd binary> [--go-bench-bin <dir>] [--quick | --runfor 5s]
                       [--rate 20000] [--settle 3s] [--only mem,disk,pubsub,mpub1.c1,...]`;
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "--http-client") return await httpClientMain(args.slice(1));
  if (args.includes("--compare")) {
    const { compareMain } = await import("./bench_compare.ts");
    return await compareMain(args);
  }
  let runfor = "10s";
  let rate = 20_000;
  let only = new Set<ScenarioId>(ALL_SCENARIOS);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new TypeError(`${a} needs a value`);
      return args[++i];
    };
    if (a === "--quick") runfor = "2s";
    else if (a === "--runfor") runfor = value();
    else if (a === "--rate") rate = Number(value());
    else if (a === "--settle") settleMs = parseGoDuration(value());
    else if (a === "--only") {
      const names = value().split(",").map((x) => x.trim()).filter((x) => x !== "");
      for (const x of names) {
        if (!(ALL_SCENARIOS as readonly string[]).includes(x)) {
          throw new TypeError(`unknown scenario "${x}" (want ${ALL_SCENARIOS.join(", ")})`);
        }
      }
      only = new Set(names as ScenarioId[]);
    } else if (a === "-h" || a === "--help") {
      console.log(usage());
      return 0;
    } else throw new TypeError(`unknown argument "${a}"\n${usage()}`);
  }
  const runforMs = parseGoDuration(runfor);
  if (!(runforMs > 0)) throw new RangeError(`invalid --runfor ${runfor}`);
  if (!(rate > 0)) throw new RangeError(`invalid --rate ${rate}`);
  const settings: Settings = { runforMs, runfor, rate, only };

  const onSignal = () => stopper.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const header = machineLines();
  for (const l of header) log(l.slice(2));
  const rows: Row[] = [];
  const failures: string[] = [];
  const plan: [ScenarioId[], Scenario][] = [
    [["pub", "sub"], pubThenSub],
    [["pubsub"], pubSub],
    [["pub1"], pubOne],
    [["disk"], disk],
    [["http"], http],
    [["latency"], latency],
  ];
  try {
    for (const [ids, run] of plan) {
      if (!ids.some((id) => only.has(id))) continue;
      try {
        await run(settings, rows);
      } catch (err) {
        if (stopper.signal.aborted) throw err;
        const msg = err instanceof Error ? err.message : String(err);
        log(`  FAILED: ${msg}`);
        failures.push(`${ids.join("+")}: ${msg.split("\n")[0]}`);
        rows.push({
          scenario: ids.join(" + "),
          result: "failed",
          goRef: "",
          mbps: "",
          cpu: "",
          rss: "",
          notes: msg.split("\n")[0],
        });
      }
    }
  } finally {
    // Normally empty: every scenario stops its children. After an interruption, stop the rest.
    await Promise.all([...liveChildren].map((c) => c.stop()));
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  console.log(`## nsq-deno benchmarks (--runfor ${runfor}, 200-byte messages)\n`);
  console.log(header.join("\n"));
  console.log(
    "- nsqd: `deno run -A main.ts nsqd --log-level warn`, fresh per scenario, temp data dir; " +
      "clients are separate processes (scripts/bench_*.ts); RSS = VmHWM",
  );
  console.log(
    "- nsqd CPU: share of one core over the measured window; in parentheses the load of " +
      "processes other than this bench's in the same window (high = a noisy figure)",
  );
  console.log(
    `- Go reference: nsqd 1.3.0 on the same machine kind; its RSS: ${GO_REFERENCE.rss}\n`,
  );
  console.log(renderTable(rows));
  return failures.length > 0 ? 1 : 0;
}

if (import.meta.main) {
  // No top-level await: scripts/bench_compare.ts (loaded by `--compare`) imports this module,
  // which must finish evaluating first.
  main(Deno.args).then((code) => Deno.exit(code), (err) => {
    console.error(`[bench] ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  });
}
