import assert from "node:assert/strict";
import { coerceConfigValue, ConfigError, parseConfigText } from "../../lib/cli/config.ts";
import { parseNsqdArgs } from "../../lib/cli/nsqd.ts";
import { parseNsqlookupdArgs } from "../../lib/cli/nsqlookupd.ts";
import { defaultNsqdOptions, type NsqdOptions, nsqdOptionTable } from "../../lib/nsqd/options.ts";

/** Writes `toml` to a temp file, runs `fn` with its path, removes the directory. */
async function withConfig(toml: string, fn: (path: string) => void | Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "nsq_cli_config_" });
  try {
    const path = `${dir}/nsqd.toml`;
    await Deno.writeTextFile(path, toml);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function options(argv: string[]): NsqdOptions {
  const r = parseNsqdArgs(argv);
  if (r.kind !== "run") assert.fail(`expected options, got exit ${r.code}: ${r.stderr}`);
  return r.options;
}

function spec(key: string) {
  const s = nsqdOptionTable.find((o) => o.key === key);
  assert.ok(s, key);
  return s;
}

Deno.test("config resolution: flag > TOML > default", async () => {
  const toml = `
mem_queue_size = 100
max_rdy_count = 50
msg_timeout = "2m"
id = 99
nsqlookupd_tcp_addresses = ["a:4160", "b:4160"]
log_level = "warn"
`;
  await withConfig(toml, (path) => {
    const o = options([
      "--config",
      path,
      "--mem-queue-size=7",
      "--lookupd-tcp-address=c:4160",
    ]);
    assert.equal(o.memQueueSize, 7); // flag beats TOML
    assert.equal(o.maxRdyCount, 50); // TOML beats default
    assert.equal(o.msgTimeout, 120_000);
    assert.equal(o.id, 99); // config key "id" for --node-id
    assert.deepEqual(o.nsqlookupdTcpAddresses, ["c:4160"]); // a list flag replaces the TOML list
    assert.equal(o.logLevel, "warn");
    assert.equal(o.maxMsgSize, defaultNsqdOptions().maxMsgSize); // default
    // --config=path works too, and the flag position does not matter
    assert.equal(options([`--mem-queue-size=8`, `-config=${path}`]).memQueueSize, 8);
    assert.equal(options([`-config=${path}`]).memQueueSize, 100);
  });
});

Deno.test("config resolution: a flag given with its default value still beats TOML", async () => {
  await withConfig('mem_queue_size = 100\ntcp_address = "127.0.0.1:1"\n', (path) => {
    const o = options(["--config", path, "--mem-queue-size=10000", "--lookupd-tcp-address=x:1"]);
    assert.equal(o.memQueueSize, 10000);
    // unlike go-options' substring test, --lookupd-tcp-address does not count as --tcp-address
    assert.equal(o.tcpAddress, "127.0.0.1:1");
  });
});

Deno.test("config: TOML coercions per option kind", async () => {
  const toml = `
# durations: strings or integers meaning milliseconds
sync_timeout = 1500
max_msg_timeout = "1h30m"
# ints: integers or numeric strings
max_body_size = "2048"
sync_every = 10
# lists: arrays or comma-separated strings
auth_http_addresses = "x:1, y:2"
e2e_processing_latency_percentiles = [0.5, 1, 0.99]
enable_experiment = ["topology-aware-consumption"]
# bools: booleans or strings
snappy = "false"
deflate = false
statsd_mem_stats = "F"
# strings
data_path = "/tmp/x"
statsd_prefix = "p.%s"
tls_required = "tcp-https"
tls_cert = "c.pem"
tls_key = "k.pem"
tls_min_version = "tls1.2"
# unknown keys are ignored
no_such_option = 1
node_id = 5
[some_table]
x = 1
`;
  await withConfig(toml, (path) => {
    const o = options(["--config", path]);
    assert.equal(o.syncTimeout, 1500);
    assert.equal(o.maxMsgTimeout, 5_400_000);
    assert.equal(o.maxBodySize, 2048);
    assert.equal(o.syncEvery, 10);
    assert.deepEqual(o.authHttpAddresses, ["x:1", "y:2"]);
    assert.deepEqual(o.e2eProcessingLatencyPercentiles, [1, 0.99, 0.5]);
    assert.deepEqual(o.experiments, ["topology-aware-consumption"]);
    assert.equal(o.snappy, false);
    assert.equal(o.deflate, false);
    assert.equal(o.statsdMemStats, false);
    assert.equal(o.dataPath, "/tmp/x");
    assert.equal(o.statsdPrefix, "p.%s");
    assert.equal(o.tlsRequired, 2);
    assert.equal(o.tlsMinVersion, "tls1.2");
    assert.equal(o.id, defaultNsqdOptions().id); // node_id is not a config key
  });
});

Deno.test("config: coerceConfigValue edge cases", () => {
  assert.equal(coerceConfigValue(spec("tls_required"), true), 1);
  assert.equal(coerceConfigValue(spec("tls_required"), false), 0);
  assert.equal(coerceConfigValue(spec("tls_required"), "true"), 1);
  assert.equal(coerceConfigValue(spec("tls_min_version"), ""), undefined); // keep the default
  assert.equal(coerceConfigValue(spec("log_level"), "ERROR"), "error");
  assert.deepEqual(coerceConfigValue(spec("e2e_processing_latency_percentiles"), "0.9,1.0"), [
    1,
    0.9,
  ]);
  assert.deepEqual(coerceConfigValue(spec("nsqlookupd_tcp_addresses"), []), []);
  assert.equal(coerceConfigValue(spec("deflate"), 1), true);
  assert.equal(coerceConfigValue(spec("deflate"), 0), false);
  assert.equal(coerceConfigValue(spec("mem_queue_size"), 5n), 5);
  assert.equal(coerceConfigValue(spec("statsd_address"), 5), "5");
  assert.equal(coerceConfigValue(spec("msg_timeout"), 0), 0);

  const bad: [string, unknown, RegExp][] = [
    ["mem_queue_size", "abc", /failed to coerce abc for mem_queue_size - parse error/],
    ["mem_queue_size", 1.5, /failed to coerce 1.5 for mem_queue_size - invalid value type/],
    ["mem_queue_size", "0x10", /parse error/], // base 10 in TOML
    ["msg_timeout", "abc", /failed to coerce abc for msg_timeout - parse error/],
    ["msg_timeout", true, /invalid value type/],
    ["deflate", "yes", /failed to coerce yes for deflate/],
    ["nsqlookupd_tcp_addresses", 5, /invalid value type/],
    ["nsqlookupd_tcp_addresses", [{ a: 1 }], /invalid value type/],
    ["e2e_processing_latency_percentiles", ["x"], /parse error/],
    ["enable_experiment", "nope", /unknown value "nope"/],
    ["tls_required", "maybe", /^failed parsing tls_required maybe$/],
    ["tls_min_version", "ssl2.0", /^failed parsing tls_min_version ssl2.0$/],
    ["log_level", "loud", /^failed parsing log_level loud$/],
    ["log_level", 3, /^failed parsing log_level 3$/],
  ];
  for (const [key, raw, re] of bad) {
    assert.throws(() => coerceConfigValue(spec(key), raw), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, re);
      return true;
    }, key);
  }
});

