/**
 * nsqd with a real auth server (docs/nsqd.md#auth): a Hono app on Deno.serve port 0 answers
 * `GET /auth?common_name=&remote_ip=&secret=&tls=` per secret and records every query. Covers
 * auth_required, E_AUTH_FIRST, the AUTH answer, allowed and denied PUB/MPUB/DPUB/SUB, AUTH twice,
 * no authorizations, TTL expiry re-queries, an auth server that is down or slow, AUTH without
 * auth configured, the TLS common name, and the identity in /stats.
 */
import assert from "node:assert/strict";
import { type Context, Hono } from "hono";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import { UpgradeConn } from "../_util/upgrade_client.ts";
import { waitFor } from "../_util/wait.ts";
import type { NsqdOptions } from "../../lib/nsqd/options.ts";
import { TLS_REQUIRED } from "../../lib/nsqd/options.ts";

/** One recorded query. */
interface AuthQuery {
  method: string;
  path: string;
  /** The raw query string. */
  search: string;
  params: Record<string, string>;
  accept: string | undefined;
  contentType: string | undefined;
  /** The request body (POST). */
  body: string;
}

/** What the fake auth server answers for a secret: a JSON body, a status, or a hang. */
type Answer =
  | { json: unknown; status?: number }
  | { status: number; text: string }
  | "hang";

/** Options of {@link AuthServer}. */
interface AuthServerOptions {
  /** Serve HTTPS with this PEM pair. */
  tls?: { cert: string; key: string };
}

/**
 * A Hono auth server answering `GET /auth`, `POST /auth` and `GET /custom/path`; `answers` maps
 * secrets to answers (unknown secret → 403). Every query is recorded.
 */
class AuthServer implements AsyncDisposable {
  readonly queries: AuthQuery[] = [];
  readonly answers = new Map<string, Answer>();
  #server: Deno.HttpServer<Deno.NetAddr>;
  #scheme: string;
  /** Resolved at close: releases hanging requests so the server can shut down. */
  #release!: () => void;
  #released = new Promise<void>((resolve) => this.#release = resolve);

  constructor(opts: AuthServerOptions = {}) {
    const app = new Hono();
    const handle = async (c: Context, params: Record<string, string>, body = "") => {
      const url = new URL(c.req.url);
      this.queries.push({
        method: c.req.method,
        path: url.pathname,
        search: url.search,
        params: { ...params },
        accept: c.req.header("accept"),
        contentType: c.req.header("content-type"),
        body,
      });
      const answer = this.answers.get(params.secret ?? "");
      if (answer === undefined) return c.text("unknown secret", 403);
      if (answer === "hang") {
        await this.#released;
        return c.text("too late", 500);
      }
      if ("json" in answer) return c.json(answer.json as object, (answer.status ?? 200) as 200);
      return c.text(answer.text, answer.status as 500);
    };
    app.get("/auth", (c) => handle(c, c.req.query()));
    app.get("/custom/path", (c) => handle(c, c.req.query()));
    app.post("/auth", async (c) => {
      const body = await c.req.text();
      const decoded = JSON.parse(body) as Record<string, string[]>;
      return handle(
        c,
        Object.fromEntries(Object.entries(decoded).map(([k, v]) => [k, v[0]])),
        body,
      );
    });
    this.#scheme = opts.tls ? "https" : "http";
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {}, ...(opts.tls ?? {}) },
      app.fetch,
    );
  }

  get address(): string {
    return `127.0.0.1:${this.#server.addr.port}`;
  }

  get port(): number {
    return this.#server.addr.port;
  }

  /** `http(s)://127.0.0.1:port` */
  get origin(): string {
    return `${this.#scheme}://${this.address}`;
  }

  /** Queries carrying `secret`. */
  count(secret: string): number {
    return this.queries.filter((q) => q.params.secret === secret).length;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#release();
    await this.#server.shutdown();
  }
}

const DIR = new URL("../_fixtures/certs/", import.meta.url);
const path = (name: string) => new URL(name, DIR).pathname;
const pem = (name: string) => Deno.readTextFileSync(new URL(name, DIR));
const SERVER_TLS = { cert: pem("server.pem"), key: pem("server.key") };

