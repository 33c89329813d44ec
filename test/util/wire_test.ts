/**
 * Tests for the wire-level test client (test/_util/wire.ts) and waitFor (test/_util/wait.ts),
 * against a tiny fake server that replies with canned frames.
 */
import assert from "node:assert/strict";
import { waitFor } from "../_util/wait.ts";
import {
  decodeMessage,
  encodeCommand,
  encodeFrame,
  encodeMessage,
  encodeMpubBody,
  FRAME_TYPE_ERROR,
  FRAME_TYPE_MESSAGE,
  FRAME_TYPE_RESPONSE,
  FrameParser,
  V2Conn,
} from "../_util/wire.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Server side of one accepted connection: buffered exact reads. */
class ServerSide {
  conn: Deno.Conn;
  #buf = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  async #more(): Promise<void> {
    const chunk = new Uint8Array(4096);
    const n = await this.conn.read(chunk);
    if (n === null) throw new Error("client closed");
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
  }

  async bytes(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) await this.#more();
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  async line(): Promise<string> {
    for (;;) {
      const i = this.#buf.indexOf(0x0a);
      if (i >= 0) return dec.decode(await this.bytes(i + 1)).slice(0, -1);
      await this.#more();
    }
  }

  async sizedBody(): Promise<Uint8Array> {
    const size = new DataView((await this.bytes(4)).buffer).getUint32(0);
    return await this.bytes(size);
  }

  async write(...chunks: Uint8Array[]): Promise<void> {
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) off += await this.conn.write(c.subarray(off));
    }
  }

  /** Reads until the client closes (so the client's close is observed), then closes. */
  async drainAndClose(): Promise<void> {
    try {
      const chunk = new Uint8Array(4096);
      while ((await this.conn.read(chunk)) !== null) { /* discard */ }
    } catch {
      // reset by peer
    }
    this.conn.close();
  }
}

/** Runs `server` on the first accepted connection while `client` runs against the address. */
async function withFakeServer(
  server: (s: ServerSide) => Promise<void>,
  client: (addr: string) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const addr = `127.0.0.1:${listener.addr.port}`;
  const serverDone = (async () => {
    const conn = await listener.accept();
    listener.close();
    await server(new ServerSide(conn));
  })();
  try {
    await client(addr);
  } finally {
    await serverDone;
  }
}

function ok(): Uint8Array {
  return encodeFrame(FRAME_TYPE_RESPONSE, "OK");
}

const ID = "0123456789abcdef";

Deno.test("encodeCommand: line, params and sized body like go-nsq", () => {
  assert.equal(dec.decode(encodeCommand("SUB", ["t", "c"])), "SUB t c\n");
  assert.equal(dec.decode(encodeCommand("NOP")), "NOP\n");
  assert.deepEqual(
    encodeCommand("PUB", ["t"], "hi"),
    Uint8Array.from([...enc.encode("PUB t\n"), 0, 0, 0, 2, 0x68, 0x69]),
  );
  // An empty body is still sent with its zero size.
  assert.deepEqual(
    encodeCommand("AUTH", [], ""),
    Uint8Array.from([...enc.encode("AUTH\n"), 0, 0, 0, 0]),
  );
});

Deno.test("encodeMpubBody: count then sized bodies", () => {
  assert.deepEqual(
    encodeMpubBody(["a", Uint8Array.of(1, 2)]),
    Uint8Array.of(0, 0, 0, 2, 0, 0, 0, 1, 0x61, 0, 0, 0, 2, 1, 2),
  );
});

Deno.test("encodeMessage/decodeMessage round trip", () => {
  const ts = 1_700_000_000_123_456_789n;
  const bytes = encodeMessage({ timestamp: ts, attempts: 3, id: ID, body: "hello" });
  assert.equal(bytes.length, 26 + 5);
  assert.deepEqual([...bytes.subarray(8, 10)], [0, 3]);
  const m = decodeMessage(bytes);
  assert.equal(m.timestamp, ts);
  assert.equal(m.attempts, 3);
  assert.equal(m.id, ID);
  assert.equal(dec.decode(m.body), "hello");
  assert.throws(() => decodeMessage(new Uint8Array(25)), RangeError);
  assert.throws(
    () => encodeMessage({ timestamp: 0n, attempts: 1, id: "short", body: "" }),
    RangeError,
  );
});

