/**
 * nsqd against a real third-party client, npm:nsqjs 0.13, with its `tls`, `snappy` and
 * `deflate` options (node:tls, npm:snappystream, node:zlib under Deno): a Writer publishes (PUB
 * and MPUB), a Reader consumes and FINs, nsqd's client list shows what was negotiated, and both
 * close cleanly (each close waits for nsqjs's close event so nothing outlives a test).
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { once } from "node:events";
import nsq from "nsqjs";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";
import type { NsqdOptions } from "../../lib/nsqd/options.ts";
import { TLS_REQUIRED } from "../../lib/nsqd/options.ts";

const DIR = new URL("../_fixtures/certs/", import.meta.url);
const path = (name: string) => new URL(name, DIR).pathname;
const pemBuffer = (name: string) => Buffer.from(Deno.readFileSync(new URL(name, DIR)));
const TLS: Partial<NsqdOptions> = {
  tlsCert: path("server.pem"),
  tlsKey: path("server.key"),
  tlsRootCaFile: path("ca.pem"),
};

interface NsqMessage {
  id: string;
  attempts: number;
  body: Uint8Array;
  finish(): void;
}

function hostPort(s: TestNsqd): [string, number] {
  const i = s.tcpAddress.lastIndexOf(":");
  return [s.tcpAddress.slice(0, i), Number(s.tcpAddress.slice(i + 1))];
}

/** A connected nsqjs Writer with `options`; `close()` resolves once its connection closed. */
async function openWriter(s: TestNsqd, options: Record<string, unknown>) {
  const [host, port] = hostPort(s);
  const w = new nsq.Writer(host, port, options);
  const errors: unknown[] = [];
  w.on("error", (err: unknown) => errors.push(err));
  const ready = once(w, "ready");
  w.connect();
  await ready;
  const publish = (topic: string, msgs: string | Buffer | (string | Buffer)[]) =>
    new Promise<void>((resolve, reject) =>
      w.publish(topic, msgs, (err?: Error) => (err ? reject(err) : resolve()))
    );
  const close = async () => {
    const closed = once(w, "closed");
    w.close();
    await closed;
  };
  return { writer: w, publish, close, errors };
}

/** A connected nsqjs Reader; `close()` resolves once its nsqd connection closed. */
async function openReader(
  s: TestNsqd,
  topic: string,
  options: Record<string, unknown>,
  onMessage: (m: NsqMessage) => void,
) {
  const r = new nsq.Reader(topic, "ch", {
    nsqdTCPAddresses: [s.tcpAddress],
    lookupdPollInterval: 1,
    maxInFlight: 100,
    ...options,
  });
  const errors: unknown[] = [];
  r.on("error", (err: unknown) => errors.push(err));
  r.on("message", onMessage);
  const connected = once(r, "nsqd_connected");
  r.connect();
  await connected;
  const close = async () => {
    const closed = once(r, "nsqd_closed");
    r.close();
    await closed;
  };
  return { reader: r, close, errors };
}

/**
 * Publishes a small message, a 1 MB one and an MPUB of 50 with a Writer using `options`,
 * consumes all with a Reader using the same options, and checks nsqd saw both clients with
 * `expect` negotiated.
 */
async function publishAndConsume(
  s: TestNsqd,
  options: Record<string, unknown>,
  expect: { tls: boolean; snappy: boolean; deflate: boolean },
) {
  const topic = uniqueName("nsqjs");
  const big = Buffer.alloc(1024 * 1024, "nsqjs over nsqd ");
  const batch = Array.from({ length: 50 }, (_, i) => `batch ${i}`);
  const w = await openWriter(s, options);
  const got = new Map<string, number>();
  const r = await openReader(s, topic, options, (m) => {
    const body = m.body.length === big.length ? "<big>" : new TextDecoder().decode(m.body);
    if (body === "<big>") assert.ok(Buffer.from(m.body).equals(big), "1 MB body intact");
    got.set(body, (got.get(body) ?? 0) + 1);
    m.finish();
  });
  try {
    // The Writer is ready and the Reader subscribed, so both finished IDENTIFY and every upgrade
    // (nsqjs reports the Reader connected at TCP connect, before them): check what nsqd
    // negotiated with each.
    await waitFor(() => s.nsqd.clients.size === 2, { message: "two clients" });
    await waitFor(() => s.nsqd.getExistingTopic(topic)?.getExistingChannel("ch") !== undefined, {
      message: "reader subscribed",
    });
    for (const c of s.nsqd.clients.values()) {
      assert.equal(c.tls !== null, expect.tls, "tls");
      assert.equal(c.snappy, expect.snappy, "snappy");
      assert.equal(c.deflate, expect.deflate, "deflate");
      assert.equal(c.userAgent, "nsqjs/0.13.0");
    }
    await w.publish(topic, "hello");
    await w.publish(topic, big);
    await w.publish(topic, batch);
    await waitFor(() => got.size === 52, { message: `got ${got.size} of 52 distinct bodies` });
    assert.ok([...got.values()].every((n) => n === 1), "each message once");
    const ch = s.nsqd.getTopic(topic).getChannel("ch");
    await waitFor(() => ch.inFlightCount === 0, { message: "FINs processed" });
    assert.equal(ch.messageCount, 52);
    assert.deepEqual(w.errors, []);
    assert.deepEqual(r.errors, []);
  } finally {
    await r.close();
    await w.close();
  }
  await waitFor(() => s.nsqd.clients.size === 0, { message: "clients gone" });
}

Deno.test("nsqjs: tls (no verification) publishes and consumes", async () => {
  await using s = await startNsqd(TLS);
  await publishAndConsume(s, { tls: true, tlsVerification: false }, {
    tls: true,
    snappy: false,
    deflate: false,
  });
});

Deno.test("nsqjs: tls verified against the CA, with a client certificate, TLS required", async () => {
  await using s = await startNsqd({
    ...TLS,
    tlsClientAuthPolicy: "require-verify",
    tlsRequired: TLS_REQUIRED,
  });
  await publishAndConsume(s, {
    tls: true,
    tlsVerification: true,
    ca: pemBuffer("ca.pem"),
    cert: pemBuffer("client.pem"),
    key: pemBuffer("client.key"),
  }, { tls: true, snappy: false, deflate: false });
  assert.ok(
    [...s.logs].every((l) => !l.includes("E_IDENTIFY_FAILED")),
    "no refused upgrade",
  );
});

Deno.test("nsqjs: snappy publishes and consumes", async () => {
  await using s = await startNsqd();
  await publishAndConsume(s, { snappy: true }, { tls: false, snappy: true, deflate: false });
});

Deno.test("nsqjs: deflate publishes and consumes", async () => {
  await using s = await startNsqd();
  await publishAndConsume(s, { deflate: true, deflateLevel: 4 }, {
    tls: false,
    snappy: false,
    deflate: true,
  });
});

Deno.test("nsqjs: tls + snappy publishes and consumes", async () => {
  await using s = await startNsqd(TLS);
  await publishAndConsume(s, { tls: true, tlsVerification: false, snappy: true }, {
    tls: true,
    snappy: true,
    deflate: false,
  });
});

Deno.test("nsqjs: tls + deflate publishes and consumes", async () => {
  await using s = await startNsqd(TLS);
  await publishAndConsume(s, { tls: true, tlsVerification: false, deflate: true }, {
    tls: true,
    snappy: false,
    deflate: true,
  });
});
