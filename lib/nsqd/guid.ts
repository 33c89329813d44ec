/**
 * Message ids (docs/nsqd.md#message-ids): a snowflake-like 64-bit GUID per topic, rendered as 16
 * hex chars.
 *
 * `id = ((ts − EPOCH) << 22) | (nodeId << 12) | sequence`, where `ts` is wall-clock ns >> 20
 * (≈1.05 ms ticks) and `sequence` counts 0..4095 within a tick.
 *
 * Where Go nsqd sleeps and retries (clock went backwards, sequence exhausted: nsq issue #1124
 * stalls publishing), this factory never blocks: it keeps a logical tick that never goes
 * backwards and borrows the next tick when a tick's 4096 ids are used up. Ids stay unique and
 * strictly increasing per topic; their embedded time may run up to a few ms ahead under a burst
 * of more than ~3.9M ids/s, and stands still while the wall clock is behind the last tick used.
 */

/** Twitter's snowflake epoch in 2^20-ns ticks, as nsqd uses it. */
const EPOCH_TICKS = 1288834974288;
const TICK_NS = 1048576;
const MAX_SEQUENCE = 4095;

import { wallNowMs } from "../internal/clock.ts";

const HEX_CODES = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

export class GuidFactory {
  readonly nodeId: number;
  #tick = -1;
  #seq = 0;
  /** Char codes of the id's top 52 bits for the current tick (13 hex digits). */
  #p: number[] = new Array(13).fill(48);

  constructor(nodeId: number) {
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > 1023) {
      throw new RangeError(`node id ${nodeId} out of range [0,1024)`);
    }
    this.nodeId = nodeId;
  }

  /** The next id as 16 lowercase hex chars. */
  next(): string {
    const now = Math.floor(wallNowMs() * 1e6 / TICK_NS);
    if (now > this.#tick) {
      this.#setTick(now);
    } else if (this.#seq < MAX_SEQUENCE) {
      this.#seq++;
    } else {
      this.#setTick(this.#tick + 1);
    }
    // One flat string per id (a concatenation would make a cons string to flatten on hashing).
    const p = this.#p, s = this.#seq;
    return String.fromCharCode(
      p[0],
      p[1],
      p[2],
      p[3],
      p[4],
      p[5],
      p[6],
      p[7],
      p[8],
      p[9],
      p[10],
      p[11],
      p[12],
      HEX_CODES[s >> 8],
      HEX_CODES[(s >> 4) & 15],
      HEX_CODES[s & 15],
    );
  }

  #setTick(tick: number): void {
    this.#tick = tick;
    this.#seq = 0;
    const t = tick - EPOCH_TICKS;
    // 64-bit id = t·2^22 + node·2^12 + seq. High word = t >> 10; low word's top 20 bits =
    // (t mod 2^10)·2^10 + node, i.e. 5 hex chars.
    const hi = Math.floor(t / 1024);
    const mid = ((t % 1024) * 1024 + this.nodeId) >>> 0;
    const hex = hi.toString(16).padStart(8, "0") + mid.toString(16).padStart(5, "0");
    for (let i = 0; i < 13; i++) this.#p[i] = hex.charCodeAt(i);
  }
}

/** Decodes a 16-hex-char id into its fields (tests and debugging). */
export function parseGuid(id: string): { tick: number; nodeId: number; sequence: number } {
  const v = BigInt("0x" + id);
  return {
    tick: Number(v >> 22n) + EPOCH_TICKS,
    nodeId: Number((v >> 12n) & 1023n),
    sequence: Number(v & 4095n),
  };
}
