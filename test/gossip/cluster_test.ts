/**
 * Five real nsqd processes gossiping on loopback (fast probe settings: 200 ms, suspicion
 * multiplier 3): they form one cluster through one seed; a topic created on one shows in every
 * node's `/lookup` within 2 s; an nsqjs consumer using one nsqd's HTTP address as its lookupd
 * gets every message from three nodes; a kill -9 node leaves every `/lookup`; restarted, it
 * rejoins and its topics come back; one that exits gracefully is `left` and dropped at once.
 */
import assert from "node:assert/strict";
import { uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";
import {
  FAST,
  getJson,
  gossipMembers,
  type GossipNsqd,
  lookupNames,
  startGossipNsqd,
  stopAll,
  waitLookup,
} from "./_gossip.ts";

const CONSUMER = new URL("./_nsqjs_consumer.ts", import.meta.url).pathname;

Deno.test("gossip: 5 nsqd form a cluster; discovery, nsqjs via an nsqd as lookupd, kill -9 and rejoin", async () => {
  const nodes: GossipNsqd[] = [];
  try {
    nodes.push(await startGossipNsqd({ extra: FAST }));
    const seed = nodes[0].gossip;
    nodes.push(
      ...await Promise.all(
        [1, 2, 3, 4].map(() => startGossipNsqd({ seeds: [seed], extra: FAST })),
      ),
    );
    const names = nodes.map((n) => n.name).sort();

    // one cluster: every node sees all five alive, with NSQ's tags, and says OK
    await waitFor(async () => {
      for (const n of nodes) {
        const m = await gossipMembers(n.http);
        if (names.some((x) => m.get(x) !== "alive")) return false;
      }
      return true;
    }, { timeoutMs: 10_000, intervalMs: 50, message: "5 members alive everywhere" });
    const stats = (await getJson(`http://${nodes[2].http}/stats?format=json`)).body.gossip;
    const me = stats.members.find((m: { name: string }) => m.name === nodes[0].name);
    assert.equal(me.tags.role, "nsqd");
    assert.equal(`127.0.0.1:${me.tags.tp}`, nodes[0].tcp);
    assert.equal(`127.0.0.1:${me.tags.hp}`, nodes[0].http);
    assert.equal(me.tags.ba, "127.0.0.1");
    assert.equal(me.tags.v, "1.3.0");
    assert.ok(me.tags.h);
    const ping = await fetch(`http://${nodes[3].http}/ping`);
    assert.equal(ping.status, 200);
    assert.equal(await ping.text(), "OK");
    const cfg = await getJson(`http://${nodes[1].http}/config/gossip_seed_address`);
    assert.deepEqual(cfg.body, [seed]);

    // a topic created on node 3 is in every /lookup within 2 s
    const topic = uniqueName("gossip");
    const t0 = performance.now();
    const created = await fetch(`http://${nodes[2].http}/topic/create?topic=${topic}`, {
      method: "POST",
    });
    await created.body?.cancel();
    await waitLookup(nodes, topic, [nodes[2].name], 2000);
    const spread = performance.now() - t0;
    assert.ok(spread < 2000, `spread in ${spread} ms`);
    const nodesDoc = (await getJson(`http://${nodes[4].http}/nodes`)).body;
    assert.equal(nodesDoc.producers.length, 5);
    const topicsDoc = (await getJson(`http://${nodes[0].http}/topics`)).body;
    assert.ok(topicsDoc.topics.includes(topic));

    // messages on nodes 1, 2 and 5 all reach a consumer that discovers through node 4
    const bodies: string[] = [];
    for (const [i, n] of [0, 1, 4].entries()) {
      for (let k = 0; k < 5; k++) {
        const body = `m-${i}-${k}`;
        bodies.push(body);
        const r = await fetch(`http://${nodes[n].http}/pub?topic=${topic}`, {
          method: "POST",
          body,
        });
        assert.equal(await r.text(), "OK");
      }
    }
    const producers = [nodes[0].name, nodes[1].name, nodes[2].name, nodes[4].name];
    await waitLookup(nodes, topic, producers, 3000);
    const consumer = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CONSUMER, topic, "ch", nodes[3].http, String(bodies.length), "15000"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const got = new TextDecoder().decode(consumer.stdout).trim().split("\n").sort();
    assert.ok(consumer.success, new TextDecoder().decode(consumer.stderr));
    assert.deepEqual(got, bodies.sort());
    // the consumer's channel shows up too
    await waitFor(async () => {
      const r = await getJson(`http://${nodes[3].http}/lookup?topic=${topic}`);
      return r.body.channels?.includes("ch");
    }, { timeoutMs: 2000, message: "channel ch in /lookup" });

    // kill -9 node 5: it leaves every /lookup
    const victim = nodes[4];
    const rest = nodes.slice(0, 4);
    await victim.proc.stop("SIGKILL");
    const k0 = performance.now();
    await waitLookup(rest, topic, producers.filter((p) => p !== victim.name), 10_000);
    const detect = performance.now() - k0;
    await waitFor(async () => (await gossipMembers(rest[0].http)).get(victim.name) === "failed", {
      timeoutMs: 5000,
      message: "victim failed",
    });
    console.log(
      `gossip: topic spread ${spread.toFixed(0)} ms, kill -9 detected in ${detect.toFixed(0)} ms`,
    );

    // restarted on the same addresses and data, it rejoins and its topic comes back
    nodes[4] = await startGossipNsqd({
      seeds: [seed],
      dataPath: victim.dataPath,
      tcp: victim.tcp,
      http: victim.http,
      gossip: victim.gossip,
      extra: FAST,
    });
    await waitLookup(nodes, topic, producers, 10_000);
    assert.deepEqual(await lookupNames(nodes[4].http, topic), [...producers].sort());

    // a graceful exit (SIGTERM) is a Serf leave: the others see "left" and drop it at once
    await nodes[1].proc.stop("SIGTERM");
    const stayed = [nodes[0], nodes[2], nodes[3], nodes[4]];
    await waitLookup(stayed, topic, producers.filter((p) => p !== nodes[1].name), 3000);
    assert.equal((await gossipMembers(nodes[0].http)).get(nodes[1].name), "left");
  } finally {
    await stopAll(nodes);
  }
});
