/**
 * One process-wide timer for many coarse per-connection deadlines (heartbeats, read deadlines):
 * a connection holds two small {@linkcode WheelTimer} objects instead of two runtime timers,
 * which in Deno cost about 1.2 KB each. Due times are rounded up to {@linkcode WHEEL_TICK_MS};
 * entries due in the same tick share a bucket, and a single `setTimeout` is armed for the
 * earliest bucket only, so an idle process with no entries holds no timer at all.
 *
 * @module
 */
import { monoNow } from "./clock.ts";

/** The wheel's resolution: a timer fires up to this much later than asked. */
export const WHEEL_TICK_MS = 25;

/** A re-armable entry of the shared wheel. */
export class WheelTimer {
  /** The tick it is due at, or -1 when not scheduled. */
  tick = -1;
  /** Bumped by every schedule/cancel: a firing batch skips entries changed meanwhile. */
  gen = 0;
  readonly fn: () => void;

  constructor(fn: () => void) {
    this.fn = fn;
  }

  /** (Re-)arms the timer to fire once, `ms` from now. */
  schedule(ms: number): void {
    wheel.schedule(this, ms);
  }

  /** Disarms the timer (idempotent). */
  cancel(): void {
    wheel.cancel(this);
  }

  get scheduled(): boolean {
    return this.tick !== -1;
  }
}

class TimerWheel {
  readonly #buckets = new Map<number, Set<WheelTimer>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The tick the armed `setTimeout` fires at (Infinity when none). */
  #armedTick = Infinity;

  schedule(t: WheelTimer, ms: number): void {
    this.cancel(t);
    const tick = Math.ceil((monoNow() + Math.max(0, ms)) / WHEEL_TICK_MS);
    t.tick = tick;
    let b = this.#buckets.get(tick);
    if (b === undefined) this.#buckets.set(tick, b = new Set());
    b.add(t);
    if (tick < this.#armedTick) this.#arm(tick);
  }

  cancel(t: WheelTimer): void {
    t.gen++;
    const tick = t.tick;
    if (tick === -1) return;
    t.tick = -1;
    const b = this.#buckets.get(tick);
    if (b === undefined) return;
    b.delete(t);
    if (b.size === 0) {
      this.#buckets.delete(tick);
      if (this.#buckets.size === 0) this.#disarm();
    }
  }

  #arm(tick: number): void {
    clearTimeout(this.#timer);
    this.#armedTick = tick;
    this.#timer = setTimeout(this.#fire, Math.max(0, tick * WHEEL_TICK_MS - monoNow()));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedTick = Infinity;
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#armedTick = Infinity;
    const now = Math.floor(monoNow() / WHEEL_TICK_MS);
    const due: WheelTimer[] = [];
    const gens: number[] = [];
    for (const [tick, b] of this.#buckets) {
      if (tick > now) continue;
      for (const t of b) {
        t.tick = -1;
        due.push(t);
        gens.push(t.gen);
      }
      this.#buckets.delete(tick);
    }
    // Arm for the next bucket before running callbacks (they may schedule or cancel).
    this.#armNext();
    for (let i = 0; i < due.length; i++) {
      const t = due[i];
      // A callback earlier in this batch may have re-armed or cancelled a later one.
      if (t.gen !== gens[i]) continue;
      try {
        t.fn();
      } catch (err) {
        // A timer callback must not take the others down with it.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  };

  #armNext(): void {
    let next = Infinity;
    for (const tick of this.#buckets.keys()) if (tick < next) next = tick;
    if (next === Infinity) this.#disarm();
    else if (next !== this.#armedTick) this.#arm(next);
  }
}

const wheel = new TimerWheel();