Deno.test("FrameParser: frames split at every byte boundary and many per chunk", () => {
  const msg = encodeMessage({ timestamp: 42n, attempts: 1, id: ID, body: "body" });
  const stream = Uint8Array.from([
    ...encodeFrame(FRAME_TYPE_RESPONSE, "OK"),
    ...encodeFrame(FRAME_TYPE_ERROR, "E_INVALID bad"),
    ...encodeFrame(FRAME_TYPE_MESSAGE, msg),
    ...encodeFrame(FRAME_TYPE_RESPONSE, ""),
  ]);
  const check = (frames: ReturnType<FrameParser["push"]>) => {
    assert.deepEqual(frames.map((f) => [f.type, f.text]), [
      [0, "OK"],
      [1, "E_INVALID bad"],
      [2, "body"],
      [0, ""],
    ]);
    assert.equal(frames[2].message?.id, ID);
    assert.equal(frames[2].message?.timestamp, 42n);
  };
  // All at once.
  const all = new FrameParser();
  check(all.push(stream));
  assert.equal(all.buffered, 0);
  // Split into two at every position, and one byte at a time.
  for (let cut = 0; cut <= stream.length; cut++) {
    const p = new FrameParser();
    check([...p.push(stream.subarray(0, cut)), ...p.push(stream.subarray(cut))]);
  }
  const p = new FrameParser();
  const frames = [];
  for (const b of stream) frames.push(...p.push(Uint8Array.of(b)));
  check(frames);
});

Deno.test("FrameParser: grows for frames larger than its buffer", () => {
  const big = new Uint8Array(200_000).fill(0x61);
  const frame = encodeFrame(FRAME_TYPE_RESPONSE, big);
  const p = new FrameParser();
  const out = [];
  for (let i = 0; i < frame.length; i += 7000) out.push(...p.push(frame.subarray(i, i + 7000)));
  assert.equal(out.length, 1);
  assert.equal(out[0].data.length, 200_000);
});

Deno.test("FrameParser: rejects invalid sizes, types and short messages", () => {
  assert.throws(() => new FrameParser().push(Uint8Array.of(0, 0, 0, 3)), /Invalid frame size 3/);
  assert.throws(
    () => new FrameParser(1024).push(Uint8Array.of(0, 0, 8, 0)),
    /Invalid frame size 2048/,
  );
  assert.throws(() => new FrameParser().push(encodeFrame(3, "x")), /Invalid frame type 3/);
  assert.throws(() => new FrameParser().push(encodeFrame(FRAME_TYPE_MESSAGE, "short")), RangeError);
  // Frames before the bad one are delivered into `out`.
  const out: ReturnType<FrameParser["push"]> = [];
  assert.throws(() =>
    new FrameParser().push(Uint8Array.from([...ok(), ...encodeFrame(7, "")]), out)
  );
  assert.equal(out.length, 1);
});

Deno.test("V2Conn: magic, commands on the wire, responses, heartbeats, errors, messages", async () => {
  const msgBytes = encodeMessage({ timestamp: 7n, attempts: 1, id: ID, body: "payload" });
  await withFakeServer(async (s) => {
    assert.equal(dec.decode(await s.bytes(4)), "  V2");
    assert.equal(await s.line(), "IDENTIFY");
    assert.deepEqual(JSON.parse(dec.decode(await s.sizedBody())), { client_id: "x" });
    // Heartbeat first, then OK: expectResponse skips the heartbeat.
    await s.write(encodeFrame(FRAME_TYPE_RESPONSE, "_heartbeat_"), ok());
    assert.equal(await s.line(), "SUB topic chan");
    await s.write(ok());
    assert.equal(await s.line(), "RDY 10");
    // Two frames in one write, then a frame split in two writes.
    await s.write(Uint8Array.from([
      ...encodeFrame(FRAME_TYPE_MESSAGE, msgBytes),
      ...encodeFrame(FRAME_TYPE_ERROR, "E_FIN_FAILED FIN x failed"),
    ]));
    const split = encodeFrame(FRAME_TYPE_MESSAGE, msgBytes);
    await s.write(split.subarray(0, 11));
    assert.equal(await s.line(), `FIN ${ID}`);
    await s.write(split.subarray(11));
    assert.equal(await s.line(), `REQ ${ID} 1500`);
    assert.equal(await s.line(), `TOUCH ${ID}`);
    assert.equal(await s.line(), "NOP");
    assert.equal(await s.line(), "PUB t");
    assert.equal(dec.decode(await s.sizedBody()), "one");
    assert.equal(await s.line(), "MPUB t");
    assert.deepEqual(await s.sizedBody(), encodeMpubBody(["a", "bc"]));
    assert.equal(await s.line(), "DPUB t 250");
    assert.equal(dec.decode(await s.sizedBody()), "later");
    assert.equal(await s.line(), "AUTH");
    assert.equal(dec.decode(await s.sizedBody()), "secret");
    assert.equal(await s.line(), "CLS");
    await s.write(encodeFrame(FRAME_TYPE_RESPONSE, "CLOSE_WAIT"));
    await s.drainAndClose();
  }, async (addr) => {
    await using c = await V2Conn.connect(addr);
    await c.identify({ client_id: "x" });
    await c.expectResponse("OK");
    await c.sub("topic", "chan");
    await c.expectResponse("OK");
    await c.rdy(10);
    const m = await c.expectMessage();
    assert.deepEqual([m.id, m.attempts, m.timestamp, dec.decode(m.body)], [ID, 1, 7n, "payload"]);
    const e = await c.expectError("E_FIN_FAILED");
    assert.equal(e.text, "E_FIN_FAILED FIN x failed");
    await c.fin(ID);
    assert.equal((await c.expectMessage()).id, ID);
    await c.req(ID, 1500);
    await c.touch(ID);
    await c.nop();
    await c.pub("t", "one");
    await c.mpub("t", ["a", "bc"]);
    await c.dpub("t", 250, "later");
    await c.auth("secret");
    await c.cls();
    await c.expectResponse("CLOSE_WAIT");
  });
});

