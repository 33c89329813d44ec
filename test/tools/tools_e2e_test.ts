/**
 * The tools end to end as real processes (`deno run -A main.ts <tool>`) against our nsqd and
 * nsqlookupd in the test process (127.0.0.1, port 0, temp dirs). Tools run concurrently where a
 * test allows, to keep the suite short.
 */
import assert from "node:assert/strict";
import { Consumer, Producer } from "../../lib/client/mod.ts";
import { Logger } from "../../lib/internal/log.ts";
import { defaultNsqlookupdOptions } from "../../lib/nsqlookupd/options.ts";
import { Nsqlookupd } from "../../lib/nsqlookupd/nsqlookupd.ts";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";
import { runToolProc, ToolProc } from "./_tool_proc.ts";

const dec = new TextDecoder();
/** Quick REQ and backoff, so failure tests take milliseconds (go-nsq options). */
const FAST_RETRY = [
  "--consumer-opt=default_requeue_delay,0",
  "--consumer-opt=max_backoff_duration,20ms",
  "--consumer-opt=max_attempts,0",
];

async function startLookupd(): Promise<Nsqlookupd & AsyncDisposable> {
  const l = new Nsqlookupd(
    {
      ...defaultNsqlookupdOptions(),
      tcpAddress: "127.0.0.1:0",
      httpAddress: "127.0.0.1:0",
      broadcastAddress: "127.0.0.1",
    },
    new Logger("[nsqlookupd] ", "warn", () => {}),
  );
  await l.start();
  return Object.assign(l, { [Symbol.asyncDispose]: () => l.close() });
}

async function channelDepth(n: TestNsqd, topic: string, channel: string): Promise<number> {
  const r = await fetch(
    `http://${n.httpAddress}/stats?format=json&topic=${topic}&channel=${channel}`,
  );
  const s = await r.json() as {
    topics: {
      topic_name: string;
      channels: {
        channel_name: string;
        depth: number;
        in_flight_count: number;
        deferred_count: number;
      }[];
    }[];
  };
  const c = s.topics?.find((t) => t.topic_name === topic)?.channels.find((c) =>
    c.channel_name === channel
  );
  return c === undefined ? -1 : c.depth + c.in_flight_count + c.deferred_count;
}

async function createChannel(n: TestNsqd, topic: string, channel: string): Promise<void> {
  for (
    const path of [
      `topic/create?topic=${topic}`,
      `channel/create?topic=${topic}&channel=${channel}`,
    ]
  ) {
    const r = await fetch(`http://${n.httpAddress}/${path}`, { method: "POST" });
    await r.body?.cancel();
    assert.equal(r.status, 200, path);
  }
}

/** Every body waiting in `topic/channel` of `addr`, collected until `count` are in. */
async function drain(
  addr: string,
  topic: string,
  channel: string,
  count: number,
): Promise<string[]> {
  const got: string[] = [];
  const c = new Consumer(topic, channel, { maxInFlight: 200 });
  c.addHandler((m) => {
    got.push(dec.decode(m.body));
  });
  await c.connectToNsqd(addr);
  try {
    await waitFor(() => got.length >= count, { timeoutMs: 15_000, message: `drain ${count}` });
  } finally {
    await c.stop();
  }
  return got;
}

async function readDirFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  return names.sort();
}

