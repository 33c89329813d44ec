import assert from "node:assert/strict";
import { nsqdCommand, parseNsqdArgs } from "../../lib/cli/nsqd.ts";
import type { CliOutcome } from "../../lib/cli/resolve.ts";
import {
  defaultNsqdOptions,
  nsqdConfigValue,
  type NsqdOptions,
  nsqdOptionTable,
} from "../../lib/nsqd/options.ts";
import { findOptionByKey } from "../../lib/internal/options.ts";
import { versionLine } from "../../lib/version.ts";

function options(argv: string[]): NsqdOptions {
  const r = parseNsqdArgs(argv);
  if (r.kind !== "run") assert.fail(`expected options, got exit ${r.code}: ${r.stderr}`);
  return r.options;
}

function exitOf(argv: string[]): Extract<CliOutcome<NsqdOptions>, { kind: "exit" }> {
  const r = parseNsqdArgs(argv);
  if (r.kind !== "exit") assert.fail(`expected an exit for ${argv.join(" ")}`);
  return r;
}

/**
 * Go nsqd's flags (nsq's nsqd/options.go, 1.3.0 + the master-only flags we accept):
 * flag → [config key, default].
 */
const SPEC_FLAGS: Record<string, [string, unknown]> = {
  "log-level": ["log_level", "info"],
  "log-prefix": ["log_prefix", "[nsqd] "],
  "node-id": ["id", defaultNsqdOptions().id],
  "tcp-address": ["tcp_address", "0.0.0.0:4150"],
  "http-address": ["http_address", "0.0.0.0:4151"],
  "https-address": ["https_address", "0.0.0.0:4152"],
  "broadcast-address": ["broadcast_address", defaultNsqdOptions().broadcastAddress],
  "broadcast-tcp-port": ["broadcast_tcp_port", 0],
  "broadcast-http-port": ["broadcast_http_port", 0],
  "lookupd-tcp-address": ["nsqlookupd_tcp_addresses", []],
  "auth-http-address": ["auth_http_addresses", []],
  "auth-http-request-method": ["auth_http_request_method", "get"],
  "http-client-connect-timeout": ["http_client_connect_timeout", 2000],
  "http-client-request-timeout": ["http_client_request_timeout", 5000],
  "topology-region": ["topology_region", ""],
  "topology-zone": ["topology_zone", ""],
  "enable-experiment": ["enable_experiment", []],
  "data-path": ["data_path", ""],
  "mem-queue-size": ["mem_queue_size", 10000],
  "max-bytes-per-file": ["max_bytes_per_file", 104857600],
  "sync-every": ["sync_every", 2500],
  "sync-timeout": ["sync_timeout", 2000],
  "queue-scan-worker-pool-max": ["queue_scan_worker_pool_max", 4],
  "queue-scan-selection-count": ["queue_scan_selection_count", 20],
  "msg-timeout": ["msg_timeout", 60_000],
  "max-msg-timeout": ["max_msg_timeout", 900_000],
  "max-msg-size": ["max_msg_size", 1048576],
  "max-req-timeout": ["max_req_timeout", 3_600_000],
  "max-body-size": ["max_body_size", 5242880],
  "max-heartbeat-interval": ["max_heartbeat_interval", 60_000],
  "max-rdy-count": ["max_rdy_count", 2500],
  "max-output-buffer-size": ["max_output_buffer_size", 65536],
  "max-output-buffer-timeout": ["max_output_buffer_timeout", 30_000],
  "min-output-buffer-timeout": ["min_output_buffer_timeout", 25],
  "output-buffer-timeout": ["output_buffer_timeout", 250],
  "max-channel-consumers": ["max_channel_consumers", 0],
  "statsd-address": ["statsd_address", ""],
  "statsd-interval": ["statsd_interval", 60_000],
  "statsd-mem-stats": ["statsd_mem_stats", true],
  "statsd-prefix": ["statsd_prefix", "nsq.%s"],
  "statsd-udp-packet-size": ["statsd_udp_packet_size", 508],
  "statsd-exclude-ephemeral": ["statsd_exclude_ephemeral", false],
  "e2e-processing-latency-percentile": ["e2e_processing_latency_percentiles", []],
  "e2e-processing-latency-window-time": ["e2e_processing_latency_window_time", 600_000],
  "tls-cert": ["tls_cert", ""],
  "tls-key": ["tls_key", ""],
  "tls-client-auth-policy": ["tls_client_auth_policy", ""],
  "tls-root-ca-file": ["tls_root_ca_file", ""],
  "tls-required": ["tls_required", 0],
  "tls-min-version": ["tls_min_version", "tls1.0"],
  "deflate": ["deflate", true],
  "max-deflate-level": ["max_deflate_level", 6],
  "snappy": ["snappy", true],
  // gossip: NSQ's dev-branch flags, and its options we expose as flags (docs/gossip.md)
  "gossip-address": ["gossip_address", ""],
  "gossip-seed-address": ["gossip_seed_address", []],
  "gossip-regossip-interval": ["gossip_regossip_interval", 60_000],
  "gossip-probe-interval": ["gossip_probe_interval", 1000],
  "gossip-suspicion-mult": ["gossip_suspicion_mult", 5],
  "gossip-reap-interval": ["gossip_reap_interval", 15_000],
  "gossip-reconnect-timeout": ["gossip_reconnect_timeout", 3_600_000],
  "gossip-secret-key": ["gossip_secret_key", ""],
};

