import assert from "node:assert/strict";
import { parseNsqlookupdArgs } from "../../lib/cli/nsqlookupd.ts";
import {
  defaultNsqlookupdOptions,
  nsqlookupdConfigValue,
  nsqlookupdOptionTable,
} from "../../lib/nsqlookupd/options.ts";
import { versionLine } from "../../lib/version.ts";

Deno.test("nsqlookupd table: Go nsqlookupd 1.3's flags, keys and defaults", () => {
  const expected: Record<string, [string, unknown]> = {
    "tcp-address": ["tcp_address", "0.0.0.0:4160"],
    "http-address": ["http_address", "0.0.0.0:4161"],
    "broadcast-address": ["broadcast_address", defaultNsqlookupdOptions().broadcastAddress],
    "inactive-producer-timeout": ["inactive_producer_timeout", 300_000],
    "tombstone-lifetime": ["tombstone_lifetime", 45_000],
    "log-level": ["log_level", "info"],
    "log-prefix": ["log_prefix", "[nsqlookupd] "],
  };
  assert.deepEqual(nsqlookupdOptionTable.map((o) => o.flag).sort(), Object.keys(expected).sort());
  const defaults = defaultNsqlookupdOptions();
  for (const spec of nsqlookupdOptionTable) {
    assert.equal(spec.key, expected[spec.flag][0]);
    assert.deepEqual(defaults[spec.field], expected[spec.flag][1]);
  }
});

Deno.test("nsqlookupd flags: parse, errors, version, help", () => {
  const r = parseNsqlookupdArgs([
    "--tcp-address=127.0.0.1:0",
    "-http-address",
    "127.0.0.1:0",
    "--inactive-producer-timeout=1m",
    "--tombstone-lifetime",
    "10s",
    "--log-level=error",
    "--verbose",
  ]);
  if (r.kind !== "run") assert.fail(r.stderr);
  assert.equal(r.options.tcpAddress, "127.0.0.1:0");
  assert.equal(r.options.httpAddress, "127.0.0.1:0");
  assert.equal(r.options.inactiveProducerTimeout, 60_000);
  assert.equal(r.options.tombstoneLifetime, 10_000);
  assert.equal(r.options.logLevel, "error");
  assert.equal(nsqlookupdConfigValue(r.options, "tombstone_lifetime"), 10_000_000_000);
  assert.equal(nsqlookupdConfigValue(r.options, "log_level"), 4);
  assert.equal(nsqlookupdConfigValue(r.options, "mem_queue_size"), undefined);

  const bad = parseNsqlookupdArgs(["--tombstone-lifetime=forever"]);
  assert.ok(bad.kind === "exit");
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr,
    'invalid value "forever" for flag -tombstone-lifetime: parse error\n' +
      "Run 'nsq nsqlookupd -h' for usage.\n",
  );
  const nsqdOnly = parseNsqlookupdArgs(["--mem-queue-size=1"]);
  assert.ok(nsqdOnly.kind === "exit" && nsqdOnly.code === 2);
  assert.match(nsqdOnly.stderr, /flag provided but not defined: -mem-queue-size/);
  const worker = parseNsqlookupdArgs(["--worker-id"]); // nsqd only
  assert.ok(worker.kind === "exit" && worker.code === 2);

  const v = parseNsqlookupdArgs(["--version"]);
  assert.ok(v.kind === "exit");
  assert.deepEqual([v.code, v.stdout], [0, versionLine("nsqlookupd") + "\n"]);

  const h = parseNsqlookupdArgs(["-h"]);
  assert.ok(h.kind === "exit" && h.code === 0);
  assert.ok(h.stdout.startsWith("Usage: nsq nsqlookupd [flags]\n"));
  assert.ok(h.stdout.includes(
    "  -inactive-producer-timeout duration\n    \tduration of time a producer will remain in the active list since its last ping (default 5m0s)",
  ));
  assert.ok(h.stdout.includes("(default 45s)"));
  assert.ok(
    h.stdout.includes(
      '  -tcp-address string\n    \t<addr>:<port> to listen on for TCP clients (default "0.0.0.0:4160")',
    ),
  );
  for (const spec of nsqlookupdOptionTable) assert.ok(h.stdout.includes(`  -${spec.flag} `));
});
