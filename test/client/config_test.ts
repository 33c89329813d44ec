/**
 * lib/client config: go-nsq 1.1's defaults, `--consumer-opt` / `--producer-opt` strings
 * (`key,value`, bare `key` = true, `-` read as `_`), go-nsq's bounds and error texts, TLS file
 * options, and resolveConfig's validation.
 */
import assert from "node:assert/strict";
import {
  applyOpt,
  Consumer,
  defaultClientConfig,
  parseOptString,
  Producer,
  resolveConfig,
} from "../../mod.ts";

Deno.test("config: go-nsq 1.1 defaults", () => {
  const c = defaultClientConfig();
  assert.equal(c.dialTimeout, 1000);
  assert.equal(c.readTimeout, 60_000);
  assert.equal(c.writeTimeout, 1000);
  assert.equal(c.lookupdPollInterval, 60_000);
  assert.equal(c.lookupdPollJitter, 0.3);
  assert.equal(c.maxRequeueDelay, 15 * 60_000);
  assert.equal(c.defaultRequeueDelay, 90_000);
  assert.equal(c.backoffStrategy, "exponential");
  assert.equal(c.maxBackoffDuration, 120_000);
  assert.equal(c.backoffMultiplier, 1000);
  assert.equal(c.maxAttempts, 5);
  assert.equal(c.lowRdyIdleTimeout, 10_000);
  assert.equal(c.lowRdyTimeout, 30_000);
  assert.equal(c.rdyRedistributeInterval, 5000);
  assert.equal(c.heartbeatInterval, 30_000);
  assert.equal(c.deflateLevel, 6);
  assert.equal(c.outputBufferSize, 16384);
  assert.equal(c.outputBufferTimeout, 250);
  assert.equal(c.maxInFlight, 1);
  assert.equal(c.hostname, Deno.hostname());
  assert.equal(c.clientId, Deno.hostname().split(".")[0]);
  assert.match(c.userAgent, /^nsq-deno\//);
});

Deno.test("config: applyOpt takes go-nsq's option strings", () => {
  const c = defaultClientConfig();
  applyOpt(c, "max_in_flight,100");
  applyOpt(c, "snappy");
  applyOpt(c, "deflate,false");
  applyOpt(c, "read-timeout,30s");
  applyOpt(c, "lookupd_poll_jitter,0.5");
  applyOpt(c, "backoff_strategy,full_jitter");
  applyOpt(c, "user_agent,a,b"); // only the first comma splits
  applyOpt(c, "heartbeat_interval,-1ms");
  applyOpt(c, "tls_v1,true");
  applyOpt(c, "tls_min_version,tls1.2");
  applyOpt(c, "tls_insecure_skip_verify,true");
  assert.equal(c.maxInFlight, 100);
  assert.equal(c.snappy, true);
  assert.equal(c.deflate, false);
  assert.equal(c.readTimeout, 30_000);
  assert.equal(c.lookupdPollJitter, 0.5);
  assert.equal(c.backoffStrategy, "full_jitter");
  assert.equal(c.userAgent, "a,b");
  assert.equal(c.tlsV1, true);
  assert.deepEqual(c.tlsConfig, { minVersion: "tls1.2", insecureSkipVerify: true });
  assert.deepEqual(parseOptString("snappy"), { key: "snappy", value: true });
  assert.deepEqual(parseOptString("k,v,w"), { key: "k", value: "v,w" });
});

Deno.test("config: applyOpt errors name the option (go-nsq's texts)", () => {
  const c = defaultClientConfig();
  const bad: [string, RegExp][] = [
    ["nope,1", /^invalid option nope$/],
    ["max_in_flight,-1", /^invalid max_in_flight ! -1 < 0$/],
    ["max_in_flight,lots", /^failed to coerce option max_in_flight \(lots\)/],
    ["read_timeout,10ms", /^invalid read_timeout ! 10ms < 100ms$/],
    ["read_timeout,10", /^failed to coerce option read_timeout \(10\)/],
    ["lookupd_poll_jitter,2", /^invalid lookupd_poll_jitter ! 2 > 1$/],
    ["deflate_level,10", /^invalid deflate_level ! 10 > 9$/],
    ["snappy,maybe", /^failed to coerce option snappy \(maybe\)/],
    ["backoff_strategy,linear", /^failed to coerce option backoff_strategy \(linear\)/],
    ["tls_min_version,tls9", /tls9 is not a tls version/],
    ["tls_root_ca_file,/nonexistent/ca.pem", /nonexistent/],
  ];
  for (const [opt, re] of bad) {
    assert.throws(
      () => applyOpt(c, opt),
      (e: Error) => e instanceof TypeError && re.test(e.message),
      opt,
    );
  }
});

Deno.test("config: TLS files load through applyOpt", () => {
  const dir = new URL("../_fixtures/certs/", import.meta.url);
  const c = defaultClientConfig();
  applyOpt(c, `tls_root_ca_file,${new URL("ca.pem", dir).pathname}`);
  applyOpt(c, `tls_cert,${new URL("client.pem", dir).pathname}`);
  applyOpt(c, `tls_key,${new URL("client.key", dir).pathname}`);
  assert.match(c.tlsConfig!.caCerts![0], /BEGIN CERTIFICATE/);
  assert.match(c.tlsConfig!.cert!, /BEGIN CERTIFICATE/);
  assert.match(c.tlsConfig!.key!, /PRIVATE KEY/);
});

Deno.test("config: constructors validate the config and names", async () => {
  assert.throws(() => resolveConfig({ maxInFlight: -1 }), /invalid max_in_flight ! -1 < 0/);
  assert.throws(() => new Producer("127.0.0.1:4150", { writeTimeout: 1 }), /write_timeout/);
  assert.throws(() => new Consumer("bad topic", "c"), /invalid topic name/);
  assert.throws(() => new Consumer("t", "bad/ch"), /invalid channel name/);
  const c = new Consumer("t", "c#ephemeral", { maxInFlight: 7 });
  assert.equal(c.maxInFlight, 7);
  await assert.rejects(() => c.connectToNsqd("127.0.0.1:1"), /no handlers/);
});
