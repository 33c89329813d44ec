/**
 * Real `nsq` processes for the cluster and durability tests: `deno run -A main.ts <cmd> [flags]`
 * on 127.0.0.1 port 0, the bound addresses parsed from the `TCP: listening on` / `HTTP: listening
 * on` log lines, readiness awaited with a deadline, every log line kept (and echoed when
 * NSQ_TEST_LOG=1), and a stop that always awaits the exit and drains the pipes, so
 * `--sanitize-ops --sanitize-resources` hold.
 *
 * Then: lookupd/nsqd clusters (lookupd answers, groups), and one nsqd over a given data dir with
 * its HTTP API, `/stats` and a draining consumer (restart, crash, corruption, lock tests).
 *
 * @module
 */
import assert from "node:assert/strict";
import { splitHostPort } from "../../lib/internal/net_addr.ts";
import { connectSub, publishTo } from "./protocol.ts";
import { waitFor } from "./wait.ts";
import { concat, encodeCommand, type Frame, type Msg, type V2Conn } from "./wire.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const ECHO = Deno.env.get("NSQ_TEST_LOG") === "1";

const TCP_LINE = /TCP: listening on (\S+)/;
const HTTP_LINE = /HTTP: listening on (\S+)/;

/** Options for {@linkcode NsqProc.spawn}. */
export interface SpawnOptions {
  /** `nsqd` or `nsqlookupd`. */
  command: string;
  /** Flags after the command. */
  args: string[];
  /** Names the process in errors and echoed logs (default: the command). */
  name?: string;
  /** True once the process counts as started (default: TCP and HTTP lines logged). */
  ready?: (p: NsqProc) => boolean;
  /** Deadline for readiness in ms (default 15 000: a cold `deno run` can be slow). */
  readyTimeoutMs?: number;
}

/** One running `nsq <command>` process. */
export class NsqProc implements AsyncDisposable {
  readonly name: string;
  /** Every stderr line so far. */
  readonly lines: string[] = [];
  /** The exit status once the process has exited. */
  status: Deno.CommandStatus | null = null;

  readonly #child: Deno.ChildProcess;
  readonly #pump: Promise<void>;
  readonly #exited: Promise<Deno.CommandStatus>;
  #partial = "";

  private constructor(name: string, child: Deno.ChildProcess) {
    this.name = name;
    this.#child = child;
    this.#pump = this.#readLog(child.stderr);
    this.#exited = child.status.then((s) => this.status = s);
  }

