/**
 * Corrupt go-diskqueue segments (docs/nsqd.md#disk-queue), with real `nsqd` processes: a channel's
 * messages spread over several 10 000-byte segment files; with nsqd stopped, one segment is cut in
 * the middle of a record and another gets a garbled length prefix. The restarted daemon logs the
 * corruption, renames both files `<file>.bad`, delivers every record before the damage and every
 * record of the intact files, and keeps serving.
 */
import assert from "node:assert/strict";
import { metaPath, parseRecords, segmentPath } from "../_util/disk_files.ts";
import { channelStats, consumeAll, type NsqProc, post, spawnNsqd } from "../_util/procs.ts";
import { waitFor } from "../_util/wait.ts";
import { V2Conn } from "../_util/wire.ts";
import { startNsqd, type TestNsqd } from "../_util/nsqd.ts";
import { frameWithin } from "../_util/protocol.ts";

const td = new TextDecoder();

// ---- helpers --------------------------------------------------------------------------------

/** One record of a segment file: where it starts and the message body it holds. */
interface Rec {
  offset: number;
  length: number;
  body: string;
}

/** Splits a go-diskqueue segment into its records, with their message bodies. */
function parseSegment(data: Uint8Array): Rec[] {
  return parseRecords(data).map((r) => ({
    offset: r.offset,
    length: r.length,
    body: td.decode(r.payload.subarray(26)),
  }));
}

// ---- the test -------------------------------------------------------------------------------

const TOTAL = 1000;

