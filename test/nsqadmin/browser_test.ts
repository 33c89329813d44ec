/**
 * nsqadmin's pages in a real browser: headless Chromium (Debian's `chromium`) driven by
 * npm:playwright-core, against a live in-process cluster under `--base-path /nsq` with an ACL.
 * Each page is opened and its numbers compared with nsqd's /stats; a channel is paused through
 * the confirm dialog and nsqd reports it paused; a non-admin gets no buttons and a 403 from the
 * API; the lookup page creates a topic; the numbers refresh without a reload. Screenshots go to
 * a temp dir (printed; never committed). One browser serves every step.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import nsq from "nsqjs";
import { chromium, type Page } from "playwright-core";
import { uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";
import { type AdminCluster, startAdminCluster } from "./_cluster.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
if (!haveChromium) {
  console.warn(`nsqadmin browser tests skipped: ${CHROMIUM} not found (apt-get install chromium)`);
}

const ADMIN = { "X-Forwarded-User": "admin" };

interface Stats {
  topics: {
    topic_name: string;
    depth: number;
    message_count: number;
    channels: {
      channel_name: string;
      depth: number;
      in_flight_count: number;
      message_count: number;
      client_count: number;
      paused: boolean;
    }[];
  }[] | null;
}

/** The text of `selector` as a number ("1,234" → 1234). */
async function numberAt(page: Page, selector: string): Promise<number> {
  const text = (await page.locator(selector).first().textContent()) ?? "";
  return Number(text.replace(/[,\s]/g, ""));
}

/** An nsqjs Reader on `topic`/`channel` that finishes every message; close() waits. */
async function reader(c: AdminCluster, topic: string, channel: string, opts: object) {
  const r = new nsq.Reader(topic, channel, {
    nsqdTCPAddresses: [c.nsqd.tcpAddress],
    maxInFlight: 10,
    ...opts,
  });
  r.on("error", () => {});
  r.on("message", (m: { finish(): void }) => m.finish());
  const connected = once(r, "nsqd_connected");
  r.connect();
  await connected;
  return async () => {
    const closed = once(r, "nsqd_closed");
    r.close();
    await closed;
  };
}