  /**
   * Spawns `deno run -A main.ts <command> <args>` and resolves once `ready` holds. If the process
   * exits or the deadline passes first, it is killed, awaited, and the error carries its log.
   */
  static async spawn(opts: SpawnOptions): Promise<NsqProc> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, opts.command, ...opts.args],
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const p = new NsqProc(opts.name ?? opts.command, child);
    const ready = opts.ready ?? ((p) => p.tcpAddress !== null && p.httpAddress !== null);
    try {
      await waitFor(() => {
        if (ready(p)) return true;
        if (p.status !== null) throw new Error(`exited with code ${p.status.code}`);
        return false;
      }, { timeoutMs: opts.readyTimeoutMs ?? 15_000, intervalMs: 10, message: "ready" });
    } catch (err) {
      await p.stop("SIGKILL");
      throw new Error(`${p.name} did not start: ${(err as Error).message}\n${p.logText()}`);
    }
    return p;
  }

  /** The OS process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** The address of the first `TCP: listening on` line, null before it is logged. */
  get tcpAddress(): string | null {
    return this.#firstMatch(TCP_LINE);
  }

  /** The address of the first `HTTP: listening on` line, null before (or without) it. */
  get httpAddress(): string | null {
    return this.#firstMatch(HTTP_LINE);
  }

  /** The port of `tcpAddress` (throws when not listening). */
  get tcpPort(): number {
    return portOf(this.#need(this.tcpAddress, "TCP"));
  }

  /** The port of `httpAddress` (throws when not listening). */
  get httpPort(): number {
    return portOf(this.#need(this.httpAddress, "HTTP"));
  }

  /** How many log lines match `re`. */
  count(re: RegExp): number {
    let n = 0;
    for (const l of this.lines) if (re.test(l)) n++;
    return n;
  }

  /** Waits until a log line matches `re` and returns it; rejects if the process exits first. */
  async waitForLog(re: RegExp, timeoutMs = 5000): Promise<string> {
    let found: string | undefined;
    await pollUntil(
      () => {
        found = this.lines.find((l) => re.test(l));
        if (found !== undefined) return true;
        if (this.status !== null) throw new Error(`${this.name} exited while waiting for ${re}`);
        return false;
      },
      () => `${re} in the log of ${this.name}:\n${this.logText()}`,
      timeoutMs,
    );
    return found!;
  }

  /** The whole log, each line prefixed with the process name. */
  logText(): string {
    return this.lines.map((l) => `  ${this.name}| ${l}`).join("\n");
  }

  /**
   * Sends `signal` (unless already exited) and waits for the exit and the end of the log. A
   * SIGTERM not obeyed within `graceMs` is followed by SIGKILL. Idempotent.
   */
  async stop(
    signal: "SIGTERM" | "SIGKILL" = "SIGTERM",
    graceMs = 5000,
  ): Promise<Deno.CommandStatus> {
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
    const status = await this.#exited;
    await this.#pump;
    return status;
  }

  /** SIGKILL then wait: the `await using` cleanup for tests that failed half-way. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
  }

  #kill(signal: Deno.Signal): void {
    if (this.status !== null) return;
    try {
      this.#child.kill(signal);
    } catch {
      // Exited between the check and the kill.
    }
  }

  #firstMatch(re: RegExp): string | null {
    for (const l of this.lines) {
      const m = l.match(re);
      if (m) return m[1];
    }
    return null;
  }

  #need(addr: string | null, what: string): string {
    if (addr === null) throw new Error(`${this.name} has no ${what} listener`);
    return addr;
  }

  /** Splits stderr into lines as it arrives; ends at EOF (the process exited). */
  async #readLog(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (this.#partial + chunk).split("\n");
      this.#partial = parts.pop()!;
      for (const l of parts) this.#addLine(l);
    }
    if (this.#partial !== "") this.#addLine(this.#partial);
    this.#partial = "";
  }

  #addLine(line: string): void {
    this.lines.push(line);
    if (ECHO) console.error(`${this.name}| ${line}`);
  }
}

/**
 * {@linkcode waitFor} with a 50 ms poll whose timeout error says what was last seen: `describe`
 * is called only on failure.
 */
