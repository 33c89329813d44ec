/**
 * Protocol V2 command execution, driven through the real read loop (`serveV2`) over a fake
 * connection: every iteration hands one read's worth of bytes to the loop and waits until it
 * asks for the next read, so the figures include parsing, validation, execution and the one
 * response flush per read. Topics and channels are `#ephemeral` (no disk).
 *
 *   deno bench -A scripts/micro/protocol_v2_bench.ts
 *
 * Per-message cost = time per iteration / 200.
 *
 * @module
 */
import { encodeCmd } from "../_bench_common.ts";
import { serveV2 } from "../../lib/nsqd/protocol_v2.ts";
import type { Message } from "../../lib/nsqd/message.ts";
import { fakeClient, fakeNsqd } from "./_fakes.ts";

const N = 200;
const BODY = new Uint8Array(200);
const nsqd = fakeNsqd();

/** Starts a protocol V2 loop on a fake connection; `initial` is fed first. */
async function connection(initial: Uint8Array) {
  const { client, conn } = fakeClient(nsqd);
  const done = serveV2(nsqd, client, new Uint8Array(0));
  await conn.feed(initial);
  return { client, conn, done };
}

// ---- MPUB of 200 × 200 B into a topic without channels (stored, then emptied untimed) --------
const mpubTopic = "mpub#ephemeral";
const mpub = (() => {
  const body = new Uint8Array(4 + N * (4 + BODY.length));
  const dv = new DataView(body.buffer);
  dv.setUint32(0, N);
  for (let i = 0, off = 4; i < N; i++, off += 4 + BODY.length) dv.setUint32(off, BODY.length);
  return encodeCmd(`MPUB ${mpubTopic}`, body);
})();
const pubConn = await connection(new Uint8Array(0));

Deno.bench({
  name: "MPUB 200 × 200 B (one read)",
  group: "publish",
  baseline: true,
  async fn(b) {
    b.start();
    await pubConn.conn.feed(mpub);
    b.end();
    await nsqd.getTopic(mpubTopic).empty();
  },
});

// ---- 200 PUB commands in one read ------------------------------------------------------------
const pubs = (() => {
  const one = encodeCmd(`PUB ${mpubTopic}`, BODY);
  const all = new Uint8Array(one.length * N);
  for (let i = 0; i < N; i++) all.set(one, i * one.length);
  return all;
})();

Deno.bench({
  name: "200 × PUB 200 B (one read)",
  group: "publish",
  async fn(b) {
    b.start();
    await pubConn.conn.feed(pubs);
    b.end();
    await nsqd.getTopic(mpubTopic).empty();
  },
});

// ---- 200 FIN lines in one read -----------------------------------------------------------------
const finTopic = nsqd.getTopic("fin#ephemeral");
const sub = await connection(
  new TextEncoder().encode("SUB fin#ephemeral ch#ephemeral\nRDY 2500\n"),
);
const enc = new TextEncoder();

Deno.bench({
  name: "200 × FIN (one read)",
  group: "ack",
  async fn(b) {
    // Untimed: 200 deliveries to the subscribed client, so each FIN finds its message in flight.
    const msgs: Message[] = new Array(N);
    for (let i = 0; i < N; i++) {
      msgs[i] = finTopic.newMessage(BODY);
      finTopic.put(msgs[i]);
    }
    // A full output buffer makes the client wait for its (instant, but async) write.
    for (let i = 0; sub.client.inFlightCount < N && i < 1000; i++) await Promise.resolve();
    if (sub.client.inFlightCount !== N) throw new Error(`in flight ${sub.client.inFlightCount}`);
    let text = "";
    for (const m of msgs) text += `FIN ${m.id}\n`;
    const fins = enc.encode(text);
    b.start();
    await sub.conn.feed(fins);
    b.end();
    if (sub.client.finishCount % N !== 0) throw new Error("FINs were not all accepted");
  },
});
