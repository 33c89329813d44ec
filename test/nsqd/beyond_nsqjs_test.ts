/**
 * Beyond NSQ (docs/beyond-nsq.md) through a real third-party client, npm:nsqjs 0.13: a Writer
 * publishing to a full topic gets the error and keeps its connection; a Reader that requeues
 * every message sees it max_attempts times, then it is in the dead-letter topic.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import nsq from "nsqjs";
import { startNsqd, type TestNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";

interface NsqMessage {
  attempts: number;
  body: Uint8Array;
  finish(): void;
  requeue(delay?: number, backoff?: boolean): void;
}

function hostPort(s: TestNsqd): [string, number] {
  const i = s.tcpAddress.lastIndexOf(":");
  return [s.tcpAddress.slice(0, i), Number(s.tcpAddress.slice(i + 1))];
}

Deno.test({
  name: "nsqjs: a full topic refuses the Writer's publish with the error text",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using s = await startNsqd({ maxTopicDepth: 3 });
    const topic = uniqueName("jsfull");
    const [host, port] = hostPort(s);
    const w = new nsq.Writer(host, port, {});
    const ready = once(w, "ready");
    // not events.once: it would reject on the "error" event nsqjs emits for the refused publish
    const closed = new Promise((resolve) => w.once("closed", resolve));
    w.on("error", () => {});
    w.connect();
    await ready;
    const publish = (msgs: string | string[]) =>
      new Promise<Error | null>((resolve) =>
        w.publish(topic, msgs, (err?: Error) => resolve(err ?? null))
      );
    try {
      assert.equal(await publish(["a", "b", "c"]), null);
      const e1 = await publish("d");
      assert.match(String(e1), new RegExp(`E_PUB_FAILED PUB failed topic ${topic} is full`));
      assert.equal(s.nsqd.getExistingTopic(topic)!.depth, 3);
    } finally {
      // nsqjs closes its connection after any error but E_FIN/REQ/TOUCH_FAILED (nsqd keeps it)
      w.close();
      await closed;
    }
  },
});

Deno.test({
  name:
    "nsqjs: a Reader requeueing every message sees it max_attempts times, then it is dead-lettered",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using s = await startNsqd({ maxAttempts: 2, deadLetterTopicSuffix: ".dlq" });
    const topic = uniqueName("jsdlq");
    const [host, port] = hostPort(s);
    const w = new nsq.Writer(host, port, {});
    const ready = once(w, "ready");
    w.connect();
    await ready;
    await new Promise<void>((resolve, reject) =>
      w.publish(topic, "poison", (err?: Error) => (err ? reject(err) : resolve()))
    );
    const closedW = once(w, "closed");
    w.close();
    await closedW;

    const attempts: number[] = [];
    const r = new nsq.Reader(topic, "c", {
      nsqdTCPAddresses: [s.tcpAddress],
      maxInFlight: 1,
      maxAttempts: 0, // the client's own limit off: the server decides
      maxBackoffDuration: 0,
    });
    r.on("message", (m: NsqMessage) => {
      attempts.push(m.attempts);
      m.requeue(0, false);
    });
    r.on("error", () => {});
    const connected = once(r, "nsqd_connected");
    r.connect();
    await connected;
    try {
      await waitFor(() => s.nsqd.getExistingTopic(`${topic}.dlq`)?.depth === 1);
      const ch = s.nsqd.getExistingTopic(topic)!.getExistingChannel("c")!;
      assert.equal(ch.deadLetterCount, 1);
      assert.deepEqual(attempts, [1, 2]);
      assert.equal(ch.depth + ch.inFlightCount + ch.deferredCount, 0);
    } finally {
      const closed = once(r, "nsqd_closed");
      r.close();
      await closed;
    }
  },
});
