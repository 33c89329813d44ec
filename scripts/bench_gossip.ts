/**
 * What gossip costs and how fast it converges, on loopback.
 *
 * 1. Five full nsqd processes with `--gossip-address` and the default probe settings (ours, and
 *    NSQ's dev-branch nsqd when `--go-nsqd <path>` is given, alternating): join time (spawn of
 *    four nodes through one seed until every node lists five alive members / answers `/lookup`),
 *    propagation (a topic created on one node until every node's `/lookup` lists it), failure
 *    detection (kill -9 of one node until no other node's `/lookup` lists it), gossip packets per
 *    second per node over a quiet window (ours: from /stats), and RSS per nsqd against an nsqd
 *    without gossip.
 * 2. Fifty gossip members as lightweight members (lib/gossip's Serf with nsqd's settings, not 50
 *    full nsqd): `--procs` processes of 50/procs members each. Packets per second per member,
 *    RSS per process and per member, and how long a user event takes to reach all 50.
 *
 * Usage: deno run -A scripts/bench_gossip.ts [--go-nsqd /path/to/dev/nsqd] [--window 10]
 *        [--procs 5] [--members 50] [--skip-nsqd] [--skip-members]
 * Internal: deno run -A scripts/bench_gossip.ts --member-proc <count> <seed|-> <id>
 */
import { Logger } from "../lib/internal/log.ts";
import { Serf } from "../lib/gossip/mod.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const SELF = new URL(import.meta.url).pathname;

function arg(name: string, def: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : def;
}
const has = (name: string) => Deno.args.includes(name);

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

function rssKb(pid: number): number {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (await cond()) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  return NaN;
}

async function json(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    const r = await fetch(url);
    const t = await r.text();
    try {
      return { status: r.status, body: JSON.parse(t) };
    } catch {
      return { status: r.status, body: {} };
    }
  } catch {
    return { status: 0, body: {} };
  }
}

interface Node {
  child: Deno.ChildProcess;
  http: string;
  tcpPort: number;
  gossip: string;
  dir: string;
}

function spawnNsqd(bin: "ours" | string, seeds: string[], gossip = true): Node {
  const tcpPort = freePort(), httpPort = freePort(), gossipPort = freePort();
  const dir = Deno.makeTempDirSync({ prefix: "bench_gossip_" });
  const flags = [
    `--tcp-address=127.0.0.1:${tcpPort}`,
    `--http-address=127.0.0.1:${httpPort}`,
    `--broadcast-address=127.0.0.1`,
    `--data-path=${dir}`,
    `--log-level=warn`,
    ...(gossip ? [`--gossip-address=127.0.0.1:${gossipPort}`] : []),
    ...seeds.map((s) => `--gossip-seed-address=${s}`),
  ];
  const cmd = bin === "ours"
    ? new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "nsqd", ...flags],
      stdout: "null",
      stderr: "null",
    })
    : new Deno.Command(bin, { args: flags, stdout: "null", stderr: "null" });
  return {
    child: cmd.spawn(),
    http: `127.0.0.1:${httpPort}`,
    tcpPort,
    gossip: `127.0.0.1:${gossipPort}`,
    dir,
  };
}

async function stop(nodes: Node[]): Promise<void> {
  for (const n of nodes) {
    try {
      n.child.kill("SIGKILL");
    } catch { /* gone */ }
  }
  for (const n of nodes) {
    await n.child.status;
    await Deno.remove(n.dir, { recursive: true }).catch(() => {});
  }
}

async function lookupHas(http: string, topic: string, tcpPort: number): Promise<boolean> {
  const r = await json(`http://${http}/lookup?topic=${topic}`);
  const ps = (r.body.producers ?? (r.body.data as Record<string, unknown>)?.producers ?? []) as {
    tcp_port: number;
  }[];
  return r.status === 200 && ps.some((p) => p.tcp_port === tcpPort);
}

