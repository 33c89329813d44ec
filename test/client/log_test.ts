/**
 * The client's log lines as go-nsq writes them, through GoNsqLogger: the sequence Go's own
 * nsq_tail prints (go-nsq behind Go's `log` package) for a consumer that connects with snappy and
 * is stopped, and a producer's lines.
 */
import assert from "node:assert/strict";
import { Consumer, GoNsqLogger, Producer } from "../../mod.ts";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";

const STAMP = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /;

Deno.test("log: a consumer's lines match go-nsq's, with Go's log timestamp", async () => {
  await using n = await startNsqd({ logLevel: "warn" });
  const topic = uniqueName();
  const lines: string[] = [];
  const c = new Consumer(topic, "c2", {
    snappy: true,
    logger: new GoNsqLogger("info", (l) => lines.push(l)),
  });
  c.addHandler(() => {});
  await c.connectToNsqd(n.tcpAddress);
  await c.stop();
  assert.ok(lines.every((l) => STAMP.test(l)), lines.join("\n"));
  const id = String(c.id).padStart(3);
  const a = n.tcpAddress;
  const p = `[${topic}/c2]`;
  assert.deepEqual(lines.map((l) => l.replace(STAMP, "")), [
    `INF  ${id} ${p} (${a}) connecting to nsqd`,
    `INF  ${id} ${p} (${a}) upgrading to Snappy`,
    `INF  ${id} ${p} stopping...`,
    `INF  ${id} ${p} (${a}) received CLOSE_WAIT from nsqd`,
    `INF  ${id} ${p} (${a}) beginning close`,
    `INF  ${id} ${p} (${a}) readLoop exiting`,
    `INF  ${id} ${p} (${a}) breaking out of writeLoop`,
    `INF  ${id} ${p} (${a}) writeLoop exiting`,
    `INF  ${id} ${p} (${a}) finished draining, cleanup exiting`,
    `INF  ${id} ${p} (${a}) clean close complete`,
    `WRN  ${id} ${p} there are 0 connections left alive`,
    `INF  ${id} ${p} stopping handlers`,
    `INF  ${id} ${p} rdyLoop exiting`,
  ]);
});

// Go's to_nsq prints exactly these three lines for one message.
Deno.test("log: a producer's lines carry its own instance number", async () => {
  await using n = await startNsqd({ logLevel: "warn" });
  const lines: string[] = [];
  const p = new Producer(n.tcpAddress, { logger: new GoNsqLogger("info", (l) => lines.push(l)) });
  const c = new Consumer("t", "c");
  assert.equal(c.id, p.id + 1, "one counter for consumers and producers");
  await p.publish(uniqueName(), "x");
  await p.stop();
  const id = String(p.id).padStart(3);
  const a = n.tcpAddress;
  assert.deepEqual(lines.map((l) => l.replace(STAMP, "")), [
    `INF  ${id} (${a}) connecting to nsqd`,
    `INF  ${id} (${a}) stopping`,
    `INF  ${id} (${a}) exiting router`,
  ]);
});
