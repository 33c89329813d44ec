/**
 * The tools' pure pieces: strftime, nsq_to_file's filename template, the host pool and timing
 * lines, GET escaping, nsq_to_nsq's JSON filter, stdin splitting, and every tool's flag checks
 * (exit 2 for a bad flag, 1 with Go's `log.Fatal` line for a failed start-up check).
 */
import assert from "node:assert/strict";
import { parseToolArgs } from "../../lib/cli/tools.ts";
import type { ToolSpec } from "../../lib/tools/tool.ts";
import { strftime } from "../../lib/tools/strftime.ts";
import { computeFilenameFormat } from "../../lib/tools/file_logger.ts";
import { HostPool, TimerMetrics } from "../../lib/tools/host_pool.ts";
import { parseCustomHeaders, queryEscape } from "../../lib/tools/nsq_to_http.ts";
import { goJson, jsonFilter } from "../../lib/tools/nsq_to_nsq.ts";
import { splitStream, Throttle } from "../../lib/tools/to_nsq.ts";
import { nsqTailTool } from "../../lib/tools/nsq_tail.ts";
import { toNsqTool } from "../../lib/tools/to_nsq.ts";
import { nsqStatTool } from "../../lib/tools/nsq_stat.ts";
import { defaultNsqToFileOptions, nsqToFileTool } from "../../lib/tools/nsq_to_file.ts";
import { nsqToHttpTool } from "../../lib/tools/nsq_to_http.ts";
import { nsqToNsqTool } from "../../lib/tools/nsq_to_nsq.ts";

Deno.test("strftime: nsq_to_file's conversions in local time, unknown ones kept", () => {
  const t = new Date(2026, 0, 5, 7, 8, 9); // Mon 5 Jan 2026 07:08:09 local
  assert.equal(strftime("%Y-%m-%d_%H", t), "2026-01-05_07");
  assert.equal(
    strftime("%y%b%B %a %A %I:%M:%S %p %% %Q", t),
    "26JanJanuary Mon Monday 07:08:09 AM % %Q",
  );
  assert.equal(strftime("%I%p", new Date(2026, 0, 5, 12)), "12PM");
  assert.equal(strftime("%I", new Date(2026, 0, 5, 0)), "12");
  assert.equal(strftime("100%", t), "100%");
});

Deno.test("computeFilenameFormat: tokens, <REV> rule, .gz suffix", () => {
  const o = { ...defaultNsqToFileOptions(), workDir: "/tmp" };
  assert.equal(
    computeFilenameFormat(o, "tp", "web1.example.com", 42),
    "tp.web1.<DATETIME>.log",
  );
  assert.equal(
    computeFilenameFormat({ ...o, gzip: true }, "tp", "web1.example.com", 42),
    "tp.web1<REV>.<DATETIME>.log.gz",
  );
  assert.equal(
    computeFilenameFormat(
      { ...o, hostIdentifier: "<SHORT_HOST>-<HOSTNAME>", filenameFormat: "<PID>/<TOPIC>.<HOST>" },
      "tp",
      "web1.example.com",
      42,
    ),
    "42/tp.web1-web1.example.com",
  );
  assert.throws(
    () =>
      computeFilenameFormat({ ...o, rotateSize: 10, filenameFormat: "<TOPIC>.log" }, "t", "h", 1),
    { message: "missing <REV> in --filename-format when gzip, rotation, or work dir enabled" },
  );
});

Deno.test("HostPool: round-robin over healthy hosts; a failed host waits; all dead → reset", () => {
  let now = 0;
  const pool = new HostPool(["a", "b", "c"], () => now);
  assert.deepEqual([pool.get(), pool.get(), pool.get(), pool.get()], ["a", "b", "c", "a"]);
  pool.mark("b", true);
  assert.deepEqual([pool.get(), pool.get(), pool.get()], ["c", "a", "c"]);
  now = 31_000; // past the 30 s retry: offered once again
  assert.deepEqual([pool.get(), pool.get()], ["a", "b"]);
  pool.mark("b", false);
  pool.mark("a", true);
  pool.mark("c", true);
  assert.deepEqual([pool.get(), pool.get()], ["b", "b"]);
  pool.mark("b", true);
  assert.equal(pool.get(), "a"); // everyone dead: all revived, from the start
});

Deno.test("TimerMetrics: a status line every N durations, Go's percentile pick", () => {
  const lines: string[] = [];
  const m = new TimerMetrics(100, "[aggregate]:", (l) => lines.push(l));
  assert.equal(lines.length, 0);
  for (let i = 1; i <= 100; i++) m.statusDuration(i);
  assert.equal(lines.length, 0);
  m.statusDuration(1000); // 101st wraps: replaces the first, prints
  assert.deepEqual(lines, [
    "[aggregate]: finished 100 - 99th: 1000.00ms - 95th: 98.00ms - avg: 60.49ms",
  ]);
  const warn: string[] = [];
  new TimerMetrics(10, "x", (l) => warn.push(l));
  assert.match(warn[0], /use more than 100 status values .*configured with 10/);
  new TimerMetrics(0, "", (l) => warn.push(l)).statusDuration(5);
  assert.equal(warn.length, 1);
});

