/**
 * bench_writer: NSQ's bench/bench_writer in Deno, so numbers compare directly.
 *
 * `--concurrency` connections (NSQ uses one per GOMAXPROCS; our default is the CPU count) each
 * send IDENTIFY, then loop: write one `MPUB` of `--batch-size` messages of `--size` zero bytes,
 * wait for its `OK` (strict request/response per connection, as NSQ's does), until `--runfor`
 * has passed. Prints NSQ's result line on stderr (Go's `log` output):
 *
 *     [bench_writer] 2006/01/02 15:04:05 duration: 10.0003s - 37.998mb/s - 199211.456ops/s - 5.020us/op
 *
 * The client must not be the bottleneck: the MPUB command is encoded once and reused, each batch
 * is one `conn.write`, and responses are parsed in place from one reused read buffer.
 *
 * This module also exports the small pieces bench_reader.ts shares (Go flag/duration handling,
 * the result line).
 *
 * Usage: deno run -A scripts/bench_writer.ts [--nsqd-tcp-address 127.0.0.1:4150] [--runfor 10s]
 *        [--topic sub_bench] [--size 200] [--batch-size 200] [--concurrency N] [--deadline ...]
 *
 * @module
 */

import {
  formatDuration,
  formatDurationNanos,
  millisToNanos,
  parseDuration,
} from "../lib/internal/duration.ts";
import { dialAddress } from "../lib/internal/net_addr.ts";
import { NSQ_DENO_VERSION } from "../lib/version.ts";

// ---------------------------------------------------------------------------------------------
// Shared with bench_reader.ts
// ---------------------------------------------------------------------------------------------

/** What a run measured: messages acknowledged (writer) or received (reader), and wall time. */
export interface BenchResult {
  msgs: number;
  durationMs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Parses a Go duration (`10s`, `1m30s`, `1.5h`, `300ms`, `-2s`, `0`) into milliseconds, as
 * lib/internal/duration.ts does, but throws a TypeError (the bench tools' flag error).
 */
export function parseGoDuration(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new TypeError((err as Error).message);
  }
}

/** Go's `%.03f`, including its `+Inf` / `NaN` spellings. */
function goFixed3(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "+Inf";
  if (x === -Infinity) return "-Inf";
  // An exact tie at the 4th decimal is a double j/16 with j odd; Go rounds it half to even,
  // JS toFixed away from zero.
  const sixteenths = x * 16;
  if (Number.isInteger(sixteenths) && sixteenths % 2 !== 0) {
    const down = Math.floor(x * 1000);
    const even = down % 2 === 0 ? down : down + 1;
    return (even / 1000).toFixed(3);
  }
  return x.toFixed(3);
}

/**
 * NSQ's bench result text, byte for byte as bench_writer.go / bench_reader.go format it:
 * `duration: <Go duration> - <MiB/s>mb/s - <msgs/s>ops/s - <µs per msg>us/op`.
 */
export function formatBenchLine(durationMs: number, msgs: number, size: number): string {
  const ns = BigInt(millisToNanos(durationMs));
  const seconds = Number(ns) / 1e9;
  const wholeMicros = Number(ns / 1000n); // Go: float64(duration/time.Microsecond)
  return `duration: ${formatDurationNanos(ns)} - ` +
    `${goFixed3((msgs * size) / seconds / 1024 / 1024)}mb/s - ` +
    `${goFixed3(msgs / seconds)}ops/s - ` +
    `${goFixed3(wholeMicros / msgs)}us/op`;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** A line as Go's `log` package writes it with `log.SetPrefix(prefix)` and default flags. */
export function goLogLine(prefix: string, msg: string, now = new Date()): string {
  const date = `${now.getFullYear()}/${pad2(now.getMonth() + 1)}/${pad2(now.getDate())}`;
  const time = `${pad2(now.getHours())}:${pad2(now.getMinutes())}:${pad2(now.getSeconds())}`;
  return `${prefix}${date} ${time} ${msg}`;
}

/**
 * Parses `--deadline` the way Go's `time.Parse("2006-01-02 15:04:05", s)` does (no zone: UTC).
 * Returns epoch milliseconds; throws a TypeError with Go's wording on bad input.
 */
export function parseDeadline(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(s);
  const ms = m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).getUTCDate() !== +m[3]) {
    throw new TypeError(`parsing time "${s}" as "2006-01-02 15:04:05": cannot parse "${s}"`);
  }
  return ms;
}

/** Go's `time.Time.String()` for a UTC time: `2006-01-02 15:04:05 +0000 UTC`. */
function goUtcString(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ") + " +0000 UTC";
}

/**
 * Sleeps until `deadline` (as NSQ's bench tools do before starting, so several processes start
 * together), logging `sleeping until <t> (<d>)`. Resolves early when `signal` aborts.
 */
