/**
 * nsqadmin's JSON API over a live in-process cluster (nsqlookupd + nsqd + nsqadmin): the fields
 * and numbers equal nsqd's /stats, actions take effect on nsqd and nsqlookupd, bad input gets Go
 * nsqadmin's errors, partial failures become `message` warnings, the ACL refuses non-admins,
 * notifications carry Go's JSON fields, `/config` and `--base-path` behave as in Go.
 */
import assert from "node:assert/strict";
import { Logger } from "../../lib/internal/log.ts";
import { Nsqadmin } from "../../lib/nsqadmin/nsqadmin.ts";
import { defaultNsqadminOptions } from "../../lib/nsqadmin/options.ts";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { connectSub, publishTo } from "../_util/protocol.ts";
import { waitFor } from "../_util/wait.ts";
import { send, startAdminCluster } from "./_cluster.ts";

interface NsqdStats {
  topics: {
    topic_name: string;
    depth: number;
    message_count: number;
    paused: boolean;
    channels: { channel_name: string; depth: number; message_count: number; paused: boolean }[];
  }[];
}

const CLIENT_FIELDS = [
  "node",
  "remote_address",
  "version",
  "client_id",
  "hostname",
  "user_agent",
  "connect_ts",
  "connected",
  "in_flight_count",
  "ready_count",
  "finish_count",
  "requeue_count",
  "message_count",
  "sample_rate",
  "deflate",
  "snappy",
  "authed",
  "auth_identity",
  "auth_identity_url",
  "tls",
  "tls_cipher_suite",
  "tls_version",
  "tls_negotiated_protocol",
  "tls_negotiated_protocol_is_mutual",
];

const CHANNEL_FIELDS = [
  "node",
  "hostname",
  "topic_name",
  "channel_name",
  "depth",
  "memory_depth",
  "backend_depth",
  "in_flight_count",
  "deferred_count",
  "requeue_count",
  "timeout_count",
  "message_count",
  "client_count",
  "nodes",
  "clients",
  "paused",
  "e2e_processing_latency",
];

/** The status of a response whose body is not needed (the body is released). */
async function statusOf(res: Promise<Response>): Promise<number> {
  const r = await res;
  await r.body?.cancel();
  return r.status;
}

/** A port nothing listens on: bound, then released. */
function deadAddress(): string {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return `127.0.0.1:${port}`;
}

