/**
 * lib/client against Go NSQ 1.3's own nsqd and nsqlookupd, run only when NSQ_GO_BIN names the
 * directory holding their binaries (e.g. `NSQ_GO_BIN=/path/to/nsq-1.3/bin`): Producer
 * PUB/MPUB/DPUB and an exact E_ error, a Consumer discovering 3 Go nsqd through Go nsqlookupd
 * with maxInFlight 100 (one nsqd stops, another joins), and the TLS / snappy / deflate upgrades.
 */
import assert from "node:assert/strict";
import { Consumer, type Message, Producer, ProducerError } from "../../mod.ts";
import { uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";

const GO_BIN = Deno.env.get("NSQ_GO_BIN") ?? "";
const ignore = GO_BIN === "";
const CERTS = new URL("../_fixtures/certs/", import.meta.url);
const cert = (name: string) => new URL(name, CERTS).pathname;

/** A running Go daemon; its listen addresses come from its log. */
class GoProc implements AsyncDisposable {
  lines: string[] = [];
  #child: Deno.ChildProcess;
  #pump: Promise<void>;
  dir: string;

  constructor(bin: string, args: string[], dir: string) {
    this.dir = dir;
    const child = new Deno.Command(`${GO_BIN}/${bin}`, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#pump = (async () => {
      let partial = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        const parts = (partial + chunk).split("\n");
        partial = parts.pop()!;
        this.lines.push(...parts);
      }
    })();
  }

  listening(kind: "TCP" | "HTTP"): string | null {
    for (const l of this.lines) {
      const m = new RegExp(`${kind}: listening on (\\S+)`).exec(l);
      if (m) return m[1];
    }
    return null;
  }

  async ready(): Promise<{ tcp: string; http: string }> {
    await waitFor(() => this.listening("TCP") !== null && this.listening("HTTP") !== null, {
      timeoutMs: 10_000,
      message: this.lines.join("\n"),
    });
    return { tcp: this.listening("TCP")!, http: this.listening("HTTP")! };
  }

  async close(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // exited
    }
    await this.#child.status;
    await this.#pump;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function goNsqd(extra: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "go_nsqd_" });
  const p = new GoProc("nsqd", [
    "--tcp-address=127.0.0.1:0",
    "--http-address=127.0.0.1:0",
    "--broadcast-address=127.0.0.1",
    `--data-path=${dir}`,
    ...extra,
  ], dir);
  return { proc: p, ...await p.ready() };
}

const text = (m: Message) => new TextDecoder().decode(m.body);

Deno.test({
  name: "go nsqd 1.3: Producer PUB/MPUB/DPUB, exact E_ error, TLS/snappy/deflate consume",
  ignore,
  async fn() {
    const n = await goNsqd([
      `--tls-cert=${cert("server.pem")}`,
      `--tls-key=${cert("server.key")}`,
    ]);
    try {
      const topic = uniqueName();
      await using p = new Producer(n.tcp);
      await p.publish(topic, "one");
      await p.multiPublish(topic, ["two", "three"]);
      await p.deferredPublish(topic, 50, "four");
      const err = await p.publish("bad!", "x").then(() => null, (e) => e);
      assert.ok(err instanceof ProducerError);
      assert.equal(err.message, 'E_BAD_TOPIC PUB topic name "bad!" is not valid');
      await p.publish(topic, "five");
      const ca = Deno.readTextFileSync(cert("ca.pem"));
      const variants = [
        { tlsV1: true, tlsConfig: { caCerts: [ca] } },
        { snappy: true },
        { deflate: true },
        { tlsV1: true, tlsConfig: { caCerts: [ca] }, snappy: true },
      ];
      for (const [i, v] of variants.entries()) {
        const got: string[] = [];
        const c = new Consumer(topic, `ch${i}`, { ...v, maxInFlight: 10 });
        c.addHandler((m) => {
          got.push(text(m));
        });

        await c.connectToNsqd(n.tcp);

        // Messages published before the channel existed went to ch0 only; publish more.
        await using pv = new Producer(n.tcp, v);
        await pv.publish(topic, `v${i}`);
        await waitFor(() => got.includes(`v${i}`), { message: `variant ${i}: ${got}` });
        if (i === 0) await waitFor(() => got.length === 6, { message: `got ${got}` });

        await c.stop();
      }
    } finally {
      await n.proc.close();
    }
  },
});

Deno.test({
  name: "go nsqd 1.3: maxInFlight 100 over 3 nsqd via Go nsqlookupd; one stops, one joins",
  ignore,
  async fn() {
    const ldir = await Deno.makeTempDir({ prefix: "go_lookupd_" });
    const lookupd = new GoProc("nsqlookupd", [
      "--tcp-address=127.0.0.1:0",
      "--http-address=127.0.0.1:0",
      "--broadcast-address=127.0.0.1",
    ], ldir);
    const l = await lookupd.ready();
    const nodes = [];
    const got = new Map<string, number>();
    const topic = uniqueName();
    const c = new Consumer(topic, "ch", { maxInFlight: 100, lookupdPollInterval: 200 });
    c.addHandler((m) => {
      got.set(text(m), (got.get(text(m)) ?? 0) + 1);
    }, { concurrency: 10 });
    const publish = async (addr: string, prefix: string, n: number) => {
      await using p = new Producer(addr);
      const bodies = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
      await p.multiPublish(topic, bodies);
      return bodies;
    };
    try {
      for (let i = 0; i < 3; i++) nodes.push(await goNsqd([`--lookupd-tcp-address=${l.tcp}`]));
      const sent: string[] = [];
      for (const [i, n] of nodes.entries()) sent.push(...await publish(n.tcp, `a${i}-`, 300));
      await waitFor(async () => {
        const r = await fetch(`http://${l.http}/lookup?topic=${topic}`);
        const body = await r.json();
        return r.status === 200 && body.producers?.length === 3;
      });
      await c.connectToNsqlookupd(l.http);
      assert.deepEqual([...c.rdyCounts().values()], [33, 33, 33]);
      await waitFor(() => got.size === sent.length, { message: `${got.size}/${sent.length}` });
      const gone = nodes.shift()!;
      await gone.proc.close();
      await waitFor(() => c.stats().connections === 2);
      assert.deepEqual([...c.rdyCounts().values()], [50, 50]);
      nodes.push(await goNsqd([`--lookupd-tcp-address=${l.tcp}`]));
      sent.push(...await publish(nodes[2].tcp, "b-", 300));
      sent.push(...await publish(nodes[0].tcp, "c-", 300));
      await waitFor(() => c.stats().connections === 3, { message: "joined" });
      await waitFor(() => got.size === sent.length, { message: `${got.size}/${sent.length}` });
      assert.ok([...got.values()].every((v) => v === 1));
    } finally {
      await c.stop();
      for (const n of nodes) await n.proc.close();
      await lookupd.close();
    }
  },
});
