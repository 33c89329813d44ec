/**
 * The shared shape of a daemon command (`nsq nsqd`, `nsq nsqlookupd`): resolve argv into
 * options, build the logger and the daemon, run it as a service, return the exit code.
 */
import type { Daemon } from "../internal/daemon.ts";
import { Logger, type LogLevel, type LogSink } from "../internal/log.ts";
import { type Output, processOutput } from "./output.ts";
import { type CommandSpec, parseCommandLine } from "./resolve.ts";
import { runService, type SignalSource } from "./service.ts";

/** Injection points for tests; production uses the defaults. */
export interface RunDeps<O> {
  /** Builds the daemon from resolved options (default: the real Nsqd / Nsqlookupd). */
  createDaemon?: (opts: O, logger: Logger) => Daemon | Promise<Daemon>;
  /** Defaults to the process's SIGINT / SIGTERM. */
  signals?: SignalSource;
  /** Usage, version and argument errors (default: process stdout / stderr). */
  output?: Output;
  /** Log lines (default: stderr). */
  logSink?: LogSink;
}

/** Options every daemon's options type has, used to build its logger. */
interface LoggedOptions {
  logLevel: LogLevel;
  logPrefix: string;
}

/** Resolves argv, then runs the daemon until a stop signal; resolves with the exit code. */
export async function runDaemonCommand<O extends LoggedOptions>(
  cmd: CommandSpec<O>,
  args: readonly string[],
  defaultFactory: (opts: O, logger: Logger) => Daemon | Promise<Daemon>,
  deps: RunDeps<O> = {},
): Promise<number> {
  const output = deps.output ?? processOutput;
  const outcome = parseCommandLine(cmd, args);
  if (outcome.kind === "exit") {
    if (outcome.stdout !== "") output.out(outcome.stdout);
    if (outcome.stderr !== "") output.err(outcome.stderr);
    return outcome.code;
  }
  const opts = outcome.options;
  const logger = new Logger(opts.logPrefix, opts.logLevel, deps.logSink);
  let daemon: Daemon;
  try {
    daemon = await (deps.createDaemon ?? defaultFactory)(opts, logger);
  } catch (e) {
    logger.fatal(`failed to instantiate ${cmd.name} - ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  return await runService(daemon, { name: cmd.name, logger, signals: deps.signals });
}
