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
  benchLog,
  type BenchResult,
  CLIENT_DEFAULTS,
  CLIENT_FLAGS,
  type ClientOptions,
  clientOptions,
  closeAll,
  connectClients,
  encodeCmd,
  FIN_LEN,
  finCapacity,
  HEARTBEAT,
  MAX_FRAME_SIZE,
  MIN_MESSAGE_FRAME,
  NOP,
  parseBenchCli,
  putFin,
  readUint32,
  reportBenchResult,
  runAll,
  writeFull,
} from "./_bench_common.ts";

export type { BenchResult } from "./_bench_common.ts";

/** bench_reader's options; defaults are NSQ's flag defaults. */
export interface ReaderOptions extends ClientOptions {
  /** `--channel`: ch. */
  channel: string;
  /** `--rdy`: RDY count per connection, 2500. */
  rdy: number;
  /** Initial read buffer per connection in bytes (grows for larger frames): 256 KiB. */
  readBufferSize: number;
}

/** NSQ's bench_reader defaults (`--size` is the message size used for the mb/s figure). */
export const READER_DEFAULTS: Readonly<Omit<ReaderOptions, "signal" | "log">> = {
  ...CLIENT_DEFAULTS,
  channel: "ch",
  rdy: 2500,
  readBufferSize: 256 * 1024,
};

/** `_heartbeat_` as bytes 8.. of a response frame of size 15. */
const HEARTBEAT_BYTES = new TextEncoder().encode(HEARTBEAT);

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
  let out = new Uint8Array(finCapacity(buf.length));
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
          out = new Uint8Array(finCapacity(buf.length));
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
        const size = readUint32(buf, s);
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
            out = new Uint8Array(finCapacity(buf.length));
          }
          break;
        }
        const type = buf[s + 7] | (buf[s + 6] << 8) | (buf[s + 5] << 16) | (buf[s + 4] << 24);
        if (type === 2) {
          if (size < 4 + 26) throw new Error(`message frame too short (${size} bytes)`);
          // FIN <id>\n; the ID sits after the 8-byte timestamp and 2-byte attempts.
          putFin(out, o, buf, s + 18);
          o += FIN_LEN;
          count++;
        } else if (type === 0) {
          if (size === 4 + HEARTBEAT_BYTES.length && isHeartbeat(buf, s + 8)) {
            out.set(NOP, o);
            o += NOP.length;
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
  const log = o.log ?? benchLog("bench_reader");
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
    await connectClients(o, conns, log);

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
  ...CLIENT_FLAGS,
  { name: "channel", kind: "string", usage: "channel to receive messages on", default: "ch" },
  { name: "rdy", kind: "int", usage: "RDY count to use", default: "2500" },
];

/** CLI entry: parses NSQ's flags, runs, prints NSQ's result line. Returns the exit code. */
export async function readerMain(args: readonly string[]): Promise<number> {
  const values = parseBenchCli("bench_reader", args, READER_FLAGS);
  if (typeof values === "number") return values;
  return await reportBenchResult("bench_reader", Number(values["size"]), () =>
    runReader({
      ...clientOptions(values),
      channel: values["channel"],
      rdy: Number(values["rdy"]),
    }));
}

if (import.meta.main) Deno.exit(await readerMain(Deno.args));
