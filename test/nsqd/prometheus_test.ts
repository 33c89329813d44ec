import assert from "node:assert/strict";
import {
  escapeLabelValue,
  processMetrics,
  PROMETHEUS_METRICS,
  renderPrometheus,
} from "../../lib/nsqd/prometheus.ts";
import type { ClientStats, StatsResponse } from "../../lib/nsqd/stats.ts";
import { channel, client, topic } from "./_stats_fixtures.ts";

interface Family {
  help: string;
  type: string;
  samples: { labels: Record<string, string>; value: number }[];
}

/**
 * A strict little parser for the text exposition format 0.0.4: HELP and TYPE precede a family's
 * samples, a family's lines are contiguous, label values use only the \\ \" \n escapes, values
 * parse as Go floats, and no series repeats.
 */
function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "exposition must end with a newline");
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  let current = "";
  const nameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  for (const line of text.slice(0, -1).split("\n")) {
    assert.notEqual(line, "", "no blank lines");
    if (line.startsWith("# HELP ")) {
      const rest = line.slice(7);
      const sp = rest.indexOf(" ");
      const name = rest.slice(0, sp);
      assert.match(name, nameRe);
      assert.ok(!families.has(name), `family ${name} declared twice`);
      if (current) closed.add(current);
      current = name;
      families.set(name, { help: rest.slice(sp + 1), type: "", samples: [] });
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      assert.equal(name, current, "TYPE follows its HELP");
      assert.ok(["counter", "gauge", "summary", "histogram", "untyped"].includes(type));
      families.get(name)!.type = type;
      continue;
    }
    assert.ok(!line.startsWith("#"), `unexpected comment ${line}`);
    // sample: name[{labels}] value
    let i = 0;
    while (i < line.length && /[a-zA-Z0-9_:]/.test(line[i])) i++;
    const name = line.slice(0, i);
    assert.match(name, nameRe);
    assert.equal(name, current, `sample ${name} outside its family block`);
    assert.ok(!closed.has(name));
    const labels: Record<string, string> = {};
    if (line[i] === "{") {
      i++;
      while (line[i] !== "}") {
        let j = i;
        while (/[a-zA-Z0-9_]/.test(line[j])) j++;
        const lname = line.slice(i, j);
        assert.match(lname, /^[a-zA-Z_][a-zA-Z0-9_]*$/);
        assert.equal(line.slice(j, j + 2), '="', `label ${lname} needs ="`);
        j += 2;
        let value = "";
        for (;;) {
          const ch = line[j];
          assert.ok(ch !== undefined, "unterminated label value");
          if (ch === '"') break;
          if (ch === "\\") {
            const e = line[j + 1];
            assert.ok(e === "\\" || e === '"' || e === "n", `bad escape \\${e}`);
            value += e === "n" ? "\n" : e;
            j += 2;
            continue;
          }
          value += ch;
          j++;
        }
        assert.ok(!(lname in labels), `label ${lname} repeated`);
        labels[lname] = value;
        i = j + 1;
        if (line[i] === ",") i++;
      }
      i++;
    }
    assert.equal(line[i], " ");
    const raw = line.slice(i + 1);
    assert.match(raw, /^([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|NaN|[+-]Inf)$/, `value ${raw}`);
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    const fam = families.get(name)!;
    assert.ok(fam.type !== "", "TYPE precedes samples");
    const key = JSON.stringify(Object.entries(labels).sort());
    assert.ok(!fam.samples.some((s) => JSON.stringify(Object.entries(s.labels).sort()) === key));
    fam.samples.push({ labels, value });
  }
  return families;
}

function value(f: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const fam = f.get(name);
  assert.ok(fam, `family ${name} missing`);
  const s = fam.samples.find((x) =>
    Object.keys(labels).length === Object.keys(x.labels).length &&
    Object.entries(labels).every(([k, v]) => x.labels[k] === v)
  );
  assert.ok(s, `${name} ${JSON.stringify(labels)} missing`);
  return s.value;
}

const weird = 'we"ird\\host\nname';

const consumer: ClientStats = client({
  client_id: "c1",
  hostname: weird,
  remote_address: "[::1]:5000",
  ready_count: 100,
  in_flight_count: 4,
  message_count: 50,
  finish_count: 45,
  requeue_count: 1,
  connect_ts: 10,
  user_agent: "ua",
});

const STATS: StatsResponse = {
  version: "1.3.0",
  health: "OK",
  start_time: 1_700_000_000,
  topics: [topic({
    topic_name: "orders",
    depth: 7,
    backend_depth: 2,
    message_count: 100,
    message_bytes: 1000,
    paused: true,
    e2e_processing_latency: {
      count: 9,
      percentiles: [{ quantile: 0.99, value: 1_500_000 }, { quantile: 0.5, value: 250 }],
    },
    channels: [
      channel({
        channel_name: "archive#ephemeral",
        depth: 5,
        in_flight_count: 4,
        deferred_count: 1,
        message_count: 100,
        requeue_count: 3,
        timeout_count: 2,
        client_count: 1,
        clients: [consumer],
        e2e_processing_latency: {
          count: 9,
          percentiles: [{ quantile: 0.99, value: 1_500_000 }, { quantile: 0.5, value: 250 }],
        },
      }),
      channel({ channel_name: "idle", paused: true }),
    ],
  })],
  producers: [{
    ...consumer,
    client_id: "p1",
    hostname: "pub",
    remote_address: "127.0.0.1:6000",
    pub_counts: [{ topic: "orders", count: 100 }],
  }],
};