/** An auth answer granting `authorizations` for `ttl` seconds. */
function grant(
  authorizations: { topic: string; channels: string[]; permissions: string[] }[],
  ttl = 3600,
  identity = "user",
): Answer {
  return {
    json: { ttl, identity, identity_url: `http://id.example/${identity}`, authorizations },
  };
}

async function nsqdWithAuth(
  auth: AuthServer | string[],
  extra: Partial<NsqdOptions> = {},
): Promise<TestNsqd> {
  const addrs = Array.isArray(auth) ? auth : [auth.address];
  return await startNsqd({ authHttpAddresses: addrs, ...extra });
}

/** A connection after IDENTIFY (feature negotiation), asserting auth_required. */
async function identified(s: TestNsqd, authRequired = true): Promise<UpgradeConn> {
  const c = await UpgradeConn.connect(s.tcpAddress);
  const resp = await c.negotiate({});
  assert.equal(resp.auth_required, authRequired);
  return c;
}

/** A connection that sent AUTH `secret` and got the JSON answer; returns it parsed. */
async function authed(
  s: TestNsqd,
  secret: string,
): Promise<[UpgradeConn, Record<string, unknown>]> {
  const c = await identified(s);
  await c.auth(secret);
  const f = await c.readFrame();
  if (f.type !== 0) {
    await c.close();
    throw new Error(`AUTH ${secret}: ${f.text}`);
  }
  return [c, JSON.parse(f.text)];
}

/** A free port nothing listens on. */
function deadAddress(): string {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const addr = `127.0.0.1:${l.addr.port}`;
  l.close();
  return addr;
}

Deno.test("auth: IDENTIFY says auth_required; SUB/PUB/MPUB/DPUB before AUTH are E_AUTH_FIRST", async () => {
  await using a = new AuthServer();
  await using s = await nsqdWithAuth(a);
  const topic = uniqueName("auth");
  const commands: [string, (c: UpgradeConn) => Promise<void>][] = [
    ["PUB", (c) => c.pub(topic, "x")],
    ["MPUB", (c) => c.mpub(topic, ["x"])],
    ["DPUB", (c) => c.dpub(topic, 100, "x")],
    ["SUB", (c) => c.sub(topic, "ch")],
  ];
  for (const [name, send] of commands) {
    await using c = await identified(s);
    await c.nop(); // commands without an auth check are served
    await send(c);
    await c.expectError(`E_AUTH_FIRST AUTH required before ${name}`);
    await c.expectClosed();
  }
  // Not even an IDENTIFY is needed to be told.
  await using c = await UpgradeConn.connect(s.tcpAddress);
  await c.pub(topic, "x");
  await c.expectError("E_AUTH_FIRST AUTH required before PUB");
  assert.equal(a.queries.length, 0);
  assert.equal(s.nsqd.getExistingTopic(topic), undefined);
  // Nor is an IDENTIFY needed before AUTH.
  a.answers.set("s", grant([{ topic: ".*", channels: [".*"], permissions: ["publish"] }]));
  await using d = await UpgradeConn.connect(s.tcpAddress);
  await d.auth("s");
  await d.expectResponse(
    JSON.stringify({
      identity: "user",
      identity_url: "http://id.example/user",
      permission_count: 1,
    }),
  );
  await d.pub(topic, "x");
  await d.expectResponse("OK");
});

