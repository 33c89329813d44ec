import assert from "node:assert/strict";
import {
  ClientError,
  errorCode,
  FatalClientError,
  NON_FATAL_ERROR_CODES,
} from "../../lib/protocol/errors.ts";

Deno.test("ClientError: the text on the wire is `CODE desc`; fatal only for FatalClientError", () => {
  const e = new ClientError("E_FIN_FAILED", "FIN 0123 failed not found");
  assert.deepEqual(e.message, "E_FIN_FAILED FIN 0123 failed not found");
  assert.deepEqual(e.fatal, false);
  const f = new FatalClientError("E_BAD_BODY", "IDENTIFY failed to read body", "unexpected EOF");
  assert.deepEqual(f.message, "E_BAD_BODY IDENTIFY failed to read body");
  assert.deepEqual(f.parent, "unexpected EOF");
  assert.ok(f instanceof ClientError);
  assert.deepEqual(f.fatal, true);
  assert.deepEqual(new FatalClientError("E_BAD_PROTOCOL", "").message, "E_BAD_PROTOCOL");
});

Deno.test("errorCode: the code of a received error text", () => {
  assert.deepEqual(errorCode("E_INVALID cannot SUB in current state"), "E_INVALID");
  assert.deepEqual(errorCode("E_BAD_PROTOCOL"), "E_BAD_PROTOCOL");
  assert.ok(NON_FATAL_ERROR_CODES.has(errorCode("E_REQ_FAILED REQ x failed")));
  assert.ok(!NON_FATAL_ERROR_CODES.has("E_INVALID"));
});
