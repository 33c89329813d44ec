/**
 * Interop with HashiCorp's own Serf (Debian's `serf` 0.8): a `serf agent` joins our nsqd cluster
 * and lists our members with NSQ's tags; a `serf event` reaches our nsqd (a `topic+` event names a
 * member and lands in `/lookup`); a `serf query` is acknowledged; a kill -9 nsqd shows as failed in `serf members`; our nsqd joins
 * a cluster Serf agents seeded; and the same with AES-GCM encryption (`-encrypt` / our
 * `--gossip-secret-key`). Skipped when /usr/bin/serf is missing.
 */
import assert from "node:assert/strict";
import { uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";
import {
  FAST,
  gossipMembers,
  type GossipNsqd,
  HAVE_SERF,
  lookupNames,
  SerfAgent,
  startGossipNsqd,
  stopAll,
} from "./_gossip.ts";

const ignore = !HAVE_SERF;
if (ignore) console.warn("serf interop tests skipped: /usr/bin/serf is not installed");

Deno.test({
  name:
    "gossip/serf: a serf agent joins our nsqd cluster, sees our tags, sends an event, sees a failure",
  ignore,
  async fn() {
    const nodes: GossipNsqd[] = [];
    let agent: SerfAgent | null = null;
    try {
      nodes.push(await startGossipNsqd({ extra: FAST }));
      nodes.push(await startGossipNsqd({ seeds: [nodes[0].gossip], extra: FAST }));
      agent = await SerfAgent.start("real-serf-a", ["-tag", "role=serf"]);
      const joined = await agent.run(["join", nodes[0].gossip]);
      assert.ok(joined.ok, joined.out);
      const serf = agent;
      await waitFor(async () => {
        const ms = await serf.members();
        return nodes.every((n) => ms.some((m) => m.name === n.name && m.status === "alive"));
      }, { timeoutMs: 5000, intervalMs: 100, message: "serf members lists our nsqd" });
      const ms = await agent.members();
      const ours = ms.find((m) => m.name === nodes[1].name)!;
      assert.equal(ours.tags.role, "nsqd");
      assert.equal(`127.0.0.1:${ours.tags.tp}`, nodes[1].tcp);
      assert.equal(`127.0.0.1:${ours.tags.hp}`, nodes[1].http);
      assert.equal(ours.tags.ba, "127.0.0.1");
      assert.equal(ours.tags.v, "1.3.0");
      assert.equal(ours.addr, nodes[1].gossip);
      // and our nsqd sees the agent
      await waitFor(
        async () => (await gossipMembers(nodes[1].http)).get("real-serf-a") === "alive",
        {
          timeoutMs: 5000,
          message: "our nsqd lists the serf agent",
        },
      );

      // a member that is not an nsqd is no producer
      const nodesDoc = await (await fetch(`http://${nodes[0].http}/nodes`)).json();
      assert.deepEqual(
        nodesDoc.producers.map((p: { tcp_port: number }) => `127.0.0.1:${p.tcp_port}`).sort(),
        nodes.map((n) => n.name).sort(),
      );

      // a user event sent with `serf event` reaches our nsqd: a topic+ event lands in /lookup
      const topic = uniqueName("from_serf");
      const payload = JSON.stringify({ n: nodes[1].name, t: topic, c: "", r: 1 });
      const ev = await agent.run(["event", "topic+", payload]);
      assert.ok(ev.ok, ev.out);
      await waitFor(async () => (await lookupNames(nodes[0].http, topic)).includes(nodes[1].name), {
        timeoutMs: 3000,
        message: "serf event seen by nsqd",
      });

      // a serf query is acknowledged by our nsqd (filters honoured)
      const q = await agent.run(["query", "-timeout=1s", `-node=${nodes[0].name}`, "ping"]);
      assert.match(q.out, new RegExp(`Ack from '${nodes[0].name.replaceAll(".", "\\.")}'`));
      assert.match(q.out, /Total Acks: 1/);

      // kill -9 one nsqd: serf (default probe settings) marks it failed within 10 s
      await nodes[1].proc.stop("SIGKILL");
      const t0 = performance.now();
      await waitFor(async () => {
        const m = (await serf.members()).find((x) => x.name === nodes[1].name);
        return m?.status === "failed";
      }, { timeoutMs: 10_000, intervalMs: 100, message: "serf members shows failed" });
      console.log(
        `serf agent marked a kill -9 nsqd failed in ${(performance.now() - t0).toFixed(0)} ms`,
      );
    } finally {
      await agent?.stop();
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "gossip/serf: our nsqd joins a cluster seeded by serf agents (plain and encrypted)",
  ignore,
  async fn() {
    const nodes: GossipNsqd[] = [];
    const agents: SerfAgent[] = [];
    try {
      const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
      agents.push(await SerfAgent.start("seed-1"));
      agents.push(await SerfAgent.start("seed-2"));
      agents.push(await SerfAgent.start("secret-1", [`-encrypt=${key}`]));
      const j = await agents[1].run(["join", agents[0].bind]);
      assert.ok(j.ok, j.out);
      nodes.push(await startGossipNsqd({ seeds: [agents[0].bind], extra: FAST }));
      nodes.push(
        await startGossipNsqd({
          seeds: [agents[2].bind],
          extra: [...FAST, "--gossip-secret-key", key],
        }),
      );
      for (
        const [agent, node, others] of [[agents[1], nodes[0], ["seed-1", "seed-2"]], [
          agents[2],
          nodes[1],
          ["secret-1"],
        ]] as const
      ) {
        await waitFor(async () => {
          const m = (await agent.members()).find((x) => x.name === node.name);
          return m?.status === "alive" && m.tags.role === "nsqd";
        }, { timeoutMs: 5000, intervalMs: 100, message: `serf lists ${node.name}` });
        await waitFor(async () => {
          const ours = await gossipMembers(node.http);
          return others.every((o) => ours.get(o) === "alive");
        }, { timeoutMs: 5000, message: `nsqd lists ${others}` });
        assert.equal(await (await fetch(`http://${node.http}/ping`)).text(), "OK");
      }
      const enc = await (await fetch(`http://${nodes[1].http}/stats`)).text();
      assert.match(enc, /encrypted: true/);
    } finally {
      await Promise.all(agents.map((a) => a.stop()));
      await stopAll(nodes);
    }
  },
});
