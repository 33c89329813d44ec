/**
 * What the bench scripts share: Go `flag` parsing and usage text, Go durations and `log` lines,
 * NSQ's result line, the `--deadline` start, dialing nsqd and writing commands, the in-place
 * frame helpers of the consumers, and the child nsqd of the scripts that run their own.
 *
 * Private to scripts/ (test/scripts/ tests it as the mirror of this folder).
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

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Results and Go's output
// ---------------------------------------------------------------------------------------------

/** What a run measured: messages acknowledged (writer) or received (reader), and wall time. */
export interface BenchResult {
  msgs: number;
  durationMs: number;
}

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

/** A logger writing Go `log` lines prefixed `[prog] ` to stderr, as NSQ's bench tools do. */
export function benchLog(prog: string): (msg: string) => void {
  return (msg) => console.error(goLogLine(`[${prog}] `, msg));
}

/**
 * The end of an NSQ-style bench tool: runs `run` and logs NSQ's result line for `size`-byte
 * messages, or the error's message. Returns the exit code (0, or 1 on error).
 */
export async function reportBenchResult(
  prog: string,
  size: number,
  run: () => Promise<BenchResult>,
): Promise<number> {
  const log = benchLog(prog);
  try {
    const r = await run();
    log(formatBenchLine(r.durationMs, r.msgs, size));
    return 0;
  } catch (err) {
    log(err instanceof Error ? err.message : String(err));
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------------

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

/**
 * A bench tool's command line, as Go's `flag.Parse` handles it: the flag values, or the exit code
 * when the tool should stop here (0 after `-h`, 2 after a flag error; usage printed on stderr).
 */
export function parseBenchCli(
  prog: string,
  args: readonly string[],
  flags: readonly BenchFlag[],
): Record<string, string> | number {
  try {
    const parsed = parseBenchFlags(args, flags);
    if (!parsed.help) return parsed.values;
    console.error(benchUsage(prog, flags));
    return 0;
  } catch (err) {
    if (!(err instanceof BenchFlagError)) throw err;
    console.error(err.message);
    console.error(benchUsage(prog, flags));
    return 2;
  }
}

/** GOMAXPROCS's counterpart: how many connections NSQ's tools would open here. */
export function defaultConcurrency(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** NSQ's default `--nsqd-tcp-address`. */
export const DEFAULT_NSQD_TCP_ADDRESS = "127.0.0.1:4150";

/** `--nsqd-tcp-address` (alias `--tcp-address`), as NSQ's tools define it. */
export const NSQD_TCP_ADDRESS_FLAG: BenchFlag = {
  name: "nsqd-tcp-address",
  kind: "string",
  usage: "<addr>:<port> to connect to nsqd",
  default: DEFAULT_NSQD_TCP_ADDRESS,
  aliases: ["tcp-address"],
};

/** The flags bench_writer and bench_reader share, with NSQ's usage texts and defaults. */
export const CLIENT_FLAGS: readonly BenchFlag[] = [
  { name: "runfor", kind: "duration", usage: "duration of time to run", default: "10s" },
  NSQD_TCP_ADDRESS_FLAG,
  { name: "topic", kind: "string", usage: "topic to receive messages on", default: "sub_bench" },
  { name: "size", kind: "int", usage: "size of messages", default: "200" },
  { name: "deadline", kind: "string", usage: "deadline to start the benchmark run", default: "" },
  {
    name: "concurrency",
    kind: "int",
    usage: "number of connections (NSQ: GOMAXPROCS)",
    default: String(defaultConcurrency()),
  },
];

/** The options bench_writer and bench_reader share; defaults are NSQ's flag defaults. */
export interface ClientOptions {
  /** `--nsqd-tcp-address` (alias `--tcp-address`): 127.0.0.1:4150. */
  nsqdTcpAddress: string;
  /** `--topic`: sub_bench. */
  topic: string;
  /** `--size`: bytes per message, 200. */
  size: number;
  /** `--runfor` in ms: 10 s. */
  runforMs: number;
  /** `--concurrency` (our addition; NSQ uses GOMAXPROCS): the CPU count. */
  concurrency: number;
  /** `--deadline` `2006-01-02 15:04:05` (UTC) to start at; empty = now. */
  deadline: string;
  /** Stops the run early. */
  signal?: AbortSignal;
  /** Where the `sleeping until` line goes (default: stderr with the Go log prefix). */
  log?: (msg: string) => void;
}

/** NSQ's defaults for {@linkcode ClientOptions}. */
export const CLIENT_DEFAULTS: Readonly<Omit<ClientOptions, "signal" | "log">> = {
  nsqdTcpAddress: DEFAULT_NSQD_TCP_ADDRESS,
  topic: "sub_bench",
  size: 200,
  runforMs: 10_000,
  concurrency: defaultConcurrency(),
  deadline: "",
};

/** {@linkcode ClientOptions} from values of {@linkcode CLIENT_FLAGS} (already validated). */
export function clientOptions(
  values: Record<string, string>,
): Omit<ClientOptions, "signal" | "log"> {
  return {
    nsqdTcpAddress: values["nsqd-tcp-address"],
    topic: values["topic"],
    size: Number(values["size"]),
    runforMs: parseGoDuration(values["runfor"]),
    concurrency: Number(values["concurrency"]),
    deadline: values["deadline"],
  };
}

// ---------------------------------------------------------------------------------------------
// The start deadline
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Connections and commands
// ---------------------------------------------------------------------------------------------

/** The V2 magic, the first 4 bytes on every connection. */
export const MAGIC_V2: Uint8Array = encoder.encode("  V2");
/** `NOP\n`, the reply to a heartbeat. */
export const NOP: Uint8Array = encoder.encode("NOP\n");
/** The text of a heartbeat response frame. */
export const HEARTBEAT = "_heartbeat_";

/** Connects with TCP_NODELAY, as every connection here must. */
export async function dialNsqd(addr: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ ...dialAddress(addr), transport: "tcp" });
  conn.setNoDelay(true);
  return conn;
}

/**
 * Dials nsqd at `addr`, adds the connection to `conns` (so the caller's cleanup closes it even
 * if the next step fails) and sends the V2 magic.
 */
export async function dialV2(addr: string, conns: Deno.TcpConn[]): Promise<Deno.TcpConn> {
  const conn = await dialNsqd(addr);
  conns.push(conn);
  await writeFull(conn, MAGIC_V2);
  return conn;
}

/**
 * Dials `o.concurrency` V2 connections into `conns`, then sleeps until `o.deadline` when one is
 * set: the setup of bench_writer and bench_reader before their start signal.
 */
export async function connectClients(
  o: ClientOptions,
  conns: Deno.TcpConn[],
  log: (msg: string) => void,
): Promise<void> {
  for (let i = 0; i < o.concurrency; i++) await dialV2(o.nsqdTcpAddress, conns);
  if (o.deadline !== "") await sleepUntilDeadline(o.deadline, log, o.signal);
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
// Frames, parsed in place by the consumers
// ---------------------------------------------------------------------------------------------

/** Largest frame accepted (nsqd's default max message size is 1 MiB). */
export const MAX_FRAME_SIZE = 64 * 1024 * 1024;
/** Smallest frame a message can occupy: size + type + 26-byte header. */
export const MIN_MESSAGE_FRAME = 4 + 4 + 26;
/** `FIN <16-byte id>\n`. */
export const FIN_LEN = 21;

/** The big-endian uint32 at `at` of `buf`, read byte-wise (no DataView). */
export function readUint32(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

/**
 * Bytes of FIN output one parse pass over `bufLen` input bytes can produce, at most (a FIN per
 * smallest message frame, plus one for slack).
 */
export function finCapacity(bufLen: number): number {
  return Math.ceil(bufLen / MIN_MESSAGE_FRAME) * FIN_LEN + FIN_LEN;
}

/** Writes `FIN <id>\n` at `o` of `out`, copying the 16-byte message ID at `idAt` of `buf`. */
export function putFin(out: Uint8Array, o: number, buf: Uint8Array, idAt: number): void {
  out[o] = 0x46; // F
  out[o + 1] = 0x49; // I
  out[o + 2] = 0x4e; // N
  out[o + 3] = 0x20;
  for (let i = 0; i < 16; i++) out[o + 4 + i] = buf[idAt + i];
  out[o + 20] = 0x0a;
}

// ---------------------------------------------------------------------------------------------
// An nsqd in a child process
// ---------------------------------------------------------------------------------------------

/** `--serve`: the child mode of a bench that runs its own nsqd ({@linkcode spawnServeChild}). */
export const SERVE_FLAG: BenchFlag = {
  name: "serve",
  kind: "string",
  usage: "(internal) run the nsqd for the benchmark",
  default: "",
};

/**
 * Starts `script` again with `--serve 1` (its child mode: an nsqd that prints its address on
 * stdout, then serves until its stdin closes) and reads that first line; `address` is "" when
 * the child ended without printing one. Stop it with {@linkcode stopServeChild}.
 */
export async function spawnServeChild(
  script: string,
): Promise<{ child: Deno.ChildProcess; address: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, "--serve", "1"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    out += value;
  }
  reader.releaseLock();
  return { child, address: out.trim() };
}

/** Ends a {@linkcode spawnServeChild} child: closes its stdin and waits for it to exit. */
export async function stopServeChild(child: Deno.ChildProcess): Promise<void> {
  await child.stdin.close();
  await child.stdout.cancel().catch(() => {});
  await child.status;
}

/** The child side: prints `address` for the parent, then waits until the parent closes stdin. */
export async function announceAndWait(address: string): Promise<void> {
  console.log(address);
  for await (const _ of Deno.stdin.readable) { /* the parent closes stdin when done */ }
}
