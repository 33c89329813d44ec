/**
 * What nsqadmin adds beyond Go nsqadmin, against a stub nsqd (Deno.serve) that reports the
 * dead-letter fields in /stats and may offer `GET /channel/peek`: the channel page shows
 * max attempts / dead-letter topic / dead-lettered count and the next messages when the peek
 * endpoint answers, and hides the peek view when it answers 404 or 405 (as Go nsqd does).
 * Plus the history ring (bounded, rates, pruning) and the SVG charts.
 */
import assert from "node:assert/strict";
import { Logger } from "../../lib/internal/log.ts";
import { chart, sparkline } from "../../lib/nsqadmin/charts.ts";
import { History } from "../../lib/nsqadmin/history.ts";
import { Nsqadmin } from "../../lib/nsqadmin/nsqadmin.ts";
import { defaultNsqadminOptions } from "../../lib/nsqadmin/options.ts";

/** A stub nsqd whose /channel/peek answers `peekStatus`. */
function stubNsqd(peekStatus: number) {
  const peeks: string[] = [];
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, (req): Response => {
    const url = new URL(req.url);
    const port: number = server.addr.port;
    if (url.pathname === "/info") {
      return Response.json({
        version: "1.3.0",
        broadcast_address: "127.0.0.1",
        hostname: "stub",
        http_port: port,
        tcp_port: 4150,
      });
    }
    if (url.pathname === "/stats") {
      return Response.json({
        topics: [{
          topic_name: "orders",
          depth: 1,
          backend_depth: 0,
          message_count: 9,
          paused: false,
          e2e_processing_latency: { count: 0, percentiles: null },
          channels: [{
            channel_name: "work",
            depth: 3,
            backend_depth: 1,
            in_flight_count: 0,
            deferred_count: 0,
            message_count: 9,
            requeue_count: 4,
            timeout_count: 0,
            client_count: 0,
            clients: [],
            paused: false,
            e2e_processing_latency: { count: 0, percentiles: null },
            max_attempts: 5,
            dead_letter_topic: "orders_dead",
            dead_letter_count: 2,
          }],
        }],
      });
    }
    if (url.pathname === "/topic/peek") {
      peeks.push(`topic${url.search}`);
      if (peekStatus !== 200) {
        return Response.json({ message: "NOT_FOUND" }, { status: peekStatus });
      }
      return Response.json({
        messages: [{
          id: "0a1b2c3d4e5f6790",
          timestamp: 1,
          attempts: 0,
          body_base64: btoa("queued"),
        }],
      });
    }
    if (url.pathname === "/channel/peek") {
      peeks.push(url.search);
      if (peekStatus !== 200) {
        return Response.json({ message: "NOT_FOUND" }, { status: peekStatus });
      }
      return Response.json({
        messages: [
          {
            id: "0a1b2c3d4e5f6789",
            timestamp: 1_700_000_000_000_000_000,
            attempts: 2,
            body_base64: btoa('{"order":1}'),
          },
          {
            id: "0a1b2c3d4e5f678a",
            timestamp: 1_700_000_001_000_000_000,
            attempts: 1,
            body_base64: btoa("<b>x</b>"),
          },
        ],
      });
    }
    return Response.json({ message: "NOT_FOUND" }, { status: 404 });
  });
  return { server, peeks, address: `127.0.0.1:${server.addr.port}` };
}

async function withAdmin(nsqd: string, fn: (base: string) => Promise<void>): Promise<void> {
  await using admin = new Nsqadmin({
    ...defaultNsqadminOptions(),
    httpAddress: "127.0.0.1:0",
    nsqdHttpAddresses: [nsqd],
    historyWindow: 0,
  }, new Logger("[nsqadmin] ", "fatal"));
  await admin.start();
  await fn(`http://${admin.httpAddress}`);
}