Deno.test("auth: AUTH answers identity, identity_url, permission_count; grants are enforced", async () => {
  await using a = new AuthServer();
  await using s = await nsqdWithAuth(a);
  const t = uniqueName("auth");
  a.answers.set(
    "s3cret",
    grant(
      [
        { topic: `^${t}$`, channels: [".*"], permissions: ["publish"] },
        { topic: `^${t}$`, channels: ["^allowed$"], permissions: ["subscribe"] },
      ],
      3600,
      "alice",
    ),
  );
  const [c, answer] = await authed(s, "s3cret");
  await using _c = c;
  assert.deepEqual(answer, {
    identity: "alice",
    identity_url: "http://id.example/alice",
    permission_count: 2,
  });
  assert.equal(a.queries.length, 1);
  const q = a.queries[0];
  assert.equal(q.path, "/auth");
  // Go's url.Values.Encode: keys sorted.
  assert.equal(q.search, "?common_name=&remote_ip=127.0.0.1&secret=s3cret&tls=false");
  assert.deepEqual(q.params, {
    common_name: "",
    remote_ip: "127.0.0.1",
    secret: "s3cret",
    tls: "false",
  });
  assert.equal(q.accept, "application/vnd.nsq; version=1.0");
  // Allowed: publish on t (PUB, MPUB, DPUB), subscribe to t/allowed.
  await c.pub(t, "one");
  await c.expectResponse("OK");
  await c.mpub(t, ["two", "three"]);
  await c.expectResponse("OK");
  await c.dpub(t, 0, "four");
  await c.expectResponse("OK");
  const [sub] = await authed(s, "s3cret");
  await using _sub = sub;
  await sub.sub(t, "allowed");
  await sub.expectResponse("OK");
  await c.pub(t, "five");
  await c.expectResponse("OK");
  // The topic's first channel gets what the topic held, then the new message.
  await sub.rdy(5);
  const got: string[] = [];
  for (let i = 0; i < 5; i++) {
    const m = await sub.expectMessage();
    got.push(new TextDecoder().decode(m.body));
    await sub.fin(m.id);
  }
  assert.deepEqual(got.sort(), ["five", "four", "one", "three", "two"]);
  assert.equal(a.queries.length, 2, "no query per command while the grant is valid");

  // Denied: each is fatal, with Go's %q quoting of topic and channel.
  const other = uniqueName("other");
  const denied: [(c: UpgradeConn) => Promise<void>, string][] = [
    [(c) => c.pub(other, "x"), `E_UNAUTHORIZED AUTH failed for PUB on "${other}" ""`],
    [(c) => c.mpub(other, ["x"]), `E_UNAUTHORIZED AUTH failed for MPUB on "${other}" ""`],
    [(c) => c.dpub(other, 5, "x"), `E_UNAUTHORIZED AUTH failed for DPUB on "${other}" ""`],
    [(c) => c.sub(t, "denied"), `E_UNAUTHORIZED AUTH failed for SUB on "${t}" "denied"`],
    [(c) => c.sub(other, "allowed"), `E_UNAUTHORIZED AUTH failed for SUB on "${other}" "allowed"`],
    [
      (c) => c.sub(t, "ch#ephemeral"),
      `E_UNAUTHORIZED AUTH failed for SUB on "${t}" "ch#ephemeral"`,
    ],
  ];
  for (const [send, error] of denied) {
    const [d] = await authed(s, "s3cret");
    await using _d = d;
    await send(d);
    await d.expectError(error);
    await d.expectClosed();
  }
  assert.equal(s.nsqd.getExistingTopic(other), undefined);
});

Deno.test("auth: publish needs a channel regex matching the empty channel", async () => {
  await using a = new AuthServer();
  await using s = await nsqdWithAuth(a);
  const t = uniqueName("auth");
  a.answers.set(
    "sub-only-channel",
    grant([
      { topic: t, channels: ["^ch$"], permissions: ["publish", "subscribe"] },
    ]),
  );
  const [c] = await authed(s, "sub-only-channel");
  await using _c = c;
  await c.pub(t, "x");
  await c.expectError(`E_UNAUTHORIZED AUTH failed for PUB on "${t}" ""`);
});

Deno.test("auth: AUTH twice is E_INVALID AUTH already set", async () => {
  await using a = new AuthServer();
  await using s = await nsqdWithAuth(a);
  a.answers.set("s", grant([{ topic: ".*", channels: [".*"], permissions: ["publish"] }]));
  const [c] = await authed(s, "s");
  await using _c = c;
  await c.auth("s");
  await c.expectError("E_INVALID AUTH already set");
  await c.expectClosed();
  assert.equal(a.queries.length, 1);
});

