import assert from "node:assert/strict";
import {
  filterByActive,
  type PeerInfo,
  Producer,
  RegistrationDB,
  ZERO_TIME_UNIX_NANO,
} from "../../lib/nsqlookupd/registration_db.ts";

function peer(id: string, lastUpdate: bigint): PeerInfo {
  return {
    id,
    remoteAddress: id,
    hostname: "h",
    broadcastAddress: "b",
    tcpPort: 1,
    httpPort: 2,
    version: "1.3.0",
    lastUpdate,
  };
}

Deno.test("RegistrationDB: add, find with wildcards, remove", () => {
  const db = new RegistrationDB();
  const a = peer("a", 0n);
  const b = peer("b", 0n);
  assert.ok(db.addProducer({ category: "topic", key: "t", subkey: "" }, new Producer(a)));
  assert.ok(!db.addProducer({ category: "topic", key: "t", subkey: "" }, new Producer(a)));
  assert.ok(db.addProducer({ category: "channel", key: "t", subkey: "c1" }, new Producer(a)));
  assert.ok(db.addProducer({ category: "channel", key: "t", subkey: "c2" }, new Producer(b)));
  db.addRegistration({ category: "channel", key: "u", subkey: "c1" });
  assert.deepEqual(db.findRegistrations("channel", "t", "*").map((r) => r.subkey), ["c1", "c2"]);
  assert.deepEqual(db.findRegistrations("channel", "*", "c1").map((r) => r.key), ["t", "u"]);
  assert.deepEqual(db.findRegistrations("topic", "nope", ""), []);
  // Each peer once, even when registered under several matching keys.
  assert.deepEqual(db.findProducers("channel", "*", "*").map((p) => p.peerInfo.id), ["a", "b"]);
  assert.deepEqual(db.findProducers("topic", "nope", ""), []);
  assert.deepEqual(db.lookupRegistrations("a").map((r) => `${r.category}:${r.key}:${r.subkey}`), [
    "topic:t:",
    "channel:t:c1",
  ]);
  assert.deepEqual(db.removeProducer({ category: "channel", key: "t", subkey: "c1" }, "a"), {
    removed: true,
    left: 0,
  });
  assert.deepEqual(db.removeProducer({ category: "channel", key: "t", subkey: "c1" }, "a"), {
    removed: false,
    left: 0,
  });
  assert.deepEqual(db.removeProducer({ category: "x", key: "", subkey: "" }, "a"), {
    removed: false,
    left: 0,
  });
  // Keys stay until removed.
  assert.equal(db.findRegistrations("channel", "t", "c1").length, 1);
  db.removeRegistration({ category: "channel", key: "t", subkey: "c1" });
  assert.equal(db.findRegistrations("channel", "t", "c1").length, 0);
});

Deno.test("filterByActive and tombstones", () => {
  const now = 1_000_000_000_000n;
  const fresh = new Producer(peer("fresh", now - 1_000_000n)); // 1 ms ago
  const stale = new Producer(peer("stale", now - 2_000_000_000n)); // 2 s ago
  const tomb = new Producer(peer("tomb", now));
  assert.equal(tomb.tombstonedAt, ZERO_TIME_UNIX_NANO);
  tomb.tombstone(now - 500_000_000n); // 500 ms ago
  const ids = (ps: Producer[]) => ps.map((p) => p.peerInfo.id);
  assert.deepEqual(ids(filterByActive([fresh, stale, tomb], 1000, 1000, now)), ["fresh"]);
  assert.deepEqual(ids(filterByActive([fresh, stale, tomb], 1000, 400, now)), ["fresh", "tomb"]);
  assert.deepEqual(ids(filterByActive([fresh, stale, tomb], 1000, 0, now)), ["fresh", "tomb"]);
  assert.deepEqual(ids(filterByActive([fresh, stale, tomb], 3000, 0, now)), [
    "fresh",
    "stale",
    "tomb",
  ]);
  assert.ok(tomb.isTombstoned(1000, now));
  assert.ok(!tomb.isTombstoned(500, now));
});
