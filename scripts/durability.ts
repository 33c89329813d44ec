/**
 * Durability under faults, ours and another nsqd (Go nsqd 1.3 with `--go-nsqd PATH`) side by side
 * with the same harness, runs alternating between the two:
 *
 * - `full-disk` (root: mounts a 6 MB tmpfs): `--mem-queue-size=0 --sync-every=1`, a channel, 1.5
 *   MB of ballast, 4 KB PUBs one at a time until one is refused; `/ping` while full; the ballast
 *   deleted; one more PUB (publishing must resume without a restart); `/ping`; the channel
 *   drained: acknowledged messages lost.
 * - `kill9`: `--mem-queue-size=0 --sync-every=1`, one-at-a-time PUBs, nsqd killed with SIGKILL
 *   `--cycles` times (each after `--per-cycle` more acknowledgements) and restarted on the same
 *   data dir, then the channel drained: acknowledged messages lost.
 * - `kill9-default-sync`: the same with `--mem-queue-size=0` and the default `--sync-every`.
 * - `crash-defaults`: all defaults (memory first), a channel, `--per-cycle` x 10 acknowledged,
 *   one SIGKILL: how many acknowledged messages a crash loses when they sat in memory.
 * - `torn`: a queue of 100 records written by nsqd and stopped cleanly, then cut as a power cut
 *   would leave it (the metadata points past the data: only 95½ records on disk), nsqd started
 *   on it, 3 messages published at once, the channel drained: what is delivered.
 *
 *   deno run -A scripts/durability.ts [--go-nsqd PATH] [--runs 2] [--only a,b] [--cycles 10]
 *     [--per-cycle 1500]
 *
 * Loopback only, bounded (every wait has a deadline). Prints a Markdown table.
 *
 * @module
 */
import { parseBenchCli } from "./_bench_common.ts";
import { httpGet, httpPost, NsqdChild, pendingByChannel, sleep } from "./_fault_common.ts";
import { V2Conn } from "../test/_util/wire.ts";

const FLAGS = [
  {
    name: "go-nsqd",
    kind: "string",
    usage: "path of the other nsqd (e.g. Go nsqd 1.3)",
    default: "",
  },
  { name: "runs", kind: "int", usage: "runs of each scenario per nsqd", default: "2" },
  {
    name: "only",
    kind: "string",
    usage: "scenarios: full-disk,kill9,kill9-default-sync,crash-defaults,torn",
    default: "full-disk,kill9,kill9-default-sync,crash-defaults,torn",
  },
  { name: "cycles", kind: "int", usage: "kills in the kill9 scenarios", default: "10" },
  { name: "per-cycle", kind: "int", usage: "acknowledged messages between kills", default: "1500" },
] as const;

const td = new TextDecoder();

interface Outcome {
  acked: number;
  lost: number;
  notes: string;
}

/** One-at-a-time publisher following `target`; bodies `<prefix><n>` padded to `size`. */
class Pub {
  acked = new Set<string>();
  sent = new Set<string>();
  refused = "";
  #n = 0;
  #retry: string | null = null;
  constructor(readonly topic: string, readonly prefix: string, readonly size: number) {}

  body(key: string): string {
    return `${key}:`.padEnd(this.size, "x");
  }

  /** Publishes until `stop()` or an error frame (kept in `refused`); reconnects on a lost conn. */
  async run(addr: () => string | null, stop: () => boolean, stopOnRefusal: boolean) {
    while (!stop()) {
      const a = addr();
      if (a === null) {
        await sleep(10);
        continue;
      }
      try {
        await using c = await V2Conn.connect(a);
        while (!stop()) {
          const key = this.#retry ?? `${this.prefix}${this.#n++}`;
          this.#retry = key;
          this.sent.add(key);
          await c.pub(this.topic, this.body(key));
          const f = await c.readFrame(10_000);
          if (f.type === 1) {
            this.refused = f.text;
            if (stopOnRefusal) return;
            throw new Error(f.text);
          }
          if (f.type === 0 && f.text === "OK") {
            this.acked.add(key);
            this.#retry = null;
          }
        }
      } catch {
        if (stopOnRefusal && this.refused !== "") return;
        await sleep(10);
      }
    }
  }
}

