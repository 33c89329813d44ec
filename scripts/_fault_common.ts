/**
 * What the fault scripts (soak.ts, durability.ts) share: an nsqd child process — ours through
 * `deno run main.ts nsqd`, or any other nsqd binary such as Go nsqd 1.3 given by path — with its
 * addresses parsed from the `TCP: listening on` / `HTTP: listening on` log lines (both daemons log
 * them), its RSS from /proc, and a stop by signal; plus publishers that count what was
 * acknowledged and consumers that count what was received, both reconnecting across restarts.
 *
 * Private to scripts/.
 *
 * @module
 */
import { encodeCommand, V2Conn } from "../test/_util/wire.ts";
import { NSQD_V8_FLAGS } from "../lib/cli/v8_flags.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

/** nsqd's default V8 flags, as `deno task start` and the compiled binary run it. */
export const OUR_V8_FLAGS = NSQD_V8_FLAGS;

/** Options for {@linkcode NsqdChild.start}. */
export interface NsqdChildOptions {
  /** Path of an nsqd binary (Go's); "" runs ours (`deno run -A main.ts nsqd`). */
  bin: string;
  dataPath: string;
  /** Flags after the fixed ones (127.0.0.1 port 0 for TCP and HTTP, the data path). */
  args: string[];
  /** Ready deadline in ms (default 20 000). */
  readyTimeoutMs?: number;
  /** Called with every log line (stderr). */
  onLine?: (line: string) => void;
}

/** One nsqd process. */
export class NsqdChild {
  /** The last 300 log lines. */
  readonly tail: string[] = [];
  tcpAddress: string | null = null;
  httpAddress: string | null = null;
  status: Deno.CommandStatus | null = null;
  readonly #child: Deno.ChildProcess;
  readonly #pump: Promise<void>;
  readonly #exited: Promise<Deno.CommandStatus>;
  readonly #onLine?: (line: string) => void;

  private constructor(child: Deno.ChildProcess, onLine?: (line: string) => void) {
    this.#child = child;
    this.#onLine = onLine;
    this.#pump = this.#readLog(child.stderr);
    this.#exited = child.status.then((s) => this.status = s);
  }

  /** Spawns nsqd and waits until both listeners are logged (kills it on failure). */
  static async start(o: NsqdChildOptions): Promise<NsqdChild> {
    const fixed = [
      "--tcp-address=127.0.0.1:0",
      "--http-address=127.0.0.1:0",
      `--data-path=${o.dataPath}`,
      ...o.args,
    ];
    const cmd = o.bin === ""
      ? new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `--v8-flags=${OUR_V8_FLAGS}`, MAIN, "nsqd", ...fixed],
        cwd: ROOT,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      })
      : new Deno.Command(o.bin, { args: fixed, stdin: "null", stdout: "null", stderr: "piped" });
    const n = new NsqdChild(cmd.spawn(), o.onLine);
    const deadline = performance.now() + (o.readyTimeoutMs ?? 20_000);
    while (n.tcpAddress === null || n.httpAddress === null) {
      if (n.status !== null || performance.now() > deadline) {
        await n.stop("SIGKILL");
        throw new Error(
          `nsqd did not start (${n.status ? `exit ${n.status.code}` : "timeout"}):\n` +
            n.tail.join("\n"),
        );
      }
      await sleep(10);
    }
    return n;
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Resident set size in kB (0 once exited). */
  rssKb(): number {
    return procStatusKb(this.pid, "VmRSS");
  }

  /** Peak resident set size in kB (0 once exited). */
  peakRssKb(): number {
    return procStatusKb(this.pid, "VmHWM");
  }

  /** Sends `signal` and waits for the exit; SIGTERM is followed by SIGKILL after `graceMs`. */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM", graceMs = 20_000) {
    this.#kill(signal);
    if (signal === "SIGTERM" && this.status === null) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.#kill("SIGKILL");
          resolve();
        }, graceMs);
      });
      await Promise.race([this.#exited, late]);
      clearTimeout(timer);
    }
    const st = await this.#exited;
    await this.#pump;
    return st;
  }

  #kill(signal: Deno.Signal): void {
    if (this.status !== null) return;
    try {
      this.#child.kill(signal);
    } catch {
      // exited meanwhile
    }
  }

  async #readLog(stream: ReadableStream<Uint8Array>): Promise<void> {
    let partial = "";
    const add = (l: string) => {
      this.tail.push(l);
      if (this.tail.length > 300) this.tail.shift();
      this.tcpAddress ??= /TCP: listening on (\S+)/.exec(l)?.[1] ?? null;
      this.httpAddress ??= /HTTP: listening on (\S+)/.exec(l)?.[1] ?? null;
      this.#onLine?.(l);
    };
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      for (const l of parts) add(l);
    }
    if (partial !== "") add(partial);
  }
}

