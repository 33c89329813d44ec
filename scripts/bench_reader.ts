/**
 * bench_reader: NSQ's bench/bench_reader in Deno, so numbers compare directly.
 *
 * `--concurrency` connections (NSQ uses one per GOMAXPROCS; our default is the CPU count) each
 * send the V2 magic, then on the start signal `IDENTIFY` (the same body as NSQ's tool), `SUB
 * <topic> <channel>` and `RDY <rdy>` in one write, and FIN every message received until `--runfor`
 * has passed, when the connections are closed. Prints NSQ's result line on stderr:
 *
 *     [bench_reader] 2006/01/02 15:04:05 duration: 10.0001s - 31.705mb/s - 166221.910ops/s - 6.016us/op
 *
 * The client must not be the bottleneck: frames are parsed in place from one reused read buffer,
 * and the FINs for everything one `read` returned go out in one `conn.write` (NSQ's tool batches
 * FINs in a bufio.Writer the same way).
 *
 * Usage: deno run -A scripts/bench_reader.ts [--nsqd-tcp-address 127.0.0.1:4150] [--runfor 10s]
 *        [--topic sub_bench] [--channel ch] [--size 200] [--rdy 2500] [--concurrency N]
 *
 * @module
 */

import {
  abortableSleep,
  type BenchFlag,
  BenchFlagError,
  type BenchResult,
  benchUsage,
  closeAll,
  defaultConcurrency,
  dialNsqd,
  encodeCmd,
  formatBenchLine,
  goLogLine,
  MAGIC_V2,
  parseBenchFlags,
  parseGoDuration,
  runAll,
  sleepUntilDeadline,
  writeFull,
} from "./bench_writer.ts";

export type { BenchResult } from "./bench_writer.ts";

/** bench_reader's options; defaults are NSQ's flag defaults. */
export interface ReaderOptions {
  /** `--nsqd-tcp-address` (alias `--tcp-address`): 127.0.0.1:4150. */
  nsqdTcpAddress: string;
  /** `--topic`: sub_bench. */
  topic: string;
  /** `--channel`: ch. */
  channel: string;
  /** `--size`: message size used for the mb/s figure, 200. */
  size: number;
  /** `--rdy`: RDY count per connection, 2500. */
  rdy: number;
  /** `--runfor` in ms: 10 s. */
  runforMs: number;
  /** `--concurrency` (our addition; NSQ uses GOMAXPROCS): the CPU count. */
  concurrency: number;
  /** `--deadline` `2006-01-02 15:04:05` (UTC) to start at; empty = now. */
  deadline: string;
  /** Initial read buffer per connection in bytes (grows for larger frames): 256 KiB. */
  readBufferSize: number;
  /** Stops the run early. */
  signal?: AbortSignal;
  /** Where the `sleeping until` line goes (default: stderr with the Go log prefix). */
  log?: (msg: string) => void;
}

/** NSQ's bench_reader defaults. */
export const READER_DEFAULTS: Readonly<Omit<ReaderOptions, "signal" | "log">> = {
  nsqdTcpAddress: "127.0.0.1:4150",
  topic: "sub_bench",
  channel: "ch",
  size: 200,
  rdy: 2500,
  runforMs: 10_000,
  concurrency: defaultConcurrency(),
  deadline: "",
  readBufferSize: 256 * 1024,
};

/** Largest frame accepted (nsqd's default max message size is 1 MiB). */
const MAX_FRAME_SIZE = 64 * 1024 * 1024;
/** Smallest frame a message can occupy: size + type + 26-byte header. */
const MIN_MESSAGE_FRAME = 4 + 4 + 26;
/** `FIN <16-byte id>\n`. */
const FIN_LEN = 21;
/** `_heartbeat_` as bytes 8.. of a response frame of size 15. */
const HEARTBEAT_BYTES = new TextEncoder().encode("_heartbeat_");

/** Bytes of FIN/NOP output one parse pass over `bufLen` input bytes can produce, at most. */
function outCapacity(bufLen: number): number {
  return Math.ceil(bufLen / MIN_MESSAGE_FRAME) * FIN_LEN + FIN_LEN;
}

