/**
 * Message ids (spec §4.6): a snowflake-like 64-bit GUID per topic, rendered as 16 hex chars.
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

const HEX3: string[] = Array.from({ length: 4096 }, (_, i) => i.toString(16).padStart(3, "0"));

export class GuidFactory {
  readonly nodeId: number;
  #tick = -1;
  #seq = 0;
  /** Hex of the id's top 52 bits for the current tick: 13 chars; the last 3 are the sequence. */
  #prefix = "";

  constructor(nodeId: number) {
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > 1023) {
      throw new RangeError(`node id ${nodeId} out of range [0,1024)`);
    }
    this.nodeId = nodeId;
  }

  /** The next id as 16 lowercase hex chars. */
  next(): string {
    const now = Math.floor((performance.timeOrigin + performance.now()) * 1e6 / TICK_NS);
    if (now > this.#tick) {
      this.#setTick(now);
    } else if (this.#seq < MAX_SEQUENCE) {
      this.#seq++;
    } else {
      this.#setTick(this.#tick + 1);
    }
    return this.#prefix + HEX3[this.#seq];
  }

  #setTick(tick: number): void {
    this.#tick = tick;
    this.#seq = 0;
    const t = tick - EPOCH_TICKS;
    // 64-bit id = t·2^22 + node·2^12 + seq. High word = t >> 10; low word's top 20 bits =
    // (t mod 2^10)·2^10 + node, i.e. 5 hex chars.
    const hi = Math.floor(t / 1024);
    const mid = ((t % 1024) * 1024 + this.nodeId) >>> 0;
    this.#prefix = hi.toString(16).padStart(8, "0") + mid.toString(16).padStart(5, "0");
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
