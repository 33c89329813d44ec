import assert from "node:assert/strict";
import { DevCluster, dialableHost, run as runDev } from "../../lib/cli/dev.ts";
import { run as runNsqd } from "../../lib/cli/nsqd.ts";
import { run as runNsqlookupd } from "../../lib/cli/nsqlookupd.ts";
import { BufferOutput } from "../../lib/cli/output.ts";
import type { Logger } from "../../lib/internal/log.ts";
import type { NsqdOptions } from "../../lib/nsqd/options.ts";
import type { NsqlookupdOptions } from "../../lib/nsqlookupd/options.ts";
import { FakeDaemon, FakeSignals } from "./_fakes.ts";

Deno.test("nsqd run(): options and logger reach the daemon; SIGTERM → 0", async () => {
  const signals = new FakeSignals();
  const journal: string[] = [];
  const lines: string[] = [];
  let got: { opts: NsqdOptions; logger: Logger } | undefined;
  const daemon = new FakeDaemon("nsqd", journal, { tcp: "127.0.0.1:1", http: "127.0.0.1:2" });
  const code = runNsqd(
    ["--log-level=debug", "--log-prefix=[x] ", "--mem-queue-size=3"],
    {
      signals,
      logSink: (l) => lines.push(l),
      output: new BufferOutput(),
      createDaemon: (opts, logger) => {
        got = { opts, logger };
        return daemon;
      },
    },
  );
  await daemon.started.promise;
  assert.equal(got?.opts.memQueueSize, 3);
  assert.equal(got?.logger.level, "debug");
  assert.equal(got?.logger.prefix, "[x] ");
  signals.fire("SIGTERM");
  assert.equal(await code, 0);
  assert.deepEqual(journal, ["nsqd start", "nsqd close"]);
  assert.ok(lines.some((l) => l.startsWith("[x] ") && l.includes("received SIGTERM")));
});

Deno.test("run(): help, version and flag errors print and return without a daemon", async () => {
  const fail = () => {
    throw new Error("must not build a daemon");
  };
  let out = new BufferOutput();
  assert.equal(await runNsqd(["-h"], { output: out, createDaemon: fail }), 0);
  assert.ok(out.stdout.includes("  -mem-queue-size int"));
  out = new BufferOutput();
  assert.equal(await runNsqlookupd(["--version"], { output: out, createDaemon: fail }), 0);
  assert.match(out.stdout, /^nsqlookupd v1\.3\.0-compatible/);
  out = new BufferOutput();
  assert.equal(await runNsqd(["--bogus"], { output: out, createDaemon: fail }), 2);
  assert.equal(
    out.stderr,
    "flag provided but not defined: -bogus\nRun 'nsq nsqd -h' for usage.\n",
  );
  out = new BufferOutput();
  assert.equal(await runNsqd(["--node-id=5000"], { output: out, createDaemon: fail }), 1);
  assert.match(out.stderr, /FATAL: failed to instantiate nsqd - --node-id must be \[0,1024\)/);
});

Deno.test("run(): a daemon constructor error is fatal, exit 1", async () => {
  const lines: string[] = [];
  const code = await runNsqlookupd([], {
    logSink: (l) => lines.push(l),
    signals: new FakeSignals(),
    createDaemon: () => {
      throw new Error("bad options");
    },
  });
  assert.equal(code, 1);
  assert.ok(lines.some((l) => l.includes("FATAL: failed to instantiate nsqlookupd - bad options")));
});

