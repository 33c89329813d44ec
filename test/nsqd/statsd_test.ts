import assert from "node:assert/strict";
import dgram from "node:dgram";
import { Logger } from "../../lib/internal/log.ts";
import type { MemStats, StatsResponse, TopicStats } from "../../lib/nsqd/stats.ts";
import { packStatsdLines, statsdLines, StatsdLoop, statsdPrefix } from "../../lib/nsqd/statsd.ts";
import { channel, topic } from "./_stats_fixtures.ts";

function stats(topics: TopicStats[]): StatsResponse {
  return { version: "1.3.0", health: "OK", start_time: 1, topics, producers: null };
}

function snapshot(messages: number): StatsResponse {
  return stats([
    topic({
      topic_name: "orders",
      message_count: messages,
      message_bytes: messages * 10,
      depth: 7,
      backend_depth: 2,
      e2e_processing_latency: {
        count: 3,
        percentiles: [{ quantile: 0.99, value: 1234.9 }, { quantile: 0.5, value: 10 }],
      },
      channels: [
        channel({
          channel_name: "archive",
          depth: 5,
          backend_depth: 1,
          in_flight_count: 3,
          deferred_count: 4,
          message_count: messages,
          requeue_count: 6,
          timeout_count: 2,
          client_count: 9,
          clients: null,
          e2e_processing_latency: {
            count: 1,
            percentiles: [{ quantile: 0.985, value: 77 }],
          },
        }),
        channel({
          channel_name: "tail#ephemeral",
          depth: 1,
          message_count: messages,
          client_count: 1,
          clients: null,
        }),
      ],
    }),
    topic({ topic_name: "scratch#ephemeral", message_count: 3, depth: 1 }),
  ]);
}

const MEM: MemStats = {
  heap_objects: 1,
  heap_idle_bytes: 2,
  heap_in_use_bytes: 3,
  heap_released_bytes: 4,
  gc_pause_usec_100: 5,
  gc_pause_usec_99: 6,
  gc_pause_usec_95: 7,
  next_gc_bytes: 8,
  gc_total_runs: 10,
};

Deno.test("statsd prefix expands %s like Go's nsqd.New", () => {
  assert.equal(statsdPrefix("nsq.%s", "myhost", 4151), "nsq.myhost_4151.");
  assert.equal(statsdPrefix("nsq.%s", "10.0.0.1", 4151), "nsq.10_0_0_1_4151.");
  assert.equal(statsdPrefix("nsq.%s.", "a.b", 1), "nsq.a_b_1.");
  assert.equal(statsdPrefix("stats", "h", 1), "stats.");
  assert.equal(statsdPrefix("%s.%s", "h", 2), "h_2.h_2.");
  assert.equal(statsdPrefix("nsq.%s", "::1", 4151), "nsq.[__1]_4151.");
  assert.equal(statsdPrefix("", "h", 1), "");
});

const FIRST_PUSH = [
  "p.topic.orders.message_count:100|c",
  "p.topic.orders.message_bytes:1000|c",
  "p.topic.orders.depth:7|g",
  "p.topic.orders.backend_depth:2|g",
  "p.topic.orders.e2e_processing_latency_99:1234|g",
  "p.topic.orders.e2e_processing_latency_50:10|g",
  "p.topic.orders.channel.archive.message_count:100|c",
  "p.topic.orders.channel.archive.depth:5|g",
  "p.topic.orders.channel.archive.backend_depth:1|g",
  "p.topic.orders.channel.archive.in_flight_count:3|g",
  "p.topic.orders.channel.archive.deferred_count:4|g",
  "p.topic.orders.channel.archive.requeue_count:6|c",
  "p.topic.orders.channel.archive.timeout_count:2|c",
  "p.topic.orders.channel.archive.clients:9|g",
  // 0.985 * 100 is exactly 98.5 in float64 and Go's %.0f rounds ties to even
  "p.topic.orders.channel.archive.e2e_processing_latency_98:77|g",
];

const MEM_LINES = [
  "p.mem.heap_objects:1|g",
  "p.mem.heap_idle_bytes:2|g",
  "p.mem.heap_in_use_bytes:3|g",
  "p.mem.heap_released_bytes:4|g",
  "p.mem.gc_pause_usec_100:5|g",
  "p.mem.gc_pause_usec_99:6|g",
  "p.mem.gc_pause_usec_95:7|g",
  "p.mem.next_gc_bytes:8|g",
];

