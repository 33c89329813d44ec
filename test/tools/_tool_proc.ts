/**
 * A tool as a real process: `deno run -A main.ts <tool> [flags]` with stdout and stderr collected
 * as they arrive, optional stdin, a stop by signal, and an exit always awaited (so the test
 * sanitizers hold). Lines are echoed when NSQ_TEST_LOG=1.
 *
 * @module
 */
import { waitFor } from "../_util/wait.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const ECHO = Deno.env.get("NSQ_TEST_LOG") === "1";

/** One running tool process. */
export class ToolProc implements AsyncDisposable {
  stdout = "";
  stderr = "";
  status: Deno.CommandStatus | null = null;
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>[];
  readonly #exited: Promise<Deno.CommandStatus>;
  readonly name: string;

  constructor(tool: string, args: string[], opts: { stdin?: boolean; bin?: string } = {}) {
    this.name = tool;
    const cmd = opts.bin !== undefined
      ? new Deno.Command(`${opts.bin}/${tool}`, {
        args,
        stdin: opts.stdin ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
      })
      : new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, tool, ...args],
        cwd: ROOT,
        stdin: opts.stdin ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      });
    this.#child = cmd.spawn();
    this.#pumps = [
      this.#pump(this.#child.stdout, (s) => this.stdout += s),
      this.#pump(this.#child.stderr, (s) => {
        this.stderr += s;
        if (ECHO) Deno.stderr.writeSync(new TextEncoder().encode(s));
      }),
    ];
    this.#exited = this.#child.status.then((s) => this.status = s);
  }

  async #pump(stream: ReadableStream<Uint8Array>, add: (s: string) => void): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of stream) add(dec.decode(chunk, { stream: true }));
  }

  /** Writes `data` to stdin and, with `close`, ends it. */
  async write(data: string | Uint8Array, close = false): Promise<void> {
    const w = this.#child.stdin.getWriter();
    await w.write(typeof data === "string" ? new TextEncoder().encode(data) : data);
    w.releaseLock();
    if (close) await this.#child.stdin.close();
  }

  /** Resolves with the exit code once the process has exited and its pipes are drained. */
  async wait(timeoutMs = 20_000): Promise<number> {
    await waitFor(() => this.status !== null, {
      timeoutMs,
      intervalMs: 20,
      message: `${this.name} exit\n${this.stderr}`,
    }).catch(async (e) => {
      this.kill("SIGKILL");
      await this.#exited;
      await Promise.all(this.#pumps);
      throw e;
    });
    await Promise.all(this.#pumps);
    return this.status!.code;
  }

  /** Sends `signal` if still running. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.status !== null) return;
    try {
      this.#child.kill(signal);
    } catch { /* already gone */ }
  }

  /** SIGTERM, then the exit code. */
  async stop(timeoutMs = 20_000): Promise<number> {
    this.kill("SIGTERM");
    return await this.wait(timeoutMs);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.status === null) this.kill("SIGKILL");
    await this.#exited;
    await Promise.all(this.#pumps);
  }
}

/** Runs a tool to completion. */
export async function runToolProc(
  tool: string,
  args: string[],
  opts: { stdin?: string; bin?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  await using p = new ToolProc(tool, args, { stdin: opts.stdin !== undefined, bin: opts.bin });
  if (opts.stdin !== undefined) await p.write(opts.stdin, true);
  const code = await p.wait(opts.timeoutMs);
  return { code, stdout: p.stdout, stderr: p.stderr };
}