Deno.test("V2Conn: expectResponse returns a heartbeat only when asked", async () => {
  await withFakeServer(async (s) => {
    await s.bytes(4);
    await s.write(encodeFrame(FRAME_TYPE_RESPONSE, "_heartbeat_"));
    await s.drainAndClose();
  }, async (addr) => {
    await using c = await V2Conn.connect(addr);
    await c.expectResponse("_heartbeat_");
  });
});

Deno.test("V2Conn: mismatches fail with a description of the frame", async () => {
  await withFakeServer(async (s) => {
    await s.bytes(4);
    await s.write(
      encodeFrame(FRAME_TYPE_ERROR, "E_INVALID invalid command FOO"),
      ok(),
      ok(),
      encodeFrame(FRAME_TYPE_RESPONSE, "NOPE"),
    );
    await s.drainAndClose();
  }, async (addr) => {
    await using c = await V2Conn.connect(addr);
    await assert.rejects(
      c.expectResponse("OK"),
      /expected response "OK", got error "E_INVALID invalid command FOO"/,
    );
    await assert.rejects(c.expectError("E_INVALID"), /got response "OK"/);
    await assert.rejects(c.expectMessage(), /expected a message, got response "OK"/);
    await assert.rejects(c.expectClosed(1000), /expected the connection to close, got response/);
  });
});

Deno.test("V2Conn: a timed-out readFrame loses nothing", async () => {
  const release = Promise.withResolvers<void>();
  await withFakeServer(async (s) => {
    await s.bytes(4);
    await release.promise;
    await s.write(ok());
    await s.drainAndClose();
  }, async (addr) => {
    await using c = await V2Conn.connect(addr);
    await assert.rejects(c.readFrame(50), /no frame within 50ms/);
    await assert.rejects(c.expectResponse("OK", { timeoutMs: 20 }), /no frame within/);
    release.resolve();
    const f = await c.readFrame();
    assert.equal(f.type, FRAME_TYPE_RESPONSE);
    assert.equal(f.text, "OK");
  });
});

Deno.test("V2Conn: expectClosed after a fatal error; reads after close fail", async () => {
  await withFakeServer(async (s) => {
    assert.equal(dec.decode(await s.bytes(4)), "  V1");
    await s.write(encodeFrame(FRAME_TYPE_ERROR, "E_BAD_PROTOCOL"));
    s.conn.close();
  }, async (addr) => {
    await using c = await V2Conn.connect(addr, { magic: false });
    await c.send("  V1");
    await c.expectError("E_BAD_PROTOCOL");
    await c.expectClosed();
    await assert.rejects(c.readFrame(), /connection closed by server/);
  });
});

Deno.test("V2Conn: expectClosed times out while the server keeps the connection open", async () => {
  await withFakeServer(async (s) => {
    await s.bytes(4);
    await s.write(encodeFrame(FRAME_TYPE_RESPONSE, "_heartbeat_"));
    await s.drainAndClose();
  }, async (addr) => {
    const c = await V2Conn.connect(addr);
    await assert.rejects(c.expectClosed(100), /still open after 100ms/);
    await c.close();
    await c.close(); // idempotent
    await assert.rejects(c.readFrame(), /closed locally/);
  });
});

Deno.test("V2Conn: invalid framing from the server is reported", async () => {
  await withFakeServer(async (s) => {
    await s.bytes(4);
    await s.write(ok(), encodeFrame(9, "??"));
    await s.drainAndClose();
  }, async (addr) => {
    await using c = await V2Conn.connect(addr);
    await c.expectResponse("OK");
    await assert.rejects(c.readFrame(), /Invalid frame type 9/);
  });
});

Deno.test("V2Conn: connect to a closed port rejects", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  await assert.rejects(V2Conn.connect(`127.0.0.1:${port}`));
});

Deno.test("waitFor: resolves when the condition turns true (sync and async)", async () => {
  let n = 0;
  await waitFor(() => ++n >= 3, { intervalMs: 1 });
  assert.equal(n, 3);
  let m = 0;
  await waitFor(() => Promise.resolve(++m >= 2), { intervalMs: 1 });
  assert.equal(m, 2);
});

Deno.test("waitFor: times out with the message; condition errors propagate", async () => {
  const t0 = performance.now();
  await assert.rejects(
    waitFor(() => false, { timeoutMs: 60, intervalMs: 5, message: "never true" }),
    { message: "waitFor timed out after 60ms: never true" },
  );
  assert.ok(performance.now() - t0 >= 55);
  await assert.rejects(
    waitFor(() => {
      throw new Error("boom");
    }),
    /boom/,
  );
  await assert.rejects(waitFor(() => true, { timeoutMs: -1 }), RangeError);
});
