/**
 * nsqd's HTTP API (docs/nsqd.md#http-api), endpoint by endpoint: each success and each error status
 * and text nsq answers, against a real nsqd with its HTTP listener on 127.0.0.1 port 0.
 */
import assert from "node:assert/strict";
import type { NsqdOptions } from "../../lib/nsqd/options.ts";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";
import { V2Conn } from "../_util/wire.ts";
import { connectSub } from "../_util/protocol.ts";

const V1 = "nsq; version=1.0";
const JSON_TYPE = "application/json; charset=utf-8";
const enc = new TextEncoder();

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // deno-lint-ignore no-explicit-any
  json: any;
}

/** A started nsqd with its HTTP API. */
interface Server extends AsyncDisposable {
  s: TestNsqd;
  base: string;
  httpAddress: string;
  httpsAddress: string;
  req(
    method: string,
    path: string,
    body?: BodyInit | Uint8Array,
    headers?: HeadersInit,
  ): Promise<Answer>;
}

async function read(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

async function start(
  overrides: Partial<NsqdOptions> = {},
  tls?: { cert: string; key: string },
): Promise<Server> {
  const s = await startNsqd({ httpAddress: "127.0.0.1:0", ...overrides }, undefined, {
    httpsTls: tls,
  });
  const base = `http://${s.nsqd.httpAddress}`;
  return {
    s,
    base,
    httpAddress: s.nsqd.httpAddress,
    httpsAddress: s.nsqd.httpsAddress,
    req: async (method, path, body, headers) =>
      read(await fetch(base + path, { method, body: body as BodyInit, headers })),
    [Symbol.asyncDispose]: () => s.close(),
  };
}

function assertError(a: Answer, status: number, message: string): void {
  assert.equal(a.status, status, `status of ${a.text}`);
  assert.deepEqual(a.json, { message });
  assert.equal(a.headers.get("content-type"), JSON_TYPE);
  assert.equal(a.headers.get("x-nsq-content-type"), V1);
}

function assertOk(a: Answer, text: string): void {
  assert.equal(a.status, 200, a.text);
  assert.equal(a.text, text);
  assert.equal(a.headers.get("x-nsq-content-type"), V1);
}

/** A body sent without Content-Length (chunked). */
function chunked(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(ctl) {
      ctl.enqueue(data);
      ctl.close();
    },
  });
}

