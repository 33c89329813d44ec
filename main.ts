/**
 * `nsq <command> [flags]`: dispatch only. Each command lives in lib/cli/<command>.ts and exports
 * `run(args): Promise<number>` resolving with the process exit code.
 */
import { versionLine } from "./lib/version.ts";

interface Command {
  readonly summary: string;
  run(args: string[]): Promise<number>;
}

/** The commands of the `nsq` executable. Modules load on demand. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  nsqd: {
    summary: "the daemon that receives, queues and delivers messages",
    run: async (args) => {
      // V8 heap settings are fixed at start-up: re-executes itself with them when needed.
      (await import("./lib/cli/v8_flags.ts")).ensureV8Flags();
      return (await import("./lib/cli/nsqd.ts")).run(args);
    },
  },
  nsqlookupd: {
    summary: "the daemon that manages topology information",
    run: async (args) => (await import("./lib/cli/nsqlookupd.ts")).run(args),
  },
  nsqadmin: {
    summary: "the web UI and admin API of a cluster",
    run: async (args) => (await import("./lib/cli/nsqadmin.ts")).run(args),
  },
  dev: {
    summary: "nsqlookupd, nsqd and nsqadmin in one process, for local development",
    run: async (args) => {
      (await import("./lib/cli/v8_flags.ts")).ensureV8Flags();
      return (await import("./lib/cli/dev.ts")).run(args);
    },
  },
  nsq_tail: {
    summary: "print a topic's messages to stdout",
    run: async (args) => (await import("./lib/cli/tools.ts")).run("nsq_tail", args),
  },
  to_nsq: {
    summary: "publish stdin, split on a delimiter, to a topic",
    run: async (args) => (await import("./lib/cli/tools.ts")).run("to_nsq", args),
  },
  nsq_stat: {
    summary: "poll /stats and print a channel's aggregate rates and depths",
    run: async (args) => (await import("./lib/cli/tools.ts")).run("nsq_stat", args),
  },
  nsq_to_file: {
    summary: "archive topics to (rotated, optionally gzipped) files",
    run: async (args) => (await import("./lib/cli/tools.ts")).run("nsq_to_file", args),
  },
  nsq_to_http: {
    summary: "deliver a topic's messages as HTTP GET/POST requests",
    run: async (args) => (await import("./lib/cli/tools.ts")).run("nsq_to_http", args),
  },
  nsq_to_nsq: {
    summary: "re-publish topics to other nsqd",
    run: async (args) => (await import("./lib/cli/tools.ts")).run("nsq_to_nsq", args),
  },
};

/**
 * The argv `main` should see: when the executable was invoked under a command's name (a link
 * `nsq_tail` → the compiled `nsq`, or a copy so named), that name is the command, so
 * `nsq_tail -topic x` acts as `nsq nsq_tail -topic x`. `invokedAs` lists the names to look at:
 * the process's argv[0] (a symlink keeps its own name there) and its executable path (which
 * resolves symlinks, but names a renamed copy). Under `deno` (`deno run main.ts ...`) or as `nsq`
 * the args are used as they are.
 */
export function dispatchArgs(invokedAs: readonly string[], args: readonly string[]): string[] {
  for (const path of invokedAs) {
    const name = (path.split(/[\\/]/).pop() ?? "").replace(/\.exe$/i, "");
    if (name === "deno" || name === "nsq") return [...args];
    if (Object.hasOwn(COMMANDS, name)) return [name, ...args];
  }
  return [...args];
}

/** The top-level usage text. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) =>
    `  ${name.padEnd(width)}  ${c.summary}`
  );
  return `Usage: nsq <command> [flags]\n\nCommands:\n${lines.join("\n")}\n\n` +
    `Run 'nsq <command> -h' for a command's flags; 'nsq --version' for the version.\n`;
}

/** Runs `nsq` with `args` (without the executable name); resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined) {
    console.error(usage().trimEnd());
    return 2;
  }
  if (first === "-h" || first === "-help" || first === "--help" || first === "help") {
    console.log(usage().trimEnd());
    return 0;
  }
  if (first === "-version" || first === "--version" || first === "version") {
    console.log(versionLine("nsq"));
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (command === undefined) {
    console.error(`nsq: unknown command ${JSON.stringify(first)}\n\n${usage().trimEnd()}`);
    return 2;
  }
  return await command.run(rest);
}

if (import.meta.main) {
  const { default: process } = await import("node:process");
  Deno.exit(await main(dispatchArgs([process.argv0, Deno.execPath()], Deno.args)));
}