export async function sleepUntilDeadline(
  deadline: string,
  log: (msg: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const at = parseDeadline(deadline);
  const d = at - Date.now();
  log(`sleeping until ${goUtcString(at)} (${formatDuration(d)})`);
  if (d > 0) await abortableSleep(d, signal);
}

/** Resolves after `ms` or as soon as `signal` aborts; its timer is always cleared. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}

/** Connects with TCP_NODELAY, as every connection here must. */
export async function dialNsqd(addr: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ ...dialAddress(addr), transport: "tcp" });
  conn.setNoDelay(true);
  return conn;
}

/** Writes all of `p`, looping on short writes. */
export async function writeFull(conn: Deno.Conn, p: Uint8Array): Promise<void> {
  let off = 0;
  while (off < p.length) off += await conn.write(off === 0 ? p : p.subarray(off));
}

/** Encodes `NAME params...\n` plus an optional sized body, like go-nsq's Command.WriteTo. */
export function encodeCmd(line: string, body?: Uint8Array): Uint8Array {
  const head = encoder.encode(line + "\n");
  if (body === undefined) return head;
  const out = new Uint8Array(head.length + 4 + body.length);
  out.set(head);
  new DataView(out.buffer).setUint32(head.length, body.length);
  out.set(body, head.length + 4);
  return out;
}

/** The V2 magic, the first 4 bytes on every connection. */
export const MAGIC_V2: Uint8Array = encoder.encode("  V2");
/** `NOP\n`, the reply to a heartbeat. */
export const NOP: Uint8Array = encoder.encode("NOP\n");
const HEARTBEAT = "_heartbeat_";

/** One flag of a bench tool, in Go's `flag` package terms. */
export interface BenchFlag {
  name: string;
  kind: "string" | "int" | "duration";
  usage: string;
  default: string;
  /** Other accepted names (our additions; NSQ's name is `name`). */
  aliases?: string[];
}

/** Go `flag` style parsing failed; `message` is what Go prints before the usage. */
export class BenchFlagError extends Error {
  override name = "BenchFlagError";
}

/**
 * Parses `-name value`, `--name value`, `-name=value`, `--name=value` like Go's flag package
 * (stops at the first non-flag argument or `--`). Returns raw strings keyed by canonical name,
 * with defaults filled in; `help: true` for `-h`/`-help`.
 */
export function parseBenchFlags(
  args: readonly string[],
  flags: readonly BenchFlag[],
): { values: Record<string, string>; help: boolean } {
  const byName = new Map<string, BenchFlag>();
  for (const f of flags) for (const n of [f.name, ...(f.aliases ?? [])]) byName.set(n, f);
  const values: Record<string, string> = {};
  for (const f of flags) values[f.name] = f.default;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--" || !a.startsWith("-") || a === "-") break;
    let body = a.slice(a.startsWith("--") ? 2 : 1);
    let value: string | undefined;
    const eq = body.indexOf("=");
    if (eq >= 0) {
      value = body.slice(eq + 1);
      body = body.slice(0, eq);
    }
    if (body === "h" || body === "help") return { values, help: true };
    const f = byName.get(body);
    if (!f) throw new BenchFlagError(`flag provided but not defined: -${body}`);
    if (value === undefined) {
      if (i + 1 >= args.length) throw new BenchFlagError(`flag needs an argument: -${body}`);
      value = args[++i];
    }
    const bad = () => new BenchFlagError(`invalid value "${value}" for flag -${body}: parse error`);
    if (f.kind === "int" && !/^[+-]?\d+$/.test(value)) throw bad();
    if (f.kind === "duration") {
      try {
        parseGoDuration(value);
      } catch {
        throw bad();
      }
    }
    values[f.name] = value;
  }
  return { values, help: false };
}

/** Go's `flag.PrintDefaults` layout for `Usage of <prog>:`. */
export function benchUsage(prog: string, flags: readonly BenchFlag[]): string {
  const lines = [`Usage of ${prog}:`];
  for (const f of [...flags].sort((a, b) => a.name.localeCompare(b.name))) {
    const type = f.kind === "string" ? "string" : f.kind;
    lines.push(`  -${f.name} ${type}`);
    let usage = `    \t${f.usage}`;
    if (f.default !== "" && f.default !== "0") {
      usage += f.kind === "string" ? ` (default "${f.default}")` : ` (default ${f.default})`;
    }
    if (f.aliases?.length) usage += ` (also -${f.aliases.join(", -")})`;
    lines.push(usage);
  }
  return lines.join("\n");
}

