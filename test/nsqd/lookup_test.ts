import assert from "node:assert/strict";
import { LookupClient, type LookupRegistration } from "../../lib/nsqd/lookup.ts";
import { Logger } from "../../lib/internal/log.ts";
import { http, startLookupd, type TestLookupd } from "../nsqlookupd/_helpers.ts";
import { waitFor } from "../_util/wait.ts";
import type { Nsqlookupd } from "../../lib/nsqlookupd/nsqlookupd.ts";

/** A fake nsqd: its registrations and a LookupClient over them. */
function fakeNsqd(opts: { pingInterval?: number; ioTimeout?: number } = {}) {
  const regs: LookupRegistration[] = [];
  const lines: string[] = [];
  const client = new LookupClient({
    logger: new Logger("[nsqd] ", "debug", (l) => lines.push(l)),
    broadcastAddress: "nsqd.local",
    hostname: "nsqd-host",
    tcpPort: 4150,
    httpPort: 4151,
    version: "1.3.0",
    pingInterval: opts.pingInterval ?? 60_000,
    ioTimeout: opts.ioTimeout,
    registrations: () => [...regs],
    httpClientConnectTimeout: 2000,
    httpClientRequestTimeout: 5000,
  });
  const addTopic = (topic: string) => {
    regs.push({ topic });
    client.register(topic);
  };
  const addChannel = (topic: string, channel: string) => {
    const i = regs.findIndex((r) => r.topic === topic && r.channel === undefined);
    if (i >= 0) regs.splice(i, 1);
    regs.push({ topic, channel });
    client.register(topic, channel);
  };
  return { client, regs, lines, addTopic, addChannel };
}

async function producers(lookupd: Nsqlookupd, topic: string): Promise<string[]> {
  const res = await http(lookupd, "GET", `/lookup?topic=${topic}`);
  if (res.status !== 200) return [];
  return res.json.producers.map((p: { broadcast_address: string; tcp_port: number }) =>
    `${p.broadcast_address}:${p.tcp_port}`
  );
}

async function channels(lookupd: Nsqlookupd, topic: string): Promise<string[]> {
  return (await http(lookupd, "GET", `/channels?topic=${topic}`)).json.channels.sort();
}

async function withLookupd<T>(
  fn: (t: TestLookupd) => Promise<T>,
  overrides: Parameters<typeof startLookupd>[0] = {},
): Promise<T> {
  const t = await startLookupd({ broadcastAddress: "127.0.0.1", ...overrides });
  try {
    return await fn(t);
  } finally {
    await t.lookupd.close();
  }
}

Deno.test("lookup: IDENTIFY, then registrations appear in /lookup and /topics", async () => {
  await withLookupd(async ({ lookupd, lines: lookupdLines }) => {
    const nsqd = fakeNsqd();
    try {
      nsqd.client.setAddresses([lookupd.tcpAddress]);
      await waitFor(() => nsqd.client.lookupdHttpAddresses().length === 1);
      assert.deepEqual(nsqd.client.lookupdHttpAddresses(), [`127.0.0.1:${lookupd.httpPort}`]);
      assert.ok(
        lookupdLines.some((l) =>
          /CLIENT\(127\.0\.0\.1:\d+\): IDENTIFY Address:nsqd\.local TCP:4150 HTTP:4151 Version:1\.3\.0$/
            .test(l)
        ),
      );
      assert.ok(
        nsqd.lines.some((l) => l.endsWith(`INFO: LOOKUP(${lookupd.tcpAddress}): adding peer`)),
      );
      assert.ok(
        nsqd.lines.some((l) =>
          l.endsWith(
            `LOOKUPD(${lookupd.tcpAddress}): peer info {TCPPort:${lookupd.tcpPort} ` +
              `HTTPPort:${lookupd.httpPort} Version:1.3.0 BroadcastAddress:127.0.0.1}`,
          )
        ),
        nsqd.lines.join("\n"),
      );

      nsqd.addTopic("t1");
      nsqd.addChannel("t2", "c");
      await waitFor(async () => (await producers(lookupd, "t2")).length === 1);
      assert.deepEqual(await producers(lookupd, "t1"), ["nsqd.local:4150"]);
      assert.deepEqual(await channels(lookupd, "t2"), ["c"]);
      assert.deepEqual((await http(lookupd, "GET", "/topics")).json.topics.sort(), ["t1", "t2"]);
      const node = (await http(lookupd, "GET", "/nodes")).json.producers[0];
      assert.equal(node.hostname, "nsqd-host");
      assert.equal(node.http_port, 4151);
      assert.ok(
        nsqd.lines.some((l) => l.endsWith(`LOOKUPD(${lookupd.tcpAddress}): channel REGISTER t2 c`)),
      );
    } finally {
      await nsqd.client.close();
    }
  });
});

