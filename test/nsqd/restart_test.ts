/**
 * A graceful exit loses nothing (spec §4.2, §4.3, §4.8, §4.18), with real `nsqd` processes:
 * 100k messages on a topic with two channels and --mem-queue-size=100 (so most of them live in
 * go-diskqueue files), a consumer holding some in flight and some deferred, a paused channel
 * and a paused topic; SIGTERM, then a second nsqd on the same data dir delivers every message
 * that was never FINned, nothing that was, and keeps the topology and pause flags.
 */
import assert from "node:assert/strict";
import { getJson, NsqProc } from "../cluster/_procs.ts";
import { waitFor } from "../_util/wait.ts";
import { encodeCommand, type Frame, type Msg, V2Conn } from "../_util/wire.ts";

const td = new TextDecoder();

// ---- helpers --------------------------------------------------------------------------------

/** `nsqd` on 127.0.0.1 port 0 (TCP and HTTP) over `dataPath`, ready once both listen. */
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

/** POSTs to the HTTP API and asserts 200. */
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
  paused: boolean;
}

interface TopicStats {
  topic_name: string;
  depth: number;
  paused: boolean;
  channels: ChannelStats[];
}

/** `/stats?format=json` topics, sorted by name (channels too). */
async function topicStats(p: NsqProc): Promise<TopicStats[]> {
  const r = await getJson<{ topics: TopicStats[] }>(p.httpAddress!, "/stats?format=json");
  assert.equal(r.status, 200);
  const byName = <T>(key: (t: T) => string) => (a: T, b: T) => key(a) < key(b) ? -1 : 1;
  const topics = [...r.body.topics].sort(byName((t) => t.topic_name));
  for (const t of topics) t.channels = [...t.channels].sort(byName((c) => c.channel_name));
  return topics;
}

async function channelStats(p: NsqProc, topic: string, channel: string): Promise<ChannelStats> {
  const t = (await topicStats(p)).find((t) => t.topic_name === topic);
  const c = t?.channels.find((c) => c.channel_name === channel);
  if (c === undefined) throw new Error(`no channel ${topic}/${channel} in /stats`);
  return c;
}

