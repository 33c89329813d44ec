/**
 * Hostile and broken clients (https://nsq.io/clients/tcp_protocol_spec.html): random bytes before
 * and after the magic, truncated commands, negative and huge sizes, garbage, a client that stops
 * reading, and 10k connections opened and dropped. After each, nsqd must have released every client
 * and a normal client must still publish and consume.
 */
import assert from "node:assert/strict";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import { cat, encodeCommand, FRAME_TYPE_ERROR, int32, V2Conn } from "../_util/wire.ts";
import { connectSub } from "../_util/protocol.ts";
import { dialAddress } from "../../lib/internal/net_addr.ts";
import { waitFor } from "../_util/wait.ts";

const enc = new TextEncoder();

/** A small deterministic PRNG (xorshift32), so failures can be replayed from the seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function randomBytes(next: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  return b;
}

/** Reads and discards until the server closes; rejects if it stays open past `ms`. */
async function drainUntilClosed(conn: Deno.Conn, ms = 5000): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still open after ${ms}ms`)), ms);
  });
  const read = (async () => {
    for (;;) {
      try {
        if ((await conn.read(buf)) === null) return;
      } catch {
        return; // reset by peer
      }
    }
  })();
  try {
    await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
    await read.catch(() => {});
  }
}

async function rawConnect(s: TestNsqd): Promise<Deno.TcpConn> {
  return await Deno.connect({ ...dialAddress(s.tcpAddress), transport: "tcp" });
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Every client is gone, and a fresh producer and consumer still work end to end. */
async function assertHealthy(s: TestNsqd): Promise<void> {
  await waitFor(() => s.nsqd.clients.size === 0, {
    timeoutMs: 10_000,
    message: `${s.nsqd.clients.size} clients still registered`,
  });
  const topic = uniqueName("healthy");
  await using p = await V2Conn.connect(s.tcpAddress);
  await p.pub(topic, "alive");
  await p.expectResponse("OK");
  await using c = await connectSub(s, topic, "ch", { rdy: 1 });
  const m = await c.expectMessage();
  assert.equal(new TextDecoder().decode(m.body), "alive");
  await c.fin(m.id);
  await p.pub(topic, "sync");
  await p.expectResponse("OK");
}

Deno.test("bad input: random bytes instead of the magic get E_BAD_PROTOCOL", async () => {
  await using s = await startNsqd({ logLevel: "warn" });
  const seed = 0x5eed1;
  const next = rng(seed);
  for (let i = 0; i < 50; i++) {
    const data = randomBytes(next, 4 + (next() % 2000));
    if (data[0] === 0x20 && data[1] === 0x20 && data[2] === 0x56 && data[3] === 0x32) continue;
    await using c = await V2Conn.connect(s.tcpAddress, { magic: false });
    await c.send(data);
    const f = await c.readFrame();
    assert.equal(f.type, FRAME_TYPE_ERROR, `seed ${seed} case ${i}`);
    assert.equal(f.text, "E_BAD_PROTOCOL");
    await c.expectClosed();
  }
  await assertHealthy(s);
});

Deno.test("bad input: random bytes after the magic never wedge nsqd", async () => {
  await using s = await startNsqd({ logLevel: "warn" });
  const seed = 0xbadbeef;
  const next = rng(seed);
  const conns = await Promise.all(Array.from({ length: 200 }, () => rawConnect(s)));
  await Promise.all(conns.map(async (conn, i) => {
    const n = next() % 8192;
    // a third starts with a plausible command name, to get past the first line sometimes
    const prefix = ["", "PUB t\n", "MPUB t\n", "IDENTIFY\n", "SUB t c\n", "DPUB t 1\n"][i % 6];
    try {
      await writeAll(conn, cat("  V2", prefix, randomBytes(next, n)));
      await conn.closeWrite();
    } catch { /* the server may already have closed on an early error */ }
    await drainUntilClosed(conn);
  }));
  await assertHealthy(s);
});

Deno.test("bad input: garbage after the magic is answered with E_INVALID and closed", async () => {
  await using s = await startNsqd();
  const cases: [Uint8Array, string][] = [
    [enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "E_INVALID invalid command GET"],
    [enc.encode("\0\0\0\0\n"), "E_INVALID invalid command \0\0\0\0"],
    [enc.encode("PUBX t\n"), "E_INVALID invalid command PUBX"],
    [enc.encode("  V2\n"), "E_INVALID invalid command "],
  ];
  for (const [raw, text] of cases) {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.send(raw);
    const f = await c.expectError("E_INVALID");
    assert.equal(f.text, text);
    await c.expectClosed();
  }
  await assertHealthy(s);
});

Deno.test("bad input: negative and huge sizes are refused without waiting for a body", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  const cases: [Uint8Array, string][] = [
    [cat(`PUB ${t}\n`, int32(-1)), "E_BAD_MESSAGE PUB invalid message body size -1"],
    [
      cat(`PUB ${t}\n`, int32(-2147483648)),
      "E_BAD_MESSAGE PUB invalid message body size -2147483648",
    ],
    [
      cat(`PUB ${t}\n`, int32(2147483647)),
      "E_BAD_MESSAGE PUB message too big 2147483647 > 1048576",
    ],
    [cat(`DPUB ${t} 5\n`, int32(-1)), "E_BAD_MESSAGE DPUB invalid message body size -1"],
    [
      cat(`DPUB ${t} 5\n`, int32(2147483647)),
      "E_BAD_MESSAGE DPUB message too big 2147483647 > 1048576",
    ],
    [cat(`MPUB ${t}\n`, int32(-1)), "E_BAD_BODY MPUB invalid body size -1"],
    [cat(`MPUB ${t}\n`, int32(2147483647)), "E_BAD_BODY MPUB body too big 2147483647 > 5242880"],
    [
      cat(`MPUB ${t}\n`, int32(100), int32(2147483647)),
      "E_BAD_BODY MPUB invalid message count 2147483647",
    ],
    [
      cat(`MPUB ${t}\n`, int32(100), int32(-2147483648)),
      "E_BAD_BODY MPUB invalid message count -2147483648",
    ],
    [
      cat(`MPUB ${t}\n`, int32(100), int32(1), int32(-1)),
      "E_BAD_MESSAGE MPUB invalid message(0) body size -1",
    ],
    [
      cat(`MPUB ${t}\n`, int32(100), int32(1), int32(2147483647)),
      "E_BAD_MESSAGE MPUB message too big 2147483647 > 1048576",
    ],
    [cat("IDENTIFY\n", int32(-1)), "E_BAD_BODY IDENTIFY invalid body size -1"],
    [cat("IDENTIFY\n", int32(2147483647)), "E_BAD_BODY IDENTIFY body too big 2147483647 > 5242880"],
    [enc.encode(`DPUB ${t} 99999999999999999999\n`), "E_INVALID DPUB timeout"],
    [enc.encode(`RDY 99999999999999999999\n`), "E_INVALID cannot RDY in current state"],
  ];
  for (const [raw, text] of cases) {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.send(raw);
    const f = await c.expectError(text.split(" ")[0], { timeoutMs: 2000 });
    assert.ok(f.text.startsWith(text), `got ${JSON.stringify(f.text)}, want ${text}`);
    await c.expectClosed();
  }
  assert.equal(s.nsqd.getExistingTopic(t)?.messageCount ?? 0, 0);
  await assertHealthy(s);
});

Deno.test("bad input: truncated commands publish nothing and release the client", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  const payload = new Uint8Array(1000).fill(0x61);
  const mpub = cat(
    int32(3),
    int32(10),
    payload.subarray(0, 10),
    int32(500),
    payload.subarray(0, 500),
  );
  const full = [
    encodeCommand("PUB", [t], payload),
    encodeCommand("DPUB", [t, "10"], payload),
    cat(`MPUB ${t}\n`, int32(mpub.length + 504), mpub, int32(500), payload.subarray(0, 500)),
    encodeCommand("IDENTIFY", [], JSON.stringify({ client_id: "x".repeat(500) })),
  ];
  let cuts = 0;
  for (const cmd of full) {
    // cut every command at a spread of points, including inside the size and the body
    for (const cut of [1, 3, 6, 8, 10, 14, 30, 200, cmd.length - 1]) {
      if (cut >= cmd.length) continue;
      const conn = await rawConnect(s);
      await writeAll(conn, cat("  V2", cmd.subarray(0, cut)));
      conn.close(); // abrupt close, not a half-close
      cuts++;
    }
  }
  assert.ok(cuts > 30);
  await waitFor(() => s.nsqd.clients.size === 0);
  assert.equal(s.nsqd.getExistingTopic(t)?.messageCount ?? 0, 0);
  await assertHealthy(s);
});

Deno.test("bad input: a client that declares a huge body and goes silent is closed by the read deadline", async () => {
  await using s = await startNsqd();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.identify({ heartbeat_interval: 1000 });
  await c.expectResponse("OK");
  const t0 = performance.now();
  await c.send(cat(`PUB ${uniqueName()}\n`, int32(1024 * 1024), "partial body"));
  await c.expectClosed(4000); // heartbeats skipped; no error frame
  const at = performance.now() - t0;
  assert.ok(at >= 1800 && at < 3500, `closed after ${at}ms`);
  await assertHealthy(s);
});

Deno.test("bad input: a consumer that stops reading is disconnected by the write deadline", async () => {
  await using s = await startNsqd({ logLevel: "warn" });
  const t = uniqueName();
  // heartbeat_interval 1000: a write pending longer than one interval closes the client
  const stalled = await rawConnect(s);
  let nopTimer: ReturnType<typeof setInterval> | undefined;
  try {
    await writeAll(
      stalled,
      cat(
        "  V2",
        encodeCommand(
          "IDENTIFY",
          [],
          JSON.stringify({ heartbeat_interval: 1000, msg_timeout: 1000 }),
        ),
        encodeCommand("SUB", [t, "ch"]),
        encodeCommand("RDY", ["2500"]),
      ),
    );
    const ch = () => s.nsqd.getExistingTopic(t)?.getExistingChannel("ch");
    await waitFor(() => (ch()?.clients.size ?? 0) === 1);
    // it keeps sending NOPs, so only the write deadline (not the read deadline) can close it
    const nop = encodeCommand("NOP");
    nopTimer = setInterval(() => stalled.write(nop).catch(() => clearInterval(nopTimer)), 200);
    // far more than the socket buffers hold, never read
    await using p = await V2Conn.connect(s.tcpAddress);
    const big = new Uint8Array(256 * 1024).fill(0x62);
    for (let i = 0; i < 10; i++) {
      await p.mpub(t, Array.from({ length: 16 }, () => big)); // 4 MiB: under --max-body-size
      await p.expectResponse("OK");
    }
    await waitFor(() => ch()!.clients.size === 0, {
      timeoutMs: 5000,
      message: "the stalled consumer is still connected",
    });
    // its unacknowledged messages come back after msg_timeout to a healthy consumer
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.sub(t, "ch");
    await c.expectResponse("OK");
    await c.rdy(2500);
    let got = 0;
    while (got < 160) {
      const m = await c.expectMessage({ timeoutMs: 5000 });
      await c.fin(m.id);
      got++;
    }
    assert.equal(got, 160);
  } finally {
    clearInterval(nopTimer);
    try {
      stalled.close();
    } catch { /* closed */ }
  }
  await assertHealthy(s);
});

Deno.test("bad input: 10k connections opened and dropped in batches", async () => {
  await using s = await startNsqd({ logLevel: "warn" });
  const total = 10_000;
  const batch = 500;
  const t0 = performance.now();
  const t = uniqueName();
  for (let done = 0; done < total; done += batch) {
    await Promise.all(Array.from({ length: batch }, async (_, i) => {
      const conn = await rawConnect(s);
      try {
        switch ((done + i) % 5) {
          case 0: // nothing at all
            break;
          case 1: // partial magic
            await writeAll(conn, enc.encode("  V"));
            break;
          case 2: // magic only
            await writeAll(conn, enc.encode("  V2"));
            break;
          case 3: // magic and a partial command
            await writeAll(conn, enc.encode(`  V2PUB ${t}\n\0\0`));
            break;
          case 4: // subscribed consumer
            await writeAll(
              conn,
              cat("  V2", encodeCommand("SUB", [t, "ch"]), encodeCommand("RDY", ["5"])),
            );
            break;
        }
      } finally {
        conn.close();
      }
    }));
  }
  await waitFor(() => s.nsqd.clients.size === 0, {
    timeoutMs: 15_000,
    message: `${s.nsqd.clients.size} clients left`,
  });
  const elapsed = performance.now() - t0;
  assert.ok(elapsed < 30_000, `took ${elapsed}ms`);
  assert.equal(s.nsqd.getExistingTopic(t)?.getExistingChannel("ch")?.clients.size ?? 0, 0);
  await assertHealthy(s);
});
