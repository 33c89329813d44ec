/**
 * lib/protocol/command.ts: every client command byte for byte against the test suite's
 * independent encoder (test/_util/wire.ts, go-nsq's `Command.WriteTo` layout).
 */
import assert from "node:assert/strict";
import {
  authCommand,
  CLS_COMMAND,
  dpubCommand,
  finCommand,
  identifyCommand,
  MAGIC_V2,
  mpubCommand,
  NOP_COMMAND,
  pubCommand,
  rdyCommand,
  reqCommand,
  subCommand,
  touchCommand,
} from "../../lib/protocol/command.ts";
import { encodeCommand, encodeMpubBody } from "../_util/wire.ts";

const ID = "0123456789abcdef";

Deno.test("command: each command matches go-nsq's wire layout", () => {
  const body = new Uint8Array([0, 1, 2, 255]);
  assert.deepEqual(MAGIC_V2, new TextEncoder().encode("  V2"));
  assert.deepEqual(NOP_COMMAND, encodeCommand("NOP"));
  assert.deepEqual(CLS_COMMAND, encodeCommand("CLS"));
  assert.deepEqual(subCommand("t", "c#ephemeral"), encodeCommand("SUB", ["t", "c#ephemeral"]));
  assert.deepEqual(rdyCommand(0), encodeCommand("RDY", ["0"]));
  assert.deepEqual(rdyCommand(2500), encodeCommand("RDY", ["2500"]));
  assert.deepEqual(finCommand(ID), encodeCommand("FIN", [ID]));
  assert.deepEqual(reqCommand(ID, 90_000), encodeCommand("REQ", [ID, "90000"]));
  assert.deepEqual(reqCommand(ID, 12.7), encodeCommand("REQ", [ID, "12"]));
  assert.deepEqual(touchCommand(ID), encodeCommand("TOUCH", [ID]));
  assert.deepEqual(pubCommand("t", body), encodeCommand("PUB", ["t"], body));
  assert.deepEqual(pubCommand("t", "héllo"), encodeCommand("PUB", ["t"], "héllo"));
  assert.deepEqual(dpubCommand("t", 1500, "x"), encodeCommand("DPUB", ["t", "1500"], "x"));
  assert.deepEqual(
    mpubCommand("t", ["a", body, ""]),
    encodeCommand("MPUB", ["t"], encodeMpubBody(["a", body, ""])),
  );
  assert.deepEqual(authCommand("s3cret"), encodeCommand("AUTH", [], "s3cret"));
  const ident = identifyCommand({ client_id: "x", feature_negotiation: true });
  assert.deepEqual(
    ident,
    encodeCommand("IDENTIFY", [], '{"client_id":"x","feature_negotiation":true}'),
  );
  assert.throws(() => finCommand("short"), RangeError);
});

Deno.test("command: PUB's fast path equals the general encoding for every body shape", () => {
  const long = "é".repeat(3000);
  for (const body of ["", "x", "héllo ✓ 𝄞", long, new Uint8Array(0), new Uint8Array(70_000)]) {
    assert.deepEqual(
      pubCommand("topic_1#ephemeral", body),
      encodeCommand("PUB", ["topic_1#ephemeral"], body),
    );
  }
  assert.deepEqual(pubCommand("tøpic", "x"), encodeCommand("PUB", ["tøpic"], "x"));
});