Deno.test("nsqadmin API: topics, topic, channel, nodes, node, counter match nsqd's /stats", async () => {
  await using c = await startAdminCluster();
  const topic = uniqueName("api");
  await publishTo(c.nsqd, topic, "a", "b", "c");
  const sub = await connectSub(c.nsqd, topic, "ch", {
    identify: { client_id: "worker-1", hostname: "worker-host", user_agent: "test/1.0" },
    rdy: 1,
  });
  try {
    await sub.expectMessage();
    const node = c.nsqd.httpAddress;
    const stats = await c.nsqdJson<NsqdStats>("/stats?format=json");
    const t = stats.topics.find((x) => x.topic_name === topic)!;
    await waitFor(async () => {
      const r = await (await c.fetch("/api/topics")).json();
      return (r.topics as string[] | null)?.includes(topic) === true;
    }, { message: "lookupd lists the topic" });

    const tj = await (await c.fetch(`/api/topics/${topic}`)).json();
    assert.equal(tj.message, "");
    assert.equal(tj.node, "*");
    assert.equal(tj.topic_name, topic);
    assert.equal(tj.message_count, t.message_count);
    assert.equal(tj.depth, t.depth);
    assert.equal(tj.nodes.length, 1);
    assert.equal(tj.nodes[0].node, node);
    assert.deepEqual(tj.channels.map((x: { channel_name: string }) => x.channel_name), ["ch"]);
    assert.deepEqual(Object.keys(tj), [
      "node",
      "hostname",
      "topic_name",
      "depth",
      "memory_depth",
      "backend_depth",
      "message_count",
      "nodes",
      "channels",
      "paused",
      "e2e_processing_latency",
      "message",
    ]);

    const cj = await (await c.fetch(`/api/topics/${topic}/ch`)).json();
    const ch = t.channels.find((x) => x.channel_name === "ch")!;
    assert.deepEqual(Object.keys(cj), [...CHANNEL_FIELDS, "message"]);
    assert.equal(cj.node, "*");
    assert.equal(cj.depth, ch.depth);
    assert.equal(cj.message_count, ch.message_count);
    assert.equal(cj.in_flight_count, 1);
    assert.equal(cj.client_count, 1);
    assert.equal(cj.clients.length, 1);
    assert.deepEqual(Object.keys(cj.clients[0]), CLIENT_FIELDS);
    assert.equal(cj.clients[0].client_id, "worker-1");
    assert.equal(cj.clients[0].hostname, "worker-host");
    assert.equal(cj.clients[0].user_agent, "test/1.0");
    assert.equal(cj.clients[0].node, node);
    assert.equal(cj.clients[0].in_flight_count, 1);
    assert.deepEqual(cj.e2e_processing_latency, {
      count: 0,
      percentiles: null,
      topic,
      channel: "ch",
      host: "*",
    });

    // An unknown channel of a known topic: Go answers only the message.
    assert.deepEqual(await (await c.fetch(`/api/topics/${topic}/nope`)).json(), { message: "" });

    const nodes = await (await c.fetch("/api/nodes")).json();
    assert.equal(nodes.message, "");
    assert.equal(nodes.nodes.length, 1);
    const p = nodes.nodes[0];
    assert.deepEqual(Object.keys(p), [
      "remote_addresses",
      "remote_address",
      "hostname",
      "broadcast_address",
      "tcp_port",
      "http_port",
      "version",
      "topics",
      "out_of_date",
    ]);
    assert.equal(`${p.broadcast_address}:${p.http_port}`, node);
    assert.equal(p.remote_addresses.length, 1);
    assert.ok(p.remote_addresses[0].startsWith(`${c.lookupd.httpAddress}/`));
    assert.ok(p.topics.some((x: { topic: string }) => x.topic === topic));

    const nj = await (await c.fetch(`/api/nodes/${node}`)).json();
    assert.equal(nj.node, node);
    const total = stats.topics.reduce((s, x) => s + x.message_count, 0);
    assert.equal(nj.total_messages, total);
    assert.equal(nj.total_clients, 1);
    assert.equal(nj.message, "");
    const missing = await c.fetch("/api/nodes/127.0.0.1:1");
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { message: "NODE_NOT_FOUND" });

    const counter = await (await c.fetch("/api/counter")).json();
    assert.deepEqual(counter.stats[`${topic}:ch:${node}`], {
      node,
      topic_name: topic,
      channel_name: "ch",
      message_count: ch.message_count,
    });
    assert.equal(counter.message, "");
  } finally {
    await sub.close();
  }
});