Deno.test("lookup: registrations made before connecting are replayed on connect", async () => {
  await withLookupd(async ({ lookupd }) => {
    const nsqd = fakeNsqd();
    try {
      nsqd.regs.push({ topic: "a" }, { topic: "b", channel: "x" }, { topic: "b", channel: "y" });
      nsqd.client.setAddresses([lookupd.tcpAddress]);
      await waitFor(async () => (await channels(lookupd, "b")).length === 2);
      assert.deepEqual(await producers(lookupd, "a"), ["nsqd.local:4150"]);
      assert.deepEqual(await channels(lookupd, "b"), ["x", "y"]);
      assert.ok(nsqd.lines.some((l) => l.endsWith(`LOOKUPD(${lookupd.tcpAddress}): REGISTER b x`)));
    } finally {
      await nsqd.client.close();
    }
  });
});

Deno.test("lookup: unregister removes the producer", async () => {
  await withLookupd(async ({ lookupd }) => {
    const nsqd = fakeNsqd();
    try {
      nsqd.client.setAddresses([lookupd.tcpAddress]);
      nsqd.addChannel("t", "c");
      nsqd.addChannel("t", "e#ephemeral");
      await waitFor(async () => (await channels(lookupd, "t")).length === 2);
      nsqd.regs.splice(nsqd.regs.findIndex((r) => r.channel === "e#ephemeral"), 1);
      nsqd.client.unregister("t", "e#ephemeral");
      await waitFor(async () => (await channels(lookupd, "t")).length === 1);
      assert.deepEqual(await channels(lookupd, "t"), ["c"]);
      nsqd.regs.length = 0;
      nsqd.client.unregister("t", "c");
      nsqd.client.unregister("t");
      await waitFor(async () => (await producers(lookupd, "t")).length === 0);
      assert.equal(lookupd.db.findProducers("channel", "t", "c").length, 0);
    } finally {
      await nsqd.client.close();
    }
  });
});

Deno.test("lookup: a restarted lookupd gets IDENTIFY and every registration after the next ping", async () => {
  const first = await startLookupd({ broadcastAddress: "127.0.0.1" });
  const tcpAddress = first.lookupd.tcpAddress;
  const nsqd = fakeNsqd({ pingInterval: 50 });
  let second: TestLookupd | null = null;
  try {
    nsqd.client.setAddresses([tcpAddress]);
    nsqd.addTopic("t1");
    nsqd.addChannel("t2", "c");
    await waitFor(async () => (await producers(first.lookupd, "t2")).length === 1);
    await first.lookupd.close();

    second = await startLookupd({ broadcastAddress: "127.0.0.1", tcpAddress });
    const l2 = second.lookupd;
    await waitFor(async () => (await producers(l2, "t2")).length === 1, {
      message: "re-registration after restart",
    });
    assert.deepEqual(await producers(l2, "t1"), ["nsqd.local:4150"]);
    assert.deepEqual(await channels(l2, "t2"), ["c"]);
    // The lookupd's new HTTP port is what nsqd now reports.
    await waitFor(() => nsqd.client.lookupdHttpAddresses()[0] === `127.0.0.1:${l2.httpPort}`);
    // Pings keep the producer active.
    await waitFor(() => second!.lines.some((l) => l.includes("pinged (last ping")));
  } finally {
    await nsqd.client.close();
    await second?.lookupd.close();
  }
});

