/**
 * bench_latency: end-to-end latency (publish → delivery) at a fixed, moderate rate.
 *
 * One publisher connection sends `--rate` messages/s of `--size` bytes: a 1 ms timer computes how
 * many messages are due since the start and sends them as one `MPUB` (or a `PUB` for a single
 * one), pipelined (OKs are counted as they come back; a batch is only held back while the
 * previous write is still in progress). The first 8 bytes of every body are its send time in
 * microseconds since the epoch (`performance.timeOrigin + performance.now()`, big-endian uint64),
 * stamped right before the write. One consumer connection sends IDENTIFY the way go-nsq does with
 * its default config (`output_buffer_size` 16384, `output_buffer_timeout` 250 ms, heartbeats
 * 30 s, feature negotiation), `SUB`, `RDY 2500`, and FINs every message; latency is the time the
 * read that returned a message resolved minus the message's send time.
 *
 * Both connections live in this one process, separate from nsqd: one clock stamps and reads the
 * times, so no cross-process clock offset enters the figures, and nsqd keeps a core of its own.
 * The cost is that a consumer read can wait behind a publisher tick in the same event loop; at
 * the default rate a tick encodes ~20 messages (a few µs), far below the figures measured. Work
 * per received message is a few array writes, so the consumer does not queue behind itself.
 *
 * Messages sent during `--warmup` (default 1 s, JIT warm-up on both sides) are delivered and
 * FIN'd but not counted; then `--runfor` is measured; then the consumer waits (up to 5 s) for
 * everything sent. Prints count, p50, p99, p99.9 and max in ms on stderr; `--json` also prints
 * the result as one JSON object on stdout (what scripts/bench.ts parses).
 *
 * Usage: deno run -A scripts/bench_latency.ts [--nsqd-tcp-address 127.0.0.1:4150] [--rate 20000]
 *        [--size 200] [--runfor 10s] [--warmup 1s] [--topic lat_bench] [--channel ch] [--rdy 2500]
 *        [--output-buffer-size 16384] [--output-buffer-timeout 250] [--json]
 *
 * `--output-buffer-timeout 25` (nsqd's default minimum) is the "lowered" mode; `-1` disables the
 * timer and `--output-buffer-size -1` disables output buffering, as in IDENTIFY.
 *
 * @module
 */

import {
  type BenchFlag,
  benchLog,
  closeAll,
  DEFAULT_NSQD_TCP_ADDRESS,
  dialV2,
  encodeCmd,
  FIN_LEN,
  finCapacity,
  MAX_FRAME_SIZE,
  NOP,
  NSQD_TCP_ADDRESS_FLAG,
  parseBenchCli,
  parseGoDuration,
  putFin,
  readUint32,
  writeFull,
} from "./_bench_common.ts";
import { NSQ_DENO_VERSION } from "../lib/version.ts";

/** bench_latency's options. */
export interface LatencyOptions {
  nsqdTcpAddress: string;
  topic: string;
  channel: string;
  /** Messages per second. */
  rate: number;
  /** Bytes per message (at least 8, for the timestamp). */
  size: number;
  /** Measured time, ms (after the warm-up). */
  runforMs: number;
  /** Time before measuring, ms: sent and received but not counted. */
  warmupMs: number;
  rdy: number;
  /** IDENTIFY `output_buffer_size` (go-nsq default 16384). */
  outputBufferSize: number;
  /** IDENTIFY `output_buffer_timeout` in ms (go-nsq default 250). */
  outputBufferTimeout: number;
  /** Largest batch one tick may send (catching up after a stall is spread over ticks). */
  maxBatch: number;
  signal?: AbortSignal;
}

/** Defaults: 20k msgs/s of 200 B for 10 s, go-nsq's consumer settings. */
export const LATENCY_DEFAULTS: Readonly<Omit<LatencyOptions, "signal">> = {
  nsqdTcpAddress: DEFAULT_NSQD_TCP_ADDRESS,
  topic: "lat_bench",
  channel: "ch",
  rate: 20_000,
  size: 200,
  runforMs: 10_000,
  warmupMs: 1_000,
  rdy: 2500,
  outputBufferSize: 16384,
  outputBufferTimeout: 250,
  maxBatch: 1000,
};

/** What a latency run measured; times in ms. */
export interface LatencyResult {
  /** Messages counted (sent after the warm-up, received). */
  count: number;
  /** Messages sent in total (warm-up included), publish commands acknowledged, received. */
  sent: number;
  acked: number;
  received: number;
  /** Achieved publish rate over the measured window, msgs/s. */
  rate: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  outputBufferSize: number;
  outputBufferTimeout: number;
}

const TWO_32 = 4294967296;

