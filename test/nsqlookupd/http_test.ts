import assert from "node:assert/strict";
import { http, identifiedClient, startLookupd } from "./_helpers.ts";

const V1 = "nsq; version=1.0";

function assertV1(res: { headers: Headers }): void {
  assert.equal(res.headers.get("x-nsq-content-type"), V1);
}

async function assertError(
  lookupd: Parameters<typeof http>[0],
  method: string,
  path: string,
  status: number,
  message: string,
): Promise<void> {
  const res = await http(lookupd, method, path);
  assert.equal(res.status, status, `${method} ${path}: ${res.text}`);
  assertV1(res);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(res.text, JSON.stringify({ message }), `${method} ${path}`);
}

Deno.test("HTTP: /ping is plain text OK", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  const res = await http(lookupd, "GET", "/ping");
  assert.equal(res.status, 200);
  assert.equal(res.text, "OK");
  assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
});

Deno.test("HTTP: /info", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  const res = await http(lookupd, "GET", "/info");
  assert.equal(res.status, 200);
  assertV1(res);
  assert.equal(res.text, `{"version":"1.3.0"}`);
});

Deno.test("HTTP: empty lists are [] (topics, channels, nodes)", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  assert.equal((await http(lookupd, "GET", "/topics")).text, `{"topics":[]}`);
  assert.equal((await http(lookupd, "GET", "/channels?topic=x")).text, `{"channels":[]}`);
  assert.equal((await http(lookupd, "GET", "/nodes")).text, `{"producers":[]}`);
  assert.equal((await http(lookupd, "GET", "/debug")).text, `{}`);
});

Deno.test("HTTP: /topics, /channels and /lookup reflect registrations", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  const { client } = await identifiedClient(lookupd);
  await using _c = client;
  assert.equal(await client.command("REGISTER t1 c1"), "OK");
  assert.equal(await client.command("REGISTER t1 c2"), "OK");
  assert.equal(await client.command("REGISTER t2"), "OK");
  const topics = await http(lookupd, "GET", "/topics");
  assertV1(topics);
  assert.deepEqual(topics.json.topics.sort(), ["t1", "t2"]);
  const channels = await http(lookupd, "GET", "/channels?topic=t1");
  assert.deepEqual(channels.json.channels.sort(), ["c1", "c2"]);
  const lookup = await http(lookupd, "GET", "/lookup?topic=t1");
  assert.equal(lookup.status, 200);
  assertV1(lookup);
  assert.deepEqual(lookup.json.channels.sort(), ["c1", "c2"]);
  const local = client.conn.localAddr as Deno.NetAddr;
  assert.equal(
    JSON.stringify(lookup.json.producers),
    JSON.stringify([{
      remote_address: `127.0.0.1:${local.port}`,
      hostname: "nsqd-host",
      broadcast_address: "nsqd.test",
      tcp_port: 4150,
      http_port: 4151,
      version: "1.3.0",
    }]),
  );
  const lookup2 = await http(lookupd, "GET", "/lookup?topic=t2");
  assert.deepEqual(lookup2.json.channels, []);
  assert.equal(lookup2.json.producers.length, 1);
});

Deno.test("HTTP: /lookup and /channels errors", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  await assertError(lookupd, "GET", "/lookup", 400, "MISSING_ARG_TOPIC");
  await assertError(lookupd, "GET", "/lookup?topic=nope", 404, "TOPIC_NOT_FOUND");
  await assertError(lookupd, "GET", "/lookup?topic=", 404, "TOPIC_NOT_FOUND");
  await assertError(lookupd, "GET", "/lookup?topic=%zz", 400, "INVALID_REQUEST");
  await assertError(lookupd, "GET", "/channels", 400, "MISSING_ARG_TOPIC");
  await assertError(lookupd, "GET", "/channels?topic=a;b", 400, "INVALID_REQUEST");
});

Deno.test("HTTP: /topic/create and /topic/delete", async () => {
  const { lookupd, lines } = await startLookupd();
  await using _ = lookupd;
  const created = await http(lookupd, "POST", "/topic/create?topic=t");
  assert.equal(created.status, 200);
  assertV1(created);
  assert.equal(created.text, "");
  assert.deepEqual((await http(lookupd, "GET", "/topics")).json, { topics: ["t"] });
  // A producer-less topic is still found, with no producers.
  assert.deepEqual((await http(lookupd, "GET", "/lookup?topic=t")).json, {
    channels: [],
    producers: [],
  });
  assert.ok(lines.some((l) => l.endsWith("INFO: DB: adding topic(t)")));
  await assertError(lookupd, "POST", "/topic/create", 400, "MISSING_ARG_TOPIC");
  await assertError(lookupd, "POST", "/topic/create?topic=bad!", 400, "INVALID_ARG_TOPIC");
  await assertError(lookupd, "POST", "/topic/create?topic=", 400, "INVALID_ARG_TOPIC");
  await assertError(lookupd, "GET", "/topic/create?topic=t", 405, "METHOD_NOT_ALLOWED");

  assert.equal((await http(lookupd, "POST", "/channel/create?topic=t&channel=c")).status, 200);
  const deleted = await http(lookupd, "POST", "/topic/delete?topic=t");
  assert.equal(deleted.status, 200);
  assert.equal(deleted.text, "");
  assert.deepEqual((await http(lookupd, "GET", "/topics")).json, { topics: [] });
  assert.deepEqual((await http(lookupd, "GET", "/channels?topic=t")).json, { channels: [] });
  assert.ok(lines.some((l) => l.endsWith("INFO: DB: removing channel(c) from topic(t)")));
  assert.ok(lines.some((l) => l.endsWith("INFO: DB: removing topic(t)")));
  // Deleting something absent (even an invalid name) is fine.
  assert.equal((await http(lookupd, "POST", "/topic/delete?topic=nope!")).status, 200);
  await assertError(lookupd, "POST", "/topic/delete", 400, "MISSING_ARG_TOPIC");
});

