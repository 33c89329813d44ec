import assert from "node:assert/strict";
import {
  clientLine,
  type ClientStats,
  formatRfc3339,
  goFixed,
  marshalGoJson,
  memStats,
  nanoSecondToHuman,
  renderStatsJson,
  renderStatsText,
  type StatsResponse,
} from "../../lib/nsqd/stats.ts";
import { channel, client, MEM_STATS_FIELDS, START_MS, START_S, topic } from "./_stats_fixtures.ts";
import { formatDurationNanos } from "../../lib/internal/duration.ts";

const NOW_MS = START_MS + 3_723_456; // uptime 1h2m3.456s

const worker = client({
  client_id: "worker-1",
  hostname: "worker-1",
  remote_address: "10.0.0.5:51234",
  user_agent: "nsqjs/0.13.0",
  state: 3,
  in_flight_count: 2,
  ready_count: 10,
  finish_count: 1400,
  requeue_count: 5,
  message_count: 1407,
  connect_ts: START_S + 60,
});
const short = client({ hostname: "h", remote_address: "[::1]:4000", connect_ts: START_S + 3723 });
const producer = client({
  client_id: "pub",
  hostname: "pub",
  remote_address: "127.0.0.1:40000",
  user_agent: "go-nsq/1.1.0",
  state: 2,
  pub_counts: [{ topic: "orders", count: 1500 }],
});

const FULL: StatsResponse = {
  version: "1.3.0",
  health: "OK",
  start_time: START_S,
  topics: [
    topic({
      topic_name: "orders",
      depth: 12,
      backend_depth: 3,
      message_count: 1500,
      message_bytes: 150_000,
      e2e_processing_latency: {
        count: 1500,
        percentiles: [
          { quantile: 0.99, value: 2_500_000_000 },
          { quantile: 0.95, value: 1250 },
          { quantile: 0.5, value: 999 },
        ],
      },
      channels: [
        channel({
          channel_name: "archive",
          paused: true,
          message_count: 1500,
          client_count: 2,
          clients: [worker, short],
        }),
        channel({
          channel_name: "billing",
          depth: 12345,
          backend_depth: 12000,
          in_flight_count: 7,
          deferred_count: 1,
          requeue_count: 42,
          timeout_count: 3,
          message_count: 1500,
          e2e_processing_latency: {
            count: 3,
            percentiles: [{ quantile: 0.99, value: 1_500_000 }],
          },
        }),
      ],
    }),
    topic({ topic_name: "zz#ephemeral", paused: true }),
  ],
  memory: {
    heap_objects: 100,
    heap_idle_bytes: 2048,
    heap_in_use_bytes: 4096,
    heap_released_bytes: 0,
    gc_pause_usec_100: 30,
    gc_pause_usec_99: 20,
    gc_pause_usec_95: 10,
    next_gc_bytes: 8192,
    gc_total_runs: 7,
  },
  producers: [producer],
};

// Derived from Go 1.3.0 printStats / ClientV2Stats.String format strings.
const FULL_TEXT = [
  "nsqd v1.3.0 (built w/go1.21.6)",
  "start_time 2024-01-02T03:04:05Z",
  "uptime 1h2m3.456s",
  "",
  "Health: OK",
  "",
  "Memory:",
  "   heap_objects             \t100",
  "   heap_idle_bytes          \t2048",
  "   heap_in_use_bytes        \t4096",
  "   heap_released_bytes      \t0",
  "   gc_pause_usec_100        \t30",
  "   gc_pause_usec_99         \t20",
  "   gc_pause_usec_95         \t10",
  "   next_gc_bytes            \t8192",
  "   gc_total_runs            \t7",
  "",
  "Topics:",
  "   [orders         ] depth: 12    be-depth: 3     msgs: 1500     e2e%: 2.5s, 1.2us, 999.0ns",
  "   *P [archive                  ] depth: 0     be-depth: 0     inflt: 0    def: 0    re-q: 0     timeout: 0     msgs: 1500     e2e%: ",
  "        [V2 worker-1:51234 nsqjs/0.13.0] state: 3 inflt: 2    rdy: 10   fin: 1400     re-q: 5        msgs: 1407     connected: 1h1m3s",
  "        [V2 h:4000               ] state: 3 inflt: 0    rdy: 0    fin: 0        re-q: 0        msgs: 0        connected: 0s",
  "      [billing                  ] depth: 12345 be-depth: 12000 inflt: 7    def: 1    re-q: 42    timeout: 3     msgs: 1500     e2e%: 1.5ms",
  "",
  "*P [zz#ephemeral   ] depth: 0     be-depth: 0     msgs: 0        e2e%: ",
  "",
  "Producers:",
  "   [V2 pub:40000 go-nsq/1.1.0] msgs: 1500     topics: orders=1500 connected: 1h2m3s",
  "",
].join("\n");

