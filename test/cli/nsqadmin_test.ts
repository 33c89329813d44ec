/**
 * `nsq nsqadmin` flags: Go nsqadmin's names and defaults, TOML keys, and nsqadmin.New()'s
 * checks with its messages (exit 1); plus the CIDR matcher behind --allow-config-from-cidr.
 */
import assert from "node:assert/strict";
import { parseNsqadminArgs, run } from "../../lib/cli/nsqadmin.ts";
import { BufferOutput } from "../../lib/cli/output.ts";
import {
  cidrContains,
  defaultNsqadminOptions,
  normalizeBasePath,
  nsqadminConfigValue,
  parseCidr,
  parseIp,
} from "../../lib/nsqadmin/options.ts";

Deno.test("nsqadmin flags: -h lists Go's flags and defaults", () => {
  const r = parseNsqadminArgs(["-h"]);
  assert.equal(r.kind, "exit");
  if (r.kind !== "exit") return;
  assert.equal(r.code, 0);
  for (
    const f of [
      "http-address",
      "base-path",
      "lookupd-http-address",
      "nsqd-http-address",
      "admin-user",
      "acl-http-header",
      "notification-http-endpoint",
      "allow-config-from-cidr",
      "http-client-connect-timeout",
      "http-client-request-timeout",
      "http-client-tls-insecure-skip-verify",
      "http-client-tls-root-ca-file",
      "http-client-tls-cert",
      "http-client-tls-key",
      "graphite-url",
      "proxy-graphite",
      "statsd-prefix",
      "statsd-interval",
      "statsd-counter-format",
      "statsd-gauge-format",
      "log-level",
      "log-prefix",
      "config",
      "version",
    ]
  ) {
    assert.ok(r.stdout.includes(`  -${f}`), f);
  }
  assert.ok(r.stdout.includes('(default "0.0.0.0:4171")'));
  assert.ok(r.stdout.includes('(default "X-Forwarded-User")'));
  assert.ok(r.stdout.includes('(default "127.0.0.1/8")'));
});

Deno.test("nsqadmin flags: exactly one kind of address, Go's messages, exit 1", async () => {
  const cases: [string[], string][] = [
    [[], "--nsqd-http-address or --lookupd-http-address required"],
    [
      ["--lookupd-http-address=127.0.0.1:4161", "--nsqd-http-address=127.0.0.1:4151"],
      "use --nsqd-http-address or --lookupd-http-address not both",
    ],
    [
      ["--nsqd-http-address=127.0.0.1:4151", "--http-client-tls-cert=c.pem"],
      "--http-client-tls-key must be specified with --http-client-tls-cert",
    ],
    [
      ["--nsqd-http-address=127.0.0.1"],
      "failed to resolve --nsqd-http-address (127.0.0.1) - address 127.0.0.1: missing port in address",
    ],
    [
      ["--nsqd-http-address=127.0.0.1:4151", "--allow-config-from-cidr=nope"],
      "failed to parse --allow-config-from-cidr (nope) - invalid CIDR address: nope",
    ],
  ];
  for (const [args, message] of cases) {
    const out = new BufferOutput();
    assert.equal(await run(args, { output: out }), 1, args.join(" "));
    assert.match(out.stderr, /^\[nsqadmin\] .* FATAL: failed to instantiate nsqadmin - /);
    assert.ok(out.stderr.includes(message), `${args.join(" ")}: ${out.stderr}`);
  }
  const bad = new BufferOutput();
  assert.equal(await run(["--bogus"], { output: bad }), 2);
  assert.match(bad.stderr, /Run 'nsq nsqadmin -h' for usage/);
});

