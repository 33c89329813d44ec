/**
 * nsqd end to end over TLS (IDENTIFY `tls_v1`, docs/nsqd.md#tls): the in-band upgrade with
 * an independent node:tls client, PUB/SUB/RDY/FIN of small and 1 MB messages, --tls-required
 * (true and tcp-https), client-certificate policies, TLS fields in /stats, and HTTPS.
 */
import assert from "node:assert/strict";
import https from "node:https";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import {
  mixedBody,
  pubSubRoundTrip,
  type TlsClientOptions,
  UpgradeConn,
} from "../_util/upgrade_client.ts";
import { waitFor } from "../_util/wait.ts";
import { TLS_REQUIRED, TLS_REQUIRED_EXCEPT_HTTP } from "../../lib/nsqd/options.ts";
import type { NsqdOptions } from "../../lib/nsqd/options.ts";
import { encodeCommand } from "../_util/wire.ts";

const DIR = new URL("../_fixtures/certs/", import.meta.url);
const path = (name: string) => new URL(name, DIR).pathname;
const pem = (name: string) => Deno.readTextFileSync(new URL(name, DIR));
const CA = pem("ca.pem");
const CLIENT = { cert: pem("client.pem"), key: pem("client.key") };
const FOREIGN = { cert: pem("foreign.pem"), key: pem("foreign.key") };

/** nsqd options with the fixture server certificate and CA. */
function tlsOptions(extra: Partial<NsqdOptions> = {}): Partial<NsqdOptions> {
  return {
    tlsCert: path("server.pem"),
    tlsKey: path("server.key"),
    tlsRootCaFile: path("ca.pem"),
    ...extra,
  };
}

/** A connection that has negotiated TLS (verifying nsqd's certificate against the CA). */
async function tlsConn(s: TestNsqd, opts: TlsClientOptions = {}): Promise<UpgradeConn> {
  const c = await UpgradeConn.connect(s.tcpAddress);
  try {
    const resp = await c.negotiate({ tls_v1: true }, { ca: CA, ...opts });
    assert.equal(resp.tls_v1, true);
    return c;
  } catch (err) {
    await c.close();
    throw err;
  }
}

Deno.test("tls: IDENTIFY answers tls_v1 true only when nsqd has a certificate and it was asked", async () => {
  await using plain = await startNsqd();
  await using secure = await startNsqd(tlsOptions());
  const topic = uniqueName("tls");
  const cases: [TestNsqd, Record<string, unknown>, boolean][] = [
    [plain, { tls_v1: true }, false],
    [secure, {}, false],
    [secure, { tls_v1: false }, false],
    [secure, { tls_v1: true }, true],
  ];
  for (const [s, fields, want] of cases) {
    await using c = await UpgradeConn.connect(s.tcpAddress);
    const resp = await c.negotiate(fields, { ca: CA });
    assert.equal(resp.tls_v1, want, JSON.stringify(fields));
    // Upgraded or not, the connection carries commands (in the clear when tls_v1 was false).
    await c.pub(topic, "x");
    await c.expectResponse("OK");
    assert.equal(c.tlsSocket !== null, want);
  }
  // Without feature negotiation the answer is a plain OK and nothing is upgraded.
  await using c = await UpgradeConn.connect(secure.tcpAddress);
  await c.identify({ tls_v1: true });
  await c.expectResponse("OK");
  await c.pub(topic, "x");
  await c.expectResponse("OK");
});

Deno.test("tls: PUB, SUB, RDY, FIN of a 10 B and a 1 MB message over TLS", async () => {
  await using s = await startNsqd(tlsOptions());
  const topic = uniqueName("tls");
  await using pub = await tlsConn(s);
  await using sub = await tlsConn(s);
  assert.match(pub.tlsSocket!.getProtocol() ?? "", /^TLSv1\.[23]$/);
  const bodies = [encodeUtf8("0123456789"), mixedBody(1024 * 1024)];
  await pubSubRoundTrip(pub, sub, topic, "ch", bodies);
  const ch = s.nsqd.getTopic(topic).getChannel("ch");
  await waitFor(() => ch.inFlightCount === 0 && ch.depth === 0, { message: "FINs processed" });
  assert.equal(ch.messageCount, 2);
  // MPUB through TLS, many frames in one flush.
  const many = Array.from({ length: 50 }, (_, i) => encodeUtf8(`m${i}`));
  await pub.mpub(topic, many);
  await pub.expectResponse("OK");
  await sub.rdy(50);
  for (let i = 0; i < 50; i++) {
    const m = await sub.expectMessage();
    assert.equal(new TextDecoder().decode(m.body), `m${i}`);
    await sub.fin(m.id);
  }
  await waitFor(() => ch.inFlightCount === 0, { message: "MPUB FINs processed" });
});