Deno.test("statsd lines: first push, ephemeral exclusion, mem stats", () => {
  const lines = statsdLines(null, snapshot(100), {
    prefix: "p.",
    excludeEphemeral: true,
    mem: MEM,
  });
  assert.deepEqual(lines, [...FIRST_PUSH, ...MEM_LINES, "p.mem.gc_runs:10|c"]);

  const all = statsdLines(null, snapshot(100), { prefix: "p.", excludeEphemeral: false });
  assert.ok(all.includes("p.topic.orders.channel.tail#ephemeral.message_count:100|c"));
  assert.ok(all.includes("p.topic.scratch#ephemeral.message_count:3|c"));
  assert.ok(all.includes("p.topic.scratch#ephemeral.depth:1|g"));
  assert.ok(!all.some((l) => l.includes("mem.")));
});

Deno.test("statsd lines: counters are deltas, gauges are values", () => {
  const prev = snapshot(100);
  const cur = snapshot(130);
  cur.topics![0].channels[0].requeue_count = 10;
  const lines = statsdLines(prev, cur, {
    prefix: "",
    excludeEphemeral: true,
    mem: { ...MEM, gc_total_runs: 14 },
    prevMem: MEM,
  });
  assert.ok(lines.includes("topic.orders.message_count:30|c"));
  assert.ok(lines.includes("topic.orders.message_bytes:300|c"));
  assert.ok(lines.includes("topic.orders.depth:7|g"));
  assert.ok(lines.includes("topic.orders.channel.archive.message_count:30|c"));
  assert.ok(lines.includes("topic.orders.channel.archive.requeue_count:4|c"));
  assert.ok(lines.includes("topic.orders.channel.archive.timeout_count:0|c"));
  assert.ok(lines.includes("mem.gc_runs:4|c"));
  // a counter that went backwards (topic re-created) gives a negative delta like Go's int64 cast
  const reset = statsdLines(prev, snapshot(5), { prefix: "", excludeEphemeral: true });
  assert.ok(reset.includes("topic.orders.message_count:-95|c"));
});

Deno.test("statsd packets break at line boundaries within the packet size", () => {
  const lines = ["a:1|c", "bb:2|g", "ccc:3|g", "x".repeat(20)];
  // sizes with "\n": 6, 7, 8, 21
  const packets = packStatsdLines(lines, 14).map((p) => new TextDecoder().decode(p));
  assert.deepEqual(packets, ["a:1|c\nbb:2|g\n", "ccc:3|g\n", `${"x".repeat(20)}\n`]);
  assert.deepEqual(
    packStatsdLines(lines, 508).map((p) => new TextDecoder().decode(p)),
    [lines.map((l) => `${l}\n`).join("")],
  );
  assert.deepEqual(packStatsdLines([], 508), []);
  for (const p of packStatsdLines(FIRST_PUSH, 100)) assert.ok(p.length <= 100);
});

Deno.test("StatsdLoop sends the lines to a UDP listener", async () => {
  const server = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", resolve));
  const { port } = server.address();
  const received: string[] = [];
  let wake: (() => void) | null = null;
  server.on("message", (msg) => {
    received.push(...new TextDecoder().decode(msg).split("\n").filter((l) => l !== ""));
    wake?.();
  });
  const waitForLines = async (n: number) => {
    const deadline = Date.now() + 5000;
    while (received.length < n) {
      assert.ok(Date.now() < deadline, `only ${received.length} of ${n} lines arrived`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, 100);
      });
      clearTimeout(timer);
    }
  };

  const logs: string[] = [];
  let calls = 0;
  const loop = new StatsdLoop({
    address: `127.0.0.1:${port}`,
    prefix: statsdPrefix("nsq.%s", "127.0.0.1", 4151),
    intervalMs: 20,
    memStats: true,
    udpPacketSize: 508,
    excludeEphemeral: true,
    logger: new Logger("[nsqd] ", "info", (l) => logs.push(l)),
    getStats: () => snapshot(100 + 50 * calls++),
    readMemStats: () => ({ ...MEM, gc_total_runs: 10 + calls }),
  });
  const ac = new AbortController();
  const running = loop.run(ac.signal);
  try {
    const perPush = FIRST_PUSH.length + MEM_LINES.length + 1;
    await waitForLines(2 * perPush);
    const pfx = "nsq.127_0_0_1_4151.";
    assert.deepEqual(
      received.slice(0, perPush),
      [...FIRST_PUSH, ...MEM_LINES, "p.mem.gc_runs:11|c"].map((l) => pfx + l.slice(2)),
    );
    const second = received.slice(perPush, 2 * perPush);
    assert.ok(second.includes(`${pfx}topic.orders.message_count:50|c`), second.join("\n"));
    assert.ok(second.includes(`${pfx}topic.orders.channel.archive.requeue_count:0|c`));
    assert.ok(second.includes(`${pfx}mem.gc_runs:1|c`));
  } finally {
    ac.abort();
    await running;
    await new Promise<void>((resolve) => server.close(resolve));
  }
  assert.ok(logs.some((l) => l.includes(`INFO: STATSD: pushing stats to 127.0.0.1:${port}`)));
  assert.match(logs.at(-1)!, /INFO: STATSD: closing$/);
});

