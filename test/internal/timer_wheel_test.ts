import assert from "node:assert/strict";
import { WHEEL_TICK_MS, WheelTimer } from "../../lib/internal/timer_wheel.ts";

/** Resolves when `cond()` holds, polling every few ms, or rejects after `ms`. */
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("timer wheel: fires once, not before its time, within a tick after it", async () => {
  const t0 = performance.now();
  let firedAt = 0;
  const t = new WheelTimer(() => firedAt = performance.now());
  t.schedule(60);
  assert.equal(t.scheduled, true);
  await until(() => firedAt > 0);
  assert.ok(firedAt - t0 >= 59, `fired after ${firedAt - t0} ms`);
  assert.ok(firedAt - t0 < 60 + WHEEL_TICK_MS + 500, `fired after ${firedAt - t0} ms`);
  assert.equal(t.scheduled, false);
});

Deno.test("timer wheel: cancel, re-schedule, and a callback cancelling a timer due with it", async () => {
  const fired: string[] = [];
  const a = new WheelTimer(() => fired.push("a"));
  const b = new WheelTimer(() => {
    fired.push("b");
    c.cancel(); // due in the same batch: must not fire
  });
  const c = new WheelTimer(() => fired.push("c"));
  const d = new WheelTimer(() => {
    fired.push("d");
    if (fired.filter((x) => x === "d").length < 3) d.schedule(10); // an interval
  });
  a.schedule(10);
  a.cancel();
  b.schedule(20);
  c.schedule(20);
  d.schedule(5);
  const e = new WheelTimer(() => fired.push("e"));
  e.schedule(1000);
  e.schedule(30); // re-scheduling moves it
  await until(() => fired.filter((x) => x === "d").length === 3 && fired.includes("e"));
  await new Promise((r) => setTimeout(r, 3 * WHEEL_TICK_MS));
  assert.equal(fired.includes("a"), false);
  assert.equal(fired.includes("c"), false);
  assert.equal(fired.filter((x) => x === "b").length, 1);
  assert.equal(fired.filter((x) => x === "e").length, 1);
  // Nothing is scheduled now: the sanitizer fails this test if the wheel kept a timer.
});

Deno.test("timer wheel: 10,000 entries share one runtime timer and all fire", async () => {
  let n = 0;
  const timers = Array.from({ length: 10_000 }, (_, i) => {
    const t = new WheelTimer(() => n++);
    t.schedule(i % 50);
    return t;
  });
  for (let i = 0; i < timers.length; i += 2) timers[i].cancel();
  await until(() => n === 5_000);
  await new Promise((r) => setTimeout(r, 3 * WHEEL_TICK_MS));
  assert.equal(n, 5_000);
});