/**
 * One connection's consume loop, after IDENTIFY/SUB/RDY were written. Returns the number of
 * messages received (each FIN'd). Ends when the connection is closed (by the runfor timer);
 * errors after `isStopped()` are the close itself and end the loop normally.
 *
 * Algorithm: `read` into the free tail of `buf`; walk every complete frame in place (sizes read
 * byte-wise, no DataView or copies); for a message, append `FIN <id>\n` to `out`; for a heartbeat,
 * `NOP\n`; a response (IDENTIFY/SUB `OK`) is skipped; an error frame fails the run. Then write
 * `out` in one call and read again. A partial frame stays in place; it is moved to the front only
 * when the buffer's free tail runs short, and the buffer doubles only for a frame larger than it.
 */
async function consume(
  conn: Deno.Conn,
  readBufferSize: number,
  isStopped: () => boolean,
): Promise<number> {
  let buf = new Uint8Array(readBufferSize);
  let out = new Uint8Array(outCapacity(buf.length));
  let start = 0;
  let end = 0;
  let count = 0;
  try {
    for (;;) {
      if (buf.length - end < MIN_MESSAGE_FRAME * 64 || end === buf.length) {
        const held = end - start;
        if (start > 0) {
          buf.copyWithin(0, start, end);
        }
        if (held === buf.length) {
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf);
          buf = bigger;
          out = new Uint8Array(outCapacity(buf.length));
        }
        start = 0;
        end = held;
      }
      const n = await conn.read(buf.subarray(end));
      if (n === null) break;
      end += n;
      let o = 0;
      while (end - start >= 8) {
        const s = start;
        const size = ((buf[s] << 24) | (buf[s + 1] << 16) | (buf[s + 2] << 8) | buf[s + 3]) >>> 0;
        if (size < 4 || size > MAX_FRAME_SIZE) throw new Error(`invalid frame size ${size}`);
        const frameEnd = s + 4 + size;
        if (frameEnd > end) {
          // Incomplete: make sure the whole frame will fit once it arrives.
          if (4 + size > buf.length) {
            const bigger = new Uint8Array(Math.max(buf.length * 2, 4 + size));
            bigger.set(buf.subarray(start, end));
            end -= start;
            start = 0;
            buf = bigger;
            out = new Uint8Array(outCapacity(buf.length));
          }
          break;
        }
        const type = buf[s + 7] | (buf[s + 6] << 8) | (buf[s + 5] << 16) | (buf[s + 4] << 24);
        if (type === 2) {
          if (size < 4 + 26) throw new Error(`message frame too short (${size} bytes)`);
          // FIN <id>\n; the ID sits after the 8-byte timestamp and 2-byte attempts.
          out[o] = 0x46; // F
          out[o + 1] = 0x49; // I
          out[o + 2] = 0x4e; // N
          out[o + 3] = 0x20;
          const id = s + 18;
          for (let i = 0; i < 16; i++) out[o + 4 + i] = buf[id + i];
          out[o + 20] = 0x0a;
          o += FIN_LEN;
          count++;
        } else if (type === 0) {
          if (size === 4 + HEARTBEAT_BYTES.length && isHeartbeat(buf, s + 8)) {
            out[o] = 0x4e; // N
            out[o + 1] = 0x4f; // O
            out[o + 2] = 0x50; // P
            out[o + 3] = 0x0a;
            o += 4;
          }
        } else if (type === 1) {
          throw new Error(new TextDecoder().decode(buf.subarray(s + 8, frameEnd)));
        } else {
          throw new Error(`invalid frame type ${type}`);
        }
        start = frameEnd;
      }
      if (start === end) start = end = 0;
      if (o > 0) await writeFull(conn, out.subarray(0, o));
    }
  } catch (err) {
    if (!isStopped()) throw err;
  }
  return count;
}

function isHeartbeat(buf: Uint8Array, at: number): boolean {
  for (let i = 0; i < HEARTBEAT_BYTES.length; i++) {
    if (buf[at + i] !== HEARTBEAT_BYTES[i]) return false;
  }
  return true;
}

/**
 * Runs bench_reader: connects `concurrency` connections, optionally sleeps until `deadline`, then
 * subscribes all of them and consumes for `runforMs` (or until `signal` aborts), closing the
 * connections to stop as NSQ's tool does. `msgs` counts messages received and FIN'd.
 */