/** Consumes `topic/ch` until it is empty and quiet; returns the keys received. */
async function drain(n: NsqdChild, topic: string, timeoutMs = 60_000): Promise<Set<string>> {
  const got = new Set<string>();
  await using c = await V2Conn.connect(n.tcpAddress!);
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.rdy(500);
  const deadline = performance.now() + timeoutMs;
  let quiet = 0;
  while (performance.now() < deadline) {
    let f;
    try {
      f = await c.readFrame(200);
    } catch (err) {
      if (!(err as Error).message.startsWith("readFrame: no frame")) throw err;
      const left = (await pendingByChannel(n.httpAddress!)).get(`${topic}/ch`) ?? 0;
      if (left === 0 && ++quiet >= 2) return got;
      continue;
    }
    quiet = 0;
    if (f.type === 0 && f.text === "_heartbeat_") await c.nop();
    if (f.type !== 2) continue;
    const b = td.decode(f.message!.body.subarray(0, 32));
    got.add(b.slice(0, b.indexOf(":")));
    await c.fin(f.message!.id);
  }
  throw new Error(`${topic}/ch not drained within ${timeoutMs} ms (${got.size} received)`);
}

async function createChannel(n: NsqdChild, topic: string): Promise<void> {
  await httpPost(n.httpAddress!, `/topic/create?topic=${topic}`);
  await httpPost(n.httpAddress!, `/channel/create?topic=${topic}&channel=ch`);
}

function lostOf(pub: Pub, got: Set<string>): number {
  let lost = 0;
  for (const k of pub.acked) if (!got.has(k)) lost++;
  return lost;
}

// ---- scenarios --------------------------------------------------------------------------------

function run(cmd: string, args: string[]): boolean {
  return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
}