/** GOMAXPROCS's counterpart: how many connections NSQ's tools would open here. */
export function defaultConcurrency(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/**
 * Reads response/error frames from one connection into a reused buffer, parsing in place.
 * Heartbeats are answered with NOP and skipped. For request/response use (the writer).
 */
export class ResponseReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Returns the next non-heartbeat frame's type and text; throws on end of stream. */
  async next(): Promise<{ type: number; text: string }> {
    for (;;) {
      const buf = this.#buf;
      while (this.#end - this.#start >= 8) {
        const s = this.#start;
        const size = ((buf[s] << 24) | (buf[s + 1] << 16) | (buf[s + 2] << 8) | buf[s + 3]) >>> 0;
        if (size < 4 || size > 64 * 1024 * 1024) throw new Error(`invalid frame size ${size}`);
        if (this.#end - s < 4 + size) break;
        const type = ((buf[s + 4] << 24) | (buf[s + 5] << 16) | (buf[s + 6] << 8) | buf[s + 7]) >>>
          0;
        this.#start = s + 4 + size;
        if (this.#start === this.#end) this.#start = this.#end = 0;
        const text = type === 2 ? "" : decoder.decode(buf.subarray(s + 8, s + 4 + size));
        if (type === 0 && text === HEARTBEAT) {
          await writeFull(this.#conn, NOP);
          continue;
        }
        return { type, text };
      }
      await this.#fill();
    }
  }

  async #fill(): Promise<void> {
    if (this.#end === this.#buf.length) {
      const held = this.#end - this.#start;
      const target = held * 2 > this.#buf.length ? new Uint8Array(this.#buf.length * 2) : this.#buf;
      if (target === this.#buf) target.copyWithin(0, this.#start, this.#end);
      else target.set(this.#buf.subarray(this.#start, this.#end), 0);
      this.#buf = target;
      this.#start = 0;
      this.#end = held;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) throw new Error("connection closed by nsqd");
    this.#end += n;
  }
}

/**
 * Runs `work` on every connection at once, closing all of them as soon as one fails (so the
 * others end), and returns the per-connection results or throws the first error.
 */
export async function runAll<T>(
  conns: Deno.TcpConn[],
  work: (conn: Deno.TcpConn, index: number) => Promise<T>,
): Promise<T[]> {
  let firstError: unknown = null;
  const results = await Promise.all(conns.map((c, i) =>
    work(c, i).catch((err) => {
      if (firstError === null) {
        firstError = err;
        closeAll(conns);
      }
      return null;
    })
  ));
  if (firstError !== null) throw firstError;
  return results as T[];
}

/** Closes every connection, ignoring ones already closed. */
export function closeAll(conns: readonly Deno.Conn[]): void {
  for (const c of conns) {
    try {
      c.close();
    } catch {
      // already closed
    }
  }
}

// ---------------------------------------------------------------------------------------------
// bench_writer
// ---------------------------------------------------------------------------------------------

/** bench_writer's options; defaults are NSQ's flag defaults. */
export interface WriterOptions {
  /** `--nsqd-tcp-address` (alias `--tcp-address`): 127.0.0.1:4150. */
  nsqdTcpAddress: string;
  /** `--topic`: sub_bench. */
  topic: string;
  /** `--size`: bytes per message, 200. */
  size: number;
  /** `--batch-size`: messages per MPUB, 200. */
  batchSize: number;
  /** `--runfor` in ms: 10 s. */
  runforMs: number;
  /** `--concurrency` (our addition; NSQ uses GOMAXPROCS): the CPU count. */
  concurrency: number;
  /** `--deadline` `2006-01-02 15:04:05` (UTC) to start at; empty = now. */
  deadline: string;
  /** Stops the run early (counts what completed). */
  signal?: AbortSignal;
  /** Where the `sleeping until` line goes (default: stderr with the Go log prefix). */
  log?: (msg: string) => void;
}

/** NSQ's bench_writer defaults. */
export const WRITER_DEFAULTS: Readonly<Omit<WriterOptions, "signal" | "log">> = {
  nsqdTcpAddress: "127.0.0.1:4150",
  topic: "sub_bench",
  size: 200,
  batchSize: 200,
  runforMs: 10_000,
  concurrency: defaultConcurrency(),
  deadline: "",
};

/** The whole `MPUB` command for one batch of `batchSize` zero-filled `size`-byte messages. */
export function encodeMpubBatch(topic: string, size: number, batchSize: number): Uint8Array {
  const body = new Uint8Array(4 + batchSize * (4 + size));
  const view = new DataView(body.buffer);
  view.setUint32(0, batchSize);
  for (let i = 0, off = 4; i < batchSize; i++, off += 4 + size) view.setUint32(off, size);
  return encodeCmd(`MPUB ${topic}`, body);
}

/**
 * Runs bench_writer: connects `concurrency` connections, optionally sleeps until `deadline`, then
 * measures from the start signal until every connection has finished its last batch.
 * `msgs` counts messages nsqd acknowledged with `OK`.
 */
export async function runWriter(opts: Partial<WriterOptions> = {}): Promise<BenchResult> {
  const o = { ...WRITER_DEFAULTS, ...opts };
  if (!(o.size > 0)) throw new RangeError(`invalid --size ${o.size}`);
  if (!(o.batchSize > 0)) throw new RangeError(`invalid --batch-size ${o.batchSize}`);
  if (!(o.concurrency > 0)) throw new RangeError(`invalid --concurrency ${o.concurrency}`);
  const log = o.log ?? ((m: string) => console.error(goLogLine("[bench_writer] ", m)));
  const batch = encodeMpubBatch(o.topic, o.size, o.batchSize);
  const identify = encodeCmd(
    "IDENTIFY",
    encoder.encode(JSON.stringify({
      client_id: "writer",
      hostname: "writer",
      user_agent: `bench_writer/${NSQ_DENO_VERSION}`,
    })),
  );

  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < o.concurrency; i++) {
      const c = await dialNsqd(o.nsqdTcpAddress);
      conns.push(c);
      await writeFull(c, MAGIC_V2);
    }
    if (o.deadline !== "") await sleepUntilDeadline(o.deadline, log, o.signal);

    let stopped = o.signal?.aborted ?? false;
    const onAbort = () => {
      stopped = true;
    };
    o.signal?.addEventListener("abort", onAbort);
    const start = performance.now();
    try {
      const counts = await runAll(conns, async (conn) => {
        const rd = new ResponseReader(conn);
        await writeFull(conn, identify);
        const idResp = await rd.next();
        if (idResp.type === 1) throw new Error(idResp.text);
        const endTime = performance.now() + o.runforMs;
        let msgCount = 0;
        while (!stopped) {
          await writeFull(conn, batch);
          const resp = await rd.next();
          if (resp.type !== 0) throw new Error(resp.text || `unexpected frame type ${resp.type}`);
          msgCount += o.batchSize;
          if (performance.now() > endTime) break;
        }
        return msgCount;
      });
      const durationMs = performance.now() - start;
      return { msgs: counts.reduce((a, b) => a + b, 0), durationMs };
    } finally {
      o.signal?.removeEventListener("abort", onAbort);
    }
  } finally {
    closeAll(conns);
  }
}

const WRITER_FLAGS: BenchFlag[] = [
  { name: "runfor", kind: "duration", usage: "duration of time to run", default: "10s" },
  {
    name: "nsqd-tcp-address",
    kind: "string",
    usage: "<addr>:<port> to connect to nsqd",
    default: WRITER_DEFAULTS.nsqdTcpAddress,
    aliases: ["tcp-address"],
  },
  { name: "topic", kind: "string", usage: "topic to receive messages on", default: "sub_bench" },
  { name: "size", kind: "int", usage: "size of messages", default: "200" },
  { name: "batch-size", kind: "int", usage: "batch size of messages", default: "200" },
  { name: "deadline", kind: "string", usage: "deadline to start the benchmark run", default: "" },
  {
    name: "concurrency",
    kind: "int",
    usage: "number of connections (NSQ: GOMAXPROCS)",
    default: String(WRITER_DEFAULTS.concurrency),
  },
];

/** CLI entry: parses NSQ's flags, runs, prints NSQ's result line. Returns the exit code. */
export async function writerMain(args: readonly string[]): Promise<number> {
  let values: Record<string, string>;
  try {
    const parsed = parseBenchFlags(args, WRITER_FLAGS);
    if (parsed.help) {
      console.error(benchUsage("bench_writer", WRITER_FLAGS));
      return 0;
    }
    values = parsed.values;
  } catch (err) {
    if (!(err instanceof BenchFlagError)) throw err;
    console.error(err.message);
    console.error(benchUsage("bench_writer", WRITER_FLAGS));
    return 2;
  }
  const size = Number(values["size"]);
  try {
    const r = await runWriter({
      nsqdTcpAddress: values["nsqd-tcp-address"],
      topic: values["topic"],
      size,
      batchSize: Number(values["batch-size"]),
      runforMs: parseGoDuration(values["runfor"]),
      concurrency: Number(values["concurrency"]),
      deadline: values["deadline"],
    });
    console.error(goLogLine("[bench_writer] ", formatBenchLine(r.durationMs, r.msgs, size)));
    return 0;
  } catch (err) {
    console.error(goLogLine("[bench_writer] ", err instanceof Error ? err.message : String(err)));
    return 1;
  }
}

if (import.meta.main) Deno.exit(await writerMain(Deno.args));