Deno.test("auth: an answer without authorizations is E_UNAUTHORIZED AUTH no authorizations found", async () => {
  await using a = new AuthServer();
  await using s = await nsqdWithAuth(a);
  a.answers.set("nothing", grant([]));
  await using c = await identified(s);
  await c.auth("nothing");
  await c.expectError("E_UNAUTHORIZED AUTH no authorizations found");
  await c.expectClosed();
});

Deno.test("auth: unusable auth answers are E_AUTH_FAILED AUTH failed", async () => {
  await using a = new AuthServer();
  await using s = await nsqdWithAuth(a);
  const ok = { topic: ".*", channels: [".*"], permissions: ["publish"] };
  const answers: [string, Answer][] = [
    ["forbidden", { status: 403, text: "no" }],
    ["server-error", { status: 500, text: "boom" }],
    ["not-json", { status: 200, text: "hello" }],
    ["ttl-zero", { json: { ttl: 0, identity: "x", authorizations: [ok] } }],
    ["bad-permission", grant([{ ...ok, permissions: ["write"] }])],
    ["bad-regex", grant([{ ...ok, topic: "(" }])],
  ];
  for (const [secret, answer] of answers) {
    a.answers.set(secret, answer);
    await using c = await identified(s);
    await c.auth(secret);
    await c.expectError("E_AUTH_FAILED AUTH failed");
    await c.expectClosed();
  }
  await using c = await identified(s);
  await c.auth("never-heard-of");
  await c.expectError("E_AUTH_FAILED AUTH failed");
});

Deno.test("auth: after the TTL the next PUB re-queries the auth server", async () => {
  await using a = new AuthServer();
  await using s = await nsqdWithAuth(a);
  const t = uniqueName("auth");
  const pubGrant = [{ topic: t, channels: [".*"], permissions: ["publish"] }];
  a.answers.set("keeps", grant(pubGrant, 1));
  a.answers.set("revoked", grant(pubGrant, 1));
  a.answers.set("breaks", grant(pubGrant, 1));
  a.answers.set("sub", grant([{ topic: t, channels: ["^ch$"], permissions: ["subscribe"] }], 1));
  const [sub] = await authed(s, "sub");
  await using _0 = sub;
  await sub.sub(t, "ch");
  await sub.expectResponse("OK");
  const [keeps] = await authed(s, "keeps");
  const [revoked] = await authed(s, "revoked");
  const [breaks] = await authed(s, "breaks");
  await using _1 = keeps;
  await using _2 = revoked;
  await using _3 = breaks;
  for (const c of [keeps, revoked, breaks]) {
    await c.pub(t, "before");
    await c.expectResponse("OK");
  }
  assert.deepEqual([a.count("keeps"), a.count("revoked"), a.count("breaks")], [1, 1, 1]);
  // Wait (polling, not sleeping) until nsqd considers the grants expired.
  await waitFor(
    () => [...s.nsqd.clients.values()].every((c) => c.auth !== null && c.auth.isExpired()),
    { timeoutMs: 3000, intervalMs: 50, message: "grants expired" },
  );
  a.answers.set("keeps", grant(pubGrant, 3600));
  a.answers.set(
    "revoked",
    grant([{ topic: "^nope$", channels: [".*"], permissions: ["publish"] }]),
  );
  a.answers.set("breaks", { status: 500, text: "down for maintenance" });
  await keeps.pub(t, "after");
  await keeps.expectResponse("OK");
  await revoked.pub(t, "after");
  await revoked.expectError(`E_UNAUTHORIZED AUTH failed for PUB on "${t}" ""`);
  await breaks.pub(t, "after");
  await breaks.expectError("E_AUTH_FAILED AUTH failed");
  assert.deepEqual([a.count("keeps"), a.count("revoked"), a.count("breaks")], [2, 2, 2]);
  // The refreshed grant serves the next PUB without a query.
  await keeps.pub(t, "again");
  await keeps.expectResponse("OK");
  assert.equal(a.count("keeps"), 2);
  assert.equal(s.nsqd.getTopic(t).messageCount, 5);
  // RDY, delivery and FIN need no authorization: the expired subscriber is not re-queried.
  await sub.rdy(5);
  for (let i = 0; i < 5; i++) {
    const m = await sub.expectMessage();
    await sub.fin(m.id);
  }
  const ch = s.nsqd.getTopic(t).getChannel("ch");
  await waitFor(() => ch.inFlightCount === 0 && ch.depth === 0, { message: "all FINed" });
  assert.equal(a.count("sub"), 1);
});