export async function runReader(opts: Partial<ReaderOptions> = {}): Promise<BenchResult> {
  const o = { ...READER_DEFAULTS, ...opts };
  if (!(o.concurrency > 0)) throw new RangeError(`invalid --concurrency ${o.concurrency}`);
  if (!(o.rdy >= 0)) throw new RangeError(`invalid --rdy ${o.rdy}`);
  const log = o.log ?? ((m: string) => console.error(goLogLine("[bench_reader] ", m)));
  const enc = new TextEncoder();
  // The same IDENTIFY body as NSQ's bench_reader (go-nsq marshals map keys sorted).
  const identify = encodeCmd(
    "IDENTIFY",
    enc.encode(JSON.stringify({ long_id: "test", short_id: "test" })),
  );
  const sub = encodeCmd(`SUB ${o.topic} ${o.channel}`);
  const rdy = encodeCmd(`RDY ${o.rdy}`);
  const setup = new Uint8Array(identify.length + sub.length + rdy.length);
  setup.set(identify);
  setup.set(sub, identify.length);
  setup.set(rdy, identify.length + sub.length);

  const conns: Deno.TcpConn[] = [];
  const stopper = new AbortController();
  const onAbort = () => stopper.abort();
  o.signal?.addEventListener("abort", onAbort);
  try {
    for (let i = 0; i < o.concurrency; i++) {
      const c = await dialNsqd(o.nsqdTcpAddress);
      conns.push(c);
      await writeFull(c, MAGIC_V2);
    }
    if (o.deadline !== "") await sleepUntilDeadline(o.deadline, log, o.signal);

    let stopped = false;
    const start = performance.now();
    // The runfor timer: stop by closing every connection, which ends their pending reads.
    const timer = abortableSleep(o.runforMs, stopper.signal).then(() => {
      stopped = true;
      closeAll(conns);
    });
    try {
      const counts = await runAll(conns, async (conn) => {
        try {
          await writeFull(conn, setup);
        } catch (err) {
          if (stopped) return 0;
          throw err;
        }
        return await consume(conn, o.readBufferSize, () => stopped);
      });
      return { msgs: counts.reduce((a, b) => a + b, 0), durationMs: performance.now() - start };
    } finally {
      stopper.abort();
      await timer;
    }
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
    closeAll(conns);
  }
}

const READER_FLAGS: BenchFlag[] = [
  { name: "runfor", kind: "duration", usage: "duration of time to run", default: "10s" },
  {
    name: "nsqd-tcp-address",
    kind: "string",
    usage: "<addr>:<port> to connect to nsqd",
    default: READER_DEFAULTS.nsqdTcpAddress,
    aliases: ["tcp-address"],
  },
  { name: "size", kind: "int", usage: "size of messages", default: "200" },
  { name: "topic", kind: "string", usage: "topic to receive messages on", default: "sub_bench" },
  { name: "channel", kind: "string", usage: "channel to receive messages on", default: "ch" },
  { name: "deadline", kind: "string", usage: "deadline to start the benchmark run", default: "" },
  { name: "rdy", kind: "int", usage: "RDY count to use", default: "2500" },
  {
    name: "concurrency",
    kind: "int",
    usage: "number of connections (NSQ: GOMAXPROCS)",
    default: String(READER_DEFAULTS.concurrency),
  },
];

/** CLI entry: parses NSQ's flags, runs, prints NSQ's result line. Returns the exit code. */
export async function readerMain(args: readonly string[]): Promise<number> {
  let values: Record<string, string>;
  try {
    const parsed = parseBenchFlags(args, READER_FLAGS);
    if (parsed.help) {
      console.error(benchUsage("bench_reader", READER_FLAGS));
      return 0;
    }
    values = parsed.values;
  } catch (err) {
    if (!(err instanceof BenchFlagError)) throw err;
    console.error(err.message);
    console.error(benchUsage("bench_reader", READER_FLAGS));
    return 2;
  }
  const size = Number(values["size"]);
  try {
    const r = await runReader({
      nsqdTcpAddress: values["nsqd-tcp-address"],
      topic: values["topic"],
      channel: values["channel"],
      size,
      rdy: Number(values["rdy"]),
      runforMs: parseGoDuration(values["runfor"]),
      concurrency: Number(values["concurrency"]),
      deadline: values["deadline"],
    });
    console.error(goLogLine("[bench_reader] ", formatBenchLine(r.durationMs, r.msgs, size)));
    return 0;
  } catch (err) {
    console.error(goLogLine("[bench_reader] ", err instanceof Error ? err.message : String(err)));
    return 1;
  }
}

if (import.meta.main) Deno.exit(await readerMain(Deno.args));
