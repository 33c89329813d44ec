/**
 * The V8 settings nsqd runs with, however it is started.
 *
 * V8 reads its heap settings once, at start-up, so a running program cannot change them. The
 * compiled binary has them built in (`deno compile --v8-flags=...`, see deno.json) and `deno task
 * start` passes them; for a plain `deno run -A main.ts nsqd` the program arranges them itself:
 * on Linux, when the command line carries no `--v8-flags` and `DENO_V8_FLAGS` is unset, it
 * replaces itself (execve(2) through FFI: same pid, no parent left behind) with the same command
 * line and `DENO_V8_FLAGS` set. That costs one more runtime start (about 0.1 s). Without FFI
 * permission, on other systems, or with `NSQ_V8_FLAGS=` (empty) it runs on as it is.
 *
 * @module
 */

/**
 * V8's heap settings for nsqd (docs/performance.md#memory). `NSQ_V8_FLAGS` overrides them
 * ("" = V8's defaults).
 *
 * `--max-semi-space-size=1`: a 1 MB young generation. At equal throughput it keeps V8 from
 * growing its semi-spaces to 16 MB each under allocation pressure (nsqd allocates per message).
 *
 * Not here: `--heap-growing-percent=50` (a full GC once the heap grew by half) lowers the peak RSS
 * of HTTP publishing by a third (~150 to ~100 MB) but costs 15-25% more CPU per message at high
 * publish rates; operators who prefer memory set it through `NSQ_V8_FLAGS`.
 */
export const NSQD_V8_FLAGS = "--max-semi-space-size=1";

/** Why the process was not re-executed (for tests and logs), or "exec" just before it is. */
export type ReexecDecision =
  | "standalone"
  | "not-linux"
  | "flags-given"
  | "disabled"
  | "not-deno-run"
  | "no-permission"
  | "exec";

/** Decides, from the command line and environment, whether to re-execute with `flags`. */
export function reexecDecision(
  argv: readonly string[],
  env: { get(key: string): string | undefined },
  standalone: boolean,
  os: string,
): ReexecDecision {
  if (standalone) return "standalone";
  if (os !== "linux") return "not-linux";
  if (env.get("DENO_V8_FLAGS") !== undefined) return "flags-given";
  const wanted = env.get("NSQ_V8_FLAGS");
  if (wanted === "") return "disabled";
  if (argv[1] !== "run") return "not-deno-run";
  for (const a of argv) {
    if (a === "--") break;
    if (a === "--v8-flags" || a.startsWith("--v8-flags=")) return "flags-given";
  }
  return "exec";
}

/**
 * Re-executes this process with the V8 flags when {@linkcode reexecDecision} says so. Returns
 * only when it did not (the decision); on success the process image is replaced.
 */
export function ensureV8Flags(): ReexecDecision {
  let argv: string[];
  try {
    argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
    if (argv.at(-1) === "") argv.pop();
  } catch {
    return "no-permission";
  }
  const decision = reexecDecision(argv, Deno.env, Deno.build.standalone, Deno.build.os);
  if (decision !== "exec") return decision;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return "no-permission";
  const flags = Deno.env.get("NSQ_V8_FLAGS") ?? NSQD_V8_FLAGS;
  const env = { ...Deno.env.toObject(), DENO_V8_FLAGS: flags };
  execve(Deno.execPath(), argv, Object.entries(env).map(([k, v]) => `${k}=${v}`));
  return "no-permission"; // execve returned: it failed; run on unchanged
}

/** execve(2) through libc; returns only on failure. */
function execve(path: string, argv: string[], envp: string[]): void {
  let lib: Deno.DynamicLibrary<{
    execve: { parameters: ["buffer", "buffer", "buffer"]; result: "i32" };
  }>;
  try {
    lib = Deno.dlopen("libc.so.6", {
      execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
    });
  } catch {
    return;
  }
  const enc = new TextEncoder();
  const keep: Uint8Array[] = [];
  const cstr = (s: string) => {
    const b = enc.encode(s + "\0");
    keep.push(b);
    return b;
  };
  /** A NULL-terminated char* array. */
  const array = (items: string[]) => {
    const ptrs = new BigUint64Array(items.length + 1);
    items.forEach((s, i) => {
      ptrs[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(cstr(s))));
    });
    return new Uint8Array(ptrs.buffer);
  };
  lib.symbols.execve(cstr(path), array(argv), array(envp));
  lib.close();
}