Deno.test("nsqadmin API: pause, unpause, empty, delete, create and tombstone reach nsqd and lookupd", async () => {
  await using c = await startAdminCluster();
  const topic = uniqueName("act");
  await publishTo(c.nsqd, topic, "1", "2");
  const sub = await connectSub(c.nsqd, topic, "ch");
  await sub.close();
  await waitFor(async () => {
    const r = await (await c.fetch(`/api/topics/${topic}`)).json();
    return r.depth !== undefined && r.channels?.length === 1;
  }, { message: "the topic is visible with its channel" });
  const channelOf = async () => {
    const s = await c.nsqdJson<NsqdStats>(`/stats?format=json&topic=${topic}`);
    return s.topics[0]?.channels.find((x) => x.channel_name === "ch");
  };

  let r = await send(c, "POST", `/api/topics/${topic}/ch`, { action: "pause" });
  assert.deepEqual(r, { status: 200, json: { message: "" } });
  assert.equal((await channelOf())?.paused, true);
  r = await send(c, "POST", `/api/topics/${topic}/ch`, { action: "unpause" });
  assert.equal(r.status, 200);
  assert.equal((await channelOf())?.paused, false);

  r = await send(c, "POST", `/api/topics/${topic}`, { action: "pause" });
  assert.equal(r.status, 200);
  let s = await c.nsqdJson<NsqdStats>(`/stats?format=json&topic=${topic}`);
  assert.equal(s.topics[0].paused, true);
  await send(c, "POST", `/api/topics/${topic}`, { action: "unpause" });

  await publishTo(c.nsqd, topic, "3");
  await waitFor(async () => ((await channelOf())?.depth ?? 0) > 0, { message: "channel depth" });
  r = await send(c, "POST", `/api/topics/${topic}/ch`, { action: "empty" });
  assert.equal(r.status, 200);
  assert.equal((await channelOf())?.depth, 0);

  r = await send(c, "DELETE", `/api/topics/${topic}/ch`);
  assert.deepEqual(r, { status: 200, json: { message: "" } });
  assert.equal(await channelOf(), undefined);

  // Create a topic and channel: on the lookupd, and the channel on the nsqd that has the topic.
  r = await send(c, "POST", "/api/topics", { topic, channel: "made" });
  assert.deepEqual(r, { status: 200, json: { message: "" } });
  const lk = await (await fetch(`http://${c.lookupd.httpAddress}/channels?topic=${topic}`)).json();
  assert.ok(lk.channels.includes("made"));
  s = await c.nsqdJson<NsqdStats>(`/stats?format=json&topic=${topic}`);
  assert.ok(s.topics[0].channels.some((x) => x.channel_name === "made"));

  // Tombstone the node for the topic: lookupd marks it, the nsqd deletes the topic.
  const node = c.nsqd.httpAddress;
  r = await send(c, "DELETE", `/api/nodes/${node}`, { topic });
  assert.deepEqual(r, { status: 200, json: { message: "" } });
  s = await c.nsqdJson<NsqdStats>(`/stats?format=json&topic=${topic}`);
  assert.equal((s.topics ?? []).length, 0);
  const ln = await (await fetch(`http://${c.lookupd.httpAddress}/nodes`)).json();
  const idx = ln.producers[0].topics.indexOf(topic);
  if (idx >= 0) assert.equal(ln.producers[0].tombstones[idx], true);

  // Delete a topic everywhere.
  const other = uniqueName("del");
  await publishTo(c.nsqd, other, "x");
  await waitFor(async () => {
    const j = await (await fetch(`http://${c.lookupd.httpAddress}/topics`)).json();
    return j.topics.includes(other);
  }, { message: "lookupd has the topic" });
  r = await send(c, "DELETE", `/api/topics/${other}`);
  assert.deepEqual(r, { status: 200, json: { message: "" } });
  s = await c.nsqdJson<NsqdStats>(`/stats?format=json&topic=${other}`);
  assert.equal((s.topics ?? []).length, 0);
  const lt = await (await fetch(`http://${c.lookupd.httpAddress}/topics`)).json();
  assert.ok(!lt.topics.includes(other));
});

