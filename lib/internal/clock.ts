/**
 * A cheap clock for the hot path.
 *
 * `performance.now()` is an op call in Deno (it showed as ~8% of nsqd's CPU under load, called
 * per message for GUIDs, timestamps and in-flight deadlines). Here the first call in a
 * synchronous run reads the real clock and queues a microtask that invalidates it, so every
 * later call in the same run (e.g. the 200 messages of one MPUB, or one drain batch) reuses it.
 * Time is thus frozen within one run of JavaScript, which is what millisecond deadlines and
 * per-batch timestamps need.
 */
let cached = 0;
let valid = false;
const invalidate = (): void => {
  valid = false;
};

/** Monotonic milliseconds (performance.now() of the current synchronous run). */
export function monoNow(): number {
  if (!valid) {
    cached = performance.now();
    valid = true;
    queueMicrotask(invalidate);
  }
  return cached;
}

/** Wall-clock milliseconds since the epoch, with sub-millisecond precision. */
export function wallNowMs(): number {
  return performance.timeOrigin + monoNow();
}