Deno.test("HTTP: /channel/create and /channel/delete", async () => {
  const { lookupd, lines } = await startLookupd();
  await using _ = lookupd;
  const created = await http(lookupd, "POST", "/channel/create?topic=t&channel=c");
  assert.equal(created.status, 200);
  assert.equal(created.text, "");
  assert.deepEqual((await http(lookupd, "GET", "/topics")).json, { topics: ["t"] });
  assert.deepEqual((await http(lookupd, "GET", "/channels?topic=t")).json, { channels: ["c"] });
  assert.ok(lines.some((l) => l.endsWith("INFO: DB: adding channel(c) in topic(t)")));
  for (const path of ["/channel/create", "/channel/delete"]) {
    await assertError(lookupd, "POST", path, 400, "MISSING_ARG_TOPIC");
    await assertError(lookupd, "POST", `${path}?topic=a*`, 400, "INVALID_ARG_TOPIC");
    await assertError(lookupd, "POST", `${path}?topic=t`, 400, "MISSING_ARG_CHANNEL");
    await assertError(lookupd, "POST", `${path}?topic=t&channel=`, 400, "INVALID_ARG_CHANNEL");
    await assertError(lookupd, "POST", `${path}?topic=t&channel=%`, 400, "INVALID_REQUEST");
  }
  await assertError(
    lookupd,
    "POST",
    "/channel/delete?topic=t&channel=nope",
    404,
    "CHANNEL_NOT_FOUND",
  );
  const deleted = await http(lookupd, "POST", "/channel/delete?topic=t&channel=c");
  assert.equal(deleted.status, 200);
  assert.deepEqual((await http(lookupd, "GET", "/channels?topic=t")).json, { channels: [] });
  assert.deepEqual((await http(lookupd, "GET", "/topics")).json, { topics: ["t"] });
  assert.ok(lines.some((l) => l.endsWith("INFO: DB: removing channel(c) from topic(t)")));
});

Deno.test("HTTP: /nodes lists identified nsqd with their topics", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  const { client } = await identifiedClient(lookupd);
  await using _c = client;
  assert.equal(await client.command("REGISTER t1 c"), "OK");
  assert.equal(await client.command("REGISTER t2"), "OK");
  const res = await http(lookupd, "GET", "/nodes");
  assert.equal(res.status, 200);
  assertV1(res);
  assert.equal(res.json.producers.length, 1);
  const node = res.json.producers[0];
  assert.deepEqual(Object.keys(node), [
    "remote_address",
    "hostname",
    "broadcast_address",
    "tcp_port",
    "http_port",
    "version",
    "tombstones",
    "topics",
  ]);
  assert.deepEqual(node.topics.sort(), ["t1", "t2"]);
  assert.deepEqual(node.tombstones, [false, false]);
  assert.equal(node.broadcast_address, "nsqd.test");
});

Deno.test("HTTP: /debug shows registrations with producers, int64 nanosecond times", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  const { client } = await identifiedClient(lookupd);
  await using _c = client;
  assert.equal(await client.command("REGISTER t c"), "OK");
  assert.equal((await http(lookupd, "POST", "/topic/create?topic=empty")).status, 200);
  const res = await http(lookupd, "GET", "/debug");
  assert.equal(res.status, 200);
  assertV1(res);
  assert.deepEqual(Object.keys(res.json), ["channel:t:c", "client::", "topic:t:"]);
  const entry = res.json["topic:t:"][0];
  assert.deepEqual(Object.keys(entry), [
    "broadcast_address",
    "hostname",
    "http_port",
    "id",
    "last_update",
    "tcp_port",
    "tombstoned",
    "tombstoned_at",
    "version",
  ]);
  assert.match(entry.id, /^127\.0\.0\.1:\d+$/);
  assert.equal(entry.tombstoned, false);
  // Go's zero time.Time in UnixNano, exactly.
  assert.match(res.text, /"tombstoned_at":-6795364578871345152/);
  assert.match(res.text, /"last_update":\d{19}/);
});

Deno.test("HTTP: unknown paths and wrong methods", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  await assertError(lookupd, "GET", "/nope", 404, "NOT_FOUND");
  await assertError(lookupd, "POST", "/lookup?topic=x", 405, "METHOD_NOT_ALLOWED");
  const res = await http(lookupd, "POST", "/ping");
  assert.equal(res.headers.get("allow"), "GET, OPTIONS");
  // Deprecated pre-1.0 endpoints are gone.
  await assertError(lookupd, "POST", "/create_topic?topic=x", 404, "NOT_FOUND");
  await assertError(lookupd, "GET", "/delete_topic?topic=x", 404, "NOT_FOUND");
});

Deno.test("HTTP: requests are logged like nsq", async () => {
  const { lookupd, lines } = await startLookupd();
  await using _ = lookupd;
  await http(lookupd, "GET", "/lookup?topic=zz");
  assert.ok(
    lines.some((l) => /INFO: 404 GET \/lookup\?topic=zz \(127\.0\.0\.1:\d+\) \S+$/.test(l)),
    lines.join("\n"),
  );
});