Deno.test("nsqadmin API: bad input gets Go nsqadmin's errors and the server keeps serving", async () => {
  await using c = await startAdminCluster();
  const topic = uniqueName("bad");
  await publishTo(c.nsqd, topic, "x");
  await waitFor(async () => await statusOf(c.fetch(`/api/topics/${topic}`)) === 200, {
    message: "topic visible",
  });
  const cases: [string, string, string | undefined, number, string][] = [
    ["POST", `/api/topics/${topic}`, "", 400, "EOF"],
    [
      "POST",
      `/api/topics/${topic}`,
      "xx",
      400,
      "invalid character 'x' looking for beginning of value",
    ],
    ["POST", `/api/topics/${topic}`, '{"action":"pause"', 400, "unexpected EOF"],
    [
      "POST",
      `/api/topics/${topic}`,
      '{"action":1}',
      400,
      "json: cannot unmarshal number into Go struct field .action of type string",
    ],
    ["POST", `/api/topics/${topic}/ch`, '{"action":"bogus"}', 400, "INVALID_ACTION"],
    ["POST", "/api/topics", '{"topic":"bad!"}', 400, "INVALID_TOPIC"],
    ["POST", "/api/topics", '{"topic":"ok","channel":"bad!"}', 400, "INVALID_CHANNEL"],
    [
      "POST",
      "/api/topics",
      "[]",
      400,
      'json: cannot unmarshal array into Go value of type struct { Topic string "json:\\"topic\\""; Channel string "json:\\"channel\\"" }',
    ],
    ["DELETE", `/api/nodes/${c.nsqd.httpAddress}`, "nope", 400, "INVALID_BODY"],
    ["DELETE", `/api/nodes/${c.nsqd.httpAddress}`, '{"topic":"a b"}', 400, "INVALID_TOPIC"],
    [
      "GET",
      "/api/topics/no_such_topic",
      undefined,
      502,
      'UPSTREAM_ERROR: failed to query any nsqlookupd: got response 404 Not Found "{\\"message\\":\\"TOPIC_NOT_FOUND\\"}"',
    ],
    [
      "POST",
      "/api/topics/no_such_topic",
      '{"action":"pause"}',
      502,
      'UPSTREAM_ERROR: failed to query any nsqlookupd: got response 404 Not Found "{\\"message\\":\\"TOPIC_NOT_FOUND\\"}"',
    ],
    ["GET", "/api/graphite", undefined, 400, "INVALID_ARG_METRIC"],
    ["GET", "/api/graphite?metric=rate", undefined, 400, "INVALID_ARG_TARGET"],
    ["GET", "/config/nope", undefined, 400, "INVALID_OPTION"],
    ["PUT", "/config/http_address", "x", 400, "INVALID_OPTION"],
    ["PUT", "/config/log_level", "loud", 400, "INVALID_VALUE"],
    ["PUT", "/config/log_level", "", 413, "INVALID_VALUE"],
    ["GET", "/nope", undefined, 404, "NOT_FOUND"],
    ["POST", "/api/nodes", undefined, 405, "METHOD_NOT_ALLOWED"],
  ];
  for (const [method, path, body, status, message] of cases) {
    const r = await c.fetch(path, { method, body });
    assert.equal(r.status, status, `${method} ${path} ${body}`);
    assert.deepEqual(await r.json(), { message }, `${method} ${path} ${body}`);
  }
  const ping = await c.fetch("/ping");
  assert.equal(await ping.text(), "OK");
  // A page for a topic nobody has renders a notice, not an error.
  const page = await c.fetch("/topics/no_such_topic");
  assert.equal(page.status, 502);
  assert.match(await page.text(), /UPSTREAM_ERROR/);
});

