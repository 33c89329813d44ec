/**
 * Consumer flow control against a scripted fake nsqd (test/client/_fake_nsqd.ts): RDY split
 * and re-split as connections come and go, the low-RDY redistribution when maxInFlight is
 * below the connection count, RDY re-sent as the window drains, go-nsq's exponential backoff
 * schedule (RDY 0, RDY 1 probe, restore), REQ delays, heartbeats, maxAttempts and CLS.
 */
import assert from "node:assert/strict";
import { Consumer, type Message } from "../../mod.ts";
import { waitFor } from "../_util/wait.ts";
import { type FakeConn, FakeNsqd } from "./_fake_nsqd.ts";

/** Starts `n` fake nsqd. */
function fakes(n: number): FakeNsqd[] {
  return Array.from({ length: n }, () => FakeNsqd.start());
}

async function closeAll(fs: FakeNsqd[]) {
  for (const f of fs) await f.close();
}

/** Waits until `f` has a live connection that subscribed; returns it. */
async function subscribed(f: FakeNsqd): Promise<FakeConn> {
  await waitFor(() => f.live.some((c) => c.named("SUB").length > 0), { message: "SUB" });
  return f.live.find((c) => c.named("SUB").length > 0)!;
}

Deno.test("rdy: maxInFlight split over connections, re-split when one goes and one comes", async () => {
  const fs = fakes(4);
  const c = new Consumer("t", "c", { maxInFlight: 10, lookupdPollInterval: 60_000 });
  c.addHandler(() => {});
  try {
    await c.connectToNsqd(fs[0].address);
    const a = await subscribed(fs[0]);
    await waitFor(() => a.rdy === 10);
    await c.connectToNsqd(fs[1].address);
    const b = await subscribed(fs[1]);
    await c.connectToNsqd(fs[2].address);
    const d = await subscribed(fs[2]);
    await waitFor(() => a.rdy === 3 && b.rdy === 3 && d.rdy === 3, {
      message: `${a.rdys} ${b.rdys} ${d.rdys}`,
    });
    // go-nsq's order: lower the first before raising the next, never above maxInFlight.
    assert.deepEqual(a.rdys, [10, 5, 3]);
    assert.deepEqual(b.rdys, [5, 3]);
    assert.deepEqual(d.rdys, [3]);

    // One connection goes: the survivors take its share.
    d.close();
    await waitFor(() => a.rdy === 5 && b.rdy === 5, { message: `${a.rdys} ${b.rdys}` });
    // Another comes.
    await c.connectToNsqd(fs[3].address);
    const e = await subscribed(fs[3]);
    await waitFor(() => a.rdy === 3 && b.rdy === 3 && e.rdy === 3);

    // changeMaxInFlight re-splits; 0 pauses.
    c.changeMaxInFlight(30);
    await waitFor(() => a.rdy === 10 && b.rdy === 10 && e.rdy === 10);
    c.changeMaxInFlight(0);
    await waitFor(() => a.rdy === 0 && b.rdy === 0 && e.rdy === 0);
  } finally {
    await c.stop();
    await closeAll(fs);
  }
});

Deno.test("rdy: capped by nsqd's max_rdy_count; re-sent as the window drains", async () => {
  await using f = FakeNsqd.start({ max_rdy_count: 8 });
  const c = new Consumer("t", "c", { maxInFlight: 100 });
  const held: Message[] = [];
  c.addHandler((m) => {
    m.disableAutoResponse();
    held.push(m);
  }, { concurrency: 100 });
  try {
    await c.connectToNsqd(f.address);
    const a = await subscribed(f);
    await waitFor(() => a.rdy === 8);
    // 8 in the window: remaining 6 (75%) → nothing; 5 left (<25%? no); at 1 left → RDY again.
    for (let i = 0; i < 7; i++) await a.message(`m${i}`);
    await waitFor(() => held.length === 7);
    await waitFor(() => a.rdys.length === 2, { message: String(a.rdys) });
    assert.deepEqual(a.rdys, [8, 8]);
    for (const m of held) m.finish();
    await waitFor(() => a.named("FIN").length === 7);
  } finally {
    await c.stop();
  }
});

