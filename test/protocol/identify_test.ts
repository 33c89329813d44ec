import assert from "node:assert/strict";
import { decodeIdentify, IDENTIFY_FIELDS } from "../../lib/protocol/identify.ts";

Deno.test("decodeIdentify: keys match case-insensitively, unknown keys and nulls are ignored", () => {
  assert.deepEqual(
    decodeIdentify('{"Client_ID":"a","HEARTBEAT_INTERVAL":1000,"extra":[1],"snappy":null}'),
    { client_id: "a", heartbeat_interval: 1000 },
  );
  assert.deepEqual(decodeIdentify("null"), {});
});

Deno.test("decodeIdentify: a wrong type, a fraction or an int32 overflow fails the whole body", () => {
  assert.deepEqual(decodeIdentify('{"client_id":5}'), null);
  assert.deepEqual(decodeIdentify('{"tls_v1":"true"}'), null);
  assert.deepEqual(decodeIdentify('{"msg_timeout":1000.0}'), null);
  assert.deepEqual(decodeIdentify('{"msg_timeout":1e3}'), null);
  assert.deepEqual(decodeIdentify('{"sample_rate":2147483648}'), null);
  assert.deepEqual(decodeIdentify("[]"), null);
  assert.deepEqual(decodeIdentify("{"), null);
});

Deno.test("IDENTIFY_FIELDS: the thirteen keys nsqd 1.3 reads", () => {
  assert.deepEqual(Object.keys(IDENTIFY_FIELDS).length, 13);
  assert.deepEqual(IDENTIFY_FIELDS.sample_rate, "int32");
});