Deno.test({
  name: "corruption: a cut segment and a garbled length are renamed .bad, the rest is delivered",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_corrupt_" });
    const procs: NsqProc[] = [];
    const topic = "ledger";
    const q = `${topic}:ch`;
    const flags = ["--mem-queue-size=0", "--max-bytes-per-file=10000"];
    try {
      const p1 = await spawnNsqd("nsqd1", dir, flags);
      procs.push(p1);
      await post(p1, `/topic/create?topic=${topic}`);
      await post(p1, `/channel/create?topic=${topic}&channel=ch`);
      // 80-byte records (4 + 26 + 50): 125 per 10 000-byte segment, 8 segments.
      const all = Array.from({ length: TOTAL }, (_, i) => `record-${String(i).padStart(4, "0")}-`)
        .map((b) => b.padEnd(50, "x"));
      {
        await using pub = await V2Conn.connect(p1.tcpAddress!);
        for (let i = 0; i < TOTAL; i += 100) {
          await pub.mpub(topic, all.slice(i, i + 100));
          await pub.expectResponse("OK");
        }
      }
      await waitFor(async () => (await channelStats(p1, topic, "ch")).depth === TOTAL, {
        timeoutMs: 5000,
        message: "1000 messages on the channel",
      });
      const st = await p1.stop("SIGTERM", 10_000);
      assert.equal(st.code, 0, p1.logText());

      // The segments as nsqd left them, read independently.
      const segments: Rec[][] = [];
      for (let n = 0;; n++) {
        let data: Uint8Array;
        try {
          data = await Deno.readFile(segmentPath(dir, q, n));
        } catch (err) {
          if (err instanceof Deno.errors.NotFound) break;
          throw err;
        }
        assert.ok(data.length <= 10_000, `segment ${n} exceeds --max-bytes-per-file`);
        segments.push(parseSegment(data));
      }
      assert.ok(segments.length >= 6, `several segments, got ${segments.length}`);
      assert.deepEqual(segments.flat().map((r) => r.body).sort(), all);
      const meta = await Deno.readTextFile(metaPath(dir, q));
      assert.equal(meta, `${TOTAL}\n0,0\n${segments.length - 1},${80 * segments.at(-1)!.length}\n`);

      // Segment 1: cut 10 bytes into its 60th record. Segment 3: its 40th record's length
      // prefix becomes 0xffffffff (-1 as go-diskqueue's int32). Both are completed files.
      const cutAt = segments[1][59].offset + 10;
      await Deno.truncate(segmentPath(dir, q, 1), cutAt);
      {
        using f = await Deno.open(segmentPath(dir, q, 3), { read: true, write: true });
        await f.seek(segments[3][39].offset, Deno.SeekMode.Start);
        await f.write(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
      }
      const expected = [
        ...segments[0],
        ...segments[1].slice(0, 59),
        ...segments[2],
        ...segments[3].slice(0, 39),
        ...segments.slice(4).flat(),
      ].map((r) => r.body).sort();

      const p2 = await spawnNsqd("nsqd2", dir, flags);
      procs.push(p2);
      const got = (await consumeAll(p2, topic, "ch", 15_000)).map((m) => td.decode(m.body));
      assert.equal(new Set(got).size, got.length, "duplicates");
      assert.deepEqual(got.sort(), expected, p2.logText());

      // Logged and renamed, as go-diskqueue's handleReadError.
      for (const n of [1, 3]) {
        const bad = `${segmentPath(dir, q, n)}.bad`;
        await p2.waitForLog(
          new RegExp(`DISKQUEUE\\(${q}\\).*saving bad file as ${bad.replaceAll(".", "\\.")}`),
        );
        assert.ok((await Deno.stat(bad)).isFile, `${bad} exists`);
      }
      assert.ok(p2.count(/DISKQUEUE\(ledger:ch\).*unexpected EOF/) >= 1, p2.logText());
      assert.ok(p2.count(/DISKQUEUE\(ledger:ch\).*invalid message read size \(-1\)/) >= 1);
      // The metadata's depth counted the lost records: reset at the tail, as checkTailCorruption.
      assert.ok(p2.count(/DISKQUEUE\(ledger:ch\) positive depth at tail.*data loss/) >= 1);
      // Every good segment the reader passed was deleted (not the write file, which stays until
      // writing rolls past it); the bad ones stay for inspection.
      const last = `ledger:ch.diskqueue.${String(segments.length - 1).padStart(6, "0")}.dat`;
      let left: string[] = [];
      await waitFor(async () => {
        left = [];
        for await (const e of Deno.readDir(dir)) {
          if (e.name.startsWith("ledger:ch.diskqueue.0")) left.push(e.name);
        }
        left.sort();
        return left.length === 3;
      }, { timeoutMs: 5000, message: "consumed segments deleted" }).catch((e) => {
        throw new Error(`${e.message}: ${left}`);
      });
      assert.deepEqual(left, [
        "ledger:ch.diskqueue.000001.dat.bad",
        "ledger:ch.diskqueue.000003.dat.bad",
        last,
      ]);

      // Still serving: /ping is healthy and a normal publish/consume works.
      const ping = await fetch(`http://${p2.httpAddress}/ping`);
      assert.equal(`${ping.status} ${await ping.text()}`, "200 OK");
      {
        await using pub = await V2Conn.connect(p2.tcpAddress!);
        await pub.mpub(topic, ["after-1", "after-2"]);
        await pub.expectResponse("OK");
      }
      const after = await consumeAll(p2, topic, "ch", 5000);
      assert.deepEqual(after.map((m) => td.decode(m.body)).sort(), ["after-1", "after-2"]);
      const st2 = await p2.stop("SIGTERM", 10_000);
      assert.equal(st2.code, 0, p2.logText());
    } finally {
      for (const p of procs) await p.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

// ---- torn writes ----------------------------------------------------------------------------

/** Reads and FINs everything of `topic/ch` on an in-process nsqd until the channel is empty. */
async function drainInProcess(s: TestNsqd, topic: string): Promise<string[]> {
  const got: string[] = [];
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.rdy(500);
  const deadline = performance.now() + 10_000;
  for (;;) {
    assert.ok(performance.now() < deadline, `not drained, got ${got.length}`);
    const f = await frameWithin(c, 200);
    if (f === null) {
      const r = await fetch(`http://${s.httpAddress}/stats?format=json&topic=${topic}`);
      const ch = (await r.json()).topics[0].channels[0];
      if (ch.depth === 0 && ch.in_flight_count === 0) return got;
      continue;
    }
    if (f.type !== 2) continue;
    got.push(td.decode(f.message!.body));
    await c.fin(f.message!.id);
  }
}

/**
 * A channel's queue of 100 records `r000..r099` written by nsqd and closed cleanly; returns the
 * data dir, the topic and the records of segment 0 (its only file).
 */
async function queueOf100(): Promise<{ dir: string; topic: string; recs: Rec[]; q: string }> {
  const dir = await Deno.makeTempDir({ prefix: "nsqd_torn_" });
  const topic = "torn";
  const s = await startNsqd({ memQueueSize: 0 }, dir);
  try {
    {
      await using c = await V2Conn.connect(s.tcpAddress);
      await c.sub(topic, "ch"); // creates the channel
      await c.expectResponse("OK");
    }
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.mpub(topic, Array.from({ length: 100 }, (_, i) => `r${String(i).padStart(3, "0")}`));
    await c.expectResponse("OK");
  } finally {
    await s.close(false);
  }
  const q = `${topic}:ch`;
  const recs = parseSegment(await Deno.readFile(segmentPath(dir, q, 0)));
  assert.equal(recs.length, 100);
  assert.equal(
    await Deno.readTextFile(metaPath(dir, q)),
    `100\n0,0\n0,${recs[99].offset + 4 + recs[99].length}\n`,
  );
  return { dir, topic, recs, q };
}

const names = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `r${String(from + i).padStart(3, "0")}`);

Deno.test({
  name: "torn write: killed between write and sync, last record cut short → every record " +
    "before it delivered, the torn one reported and skipped",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { dir, topic, recs, q } = await queueOf100();
    try {
      // The last sync saw 90 records; 9 more reached the file after it, the 100th only in part.
      await Deno.writeTextFile(metaPath(dir, q), `90\n0,0\n0,${recs[90].offset}\n`);
      await Deno.truncate(segmentPath(dir, q, 0), recs[99].offset + 4 + 10);
      await using s = await startNsqd({ memQueueSize: 0, httpAddress: "127.0.0.1:0" }, dir);
      {
        await using c = await V2Conn.connect(s.tcpAddress);
        await c.pub(topic, "after");
        await c.expectResponse("OK");
      }
      const got = await drainInProcess(s, topic);
      assert.deepEqual(got.sort(), [...names(0, 99), "after"].sort(), s.logs.join("\n"));
      const log = s.logs.join("\n");
      assert.match(
        log,
        /DISKQUEUE\(torn:ch\) .*metadata writePos \d+ < file size of \d+, skipping/,
      );
      assert.match(log, /DISKQUEUE\(torn:ch\) reading at \d+ of .*000000\.dat - unexpected EOF/);
      assert.match(log, /saving bad file as .*torn:ch\.diskqueue\.000000\.dat\.bad/);
      // Depth counted 90: the 9 salvaged beyond it make it negative at the tail, then reset.
      assert.match(log, /DISKQUEUE\(torn:ch\) negative depth at tail/);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "torn write: metadata pointing past the data (power loss) → what is on disk delivered, " +
    "new messages written to a new file and delivered too",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { dir, topic, recs, q } = await queueOf100();
    try {
      // The metadata says 100 records; only 95 and a half reached the disk.
      await Deno.truncate(segmentPath(dir, q, 0), recs[95].offset + 7);
      await using s = await startNsqd({ memQueueSize: 0, httpAddress: "127.0.0.1:0" }, dir);
      // Published before anything is read: go-diskqueue would append them after a hole at the
      // old writePos, and lose them when its reader stops at the hole.
      {
        await using c = await V2Conn.connect(s.tcpAddress);
        await c.mpub(topic, ["new1", "new2", "new3"]);
        await c.expectResponse("OK");
      }
      const got = await drainInProcess(s, topic);
      assert.deepEqual(got.sort(), [...names(0, 95), "new1", "new2", "new3"].sort());
      const log = s.logs.join("\n");
      assert.match(
        log,
        /DISKQUEUE\(torn:ch\) .*000000\.dat metadata writePos \d+ > file size of \d+, data lost/,
      );
      assert.match(log, /saving bad file as .*torn:ch\.diskqueue\.000000\.dat\.bad/);
      assert.match(log, /DISKQUEUE\(torn:ch\) positive depth at tail \(\d+\), data loss/);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
