/** main.ts dispatches on its own executable name: a link `nsq_tail` acts as `nsq nsq_tail`. */
import assert from "node:assert/strict";
import { COMMANDS, dispatchArgs } from "../../main.ts";

Deno.test("dispatchArgs: a link named after a command runs that command", () => {
  assert.deepEqual(dispatchArgs(["/usr/local/bin/nsq_tail"], ["-topic", "t"]), [
    "nsq_tail",
    "-topic",
    "t",
  ]);
  assert.deepEqual(dispatchArgs(["C:\\bin\\to_nsq.exe"], ["-topic=t"]), ["to_nsq", "-topic=t"]);
  assert.deepEqual(dispatchArgs(["/opt/nsqd"], []), ["nsqd"]);
  for (
    const tool of ["nsq_tail", "to_nsq", "nsq_stat", "nsq_to_file", "nsq_to_http", "nsq_to_nsq"]
  ) {
    assert.ok(Object.hasOwn(COMMANDS, tool), tool);
    assert.deepEqual(dispatchArgs([`/x/${tool}`], ["-h"]), [tool, "-h"]);
  }
});

Deno.test("dispatchArgs: a symlink keeps its name in argv[0] while the exec path resolves it", () => {
  assert.deepEqual(dispatchArgs(["./nsq_tail", "/usr/local/bin/nsq"], ["-n", "1"]), [
    "nsq_tail",
    "-n",
    "1",
  ]);
  // A renamed copy: argv[0] may be anything the caller chose, the exec path names it.
  assert.deepEqual(dispatchArgs(["x", "/opt/bin/nsq_to_file"], []), ["nsq_to_file"]);
});

Deno.test("dispatchArgs: deno, nsq or an unknown name keeps the args as they are", () => {
  assert.deepEqual(dispatchArgs(["deno", "/home/u/.deno/bin/deno"], ["nsqd", "-h"]), [
    "nsqd",
    "-h",
  ]);
  assert.deepEqual(dispatchArgs(["/usr/bin/nsq"], ["nsq_stat"]), ["nsq_stat"]);
  assert.deepEqual(dispatchArgs(["./my-nsq-build", "/usr/bin/my-nsq-build"], ["dev"]), ["dev"]);
  assert.deepEqual(dispatchArgs(["/usr/bin/toString"], ["x"]), ["x"]);
});
