/**
 * `deno run -A scripts/bench_roundtrip.ts [--go-nsqd <path>] [--go-bench-bin <dir>] ...`: one
 * message per round trip (MPUB×1, the `mpub1.*` rows of `deno task bench --compare`) against
 * three servers on the same client:
 *
 * - `bare`: scripts/_bare_ok_server.ts, a Deno server that answers OK and does nothing else (the
 *   runtime's floor for one read and one write);
 * - `ours`: our nsqd (`deno run -A main.ts nsqd`, default options);
 * - `go`: the given nsqd binary (Go nsqd 1.3.0), default options.
 *
 * Each in three placements on a 2-core machine: `free` (the kernel schedules), `same` (server and
 * client pinned to CPU 0 with taskset) and `split` (server on CPU 0, client on CPU 1). A pinned
 * run shows what a round trip costs when the scheduler's choice is taken out: on a virtual machine
 * a wake-up on an idle CPU costs tens of µs, and whether the server's thread is woken on the
 * client's CPU or another one moves a one-at-a-time rate by 2–4×.
 *
 * Per run: messages/s, the server's CPU µs per message (utime + stime), and with `--strace` the
 * server's system calls per message (strace -c -f, a separate run). Best of `--rounds` runs, the
 * servers alternating.
 *
 * @module
 */

import { type BenchFlag, parseBenchCli, parseGoDuration } from "./_bench_common.ts";
import { Child, NsqdUnderTest, procCpuSeconds } from "./bench.ts";

const FLAGS: readonly BenchFlag[] = [
  {
    name: "go-nsqd",
    kind: "string",
    default: "",
    usage: "another nsqd executable (Go nsqd 1.3.0)",
  },
  {
    name: "go-bench-bin",
    kind: "string",
    default: "",
    usage: "directory with NSQ's bench_writer (else scripts/bench_writer.ts)",
  },
  { name: "runfor", kind: "duration", default: "3s", usage: "duration of each run" },
  { name: "rounds", kind: "int", default: "2", usage: "runs per server and case (best kept)" },
  { name: "conns", kind: "string", default: "1,2", usage: "connection counts" },
  {
    name: "placements",
    kind: "string",
    default: "free,same,split",
    usage: "free, same (both on CPU 0), split (server on CPU 0, client on CPU 1)",
  },
  { name: "strace", kind: "string", default: "", usage: '"1": count system calls per message' },
];

interface Run {
  rate: number;
  cpuUsPerMsg: number;
}

interface Server {
  pid: number;
  address: string;
  stop(): Promise<void>;
}

async function startServer(kind: string, goNsqd: string): Promise<Server> {
  if (kind === "bare") {
    const child = new Child("bare", ["run", "-A", "scripts/_bare_ok_server.ts", "0"]);
    const deadline = Date.now() + 30_000;
    while (!/listening \d+/.test(child.stdout)) {
      if (Date.now() > deadline || !child.running) throw new Error("bare server did not start");
      await new Promise((r) => setTimeout(r, 20));
    }
    const port = /listening (\d+)/.exec(child.stdout)![1];
    return { pid: child.pid, address: `127.0.0.1:${port}`, stop: () => child.stop() };
  }
  const n = await NsqdUnderTest.start([], kind === "go" ? goNsqd : undefined);
  return { pid: n.child.pid, address: n.tcpAddress, stop: () => n.close() };
}

