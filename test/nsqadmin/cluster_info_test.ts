/**
 * The fan-out client and the cluster sums, against stub lookupds and stub stats: producers
 * merged across lookupds (one row per nsqd, every lookupd in `remote_addresses`, older versions
 * `out_of_date`), topic and channel sums over two nodes with their e2e percentiles.
 */
import assert from "node:assert/strict";
import { Logger } from "../../lib/internal/log.ts";
import { ClusterInfo, queryEscape } from "../../lib/nsqadmin/cluster_info.ts";
import { addTopic, e2eFromNsqd, newTopicStats, type TopicStats } from "../../lib/nsqadmin/stats.ts";

function stubLookupd(producers: unknown[]) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json({ producers }),
  );
  return { server, address: `127.0.0.1:${server.addr.port}` };
}

const producer = (port: number, version: string, remote: string) => ({
  remote_address: remote,
  hostname: `host${port}`,
  broadcast_address: "127.0.0.1",
  tcp_port: port,
  http_port: port + 1,
  version,
  topics: ["b", "a"],
  tombstones: [false, true],
});

Deno.test("cluster info: producers merged across lookupds, out_of_date, sorted topics", async () => {
  const one = stubLookupd([producer(4150, "1.3.0", "127.0.0.1:1111")]);
  const two = stubLookupd([
    producer(4150, "1.3.0", "127.0.0.1:2222"),
    producer(5150, "1.2.1", "127.0.0.1:3333"),
  ]);
  try {
    const ci = new ClusterInfo(
      { connectTimeout: 1000, requestTimeout: 1000 },
      new Logger("", "fatal"),
    );
    const r = await ci.getLookupdProducers([one.address, two.address]);
    assert.deepEqual(r.errors, []);
    assert.equal(r.value.length, 2);
    const [a, b] = r.value;
    assert.equal(a.tcp_port, 4150);
    assert.deepEqual(a.remote_addresses, [
      `${one.address}/127.0.0.1:1111`,
      `${two.address}/127.0.0.1:2222`,
    ]);
    assert.deepEqual(a.topics, [{ topic: "a", tombstoned: true }, {
      topic: "b",
      tombstoned: false,
    }]);
    assert.equal(a.out_of_date, false);
    assert.equal(b.out_of_date, true);
    assert.deepEqual(b.remote_addresses, [`${two.address}/127.0.0.1:3333`]);
  } finally {
    await one.server.shutdown();
    await two.server.shutdown();
  }
});

function nodeTopic(node: string, depth: number, count: number, p99: number): TopicStats {
  const t = newTopicStats("t");
  t.node = node;
  t.hostname = node;
  t.depth = depth;
  t.message_count = count;
  t.e2e_processing_latency = e2eFromNsqd({ count, percentiles: [{ quantile: 0.99, value: p99 }] });
  t.channels = [{
    node,
    hostname: node,
    topic_name: "t",
    channel_name: "c",
    depth,
    memory_depth: depth,
    backend_depth: 0,
    in_flight_count: 1,
    deferred_count: 0,
    requeue_count: 0,
    timeout_count: 0,
    message_count: count,
    client_count: 1,
    nodes: null,
    clients: null,
    paused: node === "b",
    e2e_processing_latency: null,
  }];
  return t;
}

Deno.test("cluster info: topic and channel sums over two nodes", () => {
  const all = newTopicStats("t");
  addTopic(all, nodeTopic("b", 2, 30, 300));
  addTopic(all, nodeTopic("a", 3, 10, 100));
  assert.equal(all.node, "*");
  assert.equal(all.depth, 5);
  assert.equal(all.message_count, 40);
  assert.deepEqual(all.nodes!.map((n) => n.node), ["a", "b"], "sorted by hostname");
  assert.equal(all.channels!.length, 1);
  const c = all.channels![0];
  assert.equal(c.node, "*");
  assert.equal(c.depth, 5);
  assert.equal(c.in_flight_count, 2);
  assert.equal(c.paused, true, "paused on any node");
  assert.equal(c.nodes!.length, 2);
  const p = all.e2e_processing_latency!.percentiles![0];
  assert.equal(all.e2e_processing_latency!.count, 40);
  assert.equal(p.max, 300);
  assert.equal(p.min, 100);
  assert.equal(p.average, 250, "count-weighted: (30*300 + 10*100) / 40");
  assert.equal(queryEscape("a b#ephemeral"), "a+b%23ephemeral");
});