Deno.test("config: bad values, bad TOML and missing files exit 1 with a fatal line", async () => {
  await withConfig('tls_required = "sometimes"\n', (path) => {
    const r = parseNsqdArgs(["--config", path]);
    assert.equal(r.kind, "exit");
    if (r.kind !== "exit") return;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^\[nsqd\] .* FATAL: failed parsing tls_required sometimes\n$/);
  });
  await withConfig("mem_queue_size = = 1\n", (path) => {
    const r = parseNsqdArgs(["--config", path]);
    assert.ok(r.kind === "exit" && r.code === 1);
    assert.match(r.stderr, /FATAL: failed to load config file .*nsqd\.toml - /);
  });
  const r = parseNsqdArgs(["--config", "/nonexistent/nsqd.toml"]);
  assert.ok(r.kind === "exit" && r.code === 1);
  assert.match(r.stderr, /failed to load config file \/nonexistent\/nsqd\.toml - /);
  // validation also applies to TOML values
  await withConfig("max_deflate_level = 12\n", (path) => {
    const r = parseNsqdArgs(["--config", path]);
    assert.ok(r.kind === "exit" && r.code === 1);
    assert.match(r.stderr, /--max-deflate-level must be \[1,9\]/);
  });
  assert.throws(() => parseConfigText("x = [", "f.toml"), /failed to load config file f\.toml/);
});

Deno.test("config: nsqlookupd uses the same resolution", async () => {
  await withConfig('tombstone_lifetime = "1m"\ninactive_producer_timeout = 1000\n', (path) => {
    const r = parseNsqlookupdArgs(["--config", path, "--tombstone-lifetime=30s"]);
    if (r.kind !== "run") assert.fail(r.stderr);
    assert.equal(r.options.tombstoneLifetime, 30_000);
    assert.equal(r.options.inactiveProducerTimeout, 1000);
  });
});
