import assert from "node:assert/strict";
import { NSQD_V8_FLAGS, reexecDecision } from "../../lib/cli/v8_flags.ts";

const env = (vars: Record<string, string>) => ({ get: (k: string) => vars[k] });
const run = ["/usr/bin/deno", "run", "-A", "main.ts", "nsqd", "--tcp-address", "127.0.0.1:0"];

Deno.test("v8 flags: `deno run main.ts nsqd` re-executes with DENO_V8_FLAGS on Linux", () => {
  assert.equal(reexecDecision(run, env({}), false, "linux"), "exec");
  assert.equal(
    reexecDecision(run, env({ NSQ_V8_FLAGS: "--max-semi-space-size=2" }), false, "linux"),
    "exec",
  );
});

Deno.test("v8 flags: no re-execution when the flags are already set or cannot be", () => {
  assert.equal(reexecDecision(run, env({}), true, "linux"), "standalone");
  assert.equal(reexecDecision(run, env({}), false, "darwin"), "not-linux");
  assert.equal(reexecDecision(run, env({ DENO_V8_FLAGS: "" }), false, "linux"), "flags-given");
  assert.equal(reexecDecision(run, env({ NSQ_V8_FLAGS: "" }), false, "linux"), "disabled");
  const given = ["deno", "run", "-A", "--v8-flags=--max-semi-space-size=1", "main.ts", "nsqd"];
  assert.equal(reexecDecision(given, env({}), false, "linux"), "flags-given");
  assert.equal(
    reexecDecision(["deno", "test", "-A", "x.ts"], env({}), false, "linux"),
    "not-deno-run",
  );
  // A program argument after `--` that looks like the flag is not one.
  const after = ["deno", "run", "-A", "main.ts", "--", "--v8-flags=x"];
  assert.equal(reexecDecision(after, env({}), false, "linux"), "exec");
});

Deno.test("v8 flags: `deno task start` and `deno task compile` pass the flags the re-execution sets", () => {
  const config = JSON.parse(
    Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)),
  ) as { tasks: Record<string, string> };
  for (const task of ["start", "compile"]) {
    assert.match(config.tasks[task], /--v8-flags=\S+/, task);
    const given = /--v8-flags=(\S+)/.exec(config.tasks[task])![1];
    assert.equal(given, NSQD_V8_FLAGS, task);
  }
  // Comma-separated V8 syntax, as DENO_V8_FLAGS and --v8-flags take it.
  for (const flag of NSQD_V8_FLAGS.split(",")) assert.match(flag, /^--[a-z-]+=\d+$/);
});