Deno.test("auth: an auth server that is down is E_AUTH_FAILED; another one is tried", async () => {
  await using s = await nsqdWithAuth([deadAddress()], { httpClientRequestTimeout: 2000 });
  await using c = await identified(s);
  await c.auth("s");
  await c.expectError("E_AUTH_FAILED AUTH failed");
  await c.expectClosed();
  assert.ok(s.logs.some((l) => l.includes("AUTH failed")), "the cause is logged");

  // With a live server beside the dead one, every AUTH succeeds whichever is tried first.
  await using a = new AuthServer();
  a.answers.set("s", grant([{ topic: ".*", channels: [".*"], permissions: ["publish"] }]));
  await using s2 = await nsqdWithAuth([deadAddress(), a.address]);
  for (let i = 0; i < 6; i++) {
    const [ok] = await authed(s2, "s");
    await ok.close();
  }
  assert.equal(a.count("s"), 6);
});

Deno.test("auth: a hung auth server times out (E_AUTH_FAILED) while other clients are served", async () => {
  await using a = new AuthServer();
  a.answers.set("slow", "hang");
  const t = uniqueName("auth");
  a.answers.set("fast", grant([{ topic: t, channels: [".*"], permissions: ["publish"] }]));
  const timeout = 800;
  await using s = await nsqdWithAuth(a, { httpClientRequestTimeout: timeout });
  await using slow = await identified(s);
  const started = performance.now();
  await slow.auth("slow");
  await waitFor(() => a.count("slow") === 1, { message: "slow query arrived" });
  // Meanwhile another connection authenticates and publishes.
  const [fast] = await authed(s, "fast");
  await using _fast = fast;
  await fast.pub(t, "served");
  await fast.expectResponse("OK");
  const servedAt = performance.now() - started;
  await slow.expectError("E_AUTH_FAILED AUTH failed", timeout + 5000);
  const failedAt = performance.now() - started;
  await slow.expectClosed();
  assert.ok(servedAt < timeout, `other client served after ${servedAt}ms`);
  assert.ok(failedAt >= timeout - 50, `timed out after ${failedAt}ms (timeout ${timeout}ms)`);
});

Deno.test("auth: AUTH without an auth server configured is E_AUTH_DISABLED AUTH disabled", async () => {
  await using s = await startNsqd();
  await using c = await identified(s, false);
  await c.pub(uniqueName("auth"), "no auth needed");
  await c.expectResponse("OK");
  await c.auth("secret");
  await c.expectError("E_AUTH_DISABLED AUTH disabled");
  await c.expectClosed();
});

Deno.test("auth: over TLS the query carries tls=true and the client certificate's common name", async () => {
  await using a = new AuthServer();
  a.answers.set("s", grant([{ topic: ".*", channels: [".*"], permissions: ["publish"] }]));
  await using s = await nsqdWithAuth(a, {
    tlsCert: path("server.pem"),
    tlsKey: path("server.key"),
    tlsRootCaFile: path("ca.pem"),
    tlsClientAuthPolicy: "require-verify",
    tlsRequired: TLS_REQUIRED,
  });
  await using c = await UpgradeConn.connect(s.tcpAddress);
  const resp = await c.negotiate({ tls_v1: true, snappy: true }, {
    ca: pem("ca.pem"),
    cert: pem("client.pem"),
    key: pem("client.key"),
  });
  assert.equal(resp.auth_required, true);
  await c.auth("s");
  await c.expectResponse(
    JSON.stringify({
      identity: "user",
      identity_url: "http://id.example/user",
      permission_count: 1,
    }),
  );
  assert.deepEqual(a.queries[0].params, {
    common_name: "test-client",
    remote_ip: "127.0.0.1",
    secret: "s",
    tls: "true",
  });
  await c.pub(uniqueName("auth"), "x");
  await c.expectResponse("OK");
});

