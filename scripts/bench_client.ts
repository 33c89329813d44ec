/**
 * Throughput of lib/client against a running nsqd (ours or Go's):
 *
 *   deno run -A scripts/bench_client.ts --nsqd-tcp-address=127.0.0.1:4150 \
 *     [--messages=200000] [--size=200] [--batch=1] [--pipeline=200] [--max-in-flight=200] \
 *     [--snappy] [--deflate]
 *
 * Publishes `messages` bodies of `size` bytes with one Producer (`batch` 1 = PUB, more = MPUB of
 * that many), keeping `pipeline` commands outstanding, then consumes them all on a fresh channel
 * with one Consumer (`max-in-flight`, a synchronous handler), and prints both rates.
 */
import { Consumer, Producer } from "../mod.ts";

function flag(name: string, def: string): string {
  const pre = `--${name}=`;
  const hit = Deno.args.find((a) => a.startsWith(pre) || a === `--${name}`);
  if (!hit) return def;
  return hit === `--${name}` ? "true" : hit.slice(pre.length);
}

const addr = flag("nsqd-tcp-address", "127.0.0.1:4150");
const total = Number(flag("messages", "200000"));
const size = Number(flag("size", "200"));
const batch = Number(flag("batch", "1"));
const pipeline = Number(flag("pipeline", "200"));
const maxInFlight = Number(flag("max-in-flight", "200"));
const snappy = flag("snappy", "false") === "true";
const deflate = flag("deflate", "false") === "true";
const topic = `bench_client_${Date.now()}`;
const body = new Uint8Array(size).fill(0x61);

const p = new Producer(addr, { snappy, deflate });
await p.connect();
let t0 = performance.now();
let sent = 0;
let inflight = 0;
await new Promise<void>((resolve, reject) => {
  const pump = () => {
    while (inflight < pipeline && sent < total) {
      const n = Math.min(batch, total - sent);
      sent += n;
      inflight++;
      const done = n === 1 && batch === 1
        ? p.publish(topic, body)
        : p.multiPublish(topic, Array.from({ length: n }, () => body));
      done.then(() => {
        inflight--;
        if (sent === total && inflight === 0) resolve();
        else pump();
      }, reject);
    }
  };
  pump();
});
const pubMs = performance.now() - t0;
await p.stop();
console.log(
  `publish: ${total} msgs x ${size} B in ${pubMs.toFixed(0)} ms = ${
    Math.round(total / pubMs * 1000)
  } msg/s (batch ${batch}, pipeline ${pipeline}${snappy ? ", snappy" : ""}${
    deflate ? ", deflate" : ""
  })`,
);

const c = new Consumer(topic, "bench", { maxInFlight, snappy, deflate });
let got = 0;
let finish!: () => void;
const all = new Promise<void>((r) => finish = r);
c.addHandler(() => {
  if (++got === total) finish();
});
t0 = performance.now();
await c.connectToNsqd(addr);
await all;
const subMs = performance.now() - t0;
await c.stop();
console.log(
  `consume: ${total} msgs in ${subMs.toFixed(0)} ms = ${
    Math.round(total / subMs * 1000)
  } msg/s (max in flight ${maxInFlight})`,
);
