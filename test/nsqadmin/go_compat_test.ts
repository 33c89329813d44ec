/**
 * Our nsqadmin against Go nsqadmin 1.3 over the same Go NSQ cluster (Go nsqlookupd + Go nsqd):
 * every read endpoint answers the same status and the same JSON, bad input the same errors,
 * and our actions take effect on Go nsqd and nsqlookupd. Runs only when NSQ_GO_BIN names a
 * directory with Go's nsqd, nsqlookupd and nsqadmin (e.g. NSQ_GO_BIN=/path/to/nsq-1.3/bin).
 *
 * Known, deliberate difference: in GET /api/topics/:topic Go puts the first node's own channel
 * object in `channels` (so with one node its `node` is that node and `nodes` is null, and with
 * several nodes the first node's row is mutated); we give every channel a cluster-wide sum with
 * `node: "*"` and the per-node rows under `nodes`, as the channel endpoint does.
 */
import assert from "node:assert/strict";
import { Logger } from "../../lib/internal/log.ts";
import { Nsqadmin } from "../../lib/nsqadmin/nsqadmin.ts";
import { defaultNsqadminOptions } from "../../lib/nsqadmin/options.ts";
import { uniqueName } from "../_util/nsqd.ts";
import { connectSub } from "../_util/protocol.ts";
import { waitFor } from "../_util/wait.ts";

const GO_BIN = Deno.env.get("NSQ_GO_BIN") ?? "";

/** A Go NSQ binary on port 0; its bound HTTP address from the `HTTP: listening on` log line. */
class GoProc implements AsyncDisposable {
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #pump: Promise<void>;
  constructor(bin: string, args: string[]) {
    const child = new Deno.Command(`${GO_BIN}/${bin}`, { args, stderr: "piped", stdout: "null" })
      .spawn();
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
  async address(kind: "TCP" | "HTTP"): Promise<string> {
    const re = new RegExp(`${kind}: listening on (\\S+)`);
    let found = "";
    await waitFor(() => {
      for (const l of this.lines) {
        const m = re.exec(l);
        if (m) found = m[1];
      }
      return found !== "";
    }, { timeoutMs: 10_000, message: `${kind} address in ${this.lines.join("\n")}` });
    return found.replace("[::]", "127.0.0.1");
  }
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    await this.#child.status;
    await this.#pump;
  }
}

/** GET/POST on one nsqadmin: status and body text. */
async function call(base: string, method: string, path: string, body?: string) {
  const r = await fetch(base + path, { method, body });
  return { status: r.status, text: await r.text() };
}

/** JSON with client `connected` durations zeroed (computed at slightly different instants). */
function normalize(text: string): unknown {
  try {
    return JSON.parse(text, (k, v) => k === "connected" ? 0 : v);
  } catch {
    return text;
  }
}

