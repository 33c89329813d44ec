import assert from "node:assert/strict";
import { http, identifiedClient, startLookupd, V1Client } from "./_helpers.ts";
import { waitFor } from "../_util/wait.ts";
import { Nsqlookupd } from "../../lib/nsqlookupd/nsqlookupd.ts";
import { defaultNsqlookupdOptions } from "../../lib/nsqlookupd/options.ts";
import { silentLogger } from "../../lib/internal/log.ts";

Deno.test("nsqlookupd: start binds port 0, exposes real addresses, logs like Go", async () => {
  const { lookupd, lines } = await startLookupd();
  await using _ = lookupd;
  assert.match(lookupd.tcpAddress, /^127\.0\.0\.1:\d+$/);
  assert.match(lookupd.httpAddress, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(lookupd.tcpPort, 0);
  assert.notEqual(lookupd.httpPort, 0);
  assert.ok(lines[0].startsWith("[nsqlookupd] "));
  assert.match(lines[0], /INFO: nsqlookupd v1\.3\.0/);
  assert.ok(lines.some((l) => l.endsWith(`INFO: TCP: listening on ${lookupd.tcpAddress}`)));
  assert.ok(lines.some((l) => l.endsWith(`INFO: HTTP: listening on ${lookupd.httpAddress}`)));
});

Deno.test("nsqlookupd: close is idempotent and closes client connections", async () => {
  const { lookupd, lines } = await startLookupd();
  const { client } = await identifiedClient(lookupd);
  await using _c = client;
  await Promise.all([lookupd.close(), lookupd.close()]);
  await lookupd.close();
  await client.expectClosed();
  assert.ok(lines.some((l) => l.endsWith(`INFO: TCP: closing ${lookupd.tcpAddress}`)));
  assert.ok(lines.some((l) => l.endsWith(`INFO: HTTP: closing ${lookupd.httpAddress}`)));
  await assert.rejects(lookupd.start());
});

Deno.test("nsqlookupd: close before start, and a failed bind", async () => {
  const never = new Nsqlookupd(defaultNsqlookupdOptions(), silentLogger());
  await never.close();

  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  const clash = new Nsqlookupd(
    { ...defaultNsqlookupdOptions(), tcpAddress: lookupd.tcpAddress, httpAddress: "127.0.0.1:0" },
    silentLogger(),
  );
  await assert.rejects(
    clash.start(),
    new RegExp(`^Error: listen \\(${lookupd.tcpAddress}\\) failed - `),
  );
  await clash.close();
  const httpClash = new Nsqlookupd(
    { ...defaultNsqlookupdOptions(), tcpAddress: "127.0.0.1:0", httpAddress: lookupd.httpAddress },
    silentLogger(),
  );
  await assert.rejects(httpClash.start(), /listen .* failed/);
  await httpClash.close();
  const bad = new Nsqlookupd(
    { ...defaultNsqlookupdOptions(), tcpAddress: "nope", httpAddress: "127.0.0.1:0" },
    silentLogger(),
  );
  await assert.rejects(bad.start(), TypeError);
});

Deno.test("nsqlookupd: tombstones hide a producer from /lookup for the tombstone lifetime", async () => {
  const { lookupd, lines } = await startLookupd({ tombstoneLifetime: 200 });
  await using _ = lookupd;
  const { client: a } = await identifiedClient(lookupd, { broadcast_address: "a", http_port: 1 });
  await using _a = a;
  const { client: b } = await identifiedClient(lookupd, { broadcast_address: "b", http_port: 2 });
  await using _b = b;
  assert.equal(await a.command("REGISTER t"), "OK");
  assert.equal(await a.command("REGISTER u"), "OK");
  assert.equal(await b.command("REGISTER t"), "OK");
  const producersOf = async (topic: string) =>
    (await http(lookupd, "GET", `/lookup?topic=${topic}`)).json.producers
      .map((p: { broadcast_address: string }) => p.broadcast_address).sort();
  assert.deepEqual(await producersOf("t"), ["a", "b"]);

  const missingNode = await http(lookupd, "POST", "/topic/tombstone?topic=t");
  assert.equal(missingNode.status, 400);
  assert.equal(missingNode.json.message, "MISSING_ARG_NODE");
  const missingTopic = await http(lookupd, "POST", "/topic/tombstone?node=a:1");
  assert.equal(missingTopic.status, 400);
  assert.equal(missingTopic.json.message, "MISSING_ARG_TOPIC");

  const res = await http(lookupd, "POST", "/topic/tombstone?topic=t&node=a:1");
  assert.equal(res.status, 200);
  assert.equal(res.text, "");
  assert.ok(
    lines.some((l) => l.endsWith("INFO: DB: setting tombstone for producer@a:1 of topic(t)")),
  );
  assert.deepEqual(await producersOf("t"), ["b"]);
  // Only topic t is tombstoned for a; u still lists it.
  assert.deepEqual(await producersOf("u"), ["a"]);
  // /nodes still shows a, with tombstones aligned to topics.
  const nodes = (await http(lookupd, "GET", "/nodes")).json.producers;
  const nodeA = nodes.find((n: { broadcast_address: string }) => n.broadcast_address === "a");
  const flags = Object.fromEntries(
    nodeA.topics.map((t: string, i: number) => [t, nodeA.tombstones[i]]),
  );
  assert.deepEqual(flags, { t: true, u: false });
  // Re-REGISTER on the same connection does not clear the tombstone.
  assert.equal(await a.command("REGISTER t"), "OK");
  assert.deepEqual(await producersOf("t"), ["b"]);
  // Unknown nodes are ignored; still 200.
  assert.equal((await http(lookupd, "POST", "/topic/tombstone?topic=t&node=zz:9")).status, 200);
  // After the lifetime the producer reappears.
  await waitFor(async () => (await producersOf("t")).length === 2, {
    message: "tombstone expiry",
  });
});

Deno.test("nsqlookupd: a new connection is a fresh, non-tombstoned producer", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  const first = await identifiedClient(lookupd, { broadcast_address: "a", http_port: 1 });
  assert.equal(await first.client.command("REGISTER t"), "OK");
  assert.equal((await http(lookupd, "POST", "/topic/tombstone?topic=t&node=a:1")).status, 200);
  assert.equal((await http(lookupd, "GET", "/lookup?topic=t")).json.producers.length, 0);
  first.client.close();
  await waitFor(() => lookupd.db.findProducers("topic", "t", "").length === 0);
  const { client } = await identifiedClient(lookupd, { broadcast_address: "a", http_port: 1 });
  await using _c = client;
  assert.equal(await client.command("REGISTER t"), "OK");
  assert.equal((await http(lookupd, "GET", "/lookup?topic=t")).json.producers.length, 1);
});