/** A /proc/<pid>/status field in kB, 0 when the process is gone. */
export function procStatusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** A plain pause. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** POSTs to nsqd's HTTP API; returns status and text (never throws for an HTTP error). */
export async function httpPost(
  addr: string,
  path: string,
  body?: Uint8Array | string,
): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${addr}${path}`, {
    method: "POST",
    body: typeof body === "string" || body === undefined ? body : body.slice().buffer,
  });
  return { status: res.status, text: await res.text() };
}

/** GETs from nsqd's HTTP API. */
export async function httpGet(
  addr: string,
  path: string,
): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${addr}${path}`);
  return { status: res.status, text: await res.text() };
}

/** The channels of `/stats?format=json` as `topic/channel` → depth + in flight + deferred. */
export async function pendingByChannel(httpAddr: string): Promise<Map<string, number>> {
  const r = await httpGet(httpAddr, "/stats?format=json");
  if (r.status !== 200) throw new Error(`/stats: ${r.status} ${r.text}`);
  const json = JSON.parse(r.text);
  // Go nsqd 1.3 answers `{"version":..,"topics":[..]}`; older ones wrap it in `data`.
  const topics = (json.topics ?? json.data?.topics ?? []) as {
    topic_name: string;
    channels: {
      channel_name: string;
      depth: number;
      in_flight_count: number;
      deferred_count: number;
    }[];
  }[];
  const out = new Map<string, number>();
  for (const t of topics) {
    for (const c of t.channels) {
      out.set(`${t.topic_name}/${c.channel_name}`, c.depth + c.in_flight_count + c.deferred_count);
    }
  }
  return out;
}

// ---- ledgers --------------------------------------------------------------------------------

/** A growable byte-per-sequence-number array. */
export class SeqMap {
  #a = new Uint8Array(1024);
  #max = -1;

  get(seq: number): number {
    return seq < this.#a.length ? this.#a[seq] : 0;
  }