/** Subscribes over a fresh connection (SUB answered OK); RDY is left to the caller. */
async function subscribe(p: NsqProc, topic: string, channel: string): Promise<V2Conn> {
  const c = await V2Conn.connect(p.tcpAddress!);
  try {
    await c.sub(topic, channel);
    await c.expectResponse("OK");
    return c;
  } catch (err) {
    await c.close();
    throw err;
  }
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

/**
 * Reads and FINs (in batches) every message of `topic/channel` until the channel is drained:
 * no frame for 100 ms while /stats shows depth, in-flight and deferred all 0, so every message
 * delivered was received and FINned. Bounded by `timeoutMs`.
 */
async function consumeAll(
  p: NsqProc,
  conn: V2Conn,
  topic: string,
  channel: string,
  timeoutMs: number,
): Promise<Msg[]> {
  const got: Msg[] = [];
  let fins: Uint8Array[] = [];
  const flush = async () => {
    if (fins.length === 0) return;
    const batch = concat(fins);
    fins = [];
    await conn.send(batch);
  };
  await conn.rdy(2500);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (performance.now() > deadline) {
      const s = await channelStats(p, topic, channel).catch((e) => String(e));
      throw new Error(
        `${topic}/${channel} not drained within ${timeoutMs}ms: got ${got.length}, stats ` +
          JSON.stringify(s),
      );
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

/** Reads exactly `n` messages (no FIN). */
async function readMessages(conn: V2Conn, n: number): Promise<Msg[]> {
  const out: Msg[] = [];
  while (out.length < n) out.push(await conn.expectMessage({ timeoutMs: 10_000 }));
  return out;
}

const bodyOf = (m: Msg) => td.decode(m.body);

/** Parses a go-diskqueue metadata file: depth, read and write positions. */
function parseMeta(text: string) {
  const m = /^(-?\d+)\n(\d+),(\d+)\n(\d+),(\d+)\n$/.exec(text);
  assert.ok(m, `metadata in go-diskqueue's "%d\\n%d,%d\\n%d,%d\\n" form: ${JSON.stringify(text)}`);
  const [depth, readFileNum, readPos, writeFileNum, writePos] = m.slice(1).map(Number);
  return { depth, readFileNum, readPos, writeFileNum, writePos };
}

/**
 * Reads the unread records of queue `name` straight from the files, as go-diskqueue would:
 * from (readFileNum, readPos) to (writeFileNum, writePos), `[int32 BE len][message]` each.
 */
async function readDiskQueue(dir: string, name: string): Promise<Msg[]> {
  const meta = parseMeta(await Deno.readTextFile(`${dir}/${name}.diskqueue.meta.dat`));
  const out: Msg[] = [];
  for (let n = meta.readFileNum; n <= meta.writeFileNum; n++) {
    const fn = `${dir}/${name}.diskqueue.${String(n).padStart(6, "0")}.dat`;
    let data: Uint8Array;
    try {
      data = await Deno.readFile(fn);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound && n === meta.writeFileNum && meta.writePos === 0) {
        break; // go-diskqueue creates the write file lazily
      }
      throw err;
    }
    const end = n === meta.writeFileNum ? meta.writePos : data.length;
    assert.ok(end <= data.length, `${fn}: writePos ${end} beyond its size ${data.length}`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let pos = n === meta.readFileNum ? meta.readPos : 0;
    while (pos < end) {
      const len = view.getInt32(pos);
      assert.ok(len >= 26 && pos + 4 + len <= end, `${fn}: bad record length ${len} at ${pos}`);
      const rec = data.subarray(pos + 4, pos + 4 + len);
      const rv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
      out.push({
        timestamp: rv.getBigInt64(0),
        attempts: rv.getUint16(8),
        id: td.decode(rec.subarray(10, 26)),
        body: rec.slice(26),
      });
      pos += 4 + len;
    }
  }
  assert.equal(out.length, meta.depth, `${name}: records on disk vs metadata depth`);
  return out;
}

// ---- the test -------------------------------------------------------------------------------

const TOTAL = 100_000;
const BATCH = 1000;
const TAKEN = 400; // delivered on channel A before the restart
const FINNED = 250; // of those, FINned
const REQUEUED = 50; // REQ'd with a long delay (deferred); the other 100 stay in flight
const T2_MSGS = 10;
/** Published with DPUB 60 s: deferred at the exit, delivered right after the restart. */
const DEFERRED_BODY = "z-deferred";

Deno.test({
  name: "restart: SIGTERM persists memory, in-flight and deferred; nothing FINned comes back",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_restart_" });
    const procs: NsqProc[] = [];
    const conns: V2Conn[] = [];
    const flags = ["--mem-queue-size=100", "--max-bytes-per-file=1048576"];
    const topic = "orders";
    const topic2 = "audit";
    try {
      const p1 = await spawnNsqd("nsqd1", dir, flags);
      procs.push(p1);
      await post(p1, `/topic/create?topic=${topic}`);
      await post(p1, `/channel/create?topic=${topic}&channel=A`);
      await post(p1, `/channel/create?topic=${topic}&channel=B`);
      await post(p1, `/channel/pause?topic=${topic}&channel=B`);
      await post(p1, `/topic/create?topic=${topic2}`);
      await post(p1, `/channel/create?topic=${topic2}&channel=c2`);
      await post(p1, `/topic/pause?topic=${topic2}`);

      const all = Array.from({ length: TOTAL }, (_, i) => `m${String(i).padStart(6, "0")}`);
      const pub = await V2Conn.connect(p1.tcpAddress!);
      conns.push(pub);
      for (let i = 0; i < TOTAL; i += BATCH) {
        await pub.mpub(topic, all.slice(i, i + BATCH));
        await pub.expectResponse("OK", { timeoutMs: 10_000 });
      }
      // A deferred publish: in each channel's deferred queue at the exit.
      await pub.dpub(topic, 60_000, DEFERRED_BODY);
      await pub.expectResponse("OK");
      const audit = Array.from({ length: T2_MSGS }, (_, i) => `audit-${i}`);
      await pub.mpub(topic2, audit);
      await pub.expectResponse("OK");

      // Channel A: take 400, then RDY 0 so nothing else arrives; FIN 250, REQ 50 for a minute,
      // hold 100 in flight.
      const a = await subscribe(p1, topic, "A");
      conns.push(a);
      await a.rdy(TAKEN);
      const taken = await readMessages(a, TAKEN);
      await a.rdy(0);
      const finned = taken.slice(0, FINNED);
      const requeued = taken.slice(FINNED, FINNED + REQUEUED);
      const held = taken.slice(FINNED + REQUEUED);
      await a.send(concat([
        ...finned.map((m) => encodeCommand("FIN", [m.id])),
        ...requeued.map((m) => encodeCommand("REQ", [m.id, "60000"])),
      ]));
      let last: unknown = null;
      await waitFor(async () => {
        const ts = await topicStats(p1);
        last = ts;
        const t = ts.find((t) => t.topic_name === topic);
        const ca = t?.channels.find((c) => c.channel_name === "A");
        const cb = t?.channels.find((c) => c.channel_name === "B");
        return ca?.in_flight_count === held.length && ca.deferred_count === REQUEUED + 1 &&
          ca.depth === TOTAL - TAKEN && cb?.depth === TOTAL && cb.deferred_count === 1;
      }, { timeoutMs: 10_000, message: "channel A: 100 in flight, 51 deferred" }).catch((e) => {
        throw new Error(`${e.message}: ${JSON.stringify(last)}`);
      });

      // Graceful exit with a consumer still connected.
      const status = await p1.stop("SIGTERM", 15_000);
      assert.equal(status.code, 0, `exit code of a SIGTERM'd nsqd\n${p1.logText()}`);
      assert.match(p1.lines.at(-1) ?? "", /NSQ: bye/);
      for (const c of conns.splice(0)) await c.close();

      // The data dir: go-diskqueue files and nsqd.dat as Go writes them.
      const files = new Set<string>();
      for await (const e of Deno.readDir(dir)) files.add(e.name);
      const names = [...files].sort();
      for (const q of [topic, `${topic}:A`, `${topic}:B`, topic2, `${topic2}:c2`]) {
        assert.ok(files.has(`${q}.diskqueue.meta.dat`), `${q} metadata in ${names}`);
      }
      for (const q of [`${topic}:A`, `${topic}:B`, topic2]) {
        const re = new RegExp(`^${q}\\.diskqueue\\.\\d{6}\\.dat$`);
        assert.ok(names.some((n) => re.test(n)), `a ${q} segment in ${names}`);
      }
      assert.ok(
        names.filter((n) => new RegExp(`^${topic}:B\\.diskqueue\\.\\d{6}\\.dat$`).test(n))
          .length >= 4,
        `100k records over 1 MiB segments: several files for ${topic}:B in ${names}`,
      );
      assert.deepEqual(names.filter((n) => n.endsWith(".tmp") || n.endsWith(".bad")), []);

      const nsqdDat = await Deno.readTextFile(`${dir}/nsqd.dat`);
      const meta = JSON.parse(nsqdDat);
      assert.deepEqual(Object.keys(meta), ["topics", "version"], nsqdDat);
      assert.match(meta.version, /^\d+\.\d+\.\d+/);
      for (const t of meta.topics) {
        assert.deepEqual(Object.keys(t), ["name", "paused", "channels"], nsqdDat);
        for (const c of t.channels) assert.deepEqual(Object.keys(c), ["name", "paused"], nsqdDat);
        t.channels.sort((x: { name: string }, y: { name: string }) => x.name < y.name ? -1 : 1);
      }
      meta.topics.sort((x: { name: string }, y: { name: string }) => x.name < y.name ? -1 : 1);
      assert.deepEqual(meta.topics, [
        { name: topic2, paused: true, channels: [{ name: "c2", paused: false }] },
        {
          name: topic,
          paused: false,
          channels: [{ name: "A", paused: false }, { name: "B", paused: true }],
        },
      ]);

      // What the files hold, read independently of nsqd: A = everything not FINned (in-flight
      // and deferred included), B = all 100k, the paused topic = its 10 messages.
      const finnedBodies = new Set(finned.map(bodyOf));
      const unfinished = [...all.filter((b) => !finnedBodies.has(b)), DEFERRED_BODY].sort();
      const allB = [...all, DEFERRED_BODY].sort();
      const onDiskA = await readDiskQueue(dir, `${topic}:A`);
      assert.deepEqual(onDiskA.map(bodyOf).sort(), unfinished);
      assert.equal((await readDiskQueue(dir, `${topic}:B`)).length, TOTAL + 1);
      assert.deepEqual((await readDiskQueue(dir, topic2)).map(bodyOf).sort(), audit);
      assert.equal((await readDiskQueue(dir, topic)).length, 0);

      // Restart on the same data dir.
      const p2 = await spawnNsqd("nsqd2", dir, flags);
      procs.push(p2);
      const ts = await topicStats(p2);
      assert.deepEqual(
        ts.map((t) => ({
          topic: t.topic_name,
          paused: t.paused,
          depth: t.depth,
          channels: t.channels.map((c) => ({
            channel: c.channel_name,
            paused: c.paused,
            depth: c.depth,
            in_flight: c.in_flight_count,
            deferred: c.deferred_count,
          })),
        })),
        [
          {
            topic: topic2,
            paused: true,
            depth: T2_MSGS,
            channels: [{ channel: "c2", paused: false, depth: 0, in_flight: 0, deferred: 0 }],
          },
          {
            topic,
            paused: false,
            depth: 0,
            channels: [
              {
                channel: "A",
                paused: false,
                depth: unfinished.length,
                in_flight: 0,
                deferred: 0,
              },
              { channel: "B", paused: true, depth: TOTAL + 1, in_flight: 0, deferred: 0 },
            ],
          },
        ],
      );

      const a2 = await subscribe(p2, topic, "A");
      conns.push(a2);
      const b2 = await subscribe(p2, topic, "B");
      conns.push(b2);
      await post(p2, `/channel/unpause?topic=${topic}&channel=B`);
      const [gotA, gotB] = await Promise.all([
        consumeAll(p2, a2, topic, "A", 20_000),
        consumeAll(p2, b2, topic, "B", 20_000),
      ]);

      // A: exactly the unfinished ones, once each; nothing FINned came back.
      const bodiesA = gotA.map(bodyOf);
      assert.equal(bodiesA.filter((b) => finnedBodies.has(b)).length, 0, "FINned came back");
      assert.equal(new Set(bodiesA).size, bodiesA.length, "duplicates on A");
      assert.deepEqual(bodiesA.sort(), unfinished);
      // In-flight and deferred messages keep their id; their first delivery counts (attempts 2).
      const byBody = new Map(gotA.map((m) => [bodyOf(m), m]));
      for (const m of [...held, ...requeued]) {
        const again = byBody.get(bodyOf(m))!;
        assert.equal(again.id, m.id, `id of ${bodyOf(m)}`);
        assert.equal(again.attempts, 2, `attempts of ${bodyOf(m)}`);
      }
      const delivered = new Set(taken.map(bodyOf));
      assert.ok(
        gotA.every((m) => delivered.has(bodyOf(m)) || m.attempts === 1),
        "never-delivered messages arrive with attempts 1",
      );

      // B: all 100k (and the deferred one) once.
      const bodiesB = gotB.map(bodyOf);
      assert.equal(new Set(bodiesB).size, bodiesB.length, "duplicates on B");
      assert.deepEqual(bodiesB.sort(), allB);

      // The paused topic keeps its messages until unpaused.
      const c2 = await subscribe(p2, topic2, "c2");
      conns.push(c2);
      await post(p2, `/topic/unpause?topic=${topic2}`);
      const gotAudit = await consumeAll(p2, c2, topic2, "c2", 10_000);
      assert.deepEqual(gotAudit.map(bodyOf).sort(), audit);

      const status2 = await p2.stop("SIGTERM", 15_000);
      assert.equal(status2.code, 0, p2.logText());
    } finally {
      for (const c of conns) await c.close();
      for (const p of procs) await p.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