/** Microseconds since the epoch on this process's clock. */
function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Growable Float64Array of samples. */
class Samples {
  data: Float64Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Float64Array(Math.max(1024, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  /** Sorted copy of the samples. */
  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort();
  }
}

/** Nearest-rank quantile of sorted values (NaN when empty). */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Reads response frames of the publisher connection, counting OKs; throws on an error frame. */
async function publisherResponses(
  conn: Deno.Conn,
  onOk: () => void,
  isStopped: () => boolean,
): Promise<void> {
  let buf = new Uint8Array(64 * 1024);
  let start = 0;
  let end = 0;
  try {
    for (;;) {
      if (end === buf.length) {
        buf.copyWithin(0, start, end);
        end -= start;
        start = 0;
        if (end === buf.length) {
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf);
          buf = bigger;
        }
      }
      const n = await conn.read(buf.subarray(end));
      if (n === null) return;
      end += n;
      while (end - start >= 8) {
        const s = start;
        const size = readUint32(buf, s);
        if (size < 4 || size > MAX_FRAME_SIZE) throw new Error(`invalid frame size ${size}`);
        if (end - s < 4 + size) break;
        const type = buf[s + 7];
        const text = new TextDecoder().decode(buf.subarray(s + 8, s + 4 + size));
        start = s + 4 + size;
        if (type === 1) throw new Error(`publisher: ${text}`);
        if (text === "_heartbeat_") await writeFull(conn, NOP);
        else if (text === "OK") onOk();
      }
      if (start === end) start = end = 0;
    }
  } catch (err) {
    if (!isStopped()) throw err;
  }
}

/**
 * The consumer's loop after IDENTIFY/SUB/RDY: parses frames in place, records latencies of
 * messages sent at or after `countFrom` (µs), and writes the FINs for one read in one write.
 * Resolves when the connection closes (after `isStopped()`), rejects on an error frame.
 */
async function consume(
  conn: Deno.Conn,
  countFrom: () => number,
  samples: Samples,
  onMessage: () => void,
  isStopped: () => boolean,
): Promise<void> {
  let buf = new Uint8Array(256 * 1024);
  let out = new Uint8Array(finCapacity(buf.length));
  let start = 0;
  let end = 0;
  try {
    for (;;) {
      if (end === buf.length || buf.length - end < 4096) {
        const held = end - start;
        buf.copyWithin(0, start, end);
        start = 0;
        end = held;
        if (held === buf.length) {
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf);
          buf = bigger;
          out = new Uint8Array(finCapacity(buf.length));
        }
      }
      const n = await conn.read(buf.subarray(end));
      if (n === null) return;
      const receivedAt = nowMicros();
      end += n;
      const from = countFrom();
      let o = 0;
      while (end - start >= 8) {
        const s = start;
        const size = readUint32(buf, s);
        if (size < 4 || size > MAX_FRAME_SIZE) throw new Error(`invalid frame size ${size}`);
        if (end - s < 4 + size) break;
        const type = buf[s + 7];
        if (type === 2) {
          // [size][type][ts 8][attempts 2][id 16][body: sent µs hi, lo, ...]
          const b = s + 8 + 26;
          const sentAt = readUint32(buf, b) * TWO_32 + readUint32(buf, b + 4);
          if (sentAt >= from) samples.push((receivedAt - sentAt) / 1000);
          onMessage();
          putFin(out, o, buf, s + 18);
          o += FIN_LEN;
        } else if (type === 1) {
          throw new Error(
            `consumer: ${new TextDecoder().decode(buf.subarray(s + 8, s + 4 + size))}`,
          );
        } else if (size === 15 && buf[s + 8] === 0x5f /* _heartbeat_ */) {
          out.set(NOP, o);
          o += NOP.length;
        }
        start = s + 4 + size;
      }
      if (start === end) start = end = 0;
      if (o > 0) await writeFull(conn, out.subarray(0, o));
    }
  } catch (err) {
    if (!isStopped()) throw err;
  }
}

/** Reads one response frame (IDENTIFY's JSON or OK) synchronously-enough for the setup phase. */
async function expectResponse(conn: Deno.Conn, what: string): Promise<string> {
  const head = new Uint8Array(8);
  let got = 0;
  while (got < 8) {
    const n = await conn.read(head.subarray(got));
    if (n === null) throw new Error(`${what}: connection closed`);
    got += n;
  }
  const dv = new DataView(head.buffer);
  const size = dv.getUint32(0);
  const body = new Uint8Array(size - 4);
  got = 0;
  while (got < body.length) {
    const n = await conn.read(body.subarray(got));
    if (n === null) throw new Error(`${what}: connection closed`);
    got += n;
  }
  const text = new TextDecoder().decode(body);
  if (dv.getUint32(4) !== 0) throw new Error(`${what}: ${text}`);
  return text;
}