  /** Adds 1 (saturating at 255); returns the new count. */
  bump(seq: number): number {
    if (seq >= this.#a.length) {
      let n = this.#a.length;
      while (n <= seq) n *= 2;
      const b = new Uint8Array(n);
      b.set(this.#a);
      this.#a = b;
    }
    if (seq > this.#max) this.#max = seq;
    const v = this.#a[seq];
    if (v < 255) this.#a[seq] = v + 1;
    return v + 1;
  }

  /** The highest sequence number bumped, -1 when none. */
  get max(): number {
    return this.#max;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A message body `P<pub>:<seq>:` padded with `x` to `size` bytes. */
export function makeBody(pub: number, seq: number, size: number): Uint8Array {
  const head = `P${pub}:${seq}:`;
  return encoder.encode(head.padEnd(Math.max(size, head.length), "x"));
}

/** The publisher and sequence number of a {@linkcode makeBody} body, null for anything else. */
export function parseBody(body: Uint8Array): { pub: number; seq: number } | null {
  const m = /^P(\d+):(\d+):/.exec(decoder.decode(body.subarray(0, 32)));
  return m ? { pub: Number(m[1]), seq: Number(m[2]) } : null;
}

/** Where clients connect: the current nsqd's TCP address, null while it is down. */
export interface Target {
  addr(): string | null;
}

/**
 * One-at-a-time publisher: PUB (or every `mpubEvery`-th time an MPUB of 10), waits for `OK`,
 * marks the bodies acknowledged, paced to `rate` messages/s (0: as fast as acknowledged). On an
 * error it reconnects and sends the same bodies again (at-least-once, as clients do).
 */
export class Publisher {
  readonly acked = new SeqMap();
  /** When each sequence number was first acknowledged (performance.now()), 0 if never. */
  ackTimes = new Float64Array(1024);
  ackedCount = 0;
  /** Publishes that failed (connection lost, error frame) and were retried. */
  retries = 0;
  lastError = "";
  #next = 0;

  constructor(
    readonly id: number,
    readonly topic: string,
    readonly size: number,
    readonly rate: number,
    readonly mpubEvery = 10,
  ) {}

  /** Sequence numbers handed out so far (acknowledged or not). */
  get sent(): number {
    return this.#next;
  }

  #setAckTime(seq: number, t: number): void {
    if (seq >= this.ackTimes.length) {
      let n = this.ackTimes.length;
      while (n <= seq) n *= 2;
      const b = new Float64Array(n);
      b.set(this.ackTimes);
      this.ackTimes = b;
    }
    this.ackTimes[seq] = t;
  }

  async run(target: Target, signal: AbortSignal): Promise<void> {
    let pending: number[] = [];
    let op = 0;
    let t0 = performance.now();
    let done0 = 0;
    while (!signal.aborted) {
      const addr = target.addr();
      if (addr === null) {
        await sleep(20);
        continue;
      }
      let conn: V2Conn | null = null;
      try {
        conn = await V2Conn.connect(addr);
        t0 = performance.now();
        done0 = 0;
        while (!signal.aborted) {
          if (pending.length === 0) {
            const n = this.mpubEvery > 0 && ++op % this.mpubEvery === 0 ? 10 : 1;
            pending = Array.from({ length: n }, () => this.#next++);
          }
          const bodies = pending.map((s) => makeBody(this.id, s, this.size));
          if (bodies.length === 1) await conn.pub(this.topic, bodies[0]);
          else await conn.mpub(this.topic, bodies);
          await conn.expectResponse("OK", { timeoutMs: 10_000 });
          const now = performance.now();
          for (const s of pending) {
            if (this.acked.bump(s) === 1) this.#setAckTime(s, now);
          }
          this.ackedCount += pending.length;
          done0 += pending.length;
          pending = [];
          if (this.rate > 0) {
            const ahead = done0 / this.rate * 1000 - (performance.now() - t0);
            if (ahead > 1) await sleep(ahead);
          }
        }
      } catch (err) {
        this.retries++;
        this.lastError = (err as Error).message.split("\n")[0];
        await sleep(20);
      } finally {
        await conn?.close();
      }
    }
  }
}

/** Options for {@linkcode Consumer}. */
export interface ConsumerOptions {
  topic: string;
  channel: string;
  rdy: number;
  /** Close and reconnect after this long (ms, jittered ±50%); 0 never. */
  sessionMs: number;
  /** Delay each FIN by this long (ms; 0 none): a slow consumer. */
  finDelayMs?: number;
}

/**
 * Subscribes, RDY, FINs every message right away, counts receipts per publisher and sequence
 * number (duplicates included); reconnects after errors and, to exercise client churn, closes its
 * connection abruptly every session (its in-flight messages go back to the channel).
 */
export class Consumer {
  /** Per publisher id: receipts per sequence number. */
  readonly got = new Map<number, SeqMap>();
  received = 0;
  duplicates = 0;
  foreign = 0;
  sessions = 0;
  /** performance.now() at the end of each session (its in-flight messages wait for a timeout). */
  readonly sessionEnds: number[] = [];
  lastError = "";

  constructor(readonly o: ConsumerOptions) {}

  async run(target: Target, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const addr = target.addr();
      if (addr === null) {
        await sleep(20);
        continue;
      }
      let conn: V2Conn | null = null;
      let subscribed = false;
      try {
        conn = await V2Conn.connect(addr);
        this.sessions++;
        subscribed = true;
        await conn.sub(this.o.topic, this.o.channel);
        await conn.expectResponse("OK");
        await conn.rdy(this.o.rdy);
        const end = this.o.sessionMs > 0
          ? performance.now() + this.o.sessionMs * (0.5 + Math.random())
          : Infinity;
        while (!signal.aborted && performance.now() < end) {
          let f;
          try {
            f = await conn.readFrame(200);
          } catch (err) {
            if ((err as Error).message.startsWith("readFrame: no frame")) continue;
            throw err;
          }
          if (f.type === 0) {
            if (f.text === "_heartbeat_") await conn.nop();
            continue;
          }
          if (f.type === 1) throw new Error(`error frame: ${f.text}`);
          const m = f.message!;
          this.#record(m.body);
          if (this.o.finDelayMs) await sleep(this.o.finDelayMs);
          await conn.send(encodeCommand("FIN", [m.id]));
        }
      } catch (err) {
        this.lastError = (err as Error).message.split("\n")[0];
        await sleep(20);
      } finally {
        await conn?.close();
        if (subscribed) this.sessionEnds.push(performance.now());
      }
    }
  }

  #record(body: Uint8Array): void {
    this.received++;
    const p = parseBody(body);
    if (p === null) {
      this.foreign++;
      return;
    }
    let m = this.got.get(p.pub);
    if (m === undefined) this.got.set(p.pub, m = new SeqMap());
    if (m.bump(p.seq) > 1) this.duplicates++;
  }
}

/**
 * Checks the consumers of one channel against its topic's publishers: acknowledged messages
 * never received (`lost`), received ones never sent (`phantom`), and how many acknowledged ones
 * were seen.
 */
export function reconcile(
  pubs: readonly Publisher[],
  consumers: readonly Consumer[],
): {
  acked: number;
  receivedAcked: number;
  lost: number;
  lostSample: string[];
  /** Acknowledgement times (performance.now()) of the lost messages. */
  lostAckTimes: number[];
  phantom: number;
} {
  let acked = 0, receivedAcked = 0, lost = 0, phantom = 0;
  const lostSample: string[] = [];
  const lostAckTimes: number[] = [];
  const seen = (pub: number, seq: number) =>
    consumers.some((c) => (c.got.get(pub)?.get(seq) ?? 0) > 0);
  for (const p of pubs) {
    for (let s = 0; s < p.sent; s++) {
      if (p.acked.get(s) === 0) continue;
      acked++;
      if (seen(p.id, s)) receivedAcked++;
      else {
        lost++;
        if (lostSample.length < 10) lostSample.push(`P${p.id}:${s}`);
        lostAckTimes.push(p.ackTimes[s]);
      }
    }
    for (const c of consumers) {
      const m = c.got.get(p.id);
      if (m !== undefined && m.max >= p.sent) phantom += m.max - p.sent + 1;
    }
  }
  return { acked, receivedAcked, lost, lostSample, lostAckTimes, phantom };
}

/** Least-squares slope of `ys` over `xs` (units of y per unit of x); 0 with fewer than 2. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i];
    sy += ys[i];
    sxx += xs[i] * xs[i];
    sxy += xs[i] * ys[i];
  }
  const d = n * sxx - sx * sx;
  return d === 0 ? 0 : (n * sxy - sx * sy) / d;
}