export async function pollUntil(
  cond: () => boolean | Promise<boolean>,
  describe: () => string,
  timeoutMs = 5000,
): Promise<void> {
  try {
    await waitFor(cond, { timeoutMs, intervalMs: 50 });
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${describe()}`);
  }
}

/** The port of a `host:port` address. */
export function portOf(addr: string): number {
  return splitHostPort(addr).port;
}

/** Options for {@linkcode startNsqlookupd}. */
export interface LookupdProcOptions {
  name?: string;
  /** Default `127.0.0.1:0`. */
  tcpAddress?: string;
  /** Default `127.0.0.1:0`. */
  httpAddress?: string;
  /** More flags (`--tombstone-lifetime 2s`). */
  args?: string[];
}

/**
 * Starts `nsqlookupd` with `--broadcast-address 127.0.0.1` (what nsqd uses to reach its HTTP
 * API for channel pre-creation) and waits for both listeners.
 */
export function startNsqlookupd(opts: LookupdProcOptions = {}): Promise<NsqProc> {
  return NsqProc.spawn({
    command: "nsqlookupd",
    name: opts.name ?? "nsqlookupd",
    args: [
      `--tcp-address=${opts.tcpAddress ?? "127.0.0.1:0"}`,
      `--http-address=${opts.httpAddress ?? "127.0.0.1:0"}`,
      "--broadcast-address=127.0.0.1",
      ...(opts.args ?? []),
    ],
  });
}

/** A running nsqd process and its temp data dir. */
export interface NsqdProc {
  proc: NsqProc;
  dataPath: string;
  /** The port lookupds are told (`http_port` in /lookup and /nodes, and tombstone `node`s). */
  advertisedHttpPort: number;
}

/** Options for {@linkcode startNsqd}. */
export interface NsqdProcOptions {
  name?: string;
  /** Each becomes one `--lookupd-tcp-address`; at least one (readiness depends on it). */
  lookupdTcpAddresses: string[];
  /** More flags (`--broadcast-http-port` only in the `--flag=value` form). */
  args?: string[];
}

let nsqdHttp: Promise<boolean> | null = null;
let fakeHttpPort = 14150;

/**
 * Whether an nsqd process serves HTTP (it logs `HTTP: listening on`), found out once with a
 * throw-away nsqd whose only lookupd address refuses connections.
 *
 * Why it matters: nsqlookupd rejects an IDENTIFY whose `http_port` is 0 (`E_BAD_BODY IDENTIFY
 * missing fields`, as Go does), which is what an nsqd without an HTTP listener sends. Such an
 * nsqd can only join a cluster with `--broadcast-http-port`, so {@linkcode startNsqd} passes a
 * made-up one (never dialled by these tests) exactly when this answers false.
 */
export function nsqdServesHttp(): Promise<boolean> {
  nsqdHttp ??= (async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = l.addr.port;
    l.close();
    const probe = await startNsqd({
      name: "nsqd-probe",
      lookupdTcpAddresses: [`127.0.0.1:${closedPort}`],
      args: ["--broadcast-http-port=1"],
    });
    try {
      return probe.proc.httpAddress !== null;
    } finally {
      await stopNsqd(probe);
    }
  })();
  nsqdHttp.catch(() => nsqdHttp = null); // a failed probe is retried by the next caller
  return nsqdHttp;
}

/**
 * Starts `nsqd` on 127.0.0.1 port 0 (TCP and HTTP) with `--broadcast-address 127.0.0.1`, a fresh
 * temp data dir and every lookupd address. Ready once it listens on TCP and has added every
 * lookupd peer: nsqd binds its HTTP listener (if any) before it starts talking to lookupds,
 * since the IDENTIFY carries the HTTP port, so `proc.httpAddress` is settled by then.
 */
export async function startNsqd(opts: NsqdProcOptions): Promise<NsqdProc> {
  if (opts.lookupdTcpAddresses.length === 0) {
    throw new TypeError("startNsqd needs at least one lookupd address");
  }
  const extra = opts.args ?? [];
  const given = extra.find((a) => a.startsWith("--broadcast-http-port="));
  let fakePort: number | null = given === undefined ? null : Number(given.split("=")[1]);
  if (fakePort === null && !await nsqdServesHttp()) fakePort = ++fakeHttpPort;
  const dataPath = await Deno.makeTempDir({ prefix: "nsq_cluster_" });
  const peers = opts.lookupdTcpAddresses.length;
  try {
    const proc = await NsqProc.spawn({
      command: "nsqd",
      name: opts.name ?? "nsqd",
      args: [
        "--tcp-address=127.0.0.1:0",
        "--http-address=127.0.0.1:0",
        "--broadcast-address=127.0.0.1",
        `--data-path=${dataPath}`,
        ...opts.lookupdTcpAddresses.map((a) => `--lookupd-tcp-address=${a}`),
        ...(fakePort === null || given !== undefined ? [] : [`--broadcast-http-port=${fakePort}`]),
        ...extra,
      ],
      ready: (p) => p.tcpAddress !== null && p.count(/LOOKUP\(\S+\): adding peer/) >= peers,
    });
    return { proc, dataPath, advertisedHttpPort: fakePort ?? proc.httpPort };
  } catch (err) {
    await Deno.remove(dataPath, { recursive: true }).catch(() => {});
    throw err;
  }
}

/** Stops an nsqd (SIGTERM unless told otherwise) and removes its data dir. */
export async function stopNsqd(
  n: NsqdProc,
  signal: "SIGTERM" | "SIGKILL" = "SIGTERM",
): Promise<Deno.CommandStatus> {
  try {
    return await n.proc.stop(signal);
  } finally {
    await Deno.remove(n.dataPath, { recursive: true }).catch(() => {});
  }
}

/** Fetches `http://<addr><path>` and parses the JSON answer (rejects on a non-2xx status). */
export async function getJson<T = unknown>(
  addr: string,
  path: string,
  method = "GET",
): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://${addr}${path}`, { method });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body: body as T };
}

// ---- lookupd answers ------------------------------------------------------------------------

/** A producer as `/lookup` lists it (nsqlookupd's PeerInfo JSON). */
export interface PeerJson {
  remote_address: string;
  hostname: string;
  broadcast_address: string;
  tcp_port: number;
  http_port: number;
  version: string;
}

/** A `/nodes` entry. */
export interface NodeJson extends PeerJson {
  tombstones: boolean[];
  topics: string[];
}

/** `GET /lookup?topic=`: null on 404 (no such topic registration). */
export async function lookup(
  lookupd: NsqProc,
  topic: string,
): Promise<{ channels: string[]; producers: PeerJson[] } | null> {
  const r = await getJson<{ channels: string[]; producers: PeerJson[] }>(
    lookupd.httpAddress!,
    `/lookup?topic=${encodeURIComponent(topic)}`,
  );
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error(`/lookup?topic=${topic}: ${r.status} ${r.body}`);
  return r.body;
}

/** `GET /nodes`. */
export async function nodes(lookupd: NsqProc): Promise<NodeJson[]> {
  const r = await getJson<{ producers: NodeJson[] }>(lookupd.httpAddress!, "/nodes");
  if (r.status !== 200) throw new Error(`/nodes: ${r.status}`);
  return r.body.producers;
}

/** `GET /channels?topic=`. */
export async function channels(lookupd: NsqProc, topic: string): Promise<string[]> {
  const r = await getJson<{ channels: string[] }>(
    lookupd.httpAddress!,
    `/channels?topic=${encodeURIComponent(topic)}`,
  );
  if (r.status !== 200) throw new Error(`/channels?topic=${topic}: ${r.status}`);
  return r.body.channels;
}

/** `broadcast_address:tcp_port`: how clients key producers. */
export function producerKey(p: { broadcast_address: string; tcp_port: number }): string {
  return `${p.broadcast_address}:${p.tcp_port}`;
}

/** The key lookupds should list for an nsqd started by {@linkcode startNsqd}. */
export function keyOf(n: NsqdProc): string {
  return `127.0.0.1:${n.proc.tcpPort}`;
}

/** Sorted producer keys of `/lookup?topic=`, or null when the topic is not registered. */
export async function producerKeys(lookupd: NsqProc, topic: string): Promise<string[] | null> {
  const r = await lookup(lookupd, topic);
  return r === null ? null : r.producers.map(producerKey).sort();
}

/**
 * Polls `/lookup?topic=` on every lookupd until each lists exactly `want` as producers (null:
 * until the topic is not registered at all).
 */
export async function expectProducers(
  lookupds: NsqProc[],
  topic: string,
  want: NsqdProc[] | null,
  timeoutMs = 5000,
): Promise<void> {
  const wantKeys = want === null ? null : JSON.stringify(want.map(keyOf).sort());
  for (const l of lookupds) {
    let last: string | null = "(not asked)";
    await pollUntil(
      async () => {
        const got = await producerKeys(l, topic);
        last = got === null ? null : JSON.stringify(got);
        return last === wantKeys;
      },
      () => `${l.name} /lookup?topic=${topic}: want ${wantKeys}, last got ${last}`,
      timeoutMs,
    );
  }
}

/** Polls `/channels?topic=` on every lookupd until `channel` is (or is no longer) listed. */
export async function expectChannel(
  lookupds: NsqProc[],
  topic: string,
  channel: string,
  listed: boolean,
  timeoutMs = 5000,
): Promise<void> {
  for (const l of lookupds) {
    let last: string[] = [];
    await pollUntil(async () => {
      last = await channels(l, topic);
      return last.includes(channel) === listed;
    }, () =>
      `${l.name} /channels?topic=${topic} ${listed ? "lacks" : "still has"} ${channel}: ` +
      JSON.stringify(last), timeoutMs);
  }
}

// ---- nsqd over TCP --------------------------------------------------------------------------

/** Publishes `bodies` to `topic` on `n` with one MPUB over a fresh V2 connection. */
export function publish(n: NsqdProc, topic: string, bodies: string[]): Promise<void> {
  return publishTo(n.proc, topic, ...bodies);
}

/** Opens a V2 connection subscribed to `topic`/`channel` on `n` (SUB answered OK). */
export function subscribe(n: NsqdProc, topic: string, channel: string): Promise<V2Conn> {
  return connectSub(n.proc, topic, channel);
}

// ---- groups ---------------------------------------------------------------------------------

/**
 * Everything a test started, stopped in `finally` with {@linkcode Cluster.close}. `start` runs
 * starters in parallel and keeps whatever did start even when another one fails.
 */
export class Cluster implements AsyncDisposable {
  readonly lookupds: NsqProc[] = [];
  readonly nsqds: NsqdProc[] = [];
  readonly #stoppers: (() => Promise<unknown>)[] = [];

  /** Starts `n` lookupds in parallel (extra flags for each). */
  async startLookupds(n: number, args: string[] = []): Promise<NsqProc[]> {
    return await this.#all(
      Array.from({ length: n }, (_, i) => startNsqlookupd({ name: `lookupd${i}`, args })),
      (p) => this.#trackLookupd(p),
    );
  }

  /** Starts a lookupd on given addresses (a restart on the same ports). */
  async restartLookupd(name: string, tcpAddress: string, httpAddress: string, args: string[]) {
    const [p] = await this.#all(
      [startNsqlookupd({ name, tcpAddress, httpAddress, args })],
      (p) => this.#trackLookupd(p),
    );
    return p;
  }

  /** Starts `n` nsqds in parallel, each with every lookupd of this cluster. */
  async startNsqds(n: number, args: string[] = []): Promise<NsqdProc[]> {
    const addrs = this.lookupds.map((l) => l.tcpAddress!);
    const first = this.nsqds.length;
    return await this.#all(
      Array.from(
        { length: n },
        (_, i) => startNsqd({ name: `nsqd${first + i}`, lookupdTcpAddresses: addrs, args }),
      ),
      (d) => {
        this.nsqds.push(d);
        this.#stoppers.push(() => stopNsqd(d));
      },
    );
  }

  /** Every process's log, for a failure report. */
  logs(): string {
    return [...this.lookupds, ...this.nsqds.map((n) => n.proc)].map((p) => p.logText())
      .join("\n");
  }

  /** Stops every process (SIGTERM, SIGKILL after 5 s) and removes the data dirs. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#stoppers.splice(0).map((stop) => stop()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #trackLookupd(p: NsqProc): void {
    this.lookupds.push(p);
    this.#stoppers.push(() => p.stop());
  }

  async #all<T>(starts: Promise<T>[], keep: (t: T) => void): Promise<T[]> {
    const settled = await Promise.allSettled(starts);
    const out: T[] = [];
    for (const s of settled) {
      if (s.status === "fulfilled") {
        keep(s.value);
        out.push(s.value);
      }
    }
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return out;
  }
}

/**
 * Runs `fn`; when it throws, the error is rethrown with every process log appended (set
 * NSQ_TEST_LOG=1 to see them live instead).
 */