function binaryMpub(
  bodies: (string | Uint8Array)[],
  count = bodies.length,
): Uint8Array<ArrayBuffer> {
  const parts = bodies.map((b) => typeof b === "string" ? enc.encode(b) : b);
  const out = new Uint8Array(4 + parts.reduce((n, p) => n + 4 + p.length, 0));
  const dv = new DataView(out.buffer);
  dv.setInt32(0, count);
  let off = 4;
  for (const p of parts) {
    dv.setInt32(off, p.length);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

/** Reads and FINs `n` messages; returns their bodies. */
async function consume(c: V2Conn, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = await c.expectMessage();
    out.push(new TextDecoder().decode(m.body));
    await c.fin(m.id);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

Deno.test("HTTP /ping: OK as plain text; 500 NOK - <err> when unhealthy", async () => {
  await using srv = await start();
  const ok = await srv.req("GET", "/ping");
  assert.equal(ok.status, 200);
  assert.equal(ok.text, "OK");
  assert.equal(ok.headers.get("content-type"), "text/plain; charset=utf-8");

  srv.s.nsqd.setHealth(new Error("disk full"));
  const bad = await srv.req("GET", "/ping");
  assert.equal(bad.status, 500);
  assert.equal(bad.text, "NOK - disk full");
  srv.s.nsqd.setHealth(null);
  assert.equal((await srv.req("GET", "/ping")).text, "OK");
});

Deno.test("HTTP /info: fields, nanosecond durations, bound ports", async () => {
  await using srv = await start({ maxHeartbeatInterval: 45_000, maxOutputBufferTimeout: 1_500 });
  const a = await srv.req("GET", "/info");
  assert.equal(a.status, 200);
  assert.equal(a.headers.get("content-type"), JSON_TYPE);
  assert.equal(a.headers.get("x-nsq-content-type"), V1);
  assert.deepEqual(Object.keys(a.json), [
    "version",
    "broadcast_address",
    "hostname",
    "http_port",
    "tcp_port",
    "start_time",
    "max_heartbeat_interval",
    "max_output_buffer_size",
    "max_output_buffer_timeout",
    "max_deflate_level",
  ]);
  assert.equal(a.json.version, "1.3.0");
  assert.equal(a.json.broadcast_address, "127.0.0.1");
  assert.equal(typeof a.json.hostname, "string");
  assert.equal(a.json.http_port, Number(srv.httpAddress.split(":")[1]));
  assert.equal(a.json.tcp_port, Number(srv.s.tcpAddress.split(":")[1]));
  assert.equal(a.json.start_time, srv.s.nsqd.startTime);
  assert.equal(a.json.max_heartbeat_interval, 45_000_000_000);
  assert.equal(a.json.max_output_buffer_size, 65536);
  assert.equal(a.json.max_output_buffer_timeout, 1_500_000_000);
  assert.equal(a.json.max_deflate_level, 6);
});

Deno.test("HTTP /info: ports are -1 on unix sockets", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nsqd_http_unix_" });
  try {
    const httpSock = `${dir}/http.sock`;
    await using srv = await start({ httpAddress: httpSock, tcpAddress: `${dir}/tcp.sock` });
    assert.equal(srv.httpAddress, httpSock);
    using client = Deno.createHttpClient({ proxy: { transport: "unix", path: httpSock } });
    const a = await read(await fetch("http://localhost/info", { client }));
    assert.equal(a.status, 200);
    assert.equal(a.json.http_port, -1);
    assert.equal(a.json.tcp_port, -1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test('HTTP: --http-address "" serves nothing', async () => {
  await using srv = await start({ httpAddress: "" });
  assert.equal(srv.httpAddress, "");
  assert.equal(srv.httpsAddress, "");
});

Deno.test("HTTP /pub: publishes one message; defer; the topic is created", async () => {
  await using srv = await start();
  const topic = uniqueName();
  assertOk(await srv.req("POST", `/pub?topic=${topic}`, "hello"), "OK");
  const t = srv.s.nsqd.getExistingTopic(topic);
  assert.ok(t);
  assert.equal(t.messageCount, 1);
  assert.equal(t.messageBytes, 5);
  await using c = await connectSub(srv.s, topic, "reader", { rdy: 100 });
  assert.deepEqual(await consume(c, 1), ["hello"]);

  // chunked bodies work too
  assertOk(await srv.req("POST", `/pub?topic=${topic}`, chunked(enc.encode("streamed"))), "OK");
  assert.deepEqual(await consume(c, 1), ["streamed"]);

  // deferred: lands in the channel's deferred queue
  assertOk(await srv.req("POST", `/pub?topic=${topic}&defer=60000`, "later"), "OK");
  const ch = t.getExistingChannel("reader")!;
  assert.equal(ch.deferredCount, 1);
  assertOk(await srv.req("POST", `/pub?topic=${topic}&defer=0`, "now"), "OK");
  assert.equal(ch.deferredCount, 1);
});

Deno.test("HTTP /pub: errors", async () => {
  await using srv = await start({ maxMsgSize: 100, maxReqTimeout: 10_000 });
  const topic = uniqueName();
  const big = new Uint8Array(101).fill(0x61);
  // by Content-Length, and by the size read from a chunked body
  assertError(await srv.req("POST", `/pub?topic=${topic}`, big), 413, "MSG_TOO_BIG");
  assertError(await srv.req("POST", `/pub?topic=${topic}`, chunked(big)), 413, "MSG_TOO_BIG");
  assertOk(await srv.req("POST", `/pub?topic=${topic}`, big.subarray(0, 100)), "OK");
  srv.s.nsqd.deleteExistingTopic(topic);

  assertError(await srv.req("POST", `/pub?topic=${topic}`), 400, "MSG_EMPTY");
  assertError(await srv.req("POST", `/pub?topic=${topic}`, ""), 400, "MSG_EMPTY");
  // the body is checked before the topic is created
  await srv.s.nsqd.deletionsSettled(topic);
  assert.equal(srv.s.nsqd.getExistingTopic(topic), undefined);

  assertError(await srv.req("POST", "/pub", "x"), 400, "MISSING_ARG_TOPIC");
  assertError(await srv.req("POST", "/pub?topic=a/b", "x"), 400, "INVALID_TOPIC");
  assertError(await srv.req("POST", "/pub?topic=", "x"), 400, "INVALID_TOPIC");
  assertError(await srv.req("POST", "/pub?topic=a%zz", "x"), 400, "INVALID_REQUEST");
  for (const d of ["abc", "-1", "10001", "1.5", ""]) {
    assertError(await srv.req("POST", `/pub?topic=${topic}&defer=${d}`, "x"), 400, "INVALID_DEFER");
  }
  assertOk(await srv.req("POST", `/pub?topic=${topic}&defer=10000`, "x"), "OK");

  const t = srv.s.nsqd.getExistingTopic(topic)!;
  t.exiting = true; // what a closing topic does; put() then refuses
  try {
    assertError(await srv.req("POST", `/pub?topic=${topic}`, "x"), 503, "EXITING");
    assertError(await srv.req("POST", `/mpub?topic=${topic}`, "x\ny"), 503, "EXITING");
  } finally {
    t.exiting = false;
  }
});

Deno.test("HTTP /mpub: text mode splits on \\n, drops empty lines, keeps \\r", async () => {
  await using srv = await start();
  const topic = uniqueName();
  assertOk(await srv.req("POST", `/mpub?topic=${topic}`, "a\nb\r\n\n\nc"), "OK");
  assert.equal(srv.s.nsqd.getExistingTopic(topic)!.messageCount, 3);
  await using c = await connectSub(srv.s, topic, "reader", { rdy: 100 });
  assert.deepEqual((await consume(c, 3)).sort(), ["a", "b\r", "c"]);
  // zero messages is fine
  assertOk(await srv.req("POST", `/mpub?topic=${topic}`, "\n\n"), "OK");
  assertOk(await srv.req("POST", `/mpub?topic=${topic}`), "OK");
  // binary=false / 0 are text mode
  assertOk(await srv.req("POST", `/mpub?topic=${topic}&binary=false`, "x\ny"), "OK");
  assertOk(await srv.req("POST", `/mpub?topic=${topic}&binary=0`, "z"), "OK");
  assert.equal(srv.s.nsqd.getExistingTopic(topic)!.messageCount, 6);
});

Deno.test("HTTP /mpub: binary mode (true, 1, any other value)", async () => {
  await using srv = await start();
  const topic = uniqueName();
  const body = binaryMpub(["one", "two\nlines", new Uint8Array([0, 1, 2])]);
  for (const v of ["true", "1", "yes"]) {
    assertOk(await srv.req("POST", `/mpub?topic=${topic}&binary=${v}`, body), "OK");
  }
  assert.equal(srv.s.nsqd.getExistingTopic(topic)!.messageCount, 9);
  await waitFor(() => srv.s.logs.some((l) => l.includes("deprecated value 'yes'")));
  await using c = await connectSub(srv.s, topic, "reader", { rdy: 100 });
  const got = await consume(c, 9);
  assert.deepEqual(got.slice(0, 3).sort(), ["\x00\x01\x02", "one", "two\nlines"]);
});

Deno.test("HTTP /mpub: errors", async () => {
  await using srv = await start({ maxMsgSize: 10, maxBodySize: 64 });
  const topic = uniqueName();
  const q = `/mpub?topic=${topic}`;
  const tooBig = new Uint8Array(65).fill(0x61);
  assertError(await srv.req("POST", q, tooBig), 413, "BODY_TOO_BIG");
  assertError(await srv.req("POST", q, chunked(tooBig)), 413, "BODY_TOO_BIG");
  assertError(await srv.req("POST", q + "&binary=1", chunked(tooBig)), 413, "BODY_TOO_BIG");
  // a line longer than --max-msg-size
  assertError(await srv.req("POST", q, "ok\n0123456789a\nok"), 413, "MSG_TOO_BIG");
  assertOk(await srv.req("POST", q, "0123456789"), "OK");

  const bin = q + "&binary=true";
  assertError(await srv.req("POST", bin, new Uint8Array([0, 0])), 413, "BAD_BODY");
  assertError(await srv.req("POST", bin, binaryMpub([], 0)), 413, "BAD_BODY");
  assertError(await srv.req("POST", bin, binaryMpub([], -1)), 413, "BAD_BODY");
  assertError(await srv.req("POST", bin, binaryMpub(["a"], 13)), 413, "BAD_BODY"); // > (64-4)/5
  assertError(await srv.req("POST", bin, binaryMpub(["a"], 2)), 413, "BAD_MESSAGE"); // missing
  assertError(await srv.req("POST", bin, binaryMpub(["a", ""])), 413, "BAD_MESSAGE"); // size 0
  assertError(await srv.req("POST", bin, binaryMpub(["a", "0123456789a"])), 413, "BAD_MESSAGE");
  const truncated = binaryMpub(["abc", "def"]).subarray(0, 16);
  assertError(await srv.req("POST", bin, truncated), 413, "BAD_MESSAGE");
  // atomic: nothing of a rejected batch was published
  assert.equal(srv.s.nsqd.getExistingTopic(topic)!.messageCount, 1);

  assertError(await srv.req("POST", "/mpub", "x"), 400, "MISSING_ARG_TOPIC");
  assertError(await srv.req("POST", "/mpub?topic=bad!", "x"), 400, "INVALID_TOPIC");
  // the topic is created before the body is parsed
  const other = uniqueName();
  assertError(await srv.req("POST", `/mpub?topic=${other}&binary=1`, "x"), 413, "BAD_BODY");
  assert.ok(srv.s.nsqd.getExistingTopic(other));
});

Deno.test("HTTP /stats: json and text, filters, include_clients, include_mem", async () => {
  await using srv = await start();
  const [t1, t2] = [uniqueName("a"), uniqueName("b")];
  await using p = await V2Conn.connect(srv.s.tcpAddress);
  await p.pub(t2, "m");
  await p.expectResponse("OK");
  assertOk(await srv.req("POST", `/topic/create?topic=${t1}`), "");
  assertOk(await srv.req("POST", `/channel/create?topic=${t2}&channel=c2`), "");
  assertOk(await srv.req("POST", `/channel/create?topic=${t2}&channel=c1`), "");

  const all = await srv.req("GET", "/stats?format=json");
  assert.equal(all.status, 200);
  assert.equal(all.headers.get("content-type"), JSON_TYPE);
  assert.deepEqual(Object.keys(all.json), [
    "version",
    "health",
    "start_time",
    "topics",
    "memory",
    "producers",
  ]);
  const names = all.json.topics.map((t: { topic_name: string }) => t.topic_name);
  assert.deepEqual(names, [t1, t2]);
  assert.deepEqual(
    all.json.topics[1].channels.map((c: { channel_name: string }) => c.channel_name),
    ["c1", "c2"],
  );
  assert.equal(all.json.producers.length, 1);
  assert.deepEqual(all.json.producers[0].pub_counts, [{ topic: t2, count: 1 }]);

  const one = await srv.req("GET", `/stats?format=json&topic=${t2}&channel=c2`);
  assert.deepEqual(one.json.topics.map((t: { topic_name: string }) => t.topic_name), [t2]);
  assert.equal(one.json.topics[0].channels.length, 1);
  assert.equal(one.json.topics[0].channels[0].channel_name, "c2");
  // a channel filter alone skips topics without that channel
  const byChannel = await srv.req("GET", "/stats?format=json&channel=c1");
  assert.deepEqual(byChannel.json.topics.map((t: { topic_name: string }) => t.topic_name), [t2]);
  // an unknown topic: topics and producers null
  const none = await srv.req("GET", "/stats?format=json&topic=nope");
  assert.equal(none.json.topics, null);
  assert.equal(none.json.producers, null);

  const lean = await srv.req("GET", "/stats?format=json&include_clients=false&include_mem=0");
  assert.deepEqual(Object.keys(lean.json), [
    "version",
    "health",
    "start_time",
    "topics",
    "producers",
  ]);
  assert.equal(lean.json.producers, null);
  assert.equal(lean.json.topics[1].channels[0].clients, null);
  // anything but true/1/false/0 means true
  const odd = await srv.req("GET", "/stats?format=json&include_clients=no&include_mem=yes");
  assert.ok("memory" in odd.json);
  assert.deepEqual(odd.json.topics[1].channels[0].clients, []);

  const text = await srv.req("GET", "/stats");
  assert.equal(text.status, 200);
  assert.equal(text.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.match(text.text, /^nsqd v1\.3\.0 /);
  assert.match(text.text, /\nHealth: OK\n/);
  assert.match(text.text, new RegExp(`\\n   \\[${t1} *\\] depth: 0 `));
  assert.match(text.text, /\nProducers:\n {3}\[V2 /);
  // any format but json is text
  assert.match((await srv.req("GET", "/stats?format=xml")).text, /^nsqd v1\.3\.0 /);

  assertError(await srv.req("GET", "/stats?topic=%"), 400, "INVALID_REQUEST");
});

Deno.test("HTTP /topic/*: create, delete, empty, pause, unpause", async () => {
  await using srv = await start();
  const nsqd = srv.s.nsqd;
  const topic = uniqueName();
  assertOk(await srv.req("POST", `/topic/create?topic=${topic}`), "");
  assert.ok(nsqd.getExistingTopic(topic));
  assertOk(await srv.req("POST", `/topic/create?topic=${topic}`), ""); // get-or-create
  assertError(await srv.req("POST", "/topic/create"), 400, "MISSING_ARG_TOPIC");
  assertError(await srv.req("POST", "/topic/create?topic=a*b"), 400, "INVALID_TOPIC");

  // empty: drops the topic's own queue
  assertOk(await srv.req("POST", `/mpub?topic=${topic}`, "1\n2\n3"), "OK");
  assert.equal(nsqd.getExistingTopic(topic)!.depth, 3);
  assertOk(await srv.req("POST", `/topic/empty?topic=${topic}`), "");
  assert.equal(nsqd.getExistingTopic(topic)!.depth, 0);
  assertError(await srv.req("POST", "/topic/empty"), 400, "MISSING_ARG_TOPIC");
  assertError(await srv.req("POST", "/topic/empty?topic=a*b"), 400, "INVALID_TOPIC");
  assertError(await srv.req("POST", "/topic/empty?topic=nope"), 404, "TOPIC_NOT_FOUND");

  // pause / unpause, persisted in nsqd.dat before the answer
  const meta = async () =>
    JSON.parse(await Deno.readTextFile(`${srv.s.dataPath}/nsqd.dat`)).topics.find((
      t: { name: string },
    ) => t.name === topic);
  assertOk(await srv.req("POST", `/topic/pause?topic=${topic}`), "");
  assert.equal(nsqd.getExistingTopic(topic)!.paused, true);
  assert.equal((await meta()).paused, true);
  assertOk(await srv.req("POST", `/topic/unpause?topic=${topic}`), "");
  assert.equal(nsqd.getExistingTopic(topic)!.paused, false);
  assert.equal((await meta()).paused, false);
  for (const op of ["pause", "unpause"]) {
    assertError(await srv.req("POST", `/topic/${op}`), 400, "MISSING_ARG_TOPIC");
    assertError(await srv.req("POST", `/topic/${op}?topic=nope`), 404, "TOPIC_NOT_FOUND");
  }

  // delete (the name is not validated: an invalid one is simply not found)
  assertOk(await srv.req("POST", `/topic/delete?topic=${topic}`), "");
  assert.equal(nsqd.getExistingTopic(topic), undefined);
  assertError(await srv.req("POST", `/topic/delete?topic=${topic}`), 404, "TOPIC_NOT_FOUND");
  assertError(await srv.req("POST", "/topic/delete?topic=a*b"), 404, "TOPIC_NOT_FOUND");
  assertError(await srv.req("POST", "/topic/delete"), 400, "MISSING_ARG_TOPIC");
  // re-creating right after a delete waits for the old files to go
  assertOk(await srv.req("POST", `/topic/create?topic=${topic}`), "");
  assert.ok(nsqd.getExistingTopic(topic));
});

Deno.test("HTTP /channel/*: create, delete, empty, pause, unpause", async () => {
  await using srv = await start();
  const nsqd = srv.s.nsqd;
  const topic = uniqueName();
  const q = `topic=${topic}&channel=ch`;

  // the topic must exist
  assertError(await srv.req("POST", `/channel/create?${q}`), 404, "TOPIC_NOT_FOUND");
  assertOk(await srv.req("POST", `/topic/create?topic=${topic}`), "");
  assertOk(await srv.req("POST", `/channel/create?${q}`), "");
  assert.ok(nsqd.getExistingTopic(topic)!.getExistingChannel("ch"));

  for (const op of ["create", "delete", "empty", "pause", "unpause"]) {
    const path = `/channel/${op}`;
    assertError(await srv.req("POST", path), 400, "MISSING_ARG_TOPIC");
    assertError(await srv.req("POST", `${path}?topic=a*b&channel=ch`), 400, "INVALID_ARG_TOPIC");
    assertError(await srv.req("POST", `${path}?topic=${topic}`), 400, "MISSING_ARG_CHANNEL");
    assertError(
      await srv.req("POST", `${path}?topic=${topic}&channel=a*b`),
      400,
      "INVALID_ARG_CHANNEL",
    );
    assertError(await srv.req("POST", `${path}?topic=nope&channel=ch`), 404, "TOPIC_NOT_FOUND");
    if (op !== "create") {
      assertError(
        await srv.req("POST", `${path}?topic=${topic}&channel=nope`),
        404,
        "CHANNEL_NOT_FOUND",
      );
    }
  }

  // empty: stored, in-flight and deferred messages go; the client's in-flight count resets
  await using c = await V2Conn.connect(srv.s.tcpAddress);
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.rdy(1);
  assertOk(await srv.req("POST", `/mpub?topic=${topic}`, "1\n2\n3"), "OK");
  assertOk(await srv.req("POST", `/pub?topic=${topic}&defer=60000`, "d"), "OK");
  await c.expectMessage();
  const ch = nsqd.getExistingTopic(topic)!.getExistingChannel("ch")!;
  await waitFor(() => ch.inFlightCount === 1 && ch.depth === 2 && ch.deferredCount === 1);
  assertOk(await srv.req("POST", `/channel/empty?${q}`), "");
  assert.equal(ch.depth, 0);
  assert.equal(ch.inFlightCount, 0);
  assert.equal(ch.deferredCount, 0);
  assert.equal([...ch.clients.values()][0].inFlightCount, 0);

  // pause / unpause, persisted before the answer
  const meta = async () =>
    JSON.parse(await Deno.readTextFile(`${srv.s.dataPath}/nsqd.dat`)).topics
      .find((t: { name: string }) => t.name === topic).channels
      .find((x: { name: string }) => x.name === "ch");
  assertOk(await srv.req("POST", `/channel/pause?${q}`), "");
  assert.equal(ch.paused, true);
  assert.equal((await meta()).paused, true);
  assertOk(await srv.req("POST", `/channel/unpause?${q}`), "");
  assert.equal(ch.paused, false);
  assert.equal((await meta()).paused, false);

  // delete closes the channel's clients
  assertOk(await srv.req("POST", `/channel/delete?${q}`), "");
  assert.equal(nsqd.getExistingTopic(topic)!.getExistingChannel("ch"), undefined);
  await c.expectClosed();
  assertError(await srv.req("POST", `/channel/delete?${q}`), 404, "CHANNEL_NOT_FOUND");
  // and it can be created again at once
  assertOk(await srv.req("POST", `/channel/create?${q}`), "");
  assert.ok(nsqd.getExistingTopic(topic)!.getExistingChannel("ch"));
});

Deno.test("HTTP GET /config/:opt: any option by config key, Go's JSON", async () => {
  await using srv = await start({ msgTimeout: 90_000, nsqlookupdTcpAddresses: [] });
  const get = async (opt: string) => await srv.req("GET", `/config/${opt}`);
  assert.equal((await get("msg_timeout")).json, 90_000_000_000);
  assert.equal((await get("mem_queue_size")).json, 10000);
  assert.equal((await get("log_level")).json, 2); // info
  assert.equal((await get("id")).json, srv.s.nsqd.opts.id);
  assert.deepEqual((await get("nsqlookupd_tcp_addresses")).json, []);
  // a string option is a Go string: RespondV1 writes it raw, not as JSON
  assertOk(await get("statsd_prefix"), "nsq.%s");
  assert.equal((await get("snappy")).json, true);
  assertError(await get("nope"), 400, "INVALID_OPTION");
  assertError(await get("msg-timeout"), 400, "INVALID_OPTION");
});

Deno.test("HTTP PUT /config/:opt: log_level and nsqlookupd_tcp_addresses", async () => {
  await using srv = await start({ maxMsgSize: 64 });
  const nsqd = srv.s.nsqd;
  const put = async (opt: string, body?: string) => await srv.req("PUT", `/config/${opt}`, body);

  const level = await put("log_level", "WARN");
  assertOk(level, "3");
  assert.equal(nsqd.logger.level, "warn");
  assert.equal(nsqd.opts.logLevel, "warn");
  assertError(await put("log_level", "loud"), 400, "INVALID_VALUE");
  assertError(await put("log_level", ""), 413, "INVALID_VALUE");
  assertError(await put("log_level"), 413, "INVALID_VALUE");
  assertError(await put("log_level", "x".repeat(65)), 413, "INVALID_VALUE");
  assertOk(await put("log_level", "debug"), "1");

  // the lookupd peers are reconciled through nsqd.lookup (a spy here: no real lookupd)
  const calls: string[][] = [];
  const real = nsqd.lookup;
  nsqd.lookup = {
    register() {},
    unregister() {},
    fetchChannels: () => Promise.resolve(null),
    setAddresses: (addrs) => void calls.push(addrs),
    close: () => Promise.resolve(),
  };
  try {
    const addrs = await put("nsqlookupd_tcp_addresses", '["127.0.0.1:4160","lookupd:4160"]');
    assert.equal(addrs.status, 200);
    assert.deepEqual(addrs.json, ["127.0.0.1:4160", "lookupd:4160"]);
    assert.deepEqual(calls, [["127.0.0.1:4160", "lookupd:4160"]]);
    assert.deepEqual(nsqd.opts.nsqlookupdTcpAddresses, ["127.0.0.1:4160", "lookupd:4160"]);
    assert.deepEqual((await srv.req("GET", "/config/nsqlookupd_tcp_addresses")).json, [
      "127.0.0.1:4160",
      "lookupd:4160",
    ]);
    for (const bad of ['"127.0.0.1:4160"', "[1]", "{", "[1,"]) {
      assertError(await put("nsqlookupd_tcp_addresses", bad), 400, "INVALID_VALUE");
    }
    assertOk(await put("nsqlookupd_tcp_addresses", "[]"), "[]");
    assert.deepEqual(calls.at(-1), []);
  } finally {
    nsqd.lookup = real;
  }

  // every other option is read-only
  assertError(await put("msg_timeout", "1s"), 400, "INVALID_OPTION");
  assertError(await put("nope", "1"), 400, "INVALID_OPTION");
});

Deno.test("HTTP: 404 NOT_FOUND, 405 METHOD_NOT_ALLOWED with Allow, V1 header", async () => {
  await using srv = await start();
  assertError(await srv.req("GET", "/nope"), 404, "NOT_FOUND");
  assertError(await srv.req("GET", "/debug/pprof/"), 404, "NOT_FOUND");
  const m = await srv.req("GET", "/pub");
  assertError(m, 405, "METHOD_NOT_ALLOWED");
  assert.equal(m.headers.get("allow"), "OPTIONS, POST");
  assertError(await srv.req("POST", "/stats"), 405, "METHOD_NOT_ALLOWED");
  assertError(await srv.req("DELETE", "/config/log_level"), 405, "METHOD_NOT_ALLOWED");
  // the legacy (pre-1.0) endpoints are gone
  assertError(await srv.req("POST", "/put?topic=x", "m"), 404, "NOT_FOUND");
  assertError(await srv.req("POST", "/create_topic?topic=x"), 404, "NOT_FOUND");
});

Deno.test("HTTP: requests are logged, except /pub and /mpub (as Go)", async () => {
  await using srv = await start();
  const topic = uniqueName();
  await srv.req("POST", `/pub?topic=${topic}`, "x");
  await srv.req("POST", `/mpub?topic=${topic}`, "x");
  await srv.req("GET", "/info");
  await srv.req("GET", "/nope");
  await waitFor(() => srv.s.logs.some((l) => / 404 GET \/nope /.test(l)));
  assert.ok(srv.s.logs.some((l) => /INFO: 200 GET \/info \(127\.0\.0\.1:\d+\) /.test(l)));
  assert.ok(!srv.s.logs.some((l) => /POST \/m?pub/.test(l)));
});

Deno.test("HTTP: HTTP publishers are not producers in /stats", async () => {
  await using srv = await start();
  const topic = uniqueName();
  assertOk(await srv.req("POST", `/pub?topic=${topic}`, "x"), "OK");
  const a = await srv.req("GET", "/stats?format=json");
  assert.equal(a.json.producers, null);
});

Deno.test("HTTP: GET /metrics is Prometheus text", async () => {
  await using srv = await start();
  const topic = uniqueName();
  assertOk(await srv.req("POST", `/mpub?topic=${topic}`, "a\nb"), "OK");
  assertOk(await srv.req("POST", `/channel/create?topic=${topic}&channel=ch`), "");
  await using _c = await connectSub(srv.s, topic, "reader", { rdy: 100 });
  const a = await srv.req("GET", "/metrics");
  assert.equal(a.status, 200);
  assert.equal(a.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.match(a.text, /^# HELP /);
  assert.match(a.text, new RegExp(`\\nnsq_topic_message_count\\{topic="${topic}"\\} 2\\n`));
  assert.match(a.text, /\nnsq_up 1\n/);
  assert.ok(a.text.includes(`channel="reader"`));
  const lean = await srv.req("GET", "/metrics?include_clients=false");
  assert.equal(lean.status, 200);
  assert.ok(!lean.text.includes("nsq_client_"));
});

Deno.test("HTTPS and --tls-required: plain HTTP answers 403 TLS_REQUIRED", async () => {
  const dir = new URL("../_fixtures/certs/", import.meta.url);
  const ca = await Deno.readTextFile(new URL("ca.pem", dir));
  await using srv = await start({
    httpsAddress: "127.0.0.1:0",
    tlsRequired: 1,
    tlsCert: new URL("server.pem", dir).pathname,
    tlsKey: new URL("server.key", dir).pathname,
  });
  assert.notEqual(srv.httpsAddress, "");
  const httpsPort = Number(srv.httpsAddress.split(":")[1]);

  for (const [m, p] of [["GET", "/ping"], ["POST", "/pub?topic=x"], ["GET", "/nope"]]) {
    const a = await srv.req(m, p, m === "POST" ? "x" : undefined);
    assert.equal(a.status, 403);
    assert.equal(a.text, `{"message": "TLS_REQUIRED", "https_port": ${httpsPort}}`);
    assert.equal(a.headers.get("content-type"), JSON_TYPE);
    assert.equal(a.headers.get("x-nsq-content-type"), V1);
  }

  using client = Deno.createHttpClient({ caCerts: [ca] });
  const https = `https://localhost:${httpsPort}`;
  const ping = await read(await fetch(`${https}/ping`, { client }));
  assert.equal(ping.status, 200);
  assert.equal(ping.text, "OK");
  const topic = uniqueName();
  const pub = await read(
    await fetch(`${https}/pub?topic=${topic}`, {
      client,
      method: "POST",
      body: "secure",
    }),
  );
  assertOk(pub, "OK");
  const info = await read(await fetch(`${https}/info`, { client }));
  assert.equal(info.json.http_port, Number(srv.httpAddress.split(":")[1]));
});

Deno.test("HTTPS without --tls-required: both listeners serve the API", async () => {
  const dir = new URL("../_fixtures/certs/", import.meta.url);
  const cert = await Deno.readTextFile(new URL("server.pem", dir));
  const key = await Deno.readTextFile(new URL("server-pkcs1.key", dir));
  const ca = await Deno.readTextFile(new URL("ca.pem", dir));
  await using srv = await start({ httpsAddress: "127.0.0.1:0" }, { cert, key });
  assert.equal((await srv.req("GET", "/ping")).text, "OK");
  using client = Deno.createHttpClient({ caCerts: [ca] });
  const a = await read(
    await fetch(`https://localhost:${srv.httpsAddress.split(":")[1]}/ping`, { client }),
  );
  assert.equal(a.text, "OK");
});

Deno.test("HTTP: the listeners close when nsqd closes", async () => {
  const s = await startNsqd({ httpAddress: "127.0.0.1:0" });
  const addr = s.nsqd.httpAddress;
  assert.equal((await read(await fetch(`http://${addr}/ping`))).text, "OK");
  await s.close();
  await assert.rejects(fetch(`http://${addr}/ping`));
});