Deno.test("nsq_to_http: query escaping and --header parsing as Go", () => {
  assert.equal(queryEscape(new TextEncoder().encode("a b&c=d/é~")), "a+b%26c%3Dd%2F%C3%A9~");
  assert.deepEqual(parseCustomHeaders(["X-A: 1", "Accept:text/plain "]), {
    "X-A": "1",
    Accept: "text/plain",
  });
  assert.throws(() => parseCustomHeaders(["nocolon"]));
  assert.throws(() => parseCustomHeaders(["k: "]));
});

Deno.test("nsq_to_nsq: JSON require/whitelist filter", () => {
  const logs: string[] = [];
  const f = jsonFilter("kind", "click", ["b", "a"], (l) => logs.push(l));
  assert.deepEqual(f.shouldPass({ kind: "click" }), [true, false]);
  assert.deepEqual(f.shouldPass({ kind: "view" }), [false, false]);
  assert.deepEqual(f.shouldPass({ kind: 1 }), [false, false]);
  assert.deepEqual(f.shouldPass({ other: 1 }), [false, true]);
  assert.equal(logs.length, 1);
  const num = jsonFilter("n", "3", [], () => {});
  assert.deepEqual(num.shouldPass({ n: 3 }), [true, false]);
  assert.deepEqual(num.shouldPass({ n: "3" }), [true, false]);
  assert.deepEqual(num.shouldPass({ n: 4 }), [false, false]);
  const fieldOnly = jsonFilter("n", "", [], () => {});
  assert.deepEqual(fieldOnly.shouldPass({ x: 1 }), [false, false]);
  const raw = new TextEncoder().encode('{"a":1,"b":2.5,"c":3}');
  assert.equal(
    new TextDecoder().decode(f.filter({ a: 1, b: 2.5, c: 3 }, raw)),
    '{"a":1,"b":2.5}',
  );
  assert.equal(num.filter({ a: 1 }, raw), raw);
  assert.equal(
    goJson({ h: "<a href='x'>&\u2028" }),
    '{"h":"\\u003ca href=\'x\'\\u003e\\u0026\\u2028"}',
  );
});

Deno.test("to_nsq: stdin split on one byte across chunk boundaries", async () => {
  const enc = new TextEncoder();
  const chunks = ["ab", "c\nde", "\n\nf", "gh"];
  const stream = ReadableStream.from(chunks.map((c) => enc.encode(c)));
  const out: string[] = [];
  for await (const p of splitStream(stream, 10, new AbortController().signal)) {
    out.push(new TextDecoder().decode(p));
  }
  assert.deepEqual(out, ["abc", "de", "", "fgh"]);
});

function outcome(tool: ToolSpec<unknown>, args: string[]): { code: number; text: string } {
  const o = parseToolArgs(tool, args);
  if (o.kind === "run") return { code: -1, text: "" };
  return { code: o.code, text: o.stdout + o.stderr };
}

function fatalText(text: string): string {
  return text.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, "").trimEnd();
}

