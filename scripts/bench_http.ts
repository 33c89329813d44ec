/**
 * bench_http: publishing throughput of nsqd's HTTP API on loopback.
 *
 * Runs `--concurrency` keep-alive `fetch` loops for `--runfor` each against `POST /pub` (one
 * `--size`-byte message per request) and then `POST /mpub` (`--batch-size` newline-separated
 * messages per request), and prints requests/s and messages/s. A request counts only when nsqd
 * answered 200 `OK`; the topic's `message_count` in /stats is checked against the count.
 *
 * Without `--nsqd-http-address` the script starts its own nsqd in a child process (this script
 * with `--serve`: defaults, 127.0.0.1 port 0, a temp data path, removed afterwards), so the load
 * generator and the server do not share an event loop. The topics have no channels, as in NSQ's
 * bench_writer, so past --mem-queue-size messages go to the disk queue.
 *
 * Usage: deno run -A scripts/bench_http.ts [--runfor 5s] [--concurrency 16] [--size 200]
 *        [--batch-size 100] [--mode both|pub|mpub] [--nsqd-http-address 127.0.0.1:4151]
 *
 * @module
 */
import { startNsqdHttp } from "../lib/nsqd/http.ts";
import { Nsqd } from "../lib/nsqd/nsqd.ts";
import { defaultNsqdOptions } from "../lib/nsqd/options.ts";
import { Logger } from "../lib/internal/log.ts";
import {
  announceAndWait,
  type BenchFlag,
  benchLog,
  parseBenchCli,
  parseGoDuration,
  SERVE_FLAG,
  spawnServeChild,
  stopServeChild,
} from "./_bench_common.ts";

const FLAGS: readonly BenchFlag[] = [
  {
    name: "nsqd-http-address",
    kind: "string",
    usage: "<addr>:<port> of nsqd's HTTP API (default: start one in a child process)",
    default: "",
  },
  { name: "runfor", kind: "duration", usage: "duration of each phase", default: "5s" },
  { name: "concurrency", kind: "int", usage: "concurrent keep-alive request loops", default: "16" },
  { name: "size", kind: "int", usage: "size of a message in bytes", default: "200" },
  { name: "batch-size", kind: "int", usage: "messages per /mpub request", default: "100" },
  { name: "topic", kind: "string", usage: "topic prefix", default: "http_bench" },
  { name: "mode", kind: "string", usage: "phases to run: both, pub or mpub", default: "both" },
  SERVE_FLAG,
];

/** What one phase measured. */
export interface PhaseResult {
  requests: number;
  errors: number;
  durationMs: number;
}

/**
 * Runs `concurrency` loops of `POST url` with `body` until `runforMs` has passed. Each loop
 * waits for its answer before the next request (one keep-alive connection per loop).
 */
export async function loadPhase(
  url: string,
  body: Uint8Array<ArrayBuffer>,
  runforMs: number,
  concurrency: number,
): Promise<PhaseResult> {
  let requests = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + runforMs;
  const loop = async () => {
    while (performance.now() < end) {
      const res = await fetch(url, { method: "POST", body });
      const text = await res.text();
      if (res.status === 200 && text === "OK") requests++;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { requests, errors, durationMs: performance.now() - start };
}

/** The `message_count` of a topic according to /stats (-1 when absent). */
async function topicMessageCount(base: string, topic: string): Promise<number> {
  const res = await fetch(`${base}/stats?format=json&topic=${topic}&include_clients=false`);
  const doc = await res.json();
  return doc.topics?.[0]?.message_count ?? -1;
}

function report(
  phase: string,
  r: PhaseResult,
  msgsPerRequest: number,
  size: number,
  concurrency: number,
): string {
  const s = r.durationMs / 1000;
  const rps = r.requests / s;
  const mps = rps * msgsPerRequest;
  const mbps = (mps * size) / (1024 * 1024);
  return `${phase}: ${r.requests} requests in ${s.toFixed(3)}s - ${rps.toFixed(1)} req/s - ` +
    `${mps.toFixed(1)} msgs/s - ${mbps.toFixed(3)} MiB/s ` +
    `(concurrency ${concurrency}, ${msgsPerRequest} x ${size}-byte msgs/request, ` +
    `${r.errors} errors)`;
}

/** Child mode: an nsqd with HTTP on 127.0.0.1 port 0; prints the address; exits on stdin EOF. */
async function serve(): Promise<void> {
  const dataPath = await Deno.makeTempDir({ prefix: "bench_http_" });
  const opts = {
    ...defaultNsqdOptions(),
    tcpAddress: "127.0.0.1:0",
    httpAddress: "127.0.0.1:0",
    httpsAddress: "",
    dataPath,
    logLevel: "warn" as const,
  };
  const nsqd = new Nsqd(opts, new Logger("[nsqd] ", "warn"));
  await nsqd.start();
  const http = await startNsqdHttp(nsqd);
  await announceAndWait(http.httpAddress);
  await http.close();
  await nsqd.close();
  await Deno.remove(dataPath, { recursive: true });
}

async function main(args: readonly string[]): Promise<number> {
  const values = parseBenchCli("bench_http", args, FLAGS);
  if (typeof values === "number") return values;
  if (values["serve"] !== "") {
    await serve();
    return 0;
  }
  const runforMs = parseGoDuration(values["runfor"]);
  const concurrency = Number(values["concurrency"]);
  const size = Number(values["size"]);
  const batch = Number(values["batch-size"]);
  const mode = values["mode"];
  if (!["both", "pub", "mpub"].includes(mode)) {
    console.error(`invalid value "${mode}" for flag -mode: want both, pub or mpub`);
    return 2;
  }

  let child: Deno.ChildProcess | null = null;
  let address = values["nsqd-http-address"];
  if (address === "") {
    ({ child, address } = await spawnServeChild(import.meta.filename!));
    if (address === "") {
      console.error("bench_http: the nsqd child did not start");
      return 1;
    }
  }
  const base = `http://${address}`;
  const log = benchLog("bench_http");
  try {
    const suffix = Date.now().toString(36);
    const msg = new Uint8Array(size).fill(0x61);
    if (mode !== "mpub") {
      const topic = `${values["topic"]}_pub_${suffix}`;
      const url = `${base}/pub?topic=${topic}`;
      await loadPhase(url, msg, Math.min(500, runforMs), concurrency); // warm-up
      const before = await topicMessageCount(base, topic);
      const r = await loadPhase(url, msg, runforMs, concurrency);
      log(report("/pub", r, 1, size, concurrency));
      const after = await topicMessageCount(base, topic);
      if (after - before !== r.requests) log(`WARNING: /stats counted ${after - before}`);
    }
    if (mode !== "pub") {
      const topic = `${values["topic"]}_mpub_${suffix}`;
      const url = `${base}/mpub?topic=${topic}`;
      const body = new Uint8Array(batch * (size + 1)).fill(0x61);
      for (let i = 1; i <= batch; i++) body[i * (size + 1) - 1] = 0x0a;
      await loadPhase(url, body, Math.min(500, runforMs), concurrency); // warm-up
      const before = await topicMessageCount(base, topic);
      const r = await loadPhase(url, body, runforMs, concurrency);
      log(report("/mpub", r, batch, size, concurrency));
      const after = await topicMessageCount(base, topic);
      if (after - before !== r.requests * batch) log(`WARNING: /stats counted ${after - before}`);
    }
  } finally {
    if (child !== null) await stopServeChild(child);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
