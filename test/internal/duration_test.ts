import assert from "node:assert/strict";
import {
  formatDuration,
  formatDurationNanos,
  millisToNanos,
  parseDuration,
  parseDurationNanos,
} from "../../lib/internal/duration.ts";

Deno.test("parseDuration: Go duration syntax to milliseconds", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["60s", 60_000],
    ["1m30s", 90_000],
    ["250ms", 250],
    ["1h", 3_600_000],
    ["2h45m", 9_900_000],
    ["1.5h", 5_400_000],
    ["300us", 0.3],
    ["300µs", 0.3],
    ["300μs", 0.3],
    ["1500ns", 0.0015],
    [".5s", 500],
    ["5.s", 5000],
    ["-1m", -60_000],
    ["+2s", 2000],
    ["1h0m0s", 3_600_000],
    ["15m", 900_000],
    ["0s", 0],
    ["1.000000001s", 1000.000001],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

Deno.test("parseDuration: rejects what Go rejects", () => {
  for (const bad of ["", "abc", "10", "1x", "s", ".s", "1h-2m", "-", "1.2.3s", " 1s", "1 s"]) {
    assert.throws(() => parseDuration(bad), RangeError, JSON.stringify(bad));
  }
  assert.throws(() => parseDuration("10"), /missing unit/);
  assert.throws(() => parseDuration("1x"), /unknown unit "x"/);
  // int64 nanoseconds overflow
  assert.throws(() => parseDuration("9999999999h"), /invalid duration/);
  assert.equal(parseDurationNanos("2562047h47m16.854775807s"), 2n ** 63n - 1n);
});

Deno.test("formatDuration: Go's Duration.String()", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [60_000, "1m0s"],
    [250, "250ms"],
    [3_600_000, "1h0m0s"],
    [90_000, "1m30s"],
    [2000, "2s"],
    [2500, "2.5s"],
    [25, "25ms"],
    [900_000, "15m0s"],
    [600_000, "10m0s"],
    [300_000, "5m0s"],
    [45_000, "45s"],
    [0.3, "300µs"],
    [1.5, "1.5ms"],
    [-60_000, "-1m0s"],
    [9_900_000, "2h45m0s"],
    [3_723_500, "1h2m3.5s"],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
  assert.equal(formatDurationNanos(1n), "1ns");
  assert.equal(formatDurationNanos(1_100n), "1.1µs");
});

Deno.test("durations round-trip and convert to nanoseconds", () => {
  for (const text of ["1m0s", "250ms", "1h0m0s", "1h2m3.5s", "300µs", "2s"]) {
    assert.equal(formatDuration(parseDuration(text)), text);
  }
  assert.equal(millisToNanos(60_000), 60_000_000_000);
  assert.equal(millisToNanos(0.3), 300_000);
});
