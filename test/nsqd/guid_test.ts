import assert from "node:assert/strict";
import { GuidFactory, parseGuid } from "../../lib/nsqd/guid.ts";

Deno.test("guid: 16 lowercase hex chars, strictly increasing, node id embedded", () => {
  const f = new GuidFactory(617);
  let prev = "";
  for (let i = 0; i < 20_000; i++) {
    const id = f.next();
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.ok(id > prev, `${id} after ${prev}`); // fixed width: string order is numeric order
    prev = id;
    assert.equal(parseGuid(id).nodeId, 617);
  }
});

Deno.test("guid: the tick is wall-clock ns >> 20 since nsqd's epoch", () => {
  const before = Math.floor((performance.timeOrigin + performance.now()) * 1e6 / 1048576);
  const { tick, sequence } = parseGuid(new GuidFactory(0).next());
  const after = Math.floor((performance.timeOrigin + performance.now()) * 1e6 / 1048576);
  assert.ok(tick >= before - 1 && tick <= after + 1, `${tick} not in [${before}, ${after}]`);
  assert.equal(sequence, 0);
});

Deno.test("guid: more than 4096 ids in one synchronous run borrow the next tick (no stall)", () => {
  const f = new GuidFactory(1);
  const ids = Array.from({ length: 10_000 }, () => f.next()); // one run: the clock is frozen
  assert.equal(new Set(ids).size, ids.length);
  const first = parseGuid(ids[0]);
  const last = parseGuid(ids.at(-1)!);
  assert.equal(parseGuid(ids[4095]).tick, first.tick);
  assert.equal(parseGuid(ids[4096]).tick, first.tick + 1);
  assert.equal(parseGuid(ids[4096]).sequence, 0);
  assert.equal(last.tick, first.tick + 2);
});

Deno.test("guid: node ids outside [0,1024) are refused", () => {
  assert.throws(() => new GuidFactory(1024), RangeError);
  assert.throws(() => new GuidFactory(-1), RangeError);
});
