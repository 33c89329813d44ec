/**
 * The in-flight bookkeeping of a channel, as channel.ts does it: `Map<id, Message>` for
 * FIN/REQ/TOUCH lookups plus a min-heap by deadline (`PriorityQueue`) for the scan loop.
 * One iteration = a full RDY window (2500) going in flight and being FIN'd.
 *
 *   deno bench -A scripts/micro/in_flight_bench.ts
 *
 * @module
 */
import { PriorityQueue } from "../../lib/internal/priority_queue.ts";
import { GuidFactory } from "../../lib/nsqd/guid.ts";
import { Message } from "../../lib/nsqd/message.ts";

const N = 2500;
const guid = new GuidFactory(1);
const body = new Uint8Array(200);
const msgs = Array.from({ length: N }, () => Message.create(guid.next(), body));
const shuffled = [...msgs];
for (let i = shuffled.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
}
const inFlight = new Map<string, Message>();
const pq = new PriorityQueue<Message>();

/** startInFlight for every message: deadline = now + 60 s, rising with delivery order. */
function start(): void {
  const now = performance.now();
  for (let i = 0; i < N; i++) {
    const m = msgs[i];
    m.pri = now + 60_000 + i * 0.001;
    inFlight.set(m.id, m);
    pq.push(m);
  }
}

/** FIN by id, as finishMessage does: lookup, delete, heap removal. */
function finish(order: Message[]): void {
  for (let i = 0; i < order.length; i++) {
    const m = inFlight.get(order[i].id)!;
    inFlight.delete(m.id);
    pq.remove(m);
  }
}

Deno.bench({
  name: "2500 in flight, FIN in delivery order",
  baseline: true,
  fn() {
    start();
    finish(msgs);
  },
});

Deno.bench({
  name: "2500 in flight, FIN in random order",
  fn() {
    start();
    finish(shuffled);
  },
});

Deno.bench({
  name: "2500 in flight, all time out (scan loop pops)",
  fn() {
    start();
    for (let m = pq.pop(); m !== undefined; m = pq.pop()) inFlight.delete(m.id);
  },
});

Deno.bench({
  name: "2500 in flight, TOUCH each (re-key), then FIN",
  fn() {
    start();
    for (let i = 0; i < N; i++) pq.update(msgs[i], msgs[i].pri + 60_000);
    finish(msgs);
  },
});