Deno.test("rdy: more connections than maxInFlight: idle RDY is taken back and redistributed", async () => {
  const fs = fakes(3);
  const c = new Consumer("t", "c", {
    maxInFlight: 2,
    rdyRedistributeInterval: 20,
    lowRdyIdleTimeout: 1000,
  });
  c.addHandler(() => {});
  try {
    await c.connectToNsqds(fs.map((f) => f.address));
    const conns = await Promise.all(fs.map(subscribed));
    const total = () => conns.reduce((s, x) => s + x.rdy, 0);
    await waitFor(() => total() === 2, { message: conns.map((x) => x.rdys).join(" | ") });
    const starved = conns.find((x) => x.rdy === 0)!;
    assert.ok(starved, "one connection starts without RDY");
    // Within a few redistribution rounds (each after 1 s idle) the RDY moves around, and
    // the sum never exceeds maxInFlight.
    let maxSeen = 0;
    await waitFor(() => {
      maxSeen = Math.max(maxSeen, total());
      return conns.every((x) => x.rdys.includes(1)) &&
        conns.some((x) => x.rdys.slice(1).includes(0));
    }, { timeoutMs: 6000, intervalMs: 5, message: conns.map((x) => x.rdys).join(" | ") });
    assert.ok(maxSeen <= 2, `sum of RDY ${maxSeen}`);
  } finally {
    await c.stop();
    await closeAll(fs);
  }
});

Deno.test("backoff: go-nsq's exponential schedule, RDY 1 probe, then restore", async () => {
  await using f = FakeNsqd.start();
  const c = new Consumer("t", "c", {
    maxInFlight: 5,
    backoffMultiplier: 50,
    maxBackoffDuration: 400,
    maxAttempts: 0,
  });
  let fail = true;
  c.addHandler(() => {
    if (fail) throw new Error("nope");
  });
  try {
    await c.connectToNsqd(f.address);
    const a = await subscribed(f);
    await waitFor(() => a.rdy === 5);
    // Each failure: RDY 0, then after the backoff RDY 1, then the next message. The lower bound
    // checks the schedule; the upper one is loose for a loaded machine.
    // Levels 1..3 (100, 200, 400 ms), then 800 > max: the level stays 3 (400 ms).
    const expectFail = [100, 200, 400, 400];
    for (const [i, ms] of expectFail.entries()) {
      const before = a.rdys.length;
      await a.message(`f${i}`);
      await waitFor(() => a.rdys.length >= before + 2, { message: `${i}: ${a.rdys}` });
      assert.deepEqual(a.rdys.slice(before, before + 2), [0, 1]);
      const rdy = a.named("RDY").slice(before, before + 2);
      const waited = rdy[1].at - rdy[0].at;
      assert.ok(waited >= ms * 0.75 && waited < ms + 1000, `level ${i + 1}: waited ${waited} ms`);
    }
    assert.equal(c.backoffLevel, 3);
    // Successes step the level down: 3 → 2 (200 ms), 2 → 1 (100 ms), 1 → 0: RDY 5 again.
    fail = false;
    for (const [i, ms] of [200, 100].entries()) {
      const before = a.rdys.length;
      await a.message(`s${i}`);
      await waitFor(() => a.rdys.length >= before + 2, { message: `s${i}: ${a.rdys}` });
      assert.deepEqual(a.rdys.slice(before, before + 2), [0, 1]);
      const rdy = a.named("RDY").slice(before, before + 2);
      const waited = rdy[1].at - rdy[0].at;
      assert.ok(waited >= ms * 0.75 && waited < ms + 1000, `down ${i}: waited ${waited} ms`);
    }
    const before = a.rdys.length;
    await a.message("last");
    await waitFor(() => a.rdys.length > before && a.rdy === 5, { message: String(a.rdys) });
    assert.equal(c.backoffLevel, 0);
    assert.equal(a.named("REQ").length, 4);
    assert.equal(a.named("FIN").length, 3);
  } finally {
    await c.stop();
  }
});

Deno.test("backoff: full_jitter stays within [0, multiplier * 2^n)", () => {
  const c = new Consumer("t", "c", { backoffStrategy: "full_jitter", backoffMultiplier: 100 });
  for (let n = 1; n <= 5; n++) {
    for (let i = 0; i < 50; i++) {
      const d = c.backoffDurationFor(n);
      assert.ok(d >= 0 && d < 100 * 2 ** n, `${n}: ${d}`);
    }
  }
  const e = new Consumer("t", "c", { backoffMultiplier: 100 });
  assert.deepEqual([1, 2, 3].map((n) => e.backoffDurationFor(n)), [200, 400, 800]);
});