Deno.test("tls: a TLS 1.2 client is served too", async () => {
  await using s = await startNsqd(tlsOptions());
  await using c = await tlsConn(s, { maxVersion: "TLSv1.2" });
  assert.equal(c.tlsSocket!.getProtocol(), "TLSv1.2");
  await c.pub(uniqueName("tls"), "hello");
  await c.expectResponse("OK");
  const client = [...s.nsqd.clients.values()][0];
  assert.equal(client.tls?.version, "TLS1.2");
});

Deno.test("tls: --tls-min-version=tls1.3 refuses a TLS 1.2 client", async () => {
  await using s = await startNsqd(tlsOptions({ tlsMinVersion: "tls1.3" }));
  await using c = await UpgradeConn.connect(s.tcpAddress);
  await c.identify({ feature_negotiation: true, tls_v1: true });
  assert.equal(JSON.parse((await c.readFrame()).text).tls_v1, true);
  await assert.rejects(c.startTls({ ca: CA, maxVersion: "TLSv1.2" }));
  await waitFor(() => s.nsqd.clients.size === 0, { message: "refused client gone" });
  await using ok = await tlsConn(s);
  assert.equal(ok.tlsSocket!.getProtocol(), "TLSv1.3");
});

Deno.test("tls: bytes that are no ClientHello close the connection; nsqd keeps serving", async () => {
  await using s = await startNsqd(tlsOptions());
  await using c = await UpgradeConn.connect(s.tcpAddress);
  await c.identify({ feature_negotiation: true, tls_v1: true });
  assert.equal(JSON.parse((await c.readFrame()).text).tls_v1, true);
  await c.send(encodeCommand("PUB", ["t"], "not a ClientHello"));
  await c.expectClosed();
  await waitFor(() => s.nsqd.clients.size === 0, { message: "client gone" });
  await using ok = await tlsConn(s);
  await ok.pub(uniqueName("tls"), "x");
  await ok.expectResponse("OK");
});

Deno.test("tls: --tls-required=true refuses every command but IDENTIFY until the upgrade", async () => {
  await using s = await startNsqd(tlsOptions({ tlsRequired: TLS_REQUIRED }));
  const topic = uniqueName("tls");
  const commands: [string, Uint8Array][] = [
    ["PUB", encodeCommand("PUB", [topic], "x")],
    ["MPUB", encodeCommand("MPUB", [topic], new Uint8Array([0, 0, 0, 1, 0, 0, 0, 1, 120]))],
    ["DPUB", encodeCommand("DPUB", [topic, "10"], "x")],
    ["SUB", encodeCommand("SUB", [topic, "ch"])],
    ["RDY", encodeCommand("RDY", ["1"])],
    ["FIN", encodeCommand("FIN", ["0123456789abcdef"])],
    ["REQ", encodeCommand("REQ", ["0123456789abcdef", "0"])],
    ["TOUCH", encodeCommand("TOUCH", ["0123456789abcdef"])],
    ["NOP", encodeCommand("NOP")],
    ["CLS", encodeCommand("CLS")],
    ["AUTH", encodeCommand("AUTH", [], "secret")],
    ["FOO", encodeCommand("FOO")],
  ];
  for (const [name, bytes] of commands) {
    // Straight after the magic, and after an IDENTIFY that did not ask for TLS.
    for (const identifyFirst of [false, true]) {
      await using c = await UpgradeConn.connect(s.tcpAddress);
      if (identifyFirst) {
        const resp = await c.negotiate({});
        assert.equal(resp.tls_v1, false);
      }
      await c.send(bytes);
      await c.expectError(`E_INVALID cannot ${name} in current state (TLS required)`);
      await c.expectClosed();
    }
  }
  // After the upgrade the same commands work.
  await using pub = await tlsConn(s);
  await using sub = await tlsConn(s);
  await pubSubRoundTrip(pub, sub, topic, "ch", [encodeUtf8("after tls")]);
});

Deno.test("tls: --tls-required=tcp-https requires TLS on TCP; plain HTTP still answers", async () => {
  await using s = await startNsqd(
    tlsOptions({ tlsRequired: TLS_REQUIRED_EXCEPT_HTTP, httpAddress: "127.0.0.1:0" }),
  );
  const topic = uniqueName("tls");
  await using c = await UpgradeConn.connect(s.tcpAddress);
  await c.pub(topic, "x");
  await c.expectError("E_INVALID cannot PUB in current state (TLS required)");
  await c.expectClosed();
  await using t = await tlsConn(s);
  await t.pub(topic, "x");
  await t.expectResponse("OK");
  const res = await fetch(`http://${s.httpAddress}/ping`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "OK");
});

