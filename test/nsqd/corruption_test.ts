/**
 * Corrupt go-diskqueue segments (spec §4.3), with real `nsqd` processes: a channel's messages
 * spread over several 10 000-byte segment files; with nsqd stopped, one segment is cut in the
 * middle of a record and another gets a garbled length prefix. The restarted daemon logs the
 * corruption, renames both files `<file>.bad`, delivers every record before the damage and every
 * record of the intact files, and keeps serving.
 */
import assert from "node:assert/strict";
import { getJson, NsqProc } from "../cluster/_procs.ts";
import { waitFor } from "../_util/wait.ts";
import { encodeCommand, type Frame, type Msg, V2Conn } from "../_util/wire.ts";

const td = new TextDecoder();

// ---- helpers --------------------------------------------------------------------------------

function spawnNsqd(name: string, dataPath: string, args: string[] = []): Promise<NsqProc> {
  return NsqProc.spawn({
    command: "nsqd",
    name,
    args: [
      "--tcp-address=127.0.0.1:0",
      "--http-address=127.0.0.1:0",
      `--data-path=${dataPath}`,
      ...args,
    ],
  });
}

async function post(p: NsqProc, path: string): Promise<void> {
  const res = await fetch(`http://${p.httpAddress}${path}`, { method: "POST" });
  const text = await res.text();
  assert.equal(res.status, 200, `POST ${path}: ${res.status} ${text}`);
}

interface ChannelStats {
  channel_name: string;
  depth: number;
  in_flight_count: number;
  deferred_count: number;
}

interface TopicStats {
  topic_name: string;
  depth: number;
  channels: ChannelStats[];
}

async function topicStats(p: NsqProc, topic: string): Promise<TopicStats> {
  const r = await getJson<{ topics: TopicStats[] }>(p.httpAddress!, "/stats?format=json");
  const t = r.body.topics.find((t) => t.topic_name === topic);
  if (t === undefined) throw new Error(`no topic ${topic} in /stats`);
  return t;
}

async function channelStats(p: NsqProc, topic: string, channel: string): Promise<ChannelStats> {
  const c = (await topicStats(p, topic)).channels.find((c) => c.channel_name === channel);
  if (c === undefined) throw new Error(`no channel ${topic}/${channel} in /stats`);
  return c;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** SUBs and reads + FINs (batched) until the channel is drained per /stats; bounded. */
async function consumeAll(
  p: NsqProc,
  topic: string,
  channel: string,
  timeoutMs: number,
): Promise<Msg[]> {
  await using conn = await V2Conn.connect(p.tcpAddress!);
  await conn.sub(topic, channel);
  await conn.expectResponse("OK");
  await conn.rdy(2500);
  const got: Msg[] = [];
  let fins: Uint8Array[] = [];
  const flush = async () => {
    if (fins.length === 0) return;
    const batch = concat(fins);
    fins = [];
    await conn.send(batch);
  };
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (performance.now() > deadline) {
      const s = await channelStats(p, topic, channel).catch((e) => String(e));
      throw new Error(`not drained within ${timeoutMs}ms: got ${got.length}, ${JSON.stringify(s)}`);
    }
    let f: Frame | null = null;
    try {
      f = await conn.readFrame(100);
    } catch (err) {
      if (!(err as Error).message.startsWith("readFrame: no frame")) throw err;
    }
    if (f === null) {
      await flush();
      const s = await channelStats(p, topic, channel);
      if (s.depth === 0 && s.in_flight_count === 0 && s.deferred_count === 0) return got;
      continue;
    }
    if (f.type === 0) {
      if (f.text === "_heartbeat_") await conn.nop();
      continue;
    }
    if (f.type === 1) throw new Error(`error frame while consuming: ${f.text}`);
    got.push(f.message!);
    fins.push(encodeCommand("FIN", [f.message!.id]));
    if (fins.length >= 256) await flush();
  }
}

/** One record of a segment file: where it starts and the message body it holds. */
interface Rec {
  offset: number;
  length: number;
  body: string;
}

/** Splits a go-diskqueue segment into `[int32 BE length][message]` records. */
function parseSegment(data: Uint8Array): Rec[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Rec[] = [];
  for (let pos = 0; pos < data.length;) {
    const len = view.getInt32(pos);
    assert.ok(len >= 26 && pos + 4 + len <= data.length, `bad record at ${pos}`);
    out.push({ offset: pos, length: len, body: td.decode(data.subarray(pos + 30, pos + 4 + len)) });
    pos += 4 + len;
  }
  return out;
}

const seg = (dir: string, q: string, n: number) =>
  `${dir}/${q}.diskqueue.${String(n).padStart(6, "0")}.dat`;

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
          data = await Deno.readFile(seg(dir, q, n));
        } catch (err) {
          if (err instanceof Deno.errors.NotFound) break;
          throw err;
        }
        assert.ok(data.length <= 10_000, `segment ${n} exceeds --max-bytes-per-file`);
        segments.push(parseSegment(data));
      }
      assert.ok(segments.length >= 6, `several segments, got ${segments.length}`);
      assert.deepEqual(segments.flat().map((r) => r.body).sort(), all);
      const meta = await Deno.readTextFile(`${dir}/${q}.diskqueue.meta.dat`);
      assert.equal(meta, `${TOTAL}\n0,0\n${segments.length - 1},${80 * segments.at(-1)!.length}\n`);

      // Segment 1: cut 10 bytes into its 60th record. Segment 3: its 40th record's length
      // prefix becomes 0xffffffff (-1 as go-diskqueue's int32). Both are completed files.
      const cutAt = segments[1][59].offset + 10;
      await Deno.truncate(seg(dir, q, 1), cutAt);
      {
        using f = await Deno.open(seg(dir, q, 3), { read: true, write: true });
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
        const bad = `${seg(dir, q, n)}.bad`;
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
