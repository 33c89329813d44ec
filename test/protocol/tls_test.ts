import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { DeflateTransport, SnappyTransport } from "../../lib/protocol/compress.ts";
import {
  loadTlsConfig,
  type TlsClientAuthPolicy,
  type TlsTransport,
  type TlsUpgradeOptions,
  upgradeTlsServer,
} from "../../lib/protocol/tls.ts";
import { type Transport, writeAll } from "../../lib/protocol/transport.ts";
import { messageBytes, randomBytes, readN, tcpPair } from "./_helpers.ts";

const DIR = new URL("../_fixtures/certs/", import.meta.url);
const pem = (name: string) => Deno.readTextFileSync(new URL(name, DIR));
const CA = pem("ca.pem");
const CERT = pem("server.pem");
const KEY = pem("server.key");
const KEY_PKCS1 = pem("server-pkcs1.key");
const CLIENT = { cert: pem("client.pem"), key: pem("client.key") };
const FOREIGN = { cert: pem("foreign.pem"), key: pem("foreign.key") };

const text = (s: string) => new TextEncoder().encode(s);
const str = (p: Uint8Array) => new TextDecoder().decode(p);

function serverOpts(extra: Partial<TlsUpgradeOptions> = {}): TlsUpgradeOptions {
  return { cert: CERT, key: KEY, clientAuthPolicy: "", minVersion: "tls1.0", ...extra };
}

/** Sends `data` one way and `back` the other, concurrently, in 16 KB writes. */
async function exchange(a: Transport, b: Transport, data: Uint8Array, back: Uint8Array) {
  const send = async (t: Transport, p: Uint8Array) => {
    for (let i = 0; i < p.length; i += 16384) await writeAll(t, p.subarray(i, i + 16384));
  };
  const [gotAtB, gotAtA] = await Promise.all([
    readN(b, data.length, 5000),
    readN(a, back.length, 70000),
    send(a, data),
    send(b, back),
  ]);
  assert.deepEqual(gotAtB, data);
  assert.deepEqual(gotAtA, back);
}

/**
 * IDENTIFY-like prologue on a fresh loopback pair, then a TLS upgrade with a Deno client. The
 * server reads part of the ClientHello before upgrading, to exercise `initial`.
 */
async function upgradedPair(
  extra: Partial<TlsUpgradeOptions> = {},
): Promise<[TlsTransport, Deno.TlsConn]> {
  const [server, client] = await tcpPair();
  await writeAll(client, text("IDENTIFY\n"));
  assert.equal(str(await readN(server, 9)), "IDENTIFY\n");
  await writeAll(server, text("OK\n"));
  assert.equal(str(await readN(client, 3)), "OK\n");
  const clientTls = Deno.startTls(client, { hostname: "localhost", caCerts: [CA] });
  const head = new Uint8Array(7);
  const n = await server.read(head);
  assert.ok(n !== null && n > 0);
  const serverTls = await upgradeTlsServer(
    server,
    serverOpts({ initial: head.subarray(0, n), ...extra }),
  );
  return [serverTls, await clientTls];
}

Deno.test("tls: upgrade mid-connection, initial bytes, data both ways", async () => {
  const [s, c] = await upgradedPair();
  assert.equal(s.state.version, "TLS1.3");
  assert.match(s.state.cipherSuite, /^TLS_(AES_\d+_GCM_SHA\d+|CHACHA20_POLY1305_SHA256)$/);
  assert.equal(s.state.peerCommonName, "");
  assert.equal(s.state.negotiatedProtocol, "");
  assert.equal(s.state.negotiatedProtocolIsMutual, true);
  await writeAll(s, text("OK"));
  assert.equal(str(await readN(c, 2)), "OK");
  await exchange(s, c, messageBytes(1 << 20), randomBytes(300_000));
  c.close();
  assert.equal(await s.read(new Uint8Array(10)), null);
  s.close();
  s.close();
});

