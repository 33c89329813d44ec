/**
 * Cluster discovery end to end (issue 6; docs/nsqlookupd.md, docs/nsqd.md#lookup-loop) with real
 * processes on loopback: nsqds register their topics and channels with every nsqlookupd, deregister
 * on delete and on death, re-register with a restarted lookupd, and lookupd tombstones hide a
 * producer for the tombstone lifetime. Also channel pre-creation: a topic created on nsqd starts
 * with the channels lookupd already knows, so messages published before any consumer are kept for
 * them.
 */
import assert from "node:assert/strict";
import {
  channels,
  Cluster,
  expectChannel,
  expectProducers,
  getJson,
  keyOf,
  lookup,
  type NodeJson,
  nodes,
  type NsqdProc,
  nsqdServesHttp,
  type NsqProc,
  pollUntil,
  publish,
  subscribe,
  withLogs,
} from "../_util/procs.ts";

let seq = 0;
/** A topic or channel name unique to this run. */
function name(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${++seq}`;
}

/**
 * A test step that stops the test when it fails (later steps build on earlier ones). An ignored
 * step reports false too: that is not a failure.
 */
async function step(
  t: Deno.TestContext,
  name: string,
  fn: () => Promise<void>,
  ignore = false,
): Promise<void> {
  const passed = await t.step({ name, fn, ignore });
  if (!passed && !ignore) throw new Error(`step failed: ${name}`);
}

/** The `/nodes` entry of `n`, or undefined. */
function nodeOf(list: NodeJson[], n: NsqdProc): NodeJson | undefined {
  return list.find((p) => p.broadcast_address === "127.0.0.1" && p.tcp_port === n.proc.tcpPort);
}

/** `{topic: tombstoned}` of a `/nodes` entry (topics come in registration-map order). */
function tombstonesOf(node: NodeJson): Record<string, boolean> {
  assert.equal(node.tombstones.length, node.topics.length, "tombstones align with topics");
  return Object.fromEntries(node.topics.map((t, i) => [t, node.tombstones[i]]));
}

/** Polls `/nodes` on `lookupd` until every nsqd is listed with exactly its topics. */
async function expectNodes(
  lookupd: NsqProc,
  want: Map<NsqdProc, string[]>,
  timeoutMs = 5000,
): Promise<NodeJson[]> {
  let last: NodeJson[] = [];
  const wantText = JSON.stringify(
    [...want].map(([n, topics]) => [keyOf(n), [...topics].sort()]).sort(),
  );
  await pollUntil(
    async () => {
      last = await nodes(lookupd);
      const got = last.map((p) => [`${p.broadcast_address}:${p.tcp_port}`, [...p.topics].sort()]);
      return JSON.stringify(got.sort()) === wantText;
    },
    () => `${lookupd.name} /nodes: want ${wantText}, last got ${JSON.stringify(last)}`,
    timeoutMs,
  );
  return last;
}

/** Longest wait for a re-registration driven by nsqd's PING (every 15 s in nsqd) plus margin. */
const PING_PERIOD_WAIT_MS = 20_000;

Deno.test("cluster: 2 nsqlookupd + 3 nsqd register, deregister, die, tombstone, re-register", async (t) => {
  await using cluster = new Cluster();
  await withLogs(cluster, async () => {
    const lookupdArgs = ["--tombstone-lifetime=2s"];
    // Lookupds first (nsqds need their addresses); the nsqd HTTP probe runs meanwhile.
    const [[l0, l1]] = await Promise.all([
      cluster.startLookupds(2, lookupdArgs),
      nsqdServesHttp(),
    ]);
    const [n0, n1, n2] = await cluster.startNsqds(3);
    const hasHttp = await nsqdServesHttp();
    let lookupds = [l0, l1];

    const tA = name("a"); // only on n0
    const tB = name("b"); // only on n1
    const tAll = name("all"); // on every nsqd
    const ch = "ch";
    const eph = "eph#ephemeral";
    let tBDeleted = false;

    await step(
      t,
      "topics published on different nsqd are registered with both lookupds",
      async () => {
        await Promise.all([
          publish(n0, tA, ["a"]),
          publish(n1, tB, ["b"]),
          ...[n0, n1, n2].map((n) => publish(n, tAll, ["x", "y"])),
        ]);
        await expectProducers(lookupds, tA, [n0]);
        await expectProducers(lookupds, tB, [n1]);
        await expectProducers(lookupds, tAll, [n0, n1, n2]);

        for (const l of lookupds) {
          const all = await lookup(l, tAll);
          for (const n of [n0, n1, n2]) {
            const p = all!.producers.find((p) => p.tcp_port === n.proc.tcpPort);
            assert.ok(p, `${l.name}: ${n.proc.name} in /lookup`);
            assert.equal(p.broadcast_address, "127.0.0.1");
            assert.equal(p.http_port, n.advertisedHttpPort, `${n.proc.name} http_port`);
            assert.equal(p.version, "1.3.0");
            assert.match(p.remote_address, /^127\.0\.0\.1:\d+$/);
            assert.equal(typeof p.hostname, "string");
            assert.notEqual(p.hostname, "");
          }
          const listed = await expectNodes(
            l,
            new Map([[n0, [tA, tAll]], [n1, [tB, tAll]], [n2, [tAll]]]),
          );
          for (const node of listed) {
            assert.ok(Object.values(tombstonesOf(node)).every((x) => !x), "nothing tombstoned");
          }
          const topics = await getJson<{ topics: string[] }>(l.httpAddress!, "/topics");
          for (const topic of [tA, tB, tAll]) assert.ok(topics.body.topics.includes(topic));
        }
      },
    );

    await step(
      t,
      "SUB registers its channel; an ephemeral channel goes with its last consumer",
      async () => {
        const durable = await subscribe(n0, tA, ch);
        const ephemeral = await subscribe(n1, tB, eph);
        try {
          await expectChannel(lookupds, tA, ch, true);
          await expectChannel(lookupds, tB, eph, true);
          for (const l of lookupds) assert.deepEqual((await lookup(l, tA))!.channels, [ch]);
        } finally {
          await durable.close();
          await ephemeral.close();
        }
        // nsqd deletes the ephemeral channel and UNREGISTERs it; lookupd drops an ephemeral
        // registration left without producers.
        await expectChannel(lookupds, tB, eph, false);
        // A durable channel outlives its consumers.
        for (const l of lookupds) assert.deepEqual(await channels(l, tA), [ch]);
        await expectProducers(lookupds, tB, [n1]);
      },
    );

    await step(t, "an ephemeral topic is unregistered when its last channel goes", async () => {
      const tE = name("e") + "#ephemeral";
      const c = await subscribe(n2, tE, "c#ephemeral");
      try {
        await expectProducers(lookupds, tE, [n2]);
      } finally {
        await c.close();
      }
      // Channel deleted → topic deleted (its last channel) → UNREGISTER both → registration gone.
      await expectProducers(lookupds, tE, null);
      for (const l of lookupds) {
        const topics = await getJson<{ topics: string[] }>(l.httpAddress!, "/topics");
        assert.ok(!topics.body.topics.includes(tE), `${l.name} /topics still lists ${tE}`);
      }
    });

    // Needs nsqd's HTTP API (being integrated): ignored while nsqd logs no `HTTP: listening on`.
    // Topic deletion over TCP is covered by the ephemeral-topic step above.
    await step(
      t,
      "POST /topic/delete on nsqd unregisters the topic from both lookupds",
      async () => {
        const r = await getJson(n1.proc.httpAddress!, `/topic/delete?topic=${tB}`, "POST");
        assert.equal(r.status, 200);
        tBDeleted = true;
        // A durable topic's registration stays, without producers.
        await expectProducers(lookupds, tB, []);
      },
      !hasHttp,
    );

    await step(t, "a tombstone hides a producer from /lookup for the lifetime only", async () => {
      const node = `127.0.0.1:${n0.advertisedHttpPort}`;
      const t0 = Date.now();
      const r = await getJson(
        l0.httpAddress!,
        `/topic/tombstone?topic=${tAll}&node=${encodeURIComponent(node)}`,
        "POST",
      );
      assert.equal(r.status, 200);
      // The tombstone is set before the POST answers: no polling needed for these.
      const hidden = await lookup(l0, tAll);
      assert.ok(Date.now() - t0 < 2000, "checked within the tombstone lifetime");
      assert.deepEqual(
        hidden!.producers.map((p) => p.tcp_port).sort(),
        [
          n1.proc.tcpPort,
          n2.proc.tcpPort,
        ].sort(),
        "l0 hides the tombstoned producer only",
      );
      const list = await nodes(l0);
      assert.deepEqual(tombstonesOf(nodeOf(list, n0)!), { [tA]: false, [tAll]: true });
      assert.ok(!nodeOf(list, n1)!.tombstones.includes(true), "n1 not tombstoned");
      // Per topic and per lookupd.
      await expectProducers([l0], tA, [n0], 0);
      await expectProducers([l1], tAll, [n0, n1, n2], 0);

      await expectProducers([l0], tAll, [n0, n1, n2], 6000);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 1900, `reappeared after ${elapsed}ms, before the 2 s lifetime`);
      const after = nodeOf(await nodes(l0), n0)!;
      assert.ok(!after.tombstones.includes(true), "tombstone expired in /nodes too");
    });

    await step(t, "a killed nsqd disappears from /lookup and /nodes", async () => {
      const st = await n2.proc.stop("SIGKILL");
      assert.equal(st.signal, "SIGKILL");
      await expectProducers(lookupds, tAll, [n0, n1]);
      for (const l of lookupds) {
        assert.equal(nodeOf(await nodes(l), n2), undefined, `${l.name} /nodes lists dead nsqd2`);
      }
      // A durable topic's registration outlives its last producer.
      for (const l of lookupds) assert.notEqual(await lookup(l, tAll), null);
    });

    await step(
      t,
      "every nsqd re-registers with a lookupd restarted on the same ports",
      async () => {
        const [tcp, http] = [l1.tcpAddress!, l1.httpAddress!];
        const st = await l1.stop("SIGTERM");
        assert.equal(st.code, 0, "nsqlookupd exits 0 on SIGTERM");
        const l1b = await cluster.restartLookupd("lookupd1b", tcp, http, lookupdArgs);
        assert.equal(l1b.tcpAddress, tcp);
        assert.equal(l1b.httpAddress, http);
        lookupds = [l0, l1b];

        // n0 finds its dead connection at its next command (this REGISTER), reconnects at once
        // and replays everything. n1 is left alone: it reconnects at its next PING (≤ 15 s).
        const tR = name("r");
        await publish(n0, tR, ["r"]);
        await expectProducers([l1b], tR, [n0]);
        await expectProducers([l1b], tA, [n0]);
        assert.deepEqual(await channels(l1b, tA), [ch]);

        await expectProducers([l1b], tAll, [n0, n1], PING_PERIOD_WAIT_MS);
        await expectNodes(
          l1b,
          new Map([[n0, [tA, tAll, tR]], [n1, tBDeleted ? [tAll] : [tB, tAll]]]),
        );
        // The other lookupd got the new topic too and kept everything else.
        await expectProducers([l0], tR, [n0]);
        await expectProducers([l0], tAll, [n0, n1]);
      },
    );

    await step(t, "SIGTERM stops every nsqd and nsqlookupd with exit code 0", async () => {
      const live = [n0.proc, n1.proc, ...lookupds];
      const codes = await Promise.all(live.map((p) => p.stop("SIGTERM").then((s) => s.code)));
      assert.deepEqual(codes, live.map(() => 0));
    });
  });
});

Deno.test("cluster: a new topic starts with the channels lookupd knows (pre-creation)", async () => {
  await using cluster = new Cluster();
  await withLogs(cluster, async () => {
    const [lookupd] = await cluster.startLookupds(1);
    const [n] = await cluster.startNsqds(1);
    // nsqd asks the lookupds that have answered its IDENTIFY (it learns their HTTP port there).
    await n.proc.waitForLog(/LOOKUPD\(\S+\): peer info/);

    const topic = name("pre");
    for (const c of ["c1", "c2"]) {
      const r = await getJson(
        lookupd.httpAddress!,
        `/channel/create?topic=${topic}&channel=${c}`,
        "POST",
      );
      assert.equal(r.status, 200);
    }
    const bodies = ["m0", "m1", "m2", "m3", "m4"];
    await publish(n, topic, bodies); // creates the topic on nsqd: no consumer anywhere yet

    // nsqd REGISTERs the channels it pre-created, so lookupd lists nsqd under each of them.
    await pollUntil(async () => {
      const debug = await getJson<Record<string, { tcp_port: number }[]>>(
        lookupd.httpAddress!,
        "/debug",
      );
      return ["c1", "c2"].every((c) =>
        debug.body[`channel:${topic}:${c}`]?.some((p) => p.tcp_port === n.proc.tcpPort)
      );
    }, () => `nsqd did not register the pre-created channels of ${topic}`);

    // Each pre-created channel got its own copy of every message published before any SUB.
    for (const c of ["c1", "c2"]) {
      await using conn = await subscribe(n, topic, c);
      await conn.rdy(bodies.length);
      const got: string[] = [];
      for (const _ of bodies) {
        const m = await conn.expectMessage();
        got.push(new TextDecoder().decode(m.body));
        await conn.fin(m.id);
      }
      assert.deepEqual(got.sort(), bodies, `channel ${c}`);
    }
  });
});
