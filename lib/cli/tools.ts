/**
 * `nsq nsq_tail|to_nsq|nsq_stat|nsq_to_file|nsq_to_http|nsq_to_nsq [flags]`: each tool's option
 * table becomes Go-syntax flags (a bad flag prints Go's line and exits 2; `-h` prints usage and
 * exits 0; `--version` prints the version and exits 0), the tool's start-up checks print like
 * Go's `log.Fatal` and exit 1, SIGINT/SIGTERM abort the tool's signal, and the exit code is what
 * the tool resolves.
 *
 * @module
 */
import type { ToolIo, ToolSpec } from "../tools/tool.ts";
import { goLogLine } from "../tools/tool.ts";
import { type FlagDef, FlagError, parseFlags } from "./flags.ts";
import { renderUsage } from "./help.ts";
import { type Output, processOutput } from "./output.ts";
import { commandFlagDefs, type CommandSpec, resolveOptions, VERSION_FLAG } from "./resolve.ts";
import { versionLine } from "../version.ts";

/** Injection points for tests. */
export interface ToolDeps {
  output?: Output;
  /** Replaces the process's SIGINT/SIGTERM (tests abort it themselves). */
  signal?: AbortSignal;
  writeStdout?: (bytes: Uint8Array) => void;
  logLine?: (line: string) => void;
  stdin?: ReadableStream<Uint8Array>;
}

/** The outcome of parsing a tool's argv: run with options, or exit with output. */
export type ToolOutcome<O> =
  | { kind: "run"; options: O; given: Set<string> }
  | { kind: "exit"; code: number; stdout: string; stderr: string };

function toCommandSpec<O>(tool: ToolSpec<O>): CommandSpec<O> {
  return { name: tool.name, table: tool.table, metaFlags: [VERSION_FLAG], defaults: tool.defaults };
}

/** argv → the tool's options (flags > defaults; tools read no config file), or an exit. */
export function parseToolArgs<O>(tool: ToolSpec<O>, argv: readonly string[]): ToolOutcome<O> {
  const cmd = toCommandSpec(tool);
  const defs = commandFlagDefs(cmd);
  for (const [flag, check] of Object.entries(tool.flagChecks ?? {})) {
    const def = defs.get(flag);
    if (def === undefined) continue;
    const checked: FlagDef = {
      ...def,
      parse: (text) => {
        check(text);
        return def.parse(text);
      },
    };
    defs.set(flag, checked);
  }
  let parsed;
  try {
    parsed = parseFlags(argv, defs);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    return {
      kind: "exit",
      code: 2,
      stdout: "",
      stderr: `${e.message}\nRun 'nsq ${tool.name} -h' for usage.\n`,
    };
  }
  if (parsed.help) {
    return { kind: "exit", code: 0, stdout: renderUsage(cmd), stderr: "" };
  }
  const flags = new Map<string, unknown[]>();
  for (const use of parsed.uses) {
    const list = flags.get(use.name);
    if (list === undefined) flags.set(use.name, [use.value]);
    else list.push(use.value);
  }
  if (flags.get(VERSION_FLAG.flag)?.at(-1) === true) {
    return { kind: "exit", code: 0, stdout: versionLine(tool.name) + "\n", stderr: "" };
  }
  if (parsed.rest.length > 0) {
    // Go's tools ignore positional arguments except nsq_to_file, which refuses them.
    if (tool.name === "nsq_to_file") {
      return {
        kind: "exit",
        code: 1,
        stdout: "",
        stderr: goLogLine(`unknown arguments: [${parsed.rest.join(" ")}]`) + "\n",
      };
    }
  }
  const options = resolveOptions(cmd, flags, {});
  const given = new Set(flags.keys());
  const problem = tool.validate(options, given);
  if (problem !== undefined) {
    return { kind: "exit", code: 1, stdout: "", stderr: goLogLine(problem) + "\n" };
  }
  return { kind: "run", options, given };
}

const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM"];

/** Runs a tool with `args` (after its name); resolves the exit code. */
export async function runTool<O>(
  tool: ToolSpec<O>,
  args: readonly string[],
  deps: ToolDeps = {},
): Promise<number> {
  const output = deps.output ?? processOutput;
  const outcome = parseToolArgs(tool, args);
  if (outcome.kind === "exit") {
    if (outcome.stdout !== "") output.out(outcome.stdout);
    if (outcome.stderr !== "") output.err(outcome.stderr);
    return outcome.code;
  }
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  const listening: Deno.Signal[] = [];
  if (deps.signal === undefined) {
    for (const s of SIGNALS) {
      try {
        Deno.addSignalListener(s, onSignal);
        listening.push(s);
      } catch { /* signal not supported here */ }
    }
  }
  const signal = deps.signal ?? controller.signal;
  const io: ToolIo = {
    signal,
    writeStdout: deps.writeStdout ?? writeStdoutSync,
    logLine: deps.logLine ?? ((line) => output.err(line + "\n")),
    stdin: deps.stdin ?? Deno.stdin.readable,
  };
  try {
    return await tool.run(outcome.options, io);
  } finally {
    for (const s of listening) Deno.removeSignalListener(s, onSignal);
  }
}

function writeStdoutSync(bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/** The tools, keyed by name; modules load on demand. */
export const TOOL_LOADERS: Readonly<Record<string, () => Promise<ToolSpec<unknown>>>> = {
  nsq_tail: async () => (await import("../tools/nsq_tail.ts")).nsqTailTool as ToolSpec<unknown>,
  to_nsq: async () => (await import("../tools/to_nsq.ts")).toNsqTool as ToolSpec<unknown>,
  nsq_stat: async () => (await import("../tools/nsq_stat.ts")).nsqStatTool as ToolSpec<unknown>,
  nsq_to_file: async () =>
    (await import("../tools/nsq_to_file.ts")).nsqToFileTool as ToolSpec<unknown>,
  nsq_to_http: async () =>
    (await import("../tools/nsq_to_http.ts")).nsqToHttpTool as ToolSpec<unknown>,
  nsq_to_nsq: async () =>
    (await import("../tools/nsq_to_nsq.ts")).nsqToNsqTool as ToolSpec<unknown>,
};

/** `nsq <tool> ...`. */
export async function run(name: string, args: readonly string[]): Promise<number> {
  const load = TOOL_LOADERS[name];
  if (load === undefined) throw new RangeError(`unknown tool ${JSON.stringify(name)}`);
  return await runTool(await load(), args);
}
