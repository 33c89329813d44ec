/**
 * GET /stats against a scripted nsqd state: the JSON document has exactly the keys (in Go's
 * order), types and nesting of Go nsqd 1.3.0's (docs/nsqd.md#stats), and the text format's
 * lines have the expected shapes. Volatile values (times, ports, memory) are compared by type or pattern only.
 *
 * The script: topics `a_*` (channels `ch_paused`, paused, and `ch_work`) and `b_*` (no channels);
 * a producer client publishing over TCP (MPUB + DPUB); a consumer on `ch_work` that FINs one
 * message (an e2e sample), REQs one with a delay (deferred) and keeps one in flight; nsqd runs
 * with --e2e-processing-latency-percentile 0.99,0.5.
 */
import assert from "node:assert/strict";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";
import { V2Conn } from "../_util/wire.ts";

// ---- a tiny schema language: a JSON value's shape, object keys in order -----------------------

type Schema =
  | "string"
  | "number"
  | "boolean"
  | "null"
  | { readonly array: Schema }
  | { readonly tuple: readonly Schema[] }
  | { readonly emptyArray: true }
  | { readonly oneOf: readonly Schema[] }
  | { readonly [key: string]: Schema };

const arrayOf = (s: Schema): Schema => ({ array: s });
const tuple = (...s: Schema[]): Schema => ({ tuple: s });
const EMPTY: Schema = { emptyArray: true };