async function runWriter(
  address: string,
  conns: number,
  runfor: string,
  goBench: string,
  cpu: string | null,
): Promise<number> {
  const common = ["--nsqd-tcp-address", address, "--runfor", runfor, "--size", "200"];
  const [cmd, args, env] = goBench
    ? [`${goBench}/bench_writer`, [...common, "--batch-size", "1"], { GOMAXPROCS: String(conns) }]
    : [Deno.execPath(), [
      "run",
      "-A",
      "scripts/bench_writer.ts",
      ...common,
      "--batch-size",
      "1",
      "--concurrency",
      String(conns),
    ], {}];
  const [file, argv] = cpu === null ? [cmd, args] : ["taskset", ["-c", cpu, cmd, ...args]];
  const out = await new Deno.Command(file, { args: argv, env, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  const m = /([\d.]+)ops\/s/.exec(text);
  if (!out.success || !m) throw new Error(`bench_writer failed: ${text.slice(-500)}`);
  return Number(m[1]);
}

async function pin(pid: number, cpu: string): Promise<void> {
  const out = await new Deno.Command("taskset", { args: ["-a", "-pc", cpu, String(pid)] })
    .output();
  if (!out.success) throw new Error(`taskset failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** One measured run on a fresh server (after a 1 s warm-up on the same server). */
async function measure(
  kind: string,
  placement: string,
  conns: number,
  o: { goNsqd: string; goBench: string; runfor: string },
): Promise<Run> {
  const server = await startServer(kind, o.goNsqd);
  try {
    if (placement !== "free") await pin(server.pid, "0");
    const clientCpu = placement === "same" ? "0" : placement === "split" ? "1" : null;
    await runWriter(server.address, conns, "1s", o.goBench, clientCpu);
    const before = procCpuSeconds(server.pid);
    const t0 = performance.now();
    const rate = await runWriter(server.address, conns, o.runfor, o.goBench, clientCpu);
    const secs = (performance.now() - t0) / 1000;
    const cpu = procCpuSeconds(server.pid) - before;
    return { rate, cpuUsPerMsg: (cpu * 1e6) / (rate * secs) };
  } finally {
    await server.stop();
  }
}

/** System calls per message of `kind` at one connection, free placement. */
async function syscalls(
  kind: string,
  o: { goNsqd: string; goBench: string; runfor: string },
): Promise<string> {
  const server = await startServer(kind, o.goNsqd);
  const outFile = Deno.makeTempFileSync({ prefix: "strace_" });
  try {
    await runWriter(server.address, 1, "1s", o.goBench, null);
    const st = new Deno.Command("strace", {
      args: ["-c", "-f", "-o", outFile, "-p", String(server.pid)],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await new Promise((r) => setTimeout(r, 500));
    const rate = await runWriter(server.address, 1, o.runfor, o.goBench, null);
    st.kill("SIGINT");
    await st.status;
    const msgs = rate * parseGoDuration(o.runfor) / 1000;
    const counts: string[] = [];
    for (const line of Deno.readTextFileSync(outFile).split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5 || !/^\d/.test(f[0])) continue;
      const calls = Number(f[3]);
      const name = f[f.length - 1];
      if (calls / msgs >= 0.05) counts.push(`${name} ${(calls / msgs).toFixed(2)}`);
    }
    return counts.join(", ");
  } finally {
    await server.stop();
    Deno.removeSync(outFile);
  }
}

if (import.meta.main) {
  const opts = parseBenchCli("bench_roundtrip", Deno.args, FLAGS);
  if (typeof opts === "number") Deno.exit(opts);
  const o = {
    goNsqd: opts["go-nsqd"],
    goBench: opts["go-bench-bin"],
    runfor: opts.runfor,
  };
  const kinds = ["bare", "ours", ...(o.goNsqd ? ["go"] : [])];
  const conns = opts.conns.split(",").map(Number);
  const placements = opts.placements.split(",");
  const rounds = Number(opts.rounds);
  console.log(
    `# one message per round trip (MPUB×1, 200 bytes), client: ${
      o.goBench ? "NSQ's bench_writer" : "scripts/bench_writer.ts"
    }, ${new Date().toISOString()}, load ${Deno.loadavg()[0].toFixed(2)}`,
  );
  console.log("| placement | conns | server | msgs/s (best) | server CPU µs/msg |");
  console.log("|---|---|---|---|---|");
  for (const placement of placements) {
    for (const c of conns) {
      const best = new Map<string, Run>();
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? kinds : [...kinds].reverse();
        for (const kind of order) {
          const run = await measure(kind, placement, c, o);
          const prev = best.get(kind);
          if (!prev || run.rate > prev.rate) best.set(kind, run);
        }
      }
      for (const kind of kinds) {
        const b = best.get(kind)!;
        console.log(
          `| ${placement} | ${c} | ${kind} | ${(b.rate / 1000).toFixed(1)}k | ${
            b.cpuUsPerMsg.toFixed(1)
          } |`,
        );
      }
    }
  }
  if (opts.strace === "1") {
    console.log("\nsystem calls per message (1 connection, free placement):");
    for (const kind of kinds) console.log(`- ${kind}: ${await syscalls(kind, o)}`);
  }
}