Deno.test("dev: lookupd first, nsqd pointed at it, banner, ordered stop", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nsq_cli_dev_" });
  try {
    const dataPath = `${dir}/data/sub`;
    const signals = new FakeSignals();
    const journal: string[] = [];
    const out = new BufferOutput();
    let nsqdOpts: NsqdOptions | undefined;
    let lookupdOpts: NsqlookupdOptions | undefined;
    const nsqd = new FakeDaemon("nsqd", journal, { tcp: "127.0.0.1:4150", http: "127.0.0.1:4151" });
    const code = runDev(
      ["--data-path", dataPath, "--lookupd-tcp-address=0.0.0.0:0", "--log-level=warn"],
      {
        signals,
        output: out,
        logSink: () => {},
        daemons: {
          nsqlookupd: (o) => {
            lookupdOpts = o;
            return new FakeDaemon("lookupd", journal, {
              tcp: "0.0.0.0:41600",
              http: "127.0.0.1:4161",
            });
          },
          nsqd: (o) => {
            nsqdOpts = o;
            return nsqd;
          },
        },
      },
    );
    await nsqd.started.promise;
    assert.equal((await Deno.stat(dataPath)).isDirectory, true);
    assert.equal(lookupdOpts?.tcpAddress, "0.0.0.0:0");
    assert.equal(lookupdOpts?.httpAddress, "127.0.0.1:4161");
    assert.equal(lookupdOpts?.logLevel, "warn");
    assert.equal(nsqdOpts?.dataPath, dataPath);
    assert.equal(nsqdOpts?.tcpAddress, "127.0.0.1:4150");
    assert.deepEqual(nsqdOpts?.nsqlookupdTcpAddresses, ["127.0.0.1:41600"]);
    assert.equal(nsqdOpts?.broadcastAddress, "127.0.0.1");
    signals.fire("SIGINT");
    assert.equal(await code, 0);
    assert.deepEqual(journal, ["lookupd start", "nsqd start", "nsqd close", "lookupd close"]);
    assert.ok(out.stdout.includes("nsqlookupd  TCP 0.0.0.0:41600  HTTP 127.0.0.1:4161"));
    assert.ok(out.stdout.includes("nsqd        TCP 127.0.0.1:4150  HTTP 127.0.0.1:4151"));
    assert.ok(out.stdout.includes("curl -d hello 'http://127.0.0.1:4151/pub?topic=test'"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dev: flags, help and the defaults", async () => {
  const out = new BufferOutput();
  assert.equal(await runDev(["-h"], { output: out }), 0);
  for (const f of ["data-path", "tcp-address", "http-address", "lookupd-tcp-address"]) {
    assert.ok(out.stdout.includes(`  -${f} string`), f);
  }
  assert.ok(out.stdout.includes('(default "./data")'));
  assert.ok(out.stdout.includes('(default "127.0.0.1:4160")'));
  assert.ok(out.stdout.includes('(default "127.0.0.1:4161")'));
  const bad = new BufferOutput();
  assert.equal(await runDev(["--mem-queue-size=1"], { output: bad }), 2);
  assert.match(bad.stderr, /Run 'nsq dev -h' for usage/);
  assert.equal(dialableHost("0.0.0.0:4150"), "127.0.0.1");
  assert.equal(dialableHost(":4150"), "127.0.0.1");
  assert.equal(dialableHost("[::]:4150"), "127.0.0.1");
  assert.equal(dialableHost("[::1]:4150"), "::1");
  assert.equal(dialableHost("10.0.0.1:4150"), "10.0.0.1");
});

Deno.test("dev: a failing nsqd start closes the lookupd", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nsq_cli_dev_" });
  try {
    const journal: string[] = [];
    const cluster = new DevCluster(
      {
        dataPath: dir,
        tcpAddress: "127.0.0.1:0",
        httpAddress: "127.0.0.1:0",
        lookupdTcpAddress: "127.0.0.1:0",
        lookupdHttpAddress: "127.0.0.1:0",
        adminHttpAddress: "",
        logLevel: "info",
      },
      {
        nsqlookupd: () =>
          new FakeDaemon("lookupd", journal, { tcp: "127.0.0.1:9", http: "127.0.0.1:10" }),
        nsqd: () => {
          const d = new FakeDaemon("nsqd", journal, { tcp: "", http: "" });
          d.start = () => Promise.reject(new Error("address in use"));
          return d;
        },
      },
      () => {},
    );
    await assert.rejects(cluster.start(), /address in use/);
    await cluster.close();
    await cluster.close(); // idempotent
    assert.deepEqual(journal, ["lookupd start", "nsqd close", "lookupd close"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