Deno.test("nsqd table: every spec flag with its config key and default, nothing else", () => {
  const defaults = defaultNsqdOptions();
  assert.deepEqual(
    nsqdOptionTable.map((o) => o.flag).sort(),
    Object.keys(SPEC_FLAGS).sort(),
  );
  for (const spec of nsqdOptionTable) {
    const [key, def] = SPEC_FLAGS[spec.flag];
    assert.equal(spec.key, key, spec.flag);
    assert.deepEqual(defaults[spec.field], def, spec.flag);
  }
  // internal constants are not flags
  for (const f of ["queueScanInterval", "queueScanRefreshInterval", "queueScanDirtyPercent"]) {
    assert.equal(nsqdOptionTable.find((o) => o.field === f), undefined);
  }
  assert.equal(nsqdOptionTable.find((o) => o.field === "clientTimeout"), undefined);
  assert.equal(nsqdOptionTable.find((o) => o.flag === "max-defer-timeout"), undefined);
  // no arguments: the defaults
  assert.deepEqual(options([]), defaults);
});

Deno.test("nsqd flags: every kind from the command line", () => {
  const o = options([
    "--tcp-address=127.0.0.1:0",
    "-http-address",
    "127.0.0.1:0",
    "--node-id",
    "7",
    "--mem-queue-size=0",
    "--max-bytes-per-file",
    "0x100",
    "--msg-timeout=1m30s",
    "--sync-timeout",
    "250ms",
    "--max-req-timeout=1.5h",
    "--statsd-mem-stats=false",
    "--statsd-exclude-ephemeral",
    "--deflate=0",
    "-snappy=F",
    "--log-level=DEBUG",
    "--log-prefix=",
    "--lookupd-tcp-address=a:4160",
    "--lookupd-tcp-address",
    "b:4160,c:4160",
    "--auth-http-address=auth:1",
    "--e2e-processing-latency-percentile=0.5",
    "--e2e-processing-latency-percentile",
    "0.99,1.0",
    "--tls-min-version=TLS1.2",
    "--enable-experiment=topology-aware-consumption",
    "--topology-zone=z1",
    "--auth-http-request-method=post",
  ]);
  assert.equal(o.tcpAddress, "127.0.0.1:0");
  assert.equal(o.httpAddress, "127.0.0.1:0");
  assert.equal(o.id, 7);
  assert.equal(o.memQueueSize, 0);
  assert.equal(o.maxBytesPerFile, 256);
  assert.equal(o.msgTimeout, 90_000);
  assert.equal(o.syncTimeout, 250);
  assert.equal(o.maxReqTimeout, 5_400_000);
  assert.equal(o.statsdMemStats, false);
  assert.equal(o.statsdExcludeEphemeral, true);
  assert.equal(o.deflate, false);
  assert.equal(o.snappy, false);
  assert.equal(o.logLevel, "debug");
  assert.equal(o.logPrefix, "");
  assert.deepEqual(o.nsqlookupdTcpAddresses, ["a:4160", "b:4160", "c:4160"]);
  assert.deepEqual(o.authHttpAddresses, ["auth:1"]);
  assert.deepEqual(o.e2eProcessingLatencyPercentiles, [1, 0.99, 0.5]); // sorted descending
  assert.equal(o.tlsMinVersion, "tls1.2");
  assert.deepEqual(o.experiments, ["topology-aware-consumption"]);
  assert.equal(o.topologyZone, "z1");
  assert.equal(o.authHttpRequestMethod, "post");
  // the last occurrence of a scalar flag wins
  assert.equal(options(["--mem-queue-size=1", "--mem-queue-size=2"]).memQueueSize, 2);
});