Deno.test("nsqadmin API: a down nsqd or lookupd becomes a WARNING message, the rest answers", async () => {
  await using c = await startAdminCluster();
  const topic = uniqueName("part");
  await publishTo(c.nsqd, topic, "x");
  const dead = deadAddress();
  const logger = new Logger("[nsqadmin] ", "fatal");
  // Two lookupds, one down.
  {
    await using a = new Nsqadmin({
      ...defaultNsqadminOptions(),
      httpAddress: "127.0.0.1:0",
      nsqlookupdHttpAddresses: [c.lookupd.httpAddress, dead],
      historyWindow: 0,
    }, logger);
    await a.start();
    await waitFor(async () => {
      const r = await (await fetch(`http://${a.httpAddress}/api/topics`)).json();
      return r.topics?.includes(topic) === true;
    }, { message: "topic through the live lookupd" });
    const r = await (await fetch(`http://${a.httpAddress}/api/topics`)).json();
    assert.equal(
      r.message,
      `WARNING: Get "http://${dead}/topics": dial tcp ${dead}: connect: connection refused`,
    );
  }
  // Two nsqd, one down.
  {
    await using a = new Nsqadmin({
      ...defaultNsqadminOptions(),
      httpAddress: "127.0.0.1:0",
      nsqdHttpAddresses: [c.nsqd.httpAddress, dead],
      historyWindow: 0,
    }, logger);
    await a.start();
    const base = `http://${a.httpAddress}`;
    const t = await (await fetch(`${base}/api/topics/${topic}`)).json();
    assert.equal(t.message_count, 1);
    assert.equal(
      t.message,
      `WARNING: Get "http://${dead}/stats?format=json&topic=${topic}&include_clients=false": dial tcp ${dead}: connect: connection refused`,
    );
    const n = await (await fetch(`${base}/api/nodes`)).json();
    assert.equal(n.nodes.length, 1);
    assert.equal(
      n.message,
      `WARNING: Get "http://${dead}/info": dial tcp ${dead}: connect: connection refused`,
    );
    const act = await fetch(`${base}/api/topics/${topic}`, {
      method: "POST",
      body: '{"action":"pause"}',
    });
    assert.equal(act.status, 200);
    assert.match((await act.json()).message, /^WARNING: Get "http:\/\/127\.0\.0\.1:\d+\/stats/);
    const page = await (await fetch(`${base}/topics/${topic}`)).text();
    assert.match(page, /class="alert warn">WARNING: Get/);
    // Only dead nodes: 502 with Go's text.
    await using b = new Nsqadmin({
      ...defaultNsqadminOptions(),
      httpAddress: "127.0.0.1:0",
      nsqdHttpAddresses: [dead],
      historyWindow: 0,
    }, logger);
    await b.start();
    const all = await fetch(`http://${b.httpAddress}/api/topics`);
    assert.equal(all.status, 502);
    assert.deepEqual(await all.json(), {
      message:
        `UPSTREAM_ERROR: failed to query any nsqd: Get "http://${dead}/stats?format=json": dial tcp ${dead}: connect: connection refused`,
    });
  }
});

Deno.test("nsqadmin API: --admin-user ACL, notifications with Go's fields", async () => {
  const posts: Record<string, unknown>[] = [];
  const got = Promise.withResolvers<void>();
  const sink = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    posts.push(await req.json());
    if (posts.length >= 3) got.resolve();
    return new Response("ok");
  });
  try {
    await using c = await startAdminCluster({
      adminUsers: ["alice"],
      notificationHttpEndpoint: `http://127.0.0.1:${sink.addr.port}/notify`,
    });
    const topic = uniqueName("acl");
    await publishTo(c.nsqd, topic, "x");
    const sub = await connectSub(c.nsqd, topic, "ch");
    await sub.close();
    await waitFor(async () => await statusOf(c.fetch(`/api/topics/${topic}/ch`)) === 200, {
      message: "channel visible",
    });
    for (
      const [method, path, body] of [
        ["POST", `/api/topics/${topic}/ch`, { action: "pause" }],
        ["POST", "/api/topics", { topic }],
        ["DELETE", `/api/topics/${topic}`, undefined],
        ["DELETE", `/api/nodes/${c.nsqd.httpAddress}`, { topic }],
      ] as const
    ) {
      const anon = await send(c, method, path, body);
      assert.deepEqual(anon, { status: 403, json: { message: "FORBIDDEN" } }, path);
      const bob = await send(c, method, path, body, { "X-Forwarded-User": "bob" });
      assert.equal(bob.status, 403, path);
    }
    const stats = await c.nsqdJson<NsqdStats>(`/stats?format=json&topic=${topic}`);
    assert.equal(stats.topics[0].channels[0].paused, false, "refused actions did nothing");
    // Pages hide actions from non-admins.
    const anonPage = await (await c.fetch(`/topics/${topic}/ch`)).text();
    assert.ok(!anonPage.includes("data-api="));
    const alicePage = await (await c.fetch(`/topics/${topic}/ch`, {
      headers: { "X-Forwarded-User": "alice" },
    })).text();
    assert.ok(alicePage.includes("Pause Channel"));

    const auth = { "X-Forwarded-User": "alice", "Authorization": `Basic ${btoa("alice:pw")}` };
    assert.equal(
      (await send(c, "POST", `/api/topics/${topic}/ch`, { action: "pause" }, auth)).status,
      200,
    );
    assert.equal(
      (await send(c, "POST", "/api/topics", { topic, channel: "c2" }, auth)).status,
      200,
    );
    await got.promise;
    const pause = posts.find((p) => p.action === "pause_channel")!;
    assert.deepEqual(Object.keys(pause), [
      "action",
      "topic",
      "channel",
      "timestamp",
      "user",
      "remote_ip",
      "user_agent",
      "url",
      "via",
    ]);
    assert.equal(pause.topic, topic);
    assert.equal(pause.channel, "ch");
    assert.equal(pause.user, "alice");
    assert.match(String(pause.remote_ip), /^127\.0\.0\.1:\d+$/);
    assert.equal(pause.url, `${c.url}/api/topics/${topic}/ch`);
    assert.ok(Math.abs(Number(pause.timestamp) - Date.now() / 1000) < 60);
    assert.equal(typeof pause.via, "string");
    const create = posts.find((p) => p.action === "create_topic")!;
    assert.equal(create.topic, topic);
    assert.ok(!("channel" in create));
    assert.ok(posts.some((p) => p.action === "create_channel" && p.channel === "c2"));
    assert.equal(stats.topics.length, 1);
  } finally {
    await sink.shutdown();
  }
});