Deno.test("tls: --tls-required=true makes plain HTTP answer 403 TLS_REQUIRED; HTTPS serves", async () => {
  await using s = await startNsqd(
    tlsOptions({
      tlsRequired: TLS_REQUIRED,
      httpAddress: "127.0.0.1:0",
      httpsAddress: "127.0.0.1:0",
    }),
  );
  const res = await fetch(`http://${s.httpAddress}/ping`);
  assert.equal(res.status, 403);
  const httpsPort = Number(s.nsqd.httpsAddress.slice(s.nsqd.httpsAddress.lastIndexOf(":") + 1));
  assert.deepEqual(await res.json(), { message: "TLS_REQUIRED", https_port: httpsPort });
  using client = Deno.createHttpClient({ caCerts: [CA] });
  const ok = await fetch(`https://${s.nsqd.httpsAddress}/ping`, { client });
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), "OK");
});

Deno.test("tls: HTTPS /ping verifies against the CA; without it the certificate is refused", async () => {
  await using s = await startNsqd(tlsOptions({ httpsAddress: "127.0.0.1:0" }));
  assert.match(s.nsqd.httpsAddress, /^127\.0\.0\.1:\d+$/);
  const port = s.nsqd.httpsAddress.slice(s.nsqd.httpsAddress.lastIndexOf(":") + 1);
  using client = Deno.createHttpClient({ caCerts: [CA] });
  for (const host of ["127.0.0.1", "localhost"]) {
    const res = await fetch(`https://${host}:${port}/ping`, { client });
    assert.equal(res.status, 200, host);
    assert.equal(await res.text(), "OK");
  }
  await assert.rejects(fetch(`https://127.0.0.1:${port}/ping`), TypeError);
});

/** GET `path` over HTTPS with node:https (client certificate and TLS version selectable). */
function httpsGet(
  addr: string,
  path: string,
  opts: { cert?: string; key?: string; maxVersion?: "TLSv1.2" | "TLSv1.3" } = {},
): Promise<string> {
  const i = addr.lastIndexOf(":");
  return new Promise((resolve) => {
    const req = https.get({
      host: addr.slice(0, i),
      port: Number(addr.slice(i + 1)),
      path,
      servername: "localhost",
      ca: CA,
      agent: false,
      ...opts,
    }, (res) => {
      let body = "";
      res.on("data", (d) => body += d);
      res.on("end", () => resolve(`${res.statusCode} ${body}`));
      res.on("error", (err) => resolve(`error ${err.message}`));
    });
    req.on("error", (err) => resolve(`error ${err.message}`));
  });
}

// nsqd serves HTTPS with the same tls.Config as the TCP upgrade (`tls.Listen("tcp",
// opts.HTTPSAddress, n.tlsConfig)`: ClientAuth, ClientCAs, MinVersion).
Deno.test({
  name: "tls: HTTPS applies --tls-client-auth-policy and --tls-min-version like TCP",
  fn: async () => {
    await using s = await startNsqd(
      tlsOptions({
        tlsClientAuthPolicy: "require-verify",
        tlsRequired: TLS_REQUIRED,
        tlsMinVersion: "tls1.3",
        httpsAddress: "127.0.0.1:0",
      }),
    );
    const addr = s.nsqd.httpsAddress;
    assert.equal(await httpsGet(addr, "/ping", CLIENT), "200 OK");
    assert.match(await httpsGet(addr, "/ping"), /^error /, "no client certificate");
    assert.match(await httpsGet(addr, "/ping", FOREIGN), /^error /, "foreign certificate");
    assert.match(
      await httpsGet(addr, "/ping", { ...CLIENT, maxVersion: "TLSv1.2" }),
      /^error /,
      "TLS 1.2 under tls1.3",
    );
  },
});

/** Connects, asks for TLS and offers `cert`; resolves whether nsqd confirmed with OK. */
async function offerCert(
  s: TestNsqd,
  cert: { cert: string; key: string } | null,
  maxVersion: "TLSv1.3" | "TLSv1.2",
): Promise<"accepted" | "refused"> {
  await using c = await UpgradeConn.connect(s.tcpAddress);
  await c.identify({ feature_negotiation: true, tls_v1: true });
  const resp = JSON.parse((await c.readFrame()).text);
  assert.equal(resp.tls_v1, true);
  try {
    await c.startTls({ ca: CA, maxVersion, ...(cert ?? {}) });
  } catch {
    // TLS 1.2: the server's refusal can surface during the client's handshake.
    await waitFor(() => s.nsqd.clients.size === 0, { message: "refused client gone" });
    return "refused";
  }
  try {
    await c.expectResponse("OK");
  } catch {
    // TLS 1.3: the client finishes first; nsqd then closes without an OK.
    await c.expectClosed();
    await waitFor(() => s.nsqd.clients.size === 0, { message: "refused client gone" });
    return "refused";
  }
  await c.pub(uniqueName("tls"), "x");
  await c.expectResponse("OK");
  return "accepted";
}

