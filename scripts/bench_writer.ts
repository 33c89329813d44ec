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
 * Usage: deno run -A scripts/bench_writer.ts [--nsqd-tcp-address 127.0.0.1:4150] [--runfor 10s]
 *        [--topic sub_bench] [--size 200] [--batch-size 200] [--concurrency N] [--deadline ...]
 *        [--command MPUB|PUB|DPUB] [--defer 60000]
 *
 * @module
 */

import { NSQ_DENO_VERSION } from "../lib/version.ts";
import {
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
  HEARTBEAT,
  MAX_FRAME_SIZE,
  NOP,
  parseBenchCli,
  readUint32,
  reportBenchResult,
  runAll,
  writeFull,
} from "./_bench_common.ts";

export type { BenchResult } from "./_bench_common.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
        const size = readUint32(buf, s);
        if (size < 4 || size > MAX_FRAME_SIZE) throw new Error(`invalid frame size ${size}`);
        if (this.#end - s < 4 + size) break;
        const type = readUint32(buf, s + 4);
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

/** bench_writer's options; defaults are NSQ's flag defaults. */
export interface WriterOptions extends ClientOptions {
  /** `--batch-size`: messages per MPUB, 200. */
  batchSize: number;
  /**
   * `--command` (our addition): `MPUB` (NSQ's loop), or `PUB` / `DPUB` for one message per
   * command and round trip (then `--batch-size` is ignored).
   */
  command: "MPUB" | "PUB" | "DPUB";
  /** `--defer` (our addition): DPUB's defer time in ms, 60000. */
  deferMs: number;
}

/** NSQ's bench_writer defaults. */
export const WRITER_DEFAULTS: Readonly<Omit<WriterOptions, "signal" | "log">> = {
  ...CLIENT_DEFAULTS,
  batchSize: 200,
  command: "MPUB",
  deferMs: 60_000,
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
  const log = o.log ?? benchLog("bench_writer");
  if (!["MPUB", "PUB", "DPUB"].includes(o.command)) {
    throw new RangeError(`invalid --command ${o.command} (want MPUB, PUB or DPUB)`);
  }
  const perCommand = o.command === "MPUB" ? o.batchSize : 1;
  const batch = o.command === "MPUB" ? encodeMpubBatch(o.topic, o.size, o.batchSize) : encodeCmd(
    o.command === "PUB" ? `PUB ${o.topic}` : `DPUB ${o.topic} ${o.deferMs}`,
    new Uint8Array(o.size),
  );
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
    await connectClients(o, conns, log);

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
          msgCount += perCommand;
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
  ...CLIENT_FLAGS,
  { name: "batch-size", kind: "int", usage: "batch size of messages", default: "200" },
  {
    name: "command",
    kind: "string",
    usage: "(our addition) MPUB, or PUB / DPUB: one message per round trip",
    default: "MPUB",
  },
  { name: "defer", kind: "int", usage: "(our addition) DPUB defer time in ms", default: "60000" },
];

/** CLI entry: parses NSQ's flags, runs, prints NSQ's result line. Returns the exit code. */
export async function writerMain(args: readonly string[]): Promise<number> {
  const values = parseBenchCli("bench_writer", args, WRITER_FLAGS);
  if (typeof values === "number") return values;
  return await reportBenchResult("bench_writer", Number(values["size"]), () =>
    runWriter({
      ...clientOptions(values),
      batchSize: Number(values["batch-size"]),
      command: values["command"].toUpperCase() as WriterOptions["command"],
      deferMs: Number(values["defer"]),
    }));
}

if (import.meta.main) Deno.exit(await writerMain(Deno.args));