export async function withLogs<T>(cluster: Cluster, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    e.message += `\n--- process logs ---\n${cluster.logs()}`;
    throw e;
  }
}

// ---- one nsqd over a data dir ---------------------------------------------------------------

/**
 * `nsqd` on 127.0.0.1 port 0 (TCP and HTTP) over `dataPath`, plus `args`. Ready once both
 * listen, or when `ready` says so (`(p) => p.status !== null` for one expected to fail).
 */
export function spawnNsqd(
  name: string,
  dataPath: string,
  args: string[] = [],
  ready?: (p: NsqProc) => boolean,
): Promise<NsqProc> {
  return NsqProc.spawn({
    command: "nsqd",
    name,
    args: [
      "--tcp-address=127.0.0.1:0",
      "--http-address=127.0.0.1:0",
      `--data-path=${dataPath}`,
      ...args,
    ],
    ready,
  });
}

/** POSTs to the HTTP API of `p` and asserts 200. */
export async function post(p: NsqProc, path: string): Promise<void> {
  const res = await fetch(`http://${p.httpAddress}${path}`, { method: "POST" });
  const text = await res.text();
  assert.equal(res.status, 200, `POST ${path}: ${res.status} ${text}`);
}

/** A channel of `/stats?format=json`: the fields these tests read. */
export interface ChannelStatsJson {
  channel_name: string;
  depth: number;
  in_flight_count: number;
  deferred_count: number;
  paused: boolean;
}

