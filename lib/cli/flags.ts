/**
 * Command-line parsing with the syntax of Go's `flag` package, which nsqd and nsqlookupd use.
 *
 * - `-name` and `--name` are the same flag; `-name=value` or `-name value`.
 * - A boolean flag never consumes the next argument: `-name`, `-name=true|false|1|0|t|f|...`.
 * - Parsing stops at the first non-flag argument (or a lone `-`); `--` ends flags and is dropped.
 * - `-h`, `-help` and `--help` ask for usage unless a flag of that name is defined.
 *
 * The parser knows nothing about options: each definition brings a `parse` function that turns
 * the text into a value (throwing on bad input), so errors are reported in argv order with Go's
 * wording (`invalid value "abc" for flag -mem-queue-size: parse error`).
 */

/** One flag the parser accepts. */
export interface FlagDef {
  readonly name: string;
  /** Boolean-style (Go's `IsBoolFlag`): given alone it means `true`; a value needs `=`. */
  readonly isBool: boolean;
  /** Turns the argument text into a value; throws an Error whose message explains the problem. */
  parse(text: string): unknown;
}

/** A flag occurrence, in command-line order. */
export interface FlagUse {
  readonly name: string;
  /** The text given (`"true"` for a boolean given alone). */
  readonly text: string;
  /** What `FlagDef.parse` returned for `text`. */
  readonly value: unknown;
}

export interface FlagParseResult {
  /** Every flag occurrence in order (a repeated flag appears several times). */
  readonly uses: FlagUse[];
  /** Arguments after the flags (after the first non-flag argument or `--`). */
  readonly rest: string[];
  /** `-h` / `-help` was given: print usage and exit 0. */
  readonly help: boolean;
}

/** A command-line error; `message` is the one line Go's flag package prints. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

/** Go's `%q` for the strings we quote (close enough: JSON escaping of a string). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/**
 * Parses `argv` against `defs` (keyed by flag name) the way Go's `FlagSet.Parse` does.
 * Throws a `FlagError` on an unknown flag, a missing value, bad syntax or an unparsable value.
 */
export function parseFlags(
  argv: readonly string[],
  defs: ReadonlyMap<string, FlagDef>,
): FlagParseResult {
  const uses: FlagUse[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i];
    if (arg.length < 2 || arg[0] !== "-") break; // first non-flag argument (or a lone "-")
    let dashes = 1;
    if (arg[1] === "-") {
      dashes = 2;
      if (arg.length === 2) {
        i++; // "--" terminates the flags and is consumed
        break;
      }
    }
    i++;
    const body = arg.slice(dashes);
    if (body.length === 0 || body[0] === "-" || body[0] === "=") {
      throw new FlagError(`bad flag syntax: ${arg}`);
    }
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    const hasValue = eq !== -1;
    const def = defs.get(name);
    if (def === undefined) {
      if (name === "help" || name === "h") {
        // Like Go's ErrHelp: stop here, the caller prints usage and exits 0.
        return { uses, rest: argv.slice(i), help: true };
      }
      throw new FlagError(`flag provided but not defined: -${name}`);
    }
    let text: string;
    if (def.isBool) {
      text = hasValue ? body.slice(eq + 1) : "true";
      try {
        uses.push({ name, text, value: def.parse(text) });
      } catch (e) {
        throw new FlagError(
          hasValue
            ? `invalid boolean value ${goQuote(text)} for -${name}: ${errorText(e)}`
            : `invalid boolean flag ${name}: ${errorText(e)}`,
        );
      }
      continue;
    }
    if (hasValue) {
      text = body.slice(eq + 1);
    } else if (i < argv.length) {
      text = argv[i++];
    } else {
      throw new FlagError(`flag needs an argument: -${name}`);
    }
    try {
      uses.push({ name, text, value: def.parse(text) });
    } catch (e) {
      throw new FlagError(`invalid value ${goQuote(text)} for flag -${name}: ${errorText(e)}`);
    }
  }
  return { uses, rest: argv.slice(i), help: false };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------
// Value syntax of Go's strconv, as the flag package uses it.

/** Go's "parse error" (strconv.ErrSyntax as the flag package reports it). */
export function parseError(): TypeError {
  return new TypeError("parse error");
}

/** Go's "value out of range" (strconv.ErrRange as the flag package reports it). */
export function rangeError(): RangeError {
  return new RangeError("value out of range");
}

const TRUE_WORDS = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE_WORDS = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** `strconv.ParseBool`: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False. */
export function parseGoBool(text: string): boolean {
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  throw parseError();
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/**
 * `strconv.ParseInt(text, 0, 64)` as Go's Int/Int64 flags use it: an optional sign, then decimal,
 * `0x` hex, `0o` / leading-`0` octal or `0b` binary, with `_` allowed between digits when a base
 * prefix is used or the number is decimal. `base10` restricts to plain decimal (go-options' TOML
 * coercion uses base 10).
 */
export function parseGoInt(text: string, base10 = false): number {
  let s = text;
  let sign = 1n;
  if (s.startsWith("+") || s.startsWith("-")) {
    if (s[0] === "-") sign = -1n;
    s = s.slice(1);
  }
  if (s === "") throw parseError();
  let digits = s;
  let radix = 10;
  if (!base10 && s.length > 1 && s[0] === "0") {
    const p = s[1].toLowerCase();
    if (p === "x") [radix, digits] = [16, s.slice(2)];
    else if (p === "o") [radix, digits] = [8, s.slice(2)];
    else if (p === "b") [radix, digits] = [2, s.slice(2)];
    else [radix, digits] = [8, s.slice(1)];
  }
  const underscoreOk = !base10;
  if (underscoreOk && digits.includes("_")) {
    // Underscores only between digits (or right after a base prefix).
    const prefixed = digits !== s;
    const check = prefixed ? "_" + digits.replace(/^_/, "") : digits;
    if (/__|_$/.test(check) || (!prefixed && digits.startsWith("_"))) throw parseError();
    digits = digits.replaceAll("_", "");
  }
  const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[radix];
  if (digits === "" || !valid!.test(digits)) throw parseError();
  const prefix = radix === 16 ? "0x" : radix === 8 ? "0o" : radix === 2 ? "0b" : "";
  const n = sign * BigInt(prefix + digits);
  if (n > INT64_MAX || n < INT64_MIN) throw rangeError();
  return Number(n);
}

const FLOAT_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL_FLOATS: Readonly<Record<string, number>> = {
  inf: Infinity,
  "+inf": Infinity,
  "-inf": -Infinity,
  infinity: Infinity,
  "+infinity": Infinity,
  "-infinity": -Infinity,
  nan: NaN,
};

/** `strconv.ParseFloat(text, 64)` for decimal notation (plus inf / nan words). */
export function parseGoFloat(text: string): number {
  const special = SPECIAL_FLOATS[text.toLowerCase()];
  if (special !== undefined) return special;
  if (!FLOAT_RE.test(text)) throw parseError();
  const n = Number(text);
  if (!Number.isFinite(n)) throw rangeError();
  return n;
}
