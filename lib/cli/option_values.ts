/**
 * Option values as text: what each option kind accepts on the command line (Go flag syntax) and
 * how it is printed as a --help default.
 */
import { parseLogLevel } from "../internal/log.ts";
import {
  type OptionKind,
  type OptionSpec,
  TLS_NOT_REQUIRED,
  TLS_REQUIRED,
  TLS_REQUIRED_EXCEPT_HTTP,
  TLS_VERSIONS,
  type TlsRequired,
} from "../internal/options.ts";
import { formatDuration, parseDuration } from "../internal/duration.ts";
import { goQuote, parseError, parseGoBool, parseGoFloat, parseGoInt } from "./flags.ts";

/** `--tls-required`: `tcp-https` (any case) or a Go boolean (any case); 0, 1 or 2. */
export function parseTlsRequired(text: string): TlsRequired {
  const s = text.toLowerCase();
  if (s === "tcp-https") return TLS_REQUIRED_EXCEPT_HTTP;
  return parseGoBool(s) ? TLS_REQUIRED : TLS_NOT_REQUIRED;
}

/**
 * `--tls-min-version`: `tls1.0` .. `tls1.3` (any case). The empty string means "keep the default"
 * (as in Go) and returns `undefined`. Go's `ssl3.0` is refused: Deno's TLS stack cannot do it.
 */
export function parseTlsMinVersion(text: string): string | undefined {
  const s = text.toLowerCase();
  if (s === "") return undefined;
  if (s in TLS_VERSIONS) return s;
  throw new RangeError(`unknown tlsVersionOption ${goQuote(s)}`);
}

/** Splits a comma-separated list, dropping empty items (`"a,,b"` → `["a", "b"]`). */
export function splitList(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** Checks list items against a row's `choices`. */
export function checkChoices<O>(spec: OptionSpec<O>, items: string[]): string[] {
  if (spec.choices === undefined) return items;
  for (const item of items) {
    if (!spec.choices.includes(item)) {
      throw new RangeError(`unknown value ${goQuote(item)} (want ${spec.choices.join(", ")})`);
    }
  }
  return items;
}

/** Descending order, as nsqd keeps e2e percentiles. */
export function sortDescending(values: number[]): number[] {
  return values.sort((a, b) => b - a);
}

/**
 * Parses one command-line occurrence of `spec`'s flag. Lists return the items of this occurrence
 * (the caller appends them); `tlsMinVersion` may return `undefined` (keep the default). Throws an
 * Error whose message follows Go's flag package (`parse error`, `value out of range`).
 */
export function parseOptionText<O>(spec: OptionSpec<O>, text: string): unknown {
  switch (spec.kind) {
    case "string":
      return text;
    case "int":
      return parseGoInt(text);
    case "float":
      return parseGoFloat(text);
    case "bool":
      return parseGoBool(text);
    case "duration":
      try {
        return parseDuration(text);
      } catch {
        throw parseError();
      }
    case "stringList":
      return checkChoices(spec, splitList(text));
    case "floatList":
      return text.split(",").map((s) => parseGoFloat(s.trim()));
    case "stringArray":
      return [text];
    case "logLevel":
      return parseLogLevel(text);
    case "tlsRequired":
      return parseTlsRequired(text);
    case "tlsMinVersion":
      return parseTlsMinVersion(text);
  }
}

/** Whether a kind is a boolean-style flag (given alone it means true). */
export function isBoolKind(kind: OptionKind): boolean {
  return kind === "bool" || kind === "tlsRequired";
}

/** The type word Go's `PrintDefaults` shows after the flag name (empty for booleans). */
export function helpTypeName(kind: OptionKind): string {
  switch (kind) {
    case "bool":
    case "tlsRequired":
      return "";
    case "string":
      return "string";
    case "int":
      return "int";
    case "float":
      return "float";
    case "duration":
      return "duration";
    default:
      return "value";
  }
}

/**
 * The ` (default ...)` suffix Go's `PrintDefaults` adds, or "" when the default is the type's
 * zero value (Go omits it then). Strings are quoted, durations print Go-style (`1m0s`).
 */
export function helpDefault(kind: OptionKind, value: unknown): string {
  switch (kind) {
    case "string":
      return value === "" ? "" : ` (default ${goQuote(value as string)})`;
    case "int":
    case "float":
      return value === 0 ? "" : ` (default ${value})`;
    case "bool":
      return value === true ? " (default true)" : "";
    case "duration":
      return value === 0 ? "" : ` (default ${formatDuration(value as number)})`;
    case "stringList":
    case "floatList":
    case "stringArray": {
      const items = value as unknown[];
      return items.length === 0 ? "" : ` (default ${items.join(",")})`;
    }
    case "logLevel":
      return ` (default ${value})`;
    case "tlsRequired":
      return value === TLS_NOT_REQUIRED
        ? ""
        : ` (default ${value === TLS_REQUIRED ? "true" : "tcp-https"})`;
    case "tlsMinVersion":
      return ` (default ${value})`;
  }
}