Deno.test("nsqd flags: --tls-required is boolean-style and takes tcp-https via =", () => {
  const cert = ["--tls-cert=c.pem", "--tls-key=k.pem"];
  assert.equal(options([...cert, "--tls-required"]).tlsRequired, 1);
  assert.equal(options([...cert, "--tls-required=true"]).tlsRequired, 1);
  assert.equal(options([...cert, "--tls-required=TRUE"]).tlsRequired, 1);
  assert.equal(options([...cert, "--tls-required=tcp-https"]).tlsRequired, 2);
  assert.equal(options([...cert, "--tls-required=TCP-HTTPS"]).tlsRequired, 2);
  assert.equal(options([...cert, "--tls-required=false"]).tlsRequired, 0);
  assert.equal(options([...cert, "--tls-required=0"]).tlsRequired, 0);
  // alone it never takes the next argument: "tcp-https" ends the flags
  const o = options([...cert, "--tls-required", "tcp-https", "--mem-queue-size=5"]);
  assert.equal(o.tlsRequired, 1);
  assert.equal(o.memQueueSize, 10000);
  const e = exitOf(["--tls-required=maybe"]);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /invalid boolean value "maybe" for -tls-required/);
  // a client auth policy implies tls-required
  assert.equal(options([...cert, "--tls-client-auth-policy=require"]).tlsRequired, 1);
  assert.equal(
    options([...cert, "--tls-client-auth-policy=require", "--tls-required=tcp-https"]).tlsRequired,
    2,
  );
});

Deno.test("nsqd flags: deprecated and meta flags", () => {
  assert.deepEqual(options(["--verbose", "--worker-id"]), defaultNsqdOptions());
  assert.deepEqual(options(["--verbose=false", "-worker-id=true"]), defaultNsqdOptions());
  const v = exitOf(["--version"]);
  assert.deepEqual([v.code, v.stdout, v.stderr], [0, versionLine("nsqd") + "\n", ""]);
  assert.equal(exitOf(["-version", "--mem-queue-size=1"]).code, 0);
  // -- ends the flags
  assert.equal(options(["--", "--mem-queue-size=1"]).memQueueSize, 10000);
});