async function gunzip(path: string): Promise<string> {
  const out = await new Deno.Command("gunzip", {
    args: ["-c", path],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return dec.decode(out.stdout);
}

Deno.test("to_nsq → nsq_tail: lines published and printed (-n, --print-topic, lookupd discovery)", async () => {
  await using lookupd = await startLookupd();
  await using nsqd = await startNsqd({
    httpAddress: "127.0.0.1:0",
    logLevel: "warn",
    nsqlookupdTcpAddresses: [lookupd.tcpAddress],
  });
  const topic = uniqueName("tail");
  // The topic must be known to nsqlookupd before the tail looks it up.
  await createChannel(nsqd, topic, "keep");
  await createChannel(nsqd, topic, "nsq_to_file");
  await createChannel(nsqd, `${topic}_other`, "nsq_to_file");
  const out = await Deno.makeTempDir({ prefix: "nsq_to_file_pattern_" });
  // nsq_to_file finds the topic through nsqlookupd /topics and --topic-pattern.
  await using toFile = new ToolProc("nsq_to_file", [
    `--topic-pattern=^${topic}$`,
    "--topic-refresh=100ms",
    `--lookupd-http-address=${lookupd.httpAddress}`,
    `--output-dir=${out}`,
    "--filename-format=<TOPIC>.log",
    "--sync-interval=100ms",
  ]);
  await waitFor(async () => {
    const r = await fetch(`http://${lookupd.httpAddress}/lookup?topic=${topic}`);
    return r.status === 200
      ? (await r.json()).producers?.length === 1
      : (await r.body?.cancel(), false);
  }, { message: "lookupd registration" });
  await using tail = new ToolProc("nsq_tail", [
    `--topic=${topic}`,
    `--lookupd-http-address=${lookupd.httpAddress}`,
    "-n",
    "5",
    "--print-topic",
  ]);
  // The tail's ephemeral channel exists once it has subscribed.
  await waitFor(async () => (await channelList(nsqd, topic)).some((c) => c.startsWith("tail")), {
    timeoutMs: 20_000,
    message: "tail subscribed",
  });
  await using pub = new ToolProc("to_nsq", [
    `--topic=${topic}`,
    `--nsqd-tcp-address=${nsqd.tcpAddress}`,
    "--delimiter=;",
  ], { stdin: true });
  await pub.write("a;b;;c;d;e;f;g", true);
  assert.equal(await pub.wait(), 0, pub.stderr);
  assert.equal(await tail.wait(), 0, tail.stderr);
  const lines = tail.stdout.trimEnd().split("\n");
  assert.deepEqual(lines, ["a", "b", "c", "d", "e"].map((l) => `${topic} | ${l}`));
  assert.match(tail.stderr, new RegExp(`Adding consumer for topic: ${topic}`));
  // to_nsq published the 7 non-empty pieces, the last one whole.
  assert.equal(await channelDepth(nsqd, topic, "keep"), 7);
  try {
    await waitFor(async () => await channelDepth(nsqd, topic, "nsq_to_file") === 0, {
      timeoutMs: 15_000,
      message: "nsq_to_file discovered and drained the topic",
    });
    assert.equal(await toFile.stop(), 0, toFile.stderr);
    assert.equal(await Deno.readTextFile(`${out}/${topic}.log`), "a\nb\nc\nd\ne\nf\ng\n");
    assert.deepEqual(await readDirFiles(out), [`${topic}.log`]);
    assert.match(
      toFile.stderr,
      new RegExp(`skipping topic ${topic}_other \\(doesn't match pattern`),
    );
    // nsq_stat finds the producer through nsqlookupd.
    const stat = await runToolProc("nsq_stat", [
      `--topic=${topic}`,
      "--channel=keep",
      `--lookupd-http-address=${lookupd.httpAddress}`,
      "--count=1",
      "--interval=50ms",
    ]);
    assert.equal(stat.code, 0, stat.stderr);
    assert.equal(
      stat.stdout.split("\n")[2],
      "      0       0 |       7       7       0     0     0 |       0       0            7       0",
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

async function channelList(n: TestNsqd, topic: string): Promise<string[]> {
  const r = await fetch(`http://${n.httpAddress}/stats?format=json&topic=${topic}`);
  const s = await r.json() as {
    topics: { topic_name: string; channels: { channel_name: string }[] }[] | null;
  };
  return (s.topics ?? []).flatMap((t) => t.channels.map((c) => c.channel_name));
}

Deno.test("pipeline: 1000 messages to_nsq → nsq_to_nsq → nsq_to_file, and nsq_to_http to an endpoint failing half the requests", async () => {
  await using src = await startNsqd({ httpAddress: "127.0.0.1:0", logLevel: "warn" });
  await using dst = await startNsqd({ httpAddress: "127.0.0.1:0", logLevel: "warn" });
  const topic = uniqueName("pipe");
  const destTopic = uniqueName("pipe_dst");
  const out = await Deno.makeTempDir({ prefix: "nsq_to_file_out_" });
  const work = await Deno.makeTempDir({ prefix: "nsq_to_file_work_" });
  const rot = await Deno.makeTempDir({ prefix: "nsq_to_file_rot_" });
  let requests = 0;
  const delivered = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.text();
    if (++requests % 2 === 0) return new Response("no", { status: 500 });
    assert.equal(req.headers.get("content-type"), "text/plain");
    assert.equal(req.headers.get("x-test"), "yes");
    delivered.set(body, (delivered.get(body) ?? 0) + 1);
    return new Response("ok");
  });
  try {
    await createChannel(dst, destTopic, "nsq_to_file");
    await createChannel(dst, destTopic, "nsq_to_http");
    const rotTopic = uniqueName("rot");
    await createChannel(src, rotTopic, "nsq_to_file");
    await using toNsq = new ToolProc("nsq_to_nsq", [
      `--topic=${topic}`,
      `--nsqd-tcp-address=${src.tcpAddress}`,
      `--destination-nsqd-tcp-address=${dst.tcpAddress}`,
      `--destination-topic=${destTopic}`,
      "--status-every=100",
    ]);
    await using toFile = new ToolProc("nsq_to_file", [
      `--topic=${destTopic}`,
      `--nsqd-tcp-address=${dst.tcpAddress}`,
      `--output-dir=${out}`,
      `--work-dir=${work}`,
      "--gzip",
      "--rotate-size=4000",
      "--sync-interval=200ms",
      "--host-identifier=testhost",
    ]);
    await using toHttp = new ToolProc("nsq_to_http", [
      `--topic=${destTopic}`,
      `--nsqd-tcp-address=${dst.tcpAddress}`,
      `--post=http://127.0.0.1:${server.addr.port}/in`,
      "--content-type=text/plain",
      "--header=X-Test: yes",
      "-n=4",
      "--status-every=0",
      ...FAST_RETRY,
    ]);
    // Rotation by time, alongside: a file per 300 ms while messages flow.
    await using byTime = new ToolProc("nsq_to_file", [
      `--topic=${rotTopic}`,
      `--nsqd-tcp-address=${src.tcpAddress}`,
      `--output-dir=${rot}`,
      "--rotate-interval=300ms",
      "--sync-interval=100ms",
      "--filename-format=<TOPIC><REV>.log",
    ]);
    const lines = Array.from({ length: 1000 }, (_, i) => `msg-${String(i).padStart(4, "0")}`);
    await using pub = new ToolProc("to_nsq", [
      `--topic=${topic}`,
      `--nsqd-tcp-address=${src.tcpAddress}`,
    ], { stdin: true });
    await pub.write(lines.join("\n") + "\n", true);
    assert.equal(await pub.wait(), 0, pub.stderr);

    const producer = new Producer(src.tcpAddress);
    for (let i = 0; i < 4; i++) {
      await producer.publish(rotTopic, `r${i}`);
      await new Promise((r) => setTimeout(r, 350));
    }
    await producer.stop();

    await waitFor(async () =>
      await channelDepth(dst, destTopic, "nsq_to_file") === 0 &&
      await channelDepth(src, topic, "nsq_to_nsq") === 0, {
      timeoutMs: 30_000,
      message: "nsq_to_nsq and nsq_to_file drained",
    });
    await waitFor(() => delivered.size === 1000, {
      timeoutMs: 30_000,
      message: "HTTP delivered 1000",
    });
    await waitFor(async () => await channelDepth(src, rotTopic, "nsq_to_file") === 0, {
      timeoutMs: 10_000,
      message: "rotation topic drained",
    });

    assert.equal(await toNsq.stop(), 0, toNsq.stderr);
    // Status lines as Go's timer_metrics prints them: one per 100 PUBs, one destination.
    const status = toNsq.stderr.split("\n").filter((l) => l.includes("[aggregate]:"));
    assert.ok(status.length >= 9, toNsq.stderr);
    assert.match(
      status[0],
      /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[aggregate\]: finished 100 - 99th: \d+\.\d\dms - 95th: \d+\.\d\dms - avg: \d+\.\d\dms$/,
    );
    assert.equal(await toFile.stop(), 0, toFile.stderr);
    assert.equal(await toHttp.stop(), 0, toHttp.stderr);
    assert.equal(await byTime.stop(), 0, byTime.stderr);

    // nsq_to_file: gzip files moved from the work dir, rotated by size, none lost or duplicated.
    assert.deepEqual(await readDirFiles(work), []);
    const files = await readDirFiles(out);
    assert.ok(files.length >= 2, `rotated by size: ${files}`);
    const hour = files[0].match(/\.(\d{4}-\d\d-\d\d_\d\d)\.log\.gz$/)?.[1];
    assert.ok(hour, files[0]);
    files.forEach((f, i) => {
      assert.match(
        f,
        new RegExp(`^${destTopic}\\.testhost-\\d{6}\\.\\d{4}-\\d\\d-\\d\\d_\\d\\d\\.log\\.gz$`),
      );
      if (i === 0) assert.equal(f, `${destTopic}.testhost-000000.${hour}.log.gz`);
    });
    let archived: string[] = [];
    for (const f of files) {
      archived = archived.concat((await gunzip(`${out}/${f}`)).split("\n").filter((l) => l !== ""));
    }
    assert.equal(archived.length, 1000);
    assert.deepEqual([...archived].sort(), lines);

    // nsq_to_http: every message delivered once despite half the requests failing (REQed).
    assert.ok(requests >= 1500, `requests ${requests}`);
    assert.deepEqual([...delivered.keys()].sort(), lines);
    assert.equal(await channelDepth(dst, destTopic, "nsq_to_http"), 0);

    // Rotation by time: several files, every message once.
    const rotFiles = await readDirFiles(rot);
    assert.ok(rotFiles.length >= 2, `rotated by time: ${rotFiles}`);
    let rotLines: string[] = [];
    for (const f of rotFiles) {
      assert.match(f, new RegExp(`^${rotTopic}-\\d{6}\\.log$`));
      rotLines = rotLines.concat(
        (await Deno.readTextFile(`${rot}/${f}`)).split("\n").filter((l) => l !== ""),
      );
    }
    assert.deepEqual(rotLines.sort(), ["r0", "r1", "r2", "r3"]);
  } finally {
    await server.shutdown();
    for (const d of [out, work, rot]) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("nsq_to_nsq: the destination nsqd restarts mid-stream, nothing is lost", async () => {
  await using src = await startNsqd({ httpAddress: "127.0.0.1:0", logLevel: "warn" });
  const dataDir = await Deno.makeTempDir({ prefix: "nsqd_dst_" });
  let dst = await startNsqd({ httpAddress: "127.0.0.1:0", logLevel: "warn" }, dataDir);
  const dstTcp = dst.tcpAddress;
  const topic = uniqueName("restart");
  try {
    await createChannel(dst, topic, "sink");
    await using relay = new ToolProc("nsq_to_nsq", [
      `--topic=${topic}`,
      `--nsqd-tcp-address=${src.tcpAddress}`,
      `--destination-nsqd-tcp-address=${dstTcp}`,
      "--status-every=0",
      ...FAST_RETRY,
    ]);
    const producer = new Producer(src.tcpAddress);
    const bodies = Array.from({ length: 400 }, (_, i) => `m${i}`);
    await producer.multiPublish(topic, bodies.slice(0, 200));
    await waitFor(async () => await channelDepth(dst, topic, "sink") === 200, {
      timeoutMs: 20_000,
      message: "first half relayed",
    });
    await dst.close(false); // keeps the data dir: the channel and its 200 messages persist
    await producer.multiPublish(topic, bodies.slice(200));
    // While the destination is down, PUBs fail and the messages are REQueued at the source.
    await waitFor(() => relay.stderr.includes("publish failed, requeueing"), {
      timeoutMs: 10_000,
      message: "PUBs failing while the destination is down",
    });
    dst = await startNsqd(
      { tcpAddress: dstTcp, httpAddress: "127.0.0.1:0", logLevel: "warn" },
      dataDir,
    );
    await waitFor(async () => await channelDepth(src, topic, "nsq_to_nsq") === 0, {
      timeoutMs: 30_000,
      message: "source drained after the restart",
    });
    await producer.stop();
    assert.equal(await relay.stop(), 0, relay.stderr);
    const depth = await channelDepth(dst, topic, "sink");
    assert.ok(depth >= 400, `depth ${depth}\n${relay.stderr}`);
    const got = await drain(dst.tcpAddress, topic, "sink", depth);
    assert.deepEqual([...new Set(got)].sort(), [...bodies].sort());
  } finally {
    await dst.close(false);
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("SIGTERM mid-stream: nsq_to_file, nsq_to_http, nsq_to_nsq FIN only what they wrote/delivered", async () => {
  await using nsqd = await startNsqd({ httpAddress: "127.0.0.1:0", logLevel: "warn" });
  await using dest = await startNsqd({ httpAddress: "127.0.0.1:0", logLevel: "warn" });
  const topic = uniqueName("sigterm");
  const out = await Deno.makeTempDir({ prefix: "nsq_to_file_term_" });
  const delivered: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    delivered.push(new URL(req.url).searchParams.get("d") ?? "");
    await new Promise((r) => setTimeout(r, 2));
    return new Response("ok");
  });
  try {
    await createChannel(nsqd, topic, "nsq_to_file");
    await createChannel(nsqd, topic, "nsq_to_http");
    await createChannel(nsqd, topic, "nsq_to_nsq");
    await createChannel(dest, topic, "sink");
    const bodies = Array.from({ length: 2000 }, (_, i) => `s${i}`);
    const producer = new Producer(nsqd.tcpAddress);
    await producer.multiPublish(topic, bodies);
    await producer.stop();
    // One message in flight: every message is its own write + fsync + FIN, so the stream is slow
    // enough to stop in the middle.
    await using toFile = new ToolProc("nsq_to_file", [
      `--topic=${topic}`,
      `--nsqd-tcp-address=${nsqd.tcpAddress}`,
      `--output-dir=${out}`,
      "--max-in-flight=1",
    ]);
    await using toHttp = new ToolProc("nsq_to_http", [
      `--topic=${topic}`,
      `--nsqd-tcp-address=${nsqd.tcpAddress}`,
      `--get=http://127.0.0.1:${server.addr.port}/?d=%s`,
      "-n=2",
      "--max-in-flight=2",
      "--status-every=0",
    ]);
    await using toNsq = new ToolProc("nsq_to_nsq", [
      `--topic=${topic}`,
      `--nsqd-tcp-address=${nsqd.tcpAddress}`,
      `--destination-nsqd-tcp-address=${dest.tcpAddress}`,
      "--max-in-flight=1",
      "--status-every=0",
    ]);
    const fileLines = async () => {
      const files = await readDirFiles(out);
      if (files.length === 0) return [];
      return (await Deno.readTextFile(`${out}/${files[0]}`)).split("\n").filter((l) => l !== "");
    };
    await waitFor(async () =>
      (await fileLines()).length >= 50 && delivered.length >= 50 &&
      await channelDepth(dest, topic, "sink") >= 50, {
      timeoutMs: 20_000,
      message: "streams under way",
    });
    const [fileCode, httpCode, nsqCode] = await Promise.all([
      toFile.stop(),
      toHttp.stop(),
      toNsq.stop(),
    ]);
    assert.equal(fileCode, 0, toFile.stderr);
    assert.equal(httpCode, 0, toHttp.stderr);
    assert.equal(nsqCode, 0, toNsq.stderr);
    const written = await fileLines();
    assert.ok(written.length < 2000, "stopped mid-stream");
    const httpGot = delivered.map((d) => d);
    assert.ok(httpGot.length < 2000, "stopped mid-stream");
    // Nothing in flight is left behind, and what remains is exactly what was not written/sent.
    const leftFile = await drain(nsqd.tcpAddress, topic, "nsq_to_file", 2000 - written.length);
    const leftHttp = await drain(nsqd.tcpAddress, topic, "nsq_to_http", 2000 - httpGot.length);
    assert.deepEqual([...written, ...leftFile].sort(), [...bodies].sort());
    assert.equal(new Set([...httpGot, ...leftHttp]).size, 2000);
    assert.equal(httpGot.length + leftHttp.length, 2000);
    const relayed = await drain(
      dest.tcpAddress,
      topic,
      "sink",
      await channelDepth(dest, topic, "sink"),
    );
    assert.ok(relayed.length < 2000, "stopped mid-stream");
    const leftNsq = await drain(nsqd.tcpAddress, topic, "nsq_to_nsq", 2000 - relayed.length);
    assert.deepEqual([...relayed, ...leftNsq].sort(), [...bodies].sort());
  } finally {
    await server.shutdown();
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("nsq_to_file: SIGHUP closes the file (logrotate moves it away, the next message opens a new one)", async () => {
  await using nsqd = await startNsqd({ logLevel: "warn" });
  const topic = uniqueName("hup");
  const out = await Deno.makeTempDir({ prefix: "nsq_to_file_hup_" });
  try {
    await using toFile = new ToolProc("nsq_to_file", [
      `--topic=${topic}`,
      `--nsqd-tcp-address=${nsqd.tcpAddress}`,
      `--output-dir=${out}`,
      "--filename-format=<TOPIC>.log",
      "--sync-interval=100ms",
    ]);
    const producer = new Producer(nsqd.tcpAddress);
    const path = `${out}/${topic}.log`;
    const text = () => Deno.readTextFile(path).catch(() => "");
    await producer.publish(topic, "before");
    await waitFor(async () => await text() === "before\n", {
      timeoutMs: 20_000,
      message: "first line",
    });
    await Deno.rename(path, `${path}.1`);
    toFile.kill("SIGHUP");
    await waitFor(() => toFile.stderr.includes("SIGHUP: closing the current file"), {
      message: "SIGHUP handled",
    });
    await producer.publish(topic, "after");
    await producer.stop();
    await waitFor(async () => await text() === "after\n", {
      timeoutMs: 10_000,
      message: "new file",
    });
    assert.equal(await toFile.stop(), 0, toFile.stderr);
    assert.equal(await Deno.readTextFile(`${path}.1`), "before\n");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