Deno.test("nsqadmin API: /config, --allow-config-from-cidr, --base-path, history", async () => {
  await using c = await startAdminCluster({ basePath: "/admin/", historyInterval: 100 });
  // The base path was given with a trailing slash: validation normalises it, as Go does.
  assert.ok(c.url.endsWith("/admin"));
  const base = c.url.replace(/\/$/, "");
  const root = base.slice(0, base.length - "/admin".length);
  assert.equal(await statusOf(fetch(`${root}/api/topics`)), 404);
  const topics = await fetch(`${base}/api/topics`);
  assert.equal(topics.status, 200);
  await topics.body?.cancel();
  const page = await (await fetch(`${base}/topics`)).text();
  assert.ok(page.includes(`href="/admin/static/nsqadmin.css"`));
  assert.ok(page.includes(`href="/admin/nodes"`));
  const css = await fetch(`${base}/static/nsqadmin.css`);
  assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
  await css.body?.cancel();

  assert.equal(await (await fetch(`${base}/config/log_level`)).text(), "2");
  const put = await fetch(`${base}/config/log_level`, { method: "PUT", body: "debug" });
  assert.equal(await put.text(), "1");
  const lk = await fetch(`${base}/config/nsqlookupd_http_addresses`);
  assert.deepEqual(await lk.json(), [c.lookupd.httpAddress]);
  assert.equal(await (await fetch(`${base}/config/statsd_interval`)).text(), "60000000000");

  // History: a few samples of a topic with traffic give points and rates.
  const topic = uniqueName("hist");
  await publishTo(c.nsqd, topic, "1", "2", "3");
  await waitFor(async () => {
    const h = await (await fetch(`${base}/api/history?topic=${topic}`)).json();
    return h.points.length >= 2;
  }, { message: "two history points" });
  const h = await (await fetch(`${base}/api/history?topic=${topic}`)).json();
  assert.equal(h.points.at(-1).count, 3);
  assert.equal(h.rates.length, h.points.length - 1);
});

Deno.test("nsqadmin API: /config refused outside --allow-config-from-cidr", async () => {
  await using c = await startAdminCluster({ allowConfigFromCidr: "10.0.0.0/8", historyWindow: 0 });
  const r = await c.fetch("/config/log_level");
  assert.equal(r.status, 403);
  assert.deepEqual(await r.json(), { message: "FORBIDDEN" });
});

