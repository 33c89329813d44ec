/**
 * Consumer discovery through nsqlookupd (in-process nsqlookupd and nsqd): the scenario
 * (maxInFlight 100 over 3 nsqd found through nsqlookupd receives every message and keeps
 * receiving when one nsqd stops and another joins, RDY re-split each time), both /lookup answer
 * shapes (1.x bare and the legacy `{status_code, data}` envelope), and an unreachable
 * nsqlookupd that is retried without harm.
 */
import assert from "node:assert/strict";
import { buildLookupUrl, Consumer, type Message, Producer } from "../../mod.ts";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";
import { startLookupd } from "../nsqlookupd/_helpers.ts";

const text = (m: Message) => new TextDecoder().decode(m.body);

async function publishN(n: TestNsqd, topic: string, prefix: string, count: number) {
  await using p = new Producer(n.tcpAddress);
  const bodies = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (let i = 0; i < bodies.length; i += 50) await p.multiPublish(topic, bodies.slice(i, i + 50));
  return bodies;
}

function sum(m: Map<string, number>): number {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}

Deno.test("lookupd: maxInFlight 100 over 3 discovered nsqd; one stops, another joins", async () => {
  const { lookupd } = await startLookupd({ broadcastAddress: "127.0.0.1", logLevel: "warn" });
  const nsqdOpts = {
    logLevel: "warn" as const,
    // nsqlookupd requires an HTTP port in nsqd's IDENTIFY.
    httpAddress: "127.0.0.1:0",
    nsqlookupdTcpAddresses: [lookupd.tcpAddress],
  };
  const nodes: TestNsqd[] = [];
  const topic = uniqueName();
  const got = new Map<string, number>();
  const c = new Consumer(topic, "ch", {
    maxInFlight: 100,
    lookupdPollInterval: 100,
    lookupdPollJitter: 0.2,
  });
  c.addHandler(async (m) => {
    await Promise.resolve();
    got.set(text(m), (got.get(text(m)) ?? 0) + 1);
  }, { concurrency: 20 });
  try {
    for (let i = 0; i < 3; i++) nodes.push(await startNsqd(nsqdOpts));
    const sent: string[] = [];
    for (const [i, n] of nodes.entries()) sent.push(...await publishN(n, topic, `p1n${i}`, 300));
    const lookupUrl = `http://${lookupd.httpAddress}/lookup?topic=${topic}`;
    await waitFor(async () => {
      const r = await fetch(lookupUrl);
      const body = await r.json();
      return r.status === 200 && body.producers.length === 3;
    }, { message: "3 producers registered" });

    await c.connectToNsqlookupd(lookupd.httpAddress);
    assert.equal(c.stats().connections, 3);
    const rdy = [...c.rdyCounts().values()];
    assert.deepEqual(rdy, [33, 33, 33]);
    await waitFor(() => got.size === sent.length, { message: `phase 1: ${got.size}` });

    // One nsqd stops while the others keep publishing; the survivors take its share.
    const [gone, ...rest] = nodes;
    const more = Promise.all(rest.map((n, i) => publishN(n, topic, `p2n${i}`, 200)));
    await gone.close();
    nodes.shift();
    sent.push(...(await more).flat());
    await waitFor(() => c.stats().connections === 2, { message: "2 connections" });
    assert.deepEqual([...c.rdyCounts().values()], [50, 50]);
    await waitFor(() => got.size === sent.length, { message: `phase 2: ${got.size}` });

    // A new nsqd joins: discovered on the next poll once it has the topic.
    const joined = await startNsqd(nsqdOpts);
    nodes.push(joined);
    sent.push(...await publishN(joined, topic, "p3new", 200));
    await waitFor(() => c.stats().connections === 3, { message: "joined nsqd discovered" });
    assert.deepEqual([...c.rdyCounts().values()], [33, 33, 33]);
    sent.push(...await publishN(nodes[0], topic, "p3old", 100));
    await waitFor(() => got.size === sent.length, { message: `phase 3: ${got.size}` });
    assert.equal(sum(got), sent.length, "no message handled twice");
    assert.ok(!c.rdyCounts().has(gone.tcpAddress));
  } finally {
    await c.stop();
    for (const n of nodes) await n.close();
    await lookupd.close();
  }
});

Deno.test("lookupd: the legacy {status_code, data} answer and an unreachable nsqlookupd", async () => {
  await using n = await startNsqd({ logLevel: "warn" });
  const topic = uniqueName();
  await publishN(n, topic, "m", 10);
  const [host, port] = [n.tcpAddress.split(":")[0], Number(n.tcpAddress.split(":")[1])];
  let queries = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    queries++;
    const url = new URL(req.url);
    assert.equal(url.pathname, "/lookup");
    assert.equal(url.searchParams.get("topic"), topic);
    return Response.json({
      status_code: 200,
      status_txt: "OK",
      data: {
        channels: [],
        producers: [{ broadcast_address: host, tcp_port: port, http_port: 0, version: "0.2.0" }],
      },
    });
  });
  // A port nothing listens on: bound then closed.
  const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadAddr = `127.0.0.1:${(dead.addr as Deno.NetAddr).port}`;
  dead.close();
  const got: string[] = [];
  const c = new Consumer(topic, "ch", { maxInFlight: 10, lookupdPollInterval: 50 });
  c.addHandler((m) => {
    got.push(text(m));
  });
  try {
    await c.connectToNsqlookupds([deadAddr, `127.0.0.1:${server.addr.port}`]);
    await waitFor(() => got.length === 10, { message: `got ${got.length}` });
    await waitFor(() => queries >= 2, { message: "polls continue" });
    assert.equal(c.stats().connections, 1);
  } finally {
    await c.stop();
    await server.shutdown();
  }
});

Deno.test("lookupd: buildLookupUrl follows go-nsq's buildLookupAddr", () => {
  assert.equal(buildLookupUrl("127.0.0.1:4161", "t"), "http://127.0.0.1:4161/lookup?topic=t");
  assert.equal(
    buildLookupUrl("https://lookupd.example:4161/", "t"),
    "https://lookupd.example:4161/lookup?topic=t",
  );
  assert.equal(
    buildLookupUrl("http://h:1/custom?x=1", "t"),
    "http://h:1/custom?x=1&topic=t",
  );
  assert.throws(() => buildLookupUrl("lookupd.example", "t"), /missing port/);
});