Deno.test("nsqd flags: errors name the flag and value, exit 2", () => {
  const cases: [string[], string][] = [
    [["--mem-queue-size", "abc"], 'invalid value "abc" for flag -mem-queue-size: parse error'],
    [["--msg-timeout=10"], 'invalid value "10" for flag -msg-timeout: parse error'],
    [["--msg-timeout=abc"], 'invalid value "abc" for flag -msg-timeout: parse error'],
    [["--deflate=yes"], 'invalid boolean value "yes" for -deflate: parse error'],
    [["--no-such-flag"], "flag provided but not defined: -no-such-flag"],
    [["--max-defer-timeout=1h"], "flag provided but not defined: -max-defer-timeout"],
    [["--tcp-address"], "flag needs an argument: -tcp-address"],
    [["--log-level=loud"], 'invalid value "loud" for flag -log-level: invalid log level "loud"'],
    [["--tls-min-version=ssl2"], 'invalid value "ssl2" for flag -tls-min-version'],
    [
      ["--e2e-processing-latency-percentile=0.5,x"],
      'invalid value "0.5,x" for flag -e2e-processing-latency-percentile: parse error',
    ],
    [["--enable-experiment=warp-drive"], 'invalid value "warp-drive" for flag -enable-experiment'],
    [["--node-id=1.5"], 'invalid value "1.5" for flag -node-id: parse error'],
  ];
  for (const [argv, message] of cases) {
    const e = exitOf(argv);
    assert.equal(e.code, 2, argv.join(" "));
    assert.equal(e.stdout, "");
    const [first, second] = e.stderr.split("\n");
    assert.ok(first.startsWith(message), `${first} !~ ${message}`);
    assert.equal(second, "Run 'nsq nsqd -h' for usage.");
  }
});

Deno.test("nsqd validation after resolution: Go nsqd.New() messages, exit 1", () => {
  const cases: [string[], string][] = [
    [["--max-deflate-level=0"], "--max-deflate-level must be [1,9]"],
    [["--max-deflate-level=10"], "--max-deflate-level must be [1,9]"],
    [["--node-id=1024"], "--node-id must be [0,1024)"],
    [["--node-id=-1"], "--node-id must be [0,1024)"],
    [["--tls-required"], "cannot require TLS client connections without TLS key and cert"],
    [
      ["--tls-client-auth-policy=require-verify"],
      "cannot require TLS client connections without TLS key and cert",
    ],
    [["--tls-cert=c.pem"], "failed to build TLS config"],
    [["--auth-http-request-method=put"], "--auth-http-request-method must be post or get"],
    [
      ["--e2e-processing-latency-percentile=0"],
      "invalid E2E processing latency percentile: 0",
    ],
    [
      ["--e2e-processing-latency-percentile=1.5,0.5"],
      "invalid E2E processing latency percentile: 1.5",
    ],
  ];
  for (const [argv, message] of cases) {
    const e = exitOf(argv);
    assert.equal(e.code, 1, argv.join(" "));
    assert.match(e.stderr, /^\[nsqd\] \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d{6} FATAL: /);
    assert.ok(
      e.stderr.includes(`failed to instantiate nsqd - ${message}`),
      `${e.stderr} lacks ${message}`,
    );
  }
  assert.equal(options(["--max-deflate-level=9", "--node-id=1023"]).id, 1023);
  assert.deepEqual(
    options(["--e2e-processing-latency-percentile=1"]).e2eProcessingLatencyPercentiles,
    [1],
  );
});