/** Throws an AssertionError naming the path where `v` departs from `schema`. */
function checkShape(v: unknown, schema: Schema, path = "$"): void {
  if (typeof schema === "string") {
    const got = v === null ? "null" : typeof v;
    assert.equal(got, schema, `${path}: expected ${schema}, got ${JSON.stringify(v)}`);
    if (schema === "number") assert.ok(Number.isFinite(v), `${path}: not a finite number`);
    return;
  }
  if ("oneOf" in schema) {
    const errors: string[] = [];
    for (const s of schema.oneOf as Schema[]) {
      try {
        checkShape(v, s, path);
        return;
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    assert.fail(`${path}: matches no alternative: ${errors.join(" | ")}`);
  }
  if ("emptyArray" in schema) {
    assert.deepEqual(v, [], `${path}: expected []`);
    return;
  }
  if ("tuple" in schema) {
    const items = schema.tuple as Schema[];
    assert.ok(Array.isArray(v), `${path}: expected an array, got ${JSON.stringify(v)}`);
    assert.equal(v.length, items.length, `${path}: length`);
    items.forEach((s, i) => checkShape(v[i], s, `${path}[${i}]`));
    return;
  }
  if ("array" in schema) {
    assert.ok(Array.isArray(v), `${path}: expected an array, got ${JSON.stringify(v)}`);
    assert.ok(v.length > 0, `${path}: expected a non-empty array`);
    v.forEach((item, i) => checkShape(item, schema.array as Schema, `${path}[${i}]`));
    return;
  }
  assert.ok(
    v !== null && typeof v === "object" && !Array.isArray(v),
    `${path}: expected an object, got ${JSON.stringify(v)}`,
  );
  const obj = v as Record<string, unknown>;
  assert.deepEqual(Object.keys(obj), Object.keys(schema), `${path}: keys`);
  for (const [k, s] of Object.entries(schema)) checkShape(obj[k], s as Schema, `${path}.${k}`);
}

// ---- Go nsqd 1.3.0's field set (nsq's nsqd/stats.go, docs/nsqd.md#stats) ---------------------

const E2E: Schema = {
  count: "number",
  percentiles: arrayOf({ quantile: "number", value: "number" }),
};
const E2E_NONE: Schema = { count: "number", percentiles: "null" };

const CLIENT_HEAD = {
  client_id: "string",
  hostname: "string",
  version: "string",
  remote_address: "string",
  state: "number",
  ready_count: "number",
  in_flight_count: "number",
  message_count: "number",
  finish_count: "number",
  requeue_count: "number",
  connect_ts: "number",
  sample_rate: "number",
  deflate: "boolean",
  snappy: "boolean",
  user_agent: "string",
} as const;
const CLIENT_TLS = {
  tls: "boolean",
  tls_cipher_suite: "string",
  tls_version: "string",
  tls_negotiated_protocol: "string",
  tls_negotiated_protocol_is_mutual: "boolean",
} as const;
/** A consumer: no authed / auth_identity / pub_counts (omitempty). */
const CONSUMER: Schema = { ...CLIENT_HEAD, ...CLIENT_TLS };
/** A producer: pub_counts between user_agent and tls. */
const PRODUCER: Schema = {
  ...CLIENT_HEAD,
  pub_counts: arrayOf({ topic: "string", count: "number" }),
  ...CLIENT_TLS,
};

function channelSchema(clients: Schema, e2e: Schema): Schema {
  return {
    channel_name: "string",
    depth: "number",
    backend_depth: "number",
    in_flight_count: "number",
    deferred_count: "number",
    message_count: "number",
    requeue_count: "number",
    timeout_count: "number",
    client_count: "number",
    clients,
    paused: "boolean",
    e2e_processing_latency: e2e,
  };
}

function topicSchema(channels: Schema, e2e: Schema): Schema {
  return {
    topic_name: "string",
    channels,
    depth: "number",
    backend_depth: "number",
    message_count: "number",
    message_bytes: "number",
    paused: "boolean",
    e2e_processing_latency: e2e,
  };
}

const MEMORY: Schema = {
  heap_objects: "number",
  heap_idle_bytes: "number",
  heap_in_use_bytes: "number",
  heap_released_bytes: "number",
  gc_pause_usec_100: "number",
  gc_pause_usec_99: "number",
  gc_pause_usec_95: "number",
  next_gc_bytes: "number",
  gc_total_runs: "number",
};

// ---- the scripted state ----------------------------------------------------------------------

interface Scene extends AsyncDisposable {
  s: TestNsqd;
  base: string;
  topicA: string;
  topicB: string;
  producer: V2Conn;
  consumer: V2Conn;
}

async function scene(): Promise<Scene> {
  const s = await startNsqd({
    httpAddress: "127.0.0.1:0",
    e2eProcessingLatencyPercentiles: [0.99, 0.5],
  });
  const base = `http://${s.nsqd.httpAddress}`;
  const conns: V2Conn[] = [];
  const dispose = async () => {
    for (const c of conns) await c.close();
    await s.close();
  };
  try {
    const post = async (path: string) => {
      const res = await fetch(base + path, { method: "POST" });
      assert.equal(res.status, 200, await res.text());
    };
    const topicA = uniqueName("a");
    const topicB = uniqueName("b");
    await post(`/topic/create?topic=${topicB}`);
    await post(`/topic/create?topic=${topicA}`);
    await post(`/channel/create?topic=${topicA}&channel=ch_work`);
    await post(`/channel/create?topic=${topicA}&channel=ch_paused`);
    await post(`/channel/pause?topic=${topicA}&channel=ch_paused`);

    const consumer = await V2Conn.connect(s.tcpAddress);
    conns.push(consumer);
    await consumer.identify({
      client_id: "consumer",
      hostname: "cons.host",
      user_agent: "golden-consumer/1.0",
    });
    await consumer.expectResponse("OK");
    await consumer.sub(topicA, "ch_work");
    await consumer.expectResponse("OK");
    await consumer.rdy(10);

    const producer = await V2Conn.connect(s.tcpAddress);
    conns.push(producer);
    await producer.identify({ client_id: "producer", hostname: "prod.host", user_agent: "gp/1" });
    await producer.expectResponse("OK");
    await producer.mpub(topicA, ["m1", "m2", "m3"]);
    await producer.expectResponse("OK");
    await producer.dpub(topicA, 60_000, "later");
    await producer.expectResponse("OK");

    const first = await consumer.expectMessage();
    const second = await consumer.expectMessage();
    await consumer.expectMessage(); // stays in flight
    await consumer.fin(first.id);
    await consumer.req(second.id, 60_000);

    const work = s.nsqd.getExistingTopic(topicA)!.getExistingChannel("ch_work")!;
    await waitFor(() =>
      work.inFlightCount === 1 && work.deferredCount === 2 && work.requeueCount === 1 &&
      [...work.clients.values()][0].finishCount === 1
    );
    return { s, base, topicA, topicB, producer, consumer, [Symbol.asyncDispose]: dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

async function get(base: string, path: string): Promise<string> {
  const res = await fetch(base + path);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return text;
}

// ---------------------------------------------------------------------------------------------

Deno.test("/stats?format=json: keys, types and nesting of Go nsqd 1.3.0's document", async () => {
  await using sc = await scene();
  const doc = JSON.parse(await get(sc.base, "/stats?format=json"));

  // topics sorted by name, channels sorted by name; a topic without channels has channels []
  // and, like Go, an empty e2e aggregate (percentiles null) even with percentiles configured
  checkShape(doc, {
    version: "string",
    health: "string",
    start_time: "number",
    topics: tuple(
      topicSchema(
        tuple(channelSchema(EMPTY, E2E), channelSchema(arrayOf(CONSUMER), E2E)),
        E2E,
      ),
      topicSchema(EMPTY, E2E_NONE),
    ),
    memory: MEMORY,
    producers: tuple(PRODUCER),
  });

  // the values the script determines
  assert.equal(doc.version, "1.3.0");
  assert.equal(doc.health, "OK");
  assert.equal(doc.start_time, sc.s.nsqd.startTime);
  const [a, b] = doc.topics;
  assert.equal(a.topic_name, sc.topicA);
  assert.equal(b.topic_name, sc.topicB);
  assert.equal(a.message_count, 4);
  assert.equal(a.message_bytes, 2 + 2 + 2 + 5);
  assert.equal(a.depth, 0);
  assert.equal(a.paused, false);
  assert.equal(a.e2e_processing_latency.count, 1);
  assert.deepEqual(
    a.e2e_processing_latency.percentiles.map((p: { quantile: number }) => p.quantile),
    [
      0.99,
      0.5,
    ],
  );

  const [paused, work] = a.channels;
  assert.equal(paused.channel_name, "ch_paused");
  assert.equal(paused.paused, true);
  assert.equal(paused.depth, 3);
  assert.equal(paused.deferred_count, 1);
  assert.equal(paused.message_count, 4);
  assert.equal(paused.client_count, 0);
  assert.equal(paused.e2e_processing_latency.count, 0);

  assert.equal(work.channel_name, "ch_work");
  assert.equal(work.paused, false);
  assert.equal(work.depth, 0);
  assert.equal(work.in_flight_count, 1);
  assert.equal(work.deferred_count, 2);
  assert.equal(work.requeue_count, 1);
  assert.equal(work.timeout_count, 0);
  assert.equal(work.message_count, 4);
  assert.equal(work.client_count, 1);
  assert.equal(work.e2e_processing_latency.count, 1);
  const p99 = work.e2e_processing_latency.percentiles[0];
  assert.equal(p99.quantile, 0.99);
  assert.ok(p99.value > 0 && p99.value < 60e9, `latency ${p99.value} ns`);

  const [c] = work.clients;
  assert.equal(c.client_id, "consumer");
  assert.equal(c.hostname, "cons.host");
  assert.equal(c.version, "V2");
  assert.equal(c.remote_address, sc.consumer.localAddr);
  assert.equal(c.state, 3);
  assert.equal(c.ready_count, 10);
  assert.equal(c.in_flight_count, 1);
  assert.equal(c.message_count, 3);
  assert.equal(c.finish_count, 1);
  assert.equal(c.requeue_count, 1);
  assert.equal(c.user_agent, "golden-consumer/1.0");
  assert.equal(c.tls, false);
  assert.equal(c.tls_version, "");

  const [p] = doc.producers;
  assert.equal(p.client_id, "producer");
  assert.equal(p.hostname, "prod.host");
  assert.equal(p.remote_address, sc.producer.localAddr);
  assert.equal(p.user_agent, "gp/1");
  assert.deepEqual(p.pub_counts, [{ topic: sc.topicA, count: 4 }]);
  assert.equal(p.state, 0); // Go: IDENTIFY leaves a client in stateInit until SUB
});

Deno.test("/stats?format=json: include_clients=false, include_mem=false, filters", async () => {
  await using sc = await scene();
  const lean = JSON.parse(
    await get(sc.base, "/stats?format=json&include_clients=0&include_mem=false"),
  );
  checkShape(lean, {
    version: "string",
    health: "string",
    start_time: "number",
    topics: tuple(
      topicSchema(tuple(channelSchema("null", E2E), channelSchema("null", E2E)), E2E),
      topicSchema(EMPTY, E2E_NONE),
    ),
    producers: "null",
  });
  // the consumer is still counted
  assert.equal(lean.topics[0].channels[1].client_count, 1);

  // ?topic= and ?channel=: one topic, one channel; the producer's pub_counts for that topic
  const one = JSON.parse(
    await get(sc.base, `/stats?format=json&topic=${sc.topicA}&channel=ch_work&include_mem=0`),
  );
  checkShape(one, {
    version: "string",
    health: "string",
    start_time: "number",
    topics: tuple(topicSchema(tuple(channelSchema(arrayOf(CONSUMER), E2E)), E2E)),
    producers: tuple(PRODUCER),
  });
  // a producer whose topics are all filtered out keeps its place, without pub_counts
  const other = JSON.parse(await get(sc.base, `/stats?format=json&topic=${sc.topicB}`));
  checkShape(other.producers, tuple({ ...CLIENT_HEAD, ...CLIENT_TLS }));
  // no such topic: topics and producers null
  const none = JSON.parse(await get(sc.base, "/stats?format=json&topic=nope&include_mem=0"));
  checkShape(none, {
    version: "string",
    health: "string",
    start_time: "number",
    topics: "null",
    producers: "null",
  });
});

Deno.test("/stats text: line shapes of Go's printStats", async () => {
  await using sc = await scene();
  const text = await get(sc.base, "/stats");
  const lines = text.split("\n");
  const pad = (s: string, n: number) => s.padEnd(n).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const e2e = "(\\d+(\\.\\d)?(ns|us|ms|s)), (\\d+(\\.\\d)?(ns|us|ms|s))";
  const expected: (string | RegExp)[] = [
    /^nsqd v1\.3\.0 \(built w\/\S+\)$/,
    /^start_time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/,
    /^uptime (\d+h)?(\d+m)?\d+(\.\d+)?(ns|µs|ms|s)$/,
    "",
    "Health: OK",
    "",
    "Memory:",
    ...Object.keys(MEMORY).map((k) => new RegExp(`^   ${pad(k, 25)}\\t\\d+$`)),
    "",
    "Topics:",
    new RegExp(
      `^   \\[${pad(sc.topicA, 15)}\\] depth: 0     be-depth: 0     msgs: 4        e2e%: ${e2e}$`,
    ),
    new RegExp(
      `^   \\*P \\[${pad("ch_paused", 25)}\\] depth: 3     be-depth: 0     inflt: 0    def: 1    ` +
        `re-q: 0     timeout: 0     msgs: 4        e2e%: ${e2e}$`,
    ),
    new RegExp(
      `^      \\[${pad("ch_work", 25)}\\] depth: 0     be-depth: 0     inflt: 1    def: 2    ` +
        `re-q: 1     timeout: 0     msgs: 4        e2e%: ${e2e}$`,
    ),
    new RegExp(
      `^        \\[V2 ${
        pad(`cons.host:${sc.consumer.localAddr.split(":")[1]} golden-consumer/1.0`, 21)
      }\\] ` +
        `state: 3 inflt: 1    rdy: 10   fin: 1        re-q: 1        msgs: 3        connected: \\d+s$`,
    ),
    "",
    // a topic without channels: Go prints an empty e2e% (no aggregate)
    new RegExp(
      `^   \\[${pad(sc.topicB, 15)}\\] depth: 0     be-depth: 0     msgs: 0        e2e%: $`,
    ),
    "",
    "Producers:",
    new RegExp(
      `^   \\[V2 ${pad(`prod.host:${sc.producer.localAddr.split(":")[1]} gp/1`, 21)}\\] ` +
        `msgs: 4        topics: ${sc.topicA}=4 connected: \\d+s$`,
    ),
    "",
  ];
  assert.equal(lines.length, expected.length, text);
  expected.forEach((want, i) => {
    if (typeof want === "string") assert.equal(lines[i], want, `line ${i + 1}`);
    else assert.match(lines[i], want, `line ${i + 1}`);
  });

  // without clients and memory: no client lines, no Memory block, "Producers: None"
  const lean = (await get(sc.base, "/stats?include_clients=false&include_mem=false")).split("\n");
  assert.ok(!lean.includes("Memory:"));
  assert.ok(!lean.some((l) => l.startsWith("        [V2 ")));
  assert.equal(lean.at(-2), "Producers: None");
  // no such topic: "Topics: None"
  const none = (await get(sc.base, "/stats?topic=nope")).split("\n");
  assert.ok(none.includes("Topics: None"));
});
