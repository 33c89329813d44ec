/**
 * Helpers for the gossip tests: nsqd processes with `--gossip-address`, their discovery API, and
 * real `serf agent` processes (Debian's serf) when installed.
 *
 * @module
 */
import { NsqProc } from "../_util/procs.ts";
import { waitFor } from "../_util/wait.ts";

export const SERF = "/usr/bin/serf";
/** True when Debian's serf is installed (the interop tests skip otherwise). */
export const HAVE_SERF = (() => {
  try {
    return Deno.statSync(SERF).isFile;
  } catch {
    return false;
  }
})();

/** Fast failure detection for the suite (defaults are 1s and 5). */
export const FAST = ["--gossip-probe-interval", "200ms", "--gossip-suspicion-mult", "3"];

const GOSSIP_LINE = /GOSSIP: listening on (\S+) as (\S+)/;

/** One gossiping nsqd process. */
export interface GossipNsqd {
  proc: NsqProc;
  dataPath: string;
  http: string;
  tcp: string;
  /** "127.0.0.1:port" of the gossip listener. */
  gossip: string;
  /** Member name, `127.0.0.1:<tcp port>`. */
  name: string;
}

/** Options for {@linkcode startGossipNsqd}. */
export interface GossipNsqdOptions {
  seeds?: string[];
  dataPath?: string;
  /** Reuse these addresses (a restart). */
  tcp?: string;
  http?: string;
  gossip?: string;
  extra?: string[];
}

/** Starts `nsq nsqd` with gossip on 127.0.0.1 (port 0 unless given). */
export async function startGossipNsqd(o: GossipNsqdOptions = {}): Promise<GossipNsqd> {
  const dataPath = o.dataPath ?? await Deno.makeTempDir({ prefix: "nsqd_gossip_" });
  const args = [
    "--tcp-address",
    o.tcp ?? "127.0.0.1:0",
    "--http-address",
    o.http ?? "127.0.0.1:0",
    "--broadcast-address",
    "127.0.0.1",
    "--data-path",
    dataPath,
    "--gossip-address",
    o.gossip ?? "127.0.0.1:0",
    ...(o.seeds ?? []).flatMap((s) => ["--gossip-seed-address", s]),
    ...(o.extra ?? []),
  ];
  const proc = await NsqProc.spawn({
    command: "nsqd",
    args,
    ready: (p) =>
      p.tcpAddress !== null && p.httpAddress !== null && p.lines.some((l) => GOSSIP_LINE.test(l)),
  });
  const m = proc.lines.map((l) => GOSSIP_LINE.exec(l)).find((x) => x !== null)!;
  return {
    proc,
    dataPath,
    http: proc.httpAddress!,
    tcp: proc.tcpAddress!,
    gossip: m[1],
    name: m[2],
  };
}

/** GET a JSON document (status and body). */
// deno-lint-ignore no-explicit-any
export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch { /* plain text */ }
  return { status: res.status, body };
}

/** Member names a node's /lookup lists for a topic ([] on 404). */
export async function lookupNames(http: string, topic: string): Promise<string[]> {
  const { status, body } = await getJson(`http://${http}/lookup?topic=${topic}`);
  if (status !== 200) return [];
  return body.producers.map((p: { broadcast_address: string; tcp_port: number }) =>
    `${p.broadcast_address}:${p.tcp_port}`
  ).sort();
}

/** Member name → status from a node's /stats?format=json. */
export async function gossipMembers(http: string): Promise<Map<string, string>> {
  const { body } = await getJson(`http://${http}/stats?format=json`);
  return new Map(
    (body.gossip?.members ?? []).map((m: { name: string; status: string }) => [m.name, m.status]),
  );
}

/** Waits until every node lists exactly `names` for `topic`. */
export async function waitLookup(
  nodes: GossipNsqd[],
  topic: string,
  names: string[],
  timeoutMs: number,
): Promise<void> {
  const want = [...names].sort().join(",");
  await waitFor(async () => {
    for (const n of nodes) {
      if ((await lookupNames(n.http, topic)).join(",") !== want) return false;
    }
    return true;
  }, { timeoutMs, intervalMs: 25, message: `/lookup?topic=${topic} = [${want}] on every node` });
}

/** Stops nodes and removes their data. */
export async function stopAll(nodes: GossipNsqd[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.proc.stop("SIGKILL")));
  await Promise.all(nodes.map((n) => Deno.remove(n.dataPath, { recursive: true }).catch(() => {})));
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** One `serf agent` process. */
export class SerfAgent implements AsyncDisposable {
  readonly rpc: string;
  readonly bind: string;
  readonly #child: Deno.ChildProcess;
  readonly #out: Promise<string>;

  private constructor(child: Deno.ChildProcess, rpc: string, bind: string) {
    this.#child = child;
    this.rpc = rpc;
    this.bind = bind;
    this.#out = new Response(child.stdout).text();
  }

  static async start(name: string, extra: string[] = []): Promise<SerfAgent> {
    // serf binds UDP and TCP on the same port: pick one free for both
    const bind = `127.0.0.1:${freePort()}`;
    const rpc = `127.0.0.1:${freePort()}`;
    const child = new Deno.Command(SERF, {
      args: ["agent", `-node=${name}`, `-bind=${bind}`, `-rpc-addr=${rpc}`, ...extra],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const a = new SerfAgent(child, rpc, bind);
    await waitFor(async () => (await a.run(["members"])).ok, {
      timeoutMs: 10_000,
      intervalMs: 50,
      message: `serf agent ${name} RPC`,
    });
    return a;
  }

  /** Runs `serf <cmd> -rpc-addr=<ours> <args>`. */
  async run(args: string[]): Promise<{ ok: boolean; out: string }> {
    const [cmd, ...rest] = args;
    const r = await new Deno.Command(SERF, {
      args: [cmd, `-rpc-addr=${this.rpc}`, ...rest],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const td = new TextDecoder();
    return { ok: r.success, out: td.decode(r.stdout) + td.decode(r.stderr) };
  }

  /** `serf members -format=json`. */
  async members(): Promise<
    { name: string; addr: string; status: string; tags: Record<string, string> }[]
  > {
    const r = await this.run(["members", "-format=json"]);
    if (!r.ok) return [];
    return JSON.parse(r.out).members;
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* exited */ }
    await this.#child.status;
    await this.#out.catch(() => "");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
