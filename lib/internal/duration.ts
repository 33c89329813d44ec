/**
 * Go `time.Duration` text: parsing (`time.ParseDuration`) and printing (`Duration.String`).
 *
 * nsq-deno keeps durations as **milliseconds** (possibly fractional below 1 ms); Go keeps int64
 * nanoseconds. Both functions go through whole nanoseconds so that `300us`, `1.5h` and `1m0s`
 * round-trip exactly as they do in Go.
 *
 * The one implementation for the whole program: flag and TOML values (lib/cli), `GET /stats` text
 * (`uptime`, `connected:`), nsqlookupd's and the HTTP layer's log lines, and the bench scripts'
 * flags and result lines.
 *
 * @module
 */

const NS_PER_MS = 1_000_000;

/** Nanoseconds per unit, as Go's time package names them. */
const UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n, // U+00B5 micro sign
  "μs": 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_NS = (1n << 63n) - 1n;

/**
 * Parses a Go duration (`60s`, `1m30s`, `250ms`, `1.5h`, `-2h45m`, `300us`, `0`) and returns
 * **nanoseconds** as a bigint. Throws a `RangeError` naming the input on bad syntax or overflow.
 */
export function parseDurationNanos(text: string): bigint {
  const bad = () => new RangeError(`time: invalid duration ${JSON.stringify(text)}`);
  let s = text;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s[0] === "-";
    s = s.slice(1);
  }
  // The special case "0" (no unit) is the only unit-less duration Go accepts.
  if (s === "0") return 0n;
  if (s === "") throw bad();

  let total = 0n;
  let i = 0;
  while (i < s.length) {
    // Integer part, then an optional fraction; at least one digit overall.
    const intStart = i;
    while (i < s.length && s[i] >= "0" && s[i] <= "9") i++;
    const intDigits = s.slice(intStart, i);
    let fracDigits = "";
    let hasDot = false;
    if (s[i] === ".") {
      hasDot = true;
      i++;
      const fracStart = i;
      while (i < s.length && s[i] >= "0" && s[i] <= "9") i++;
      fracDigits = s.slice(fracStart, i);
    }
    if (intDigits === "" && fracDigits === "") throw bad();
    if (hasDot && intDigits === "" && fracDigits === "") throw bad();

    // Unit: everything up to the next digit or dot.
    const unitStart = i;
    while (i < s.length && s[i] !== "." && !(s[i] >= "0" && s[i] <= "9")) i++;
    const unitName = s.slice(unitStart, i);
    if (unitName === "") {
      throw new RangeError(`time: missing unit in duration ${JSON.stringify(text)}`);
    }
    const unit = UNITS[unitName];
    if (unit === undefined) {
      throw new RangeError(
        `time: unknown unit ${JSON.stringify(unitName)} in duration ${JSON.stringify(text)}`,
      );
    }

    let value = BigInt(intDigits === "" ? "0" : intDigits) * unit;
    if (fracDigits !== "") {
      // Exact fraction: digits * unit / 10^len, truncated toward zero like Go.
      value += (BigInt(fracDigits) * unit) / 10n ** BigInt(fracDigits.length);
    }
    total += value;
    if (total > MAX_NS + (negative ? 1n : 0n)) throw bad();
  }
  return negative ? -total : total;
}

/** Parses a Go duration and returns milliseconds (fractional below 1 ms). Throws a `RangeError`. */
export function parseDuration(text: string): number {
  return Number(parseDurationNanos(text)) / NS_PER_MS;
}

/** Milliseconds → whole nanoseconds (how Go's JSON renders a `time.Duration`). */
export function millisToNanos(ms: number): number {
  return Math.round(ms * NS_PER_MS);
}

/** Formats `n` (≥ 0) divided by 10^prec with trailing zeros (and a bare dot) removed. */
function fixed(n: bigint, prec: number): string {
  const p = 10n ** BigInt(prec);
  const whole = n / p;
  let frac = (n % p).toString().padStart(prec, "0").replace(/0+$/, "");
  if (frac !== "") frac = "." + frac;
  return `${whole}${frac}`;
}

/** Formats nanoseconds like Go's `Duration.String()`: `1h0m0s`, `1m30s`, `2.5s`, `250ms`, `0s`. */
export function formatDurationNanos(ns: bigint): string {
  if (ns === 0n) return "0s";
  const sign = ns < 0n ? "-" : "";
  const u = ns < 0n ? -ns : ns;
  if (u < 1_000_000_000n) {
    // Below one second: a single unit with a fraction.
    if (u < 1_000n) return `${sign}${u}ns`;
    if (u < 1_000_000n) return `${sign}${fixed(u, 3)}µs`;
    return `${sign}${fixed(u, 6)}ms`;
  }
  const hours = u / UNITS.h;
  const minutes = (u % UNITS.h) / UNITS.m;
  const secNs = u % UNITS.m;
  let out = `${fixed(secNs, 9)}s`;
  if (hours > 0n || minutes > 0n) out = `${minutes}m${out}`;
  if (hours > 0n) out = `${hours}h${out}`;
  return sign + out;
}

/** Formats milliseconds like Go's `Duration.String()` (help defaults: `1m0s`, `250ms`, `1h0m0s`). */
export function formatDuration(ms: number): string {
  return formatDurationNanos(BigInt(millisToNanos(ms)));
}