Deno.test("nsqadmin API: two nsqd, one topic: per-node rows and cluster sums", async () => {
  await using c = await startAdminCluster({ historyWindow: 0 });
  await using second = await startNsqd({
    httpAddress: "127.0.0.1:0",
    nsqlookupdTcpAddresses: [c.lookupd.tcpAddress],
    logLevel: "warn",
  });
  const topic = uniqueName("two");
  await publishTo(c.nsqd, topic, "1", "2", "3");
  await publishTo(second, topic, "4");
  for (const n of [c.nsqd, second]) {
    const r = await fetch(`http://${n.httpAddress}/channel/create?topic=${topic}&channel=ch`, {
      method: "POST",
    });
    await r.body?.cancel();
  }
  await waitFor(async () => {
    const r = await (await c.fetch(`/api/topics/${topic}`)).json();
    return r.nodes?.length === 2 && r.channels?.[0]?.nodes?.length === 2;
  }, { message: "both nsqd produce the topic" });
  const t = await (await c.fetch(`/api/topics/${topic}`)).json();
  assert.equal(t.message_count, 4);
  assert.deepEqual(
    t.nodes.map((n: { node: string }) => n.node).sort(),
    [c.nsqd.httpAddress, second.httpAddress].sort(),
  );
  assert.equal(t.channels.length, 1);
  assert.equal(t.channels[0].node, "*");
  const ch = await (await c.fetch(`/api/topics/${topic}/ch`)).json();
  assert.equal(ch.nodes.length, 2);
  assert.equal(ch.depth, ch.nodes[0].depth + ch.nodes[1].depth);
  const nodes = await (await c.fetch("/api/nodes")).json();
  assert.equal(nodes.nodes.length, 2);
  const counter = await (await c.fetch("/api/counter")).json();
  assert.ok(`${topic}:ch:${second.httpAddress}` in counter.stats);
  // Pause reaches both.
  const r = await send(c, "POST", `/api/topics/${topic}/ch`, { action: "pause" });
  assert.deepEqual(r, { status: 200, json: { message: "" } });
  for (const n of [c.nsqd, second]) {
    const s = await (await fetch(`http://${n.httpAddress}/stats?format=json&topic=${topic}`))
      .json();
    assert.equal(s.topics[0].channels[0].paused, true, n.httpAddress);
  }
  const page = await (await c.fetch(`/topics/${topic}`)).text();
  assert.ok(page.includes(`data-node="${second.httpAddress}"`));
});

Deno.test("nsqadmin API: /api/graphite and --proxy-graphite against a stub graphite", async () => {
  const seen: string[] = [];
  const graphite = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const u = new URL(req.url);
    seen.push(`${u.pathname}?${u.searchParams.toString()}`);
    return Response.json([{ target: u.searchParams.get("target"), datapoints: [[120, 1]] }]);
  });
  try {
    await using admin = new Nsqadmin({
      ...defaultNsqadminOptions(),
      httpAddress: "127.0.0.1:0",
      nsqdHttpAddresses: ["127.0.0.1:4151"],
      graphiteUrl: `http://127.0.0.1:${graphite.addr.port}`,
      proxyGraphite: true,
      historyWindow: 0,
    }, new Logger("[nsqadmin] ", "fatal"));
    await admin.start();
    const base = `http://${admin.httpAddress}`;
    const r = await fetch(`${base}/api/graphite?metric=rate&target=sumSeries(x)`);
    assert.deepEqual(await r.json(), { rate: "2.00" });
    assert.ok(seen[0].startsWith("/render?"));
    assert.match(seen[0], /from=-120sec/);
    assert.match(seen[0], /until=-60sec/);
    assert.match(seen[0], /format=json/);
    const proxied = await fetch(`${base}/render?target=y&format=json`);
    assert.equal(proxied.status, 200);
    assert.deepEqual(await proxied.json(), [{ target: "y", datapoints: [[120, 1]] }]);
  } finally {
    await graphite.shutdown();
  }
});