async function fullDisk(bin: string): Promise<Outcome> {
  const dir = await Deno.makeTempDir({ prefix: "nsq_dur_full_" });
  if (!run("mount", ["-t", "tmpfs", "-o", "size=6m", "tmpfs", dir])) {
    await Deno.remove(dir);
    throw new Error("cannot mount a tmpfs (needs root)");
  }
  let n: NsqdChild | null = null;
  try {
    await Deno.writeFile(`${dir}/ballast`, new Uint8Array(1536 * 1024));
    n = await NsqdChild.start({
      bin,
      dataPath: dir,
      args: ["--mem-queue-size=0", "--sync-every=1"],
    });
    await createChannel(n, "full");
    const pub = new Pub("full", "m", 4096);
    const addr = n.tcpAddress!;
    const t0 = performance.now();
    await pub.run(() => addr, () => performance.now() - t0 > 60_000, true);
    const pingFull = await httpGet(n.httpAddress!, "/ping");
    await Deno.remove(`${dir}/ballast`);
    // One more PUB (fresh connection: the refusal closed the last one).
    let resumed = "no reply";
    try {
      await using c = await V2Conn.connect(addr);
      await c.pub("full", pub.body("after"));
      const f = await c.readFrame(10_000);
      resumed = f.text;
      if (f.type === 0 && f.text === "OK") pub.acked.add("after");
    } catch (err) {
      resumed = (err as Error).message;
    }
    const pingAfter = await httpGet(n.httpAddress!, "/ping");
    const got = await drain(n, "full");
    return {
      acked: pub.acked.size,
      lost: lostOf(pub, got),
      notes: `refused: \`${pub.refused.slice(0, 40)}\`; /ping full: ${pingFull.status} ` +
        `\`${pingFull.text.slice(0, 30)}\`; after freeing: PUB ${resumed}, /ping ` +
        `${pingAfter.status} ${pingAfter.text}`,
    };
  } finally {
    await n?.stop("SIGKILL");
    if (!run("umount", [dir])) run("umount", ["-l", dir]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function killCycles(
  bin: string,
  args: string[],
  cycles: number,
  perCycle: number,
): Promise<Outcome> {
  const dir = await Deno.makeTempDir({ prefix: "nsq_dur_kill_" });
  let n: NsqdChild | null = null;
  let live: string | null = null;
  let stop = false;
  const pub = new Pub("kill", "k", 100);
  const task = pub.run(() => live, () => stop, false);
  try {
    for (let cycle = 0; cycle <= cycles; cycle++) {
      n = await NsqdChild.start({ bin, dataPath: dir, args });
      if (cycle === 0) await createChannel(n, "kill");
      if (cycle === cycles) break;
      const before = pub.acked.size;
      live = n.tcpAddress;
      const deadline = performance.now() + 60_000;
      while (pub.acked.size < before + perCycle) {
        if (performance.now() > deadline) throw new Error(`cycle ${cycle}: publishing stalled`);
        await sleep(5);
      }
      live = null;
      await n.stop("SIGKILL");
      n = null;
    }
    stop = true;
    await task;
    const got = await drain(n!, "kill");
    return {
      acked: pub.acked.size,
      lost: lostOf(pub, got),
      notes: `${cycles} kill(s); ${got.size} distinct delivered`,
    };
  } finally {
    stop = true;
    await task;
    await n?.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function crashDefaults(bin: string, perCycle: number): Promise<Outcome> {
  const r = await killCycles(bin, [], 1, perCycle * 10);
  return { ...r, notes: `one kill after ${perCycle * 10} acknowledged` };
}

async function torn(bin: string): Promise<Outcome> {
  const dir = await Deno.makeTempDir({ prefix: "nsq_dur_torn_" });
  let n: NsqdChild | null = null;
  try {
    n = await NsqdChild.start({ bin, dataPath: dir, args: ["--mem-queue-size=0"] });
    await createChannel(n, "torn");
    const keys = Array.from({ length: 100 }, (_, i) => `r${i}`);
    {
      await using c = await V2Conn.connect(n.tcpAddress!);
      await c.mpub("torn", keys.map((k) => `${k}:`.padEnd(50, "x")));
      await c.expectResponse("OK");
    }
    // Wait until the channel holds them all, then stop cleanly (metadata synced).
    for (let i = 0; (await pendingByChannel(n.httpAddress!)).get("torn/ch") !== 100; i++) {
      if (i > 200) throw new Error("100 messages not on the channel");
      await sleep(25);
    }
    await n.stop("SIGTERM");
    n = null;
    // Records are 4 + 26 + 50 = 80 bytes: keep 95 and 7 bytes of the 96th.
    await Deno.truncate(`${dir}/torn:ch.diskqueue.000000.dat`, 95 * 80 + 7);
    n = await NsqdChild.start({ bin, dataPath: dir, args: ["--mem-queue-size=0"] });
    const pub = new Pub("torn", "new", 50);
    {
      await using c = await V2Conn.connect(n.tcpAddress!);
      for (const k of ["new0", "new1", "new2"]) {
        await c.pub("torn", pub.body(k));
        await c.expectResponse("OK");
        pub.acked.add(k);
      }
    }
    const got = await drain(n, "torn", 20_000);
    const old = keys.filter((k) => got.has(k)).length;
    const newGot = [...pub.acked].filter((k) => got.has(k)).length;
    const junk = [...got].filter((k) => !keys.includes(k) && !pub.acked.has(k)).length;
    return {
      acked: 3,
      lost: 3 - newGot,
      notes: `of the 95 whole records on disk ${old} delivered; of 3 published after the ` +
        `restart ${newGot} delivered; ${junk} garbage message(s) delivered`,
    };
  } finally {
    await n?.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const v = parseBenchCli(
    "durability",
    Deno.args,
    FLAGS as unknown as Parameters<typeof parseBenchCli>[2],
  );
  if (typeof v === "number") return v;
  const runs = Number(v["runs"]);
  const cycles = Number(v["cycles"]);
  const perCycle = Number(v["per-cycle"]);
  if (!(runs >= 1 && runs <= 10 && cycles >= 1 && cycles <= 50 && perCycle >= 1)) {
    console.error("--runs in [1, 10], --cycles in [1, 50], --per-cycle >= 1");
    return 2;
  }
  const nsqds: [string, string][] = [["nsq-deno", ""]];
  if (v["go-nsqd"] !== "") nsqds.push([v["go-nsqd"], v["go-nsqd"]]);
  const scenarios: Record<string, (bin: string) => Promise<Outcome>> = {
    "full-disk": fullDisk,
    "kill9": (bin) => killCycles(bin, ["--mem-queue-size=0", "--sync-every=1"], cycles, perCycle),
    "kill9-default-sync": (bin) => killCycles(bin, ["--mem-queue-size=0"], cycles, perCycle),
    "crash-defaults": (bin) => crashDefaults(bin, perCycle),
    "torn": torn,
  };
  const rows: string[] = [];
  for (const name of v["only"].split(",").map((s) => s.trim())) {
    const fn = scenarios[name];
    if (fn === undefined) {
      console.error(`unknown scenario ${name}`);
      return 2;
    }
    for (let r = 0; r < runs; r++) {
      for (const [label, bin] of nsqds) {
        let line: string;
        try {
          const o = await fn(bin);
          line = `| ${name} | ${label} | ${r + 1} | ${o.acked} | ${o.lost} | ${o.notes} |`;
        } catch (err) {
          line = `| ${name} | ${label} | ${r + 1} | - | - | failed: ${(err as Error).message} |`;
        }
        console.error(line);
        rows.push(line);
      }
    }
  }
  console.log("| scenario | nsqd | run | acknowledged | lost | notes |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(r);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
