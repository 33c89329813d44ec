/**
 * What every tool (`nsq nsq_tail`, `nsq to_nsq`, ...) declares and receives. A tool is an option
 * table plus a `run` function; lib/cli turns argv into the options (Go flag syntax, exit 2 on a bad
 * flag), prints the tool's validation error the way Go's `log.Fatal` does (exit 1), wires
 * SIGINT/SIGTERM to `io.signal` and exits with what `run` resolves.
 *
 * @module
 */
import type { OptionSpec } from "../internal/options.ts";

/** The process pieces a tool uses; tests inject their own. */
export interface ToolIo {
  /** Aborted on SIGINT / SIGTERM: the tool stops cleanly and resolves its exit code. */
  readonly signal: AbortSignal;
  /** Writes bytes to stdout (all of them, in order). */
  writeStdout(bytes: Uint8Array): void;
  /** Writes one finished line (no trailing newline) to stderr. */
  logLine(line: string): void;
  /** The process's stdin. */
  readonly stdin: ReadableStream<Uint8Array>;
}

/** A tool: its flags, their defaults, the start-up checks Go does, and the work. */
export interface ToolSpec<O> {
  /** The Go binary's name (`nsq_tail`): the subcommand, the version line and link dispatch. */
  readonly name: string;
  /** One-line summary for `nsq -h`. */
  readonly summary: string;
  /** Every flag, in Go's declaration order. */
  readonly table: readonly OptionSpec<O>[];
  /** Fresh defaults, as Go's flag declarations set them. */
  defaults(): O;
  /**
   * Per-flag value checks done while parsing (Go's `flag.Value.Set` errors, e.g. a bad
   * `--consumer-opt`): throw an Error whose message follows `invalid value "..." for flag -x: `.
   */
  readonly flagChecks?: Readonly<Record<string, (text: string) => void>>;
  /**
   * Go's start-up checks after parsing, in Go's order: the message `log.Fatal` prints (exit 1),
   * or undefined. `given` holds the flags present on the command line. May normalise `opts`.
   */
  validate(opts: O, given: ReadonlySet<string>): string | undefined;
  /** Runs until done or `io.signal`; resolves the exit code. */
  run(opts: O, io: ToolIo): Promise<number>;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** A line as Go's standard `log` package prints it (`2009/01/23 01:23:23 message`), local time. */
export function goLogLine(message: string, now = new Date()): string {
  return `${now.getFullYear()}/${pad(now.getMonth() + 1)}/${pad(now.getDate())} ` +
    `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())} ${message}`;
}

/** Go's `log.Printf` through `io`: one stderr line per call (multi-line text stays as is). */
export function goLog(io: ToolIo, message: string): void {
  io.logLine(goLogLine(message));
}

/** The message of an unknown thrown value. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const encoder = new TextEncoder();

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** nsq's addresses must not carry a scheme (`--nsqd-http-address error - ...`). */
export function checkNoScheme(addrs: readonly string[]): string | undefined {
  return addrs.some((a) => a.startsWith("http")) ? "address should not contain scheme" : undefined;
}
