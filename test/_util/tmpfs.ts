/**
 * A small tmpfs for full-disk tests: `mount -t tmpfs -o size=<n>m tmpfs <dir>`, which needs root
 * (CAP_SYS_ADMIN). {@linkcode tmpfsUnavailable} says once, at load time, why it cannot be used
 * here (tests pass it to `ignore` and print it), and {@linkcode withTmpfs} always unmounts.
 *
 * @module
 */

function run(cmd: string, args: string[]): { ok: boolean; err: string } {
  try {
    const out = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).outputSync();
    return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
  } catch (err) {
    return { ok: false, err: (err as Error).message };
  }
}

function probe(): string | null {
  if (Deno.build.os !== "linux") return "tmpfs tests need Linux";
  if (Deno.uid() !== 0) return "tmpfs tests need root (mount -t tmpfs)";
  const dir = Deno.makeTempDirSync({ prefix: "nsq_tmpfs_probe_" });
  try {
    const m = run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
    if (!m.ok) return `cannot mount a tmpfs here: ${m.err}`;
    run("umount", [dir]);
    return null;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Why a tmpfs cannot be mounted here, or null when it can. */
export const tmpfsUnavailable: string | null = probe();

if (tmpfsUnavailable !== null) console.warn(`skipping full-disk tests: ${tmpfsUnavailable}`);

/**
 * Mounts a `sizeMb` MB tmpfs on a fresh temp dir, runs `fn` with its path, then unmounts (lazily
 * if still busy) and removes the dir, whatever `fn` did.
 */
export async function withTmpfs<T>(sizeMb: number, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "nsq_tmpfs_" });
  try {
    const m = run("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", dir]);
    if (!m.ok) throw new Error(`mount tmpfs on ${dir}: ${m.err}`);
    try {
      return await fn(dir);
    } finally {
      if (!run("umount", [dir]).ok) run("umount", ["-l", dir]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Writes `dir/<name>` until the file system refuses (ENOSPC): 64 KiB, then 4 KiB, then 1-byte
 * writes, so no page is left. Returns the bytes written.
 */
export function fillUp(dir: string, name = "filler"): number {
  const f = Deno.openSync(`${dir}/${name}`, { write: true, create: true, truncate: true });
  let total = 0;
  try {
    for (const size of [65536, 4096, 1]) {
      const chunk = new Uint8Array(size);
      for (;;) {
        try {
          total += f.writeSync(chunk);
        } catch {
          break;
        }
      }
    }
  } finally {
    f.close();
  }
  return total;
}
