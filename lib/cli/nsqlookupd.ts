/** `nsq nsqlookupd [flags]`: nsqlookupd's flags and TOML config, then the daemon as a service. */
import type { Daemon } from "../internal/daemon.ts";
import type { Logger } from "../internal/log.ts";
import {
  defaultNsqlookupdOptions,
  type NsqlookupdOptions,
  nsqlookupdOptionTable,
} from "../nsqlookupd/options.ts";
import { runDaemonCommand, type RunDeps } from "./command.ts";
import {
  type CliOutcome,
  type CommandSpec,
  CONFIG_FLAG,
  parseCommandLine,
  VERBOSE_FLAG,
  VERSION_FLAG,
} from "./resolve.ts";

/** nsqlookupd's command description: its option table, CLI-only flags and defaults. */
export const nsqlookupdCommand: CommandSpec<NsqlookupdOptions> = {
  name: "nsqlookupd",
  table: nsqlookupdOptionTable,
  metaFlags: [VERSION_FLAG, CONFIG_FLAG, VERBOSE_FLAG],
  defaults: defaultNsqlookupdOptions,
};

/** argv (after `nsqlookupd`) → NsqlookupdOptions, or the exit to take. */
export function parseNsqlookupdArgs(argv: readonly string[]): CliOutcome<NsqlookupdOptions> {
  return parseCommandLine(nsqlookupdCommand, argv);
}

async function createNsqlookupd(opts: NsqlookupdOptions, logger: Logger): Promise<Daemon> {
  const { Nsqlookupd } = await import("../nsqlookupd/nsqlookupd.ts");
  return new Nsqlookupd(opts, logger);
}

/** `nsq nsqlookupd ...`: resolves the exit code once the daemon has stopped. */
export function run(
  args: readonly string[],
  deps: RunDeps<NsqlookupdOptions> = {},
): Promise<number> {
  return runDaemonCommand(nsqlookupdCommand, args, createNsqlookupd, deps);
}