const EXTRA = { rssBytes: 1e8, heapUsedBytes: 2e7, heapTotalBytes: 3e7, externalBytes: 4e6 };

Deno.test("prometheus exposition parses and carries the stats", () => {
  const text = renderPrometheus(STATS, EXTRA);
  const f = parseExposition(text);
  assert.equal(value(f, "nsq_up"), 1);
  assert.equal(value(f, "nsq_healthy"), 1);
  assert.equal(value(f, "nsq_build_info", { version: "1.3.0" }), 1);
  assert.equal(value(f, "nsq_start_time_seconds"), 1_700_000_000);
  assert.equal(value(f, "process_resident_memory_bytes"), 1e8);
  assert.equal(value(f, "nsq_heap_used_bytes"), 2e7);
  assert.equal(value(f, "nsq_topic_message_count", { topic: "orders" }), 100);
  assert.equal(value(f, "nsq_topic_message_bytes", { topic: "orders" }), 1000);
  assert.equal(value(f, "nsq_topic_depth", { topic: "orders" }), 7);
  assert.equal(value(f, "nsq_topic_backend_depth", { topic: "orders" }), 2);
  assert.equal(value(f, "nsq_topic_paused", { topic: "orders" }), 1);
  assert.equal(
    value(f, "nsq_topic_e2e_processing_latency_seconds", { topic: "orders", quantile: "0.99" }),
    0.0015,
  );
  assert.equal(
    value(f, "nsq_topic_e2e_processing_latency_seconds", { topic: "orders", quantile: "0.5" }),
    2.5e-7,
  );
  assert.equal(value(f, "nsq_topic_e2e_processing_latency_count", { topic: "orders" }), 9);
  const ch = { topic: "orders", channel: "archive#ephemeral" };
  assert.equal(value(f, "nsq_channel_depth", ch), 5);
  assert.equal(value(f, "nsq_channel_in_flight_count", ch), 4);
  assert.equal(value(f, "nsq_channel_deferred_count", ch), 1);
  assert.equal(value(f, "nsq_channel_requeue_count", ch), 3);
  assert.equal(value(f, "nsq_channel_timeout_count", ch), 2);
  assert.equal(value(f, "nsq_channel_clients", ch), 1);
  assert.equal(value(f, "nsq_channel_paused", { topic: "orders", channel: "idle" }), 1);
  assert.equal(
    value(f, "nsq_channel_e2e_processing_latency_seconds", { ...ch, quantile: "0.99" }),
    0.0015,
  );
  // no latency series for a channel without percentiles
  assert.equal(
    f.get("nsq_channel_e2e_processing_latency_count")!.samples.length,
    1,
  );
  const cl = { ...ch, client_id: "c1", hostname: weird, remote_address: "[::1]:5000" };
  assert.equal(value(f, "nsq_client_ready_count", cl), 100);
  assert.equal(value(f, "nsq_client_in_flight_count", cl), 4);
  assert.equal(value(f, "nsq_client_message_count", cl), 50);
  assert.equal(value(f, "nsq_client_finish_count", cl), 45);
  assert.equal(value(f, "nsq_client_requeue_count", cl), 1);
  assert.equal(
    value(f, "nsq_producer_message_count", {
      client_id: "p1",
      hostname: "pub",
      remote_address: "127.0.0.1:6000",
      topic: "orders",
    }),
    100,
  );
  // types and help come from the documented table
  for (const [name, fam] of f) {
    const info = PROMETHEUS_METRICS.find((m) => m.name === name);
    assert.ok(info, `${name} undocumented`);
    assert.equal(fam.type, info.type);
    assert.equal(fam.help, info.help);
    for (const s of fam.samples) assert.deepEqual(Object.keys(s.labels), [...info.labels]);
  }
});

Deno.test("prometheus label values are escaped", () => {
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const text = renderPrometheus(STATS, EXTRA);
  assert.ok(text.includes('hostname="we\\"ird\\\\host\\nname"'));
});

Deno.test("prometheus omits empty families and reports ill health", () => {
  const text = renderPrometheus(
    { version: "1.3.0", health: "NOK - disk full", start_time: 1, topics: null, producers: null },
    processMetrics(),
  );
  const f = parseExposition(text);
  assert.equal(value(f, "nsq_healthy"), 0);
  assert.ok(value(f, "process_resident_memory_bytes") > 0);
  assert.ok(!f.has("nsq_topic_depth"));
  assert.ok(!f.has("nsq_client_ready_count"));
  assert.ok(!f.has("nsq_producer_message_count"));
});

Deno.test("prometheus metric table has unique, valid names", () => {
  const names = PROMETHEUS_METRICS.map((m) => m.name);
  assert.equal(new Set(names).size, names.length);
  for (const m of PROMETHEUS_METRICS) {
    assert.match(m.name, /^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    assert.ok(m.help.length > 0 && !m.help.includes("\n"));
  }
});
