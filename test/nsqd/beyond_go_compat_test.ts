/**
 * Beyond NSQ (docs/beyond-nsq.md): Go nsqd 1.3 starts on a data directory our nsqd wrote with
 * every beyond-NSQ feature on (dead-letter config keys in nsqd.dat, deferred index files,
 * spilled deferred messages, a dead-letter topic) and delivers every message.
 *
 * Needs Go's nsqd: NSQ_GO_BIN=/path/to/nsq-1.3/bin (the folder holding `nsqd`); skipped without.
 */
import assert from "node:assert/strict";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { connectSub } from "../_util/protocol.ts";
import { waitFor } from "../_util/wait.ts";
import { V2Conn } from "../_util/wire.ts";

const GO_BIN = Deno.env.get("NSQ_GO_BIN") ?? "";
const td = new TextDecoder();

/** Go nsqd on 127.0.0.1 port 0 over `dir`; stopped with SIGTERM. */
class GoNsqd implements AsyncDisposable {
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #pump: Promise<void>;
  #stopped: Promise<Deno.CommandStatus> | null = null;

  constructor(dir: string) {
    const child = this.#child = new Deno.Command(`${GO_BIN}/nsqd`, {
      args: ["--data-path", dir, "--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#pump = (async () => {
      let partial = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        const parts = (partial + chunk).split("\n");
        partial = parts.pop()!;
        this.lines.push(...parts);
      }
    })();
  }

  address(re: RegExp): string | null {
    for (const l of this.lines) {
      const m = re.exec(l);
      if (m) return m[1];
    }
    return null;
  }

  get tcpAddress(): string {
    return this.address(/TCP: listening on (\S+)/)!;
  }

  get httpAddress(): string {
    return this.address(/HTTP: listening on (\S+)/)!;
  }

  async ready(): Promise<void> {
    await waitFor(
      () =>
        this.address(/TCP: listening on (\S+)/) !== null &&
        this.address(/HTTP: listening on (\S+)/) !== null,
      { timeoutMs: 10_000, message: `Go nsqd listening\n${this.lines.join("\n")}` },
    );
  }

  stop(): Promise<Deno.CommandStatus> {
    if (this.#stopped === null) {
      try {
        this.#child.kill("SIGTERM");
      } catch { /* exited */ }
      this.#stopped = this.#child.status.then(async (s) => {
        await this.#pump;
        return s;
      });
    }
    return this.#stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Receives and FINs messages until `n` arrived and nothing more comes for 300 ms. */
async function consume(addr: string, topic: string, channel: string, n: number) {
  await using c = await connectSub(addr, topic, channel, { rdy: 200 });
  const bodies: string[] = [];
  while (bodies.length < n) {
    const m = await c.expectMessage({ timeoutMs: 5000 });
    bodies.push(td.decode(m.body));
    await c.fin(m.id);
  }
  let extra: string | null = null;
  try {
    extra = td.decode((await c.expectMessage({ timeoutMs: 300 })).body);
  } catch { /* none: expected */ }
  assert.equal(extra, null, `an extra message on ${topic}/${channel}`);
  return bodies.sort();
}

Deno.test({
  name: GO_BIN === ""
    ? "Go nsqd 1.3 on our data dir (skipped: set NSQ_GO_BIN=/work/go/nsq-1.3/bin to run)"
    : "Go nsqd 1.3 starts on our data dir with beyond-NSQ features on and delivers every message",
  ignore: GO_BIN === "",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_go_compat_" });
    try {
      const topic = uniqueName("gocompat");
      const dlq = `${topic}.dlq`;
      const plain = Array.from({ length: 20 }, (_, i) => `p${i}`);
      const later = Array.from({ length: 5 }, (_, i) => `d${i}`);
      {
        await using d = await startNsqd({
          httpAddress: "127.0.0.1:0",
          maxTopicDepth: 1000,
          maxAttempts: 5,
          deadLetterTopicSuffix: ".dlq",
          maxDeferredInMemory: 2,
          persistDeferred: true,
        }, dir);
        const post = async (path: string) => {
          const r = await fetch(`http://${d.httpAddress}${path}`, { method: "POST" });
          assert.equal(r.status, 200, `${path}: ${await r.text()}`);
        };
        await post(`/topic/create?topic=${topic}`);
        await post(`/channel/create?topic=${topic}&channel=c1`);
        await post(`/channel/create?topic=${topic}&channel=c2`);
        await post(
          `/channel/config?topic=${topic}&channel=c1&max_attempts=1&dead_letter_topic=${dlq}`,
        );
        await using pub = await V2Conn.connect(d.tcpAddress);
        await pub.mpub(topic, plain);
        await pub.expectResponse("OK");
        for (const b of later) await pub.dpub(topic, 60_000, b);
        for (const _ of later) await pub.expectResponse("OK");
        // c1: p0 is REQ'd at its last attempt (dead-lettered); p1 is REQ'd for a minute
        {
          await using sub = await connectSub(d, topic, "c1", { rdy: 1 });
          const m0 = await sub.expectMessage();
          assert.equal(td.decode(m0.body), "p0");
          await sub.req(m0.id, 0);
          await waitFor(() => d.nsqd.getExistingTopic(dlq)?.depth === 1, {
            message: "dead-lettered",
          });
          await post(`/channel/config?topic=${topic}&channel=c1&max_attempts=0`);
          const m1 = await sub.expectMessage();
          assert.equal(td.decode(m1.body), "p1");
          await sub.rdy(0); // so that the REQ does not open the window for another
          await sub.req(m1.id, 60_000);
          const ch = d.nsqd.getExistingTopic(topic)!.getExistingChannel("c1")!;
          await waitFor(() => ch.deferredCount === 6 && ch.inFlightCount === 0, {
            message: `c1 deferred ${ch.deferredCount}, in flight ${ch.inFlightCount}`,
          });
        }
      }
      // our files are there: the index, the extra nsqd.dat keys; no spill files after a clean exit
      const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.ok(files.includes(`${topic}:c1:deferred.dat`), files.join(" "));
      assert.ok(files.includes(`${topic}:c2:deferred.dat`), files.join(" "));
      assert.equal(
        files.filter((f) => f.includes(":deferred.diskqueue")).length,
        0,
        files.join(" "),
      );
      const meta = await Deno.readTextFile(`${dir}/nsqd.dat`);
      assert.match(meta, /"max_attempts":0,"dead_letter_topic":/);

      {
        await using go = new GoNsqd(dir);
        await go.ready();
        const c1 = await consume(go.tcpAddress, topic, "c1", 24);
        assert.deepEqual(c1, [...plain.slice(1), ...later].sort());
        const c2 = await consume(go.tcpAddress, topic, "c2", 25);
        assert.deepEqual(c2, [...plain, ...later].sort());
        const d1 = await consume(go.tcpAddress, dlq, "inspect", 1);
        assert.deepEqual(d1, ["p0"]);
        const st = await go.stop();
        if (Deno.env.get("NSQ_TEST_LOG") === "1") console.error(go.lines.join("\n"));
        assert.equal(st.code, 0, go.lines.join("\n"));
      }
      // Go rewrote nsqd.dat without our keys; the index files it ignored are now stale
      const goMeta = await Deno.readTextFile(`${dir}/nsqd.dat`);
      assert.doesNotMatch(goMeta, /max_attempts/);
      await using d2 = await startNsqd({ persistDeferred: true }, dir);
      assert.ok(d2.logs.some((l) => l.includes("DEFERRED: ignoring")), d2.logs.join("\n"));
      assert.equal(d2.nsqd.getExistingTopic(topic)!.getExistingChannel("c1")!.depth, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