/** A loopback pair whose client side is a node:net socket (for node:tls client options). */
async function nodeClientPair(): Promise<[Deno.TcpConn, net.Socket]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const accepted = listener.accept();
    const sock = net.connect({ host: "127.0.0.1", port: listener.addr.port });
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("error", reject);
    });
    return [await accepted, sock];
  } finally {
    listener.close();
  }
}

interface NodeClientResult {
  server: PromiseSettledResult<TlsTransport>;
  client: tls.TLSSocket;
  /** Resolves once the client socket has closed. */
  closed: Promise<void>;
}

/** Plaintext prologue, then a node:tls client handshake against upgradeTlsServer. */
async function nodeClientUpgrade(
  server: Partial<TlsUpgradeOptions>,
  client: tls.ConnectionOptions,
): Promise<NodeClientResult> {
  const [conn, sock] = await nodeClientPair();
  sock.write("  V2");
  assert.equal(str(await readN(conn, 4)), "  V2");
  const c = tls.connect({ socket: sock, servername: "localhost", ca: CA, ...client });
  c.on("error", () => {});
  const closed = new Promise<void>((resolve) => c.once("close", () => resolve()));
  const [result] = await Promise.allSettled([upgradeTlsServer(conn, serverOpts(server))]);
  return { server: result, client: c, closed };
}

async function finish(r: NodeClientResult) {
  if (r.server.status === "fulfilled") r.server.value.close();
  r.client.destroy();
  await r.closed;
}

Deno.test("tls: TLS 1.2 with a PKCS#1 key; state names follow Go", async () => {
  const r = await nodeClientUpgrade(
    { key: KEY_PKCS1, minVersion: "tls1.2" },
    { maxVersion: "TLSv1.2" },
  );
  assert.equal(r.server.status, "fulfilled");
  const s = (r.server as PromiseFulfilledResult<TlsTransport>).value;
  assert.equal(s.state.version, "TLS1.2");
  assert.match(s.state.cipherSuite, /^TLS_ECDHE_RSA_WITH_[A-Z0-9_]+$/);
  // Data flows through the node client too.
  const got = new Promise<string>((resolve) => r.client.once("data", (d) => resolve(String(d))));
  await writeAll(s, text("hello client"));
  assert.equal(await got, "hello client");
  r.client.write("hello server");
  assert.equal(str(await readN(s, 12)), "hello server");
  await finish(r);
});

Deno.test("tls: a minimum version above the client's maximum fails the handshake", async () => {
  const r = await nodeClientUpgrade({ minVersion: "tls1.3" }, { maxVersion: "TLSv1.2" });
  assert.equal(r.server.status, "rejected");
  assert.match(String((r.server as PromiseRejectedResult).reason), /TLS handshake failed/);
  await finish(r);
});

