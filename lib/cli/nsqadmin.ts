/**
 * `nsq nsqadmin [flags]`: nsqadmin's flags (nsq's apps/nsqadmin/main.go), TOML config and
 * validation (nsqadmin.New()), then the daemon as a service.
 */
import type { Daemon } from "../internal/daemon.ts";
import type { Logger } from "../internal/log.ts";
import {
  defaultNsqadminOptions,
  type NsqadminOptions,
  nsqadminOptionTable,
  validateNsqadminOptions,
} from "../nsqadmin/options.ts";
import { runDaemonCommand, type RunDeps } from "./command.ts";
import {
  type CliOutcome,
  type CommandSpec,
  CONFIG_FLAG,
  parseCommandLine,
  VERBOSE_FLAG,
  VERSION_FLAG,
} from "./resolve.ts";

/** nsqadmin's command description: its option table, CLI-only flags, defaults and checks. */
export const nsqadminCommand: CommandSpec<NsqadminOptions> = {
  name: "nsqadmin",
  table: nsqadminOptionTable,
  metaFlags: [VERSION_FLAG, CONFIG_FLAG, VERBOSE_FLAG],
  defaults: defaultNsqadminOptions,
  validate: validateNsqadminOptions,
};

/** argv (after `nsqadmin`) → NsqadminOptions, or the exit to take. */
export function parseNsqadminArgs(argv: readonly string[]): CliOutcome<NsqadminOptions> {
  return parseCommandLine(nsqadminCommand, argv);
}

async function createNsqadmin(opts: NsqadminOptions, logger: Logger): Promise<Daemon> {
  const { Nsqadmin } = await import("../nsqadmin/nsqadmin.ts");
  return new Nsqadmin(opts, logger);
}

/** `nsq nsqadmin ...`: resolves the exit code once the daemon has stopped. */
export function run(
  args: readonly string[],
  deps: RunDeps<NsqadminOptions> = {},
): Promise<number> {
  return runDaemonCommand(nsqadminCommand, args, createNsqadmin, deps);
}
