import assert from "node:assert/strict";
import {
  cleanPath,
  goJson,
  HttpError,
  parseQuery,
  RawJson,
  serveHttp,
  V1App,
} from "../../lib/http/v1.ts";
import { Logger } from "../../lib/internal/log.ts";

function collectingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger("[test] ", "debug", (l) => lines.push(l)), lines };
}

function testApp(logger?: Logger): V1App {
  const app = new V1App({ logger });
  app.get("/ping", () => "OK", { plainText: true });
  app.get("/plainerr", () => {
    throw new HttpError(500, "BOOM");
  }, { plainText: true });
  app.get("/text", () => "hello");
  app.get("/json", () => ({ a: [1, 2], s: "<&>", empty: [] }));
  app.get("/raw", () => new RawJson(`{"big":-6795364578871345152}`));
  app.post("/nil", () => null);
  app.get("/bytes", () => new Uint8Array([1, 2, 3]));
  app.get("/err", () => {
    throw new HttpError(404, "TOPIC_NOT_FOUND");
  });
  app.get("/throw", () => {
    throw new Error("kaboom");
  });
  app.get("/async", async () => {
    await Promise.resolve();
    return { ok: true };
  });
  app.get("/query", (c) => {
    const q = c.query();
    return { topic: q.get("topic") ?? null, all: q.getAll("x"), has: q.has("flag") };
  });
  app.put("/config/:opt", (c) => ({ opt: c.param("opt") }));
  app.get("/config/:opt", (c) => ({ get: c.param("opt") }));
  app.get("/response", () => new Response("custom", { status: 403 }));
  return app;
}

function req(method: string, path: string): Request {
  return new Request(`http://127.0.0.1${path}`, { method });
}

const V1 = "nsq; version=1.0";

