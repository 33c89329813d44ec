/**
 * nsqd's gossip integration in process: off by default, the lookupd read paths answer exactly as
 * Go nsqd 1.3 (404 NOT_FOUND) and /ping stays OK; on, /ping says `NOK - ...` while no seed
 * answered, and /stats (text and JSON) shows the gossip state.
 */
import assert from "node:assert/strict";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";

async function get(url: string, method = "GET"): Promise<{ status: number; text: string }> {
  const r = await fetch(url, { method });
  return { status: r.status, text: await r.text() };
}

Deno.test("gossip off (default): lookupd paths are 404 NOT_FOUND as in Go nsqd 1.3", async () => {
  await using s = await startNsqd({ httpAddress: "127.0.0.1:0" });
  const base = `http://${s.httpAddress}`;
  for (const path of ["/lookup?topic=a", "/topics", "/channels?topic=a", "/nodes"]) {
    assert.deepEqual(await get(base + path), { status: 404, text: '{"message":"NOT_FOUND"}' });
  }
  assert.deepEqual(await get(base + "/lookup", "POST"), {
    status: 404,
    text: '{"message":"NOT_FOUND"}',
  });
  assert.deepEqual(await get(base + "/ping"), { status: 200, text: "OK" });
  assert.deepEqual(await get(base + "/config/gossip_address"), { status: 200, text: "" }); // raw Go string
  assert.doesNotMatch((await get(base + "/stats")).text, /Gossip/);
  assert.doesNotMatch((await get(base + "/stats?format=json")).text, /gossip/);
});

Deno.test("gossip on: /ping is NOK until a seed answers; /stats shows members; /lookup serves", async () => {
  await using a = await startNsqd({
    httpAddress: "127.0.0.1:0",
    gossipAddress: "127.0.0.1:0",
    logLevel: "warn",
  });
  const seed = `127.0.0.1:${a.nsqd.gossip!.port}`;
  // a seed nobody listens on: the join loop keeps retrying, /ping says why it is unhealthy
  const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = (dead.addr as Deno.NetAddr).port;
  dead.close();
  await using b = await startNsqd({
    httpAddress: "127.0.0.1:0",
    gossipAddress: "127.0.0.1:0",
    gossipSeedAddresses: [`127.0.0.1:${deadPort}`],
    logLevel: "fatal",
  });
  assert.deepEqual(await get(`http://${b.httpAddress}/ping`), {
    status: 500,
    text: "NOK - gossip not joined to any seed",
  });
  await using c = await startNsqd({
    httpAddress: "127.0.0.1:0",
    gossipAddress: "127.0.0.1:0",
    gossipSeedAddresses: [seed],
    logLevel: "warn",
  });
  await waitFor(async () => (await get(`http://${c.httpAddress}/ping`)).text === "OK", {
    message: "c joined",
  });
  const topic = uniqueName("g");
  a.nsqd.getTopic(topic).getChannel("ch");
  await waitFor(async () => {
    const r = await get(`http://${c.httpAddress}/lookup?topic=${topic}`);
    return r.status === 200 && JSON.parse(r.text).channels.includes("ch");
  }, { message: "topic and channel from a reach c" });
  const text = (await get(`http://${c.httpAddress}/stats`)).text;
  assert.match(text, new RegExp(`Gossip: ${c.nsqd.gossip!.name} OK`));
  assert.match(text, new RegExp(`${a.nsqd.gossip!.name} ${seed} alive`));
  const json = JSON.parse((await get(`http://${c.httpAddress}/stats?format=json`)).text);
  assert.equal(json.gossip.health, "OK");
  assert.equal(json.gossip.members.length, 2);
  assert.equal(json.health, "OK");
  // topic deletion travels as topic-
  a.nsqd.deleteExistingTopic(topic);
  await waitFor(async () => {
    const r = await get(`http://${c.httpAddress}/lookup?topic=${topic}`);
    return r.status === 200 && JSON.parse(r.text).producers.length === 0;
  }, { message: "topic- removes a's registration" });
});