/** A topic of `/stats?format=json`: the fields these tests read. */
export interface TopicStatsJson {
  topic_name: string;
  depth: number;
  paused: boolean;
  channels: ChannelStatsJson[];
}

/** `/stats?format=json` topics of `p` (asserted 200), sorted by name, channels too. */
export async function topicStats(p: NsqProc): Promise<TopicStatsJson[]> {
  const r = await getJson<{ topics: TopicStatsJson[] }>(p.httpAddress!, "/stats?format=json");
  assert.equal(r.status, 200);
  const byName = <T>(key: (t: T) => string) => (a: T, b: T) => key(a) < key(b) ? -1 : 1;
  const topics = [...r.body.topics].sort(byName((t) => t.topic_name));
  for (const t of topics) t.channels = [...t.channels].sort(byName((c) => c.channel_name));
  return topics;
}

/** One channel of `/stats`; throws when `p` does not have it. */
export async function channelStats(
  p: NsqProc,
  topic: string,
  channel: string,
): Promise<ChannelStatsJson> {
  const t = (await topicStats(p)).find((t) => t.topic_name === topic);
  const c = t?.channels.find((c) => c.channel_name === channel);
  if (c === undefined) throw new Error(`no channel ${topic}/${channel} in /stats`);
  return c;
}

