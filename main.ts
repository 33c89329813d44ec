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
};

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
  Deno.exit(await main(Deno.args));
}
