/**
 * GUID generation (docs/nsqd.md#message-ids): `GuidFactory.next()`, which every published message
 * calls once. 1000 ids per iteration (up to 4096 share one ~1 ms tick, so this includes tick
 * changes).
 *
 *   deno bench -A scripts/micro/guid_bench.ts
 *
 * @module
 */
import { GuidFactory } from "../../lib/nsqd/guid.ts";

const N = 1000;
const guid = new GuidFactory(617);
let sink = 0;

Deno.bench({
  name: "GuidFactory.next ×1000",
  fn() {
    for (let i = 0; i < N; i++) sink += guid.next().charCodeAt(15);
  },
});

Deno.bench({
  name: "GuidFactory.next ×1000, used as Map keys (set + get + delete)",
  fn() {
    const m = new Map<string, number>();
    const ids: string[] = new Array(N);
    for (let i = 0; i < N; i++) {
      ids[i] = guid.next();
      m.set(ids[i], i);
    }
    for (let i = 0; i < N; i++) {
      sink += m.get(ids[i])!;
      m.delete(ids[i]);
    }
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