Deno.test("nsqd -h: Go flag package layout, grouped like options.go, exit 0", () => {
  for (const h of ["-h", "--help", "-help"]) {
    const e = exitOf([h]);
    assert.equal(e.code, 0);
    assert.equal(e.stderr, "");
    const help = e.stdout;
    for (const spec of nsqdOptionTable) assert.ok(help.includes(`  -${spec.flag}`), spec.flag);
    for (const meta of ["version", "verbose", "worker-id"]) {
      assert.ok(help.includes(`  -${meta}\n`), meta);
    }
    assert.ok(help.startsWith("Usage: nsq nsqd [flags]\n"));
    const headings = [
      "basic options:",
      "diskqueue options:",
      "msg and command options:",
      "client overridable configuration options:",
      "statsd integration options:",
      "e2e message latency options:",
      "TLS config:",
      "compression:",
    ];
    let at = -1;
    for (const h of headings) {
      const i = help.indexOf(`\n${h}\n`);
      assert.ok(i > at, `heading ${h} missing or out of order`);
      at = i;
    }
    const entries = [
      "  -mem-queue-size int\n    \tnumber of messages to keep in memory (per topic/channel) (default 10000)",
      "  -msg-timeout duration\n    \tdefault duration to wait before auto-requeing a message (default 1m0s)",
      "  -max-req-timeout duration\n    \tmaximum requeuing timeout for a message (default 1h0m0s)",
      "  -output-buffer-timeout duration\n    \tdefault duration of time between flushing data to clients (default 250ms)",
      '  -log-prefix string\n    \tlog message prefix (default "[nsqd] ")',
      "  -deflate\n    \tenable deflate feature negotiation (client compression) (default true)",
      "  -statsd-exclude-ephemeral\n    \tSkip ephemeral topics and channels when sending stats to statsd\n",
      "  -lookupd-tcp-address value\n    \tlookupd TCP address (may be given multiple times)\n",
      "  -tls-required\n    \trequire TLS for client connections (true, false, tcp-https)\n",
      "  -data-path string\n    \tpath to store disk-backed messages\n",
      "  -config string\n    \tpath to config file\n",
      "  -log-level value\n    \tset log verbosity: debug, info, warn, error, or fatal (default info)",
    ];
    for (const entry of entries) assert.ok(help.includes(entry), entry);
    // the mem-queue-size entry sits under the diskqueue heading
    assert.ok(help.indexOf("  -mem-queue-size") > help.indexOf("\ndiskqueue options:\n"));
    assert.ok(help.indexOf("  -mem-queue-size") < help.indexOf("\nmsg and command options:\n"));
  }
  assert.equal(nsqdCommand.name, "nsqd");
});

Deno.test("GET /config/:opt values: by config key, rendered like Go's JSON", () => {
  const o = options([
    "--msg-timeout=1m",
    "--log-level=warn",
    "--tls-cert=c",
    "--tls-key=k",
    "--tls-required=tcp-https",
    "--lookupd-tcp-address=a:1",
    "--e2e-processing-latency-percentile=0.9,0.99",
    "--tls-min-version=tls1.2",
  ]);
  assert.equal(nsqdConfigValue(o, "msg_timeout"), 60_000_000_000);
  assert.equal(nsqdConfigValue(o, "output_buffer_timeout"), 250_000_000);
  assert.equal(nsqdConfigValue(o, "log_level"), 3);
  assert.equal(nsqdConfigValue(o, "tls_required"), 2);
  assert.equal(nsqdConfigValue(o, "tls_min_version"), 0x0303);
  assert.deepEqual(nsqdConfigValue(o, "nsqlookupd_tcp_addresses"), ["a:1"]);
  assert.deepEqual(nsqdConfigValue(o, "e2e_processing_latency_percentiles"), [0.99, 0.9]);
  assert.equal(nsqdConfigValue(o, "mem_queue_size"), 10000);
  assert.equal(nsqdConfigValue(o, "id"), o.id);
  assert.equal(nsqdConfigValue(o, "snappy"), true);
  assert.equal(nsqdConfigValue(o, "log_prefix"), "[nsqd] ");
  assert.deepEqual(nsqdConfigValue(o, "auth_http_addresses"), []);
  assert.equal(nsqdConfigValue(o, "no_such_option"), undefined);
  assert.equal(nsqdConfigValue(o, "node_id"), undefined); // the key is "id"
  assert.equal(nsqdConfigValue(o, "lookupd_tcp_address"), undefined);
  assert.equal(findOptionByKey(nsqdOptionTable, "max_msg_size")?.flag, "max-msg-size");
  // the rendered list is a copy
  (nsqdConfigValue(o, "nsqlookupd_tcp_addresses") as string[]).push("x");
  assert.deepEqual(o.nsqlookupdTcpAddresses, ["a:1"]);
});
