/**
 * Topic → channel → client fan-out, the synchronous delivery path
 * (docs/architecture.md#delivery-is-a-synchronous-push):
 * `topic.put` → `channel.receive/put` → `client.deliver` (in-flight bookkeeping + frame into the
 * output buffer, writes to a fake connection), then the FIN side (`finishMessage` +
 * `inFlightDone`), for 1000 messages of 200 B per iteration. Also the no-consumer case (messages
 * stored in the channels' memory queues, emptied untimed). Names are `#ephemeral`: no disk.
 *
 *   deno bench -A scripts/micro/fanout_bench.ts
 *
 * @module
 */
import type { Channel } from "../../lib/nsqd/channel.ts";
import type { ClientV2 } from "../../lib/nsqd/client_v2.ts";
import type { Message } from "../../lib/nsqd/message.ts";
import { fakeNsqd, subscribedClient } from "./_fakes.ts";

const N = 1000;
const BODY = new Uint8Array(200);
const nsqd = fakeNsqd();

/** A topic with `channels` channels, each with one subscribed client (RDY 2500) or none. */
function setup(name: string, channels: number, withClients: boolean) {
  const topic = nsqd.getTopic(`${name}#ephemeral`);
  const subs: { channel: Channel; client: ClientV2 | null }[] = [];
  for (let i = 0; i < channels; i++) {
    const channel = topic.getChannel(`ch${i}#ephemeral`);
    subs.push({ channel, client: withClients ? subscribedClient(nsqd, channel) : null });
  }
  return { topic, subs };
}

/** Puts N messages; with clients, waits for deliveries that waited on a write, then FINs all. */
async function run(t: ReturnType<typeof setup>, b: Deno.BenchContext): Promise<void> {
  const msgs: Message[] = new Array(N);
  b.start();
  for (let i = 0; i < N; i++) {
    msgs[i] = t.topic.newMessage(BODY);
    t.topic.put(msgs[i]);
  }
  for (const { client, channel } of t.subs) {
    if (client === null) continue;
    // A full output buffer makes the client wait for its (instant, but async) write.
    for (let i = 0; client.inFlightCount < N && i < 1000; i++) await Promise.resolve();
    if (client.inFlightCount !== N) throw new Error(`in flight ${client.inFlightCount}`);
    for (let i = 0; i < N; i++) {
      if (channel.finishMessage(client, msgs[i].id) !== null) throw new Error("FIN failed");
      client.inFlightDone();
    }
  }
  b.end();
  for (const { channel } of t.subs) await channel.empty();
}

const one = setup("one", 1, true);
Deno.bench({
  name: "1 channel, 1 consumer: put + deliver + FIN ×1000",
  group: "deliver",
  baseline: true,
  async fn(b) {
    await run(one, b);
  },
});

const four = setup("four", 4, true);
Deno.bench({
  name: "4 channels, 1 consumer each: put + deliver + FIN ×1000",
  group: "deliver",
  async fn(b) {
    await run(four, b);
  },
});

const stored1 = setup("stored1", 1, false);
Deno.bench({
  name: "1 channel, no consumer: put ×1000 (memory queue)",
  group: "store",
  baseline: true,
  async fn(b) {
    await run(stored1, b);
  },
});

const stored4 = setup("stored4", 4, false);
Deno.bench({
  name: "4 channels, no consumer: put ×1000 (memory queue)",
  group: "store",
  async fn(b) {
    await run(stored4, b);
  },
});
