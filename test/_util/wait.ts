/**
 * Polling with a deadline, so tests never sleep-then-assert (docs/architecture.md#conventions).
 *
 * @module
 */

/** Options for {@linkcode waitFor}. */
export interface WaitForOptions {
  /** Give up after this many milliseconds (default 5000). */
  timeoutMs?: number;
  /** Pause between polls in milliseconds (default 10). */
  intervalMs?: number;
  /** Names what was awaited; appended to the timeout error. */
  message?: string;
}

/**
 * Resolves as soon as `cond()` returns (or resolves to) true; rejects with an Error naming
 * `opts.message` when `opts.timeoutMs` passes first. `cond` is always evaluated at least once and
 * once more right at the deadline; an exception thrown by `cond` rejects immediately.
 *
 * Every poll pause is a `setTimeout` that has fired or been cleared by the time this settles, so
 * callers pass `deno test --sanitize-ops`.
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  opts: WaitForOptions = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 10;
  if (!(timeoutMs >= 0)) throw new RangeError(`Invalid waitFor timeout: ${timeoutMs}`);
  if (!(intervalMs >= 0)) throw new RangeError(`Invalid waitFor interval: ${intervalMs}`);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    const remaining = deadline - performance.now();
    if (remaining <= 0) {
      const what = opts.message ? `: ${opts.message}` : "";
      throw new Error(`waitFor timed out after ${timeoutMs}ms${what}`);
    }
    await delay(Math.min(intervalMs, remaining));
  }
}

/** A plain pause whose timer is always gone when it resolves. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      clearTimeout(timer);
      resolve();
    }, ms);
  });
}