Deno.test("text stats reproduce Go's printStats line for line", () => {
  const text = renderStatsText(FULL, {
    startTimeMs: START_MS,
    nowMs: NOW_MS,
    versionLine: "nsqd v1.3.0 (built w/go1.21.6)",
    utcOffsetMinutes: 0,
  });
  assert.deepEqual(text.split("\n"), FULL_TEXT.split("\n"));
  assert.equal(text, FULL_TEXT);
});

Deno.test("text stats without memory, topics or producers", () => {
  const text = renderStatsText(
    {
      version: "1.3.0",
      health: "NOK - disk full",
      start_time: START_S,
      topics: null,
      producers: null,
    },
    { startTimeMs: START_MS, nowMs: START_MS + 250, utcOffsetMinutes: 120, versionLine: "v" },
  );
  assert.equal(
    text,
    [
      "v",
      "start_time 2024-01-02T05:04:05+02:00",
      "uptime 250ms",
      "",
      "Health: NOK - disk full",
      "",
      "Topics: None",
      "",
      "Producers: None",
      "",
    ].join("\n"),
  );
  // the default first line has Go's shape
  const dflt = renderStatsText(
    { version: "1.3.0", health: "OK", start_time: START_S, topics: [], producers: [] },
    { startTimeMs: START_MS, nowMs: START_MS },
  );
  assert.match(dflt, /^nsqd v1\.3\.0 \(built w\/deno\d+\.\d+\.\d+\)\nstart_time \S+\nuptime 0s\n/);
});

Deno.test("JSON stats: Go key order, omitempty, null vs []", () => {
  // the core may build objects in any key order and with empty omitempty fields
  const scrambled = {
    ...producer,
    authed: false,
    auth_identity: "",
    tls_negotiated_protocol_is_mutual: false,
    client_id: "pub",
  } as ClientStats;
  const consumer = client({
    pub_counts: [],
    authed: true,
    auth_identity: "alice",
    auth_identity_url: "https://auth/alice",
    tls: true,
    tls_cipher_suite: "TLS_AES_128_GCM_SHA256",
    tls_version: "TLS1.3",
  });
  const s: StatsResponse = {
    producers: [scrambled],
    topics: [
      topic({
        topic_name: "a",
        message_count: 2,
        message_bytes: 10,
        e2e_processing_latency: {
          count: 2,
          percentiles: [{ value: 1500000, quantile: 0.99 } as never],
        },
        channels: [
          channel({ channel_name: "c1", client_count: 1, clients: [consumer] }),
          channel({ channel_name: "c2", clients: null, client_count: 3 }),
        ],
      }),
    ],
    start_time: START_S,
    health: "OK",
    version: "1.3.0",
  };
  const expected = '{"version":"1.3.0","health":"OK","start_time":1704164645,"topics":[' +
    '{"topic_name":"a","channels":[' +
    '{"channel_name":"c1","depth":0,"backend_depth":0,"in_flight_count":0,"deferred_count":0,' +
    '"message_count":0,"requeue_count":0,"timeout_count":0,"client_count":1,"clients":[' +
    '{"client_id":"c","hostname":"h","version":"V2","remote_address":"127.0.0.1:1","state":3,' +
    '"ready_count":0,"in_flight_count":0,"message_count":0,"finish_count":0,"requeue_count":0,' +
    '"connect_ts":1704164645,"sample_rate":0,"deflate":false,"snappy":false,"user_agent":"",' +
    '"authed":true,"auth_identity":"alice","auth_identity_url":"https://auth/alice","tls":true,' +
    '"tls_cipher_suite":"TLS_AES_128_GCM_SHA256","tls_version":"TLS1.3",' +
    '"tls_negotiated_protocol":"","tls_negotiated_protocol_is_mutual":false}],' +
    '"paused":false,"e2e_processing_latency":{"count":0,"percentiles":null}},' +
    '{"channel_name":"c2","depth":0,"backend_depth":0,"in_flight_count":0,"deferred_count":0,' +
    '"message_count":0,"requeue_count":0,"timeout_count":0,"client_count":3,"clients":null,' +
    '"paused":false,"e2e_processing_latency":{"count":0,"percentiles":null}}],' +
    '"depth":0,"backend_depth":0,"message_count":2,"message_bytes":10,"paused":false,' +
    '"e2e_processing_latency":{"count":2,"percentiles":[{"quantile":0.99,"value":1500000}]}}],' +
    '"producers":[{"client_id":"pub","hostname":"pub","version":"V2",' +
    '"remote_address":"127.0.0.1:40000","state":2,"ready_count":0,"in_flight_count":0,' +
    '"message_count":0,"finish_count":0,"requeue_count":0,"connect_ts":1704164645,' +
    '"sample_rate":0,"deflate":false,"snappy":false,"user_agent":"go-nsq/1.1.0",' +
    '"pub_counts":[{"topic":"orders","count":1500}],"tls":false,"tls_cipher_suite":"",' +
    '"tls_version":"","tls_negotiated_protocol":"","tls_negotiated_protocol_is_mutual":false}]}';
  assert.equal(renderStatsJson(s), expected);
});