Deno.test("tls: client certificate policies", async () => {
  const cases: [TlsClientAuthPolicy, { cert: string; key: string } | null, RegExp | string][] = [
    ["require-verify", CLIENT, "test-client"],
    ["require-verify", null, /didn't provide a certificate/],
    ["require-verify", FOREIGN, /unknown authority/],
    ["require", FOREIGN, "foreign-client"],
    ["require", CLIENT, "test-client"],
    ["require", null, /didn't provide a certificate/],
    ["", CLIENT, ""],
  ];
  for (const [policy, cert, expect] of cases) {
    for (const maxVersion of ["TLSv1.3", "TLSv1.2"] as const) {
      const name = `${policy || "none"} / ${cert === CLIENT ? "client" : cert ? "foreign" : "no"}` +
        ` cert / ${maxVersion}`;
      const r = await nodeClientUpgrade(
        { clientAuthPolicy: policy, ca: CA },
        { maxVersion, ...(cert ?? {}) },
      );
      if (typeof expect === "string") {
        assert.equal(
          r.server.status,
          "fulfilled",
          `${name}: ${String((r.server as PromiseRejectedResult).reason)}`,
        );
        const s = (r.server as PromiseFulfilledResult<TlsTransport>).value;
        assert.equal(s.state.peerCommonName, expect, name);
      } else {
        assert.equal(r.server.status, "rejected", name);
        assert.match(String((r.server as PromiseRejectedResult).reason), expect, name);
      }
      await finish(r);
    }
  }
});

Deno.test("tls: handshake timeout and garbage close the connection", async () => {
  const [server, client] = await tcpPair();
  await assert.rejects(
    upgradeTlsServer(server, serverOpts({ handshakeTimeoutMs: 100 })),
    /timed out after 100ms/,
  );
  assert.equal(await client.read(new Uint8Array(10)), null);
  client.close();

  const [server2, client2] = await tcpPair();
  await writeAll(client2, text("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  await assert.rejects(upgradeTlsServer(server2, serverOpts()), /TLS handshake failed/);
  // The server side is closed: the client sees the end (possibly after a TLS alert).
  while ((await client2.read(new Uint8Array(100))) !== null);
  client2.close();

  const [server3, client3] = await tcpPair();
  client3.close();
  await assert.rejects(upgradeTlsServer(server3, serverOpts()), /TLS handshake failed/);

  // A bad key rejects (rather than throws) and closes the connection too.
  const [server4, client4] = await tcpPair();
  await assert.rejects(upgradeTlsServer(server4, serverOpts({ key: "not a key" })));
  assert.equal(await client4.read(new Uint8Array(10)), null);
  client4.close();
});

Deno.test("tls: snappy and deflate stacked on TLS", async () => {
  for (
    const wrap of [
      (t: Transport) => new SnappyTransport(t),
      (t: Transport) => new DeflateTransport(t),
    ]
  ) {
    const [s, c] = await upgradedPair();
    // nsqd sends OK over TLS, then switches to compression and sends OK again, compressed.
    await writeAll(s, text("OK"));
    assert.equal(str(await readN(c, 2)), "OK");
    const sz = wrap(s);
    const cz = wrap(c);
    await writeAll(sz, text("OK"));
    assert.equal(str(await readN(cz, 2)), "OK");
    await exchange(sz, cz, messageBytes(600_000), randomBytes(100_000));
    cz.close();
    assert.equal(await sz.read(new Uint8Array(10)), null);
    sz.close();
  }
});

Deno.test("loadTlsConfig: PKCS#8 and PKCS#1 keys, CA file, clear errors", async () => {
  const path = (name: string) => new URL(name, DIR).pathname;
  const cfg = await loadTlsConfig(path("server.pem"), path("server.key"), path("ca.pem"));
  assert.equal(cfg.cert, CERT);
  assert.equal(cfg.key, KEY);
  assert.equal(cfg.ca, CA);
  const cfg1 = await loadTlsConfig(path("server.pem"), path("server-pkcs1.key"));
  assert.equal(cfg1.key, KEY_PKCS1);
  assert.equal(cfg1.ca, undefined);

  await assert.rejects(
    loadTlsConfig(path("missing.pem"), path("server.key")),
    /Failed to read TLS certificate .*missing\.pem/,
  );
  await assert.rejects(
    loadTlsConfig(path("server.pem"), path("client.key")),
    /TLS key .*client\.key does not match certificate .*server\.pem/,
  );
  await assert.rejects(
    loadTlsConfig(path("server.key"), path("server.key")),
    /TLS certificate .*server\.key holds no PEM CERTIFICATE block/,
  );
  await assert.rejects(
    loadTlsConfig(path("server.pem"), path("server.pem")),
    /TLS key .*server\.pem holds no PEM private key/,
  );
  await assert.rejects(
    loadTlsConfig(path("server.pem"), path("server.key"), path("server.key")),
    /TLS root CA file .*server\.key holds no PEM CERTIFICATE block/,
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/bad.pem`,
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    await assert.rejects(loadTlsConfig(`${dir}/bad.pem`, path("server.key")), /is invalid/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