Deno.test("v1: string success is a text body with the V1 header", async () => {
  const res = await testApp().fetch(req("GET", "/text"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-nsq-content-type"), V1);
  assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await res.text(), "hello");
});

Deno.test("v1: object success is JSON encoded like Go (HTML-safe, [] stays [])", async () => {
  const res = await testApp().fetch(req("GET", "/json"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-nsq-content-type"), V1);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(await res.text(), `{"a":[1,2],"s":"\\u003c\\u0026\\u003e","empty":[]}`);
  const raw = await testApp().fetch(req("GET", "/raw"));
  assert.equal(await raw.text(), `{"big":-6795364578871345152}`);
  const asy = await testApp().fetch(req("GET", "/async"));
  assert.deepEqual(await asy.json(), { ok: true });
});

Deno.test("v1: null is an empty 200; bytes are raw", async () => {
  const res = await testApp().fetch(req("POST", "/nil"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-nsq-content-type"), V1);
  assert.equal(res.headers.get("content-type"), null);
  assert.equal(await res.text(), "");
  const bytes = await testApp().fetch(req("GET", "/bytes"));
  assert.deepEqual(new Uint8Array(await bytes.arrayBuffer()), new Uint8Array([1, 2, 3]));
});

Deno.test("v1: HttpError renders {message} with its status", async () => {
  const res = await testApp().fetch(req("GET", "/err"));
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("x-nsq-content-type"), V1);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(await res.text(), `{"message":"TOPIC_NOT_FOUND"}`);
});

Deno.test("v1: a handler exception is 500 INTERNAL_ERROR and is logged", async () => {
  const { logger, lines } = collectingLogger();
  const res = await testApp(logger).fetch(req("GET", "/throw"));
  assert.equal(res.status, 500);
  assert.equal(res.headers.get("x-nsq-content-type"), V1);
  assert.equal(await res.text(), `{"message":"INTERNAL_ERROR"}`);
  assert.ok(
    lines.some((l) => l.includes("ERROR: panic in HTTP handler - kaboom")),
    lines.join("\n"),
  );
});

Deno.test("v1: plain-text routes answer raw text without the V1 header", async () => {
  const res = await testApp().fetch(req("GET", "/ping"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-nsq-content-type"), null);
  assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await res.text(), "OK");
  const err = await testApp().fetch(req("GET", "/plainerr"));
  assert.equal(err.status, 500);
  assert.equal(await err.text(), "BOOM");
});

Deno.test("v1: a Response result is sent as is", async () => {
  const res = await testApp().fetch(req("GET", "/response"));
  assert.equal(res.status, 403);
  assert.equal(await res.text(), "custom");
});

Deno.test("v1: unknown path is 404 NOT_FOUND", async () => {
  for (const [method, path] of [["GET", "/nope"], ["POST", "/nope"], ["GET", "/"]]) {
    const res = await testApp().fetch(req(method, path));
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(res.headers.get("x-nsq-content-type"), V1);
    assert.equal(await res.text(), `{"message":"NOT_FOUND"}`);
  }
});

Deno.test("v1: known path with the wrong method is 405 with Allow", async () => {
  const res = await testApp().fetch(req("POST", "/text"));
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "GET, OPTIONS");
  assert.equal(res.headers.get("x-nsq-content-type"), V1);
  assert.equal(await res.text(), `{"message":"METHOD_NOT_ALLOWED"}`);
  const cfg = await testApp().fetch(req("DELETE", "/config/foo"));
  assert.equal(cfg.status, 405);
  assert.equal(cfg.headers.get("allow"), "GET, OPTIONS, PUT");
  await cfg.body?.cancel();
  // httprouter does not route HEAD to GET handlers.
  const head = await testApp().fetch(req("HEAD", "/text"));
  assert.equal(head.status, 405);
  assert.equal(head.headers.get("allow"), "GET, OPTIONS");
  await head.body?.cancel();
});

Deno.test("v1: OPTIONS on a known path answers 200 with Allow", async () => {
  const res = await testApp().fetch(req("OPTIONS", "/config/x"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("allow"), "GET, OPTIONS, PUT");
  assert.equal(await res.text(), "");
  const unknown = await testApp().fetch(req("OPTIONS", "/nope"));
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("v1: route params", async () => {
  const res = await testApp().fetch(req("PUT", "/config/nsqlookupd_tcp_addresses"));
  assert.deepEqual(await res.json(), { opt: "nsqlookupd_tcp_addresses" });
  const empty = await testApp().fetch(req("PUT", "/config/"));
  assert.equal(empty.status, 404);
  await empty.body?.cancel();
});

Deno.test("v1: trailing-slash and case-fix redirects like httprouter", async () => {
  const app = testApp();
  const slash = await app.fetch(req("GET", "/text/?a=1"));
  assert.equal(slash.status, 301);
  assert.equal(slash.headers.get("location"), "/text?a=1");
  await slash.body?.cancel();
  const post = await app.fetch(req("POST", "/nil/"));
  assert.equal(post.status, 307);
  assert.equal(post.headers.get("location"), "/nil");
  await post.body?.cancel();
  const upper = await app.fetch(req("GET", "/TEXT"));
  assert.equal(upper.status, 301);
  assert.equal(upper.headers.get("location"), "/text");
  await upper.body?.cancel();
  const param = await app.fetch(req("PUT", "/CONFIG/Foo"));
  assert.equal(param.status, 307);
  assert.equal(param.headers.get("location"), "/config/Foo");
  await param.body?.cancel();
  const dbl = await app.fetch(req("GET", "//json"));
  assert.equal(dbl.status, 301);
  assert.equal(dbl.headers.get("location"), "/json");
  await dbl.body?.cancel();
});

Deno.test("v1: query parameters are parsed strictly", async () => {
  const app = testApp();
  const ok = await app.fetch(req("GET", "/query?topic=a+b%21&x=1&x=2&flag"));
  assert.deepEqual(await ok.json(), { topic: "a b!", all: ["1", "2"], has: true });
  const empty = await app.fetch(req("GET", "/query?topic="));
  assert.deepEqual(await empty.json(), { topic: "", all: [], has: false });
  for (const bad of ["/query?topic=%zz", "/query?topic=%4", "/query?a=1;b=2"]) {
    const res = await app.fetch(req("GET", bad));
    assert.equal(res.status, 400, bad);
    assert.equal(res.headers.get("x-nsq-content-type"), V1);
    assert.equal(await res.text(), `{"message":"INVALID_REQUEST"}`);
  }
  // Routes that never read the query do not care.
  const text = await app.fetch(req("GET", "/text?x=%zz"));
  assert.equal(text.status, 200);
  await text.body?.cancel();
});

Deno.test("parseQuery matches Go's url.ParseQuery", () => {
  assert.deepEqual(parseQuery(""), new Map());
  assert.deepEqual(
    parseQuery("a=1&&b&c=%E2%9C%93&a=2"),
    new Map([["a", ["1", "2"]], ["b", [""]], ["c", ["✓"]]]),
  );
  assert.throws(() => parseQuery("a=%"), /invalid URL escape "%"/);
  assert.throws(() => parseQuery("a=%g1"), /invalid URL escape "%g1"/);
  assert.throws(() => parseQuery("a=1;b"), /invalid semicolon separator in query/);
});

Deno.test("goJson escapes like Go's encoding/json", () => {
  assert.equal(goJson({ s: "<a&b>\u2028" }), `{"s":"\\u003ca\\u0026b\\u003e\\u2028"}`);
});

Deno.test("cleanPath", () => {
  assert.equal(cleanPath(""), "/");
  assert.equal(cleanPath("//a//b/"), "/a/b/");
  assert.equal(cleanPath("/a/./b/../c"), "/a/c");
  assert.equal(cleanPath("/.."), "/");
});

Deno.test("serveHttp: serves on port 0, logs like nsq, closes idempotently", async () => {
  const { logger, lines } = collectingLogger();
  const server = serveHttp("127.0.0.1:0", testApp(logger).fetch, { logger });
  assert.match(server.addr, /^127\.0\.0\.1:\d+$/);
  assert.ok(server.port > 0);
  assert.ok(lines.some((l) => l.endsWith(`INFO: HTTP: listening on ${server.addr}`)));
  const res = await fetch(`http://${server.addr}/json?x=1`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-nsq-content-type"), V1);
  assert.equal((await res.json()).a.length, 2);
  const nf = await fetch(`http://${server.addr}/missing`);
  assert.equal(nf.status, 404);
  await nf.body?.cancel();
  // "<status> <METHOD> <uri> (<remote>) <elapsed>"
  assert.ok(
    lines.some((l) => /INFO: 200 GET \/json\?x=1 \(127\.0\.0\.1:\d+\) [\d.]+(ns|µs|ms|s)$/.test(l)),
    lines.join("\n"),
  );
  assert.ok(lines.some((l) => /INFO: 404 GET \/missing \(127\.0\.0\.1:\d+\)/.test(l)));
  await Promise.all([server.close(), server.close()]);
  await server.finished;
  assert.ok(lines.some((l) => l.endsWith(`INFO: HTTP: closing ${server.addr}`)));
});

Deno.test("serveHttp: aborting the signal closes the server", async () => {
  const ctrl = new AbortController();
  const server = serveHttp("127.0.0.1:0", testApp().fetch, { signal: ctrl.signal });
  const res = await fetch(`http://${server.addr}/ping`);
  assert.equal(await res.text(), "OK");
  ctrl.abort();
  await server.finished;
  await server.close();
});

Deno.test("serveHttp: a taken port throws", async () => {
  const server = serveHttp("127.0.0.1:0", testApp().fetch);
  try {
    assert.throws(() => serveHttp(server.addr, testApp().fetch), Deno.errors.AddrInUse);
  } finally {
    await server.close();
  }
});