Deno.test("nsqlookupd: producers that stop pinging become inactive; PING revives them", async () => {
  const { lookupd } = await startLookupd({ inactiveProducerTimeout: 150 });
  await using _ = lookupd;
  const { client } = await identifiedClient(lookupd);
  await using _c = client;
  assert.equal(await client.command("REGISTER t c"), "OK");
  const count = async () => (await http(lookupd, "GET", "/lookup?topic=t")).json.producers.length;
  const nodes = async () => (await http(lookupd, "GET", "/nodes")).json.producers.length;
  assert.equal(await count(), 1);
  assert.equal(await nodes(), 1);
  await waitFor(async () => (await count()) === 0, { message: "producer inactive" });
  assert.equal(await nodes(), 0);
  // The registration itself stays.
  assert.deepEqual((await http(lookupd, "GET", "/lookup?topic=t")).json.channels, ["c"]);
  assert.equal(await client.command("PING"), "OK");
  assert.equal(await count(), 1);
  assert.equal(await nodes(), 1);
});

Deno.test("nsqlookupd: disconnect removes the producer from /lookup and /nodes", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  const { client } = await identifiedClient(lookupd);
  assert.equal(await client.command("REGISTER t c"), "OK");
  assert.equal((await http(lookupd, "GET", "/lookup?topic=t")).json.producers.length, 1);
  client.close();
  await waitFor(async () =>
    (await http(lookupd, "GET", "/lookup?topic=t")).json.producers.length === 0
  );
  assert.deepEqual((await http(lookupd, "GET", "/nodes")).json, { producers: [] });
  assert.deepEqual((await http(lookupd, "GET", "/topics")).json, { topics: ["t"] });
});

Deno.test("nsqlookupd: many concurrent clients", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  const clients: V1Client[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const { client } = await identifiedClient(lookupd, { broadcast_address: `n${i}` });
      clients.push(client);
    }
    await Promise.all(clients.map((c, i) => c.command(`REGISTER t c${i % 3}`)));
    const res = await http(lookupd, "GET", "/lookup?topic=t");
    assert.equal(res.json.producers.length, 20);
    assert.deepEqual(res.json.channels.sort(), ["c0", "c1", "c2"]);
  } finally {
    for (const c of clients) c.close();
  }
});
