/** .ci/run against a fake `npx` (and `deno`) on PATH: summary parsing and exit status. */
import assert from "node:assert/strict";

const SCRIPT = new URL("../../.ci/run", import.meta.url).pathname;

async function ciRun(fakeOutput: string, fakeStatus: number) {
  const dir = await Deno.makeTempDir({ prefix: "nsq_cli_ci_" });
  try {
    await Deno.writeTextFile(`${dir}/out.txt`, fakeOutput);
    for (const tool of ["npx", "deno"]) {
      await Deno.writeTextFile(
        `${dir}/${tool}`,
        `#!/usr/bin/env bash\necho "${tool} args: $*" >&2\ncat "${dir}/out.txt"\nexit ${fakeStatus}\n`,
      );
      await Deno.chmod(`${dir}/${tool}`, 0o755);
    }
    const out = await new Deno.Command("bash", {
      args: [SCRIPT],
      env: { PATH: `${dir}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}` },
      stdin: "null",
    }).output();
    const dec = new TextDecoder();
    const stdout = dec.decode(out.stdout);
    return { code: out.code, stdout, last: stdout.trimEnd().split("\n").at(-1) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(".ci/run: runs the README's `npx -y deno@2.9.6 task test`, prints N passed, M failed", async () => {
  let r = await ciRun("running 3 tests\nok | 12 passed | 0 failed (3s)\n", 0);
  assert.equal(r.code, 0);
  assert.equal(r.last, "12 passed, 0 failed");
  assert.match(r.stdout, /running 3 tests/); // the test output is passed through
  assert.match(r.stdout, /^npx args: -y deno@2\.9\.6 task test$/m); // exactly the README's command

  r = await ciRun("ok | 5 passed (12 steps) | 0 failed | 2 ignored (1s)\n", 0);
  assert.deepEqual([r.code, r.last], [0, "5 passed, 0 failed"]);

  r = await ciRun("FAILED | 10 passed (4 steps) | 2 failed (1 step) (3s)\n", 1);
  assert.deepEqual([r.code, r.last], [1, "10 passed, 2 failed"]);

  r = await ciRun("\x1b[32mok\x1b[0m | 7 passed | 0 failed (1s)\n", 0);
  assert.deepEqual([r.code, r.last], [0, "7 passed, 0 failed"]);
});

Deno.test(".ci/run: a missing summary or a failing deno fails", async () => {
  let r = await ciRun("error: Type checking failed.\n", 1);
  assert.equal(r.code, 1);
  assert.match(r.last ?? "", /no test summary found/);
  r = await ciRun("ok | 3 passed | 0 failed (1s)\n", 1);
  assert.deepEqual([r.code, r.last], [1, "3 passed, 0 failed"]);
});
