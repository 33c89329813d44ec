/**
 * A partition heals: five Serf members (our lib/gossip, real UDP and TCP sockets on loopback, in
 * this process) split two from three with a test-only hook that drops traffic between the
 * sides' gossip ports; each side marks the other failed; when the hook lets traffic through
 * again, Serf's reconnect loop and memberlist's refutation bring every member back to alive
 * everywhere. Fast settings: 100 ms probes, suspicion multiplier 2, reconnect every 300 ms.
 */
import assert from "node:assert/strict";
import { Logger } from "../../lib/internal/log.ts";
import { Serf, type SerfEvent } from "../../lib/gossip/mod.ts";
import { waitFor } from "../_util/wait.ts";

function statuses(s: Serf): Map<string, string> {
  return new Map(s.members().map((m) => [m.name, m.status]));
}

Deno.test("gossip: a partition of two from three heals", async () => {
  const blocked = new Set<string>(); // "portA>portB" pairs that may not talk
  const logger = new Logger("[gossip] ", Deno.env.get("NSQ_TEST_LOG") === "1" ? "debug" : "fatal");
  const members: Serf[] = [];
  const ports: number[] = [];
  const events: SerfEvent[][] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const idx = i;
      const evs: SerfEvent[] = [];
      events.push(evs);
      const s = new Serf({
        nodeName: `m${i}`,
        tags: { role: "test", i: String(i) },
        bindAddr: "127.0.0.1",
        bindPort: 0,
        probeInterval: 100,
        probeTimeout: 50,
        suspicionMult: 2,
        gossipInterval: 50,
        gossipToTheDeadTime: 1000,
        pushPullInterval: 1000,
        reconnectInterval: 300,
        broadcastTimeout: 200,
        onEvent: (e) => evs.push(e),
        dropPeer: (addr) => {
          const port = Number(addr.slice(addr.lastIndexOf(":") + 1));
          return blocked.has(`${ports[idx]}>${port}`);
        },
      }, logger);
      await s.start();
      members.push(s);
      ports.push(s.memberlist.port);
    }
    for (let i = 1; i < 5; i++) {
      const r = await members[i].join([`127.0.0.1:${ports[0]}`]);
      assert.equal(r.joined, 1, r.errors.join());
    }
    const names = members.map((m) => m.name);
    const allAlive = () =>
      members.every((s) => {
        const st = statuses(s);
        return names.every((n) => st.get(n) === "alive");
      });
    await waitFor(allAlive, { timeoutMs: 5000, message: "all alive" });

    // partition {m0, m1} | {m2, m3, m4}
    const a = [0, 1], b = [2, 3, 4];
    for (const x of a) {
      for (const y of b) {
        blocked.add(`${ports[x]}>${ports[y]}`);
        blocked.add(`${ports[y]}>${ports[x]}`);
      }
    }
    await waitFor(
      () =>
        a.every((x) => b.every((y) => statuses(members[x]).get(`m${y}`) === "failed")) &&
        b.every((y) => a.every((x) => statuses(members[y]).get(`m${x}`) === "failed")),
      {
        timeoutMs: 8000,
        message: "each side sees the other failed",
      },
    );
    assert.equal(statuses(members[0]).get("m1"), "alive");
    assert.equal(statuses(members[3]).get("m4"), "alive");
    assert.ok(events[0].some((e) => e.type === "member-failed"));

    // let memberlist forget the other side (past gossipToTheDeadTime), so healing needs Serf's
    // reconnect loop rather than gossip to recently dead members
    await waitFor(
      () =>
        a.every((x) => !members[x].memberlist.members().some((n) => n.name === "m2")) &&
        b.every((y) => !members[y].memberlist.members().some((n) => n.name === "m0")),
      {
        timeoutMs: 5000,
        message: "dead members forgotten by memberlist",
      },
    );

    // heal
    blocked.clear();
    const t0 = performance.now();
    await waitFor(allAlive, { timeoutMs: 15_000, intervalMs: 50, message: "healed" });
    console.log(`partition healed in ${(performance.now() - t0).toFixed(0)} ms`);
  } finally {
    await Promise.all(members.map((m) => m.close()));
  }
});