async function fiveNodes(bin: "ours" | string, window: number): Promise<Record<string, string>> {
  const nodes: Node[] = [];
  try {
    nodes.push(spawnNsqd(bin, []));
    await until(async () => (await json(`http://${nodes[0].http}/info`)).status === 200, 15_000);
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) nodes.push(spawnNsqd(bin, [nodes[0].gossip]));
    // joined: a probe topic on the seed is visible from every node
    await fetch(`http://${nodes[0].http}/topic/create?topic=probe`, { method: "POST" })
      .then((r) => r.body?.cancel());
    await until(async () => {
      for (const n of nodes) {
        if (!(await lookupHas(n.http, "probe", nodes[0].tcpPort))) return false;
      }
      return true;
    }, 60_000);
    const join = performance.now() - t0;
    // propagation
    const p0 = performance.now();
    await fetch(`http://${nodes[2].http}/topic/create?topic=spread`, { method: "POST" })
      .then((r) => r.body?.cancel());
    const spreadOk = await until(async () => {
      for (const n of nodes) {
        if (!(await lookupHas(n.http, "spread", nodes[2].tcpPort))) return false;
      }
      return true;
    }, 10_000);
    const spread = Number.isNaN(spreadOk) ? NaN : performance.now() - p0;
    // quiet window: packets and memory
    const before = await Promise.all(nodes.map((n) => json(`http://${n.http}/stats?format=json`)));
    await new Promise((r) => setTimeout(r, window * 1000));
    const after = await Promise.all(nodes.map((n) => json(`http://${n.http}/stats?format=json`)));
    const serfStat = (d: Record<string, unknown>, k: string) =>
      Number(((d.gossip as { serf?: Record<string, string> })?.serf ?? {})[k] ?? NaN);
    let pps = 0;
    for (let i = 0; i < nodes.length; i++) {
      pps += (serfStat(after[i].body, "udp_packets_sent") -
        serfStat(before[i].body, "udp_packets_sent")) / window;
    }
    const rss = nodes.map((n) => rssKb(n.child.pid));
    // failure detection: kill -9 node 5
    const victim = nodes[4];
    await fetch(`http://${victim.http}/topic/create?topic=victim`, { method: "POST" })
      .then((r) => r.body?.cancel());
    await until(async () => await lookupHas(nodes[0].http, "victim", victim.tcpPort), 5000);
    victim.child.kill("SIGKILL");
    const k0 = performance.now();
    const detectOk = await until(async () => {
      for (const n of nodes.slice(0, 4)) {
        if (await lookupHas(n.http, "victim", victim.tcpPort)) return false;
      }
      return true;
    }, 60_000);
    const detect = Number.isNaN(detectOk) ? NaN : performance.now() - k0;
    return {
      join_ms: join.toFixed(0),
      spread_ms: spread.toFixed(0),
      kill9_detect_ms: detect.toFixed(0),
      udp_pkts_per_s_per_node: bin === "ours" ? (pps / nodes.length).toFixed(1) : "n/a",
      rss_mb_per_node: (rss.reduce((a, b) => a + b, 0) / rss.length / 1024).toFixed(1),
    };
  } finally {
    await stop(nodes);
  }
}

async function baselineRss(bin: "ours" | string): Promise<string> {
  const n = spawnNsqd(bin, [], false);
  try {
    await until(async () => (await json(`http://${n.http}/info`)).status === 200, 15_000);
    await new Promise((r) => setTimeout(r, 2000));
    return (rssKb(n.child.pid) / 1024).toFixed(1);
  } finally {
    await stop([n]);
  }
}

// ---- 50 lightweight members ---------------------------------------------------------------------

async function memberProc(count: number, seed: string, id: string): Promise<void> {
  const logger = new Logger("", "fatal");
  const members: Serf[] = [];
  const enc = new TextEncoder();
  const out = (s: string) => Deno.stdout.writeSync(enc.encode(s + "\n"));
  for (let i = 0; i < count; i++) {
    const name = `${id}-${i}`;
    const s = new Serf({
      nodeName: name,
      tags: { role: "bench" },
      bindAddr: "127.0.0.1",
      bindPort: 0,
      gossipInterval: 100,
      gossipNodes: 5,
      suspicionMult: 5,
      eventBuffer: 1024,
      onEvent: (e) => {
        if (e.type === "user") out(`EVENT ${name} ${e.name} ${Date.now()}`);
      },
    }, logger);
    await s.start();
    members.push(s);
  }
  const first = seed === "-" ? null : seed;
  for (let i = 0; i < members.length; i++) {
    const target = first ?? (i === 0 ? null : `127.0.0.1:${members[0].memberlist.port}`);
    if (target) await members[i].join([target]);
  }
  out(`READY ${id} 127.0.0.1:${members[0].memberlist.port}`);
  const dec = new TextDecoder();
  const buf = new Uint8Array(1024);
  for (;;) {
    const n = await Deno.stdin.read(buf);
    if (n === null) break;
    for (const line of dec.decode(buf.subarray(0, n)).split("\n")) {
      if (line.startsWith("EVENT ")) members[0].userEvent(line.slice(6), new Uint8Array(0));
      if (line === "STATS") {
        let sent = 0, alive = 0;
        for (const m of members) {
          sent += m.memberlist.counters.udpSent;
          alive += m.members().filter((x) => x.status === "alive").length;
        }
        out(`STATS ${id} ${sent} ${alive} ${rssKb(Deno.pid)}`);
      }
    }
  }
  await Promise.all(members.map((m) => m.close()));
}