Deno.test("StatsdLoop logs an unusable address and keeps going", async () => {
  const logs: string[] = [];
  const loop = new StatsdLoop({
    address: "127.0.0.1", // no port
    prefix: "",
    intervalMs: 60_000,
    memStats: false,
    udpPacketSize: 508,
    excludeEphemeral: false,
    logger: new Logger("", "info", (l) => logs.push(l)),
    getStats: () => stats([]),
  });
  await loop.push();
  assert.ok(
    logs.some((l) => l.includes("ERROR: failed to create UDP socket to statsd(127.0.0.1)")),
  );
  // an aborted loop returns without pushing
  const ac = new AbortController();
  ac.abort();
  await loop.run(ac.signal);
});

Deno.test("StatsdLoop spreads packets and flushes the rest at once on abort", async () => {
  const server = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", resolve));
  const packets: string[] = [];
  let firstPacket: () => void = () => {};
  const gotFirst = new Promise<void>((resolve) => (firstPacket = resolve));
  server.on("message", (msg) => {
    packets.push(new TextDecoder().decode(msg));
    firstPacket();
  });
  const loop = new StatsdLoop({
    address: `127.0.0.1:${server.address().port}`,
    prefix: "p.",
    intervalMs: 60_000, // 59 s of spread: one packet now, the next ones much later
    memStats: false,
    udpPacketSize: 100,
    excludeEphemeral: true,
    logger: new Logger("", "fatal", () => {}),
    getStats: () => snapshot(100),
  });
  const ac = new AbortController();
  const started = Date.now();
  const pushing = loop.push(ac.signal);
  try {
    await gotFirst;
    assert.equal(packets.length, 1);
    ac.abort();
    await pushing;
    assert.ok(Date.now() - started < 5000, "abort should cut the spread short");
    const expected = packStatsdLines(FIRST_PUSH, 100).length;
    const deadline = Date.now() + 5000;
    while (packets.length < expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(expected > 2);
    assert.deepEqual(packets.join("").split("\n").filter((l) => l), FIRST_PUSH);
    for (const p of packets) assert.ok(new TextEncoder().encode(p).length <= 100);
  } finally {
    ac.abort();
    await pushing;
    await new Promise<void>((resolve) => server.close(resolve));
  }
});

Deno.test("statsd lines: dead_letter_count (beyond NSQ) only for channels using it, as a delta", () => {
  const snap = (n: number): StatsResponse => ({
    ...snapshot(100),
    topics: [topic({
      topic_name: "w",
      channels: [
        channel({
          channel_name: "a",
          max_attempts: 3,
          dead_letter_topic: "d",
          dead_letter_count: n,
        }),
        channel({ channel_name: "b" }),
      ],
    })],
  });
  const first = statsdLines(null, snap(2), { prefix: "", excludeEphemeral: false });
  assert.ok(first.includes("topic.w.channel.a.dead_letter_count:2|c"));
  assert.ok(!first.some((l) => l.startsWith("topic.w.channel.b.dead_letter")));
  const next = statsdLines(snap(2), snap(5), { prefix: "", excludeEphemeral: false });
  assert.ok(next.includes("topic.w.channel.a.dead_letter_count:3|c"));
});
