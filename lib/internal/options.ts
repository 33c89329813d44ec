/**
 * The options machinery every command shares: a command declares one table of `OptionSpec` rows,
 * and its command-line flags (Go flag syntax), TOML keys, `-h` text and `GET /config/:opt` all come
 * from that table (lib/cli parses with it; the daemons' HTTP APIs render with it). Defaults stay in
 * each command's `default...Options()`.
 */
import { LOG_LEVELS, type LogLevel } from "./log.ts";

/** `--tls-required`: Go stores 0 (not required), 1 (required), 2 (tcp-https). */
export type TlsRequired = 0 | 1 | 2;
export const TLS_NOT_REQUIRED: TlsRequired = 0;
export const TLS_REQUIRED: TlsRequired = 1;
export const TLS_REQUIRED_EXCEPT_HTTP: TlsRequired = 2;

/**
 * How an option is written on the command line and in TOML, and rendered by GET /config/:opt:
 * - `string`, `int`, `bool`: as Go's flag package; `int` renders as a JSON number.
 * - `duration`: Go duration text (`60s`); stored in ms; TOML integers mean ms; renders as ns.
 * - `float`: Go's Float64 flag (`strconv.ParseFloat`).
 * - `stringList` / `floatList`: repeatable flags, also comma-separated; TOML array or string.
 * - `stringArray`: repeatable flag kept verbatim, one item per occurrence, commas included (nsq's
 *   `app.StringArray`, which the tools use for `--consumer-opt max_in_flight,100`).
 * - `logLevel`: debug..fatal; renders as its number (LOG_LEVELS).
 * - `tlsRequired`: boolean-style flag that also accepts `tcp-https`; renders 0, 1 or 2.
 * - `tlsMinVersion`: `tls1.0`..`tls1.3`; renders as Go's uint16 (0x0301 = 769 ..).
 */
export type OptionKind =
  | "string"
  | "int"
  | "float"
  | "bool"
  | "duration"
  | "stringList"
  | "floatList"
  | "stringArray"
  | "logLevel"
  | "tlsRequired"
  | "tlsMinVersion";

/** One row of a daemon's option table. */
export interface OptionSpec<O> {
  /** Command-line flag name, without dashes (`mem-queue-size`). */
  readonly flag: string;
  /** The options field it sets. */
  readonly field: keyof O & string;
  /** TOML and GET /config/:opt key: the flag with `-` → `_` unless Go's `cfg` tag says otherwise. */
  readonly key: string;
  readonly kind: OptionKind;
  /** The options.go section it belongs to (a --help heading). */
  readonly group: string;
  /** Help text, as Go nsqd words it. */
  readonly help: string;
  /** Allowed values for string / stringList options checked while parsing. */
  readonly choices?: readonly string[];
}

/** `--tls-min-version` names and Go's `tls.Version*` numbers (GET /config/tls_min_version). */
export const TLS_VERSIONS: Readonly<Record<string, number>> = {
  "tls1.0": 0x0301,
  "tls1.1": 0x0302,
  "tls1.2": 0x0303,
  "tls1.3": 0x0304,
};

type Row<O> = Omit<OptionSpec<O>, "group" | "key"> & { key?: string };

/** Builds a group of rows; the config key defaults to the flag name with `-` → `_`. */
export function optionGroup<O>(group: string, rows: Row<O>[]): OptionSpec<O>[] {
  return rows.map((r) => ({ ...r, group, key: r.key ?? r.flag.replaceAll("-", "_") }));
}

/** The row whose config key is `key` (`mem_queue_size`, `id`, `nsqlookupd_tcp_addresses`). */
export function findOptionByKey<O>(
  table: readonly OptionSpec<O>[],
  key: string,
): OptionSpec<O> | undefined {
  return table.find((o) => o.key === key);
}

/**
 * An option's current value shaped like Go's `encoding/json` renders the Go field: durations in
 * nanoseconds, the log level as its number, `tls_required` as 0/1/2, `tls_min_version` as
 * Go's uint16, lists as arrays.
 */
export function optionJsonValue<O>(spec: OptionSpec<O>, opts: O): unknown {
  const v = opts[spec.field] as unknown;
  switch (spec.kind) {
    case "duration":
      return Math.round((v as number) * 1_000_000);
    case "logLevel":
      return LOG_LEVELS[v as LogLevel];
    case "tlsMinVersion":
      return TLS_VERSIONS[v as string] ?? 0;
    case "stringList":
    case "floatList":
    case "stringArray":
      return [...(v as unknown[])];
    default:
      return v;
  }
}

/** The OS hostname, or "localhost" where it cannot be read. */
export function osHostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}