async function fiftyMembers(total: number, procs: number, window: number) {
  const per = Math.ceil(total / procs);
  const children: {
    child: Deno.ChildProcess;
    lines: string[];
    writer: WritableStreamDefaultWriter<Uint8Array>;
  }[] = [];
  const enc = new TextEncoder();
  let seed = "-";
  const t0 = performance.now();
  for (let p = 0; p < procs; p++) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SELF, "--member-proc", String(per), seed, `p${p}`],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines: string[] = [];
    const entry = { child, lines, writer: child.stdin.getWriter() };
    children.push(entry);
    (async () => {
      const dec = new TextDecoder();
      let partial = "";
      for await (const chunk of child.stdout) {
        partial += dec.decode(chunk);
        const parts = partial.split("\n");
        partial = parts.pop()!;
        lines.push(...parts);
      }
    })();
    await until(() => lines.some((l) => l.startsWith("READY")), 60_000);
    if (seed === "-") seed = lines.find((l) => l.startsWith("READY"))!.split(" ")[2];
  }
  const n = per * procs;
  const stats = async () => {
    for (const c of children) c.lines.length = 0;
    for (const c of children) await c.writer.write(enc.encode("STATS\n"));
    await until(
      () => children.every((c) => c.lines.some((l) => l.startsWith("STATS"))),
      5000,
    );
    return children.map((c) => c.lines.find((l) => l.startsWith("STATS"))!.split(" "));
  };
  const converge = await until(async () => {
    const s = await stats();
    return s.reduce((a, x) => a + Number(x[3]), 0) === n * n;
  }, 120_000);
  const joinMs = performance.now() - t0;
  const s1 = await stats();
  await new Promise((r) => setTimeout(r, window * 1000));
  const s2 = await stats();
  const sent = s2.reduce((a, x) => a + Number(x[2]), 0) - s1.reduce((a, x) => a + Number(x[2]), 0);
  const rss = s2.map((x) => Number(x[4]));
  // a user event from one member until all n members have it
  for (const c of children) c.lines.length = 0;
  const e0 = performance.now();
  await children[0].writer.write(enc.encode("EVENT bench-event\n"));
  const spreadOk = await until(
    () =>
      children.reduce((a, c) => a + c.lines.filter((l) => l.startsWith("EVENT")).length, 0) >= n,
    30_000,
  );
  const spread = Number.isNaN(spreadOk) ? NaN : performance.now() - e0;
  for (const c of children) {
    await c.writer.close().catch(() => {});
    await c.child.status;
  }
  return {
    members: String(n),
    processes: String(procs),
    all_alive_everywhere_ms: converge.toFixed(0),
    join_total_ms: joinMs.toFixed(0),
    udp_pkts_per_s_per_member: (sent / window / n).toFixed(1),
    rss_mb_per_process: (rss.reduce((a, b) => a + b, 0) / rss.length / 1024).toFixed(1),
    event_to_all_ms: spread.toFixed(0),
  };
}

if (import.meta.main) {
  if (has("--member-proc")) {
    const i = Deno.args.indexOf("--member-proc");
    await memberProc(Number(Deno.args[i + 1]), Deno.args[i + 2], Deno.args[i + 3]);
  } else {
    const window = Number(arg("--window", "10"));
    const goBin = arg("--go-nsqd", "");
    console.log(`# gossip bench (${new Date().toISOString()}, shared 2-core machine)`);
    if (!has("--skip-nsqd")) {
      console.log("\n## 5 nsqd, default gossip settings\n");
      console.log(
        "| nsqd | join ms | spread ms | kill -9 detect ms | UDP pkts/s/node | RSS MB/node | RSS MB without gossip |",
      );
      console.log("|---|---|---|---|---|---|---|");
      for (const bin of goBin ? ["ours", goBin] : ["ours"]) {
        const base = await baselineRss(bin);
        const r = await fiveNodes(bin, window);
        console.log(
          `| ${
            bin === "ours" ? "nsq-deno" : "Go dev branch"
          } | ${r.join_ms} | ${r.spread_ms} | ${r.kill9_detect_ms} | ${r.udp_pkts_per_s_per_node} | ${r.rss_mb_per_node} | ${base} |`,
        );
      }
    }
    if (!has("--skip-members")) {
      const total = Number(arg("--members", "50"));
      const procs = Number(arg("--procs", "5"));
      console.log(
        `\n## ${total} lightweight members in ${procs} processes (nsqd's gossip settings)\n`,
      );
      for (const size of [5, total]) {
        const r = await fiftyMembers(size, size === 5 ? 1 : procs, window);
        console.log(JSON.stringify(r));
      }
    }
  }
}