/** The publish command for `n` messages stamped `sentMicros` (PUB for one, MPUB otherwise). */
function encodeBatch(topic: string, size: number, n: number, sentMicros: number): Uint8Array {
  const hi = Math.floor(sentMicros / TWO_32);
  const lo = sentMicros - hi * TWO_32;
  if (n === 1) {
    const body = new Uint8Array(size);
    const dv = new DataView(body.buffer);
    dv.setUint32(0, hi);
    dv.setUint32(4, lo);
    return encodeCmd(`PUB ${topic}`, body);
  }
  const body = new Uint8Array(4 + n * (4 + size));
  const dv = new DataView(body.buffer);
  dv.setUint32(0, n);
  for (let i = 0, off = 4; i < n; i++, off += 4 + size) {
    dv.setUint32(off, size);
    dv.setUint32(off + 4, hi);
    dv.setUint32(off + 8, lo);
  }
  return encodeCmd(`MPUB ${topic}`, body);
}

/** Runs one latency measurement against nsqd (see the module doc). */
export async function runLatency(opts: Partial<LatencyOptions> = {}): Promise<LatencyResult> {
  const o = { ...LATENCY_DEFAULTS, ...opts };
  if (!(o.rate > 0)) throw new RangeError(`invalid --rate ${o.rate}`);
  if (!(o.size >= 8)) throw new RangeError(`invalid --size ${o.size}: want at least 8`);
  const enc = new TextEncoder();
  const conns: Deno.TcpConn[] = [];
  let stopped = false;
  const isStopped = () => stopped;
  const onAbort = () => {
    stopped = true;
    closeAll(conns);
  };
  o.signal?.addEventListener("abort", onAbort);
  let ticker: ReturnType<typeof setInterval> | undefined;
  try {
    // Consumer first, so the channel exists before the first message.
    const sub = await dialV2(o.nsqdTcpAddress, conns);
    await writeFull(
      sub,
      encodeCmd(
        "IDENTIFY",
        enc.encode(JSON.stringify({
          client_id: "bench_latency",
          deflate: false,
          deflate_level: 6,
          feature_negotiation: true,
          heartbeat_interval: 30000,
          hostname: "bench_latency",
          long_id: "bench_latency",
          msg_timeout: 0,
          output_buffer_size: o.outputBufferSize,
          output_buffer_timeout: o.outputBufferTimeout,
          sample_rate: 0,
          short_id: "bench_latency",
          snappy: false,
          tls_v1: false,
          user_agent: `bench_latency/${NSQ_DENO_VERSION}`,
        })),
      ),
    );
    await expectResponse(sub, "IDENTIFY");
    await writeFull(sub, encodeCmd(`SUB ${o.topic} ${o.channel}`));
    await expectResponse(sub, "SUB");

    const pub = await dialV2(o.nsqdTcpAddress, conns);
    await writeFull(pub, encodeCmd("IDENTIFY", enc.encode(JSON.stringify({ client_id: "pub" }))));
    await expectResponse(pub, "IDENTIFY");

    const expectedTotal = Math.ceil(o.rate * (o.warmupMs + o.runforMs) / 1000);
    const samples = new Samples(Math.ceil(o.rate * o.runforMs / 1000 * 1.1));
    let sent = 0;
    let received = 0;
    let acked = 0;
    const t0 = performance.now();
    const measureFromMicros = nowMicros() + o.warmupMs * 1000;
    let measureStart = Infinity;
    let sentAtMeasureStart = 0;
    let measureEnd = 0;
    let sentAtMeasureEnd = 0;
    let publishDone!: () => void;
    const published = new Promise<void>((r) => (publishDone = r));
    let allReceived!: () => void;
    const gotAll = new Promise<void>((r) => (allReceived = r));
    let target = expectedTotal;

    const consumer = consume(sub, () => measureFromMicros, samples, () => {
      if (++received >= target && sent >= target) allReceived();
    }, isStopped);
    await writeFull(sub, encodeCmd(`RDY ${o.rdy}`));
    const responses = publisherResponses(pub, () => acked++, isStopped);

    let writing = false;
    let failure: unknown = null;
    const tick = () => {
      if (writing || stopped) return;
      const elapsed = performance.now() - t0;
      if (elapsed >= o.warmupMs && measureStart === Infinity) {
        measureStart = performance.now();
        sentAtMeasureStart = sent;
      }
      const total = Math.min(expectedTotal, Math.floor(o.rate * elapsed / 1000));
      const n = Math.min(total - sent, o.maxBatch);
      if (n <= 0) {
        if (sent >= expectedTotal) {
          clearInterval(ticker);
          measureEnd = performance.now();
          sentAtMeasureEnd = sent;
          publishDone();
        }
        return;
      }
      const cmd = encodeBatch(o.topic, o.size, n, nowMicros());
      sent += n;
      writing = true;
      writeFull(pub, cmd).then(() => {
        writing = false;
      }, (err) => {
        failure ??= err;
        publishDone();
      });
    };
    ticker = setInterval(tick, 1);
    tick();
    await Promise.race([
      published,
      responses.then(() => {
        if (!stopped) throw new Error("publisher connection closed by nsqd");
      }),
      consumer.then(() => {
        if (!stopped) throw new Error("consumer connection closed by nsqd");
      }),
    ]);
    if (failure !== null) throw failure;
    target = sent;
    if (received >= target) allReceived();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      gotAll,
      new Promise<void>((r) => (timer = setTimeout(r, 5000 + o.outputBufferTimeout))),
    ]);
    clearTimeout(timer);
    stopped = true;
    closeAll(conns);
    await Promise.all([consumer, responses]);
    const sorted = samples.sorted();
    let sum = 0;
    for (let i = 0; i < sorted.length; i++) sum += sorted[i];
    const windowMs = measureEnd - measureStart;
    return {
      count: sorted.length,
      sent,
      acked,
      received,
      rate: windowMs > 0 ? (sentAtMeasureEnd - sentAtMeasureStart) / (windowMs / 1000) : NaN,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      p999: quantile(sorted, 0.999),
      max: sorted.length > 0 ? sorted[sorted.length - 1] : NaN,
      mean: sorted.length > 0 ? sum / sorted.length : NaN,
      outputBufferSize: o.outputBufferSize,
      outputBufferTimeout: o.outputBufferTimeout,
    };
  } finally {
    clearInterval(ticker);
    stopped = true;
    o.signal?.removeEventListener("abort", onAbort);
    closeAll(conns);
  }
}