Deno.test("tls: --tls-client-auth-policy=require-verify accepts only CA-signed client certs", async () => {
  await using s = await startNsqd(
    tlsOptions({ tlsClientAuthPolicy: "require-verify", tlsRequired: TLS_REQUIRED }),
  );
  for (const v of ["TLSv1.3", "TLSv1.2"] as const) {
    assert.equal(await offerCert(s, CLIENT, v), "accepted", `CA-signed ${v}`);
    assert.equal(await offerCert(s, null, v), "refused", `no cert ${v}`);
    assert.equal(await offerCert(s, FOREIGN, v), "refused", `foreign cert ${v}`);
  }
  assert.ok(s.logs.some((l) => l.includes("didn't provide a certificate")), "logged why");
  assert.ok(s.logs.some((l) => l.includes("unknown authority")), "logged why");
});

Deno.test("tls: --tls-client-auth-policy=require wants some client cert, verified or not", async () => {
  // Go's tls.RequireAnyClientCert: a certificate must be sent but is not verified, so the
  // self-signed foreign certificate is accepted (docs/nsqd.md#tls).
  await using s = await startNsqd(
    tlsOptions({ tlsClientAuthPolicy: "require", tlsRequired: TLS_REQUIRED }),
  );
  for (const v of ["TLSv1.3", "TLSv1.2"] as const) {
    assert.equal(await offerCert(s, CLIENT, v), "accepted", `CA-signed ${v}`);
    assert.equal(await offerCert(s, FOREIGN, v), "accepted", `foreign cert ${v}`);
    assert.equal(await offerCert(s, null, v), "refused", `no cert ${v}`);
  }
});

interface ClientStatsJson {
  client_id: string;
  remote_address: string;
  tls: boolean;
  tls_version: string;
  tls_cipher_suite: string;
  tls_negotiated_protocol: string;
  tls_negotiated_protocol_is_mutual: boolean;
  snappy: boolean;
  deflate: boolean;
}

Deno.test("tls: /stats shows the TLS state of consumers and producers", async () => {
  await using s = await startNsqd(tlsOptions({ httpAddress: "127.0.0.1:0" }));
  const topic = uniqueName("tls");
  await using sub = await tlsConn(s, CLIENT);
  await using pub = await tlsConn(s, { maxVersion: "TLSv1.2" });
  await using plain = await UpgradeConn.connect(s.tcpAddress);
  await plain.negotiate({});
  await sub.sub(topic, "ch");
  await sub.expectResponse("OK");
  await plain.sub(topic, "ch");
  await plain.expectResponse("OK");
  await pub.pub(topic, "x");
  await pub.expectResponse("OK");
  const res = await fetch(`http://${s.httpAddress}/stats?format=json&topic=${topic}`);
  const stats = await res.json();
  const clients: ClientStatsJson[] = stats.topics[0].channels[0].clients;
  const byAddr = (addr: string) => clients.find((c) => c.remote_address === addr);
  const tlsClient = byAddr(sub.localAddr)!;
  assert.equal(tlsClient.tls, true);
  assert.equal(tlsClient.tls_version, "TLS1.3");
  assert.match(tlsClient.tls_cipher_suite, /^TLS_(AES_\d+_GCM_SHA\d+|CHACHA20_POLY1305_SHA256)$/);
  assert.equal(tlsClient.tls_negotiated_protocol, "");
  assert.equal(tlsClient.tls_negotiated_protocol_is_mutual, true);
  assert.equal(tlsClient.snappy, false);
  assert.equal(tlsClient.deflate, false);
  const plainClient = byAddr(plain.localAddr)!;
  assert.equal(plainClient.tls, false);
  assert.equal(plainClient.tls_version, "");
  assert.equal(plainClient.tls_cipher_suite, "");
  const producer: ClientStatsJson = stats.producers.find((c: ClientStatsJson) =>
    c.remote_address === pub.localAddr
  );
  assert.equal(producer.tls, true);
  assert.equal(producer.tls_version, "TLS1.2");
  assert.match(producer.tls_cipher_suite, /^TLS_ECDHE_RSA_WITH_[A-Z0-9_]+$/);
});

function encodeUtf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
