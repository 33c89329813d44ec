/**
 * statsd end to end (docs/nsqd.md#statsd): a running nsqd with a short --statsd-interval pushes its
 * stats to a UDP listener on 127.0.0.1; the lines carry the expanded prefix, counters as deltas
 * between pushes and gauges as current values.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import type { NsqdOptions } from "../../lib/nsqd/options.ts";
import { startNsqdStatsd } from "../../lib/nsqd/stats_collect.ts";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";
import { MEM_STATS_FIELDS } from "./_stats_fixtures.ts";

/** A UDP listener on 127.0.0.1 collecting every line it receives. */
async function udpListener(): Promise<{ port: number; lines: string[]; close(): Promise<void> }> {
  const sock = dgram.createSocket("udp4");
  const lines: string[] = [];
  sock.on("message", (msg: Uint8Array) => {
    for (const l of new TextDecoder().decode(msg).split("\n")) if (l !== "") lines.push(l);
  });
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", () => resolve()));
  return {
    port: sock.address().port,
    lines,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

interface Ctx {
  s: TestNsqd;
  /** Lines received so far, in order. */
  lines: string[];
  /** The expected key prefix, `nsq.127_0_0_1_<http port>.`. */
  prefix: string;
  /** POST to the HTTP API; asserts 200. */
  post(path: string, body?: string): Promise<void>;
  /** Starts the statsd loop (after the test has set up its state). */
  startStatsd(): void;
}

async function withStatsd(
  overrides: Partial<NsqdOptions>,
  fn: (ctx: Ctx) => Promise<void>,
): Promise<void> {
  const udp = await udpListener();
  try {
    // nsqd starts without statsd so the test decides when the loop starts
    const { statsdAddress, ...rest } = {
      statsdAddress: `127.0.0.1:${udp.port}`,
      statsdInterval: 100,
      broadcastAddress: "127.0.0.1",
      httpAddress: "127.0.0.1:0",
      ...overrides,
    };
    await using s = await startNsqd({ ...rest, statsdAddress: "" });
    await fn({
      s,
      lines: udp.lines,
      prefix: `nsq.127_0_0_1_${s.nsqd.httpPort}.`,
      post: async (path, body) => {
        const res = await fetch(`http://${s.nsqd.httpAddress}${path}`, { method: "POST", body });
        assert.equal(res.status, 200, await res.text());
      },
      startStatsd: () => {
        s.nsqd.opts.statsdAddress = statsdAddress;
        assert.ok(startNsqdStatsd(s.nsqd, s.nsqd.httpPort));
      },
    });
  } finally {
    await udp.close();
  }
}

/** Index of the first line equal to `line` at or after `from` (-1 if none). */
function indexOf(lines: string[], line: string, from = 0): number {
  for (let i = from; i < lines.length; i++) if (lines[i] === line) return i;
  return -1;
}

Deno.test("statsd: topic, channel, e2e and memory metrics; counters are deltas", async () => {
  await withStatsd({ e2eProcessingLatencyPercentiles: [0.99] }, async (ctx) => {
    const topic = uniqueName();
    await ctx.post(`/topic/create?topic=${topic}`);
    await ctx.post(`/channel/create?topic=${topic}&channel=ch`);
    await ctx.post(`/mpub?topic=${topic}`, "a\nbb\nccc");
    ctx.startStatsd();

    const t = `${ctx.prefix}topic.${topic}`;
    const c = `${t}.channel.ch`;
    const first = [
      `${t}.message_count:3|c`,
      `${t}.message_bytes:6|c`,
      `${t}.depth:0|g`,
      `${t}.backend_depth:0|g`,
      `${c}.message_count:3|c`,
      `${c}.depth:3|g`,
      `${c}.backend_depth:0|g`,
      `${c}.in_flight_count:0|g`,
      `${c}.deferred_count:0|g`,
      `${c}.requeue_count:0|c`,
      `${c}.timeout_count:0|c`,
      `${c}.clients:0|g`,
    ];
    await waitFor(() => first.every((l) => ctx.lines.includes(l)), {
      message: `first push; got ${ctx.lines.length} lines`,
    });
    // Go's order within a push: topic counters and gauges, then each channel's
    const at = first.map((l) => indexOf(ctx.lines, l));
    assert.deepEqual([...at].sort((x, y) => x - y), at);
    // e2e gauges (ns) for the configured percentile, topic and channel
    assert.ok(ctx.lines.some((l) => l.startsWith(`${t}.e2e_processing_latency_99:`)));
    assert.ok(ctx.lines.some((l) => /\.channel\.ch\.e2e_processing_latency_99:\d+\|g$/.test(l)));
    // memory gauges and the GC counter (--statsd-mem-stats defaults to true)
    for (const k of MEM_STATS_FIELDS.filter((k) => k !== "gc_total_runs")) {
      const re = new RegExp(`^${ctx.prefix.replaceAll(".", "\\.")}mem\\.${k}:\\d+\\|g$`);
      assert.ok(ctx.lines.some((l) => re.test(l)), `mem.${k}`);
    }
    assert.ok(ctx.lines.some((l) => l.startsWith(`${ctx.prefix}mem.gc_runs:`) && l.endsWith("|c")));

    // the next push sends counter deltas: one more message
    const mark = ctx.lines.length;
    await ctx.post(`/pub?topic=${topic}`, "dddd");
    await waitFor(() => indexOf(ctx.lines, `${t}.message_count:1|c`, mark) >= 0, {
      message: "second push with message_count delta 1",
    });
    const from = indexOf(ctx.lines, `${t}.message_count:1|c`, mark);
    await waitFor(() => indexOf(ctx.lines, `${c}.depth:4|g`, from) >= 0);
    assert.ok(indexOf(ctx.lines, `${t}.message_bytes:4|c`, from) >= 0);
    assert.ok(indexOf(ctx.lines, `${c}.message_count:1|c`, from) >= 0);
    // and then zero deltas
    await waitFor(() => indexOf(ctx.lines, `${t}.message_count:0|c`, from) >= 0);
  });
});

Deno.test("statsd: --statsd-exclude-ephemeral, --statsd-mem-stats=false, custom prefix", async () => {
  await withStatsd({
    statsdExcludeEphemeral: true,
    statsdMemStats: false,
    statsdPrefix: "app.%s.nsqd",
  }, async (ctx) => {
    const topic = uniqueName();
    await ctx.post(`/topic/create?topic=${topic}`);
    await ctx.post(`/channel/create?topic=${topic}&channel=keep`);
    await ctx.post(`/channel/create?topic=${topic}&channel=gone%23ephemeral`);
    await ctx.post(`/topic/create?topic=${topic}_x%23ephemeral`);
    ctx.startStatsd();
    const prefix = ctx.prefix.replace(/^nsq\.(.*)\.$/, "app.$1.nsqd.");
    const keep = `${prefix}topic.${topic}.channel.keep.depth:0|g`;
    // two pushes, so a line skipped in the first would have had its chance
    await waitFor(() => ctx.lines.filter((l) => l === keep).length >= 2);
    assert.ok(ctx.lines.every((l) => l.startsWith(prefix)), ctx.lines[0]);
    assert.ok(!ctx.lines.some((l) => l.includes("#ephemeral")));
    assert.ok(!ctx.lines.some((l) => l.includes(".mem.")));
  });
});

Deno.test("statsd: not started without --statsd-address; the loop ends with nsqd", async () => {
  await using s = await startNsqd({ statsdAddress: "" });
  assert.equal(startNsqdStatsd(s.nsqd), null);
  const udp = await udpListener();
  try {
    // nsqd.start() starts the loop itself when --statsd-address is set
    await using s2 = await startNsqd({
      statsdAddress: `127.0.0.1:${udp.port}`,
      statsdInterval: 50,
      broadcastHttpPort: 4151,
    });
    await waitFor(() => udp.lines.length > 0);
    assert.ok(udp.lines[0].startsWith("nsq.127_0_0_1_4151."), udp.lines[0]);
    await s2.close(); // resolves only once the loop has ended (sanitizers check its timers)
    assert.ok(s2.logs.some((l) => l.includes("STATSD: closing")));
  } finally {
    await udp.close();
  }
});
