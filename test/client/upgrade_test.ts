/**
 * lib/client over nsqd's in-band upgrades: TLS (verified against the test CA, with and without
 * a client certificate, a wrong CA refused), snappy, deflate, TLS + snappy / deflate, AUTH, and
 * messages of 1 MB through each.
 */
import assert from "node:assert/strict";
import { Consumer, type Message, Producer } from "../../mod.ts";
import type { ClientConfig } from "../../mod.ts";
import type { NsqdOptions } from "../../lib/nsqd/options.ts";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";

const DIR = new URL("../_fixtures/certs/", import.meta.url);
const path = (name: string) => new URL(name, DIR).pathname;
const pem = (name: string) => Deno.readTextFileSync(new URL(name, DIR));
const TLS_NSQD: Partial<NsqdOptions> = {
  tlsCert: path("server.pem"),
  tlsKey: path("server.key"),
  tlsRootCaFile: path("ca.pem"),
};

/** Publishes small and 1 MB bodies with one config and consumes them with the same config. */
async function roundTrip(nsqdOpts: Partial<NsqdOptions>, config: Partial<ClientConfig>) {
  await using n = await startNsqd({ logLevel: "warn", ...nsqdOpts });
  const topic = uniqueName();
  const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) & 0xff);
  await using p = new Producer(n.tcpAddress, config);
  const bodies = Array.from({ length: 100 }, (_, i) => `msg-${i}-${"x".repeat(i * 10)}`);
  await p.multiPublish(topic, bodies);
  await p.publish(topic, big);
  const got: Message[] = [];
  const c = new Consumer(topic, "ch", { ...config, maxInFlight: 50 });
  c.addHandler((m) => {
    got.push(m);
  });
  await c.connectToNsqd(n.tcpAddress);
  await waitFor(() => got.length === 101, { message: `got ${got.length}` });
  await c.stop();
  const texts = got.filter((m) => m.body.length < 10_000).map((m) =>
    new TextDecoder().decode(m.body)
  );
  assert.deepEqual(texts.sort(), [...bodies].sort());
  const bigGot = got.find((m) => m.body.length === big.length);
  assert.ok(bigGot);
  assert.deepEqual(bigGot.body, big);
}

Deno.test("upgrade: TLS verified against the CA", async () => {
  await roundTrip(TLS_NSQD, { tlsV1: true, tlsConfig: { caCerts: [pem("ca.pem")] } });
});

Deno.test("upgrade: TLS with a client certificate under require-verify", async () => {
  await roundTrip({ ...TLS_NSQD, tlsClientAuthPolicy: "require-verify" }, {
    tlsV1: true,
    tlsConfig: { caCerts: [pem("ca.pem")], cert: pem("client.pem"), key: pem("client.key") },
  });
});

Deno.test("upgrade: TLS refuses an nsqd certificate from an unknown CA unless told to skip", async () => {
  await using n = await startNsqd({ logLevel: "warn", ...TLS_NSQD });
  const p = new Producer(n.tcpAddress, {
    tlsV1: true,
    tlsConfig: { caCerts: [pem("foreign.pem")] },
  });
  const err = await p.publish(uniqueName(), "x").then(() => null, (e) => e);
  assert.ok(err instanceof Error);
  assert.match(err.message, /failed to IDENTIFY - TLS handshake failed/);
  await p.stop();
  await using q = new Producer(n.tcpAddress, {
    tlsV1: true,
    tlsConfig: { insecureSkipVerify: true },
  });
  await q.publish(uniqueName(), "x");
});

Deno.test("upgrade: snappy", async () => {
  await roundTrip({}, { snappy: true });
});

Deno.test("upgrade: deflate", async () => {
  await roundTrip({}, { deflate: true, deflateLevel: 3 });
});

Deno.test("upgrade: TLS + snappy and TLS + deflate", async () => {
  const tls = { tlsV1: true, tlsConfig: { caCerts: [pem("ca.pem")] } };
  await roundTrip(TLS_NSQD, { ...tls, snappy: true });
  await roundTrip(TLS_NSQD, { ...tls, deflate: true });
});

Deno.test("upgrade: AUTH with auth_secret; without one the connection fails 'Auth Required'", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const secret = new URL(req.url).searchParams.get("secret");
    if (secret !== "s3cret") return new Response("no", { status: 403 });
    return Response.json({
      ttl: 3600,
      identity: "tester",
      identity_url: "http://id.example/tester",
      authorizations: [{ topic: ".*", channels: [".*"], permissions: ["subscribe", "publish"] }],
    });
  });
  try {
    await using n = await startNsqd({
      logLevel: "warn",
      authHttpAddresses: [`127.0.0.1:${server.addr.port}`],
    });
    const topic = uniqueName();
    await using p = new Producer(n.tcpAddress, { authSecret: "s3cret" });
    await p.publish(topic, "authorized");
    const anon = new Producer(n.tcpAddress);
    const err = await anon.publish(topic, "x").then(() => null, (e) => e);
    assert.match(String(err?.message), /Auth Required/);
    await anon.stop();
    const wrong = new Producer(n.tcpAddress, { authSecret: "wrong" });
    const denied = await wrong.publish(topic, "x").then(() => null, (e) => e);
    assert.match(String(denied?.message), /Error authenticating E_AUTH_FAILED/);
    await wrong.stop();
    const got: string[] = [];
    const c = new Consumer(topic, "ch", { authSecret: "s3cret" });
    c.addHandler((m) => {
      got.push(new TextDecoder().decode(m.body));
    });
    await c.connectToNsqd(n.tcpAddress);
    await waitFor(() => got.length === 1);
    assert.deepEqual(got, ["authorized"]);
    await c.stop();
  } finally {
    await server.shutdown();
  }
});
