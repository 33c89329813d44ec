/**
 * bench_compress: nsqd's TCP throughput with each IDENTIFY upgrade (plain, snappy, deflate, TLS
 * and TLS + snappy / deflate), through the independent test client test/_util/upgrade_client.ts
 * (node:tls, npm:snappystream, node:zlib).
 *
 * Per mode, for `--runfor`: one producer connection loops MPUB of `--batch-size` messages of
 * `--size` bytes (compressible JSON-like text) and waits for each OK; one consumer connection
 * subscribed with RDY `--rdy` FINs every message (FINs of one read batched in one write). Prints
 * published and consumed msgs/s. nsqd runs in a child process (this script with `--serve`) so
 * the load generator does not share its event loop; the client is in one process, so the figures
 * are a floor for nsqd.
 *
 * Usage: deno run -A scripts/bench_compress.ts [--runfor 2s] [--size 200] [--batch-size 200]
 *        [--rdy 2500] [--modes plain,snappy,deflate,tls,tls+snappy,tls+deflate]
 *
 * @module
 */
import { Logger } from "../lib/internal/log.ts";
import { Nsqd } from "../lib/nsqd/nsqd.ts";
import { defaultNsqdOptions } from "../lib/nsqd/options.ts";
import { UpgradeConn } from "../test/_util/upgrade_client.ts";
import { concat, encodeCommand, encodeMpubBody, FRAME_TYPE_MESSAGE } from "../test/_util/wire.ts";
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
  { name: "runfor", kind: "duration", usage: "duration of each mode", default: "2s" },
  { name: "size", kind: "int", usage: "size of a message in bytes", default: "200" },
  { name: "batch-size", kind: "int", usage: "messages per MPUB", default: "200" },
  { name: "rdy", kind: "int", usage: "consumer RDY count", default: "2500" },
  {
    name: "modes",
    kind: "string",
    usage: "comma-separated: plain, snappy, deflate, tls, tls+snappy, tls+deflate",
    default: "plain,snappy,deflate,tls,tls+snappy,tls+deflate",
  },
  SERVE_FLAG,
];

const CERTS = new URL("../test/_fixtures/certs/", import.meta.url);
const CA = Deno.readTextFileSync(new URL("ca.pem", CERTS));

/** Child mode: an nsqd with the test certificate; prints the TCP address; exits on stdin EOF. */
async function serve(): Promise<void> {
  const dataPath = await Deno.makeTempDir({ prefix: "bench_compress_" });
  const nsqd = new Nsqd({
    ...defaultNsqdOptions(),
    tcpAddress: "127.0.0.1:0",
    httpAddress: "",
    httpsAddress: "",
    dataPath,
    logLevel: "warn",
    tlsCert: new URL("server.pem", CERTS).pathname,
    tlsKey: new URL("server.key", CERTS).pathname,
  }, new Logger("[nsqd] ", "warn"));
  await nsqd.start();
  await announceAndWait(nsqd.tcpAddress);
  await nsqd.close();
  await Deno.remove(dataPath, { recursive: true });
}

function identifyFields(mode: string): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  for (const part of mode.split("+")) {
    if (part === "tls") f.tls_v1 = true;
    else if (part === "snappy") f.snappy = true;
    else if (part === "deflate") f.deflate = true;
    else if (part !== "plain") throw new TypeError(`Unknown mode "${mode}"`);
  }
  return f;
}

/** `n` bytes of JSON-like text (compressible, like typical NSQ payloads). */
function body(n: number, k: number): Uint8Array {
  const s = `{"id":${k},"user":"user${k % 97}","event":"click","ts":${1_700_000_000 + k}}`;
  return new TextEncoder().encode(s.padEnd(n, " ").slice(0, n));
}

async function runMode(
  addr: string,
  mode: string,
  runforMs: number,
  size: number,
  batch: number,
  rdy: number,
) {
  const fields = identifyFields(mode);
  const topic = `bench_${mode.replace("+", "_")}_${Date.now().toString(36)}`;
  const pub = await UpgradeConn.connect(addr);
  const sub = await UpgradeConn.connect(addr);
  try {
    await pub.negotiate(fields, { ca: CA });
    await sub.negotiate(fields, { ca: CA });
    await sub.sub(topic, "ch");
    await sub.expectResponse("OK");
    await sub.send(encodeCommand("RDY", [String(rdy)]));
    const mpub = encodeCommand(
      "MPUB",
      [topic],
      encodeMpubBody(Array.from({ length: batch }, (_, i) => body(size, i))),
    );
    let published = 0;
    let consumed = 0;
    const start = performance.now();
    const end = start + runforMs;
    const producer = (async () => {
      while (performance.now() < end) {
        await pub.send(mpub);
        await pub.expectResponse("OK", 30_000);
        published += batch;
      }
    })();
    let stopConsumer = false;
    const consumer = (async () => {
      const fins: Uint8Array[] = [];
      while (!stopConsumer) {
        let f;
        try {
          f = await sub.readFrame(200);
        } catch {
          continue; // nothing within 200 ms: check whether to stop
        }
        for (; f; f = sub.pollFrame()) {
          if (f.type !== FRAME_TYPE_MESSAGE) continue;
          consumed++;
          fins.push(encodeCommand("FIN", [f.message!.id]));
        }
        if (fins.length > 0) {
          await sub.send(concat(fins));
          fins.length = 0;
        }
      }
    })();
    await producer;
    const pubMs = performance.now() - start;
    const consumedAtEnd = consumed;
    const consMs = performance.now() - start;
    stopConsumer = true;
    await consumer;
    return { published, pubMs, consumed: consumedAtEnd, consMs };
  } finally {
    await pub.close();
    await sub.close();
  }
}

async function main(args: readonly string[]): Promise<number> {
  const values = parseBenchCli("bench_compress", args, FLAGS);
  if (typeof values === "number") return values;
  if (values["serve"] !== "") {
    await serve();
    return 0;
  }
  const { child, address: addr } = await spawnServeChild(import.meta.filename!);
  const log = benchLog("bench_compress");
  try {
    if (addr === "") {
      log("the nsqd child did not start");
      return 1;
    }
    const runforMs = parseGoDuration(values["runfor"]);
    const size = Number(values["size"]);
    const batch = Number(values["batch-size"]);
    const rdy = Number(values["rdy"]);
    for (const mode of values["modes"].split(",")) {
      const r = await runMode(addr, mode, runforMs, size, batch, rdy);
      log(
        `${mode.padEnd(11)} published ${(r.published / r.pubMs * 1000).toFixed(0)} msgs/s, ` +
          `consumed ${(r.consumed / r.consMs * 1000).toFixed(0)} msgs/s ` +
          `(${r.published} / ${r.consumed} msgs of ${size} B in ${(r.pubMs / 1000).toFixed(2)}s)`,
      );
    }
  } finally {
    await stopServeChild(child);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
