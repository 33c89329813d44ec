/**
 * `--config file.toml`: loading the file and coercing its values the way go-options' `Resolve`
 * does for nsqd and nsqlookupd.
 *
 * Keys are the option table's config keys (`mem_queue_size`, `id`, `nsqlookupd_tcp_addresses`);
 * keys that match no option are ignored. Coercions:
 * - durations: a Go duration string (`"2s"`) or an integer meaning **milliseconds**;
 * - ints: an integer or a base-10 numeric string;
 * - string lists: an array or a comma-separated string; float lists likewise (sorted descending);
 * - bools: a boolean or a Go boolean string; an integer means non-zero = true (go-options inverts
 *   integers, `value == 0`; we do not copy that bug);
 * - strings: a string, or any scalar printed as text.
 *
 * `tls_required`, `tls_min_version` and `log_level` are pre-validated like apps/nsqd's
 * `config.Validate()`: a bad value fails with `failed parsing <key> <value>`.
 */
import { parse as parseToml } from "smol-toml";
import { parseLogLevel } from "../internal/log.ts";
import type { OptionSpec } from "../internal/options.ts";
import { parseDuration } from "../internal/duration.ts";
import { parseError, parseGoBool, parseGoFloat, parseGoInt } from "./flags.ts";
import {
  checkChoices,
  parseTlsMinVersion,
  parseTlsRequired,
  sortDescending,
  splitList,
} from "./option_values.ts";

/** The decoded config file: config key → TOML value. */
export type ConfigMap = Record<string, unknown>;

/** A config problem; the CLI logs `message` at fatal level and exits 1 (as Go's logFatal does). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Reads and decodes a TOML config file; throws ConfigError `failed to load config file ...`. */
export function loadConfigFile(path: string): ConfigMap {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new ConfigError(`failed to load config file ${path} - ${errorText(e)}`);
  }
  return parseConfigText(text, path);
}

/** Decodes TOML text (`path` only names the file in errors). */
export function parseConfigText(text: string, path = "<config>"): ConfigMap {
  try {
    return parseToml(text) as ConfigMap;
  } catch (e) {
    throw new ConfigError(`failed to load config file ${path} - ${errorText(e)}`);
  }
}

/** Keys that apps/nsqd validates before resolution (the message names the key and value). */
const PRE_VALIDATED = new Set(["tls_required", "tls_min_version", "log_level"]);

/** Go's `%v` for a TOML value in messages. */
function show(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(show).join(" ")}]`;
  return String(v);
}

/**
 * Coerces the TOML value `raw` for option `spec`. Returns the value to store, or `undefined` to
 * keep the default (an empty `tls_min_version`). Throws ConfigError naming the key and value.
 */
export function coerceConfigValue<O>(spec: OptionSpec<O>, raw: unknown): unknown {
  try {
    return coerce(spec, raw);
  } catch (e) {
    if (PRE_VALIDATED.has(spec.key)) {
      throw new ConfigError(`failed parsing ${spec.key} ${show(raw)}`);
    }
    throw new ConfigError(
      `option resolution failed to coerce ${show(raw)} for ${spec.key} - ${errorText(e)}`,
    );
  }
}

function invalidType(): TypeError {
  return new TypeError("invalid value type");
}

function isScalar(v: unknown): v is string | number | bigint | boolean {
  return typeof v === "string" || typeof v === "number" || typeof v === "bigint" ||
    typeof v === "boolean";
}

function toInt(raw: unknown): number {
  if (typeof raw === "bigint") return Number(raw);
  if (typeof raw === "number") {
    if (!Number.isInteger(raw)) throw invalidType();
    return raw;
  }
  if (typeof raw === "string") return parseGoInt(raw, true);
  throw invalidType();
}

function toFloat(raw: unknown): number {
  if (typeof raw === "number") return raw;
  if (typeof raw === "bigint") return Number(raw);
  if (typeof raw === "string") return parseGoFloat(raw.trim());
  throw invalidType();
}

function toStringItems(raw: unknown): string[] {
  if (typeof raw === "string") return splitList(raw);
  if (Array.isArray(raw)) {
    return raw.map((v) => {
      if (!isScalar(v)) throw invalidType();
      return String(v);
    }).filter((s) => s !== "");
  }
  throw invalidType();
}

function coerce<O>(spec: OptionSpec<O>, raw: unknown): unknown {
  switch (spec.kind) {
    case "string":
      if (!isScalar(raw)) throw invalidType();
      return String(raw);
    case "int":
      return toInt(raw);
    case "float":
      return toFloat(raw);
    case "bool":
      if (typeof raw === "boolean") return raw;
      if (typeof raw === "string") return parseGoBool(raw);
      if (typeof raw === "number" || typeof raw === "bigint") return Number(raw) !== 0;
      throw invalidType();
    case "duration":
      if (typeof raw === "string") {
        try {
          return parseDuration(raw);
        } catch {
          throw parseError();
        }
      }
      // TOML integers are milliseconds (go-options: "treat like ms").
      return toInt(raw);
    case "stringList":
      return checkChoices(spec, toStringItems(raw));
    case "stringArray":
      return toStringItems(raw);
    case "floatList":
      if (typeof raw === "string") return sortDescending(raw.split(",").map((s) => toFloat(s)));
      if (Array.isArray(raw)) return sortDescending(raw.map(toFloat));
      throw invalidType();
    case "logLevel":
      if (typeof raw !== "string") throw invalidType();
      return parseLogLevel(raw);
    case "tlsRequired":
      if (!isScalar(raw)) throw invalidType();
      return parseTlsRequired(String(raw));
    case "tlsMinVersion":
      if (!isScalar(raw)) throw invalidType();
      return parseTlsMinVersion(String(raw));
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