Deno.test("auth: /stats shows authed, auth_identity and auth_identity_url", async () => {
  await using a = new AuthServer();
  const t = uniqueName("auth");
  a.answers.set(
    "s",
    grant([{ topic: t, channels: [".*"], permissions: ["subscribe"] }], 60, "bob"),
  );
  await using s = await nsqdWithAuth(a, { httpAddress: "127.0.0.1:0" });
  const [c] = await authed(s, "s");
  await using _c = c;
  await c.sub(t, "ch");
  await c.expectResponse("OK");
  const stats = await (await fetch(`http://${s.httpAddress}/stats?format=json&topic=${t}`)).json();
  const [client] = stats.topics[0].channels[0].clients;
  assert.equal(client.authed, true);
  assert.equal(client.auth_identity, "bob");
  assert.equal(client.auth_identity_url, "http://id.example/bob");
});

Deno.test("auth: an address with :// is used as the URL; POST sends the params as JSON", async () => {
  await using a = new AuthServer();
  a.answers.set("s", grant([{ topic: ".*", channels: [".*"], permissions: ["publish"] }]));
  await using custom = await nsqdWithAuth([`${a.origin}/custom/path`]);
  const [c1] = await authed(custom, "s");
  await c1.close();
  assert.equal(a.queries.at(-1)!.path, "/custom/path");
  assert.equal(a.queries.at(-1)!.params.remote_ip, "127.0.0.1");

  await using post = await nsqdWithAuth(a, { authHttpRequestMethod: "post" });
  const [c2] = await authed(post, "s");
  await c2.close();
  const q = a.queries.at(-1)!;
  assert.equal(q.method, "POST");
  assert.equal(q.search, "");
  assert.equal(q.contentType, "application/json");
  assert.deepEqual(JSON.parse(q.body), {
    common_name: [""],
    remote_ip: ["127.0.0.1"],
    secret: ["s"],
    tls: ["false"],
  });
});

Deno.test("auth: an HTTPS auth server is verified with --tls-root-ca-file", async () => {
  await using a = new AuthServer({ tls: SERVER_TLS });
  a.answers.set("s", grant([{ topic: ".*", channels: [".*"], permissions: ["publish"] }]));
  await using trusted = await nsqdWithAuth([`${a.origin}/auth`], {
    tlsRootCaFile: path("ca.pem"),
  });
  const [c] = await authed(trusted, "s");
  await c.close();
  assert.equal(a.count("s"), 1);
  // Without the CA, the certificate cannot be verified.
  await using untrusted = await nsqdWithAuth([`${a.origin}/auth`]);
  await using d = await identified(untrusted);
  await d.auth("s");
  await d.expectError("E_AUTH_FAILED AUTH failed");
  assert.equal(a.count("s"), 1);
});

Deno.test("auth: a 403 with https_port over http is retried over https", async () => {
  await using secure = new AuthServer({ tls: SERVER_TLS });
  await using plain = new AuthServer();
  secure.answers.set("s", grant([{ topic: ".*", channels: [".*"], permissions: ["publish"] }]));
  plain.answers.set("s", {
    status: 403,
    json: { message: "TLS_REQUIRED", https_port: secure.port },
  });
  await using s = await nsqdWithAuth(plain, { tlsRootCaFile: path("ca.pem") });
  const [c, answer] = await authed(s, "s");
  await c.close();
  assert.equal(answer.permission_count, 1);
  assert.deepEqual([plain.count("s"), secure.count("s")], [1, 1]);
  assert.equal(secure.queries[0].path, "/auth");
  assert.equal(secure.queries[0].params.remote_ip, "127.0.0.1");
});