Deno.test("lookup: setAddresses adds and removes peers live", async () => {
  await withLookupd(async ({ lookupd: a }) => {
    await withLookupd(async ({ lookupd: b }) => {
      const nsqd = fakeNsqd();
      try {
        nsqd.client.setAddresses([a.tcpAddress]);
        nsqd.addChannel("t", "c");
        await waitFor(async () => (await producers(a, "t")).length === 1);
        assert.deepEqual(await producers(b, "t"), []);

        nsqd.client.setAddresses([a.tcpAddress, b.tcpAddress]);
        assert.deepEqual(nsqd.client.addresses, [a.tcpAddress, b.tcpAddress]);
        await waitFor(async () => (await producers(b, "t")).length === 1);
        assert.deepEqual(await channels(b, "t"), ["c"]);
        await waitFor(() => nsqd.client.lookupdHttpAddresses().length === 2);

        // Both get new registrations.
        nsqd.addTopic("u");
        await waitFor(async () =>
          (await producers(a, "u")).length === 1 && (await producers(b, "u")).length === 1
        );

        nsqd.client.setAddresses([b.tcpAddress]);
        assert.deepEqual(nsqd.client.addresses, [b.tcpAddress]);
        assert.ok(nsqd.lines.some((l) => l.endsWith(`LOOKUP(${a.tcpAddress}): removing peer`)));
        // Closing the connection drops nsqd from a's registrations.
        await waitFor(async () => (await producers(a, "t")).length === 0);
        assert.deepEqual(nsqd.client.lookupdHttpAddresses(), [`127.0.0.1:${b.httpPort}`]);
        nsqd.addTopic("v");
        await waitFor(async () => (await producers(b, "v")).length === 1);
        assert.deepEqual(await producers(a, "v"), []);
      } finally {
        await nsqd.client.close();
      }
    });
  });
});

Deno.test("lookup: fetchChannels unions /channels of every identified lookupd", async () => {
  await withLookupd(async ({ lookupd: a }) => {
    await withLookupd(async ({ lookupd: b }) => {
      const nsqd = fakeNsqd();
      try {
        // Nothing configured: nothing to ask, nothing logged.
        assert.equal(await nsqd.client.fetchChannels("t"), null);
        assert.ok(!nsqd.lines.some((l) => l.includes("no available nsqlookupd")));

        for (const [l, c] of [[a, "c1"], [b, "c2"], [b, "c1"], [a, "z#ephemeral"]] as const) {
          const res = await http(
            l,
            "POST",
            `/channel/create?topic=t&channel=${encodeURIComponent(c)}`,
          );
          assert.equal(res.status, 200);
        }
        nsqd.client.setAddresses([a.tcpAddress, b.tcpAddress]);
        await waitFor(() => nsqd.client.lookupdHttpAddresses().length === 2);
        assert.deepEqual(await nsqd.client.fetchChannels("t"), ["c1", "c2", "z#ephemeral"]);
        assert.deepEqual(await nsqd.client.fetchChannels("unknown"), []);

        // A lookupd that stopped answering HTTP is a warning; the others still count.
        await b.close();
        assert.deepEqual(await nsqd.client.fetchChannels("t"), ["c1", "z#ephemeral"]);
        assert.ok(
          nsqd.lines.some((l) =>
            l.includes("WARN: failed to query nsqlookupd for channels to pre-create for topic t - ")
          ),
        );
      } finally {
        await nsqd.client.close();
      }
    });
  });
});

/** A port nothing listens on. */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

