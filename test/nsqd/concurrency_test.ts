/**
 * Concurrency: 4 publishers × 50k messages (MPUB batches) into one topic with 3 channels, each
 * channel consumed by 4 connections with mixed RDY (1, 10, 100, 2500). Every channel must
 * receive every message at least once; a duplicate is only allowed if a timeout or requeue
 * happened in that channel (docs/nsqd.md#fan-out, #delivery-guarantees: at least once).
 *
 * The consumers here are lean raw-socket clients (one read → parse every frame → one write of
 * all FINs), since nsqd and the clients share one event loop in this process.
 */
import assert from "node:assert/strict";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { encodeCommand, FRAME_TYPE_MESSAGE, FrameParser, V2Conn } from "../_util/wire.ts";
import { dialAddress } from "../../lib/internal/net_addr.ts";
import { waitFor } from "../_util/wait.ts";

const PUBLISHERS = 4;
const PER_PUBLISHER = 50_000;
const BATCH = 1000;
const TOTAL = PUBLISHERS * PER_PUBLISHER;
const CHANNELS = ["alpha", "beta", "gamma"];
const RDYS = [1, 10, 100, 2500];

/** A consumer counting deliveries per message index (the 4-byte big-endian body). */
class CountingConsumer {
  readonly counts: Uint8Array;
  deliveries = 0;
  #conn: Deno.TcpConn;
  #loop: Promise<void>;
  error: unknown = null;

  private constructor(conn: Deno.TcpConn, counts: Uint8Array) {
    this.#conn = conn;
    this.counts = counts;
    this.#loop = this.#run();
  }

  static async start(
    addr: string,
    topic: string,
    channel: string,
    rdy: number,
    counts: Uint8Array,
  ): Promise<CountingConsumer> {
    const conn = await Deno.connect({ ...dialAddress(addr), transport: "tcp" });
    conn.setNoDelay(true);
    const setup = new TextEncoder().encode("  V2");
    await writeAll(conn, setup);
    await writeAll(conn, encodeCommand("SUB", [topic, channel]));
    // wait for SUB's OK before RDY (read one frame synchronously)
    const parser = new FrameParser();
    const buf = new Uint8Array(64);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("closed during SUB");
      const frames = parser.push(buf.subarray(0, n));
      if (frames.length > 0) {
        assert.equal(frames[0].text, "OK");
        break;
      }
    }
    await writeAll(conn, encodeCommand("RDY", [String(rdy)]));
    return new CountingConsumer(conn, counts);
  }

  async #run(): Promise<void> {
    const parser = new FrameParser();
    const buf = new Uint8Array(256 * 1024);
    const nop = encodeCommand("NOP");
    for (;;) {
      let n: number | null;
      try {
        n = await this.#conn.read(buf);
      } catch {
        return; // closed locally
      }
      if (n === null) return;
      const frames = parser.push(buf.subarray(0, n));
      let fins = new Uint8Array(frames.length * 21);
      let off = 0;
      let extra: Uint8Array | null = null;
      for (const f of frames) {
        if (f.type === FRAME_TYPE_MESSAGE) {
          const m = f.message!;
          const idx = new DataView(m.body.buffer, m.body.byteOffset).getUint32(0);
          if (this.counts[idx] < 255) this.counts[idx]++;
          this.deliveries++;
          fins[off++] = 70; // F
          fins[off++] = 73; // I
          fins[off++] = 78; // N
          fins[off++] = 32;
          for (let i = 0; i < 16; i++) fins[off++] = m.id.charCodeAt(i);
          fins[off++] = 10;
        } else if (f.text === "_heartbeat_") {
          extra = nop;
        } else {
          this.error = new Error(`unexpected frame ${f.type} ${f.text}`);
        }
      }
      fins = fins.subarray(0, off);
      try {
        if (off > 0) await writeAll(this.#conn, fins);
        if (extra) await writeAll(this.#conn, extra);
      } catch {
        return;
      }
    }
  }

  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    await this.#loop;
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

async function publisher(addr: string, topic: string, p: number): Promise<void> {
  await using c = await V2Conn.connect(addr);
  for (let start = 0; start < PER_PUBLISHER; start += BATCH) {
    const bodies: Uint8Array[] = [];
    for (let i = start; i < Math.min(start + BATCH, PER_PUBLISHER); i++) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, p * PER_PUBLISHER + i);
      bodies.push(b);
    }
    await c.mpub(topic, bodies);
    await c.expectResponse("OK", { timeoutMs: 15_000 });
  }
}

