import assert from "node:assert/strict";
import { Hono } from "hono";
import { AuthState, compileGoRegexp, queryAuthd } from "../../lib/nsqd/auth.ts";

const CERTS = new URL("../_fixtures/certs/", import.meta.url);
const OPTS = { connectTimeoutMs: 2000, requestTimeoutMs: 5000 };
const PARAMS = { remoteIp: "127.0.0.1", tls: false, secret: "good", commonName: "" };

const GOOD = {
  ttl: 3600,
  identity: "alice",
  identity_url: "https://example.com/alice",
  authorizations: [
    { topic: "^test", channels: [".*"], permissions: ["subscribe", "publish"] },
    { topic: "sub-only", channels: ["^ch$"], permissions: ["subscribe"] },
  ],
};

interface Seen {
  url: URL;
  method: string;
  accept: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** An auth server on 127.0.0.1:0 whose answer depends on the secret. */
function authServer(httpsPort?: () => number) {
  const seen: Seen[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const app = new Hono();
  app.all("*", async (c) => {
    const url = new URL(c.req.url);
    const body = await c.req.text();
    seen.push({
      url,
      method: c.req.method,
      accept: c.req.header("Accept"),
      contentType: c.req.header("Content-Type"),
      body,
    });
    const secret = c.req.method === "POST"
      ? JSON.parse(body).secret[0]
      : url.searchParams.get("secret");
    switch (secret) {
      case "good":
        return c.json(GOOD);
      case "none":
        return c.json({ ttl: 60, identity: "nobody" });
      case "bad json":
        return c.text("{not json", 200);
      case "bad permission":
        return c.json({
          ...GOOD,
          authorizations: [{ topic: ".", channels: [], permissions: ["admin"] }],
        });
      case "bad regex":
        return c.json({ ...GOOD, authorizations: [{ topic: "(", channels: [], permissions: [] }] });
      case "lookahead":
        return c.json({
          ...GOOD,
          authorizations: [{ topic: "(?=a)", channels: [], permissions: [] }],
        });
      case "zero ttl":
        return c.json({ ...GOOD, ttl: 0 });
      case "float ttl":
        return c.json({ ...GOOD, ttl: 1.5 });
      case "string ttl":
        return c.json({ ...GOOD, ttl: "60" });
      case "denied":
        return c.json({ message: "NOT_AUTHORIZED" }, 401);
      case "upgrade":
        return c.json({ https_port: httpsPort?.() ?? 0 }, 403);
      case "slow":
        // Answer only when the test is over (the client gives up long before).
        await released;
        return c.text("too late");
    }
    return c.text("unexpected", 500);
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const close = async () => {
    release();
    await server.shutdown();
  };
  return { server, seen, close, addr: `127.0.0.1:${server.addr.port}` };
}

/** A loopback port with nothing listening. */
function deadAddr(): string {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return `127.0.0.1:${port}`;
}

Deno.test("queryAuthd: GET with sorted, escaped params and the NSQ Accept header", async () => {
  const a = authServer();
  try {
    const state = await queryAuthd([a.addr], {
      remoteIp: "10.0.0.1",
      tls: true,
      secret: "good",
      commonName: "CN with spaces & ~*!",
    }, OPTS);
    assert.equal(state.identity, "alice");
    assert.equal(state.identityUrl, "https://example.com/alice");
    assert.equal(state.ttlSeconds, 3600);
    assert.equal(state.permissionCount, 2);
    assert.equal(a.seen.length, 1);
    const s = a.seen[0];
    assert.equal(s.method, "GET");
    assert.equal(s.url.pathname, "/auth");
    assert.equal(s.accept, "application/vnd.nsq; version=1.0");
    assert.equal(
      s.url.search,
      "?common_name=CN+with+spaces+%26+~%2A%21&remote_ip=10.0.0.1&secret=good&tls=true",
    );
  } finally {
    await a.close();
  }
});

Deno.test("queryAuthd: an address with :// is used as the URL; POST sends a JSON map", async () => {
  const a = authServer();
  try {
    const url = `http://${a.addr}/custom/path`;
    await queryAuthd([url], PARAMS, OPTS);
    assert.equal(a.seen[0].url.pathname, "/custom/path");
    assert.equal(a.seen[0].url.searchParams.get("tls"), "false");
    await queryAuthd([url], PARAMS, { ...OPTS, method: "post" });
    const s = a.seen[1];
    assert.equal(s.method, "POST");
    assert.equal(s.url.search, "");
    assert.equal(s.contentType, "application/json");
    assert.equal(s.accept, "application/vnd.nsq; version=1.0");
    assert.equal(
      s.body,
      '{"common_name":[""],"remote_ip":["127.0.0.1"],"secret":["good"],"tls":["false"]}',
    );
  } finally {
    await a.close();
  }
});

Deno.test("queryAuthd: rejects bad answers", async () => {
  const a = authServer();
  try {
    const cases: [string, RegExp][] = [
      ["bad json", /invalid JSON response/],
      ["bad permission", /unknown permission admin/],
      ["bad regex", /unable to compile topic "\("/],
      ["lookahead", /unable to compile topic "\(\?=a\)" lookaround/],
      ["zero ttl", /invalid TTL 0 \(must be >0\)/],
      ["float ttl", /cannot decode number 1.5 into ttl/],
      ["string ttl", /cannot decode string "60" into ttl/],
      ["denied", /got response 401 Unauthorized "{\\"message\\":\\"NOT_AUTHORIZED\\"}"/],
    ];
    for (const [secret, re] of cases) {
      await assert.rejects(
        queryAuthd([a.addr], { ...PARAMS, secret }, OPTS),
        (err: Error) => {
          assert.match(err.message, new RegExp(`^failed to auth against ${a.addr} - `), secret);
          assert.match(err.message, re, secret);
          return true;
        },
      );
    }
    // Zero authorizations is a valid answer (nsqd then says E_UNAUTHORIZED).
    const none = await queryAuthd([a.addr], { ...PARAMS, secret: "none" }, OPTS);
    assert.equal(none.permissionCount, 0);
    assert.equal(none.identity, "nobody");
    assert.equal(none.isAllowed("t", "", "publish"), false);
  } finally {
    await a.close();
  }
});

Deno.test("queryAuthd: timeouts, servers down, and trying each server", async () => {
  const a = authServer();
  const dead = deadAddr();
  try {
    await assert.rejects(
      queryAuthd([a.addr], { ...PARAMS, secret: "slow" }, {
        connectTimeoutMs: 100,
        requestTimeoutMs: 150,
      }),
      /timed out after 150ms/,
    );
    await assert.rejects(
      queryAuthd([dead], PARAMS, OPTS),
      new RegExp(`failed to auth against ${dead} - `),
    );
    await assert.rejects(queryAuthd([], PARAMS, OPTS), /no auth servers/);
    // Whichever server it starts at, it gets to the working one.
    for (let i = 0; i < 6; i++) {
      const state = await queryAuthd([dead, a.addr, dead], PARAMS, OPTS);
      assert.equal(state.identity, "alice");
    }
    // All failing: every failure is reported.
    const dead2 = deadAddr();
    await assert.rejects(queryAuthd([dead, dead2], PARAMS, OPTS), (err: Error) => {
      assert.ok(err.message.includes(`failed to auth against ${dead} - `));
      assert.ok(err.message.includes(`failed to auth against ${dead2} - `));
      assert.ok(err.message.includes("; "));
      return true;
    });
  } finally {
    await a.close();
  }
});

Deno.test("queryAuthd: 403 over http retries over https on https_port, trusting caFile", async () => {
  const https = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: Deno.readTextFileSync(new URL("server.pem", CERTS)),
    key: Deno.readTextFileSync(new URL("server.key", CERTS)),
    onListen() {},
  }, (req) => {
    const u = new URL(req.url);
    return Response.json(
      u.searchParams.get("secret") === "upgrade" ? { ...GOOD, identity: "tls" } : {},
    );
  });
  const a = authServer(() => https.addr.port);
  try {
    const state = await queryAuthd([a.addr], { ...PARAMS, secret: "upgrade" }, {
      ...OPTS,
      caFile: new URL("ca.pem", CERTS).pathname,
    });
    assert.equal(state.identity, "tls");
    // Without the CA the https server's certificate is not trusted.
    await assert.rejects(queryAuthd([a.addr], { ...PARAMS, secret: "upgrade" }, OPTS));
  } finally {
    await a.close();
    await https.shutdown();
  }
});

Deno.test('AuthState: permissions, unanchored regexes, publish checks channel ""', () => {
  const now = 1_000_000;
  const s = new AuthState(GOOD, now);
  assert.equal(s.isAllowed("test-topic", "", "publish"), true);
  assert.equal(s.isAllowed("test-topic", "anything", "publish"), true, "channel ignored");
  assert.equal(s.isAllowed("test-topic", "c1", "subscribe"), true);
  assert.equal(s.isAllowed("my-test", "c1", "subscribe"), false, "^test is anchored by the rule");
  assert.equal(s.isAllowed("a-sub-only-b", "ch", "subscribe"), true, "unanchored search");
  assert.equal(s.isAllowed("sub-only", "ch2", "subscribe"), false);
  assert.equal(s.isAllowed("sub-only", "", "publish"), false, "no publish permission");
  assert.equal(s.isAllowed("other", "ch", "subscribe"), false);
  // Publishing needs a channel regex that matches "".
  const strict = new AuthState({
    ttl: 1,
    authorizations: [{ topic: ".*", channels: [".+"], permissions: ["publish", "subscribe"] }],
  }, now);
  assert.equal(strict.isAllowed("t", "", "publish"), false);
  assert.equal(strict.isAllowed("t", "c", "subscribe"), true);

  assert.equal(s.expiresAt, now + 3_600_000);
  assert.equal(s.isExpired(now), false);
  assert.equal(s.isExpired(now + 3_600_000), false);
  assert.equal(s.isExpired(now + 3_600_001), true);
  // Go's JSON decoding: case-insensitive keys, null means the zero value, unknown keys ignored.
  const odd = new AuthState({ TTL: 5, Identity: "x", identity_url: null, extra: 1 }, now);
  assert.equal(odd.ttlSeconds, 5);
  assert.equal(odd.identity, "x");
  assert.equal(odd.identityUrl, "");
  assert.throws(() => new AuthState(null), /invalid TTL 0/);
  assert.throws(() => new AuthState([]), /cannot decode array/);
});

Deno.test("compileGoRegexp: RE2 spellings", () => {
  assert.ok(compileGoRegexp("(?i)^TOPIC$").test("topic"));
  assert.ok(compileGoRegexp("\\Aabc\\z").test("abc"));
  assert.ok(!compileGoRegexp("\\Aabc\\z").test("abc\n"));
  assert.ok(!compileGoRegexp("(?m)\\Aabc\\z").test("abc\nx"));
  assert.equal(compileGoRegexp("(?P<name>a+)").exec("baa")?.groups?.name, "aa");
  assert.ok(compileGoRegexp("[(?=]").test("="));
  assert.throws(() => compileGoRegexp("(?!x)"), /lookaround/);
  assert.throws(() => compileGoRegexp("(a)\\1"), /backreferences/);
  assert.throws(() => compileGoRegexp("(?U)a+"), /ungreedy/);
  assert.ok(compileGoRegexp("a{").test("a{"), "a lone { is a literal in both");
  assert.throws(() => compileGoRegexp("a("), /^Error: unable to compile regexp "a\("/);
});