Deno.test("REQ delay, TOUCH, heartbeat NOP, maxAttempts FIN, requeue without backoff", async () => {
  await using f = FakeNsqd.start();
  const c = new Consumer("t", "c", {
    maxInFlight: 10,
    defaultRequeueDelay: 1000,
    maxRequeueDelay: 2500,
    maxAttempts: 3,
  });
  const seen: string[] = [];
  c.addHandler((m) => {
    const body = new TextDecoder().decode(m.body);
    seen.push(body);
    if (body === "touch") {
      m.touch();
      return;
    }
    if (body === "explicit") return m.requeueWithoutBackoff(7);
    throw new Error("fail");
  });
  try {
    await c.connectToNsqd(f.address);
    const a = await subscribed(f);
    await a.heartbeat();
    await waitFor(() => a.named("NOP").length === 1);
    const ids = [];
    for (const attempts of [1, 2, 3]) ids.push(await a.message(`req${attempts}`, attempts));
    await waitFor(() => a.named("REQ").length === 3);
    assert.deepEqual(a.named("REQ").map((r) => r.params), [
      [ids[0], "1000"],
      [ids[1], "2000"],
      [ids[2], "2500"],
    ]);
    const tooMany = await a.message("too-many", 4);
    await waitFor(() => a.named("FIN").some((r) => r.params[0] === tooMany));
    assert.ok(!seen.includes("too-many"), "over maxAttempts never reaches the handler");
    const touched = await a.message("touch");
    await waitFor(() => a.named("FIN").some((r) => r.params[0] === touched));
    assert.deepEqual(a.named("TOUCH").map((r) => r.params[0]), [touched]);
    const explicit = await a.message("explicit");
    await waitFor(() => a.named("REQ").some((r) => r.params[0] === explicit));
    assert.deepEqual(a.named("REQ").at(-1)!.params, [explicit, "7"]);
    const s = c.stats();
    assert.equal(s.messagesReceived, 6);
    assert.equal(s.messagesFinished, 2);
    assert.equal(s.messagesRequeued, 4);
  } finally {
    await c.stop();
  }
});

Deno.test("stop: CLS, then close after CLOSE_WAIT once in-flight handlers answered", async () => {
  await using f = FakeNsqd.start();
  const c = new Consumer("t", "c", { maxInFlight: 4 });
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  c.addHandler(() => gate, { concurrency: 2 });
  await c.connectToNsqd(f.address);
  const a = await subscribed(f);
  const id = await a.message("slow");
  await waitFor(() => c.stats().messagesReceived === 1);
  const stopping = c.stop();
  await waitFor(() => a.named("CLS").length === 1);
  assert.equal(a.closed, false);
  assert.equal(a.named("FIN").length, 0);
  release();
  await stopping;
  await waitFor(() => a.closed, { message: "connection closed by the client" });
  assert.deepEqual(a.named("FIN").map((r) => r.params[0]), [id]);
  // The FIN went out before the connection closed.
  assert.ok(a.commands.at(-1)!.name === "FIN");
});

Deno.test("reconnect: a dropped nsqd is redialed, a disconnected one is not; isStarved", async () => {
  const fs = fakes(2);
  const c = new Consumer("t", "c", { maxInFlight: 4, lookupdPollInterval: 30 });
  const held: Message[] = [];
  c.addHandler((m) => {
    m.disableAutoResponse();
    held.push(m);
  }, { concurrency: 10 });
  try {
    await c.connectToNsqds(fs.map((f) => f.address));
    const [a, b] = await Promise.all(fs.map(subscribed));
    await waitFor(() => a.rdy === 2 && b.rdy === 2);
    assert.equal(c.isStarved(), false);
    await a.message("1");
    await a.message("2");
    await waitFor(() => held.length === 2);
    assert.equal(c.isStarved(), true, "2 in flight of RDY 2");
    for (const m of held) m.finish();
    await waitFor(() => !c.isStarved());

    await c.disconnectFromNsqd(fs[0].address);
    await waitFor(() => b.rdy === 4, { message: String(b.rdys) });
    b.close(); // dropped by nsqd: redialed every lookupdPollInterval
    await waitFor(() => fs[1].conns.length === 2 && fs[1].live.length === 1, {
      message: "redialed",
    });
    assert.equal(fs[0].conns.length, 1, "the disconnected nsqd is not redialed");
    await assert.rejects(() => c.disconnectFromNsqd(fs[0].address), /not connected/);
  } finally {
    await c.stop();
    await closeAll(fs);
  }
});
