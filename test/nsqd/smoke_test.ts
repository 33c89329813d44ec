import assert from "node:assert/strict";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { V2Conn } from "../_util/wire.ts";
import { connectSub } from "../_util/protocol.ts";

Deno.test("smoke: pub then sub receives, FIN", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using p = await V2Conn.connect(s.tcpAddress);
  await p.pub(topic, "hello");
  await p.expectResponse("OK");
  await using c = await connectSub(s, topic, "ch", { rdy: 1 });
  // topic existed before the channel: messages published before the channel existed are kept
  // in the topic and flow once the channel is created
  const m = await c.expectMessage();
  assert.equal(new TextDecoder().decode(m.body), "hello");
  assert.equal(m.attempts, 1);
  await c.fin(m.id);
  await p.mpub(topic, ["a", "b", "c"]);
  await p.expectResponse("OK");
  await c.rdy(10);
  const got = [];
  for (let i = 0; i < 3; i++) got.push(new TextDecoder().decode((await c.expectMessage()).body));
  assert.deepEqual(got.sort(), ["a", "b", "c"]);
});