Deno.test({
  name: "nsqadmin vs Go nsqadmin 1.3 over a Go cluster: same answers, our actions reach Go",
  ignore: GO_BIN === "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqadmin_go_" });
    try {
      await using lookupd = new GoProc("nsqlookupd", [
        "--tcp-address=127.0.0.1:0",
        "--http-address=127.0.0.1:0",
      ]);
      const lookupdTcp = await lookupd.address("TCP");
      const lookupdHttp = await lookupd.address("HTTP");
      await using nsqd = new GoProc("nsqd", [
        "--tcp-address=127.0.0.1:0",
        "--http-address=127.0.0.1:0",
        "--broadcast-address=127.0.0.1",
        `--lookupd-tcp-address=${lookupdTcp}`,
        `--data-path=${dir}`,
      ]);
      const nsqdTcp = await nsqd.address("TCP");
      const nsqdHttp = await nsqd.address("HTTP");
      await using goAdmin = new GoProc("nsqadmin", [
        "--http-address=127.0.0.1:0",
        `--lookupd-http-address=${lookupdHttp}`,
      ]);
      const goBase = `http://${await goAdmin.address("HTTP")}`;
      await using ours = new Nsqadmin({
        ...defaultNsqadminOptions(),
        httpAddress: "127.0.0.1:0",
        nsqlookupdHttpAddresses: [lookupdHttp],
        historyWindow: 0,
      }, new Logger("[nsqadmin] ", "fatal"));
      await ours.start();
      const ourBase = `http://${ours.httpAddress}`;

      const topic = uniqueName("go");
      const pub = await fetch(`http://${nsqdHttp}/pub?topic=${topic}`, {
        method: "POST",
        body: "hello",
      });
      await pub.body?.cancel();
      const sub = await connectSub(nsqdTcp, topic, "ch", {
        identify: { client_id: "cmp", hostname: "cmp-host", user_agent: "cmp/1.0" },
      });
      try {
        await waitFor(async () => {
          const r = await call(goBase, "GET", "/api/nodes");
          return r.text.includes(topic);
        }, { message: "lookupd knows the topic" });
        const node = nsqdHttp;
        const same: [string, string, string?][] = [
          ["GET", "/api/topics"],
          ["GET", "/api/topics?inactive=true"],
          ["GET", `/api/topics/${topic}/ch`],
          ["GET", `/api/topics/${topic}/nope`],
          ["GET", "/api/topics/no_such_topic"],
          ["GET", "/api/nodes"],
          ["GET", `/api/nodes/${node}`],
          ["GET", "/api/nodes/127.0.0.1:1"],
          ["GET", "/api/counter"],
          ["GET", "/api/graphite"],
          ["GET", "/config/nsqlookupd_http_addresses"],
          ["GET", "/config/log_level"],
          ["GET", "/config/http_client_connect_timeout"],
          ["GET", "/config/nope"],
          ["GET", "/ping"],
          ["GET", "/nope"],
          ["POST", `/api/topics/${topic}/ch`, ""],
          ["POST", `/api/topics/${topic}/ch`, "xx"],
          ["POST", `/api/topics/${topic}/ch`, '{"action":1}'],
          ["POST", `/api/topics/${topic}/ch`, '{"action":"bogus"}'],
          ["POST", "/api/topics", '{"topic":"bad!"}'],
          ["POST", "/api/topics", '{"topic":"ok","channel":"bad!"}'],
          ["POST", "/api/topics", "[]"],
          ["DELETE", `/api/nodes/${node}`, "xx"],
          ["DELETE", `/api/nodes/${node}`, '{"topic":"a b"}'],
          ["POST", "/api/topics/no_such_topic", '{"action":"pause"}'],
        ];
        for (const [method, path, body] of same) {
          const g = await call(goBase, method, path, body);
          const o = await call(ourBase, method, path, body);
          assert.equal(o.status, g.status, `${method} ${path} ${body ?? ""}`);
          assert.deepEqual(normalize(o.text), normalize(g.text), `${method} ${path} ${body ?? ""}`);
        }
        // The topic endpoint: the same but for the documented `channels` difference.
        const gt = JSON.parse((await call(goBase, "GET", `/api/topics/${topic}`)).text);
        const ot = JSON.parse((await call(ourBase, "GET", `/api/topics/${topic}`)).text);
        // Go's channel row is the node's own; ours is the sum with that row under `nodes`.
        assert.equal(ot.channels.length, gt.channels.length);
        assert.equal(ot.channels[0].node, "*");
        assert.deepEqual(ot.channels[0].nodes, [gt.channels[0]]);
        for (const k of ["depth", "message_count", "in_flight_count", "client_count", "paused"]) {
          assert.equal(ot.channels[0][k], gt.channels[0][k], k);
        }
        assert.deepEqual({ ...ot, channels: null }, { ...gt, channels: null });
        assert.equal(gt.channels[0].channel_name, ot.channels[0].channel_name);
        assert.equal(gt.channels[0].depth, ot.channels[0].depth);

        // Our actions on the Go cluster.
        const stats = async () => {
          const r = await fetch(`http://${nsqdHttp}/stats?format=json&topic=${topic}`);
          return (await r.json()).topics[0];
        };
        let r = await call(ourBase, "POST", `/api/topics/${topic}/ch`, '{"action":"pause"}');
        assert.deepEqual(r, { status: 200, text: '{"message":""}' });
        assert.equal((await stats()).channels[0].paused, true);
        r = await call(ourBase, "POST", `/api/topics/${topic}`, '{"action":"empty"}');
        assert.equal(r.status, 200);
        assert.equal((await stats()).depth, 0);
        r = await call(ourBase, "POST", "/api/topics", `{"topic":"${topic}","channel":"made"}`);
        assert.deepEqual(r, { status: 200, text: '{"message":""}' });
        assert.ok(
          (await stats()).channels.some((c: { channel_name: string }) => c.channel_name === "made"),
        );
        r = await call(ourBase, "DELETE", `/api/topics/${topic}/made`);
        assert.equal(r.status, 200);
        assert.ok(
          !(await stats()).channels.some((c: { channel_name: string }) =>
            c.channel_name === "made"
          ),
        );
        r = await call(ourBase, "DELETE", `/api/nodes/${node}`, `{"topic":"${topic}"}`);
        assert.deepEqual(r, { status: 200, text: '{"message":""}' });
        const after = await (await fetch(`http://${nsqdHttp}/stats?format=json&topic=${topic}`))
          .json();
        assert.equal((after.topics ?? []).length, 0, "tombstone deleted the topic on Go nsqd");
        const ln = await (await fetch(`http://${lookupdHttp}/nodes`)).json();
        const p = ln.producers[0];
        const i = p.topics.indexOf(topic);
        if (i >= 0) assert.equal(p.tombstones[i], true, "Go lookupd tombstoned it");
      } finally {
        await sub.close().catch(() => {});
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