Deno.test("concurrency: 4 publishers × 50k, 3 channels × 4 consumers (RDY 1/10/100/2500): nothing lost", async () => {
  await using s = await startNsqd({ logLevel: "warn" });
  const topic = uniqueName("conc");
  const counts = new Map(CHANNELS.map((ch) => [ch, new Uint8Array(TOTAL)]));
  const consumers: { channel: string; c: CountingConsumer }[] = [];
  try {
    // channels (and their consumers) exist before anything is published
    for (const channel of CHANNELS) {
      for (const rdy of RDYS) {
        const c = await CountingConsumer.start(
          s.tcpAddress,
          topic,
          channel,
          rdy,
          counts.get(channel)!,
        );
        consumers.push({ channel, c });
      }
    }
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: PUBLISHERS }, (_, p) => publisher(s.tcpAddress, topic, p)),
    );
    const missing = (ch: string) => {
      const cs = counts.get(ch)!;
      let n = 0;
      for (let i = 0; i < TOTAL; i++) if (cs[i] === 0) n++;
      return n;
    };
    const delivered = (ch: string) =>
      consumers.filter((x) => x.channel === ch).reduce((n, x) => n + x.c.deliveries, 0);
    await waitFor(() => CHANNELS.every((ch) => delivered(ch) >= TOTAL && missing(ch) === 0), {
      timeoutMs: 25_000,
      intervalMs: 50,
      message: `delivered ${CHANNELS.map(delivered)}, missing ${CHANNELS.map(missing)}`,
    });
    const elapsed = performance.now() - t0;
    const t = s.nsqd.getTopic(topic);
    assert.equal(t.messageCount, TOTAL);
    for (const ch of CHANNELS) {
      const channel = t.getChannel(ch);
      await waitFor(() => channel.inFlightCount === 0 && channel.depth === 0, {
        message: `${ch}: in flight ${channel.inFlightCount}, depth ${channel.depth}`,
      });
      const dups = delivered(ch) - TOTAL;
      if (dups > 0) {
        assert.ok(
          channel.timeoutCount + channel.requeueCount > 0,
          `${ch}: ${dups} duplicates without any timeout or requeue`,
        );
      }
      assert.equal(channel.messageCount, TOTAL);
      // every consumer of the channel took part (RDY 1 included)
      for (const { c } of consumers.filter((x) => x.channel === ch)) {
        assert.ok(c.deliveries > 0, `${ch}: a consumer got nothing`);
      }
    }
    for (const { c } of consumers) assert.equal(c.error, null);
    console.log(
      `concurrency: ${TOTAL} msgs × ${CHANNELS.length} channels in ${elapsed.toFixed(0)}ms`,
    );
  } finally {
    await Promise.all(consumers.map(({ c }) => c.close()));
  }
});

Deno.test("concurrency: a consumer dropping mid-stream loses nothing (its in-flight messages time out)", async () => {
  await using s = await startNsqd({ logLevel: "warn" });
  const topic = uniqueName("churn");
  const total = 20_000;
  const counts = new Uint8Array(total);
  const stay = await CountingConsumer.start(s.tcpAddress, topic, "ch", 50, counts);
  // the dropper never FINs: it holds up to 500 messages, then disconnects
  const dropper = await V2Conn.connect(s.tcpAddress);
  await dropper.identify({ msg_timeout: 1000 });
  await dropper.expectResponse("OK");
  await dropper.sub(topic, "ch");
  await dropper.expectResponse("OK");
  await dropper.rdy(500);
  try {
    const pub = (async () => {
      await using c = await V2Conn.connect(s.tcpAddress);
      for (let start = 0; start < total; start += BATCH) {
        const bodies = Array.from({ length: BATCH }, (_, k) => {
          const b = new Uint8Array(4);
          new DataView(b.buffer).setUint32(0, start + k);
          return b;
        });
        await c.mpub(topic, bodies);
        await c.expectResponse("OK");
      }
    })();
    const held: number[] = [];
    while (held.length < 500) {
      const m = await dropper.expectMessage();
      held.push(new DataView(m.body.buffer, m.body.byteOffset).getUint32(0));
    }
    await dropper.close();
    await pub;
    const channel = s.nsqd.getTopic(topic).getChannel("ch");
    const missing = () => counts.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
    await waitFor(() => missing() === 0, {
      timeoutMs: 10_000,
      message: `missing ${missing()}`,
    });
    // the dropped messages came back through the timeout path, not on disconnect
    assert.ok(channel.timeoutCount >= 500, `timeouts ${channel.timeoutCount}`);
    for (const idx of held) assert.ok(counts[idx] >= 1);
    assert.equal(stay.deliveries, total, "the staying consumer saw each message once");
    await waitFor(() => channel.inFlightCount === 0 && channel.depth === 0);
  } finally {
    await dropper.close();
    await stay.close();
  }
});

Deno.test("concurrency: a 30k backlog (mostly on disk) published before any channel drains exactly once", async () => {
  await using s = await startNsqd({ logLevel: "warn", memQueueSize: 1000 });
  const topic = uniqueName("backlog");
  const total = 30_000;
  await Promise.all([0, 1, 2].map(async (p) => {
    await using c = await V2Conn.connect(s.tcpAddress);
    for (let start = 0; start < 10_000; start += BATCH) {
      const bodies = Array.from({ length: BATCH }, (_, k) => {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setUint32(0, p * 10_000 + start + k);
        return b;
      });
      await c.mpub(topic, bodies);
      await c.expectResponse("OK");
    }
  }));
  assert.equal(s.nsqd.getTopic(topic).depth, total);
  const counts = new Uint8Array(total);
  const consumers = await Promise.all(
    [1, 100, 2500].map((rdy) => CountingConsumer.start(s.tcpAddress, topic, "ch", rdy, counts)),
  );
  try {
    const missing = () => counts.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
    await waitFor(() => missing() === 0, { timeoutMs: 15_000, message: `missing ${missing()}` });
    const channel = s.nsqd.getTopic(topic).getChannel("ch");
    await waitFor(() => channel.inFlightCount === 0 && channel.depth === 0);
    assert.equal(consumers.reduce((n, c) => n + c.deliveries, 0), total, "duplicates");
    assert.equal(s.nsqd.getTopic(topic).depth, 0);
    for (const c of consumers) assert.equal(c.error, null);
  } finally {
    await Promise.all(consumers.map((c) => c.close()));
  }
});