/**
 * Reads and FINs (in batches) every message of `topic/channel` on `conn`, already subscribed,
 * after RDY 2500, until the channel is drained: no frame for 100 ms while /stats shows depth,
 * in-flight and deferred all 0, so every message delivered was received and FINned. Bounded by
 * `timeoutMs`.
 */
export async function drainChannel(
  p: NsqProc,
  conn: V2Conn,
  topic: string,
  channel: string,
  timeoutMs: number,
): Promise<Msg[]> {
  const got: Msg[] = [];
  let fins: Uint8Array[] = [];
  const flush = async () => {
    if (fins.length === 0) return;
    const batch = concat(fins);
    fins = [];
    await conn.send(batch);
  };
  await conn.rdy(2500);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (performance.now() > deadline) {
      const s = await channelStats(p, topic, channel).catch((e) => String(e));
      throw new Error(
        `${topic}/${channel} not drained within ${timeoutMs}ms: got ${got.length}, stats ` +
          JSON.stringify(s),
      );
    }
    let f: Frame | null = null;
    try {
      f = await conn.readFrame(100);
    } catch (err) {
      if (!(err as Error).message.startsWith("readFrame: no frame")) throw err;
    }
    if (f === null) {
      await flush();
      const s = await channelStats(p, topic, channel);
      if (s.depth === 0 && s.in_flight_count === 0 && s.deferred_count === 0) return got;
      continue;
    }
    if (f.type === 0) {
      if (f.text === "_heartbeat_") await conn.nop();
      continue;
    }
    if (f.type === 1) throw new Error(`error frame while consuming: ${f.text}`);
    got.push(f.message!);
    fins.push(encodeCommand("FIN", [f.message!.id]));
    if (fins.length >= 256) await flush();
  }
}

/** {@linkcode drainChannel} over a fresh connection subscribed to `topic/channel`. */
export async function consumeAll(
  p: NsqProc,
  topic: string,
  channel: string,
  timeoutMs: number,
): Promise<Msg[]> {
  await using conn = await connectSub(p, topic, channel);
  return await drainChannel(p, conn, topic, channel, timeoutMs);
}