Deno.test("beyond Go: dead-letter fields and the next-messages peek on the channel page", async () => {
  const stub = stubNsqd(200);
  try {
    await withAdmin(stub.address, async (base) => {
      const api = await (await fetch(`${base}/api/topics/orders/work`)).json();
      assert.equal(api.max_attempts, 5);
      assert.equal(api.dead_letter_topic, "orders_dead");
      assert.equal(api.dead_letter_count, 2);
      assert.equal(api.nodes[0].max_attempts, 5);
      const page = await (await fetch(`${base}/topics/orders/work`)).text();
      assert.match(page, /data-stat="max_attempts">5</);
      assert.match(page, /href="\/topics\/orders_dead">orders_dead</);
      assert.match(page, /data-stat="dead_letter_count">2</);
      assert.match(page, />Next messages</);
      assert.match(page, /data-message="0a1b2c3d4e5f6789"/);
      assert.ok(page.includes("{&quot;order&quot;:1}"), "body shown as text");
      assert.ok(page.includes("&lt;b&gt;x&lt;/b&gt;"), "body escaped");
      assert.ok(page.includes("2023-11-14 22:13:20.000"), "timestamp in UTC");
      assert.deepEqual(stub.peeks, ["?topic=orders&channel=work&n=10"]);
      const topicPage = await (await fetch(`${base}/topics/orders`)).text();
      assert.match(topicPage, /data-message="0a1b2c3d4e5f6790"/);
      assert.ok(stub.peeks.includes("topic?topic=orders&n=10"));
    });
  } finally {
    await stub.server.shutdown();
  }
});

Deno.test("beyond Go: the peek view is hidden when nsqd answers 404 or 405", async () => {
  for (const status of [404, 405]) {
    const stub = stubNsqd(status);
    try {
      await withAdmin(stub.address, async (base) => {
        const page = await (await fetch(`${base}/topics/orders/work`)).text();
        assert.equal(stub.peeks.length, 1);
        assert.ok(!page.includes("Next messages"), `hidden on ${status}`);
        const topicPage = await (await fetch(`${base}/topics/orders`)).text();
        assert.ok(!topicPage.includes("Next messages"), `topic peek hidden on ${status}`);
        assert.match(page, /data-stat="max_attempts">5</);
      });
    } finally {
      await stub.server.shutdown();
    }
  }
});

Deno.test("beyond Go: history keeps a bounded window, computes rates, prunes stale series", () => {
  const h = new History(10_000, 1_000); // 11 points
  assert.equal(h.capacity, 11);
  for (let i = 0; i < 20; i++) {
    h.record("t", { t: i * 1000, depth: i, count: i * 5, inFlight: 0 });
  }
  assert.equal(h.points("t").length, 11);
  assert.equal(h.points("t")[0].t, 9000);
  assert.deepEqual(h.rates("t").map((r) => r.rate), Array(10).fill(5));
  assert.equal(h.lastRate("t"), 5);
  // A counter reset (nsqd restart) gives no negative rate.
  h.record("t", { t: 20_000, depth: 0, count: 0, inFlight: 0 });
  assert.equal(h.lastRate("t"), 0);
  h.record("old", { t: 0, depth: 0, count: 0, inFlight: 0 });
  h.prune(20_000);
  assert.deepEqual(h.points("old"), []);
  assert.equal(h.size, 1);
  assert.equal(h.lastRate("unknown"), undefined);
});

Deno.test("beyond Go: charts are inline SVG, with a placeholder until two samples", () => {
  assert.match(sparkline([], "x").text, /class="spark empty"/);
  const pts = [{ t: 0, v: 1 }, { t: 1000, v: 3 }, { t: 2000, v: 2 }];
  const s = sparkline(pts, "rate").text.trim();
  assert.match(s, /^<svg class="spark"/);
  assert.match(s, /<path class="line" d="M2\.0,/);
  const c = chart(pts, "Depth", "msgs").text;
  assert.match(c, /<b>2<small>msgs<\/small><\/b>/);
  assert.match(c, /max 3/);
  assert.match(chart([], "Depth", "msgs").text, /collecting samples/);
});