/** `1.234ms` with 3 decimals. */
export function fmtMs(ms: number): string {
  return Number.isFinite(ms) ? `${ms.toFixed(3)}ms` : "n/a";
}

const LATENCY_FLAGS: BenchFlag[] = [
  NSQD_TCP_ADDRESS_FLAG,
  { name: "topic", kind: "string", usage: "topic to publish to", default: "lat_bench" },
  { name: "channel", kind: "string", usage: "channel to consume from", default: "ch" },
  { name: "rate", kind: "int", usage: "messages per second", default: "20000" },
  { name: "size", kind: "int", usage: "size of messages (>= 8)", default: "200" },
  { name: "runfor", kind: "duration", usage: "measured duration", default: "10s" },
  { name: "warmup", kind: "duration", usage: "unmeasured time before runfor", default: "1s" },
  { name: "rdy", kind: "int", usage: "RDY count", default: "2500" },
  {
    name: "output-buffer-size",
    kind: "int",
    usage: "IDENTIFY output_buffer_size (-1 disables buffering)",
    default: "16384",
  },
  {
    name: "output-buffer-timeout",
    kind: "int",
    usage: "IDENTIFY output_buffer_timeout in ms (-1 disables the timer)",
    default: "250",
  },
  { name: "json", kind: "string", usage: "print the result as JSON on stdout (true)", default: "" },
];

/** CLI entry; returns the exit code. */
export async function latencyMain(args: readonly string[]): Promise<number> {
  // `--json` is a boolean flag; accept it bare.
  const argv = args.map((a) => (a === "--json" || a === "-json" ? "--json=true" : a));
  const v = parseBenchCli("bench_latency", argv, LATENCY_FLAGS);
  if (typeof v === "number") return v;
  const log = benchLog("bench_latency");
  try {
    const r = await runLatency({
      nsqdTcpAddress: v["nsqd-tcp-address"],
      topic: v["topic"],
      channel: v["channel"],
      rate: Number(v["rate"]),
      size: Number(v["size"]),
      runforMs: parseGoDuration(v["runfor"]),
      warmupMs: parseGoDuration(v["warmup"]),
      rdy: Number(v["rdy"]),
      outputBufferSize: Number(v["output-buffer-size"]),
      outputBufferTimeout: Number(v["output-buffer-timeout"]),
    });
    log(
      `rate: ${r.rate.toFixed(0)} msgs/s - count: ${r.count} - p50: ${fmtMs(r.p50)} - ` +
        `p99: ${fmtMs(r.p99)} - p999: ${fmtMs(r.p999)} - max: ${fmtMs(r.max)} ` +
        `(output_buffer_size ${r.outputBufferSize}, output_buffer_timeout ${r.outputBufferTimeout})`,
    );
    if (r.received < r.sent) log(`warning: ${r.sent - r.received} of ${r.sent} never arrived`);
    if (v["json"] !== "") console.log(JSON.stringify(r));
    return 0;
  } catch (err) {
    log(err instanceof Error ? err.message : String(err));
    return 1;
  }
}

if (import.meta.main) Deno.exit(await latencyMain(Deno.args));
