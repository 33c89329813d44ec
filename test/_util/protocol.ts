/**
 * Protocol V2 steps the nsqd tests repeat, on top of {@linkcode V2Conn}: a subscriber (connect,
 * optional IDENTIFY, SUB, optional RDY), a one-shot publisher, and assertions on fatal and
 * non-fatal errors and on frames that must not arrive.
 *
 * A target is a `host:port` or anything with a `tcpAddress` (an in-process `TestNsqd`, an
 * `NsqProc`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Frame, HEARTBEAT, V2Conn } from "./wire.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Where to connect: `host:port`, or a server that tells its TCP address. */
export type Target = string | { readonly tcpAddress: string | null };

function addressOf(target: Target): string {
  if (typeof target === "string") return target;
  if (target.tcpAddress === null) throw new TypeError("Target is not listening on TCP");
  return target.tcpAddress;
}

/** Options for {@linkcode connectSub}. */
export interface ConnectSubOptions {
  /** IDENTIFY body sent (and answered OK) before SUB. */
  identify?: Record<string, unknown>;
  /** RDY count sent after SUB (none by default). */
  rdy?: number;
}

/**
 * A fresh connection subscribed to `topic`/`channel`: connect, IDENTIFY if asked (OK), SUB (OK),
 * RDY if asked. The connection is closed when a step fails.
 */
export async function connectSub(
  target: Target,
  topic: string,
  channel = "ch",
  opts: ConnectSubOptions = {},
): Promise<V2Conn> {
  const c = await V2Conn.connect(addressOf(target));
  try {
    if (opts.identify) {
      await c.identify(opts.identify);
      await c.expectResponse("OK");
    }
    await c.sub(topic, channel);
    await c.expectResponse("OK");
    if (opts.rdy !== undefined) await c.rdy(opts.rdy);
    return c;
  } catch (err) {
    await c.close();
    throw err;
  }
}

/** Publishes `bodies` to `topic` over a fresh connection (PUB for one, MPUB otherwise); OK. */
export async function publishTo(target: Target, topic: string, ...bodies: string[]): Promise<void> {
  await using c = await V2Conn.connect(addressOf(target));
  if (bodies.length === 1) await c.pub(topic, bodies[0]);
  else await c.mpub(topic, bodies);
  await c.expectResponse("OK");
}

/** The next non-heartbeat frame is exactly the error `text` (bytes), then the server closes. */
export async function expectFatal(c: V2Conn, text: string | Uint8Array): Promise<void> {
  const want = typeof text === "string" ? enc.encode(text) : text;
  const f = await c.expectError(typeof text === "string" ? text : "E_");
  assert.deepEqual(
    f.data,
    want,
    `got ${JSON.stringify(f.text)}, want ${JSON.stringify(dec.decode(want))}`,
  );
  await c.expectClosed();
}

/** The next non-heartbeat frame is exactly the error `text`; the connection stays open. */
export async function expectNonFatal(c: V2Conn, text: string): Promise<void> {
  const f = await c.expectError(text);
  assert.equal(f.text, text);
}

/** Sends `raw` on a fresh connection and expects the fatal error `text`. */
export async function fatalOn(
  target: Target,
  raw: string | Uint8Array,
  text: string | Uint8Array,
): Promise<void> {
  await using c = await V2Conn.connect(addressOf(target));
  await c.send(raw);
  await expectFatal(c, text);
}

/** The next non-heartbeat frame if one arrives within `ms`, else null. */
export async function frameWithin(c: V2Conn, ms: number): Promise<Frame | null> {
  const deadline = performance.now() + ms;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return null;
    try {
      const f = await c.readFrame(left);
      if (f.type === 0 && f.text === HEARTBEAT) continue;
      return f;
    } catch (err) {
      if ((err as Error).message.startsWith("readFrame: no frame within")) return null;
      throw err;
    }
  }
}