Deno.test("JSON stats: memory block, null topics and producers", () => {
  const s: StatsResponse = {
    version: "1.3.0",
    health: "OK",
    start_time: 5,
    topics: null,
    memory: FULL.memory,
    producers: null,
  };
  assert.equal(
    renderStatsJson(s),
    '{"version":"1.3.0","health":"OK","start_time":5,"topics":null,"memory":{"heap_objects":100,' +
      '"heap_idle_bytes":2048,"heap_in_use_bytes":4096,"heap_released_bytes":0,' +
      '"gc_pause_usec_100":30,"gc_pause_usec_99":20,"gc_pause_usec_95":10,' +
      '"next_gc_bytes":8192,"gc_total_runs":7},"producers":null}',
  );
  assert.equal(
    renderStatsJson({ ...s, topics: [], memory: undefined }),
    '{"version":"1.3.0","health":"OK","start_time":5,"topics":[],"producers":null}',
  );
});

Deno.test("JSON strings are escaped like Go's encoding/json", () => {
  assert.equal(
    marshalGoJson({ ua: '<a&b>\u2028\u2029\b\f\\b\n\u0001"' }),
    '{"ua":"\\u003ca\\u0026b\\u003e\\u2028\\u2029\\u0008\\u000c\\\\b\\n\\u0001\\""}',
  );
});

Deno.test("Go duration, fixed-point and human formats", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [1, "1ns"],
    [999, "999ns"],
    [1500, "1.5µs"],
    [1_000_000, "1ms"],
    [1_234_567, "1.234567ms"],
    [1_500_000_000, "1.5s"],
    [60e9, "1m0s"],
    [3600e9, "1h0m0s"],
    [3661.001e9, "1h1m1.001s"],
    [100 * 3600e9 + 1, "100h0m0.000000001s"],
    [-1.5e9, "-1.5s"],
  ];
  for (const [ns, s] of cases) assert.equal(formatDurationNanos(BigInt(ns)), s, `${ns}`);

  assert.equal(goFixed(1.25, 1), "1.2"); // exact tie → even
  assert.equal(goFixed(1.75, 1), "1.8");
  assert.equal(goFixed(1.35, 1), "1.4"); // not an exact tie in binary
  assert.equal(goFixed(0.125, 2), "0.12");
  assert.equal(goFixed(12.5, 0), "12");
  assert.equal(goFixed(13.5, 0), "14");
  assert.equal(goFixed(0.5, 0), "0");
  assert.equal(goFixed(-2.5, 0), "-2");
  assert.equal(goFixed(99.49999999999999, 0), "99");

  assert.equal(nanoSecondToHuman(999), "999.0ns");
  assert.equal(nanoSecondToHuman(1000), "1000.0ns");
  assert.equal(nanoSecondToHuman(1001), "1.0us");
  assert.equal(nanoSecondToHuman(1e9), "1000.0ms");
  assert.equal(nanoSecondToHuman(12_345_678_901), "12.3s");

  assert.equal(formatRfc3339(START_MS + 999, 0), "2024-01-02T03:04:05Z");
  assert.equal(formatRfc3339(START_MS, 330), "2024-01-02T08:34:05+05:30");
  assert.equal(formatRfc3339(START_MS, -420), "2024-01-01T20:04:05-07:00");
});

Deno.test("client lines: producer form, IPv6 port, negative connected time", () => {
  assert.equal(
    clientLine(client({ remote_address: "[fe80::1]:7", connect_ts: START_S + 5 }), START_MS),
    "[V2 h:7                  ] state: 3 inflt: 0    rdy: 0    fin: 0        re-q: 0        msgs: 0        connected: -5s",
  );
  assert.equal(
    clientLine(
      client({
        pub_counts: [{ topic: "a", count: 1 }, { topic: "b", count: 2 }],
        user_agent: "ü",
      }),
      START_MS + 1999,
    ),
    "[V2 h:1 ü                ] msgs: 3        topics: a=1,b=2 connected: 1s",
  );
});

Deno.test("memStats uses Go's field names with non-negative integers", () => {
  const m = memStats({ pausesNs: [5000, 1000, 3_000_000], runs: 3 });
  assert.deepEqual(Object.keys(m), MEM_STATS_FIELDS);
  for (const v of Object.values(m)) assert.ok(Number.isInteger(v) && v >= 0);
  assert.ok(m.heap_in_use_bytes > 0);
  assert.equal(m.gc_pause_usec_100, 3000);
  assert.equal(m.gc_pause_usec_95, 3000); // floor(0.95 * 3 + 0.5) = 3 → clamped to the last
  assert.equal(m.gc_total_runs, 3);
  assert.equal(memStats().gc_pause_usec_99, 0);
});