Deno.test({
  name: "nsqadmin in Chromium: pages show the cluster's numbers, pause via confirm, ACL",
  ignore: !haveChromium,
  async fn(t) {
    await using c = await startAdminCluster({
      basePath: "/nsq",
      adminUsers: ["admin"],
      historyInterval: 200,
      uiRefreshInterval: 1000,
    });
    const nsqdHttp = c.nsqd.httpAddress;
    const topic = uniqueName("web");
    const creates = ["/topic/create?", "idle", "tls_snappy", "deflate"].map((x) =>
      x.startsWith("/") ? x : `/channel/create?channel=${x}&`
    );
    for (const path of creates) {
      const r = await fetch(`http://${nsqdHttp}${path}topic=${topic}`, { method: "POST" });
      assert.equal(r.status, 200, path);
      await r.body?.cancel();
    }
    const body = Array.from({ length: 25 }, (_, i) => `{"n":${i}}`).join("\n");
    const mp = await fetch(`http://${nsqdHttp}/mpub?topic=${topic}`, { method: "POST", body });
    assert.equal(mp.status, 200);
    await mp.body?.cancel();
    // Every channel got the 25 messages; two readers drain theirs.
    const closeReaders = [
      await reader(c, topic, "tls_snappy", { tls: true, tlsVerification: false, snappy: true }),
      await reader(c, topic, "deflate", { deflate: true }),
    ];
    const stats = async () => {
      const s = await c.nsqdJson<Stats>(`/stats?format=json&topic=${topic}`);
      return s.topics![0];
    };
    await waitFor(async () => {
      const s = await stats();
      return s.channels.every((ch) =>
        ch.channel_name === "idle" || ch.depth + ch.in_flight_count === 0
      );
    }, { message: "readers drained their channels", timeoutMs: 10_000 });

    const profile = await Deno.makeTempDir({ prefix: "nsqadmin_chromium_" });
    const shots = await Deno.makeTempDir({ prefix: "nsqadmin_screens_" });
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await browser.newPage();
      await page.setExtraHTTPHeaders(ADMIN);
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      // Over our own healthy cluster no page shows a warning or an error.
      const shot = async (name: string) => {
        assert.equal(await page.locator(".alert").count(), 0, `${name}: no warning`);
        await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
      };

      await t.step("topics page: the topic's depth and message count", async () => {
        await page.goto(`${c.url}/`);
        const s = await stats();
        const row = `tr[data-topic="${topic}"]`;
        assert.equal(await numberAt(page, `${row} [data-stat=depth]`), s.depth);
        assert.equal(await numberAt(page, `${row} [data-stat=message_count]`), s.message_count);
        assert.equal(await numberAt(page, `${row} [data-stat=channels]`), 3);
        assert.equal(await numberAt(page, `${row} [data-stat=nodes]`), 1);
        await shot("topics");
      });

      await t.step("topic page: per node and per channel numbers", async () => {
        await page.click(`a[href="/nsq/topics/${topic}"]`);
        await page.waitForURL(`${c.url}/topics/${topic}`);
        const s = await stats();
        const node = `tr[data-node="${nsqdHttp}"]`;
        assert.equal(await numberAt(page, `${node} [data-stat=message_count]`), s.message_count);
        assert.equal(await numberAt(page, `tr.total [data-stat=depth]`), s.depth);
        for (const ch of s.channels) {
          const row = `tr[data-channel="${ch.channel_name}"]`;
          assert.equal(await numberAt(page, `${row} [data-stat=depth]`), ch.depth, ch.channel_name);
          assert.equal(
            await numberAt(page, `${row} [data-stat=message_count]`),
            ch.message_count,
            ch.channel_name,
          );
          assert.equal(
            await numberAt(page, `${row} [data-stat=client_count]`),
            ch.client_count,
            ch.channel_name,
          );
        }
        await shot("topic");
      });

      await t.step("channel pages: numbers, clients with TLS / Snappy / Deflate", async () => {
        await page.goto(`${c.url}/topics/${topic}/idle`);
        const idle = (await stats()).channels.find((x) => x.channel_name === "idle")!;
        assert.equal(await numberAt(page, "tr.total [data-stat=depth]"), idle.depth);
        assert.equal(idle.depth, 25);
        assert.match(await page.locator("#content").textContent() ?? "", /No clients connected/);

        await page.goto(`${c.url}/topics/${topic}/tls_snappy`);
        const attrs = await page.locator("#clients [data-stat=attributes]").textContent();
        assert.match(attrs ?? "", /TLS/);
        assert.match(attrs ?? "", /Snappy/);
        const ua = await page.locator("#clients tbody tr td").nth(1).textContent();
        assert.match(ua ?? "", /nsqjs/);
        await shot("channel");

        await page.goto(`${c.url}/topics/${topic}/deflate`);
        assert.match(
          (await page.locator("#clients [data-stat=attributes]").textContent()) ?? "",
          /Deflate/,
        );
        const d = (await stats()).channels.find((x) => x.channel_name === "deflate")!;
        assert.equal(d.message_count, 25);
        assert.equal(await numberAt(page, "tr.total [data-stat=message_count]"), 25);
        assert.equal(await numberAt(page, "#clients [data-stat=finish_count]"), 25);
      });

      await t.step(
        "pause a channel through the confirm dialog; nsqd reports it paused",
        async () => {
          await page.goto(`${c.url}/topics/${topic}/idle`);
          const dialogs: string[] = [];
          page.once("dialog", (d) => {
            dialogs.push(d.message());
            d.accept();
          });
          await page.click("button:has-text('Pause Channel')");
          await waitFor(async () => {
            return (await stats()).channels.find((x) => x.channel_name === "idle")!.paused;
          }, { message: "nsqd reports the channel paused" });
          assert.match(dialogs[0], /Pause channel idle\?/);
          await page.waitForSelector("button:has-text('Unpause Channel')");
          await page.waitForSelector("h1 .badge.paused");
          await shot("channel_paused");
          // Dismissing the dialog does nothing.
          page.once("dialog", (d) => d.dismiss());
          await page.click("button:has-text('Unpause Channel')");
          await page.waitForTimeout(200);
          assert.equal(
            (await stats()).channels.find((x) => x.channel_name === "idle")!.paused,
            true,
          );
        },
      );

      await t.step("numbers refresh without a reload", async () => {
        const before = await numberAt(page, "tr.total [data-stat=depth]");
        await page.evaluate(() => (window as unknown as { marker: number }).marker = 42);
        const r = await fetch(`http://${nsqdHttp}/pub?topic=${topic}`, {
          method: "POST",
          body: "more",
        });
        await r.body?.cancel();
        const want = String(before + 1);
        await page.waitForFunction(
          `document.querySelector("tr.total [data-stat=depth]")?.textContent.replace(/,/g, "") === "${want}"`,
        );
        assert.equal(
          await page.evaluate(() => (window as unknown as { marker: number }).marker),
          42,
        );
      });

      await t.step("nodes, node and counter pages", async () => {
        await page.goto(`${c.url}/nodes`);
        const row = `tr[data-node="${nsqdHttp}"]`;
        const port = Number(c.nsqd.tcpAddress.slice(c.nsqd.tcpAddress.lastIndexOf(":") + 1));
        assert.equal(await numberAt(page, `${row} [data-stat=tcp_port]`), port);
        await shot("nodes");
        await page.click(`${row} a`);
        await page.waitForURL(`${c.url}/nodes/${nsqdHttp}`);
        const all = (await c.nsqdJson<Stats>("/stats?format=json")).topics ?? [];
        const total = all.reduce((s, x) => s + x.message_count, 0);
        assert.equal(await numberAt(page, "[data-stat=total_messages]"), total);
        assert.equal(await numberAt(page, "[data-stat=total_clients]"), 2);
        await shot("node");
        await page.goto(`${c.url}/counter`);
        const processed = all.flatMap((x) => x.channels).reduce((s, x) => s + x.message_count, 0);
        assert.equal(await numberAt(page, "[data-stat=total]"), processed);
        await shot("counter");
      });

      await t.step("lookup page: create a topic and channel through the form", async () => {
        await page.goto(`${c.url}/lookup`);
        const made = uniqueName("made");
        await page.fill("input[name=topic]", made);
        await page.fill("input[name=channel]", "first");
        page.once("dialog", (d) => d.accept());
        await page.click("form button[type=submit]");
        await waitFor(async () => {
          const r = await fetch(`http://${c.lookupd.httpAddress}/channels?topic=${made}`);
          return r.status === 200 && (await r.json()).channels?.includes("first");
        }, { message: "lookupd has the new topic and channel" });
        await page.waitForSelector(`tr[data-topic="${made}"]`);
        await shot("lookup");
      });

      await t.step("a non-admin sees no actions and the API answers 403 FORBIDDEN", async () => {
        const anon = await browser.newPage();
        try {
          await anon.goto(`${c.url}/topics/${topic}/idle`);
          assert.equal(await anon.locator("button[data-api]").count(), 0);
          const answer = await anon.evaluate(async (url) => {
            const r = await fetch(url, { method: "POST", body: '{"action":"unpause"}' });
            return { status: r.status, body: await r.json() };
          }, `${c.url}/api/topics/${topic}/idle`);
          assert.deepEqual(answer, { status: 403, body: { message: "FORBIDDEN" } });
          assert.equal(
            (await stats()).channels.find((x) => x.channel_name === "idle")!.paused,
            true,
          );
        } finally {
          await anon.close();
        }
      });
      assert.deepEqual(errors, [], "no script errors");
      console.log(`nsqadmin screenshots: ${shots}`);
    } finally {
      await browser.close();
      for (const close of closeReaders) await close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
