/**
 * argv + `--config` TOML + defaults → a daemon's options, driven by its option table.
 *
 * Order, as Go's apps/nsqd `Start()`: parse flags (error → exit 2; `-h` → usage, exit 0);
 * `--version` → print, exit 0; load the TOML file; resolve every option with go-options' priority
 * (flag given on the command line > TOML value under its config key > default); validate.
 * Unlike go-options, "given on the command line" means the flag itself was parsed, not that its
 * name is a substring of some argument (Go's `hasArg` confuses `--tcp-address` with
 * `--lookupd-tcp-address`).
 */
import { Logger } from "../internal/log.ts";
import type { OptionSpec } from "../internal/options.ts";
import { versionLine } from "../version.ts";
import { coerceConfigValue, ConfigError, type ConfigMap, loadConfigFile } from "./config.ts";
import { type FlagDef, FlagError, parseFlags, parseGoBool } from "./flags.ts";
import { renderUsage } from "./help.ts";
import { isBoolKind, parseOptionText, sortDescending } from "./option_values.ts";

/** A command-line-only flag (not an option): `--config`, `--version`, deprecated no-ops. */
export interface MetaFlag {
  readonly flag: string;
  readonly kind: "string" | "bool";
  readonly help: string;
}

/** `--config` and `--version`, which every daemon has. */
export const CONFIG_FLAG: MetaFlag = {
  flag: "config",
  kind: "string",
  help: "path to config file",
};
export const VERSION_FLAG: MetaFlag = {
  flag: "version",
  kind: "bool",
  help: "print version string",
};
/** `--verbose`: accepted and ignored, as in Go. */
export const VERBOSE_FLAG: MetaFlag = {
  flag: "verbose",
  kind: "bool",
  help: "[deprecated] has no effect, use --log-level",
};

/** What a daemon command needs to turn argv into options. */
export interface CommandSpec<O> {
  /** Command name (`nsqd`): usage line, version line, messages. */
  readonly name: string;
  readonly table: readonly OptionSpec<O>[];
  /** CLI-only flags, listed first in --help under the first group. */
  readonly metaFlags: readonly MetaFlag[];
  /** Fresh defaults (the struct Go's NewOptions() returns). */
  defaults(): O;
  /**
   * Checks resolved options (may normalise them, e.g. tls-client-auth-policy implies
   * tls-required); returns the message of the first problem, or undefined.
   */
  validate?(opts: O): string | undefined;
}

/** The result of resolving argv: run the daemon, or exit with output. */
export type CliOutcome<O> =
  | { readonly kind: "run"; readonly options: O; readonly configFile: string }
  | {
    readonly kind: "exit";
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
  };

function exit<O>(code: number, stdout: string, stderr: string): CliOutcome<O> {
  return { kind: "exit", code, stdout, stderr };
}

/** One fatal log line, as Go's `lg.LogFatal(prefix, ...)` prints it. */
export function fatalLine(prefix: string, message: string): string {
  let line = "";
  new Logger(prefix, "fatal", (l) => line = l).fatal(message);
  return line;
}

/** The flag definitions of a command: its meta flags, then every option row. */
export function commandFlagDefs<O>(cmd: CommandSpec<O>): Map<string, FlagDef> {
  const defs = new Map<string, FlagDef>();
  for (const m of cmd.metaFlags) {
    defs.set(m.flag, {
      name: m.flag,
      isBool: m.kind === "bool",
      parse: m.kind === "bool" ? parseGoBool : (t) => t,
    });
  }
  for (const spec of cmd.table) {
    defs.set(spec.flag, {
      name: spec.flag,
      isBool: isBoolKind(spec.kind),
      parse: (t) => parseOptionText(spec, t),
    });
  }
  return defs;
}

/**
 * Resolves options from flag values, config values and defaults (priority in that order).
 * `flags` maps flag name → values in command-line order (already parsed); `config` is the decoded
 * TOML file. Throws ConfigError for a config value that cannot be coerced.
 */
export function resolveOptions<O>(
  cmd: CommandSpec<O>,
  flags: ReadonlyMap<string, unknown[]>,
  config: ConfigMap,
): O {
  const opts = cmd.defaults();
  const target = opts as Record<string, unknown>;
  for (const spec of cmd.table) {
    const given = flags.get(spec.flag);
    let value: unknown;
    if (given !== undefined && given.length > 0) {
      if (spec.kind === "stringList" || spec.kind === "floatList" || spec.kind === "stringArray") {
        // Repeatable: every occurrence adds its items.
        value = given.flatMap((v) => v as unknown[]);
      } else {
        value = given[given.length - 1]; // the last occurrence wins, as with Go's flag.Set
      }
    } else if (Object.hasOwn(config, spec.key)) {
      value = coerceConfigValue(spec, config[spec.key]);
    } else {
      continue;
    }
    if (value === undefined) continue; // e.g. an empty --tls-min-version keeps the default
    if (spec.kind === "floatList") value = sortDescending(value as number[]);
    target[spec.field] = value;
  }
  return opts;
}

/**
 * Turns `argv` (the arguments after the command name) into options, or into an exit with the
 * output to print: usage (exit 0), version (exit 0), a flag error (exit 2, one line plus
 * `Run 'nsq <cmd> -h' for usage.`), a config or validation error (exit 1, a fatal log line).
 */
export function parseCommandLine<O>(cmd: CommandSpec<O>, argv: readonly string[]): CliOutcome<O> {
  const defs = commandFlagDefs(cmd);
  let parsed;
  try {
    parsed = parseFlags(argv, defs);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    return exit(2, "", `${e.message}\nRun 'nsq ${cmd.name} -h' for usage.\n`);
  }
  if (parsed.help) return exit(0, renderUsage(cmd), "");

  const flags = new Map<string, unknown[]>();
  for (const use of parsed.uses) {
    const list = flags.get(use.name);
    if (list === undefined) flags.set(use.name, [use.value]);
    else list.push(use.value);
  }
  const last = (name: string) => flags.get(name)?.at(-1);

  if (last(VERSION_FLAG.flag) === true) return exit(0, versionLine(cmd.name) + "\n", "");

  const defaultPrefix = String((cmd.defaults() as Record<string, unknown>).logPrefix ?? "");
  const configFile = (last(CONFIG_FLAG.flag) as string | undefined) ?? "";
  let options: O;
  try {
    const config = configFile === "" ? {} : loadConfigFile(configFile);
    options = resolveOptions(cmd, flags, config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return exit(1, "", fatalLine(defaultPrefix, e.message) + "\n");
  }
  const problem = cmd.validate?.(options);
  if (problem !== undefined) {
    const prefix = String((options as Record<string, unknown>).logPrefix ?? defaultPrefix);
    return exit(1, "", fatalLine(prefix, problem) + "\n");
  }
  return { kind: "run", options, configFile };
}