Deno.test("tools: bad flags exit 2, start-up checks exit 1 with Go's messages", () => {
  const tools = [
    nsqTailTool,
    toNsqTool,
    nsqStatTool,
    nsqToFileTool,
    nsqToHttpTool,
    nsqToNsqTool,
  ] as ToolSpec<unknown>[];
  for (const tool of tools) {
    const bad = outcome(tool, ["--no-such-flag"]);
    assert.equal(bad.code, 2, tool.name);
    assert.equal(
      bad.text,
      `flag provided but not defined: -no-such-flag\nRun 'nsq ${tool.name} -h' for usage.\n`,
    );
    const help = outcome(tool, ["-h"]);
    assert.equal(help.code, 0);
    assert.match(help.text, new RegExp(`^Usage: nsq ${tool.name} \\[flags\\]`));
    assert.equal(outcome(tool, ["--version"]).code, 0);
  }
  const cases: [ToolSpec<unknown>, string[], string][] = [
    [
      nsqTailTool as ToolSpec<unknown>,
      ["--topic", "t"],
      "--nsqd-tcp-address or --lookupd-http-address required",
    ],
    [nsqTailTool as ToolSpec<unknown>, ["--nsqd-tcp-address", "a:1"], "--topic required"],
    [
      nsqTailTool as ToolSpec<unknown>,
      ["--topic=t", "--nsqd-tcp-address=a:1", "--lookupd-http-address=b:2"],
      "use --nsqd-tcp-address or --lookupd-http-address not both",
    ],
    [toNsqTool as ToolSpec<unknown>, [], "--topic required"],
    [
      toNsqTool as ToolSpec<unknown>,
      ["--topic=t", "--delimiter=ab"],
      "--delimiter must be a single byte",
    ],
    [toNsqTool as ToolSpec<unknown>, ["--topic=t"], "--nsqd-tcp-address required"],
    [nsqStatTool as ToolSpec<unknown>, ["--topic=t"], "--topic and --channel are required"],
    [
      nsqStatTool as ToolSpec<unknown>,
      ["--topic=t", "--channel=c", "--interval=0"],
      "--interval should be positive",
    ],
    [nsqToFileTool as ToolSpec<unknown>, ["--log-level=loud"], "--log-level is invalid"],
    [
      nsqToFileTool as ToolSpec<unknown>,
      ["--topic=t"],
      "--nsqd-tcp-address or --lookupd-http-address required.",
    ],
    [
      nsqToFileTool as ToolSpec<unknown>,
      ["--topic=t", "--nsqd-tcp-address=a:1", "--gzip-level=10"],
      "invalid --gzip-level value (10), should be 1-9",
    ],
    [
      nsqToFileTool as ToolSpec<unknown>,
      ["--nsqd-tcp-address=a:1"],
      "--topic or --topic-pattern required",
    ],
    [
      nsqToFileTool as ToolSpec<unknown>,
      ["--nsqd-tcp-address=a:1", "--topic-pattern=x"],
      "--lookupd-http-address must be specified when no --topic specified",
    ],
    [
      nsqToHttpTool as ToolSpec<unknown>,
      ["--topic=t", "--nsqd-tcp-address=a:1"],
      "--get or --post required",
    ],
    [
      nsqToHttpTool as ToolSpec<unknown>,
      ["--topic=t", "--nsqd-tcp-address=a:1", "--get=http://x/"],
      "invalid GET address - must be a printf string",
    ],
    [
      nsqToHttpTool as ToolSpec<unknown>,
      ["--topic=t", "--nsqd-tcp-address=a:1", "--get=http://x/%s", "--content-type=text/plain"],
      "--content-type only used with --post",
    ],
    [
      nsqToHttpTool as ToolSpec<unknown>,
      ["--topic=t", "--nsqd-tcp-address=a:1", "--post=http://x/", "--sample=2"],
      "ERROR: --sample must be between 0.0 and 1.0",
    ],
    [
      nsqToHttpTool as ToolSpec<unknown>,
      ["--header=bad"],
      "--header value format should be 'key=value'",
    ],
    [nsqToNsqTool as ToolSpec<unknown>, ["--topic=a!"], "--topic is invalid"],
    [
      nsqToNsqTool as ToolSpec<unknown>,
      ["--topic=a", "--nsqd-tcp-address=a:1"],
      "--destination-nsqd-tcp-address required",
    ],
  ];
  for (const [tool, args, message] of cases) {
    const r = outcome(tool, args);
    assert.equal(r.code, 1, `${tool.name} ${args.join(" ")}`);
    assert.equal(fatalText(r.text), message);
  }
  // A bad --consumer-opt / --producer-opt is a flag error (Go's ConfigFlag.Set).
  const opt = outcome(nsqTailTool as ToolSpec<unknown>, ["--consumer-opt", "no_such_opt,1"]);
  assert.equal(opt.code, 2);
  assert.match(opt.text, /^invalid value "no_such_opt,1" for flag -consumer-opt: invalid option/);
  // Repeatable flags keep commas; the default channel is random and ephemeral.
  const run = parseToolArgs(nsqTailTool, [
    "--topic=a",
    "--topic=b",
    "--nsqd-tcp-address=127.0.0.1:1",
    "--consumer-opt=max_in_flight,5",
  ]);
  assert.equal(run.kind, "run");
  if (run.kind === "run") {
    assert.deepEqual(run.options.topics, ["a", "b"]);
    assert.deepEqual(run.options.consumerOpts, ["max_in_flight,5"]);
    assert.match(run.options.channel, /^tail\d{6}#ephemeral$/);
  }
});

Deno.test("to_nsq: --rate throttle allows one at once, then one per 1/rate s", async () => {
  const t = new Throttle(40); // 25 ms apart
  const signal = new AbortController().signal;
  const start = performance.now();
  for (let i = 0; i < 5; i++) await t.take(signal);
  const elapsed = performance.now() - start;
  assert.ok(elapsed >= 90, `elapsed ${elapsed}`);
  assert.ok(elapsed < 1000, `elapsed ${elapsed}`);
});