Deno.test("lookup: an unreachable lookupd never blocks; fetchChannels is null with an error", async () => {
  const nsqd = fakeNsqd({ pingInterval: 20 });
  try {
    const addr = `127.0.0.1:${closedPort()}`;
    nsqd.client.setAddresses([addr]);
    nsqd.addTopic("t");
    nsqd.client.unregister("t");
    assert.equal(await nsqd.client.fetchChannels("t"), null);
    assert.ok(
      nsqd.lines.some((l) =>
        l.endsWith("ERROR: no available nsqlookupd to query for channels to pre-create for topic t")
      ),
    );
    await waitFor(() =>
      nsqd.lines.some((l) => l.includes(`LOOKUPD(${addr}): `) && l.includes(`dial tcp ${addr}`))
    );
    // Pings keep retrying without piling up work.
    await waitFor(() => nsqd.lines.filter((l) => l.includes("sending heartbeat")).length >= 3);
    assert.deepEqual(nsqd.client.lookupdHttpAddresses(), []);
  } finally {
    await nsqd.client.close();
  }
});

/** A fake lookupd that accepts, reads, and answers IDENTIFY with `answer` (or never). */
async function fakeLookupd(
  answer: string | null,
  fn: (addr: string) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const serve = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      conns.push(conn);
      const buf = new Uint8Array(4096);
      (async () => {
        try {
          while ((await conn.read(buf)) !== null) {
            if (answer === null) continue;
            const body = new TextEncoder().encode(answer);
            const out = new Uint8Array(4 + body.length);
            new DataView(out.buffer).setUint32(0, body.length);
            out.set(body, 4);
            await conn.write(out);
          }
        } catch { /* closed */ }
      })();
    }
  })();
  try {
    await fn(`127.0.0.1:${listener.addr.port}`);
  } finally {
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await serve;
  }
}

Deno.test("lookup: an E_INVALID answer to IDENTIFY closes the peer", async () => {
  await fakeLookupd("E_INVALID", async (addr) => {
    const nsqd = fakeNsqd();
    try {
      nsqd.client.setAddresses([addr]);
      await waitFor(() =>
        nsqd.lines.some((l) => l.endsWith(`INFO: LOOKUPD(${addr}): lookupd returned E_INVALID`))
      );
      assert.deepEqual(nsqd.client.lookupdHttpAddresses(), []);
    } finally {
      await nsqd.client.close();
    }
  });
});

Deno.test("lookup: a non-JSON IDENTIFY answer is a parse error", async () => {
  await fakeLookupd("E_BAD_BODY IDENTIFY missing fields", async (addr) => {
    const nsqd = fakeNsqd();
    try {
      nsqd.client.setAddresses([addr]);
      await waitFor(() =>
        nsqd.lines.some((l) =>
          l.endsWith(
            `ERROR: LOOKUPD(${addr}): parsing response - E_BAD_BODY IDENTIFY missing fields`,
          )
        )
      );
    } finally {
      await nsqd.client.close();
    }
  });
});

Deno.test("lookup: a silent lookupd hits the read deadline", async () => {
  await fakeLookupd(null, async (addr) => {
    const nsqd = fakeNsqd({ ioTimeout: 50 });
    try {
      nsqd.client.setAddresses([addr]);
      await waitFor(() =>
        nsqd.lines.some((l) => l.endsWith(`ERROR: LOOKUPD(${addr}): IDENTIFY - i/o timeout`))
      );
    } finally {
      await nsqd.client.close();
    }
  });
});

Deno.test("lookup: close is idempotent and disconnects from every lookupd", async () => {
  await withLookupd(async ({ lookupd }) => {
    const nsqd = fakeNsqd({ pingInterval: 10 });
    nsqd.client.setAddresses([lookupd.tcpAddress]);
    nsqd.addTopic("t");
    await waitFor(async () => (await producers(lookupd, "t")).length === 1);
    await Promise.all([nsqd.client.close(), nsqd.client.close()]);
    await waitFor(async () => (await producers(lookupd, "t")).length === 0);
    assert.ok(nsqd.lines.some((l) => l.endsWith("INFO: LOOKUP: closing")));
    // Calls after close are ignored.
    nsqd.client.register("x");
    nsqd.client.setAddresses([lookupd.tcpAddress]);
    assert.deepEqual(nsqd.client.addresses, [lookupd.tcpAddress]);
  });
});
