/**
 * Against Go binaries, when the environment names them (skipped otherwise):
 * - `GO_NSQ_BIN=<dir with Go NSQ 1.3's tools>`: Go's nsq_tail, using one gossiping nsqd's HTTP
 *   address as its `--lookupd-http-address`, receives every message published on three nodes.
 * - `GO_NSQD_DEV=<NSQ dev-branch nsqd>`: a mixed cluster: the dev-branch nsqd seeds, ours joins,
 *   and each side's topics are in the other's `/lookup`.
 */
import assert from "node:assert/strict";
import { uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";
import {
  FAST,
  freePort,
  type GossipNsqd,
  lookupNames,
  startGossipNsqd,
  stopAll,
  waitLookup,
} from "./_gossip.ts";

function exists(p: string | undefined): p is string {
  if (!p) return false;
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

const goBin = Deno.env.get("GO_NSQ_BIN");
const nsqTail = goBin ? `${goBin}/nsq_tail` : undefined;
const devNsqd = Deno.env.get("GO_NSQD_DEV");

Deno.test({
  name: "gossip/go: Go's nsq_tail with an nsqd as its lookupd gets messages from 3 nodes",
  ignore: !exists(nsqTail),
  async fn() {
    const nodes: GossipNsqd[] = [];
    try {
      nodes.push(await startGossipNsqd({ extra: FAST }));
      nodes.push(
        ...await Promise.all(
          [1, 2].map(() => startGossipNsqd({ seeds: [nodes[0].gossip], extra: FAST })),
        ),
      );
      const topic = uniqueName("tail");
      for (const n of nodes) {
        const r = await fetch(`http://${n.http}/topic/create?topic=${topic}`, { method: "POST" });
        await r.body?.cancel();
      }
      await waitLookup(nodes, topic, nodes.map((n) => n.name), 5000);
      const tail = new Deno.Command(nsqTail!, {
        args: [`--lookupd-http-address=${nodes[1].http}`, `--topic=${topic}`, "--n=15"],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const out = tail.output();
      try {
        // nsq_tail's ephemeral channel registers on every node once it is connected
        await waitFor(async () => {
          const r = await fetch(`http://${nodes[0].http}/lookup?topic=${topic}`);
          const body = await r.json();
          return body.channels.length > 0 &&
            (await Promise.all(nodes.map(async (n) => {
              const s = await (await fetch(`http://${n.http}/stats?format=json&topic=${topic}`))
                .json();
              return s.topics?.[0]?.channels?.length > 0;
            }))).every(Boolean);
        }, { timeoutMs: 10_000, intervalMs: 50, message: "nsq_tail connected to all 3" });
        const want: string[] = [];
        for (const [i, n] of nodes.entries()) {
          for (let k = 0; k < 5; k++) {
            const body = `tail-${i}-${k}`;
            want.push(body);
            const r = await fetch(`http://${n.http}/pub?topic=${topic}`, { method: "POST", body });
            await r.body?.cancel();
          }
        }
        const r = await out;
        const got = new TextDecoder().decode(r.stdout).trim().split("\n").sort();
        assert.deepEqual(got, want.sort());
      } finally {
        try {
          tail.kill("SIGKILL");
        } catch { /* exited */ }
        await out.catch(() => {});
      }
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "gossip/go: a mixed cluster with NSQ's dev-branch nsqd",
  ignore: !exists(devNsqd),
  async fn() {
    const nodes: GossipNsqd[] = [];
    const dir = await Deno.makeTempDir({ prefix: "nsqd_dev_" });
    const tcp = freePort(), http = freePort(), gossip = freePort();
    const dev = new Deno.Command(devNsqd!, {
      args: [
        `--tcp-address=127.0.0.1:${tcp}`,
        `--http-address=127.0.0.1:${http}`,
        "--broadcast-address=127.0.0.1",
        `--data-path=${dir}`,
        `--gossip-address=127.0.0.1:${gossip}`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitFor(async () => {
        try {
          const r = await fetch(`http://127.0.0.1:${http}/info`);
          await r.body?.cancel();
          return r.ok;
        } catch {
          return false;
        }
      }, { timeoutMs: 5000, message: "dev nsqd up" });
      nodes.push(await startGossipNsqd({ seeds: [`127.0.0.1:${gossip}`], extra: FAST }));
      const ours = uniqueName("ours"), theirs = uniqueName("theirs");
      await (await fetch(`http://${nodes[0].http}/topic/create?topic=${ours}`, { method: "POST" }))
        .body?.cancel();
      await (await fetch(`http://127.0.0.1:${http}/topic/create?topic=${theirs}`, {
        method: "POST",
      })).body?.cancel();
      const devName = `127.0.0.1:${tcp}`;
      await waitFor(
        async () =>
          (await lookupNames(`127.0.0.1:${http}`, ours)).includes(nodes[0].name) &&
          (await lookupNames(nodes[0].http, theirs)).includes(devName),
        {
          timeoutMs: 5000,
          message: "topics cross both ways",
        },
      );
    } finally {
      try {
        dev.kill("SIGKILL");
      } catch { /* exited */ }
      await dev.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await stopAll(nodes);
    }
  },
});