Deno.test("nsqadmin flags: repeated addresses, TOML keys, base path, /config values", async () => {
  const r = parseNsqadminArgs([
    "--lookupd-http-address=127.0.0.1:4161",
    "--lookupd-http-address",
    "127.0.0.2:4161",
    "--admin-user=alice",
    "--admin-user=bob",
    "--base-path=admin/",
    "--http-client-request-timeout=3s",
  ]);
  assert.equal(r.kind, "run");
  if (r.kind !== "run") return;
  assert.deepEqual(r.options.nsqlookupdHttpAddresses, ["127.0.0.1:4161", "127.0.0.2:4161"]);
  assert.deepEqual(r.options.adminUsers, ["alice", "bob"]);
  assert.equal(r.options.basePath, "/admin");
  assert.equal(r.options.httpClientRequestTimeout, 3000);
  assert.equal(nsqadminConfigValue(r.options, "http_client_request_timeout"), 3_000_000_000);
  assert.deepEqual(nsqadminConfigValue(r.options, "admin_users"), ["alice", "bob"]);
  assert.equal(nsqadminConfigValue(r.options, "log_level"), 2);
  assert.equal(nsqadminConfigValue(r.options, "nope"), undefined);

  const dir = await Deno.makeTempDir({ prefix: "nsqadmin_cfg_" });
  try {
    const file = `${dir}/nsqadmin.cfg`;
    await Deno.writeTextFile(
      file,
      'nsqd_http_addresses = ["127.0.0.1:4151"]\nadmin_users = ["carol"]\nhttp_address = "127.0.0.1:0"\n',
    );
    const c = parseNsqadminArgs([`--config=${file}`]);
    assert.equal(c.kind, "run");
    if (c.kind !== "run") return;
    assert.deepEqual(c.options.nsqdHttpAddresses, ["127.0.0.1:4151"]);
    assert.deepEqual(c.options.adminUsers, ["carol"]);
    assert.equal(c.options.httpAddress, "127.0.0.1:0");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(defaultNsqadminOptions().statsdInterval, 60_000);
  assert.equal(normalizeBasePath(""), "/");
  assert.equal(normalizeBasePath("/a//b/../c/"), "/a/c");
});

Deno.test("nsqadmin: CIDR matching for --allow-config-from-cidr", () => {
  const lo = parseCidr("127.0.0.1/8")!;
  assert.ok(cidrContains(lo, parseIp("127.9.9.9")!));
  assert.ok(!cidrContains(lo, parseIp("10.0.0.1")!));
  assert.ok(cidrContains(lo, parseIp("::ffff:127.0.0.1")!));
  assert.ok(!cidrContains(lo, parseIp("::1")!));
  const v6 = parseCidr("::1/128")!;
  assert.ok(cidrContains(v6, parseIp("::1")!));
  assert.ok(!cidrContains(v6, parseIp("::2")!));
  assert.equal(parseCidr("1.2.3.4"), undefined);
  assert.equal(parseCidr("1.2.3.4/33"), undefined);
  assert.equal(parseIp("1.2.3"), undefined);
});

Deno.test("dev: nsqadmin starts last over the lookupd's HTTP address, stops first, banner URL", async () => {
  const { run: runDev } = await import("../../lib/cli/dev.ts");
  const { FakeDaemon, FakeSignals } = await import("./_fakes.ts");
  const dir = await Deno.makeTempDir({ prefix: "nsq_cli_dev_" });
  try {
    const signals = new FakeSignals();
    const journal: string[] = [];
    const out = new BufferOutput();
    let adminOpts: ReturnType<typeof defaultNsqadminOptions> | undefined;
    const admin = new FakeDaemon("nsqadmin", journal, { tcp: "", http: "0.0.0.0:4171" });
    const code = runDev(["--data-path", dir, "--admin-http-address=0.0.0.0:4171"], {
      signals,
      output: out,
      logSink: () => {},
      daemons: {
        nsqlookupd: () =>
          new FakeDaemon("lookupd", journal, { tcp: "127.0.0.1:4160", http: "0.0.0.0:4161" }),
        nsqd: () =>
          new FakeDaemon("nsqd", journal, { tcp: "127.0.0.1:4150", http: "127.0.0.1:4151" }),
        nsqadmin: (o) => {
          adminOpts = o;
          return admin;
        },
      },
    });
    await admin.started.promise;
    assert.deepEqual(adminOpts?.nsqlookupdHttpAddresses, ["127.0.0.1:4161"]);
    assert.equal(adminOpts?.httpAddress, "0.0.0.0:4171");
    signals.fire("SIGINT");
    assert.equal(await code, 0);
    assert.deepEqual(journal, [
      "lookupd start",
      "nsqd start",
      "nsqadmin start",
      "nsqadmin close",
      "nsqd close",
      "lookupd close",
    ]);
    assert.ok(out.stdout.includes("nsqadmin    HTTP 0.0.0.0:4171  open http://127.0.0.1:4171/"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
