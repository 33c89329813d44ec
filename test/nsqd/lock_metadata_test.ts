/**
 * The data-path lock (docs/nsqd.md#data-path-lock) and nsqd.dat (docs/nsqd.md#metadata), with real
 * `nsqd` processes: a second nsqd on a data dir in use refuses to start and touches nothing; a
 * corrupt nsqd.dat is a fatal start-up error that leaves the file as it was; invalid names are
 * skipped with a warning; and an nsqd.dat plus go-diskqueue files written by hand the way Go nsqd
 * writes them are loaded: pause flags, channels, message ids, timestamps and attempts.
 */
import assert from "node:assert/strict";
import { encodeSegment, metaPath, segmentPath } from "../_util/disk_files.ts";
import { type NsqProc, post, spawnNsqd, topicStats } from "../_util/procs.ts";
import { waitFor } from "../_util/wait.ts";
import { encodeMessage, type Msg, V2Conn } from "../_util/wire.ts";

const td = new TextDecoder();

// ---- helpers --------------------------------------------------------------------------------

/** Runs an nsqd expected to fail at start-up: resolves once it has exited, logs drained. */
async function runFailingNsqd(name: string, dataPath: string): Promise<NsqProc> {
  const p = await spawnNsqd(name, dataPath, [], (p) => p.status !== null);
  await p.stop();
  return p;
}

/** `/stats?format=json` reduced to names, pause flags and depths, sorted. */
async function topology(p: NsqProc) {
  return (await topicStats(p)).map((t) => ({
    topic: t.topic_name,
    paused: t.paused,
    depth: t.depth,
    channels: t.channels.map((c) => ({
      channel: c.channel_name,
      paused: c.paused,
      depth: c.depth,
    })),
  }));
}

/** Every file of `dir` with its size, mtime and a digest of its bytes. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    const st = await Deno.stat(path);
    let digest = "-";
    if (st.isFile) {
      const hash = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
      digest = Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0")).join("");
    }
    out[e.name] = `size=${st.size} mtime=${st.mtime?.getTime()} sha256=${digest}`;
  }
  return out;
}

/** A running nsqd holding `dir`, with a topic whose 3 messages are on disk and in nsqd.dat. */
async function busyNsqd(dir: string): Promise<NsqProc> {
  const p = await spawnNsqd("nsqd1", dir, ["--sync-every=1", "--mem-queue-size=0"]);
  try {
    await using c = await V2Conn.connect(p.tcpAddress!);
    await c.mpub("kept", ["k1", "k2", "k3"]);
    await c.expectResponse("OK");
    // Settled: metadata synced (every write syncs), nsqd.dat persisted after the topic creation.
    await waitFor(async () => {
      const meta = await Deno.readTextFile(metaPath(dir, "kept")).catch(() => "");
      const dat = await Deno.readTextFile(`${dir}/nsqd.dat`).catch(() => "");
      return meta.startsWith("3\n") && dat.includes('"kept"');
    }, { timeoutMs: 5000, message: "kept on disk and in nsqd.dat" });
    return p;
  } catch (err) {
    await p.stop("SIGKILL");
    throw err;
  }
}

const LOCK_RE = (dir: string) =>
  new RegExp(
    `failed to lock data-path: cannot flock directory ${dir.replaceAll(".", "\\.")} - .+ ` +
      `\\(possibly in use by another instance of nsqd\\)`,
  );

// ---- data-path lock -------------------------------------------------------------------------

Deno.test({
  name: "lock: a second nsqd on a data path in use exits 1 with NSQ's message",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_lock_" });
    const procs: NsqProc[] = [];
    try {
      const p1 = await busyNsqd(dir);
      procs.push(p1);
      const p2 = await runFailingNsqd("nsqd2", dir);
      procs.push(p2);
      assert.equal(p2.status!.code, 1, p2.logText());
      assert.ok(p2.count(LOCK_RE(dir)) === 1, p2.logText());
      assert.equal(p2.tcpAddress, null, "the refused nsqd never listened");

      // The first one is unaffected: healthy, and its messages are still there.
      const ping = await fetch(`http://${p1.httpAddress}/ping`);
      assert.equal(`${ping.status} ${await ping.text()}`, "200 OK");
      {
        await using c = await V2Conn.connect(p1.tcpAddress!);
        await c.sub("kept", "c");
        await c.expectResponse("OK");
        await c.rdy(10);
        const got: string[] = [];
        for (let i = 0; i < 3; i++) got.push(td.decode((await c.expectMessage()).body));
        assert.deepEqual(got.sort(), ["k1", "k2", "k3"]);
      }
      assert.equal((await p1.stop("SIGTERM", 10_000)).code, 0, p1.logText());

      // The lock goes with the process: now a new nsqd may take the directory.
      const p3 = await spawnNsqd("nsqd3", dir);
      procs.push(p3);
      assert.equal((await p3.stop("SIGTERM", 10_000)).code, 0, p3.logText());
    } finally {
      for (const p of procs) await p.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "lock: the refused second nsqd modifies no file of the data path",
  // A failed start must not persist metadata: the refused instance would otherwise overwrite
  // the running instance's nsqd.dat.
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_lock_" });
    const procs: NsqProc[] = [];
    try {
      const p1 = await busyNsqd(dir);
      procs.push(p1);
      const before = await snapshot(dir);
      const p2 = await runFailingNsqd("nsqd2", dir);
      procs.push(p2);
      assert.equal(p2.status!.code, 1, p2.logText());
      assert.deepEqual(await snapshot(dir), before, p2.logText());
    } finally {
      for (const p of procs) await p.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

// ---- nsqd.dat ---------------------------------------------------------------------------------

const CORRUPT_DAT = '{"topics":[{"name":"t","paused":false,"channels":[{"name":';

Deno.test({
  name: "nsqd.dat: invalid JSON is a fatal start-up error naming the file, exit 1",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_meta_" });
    try {
      await Deno.writeTextFile(`${dir}/nsqd.dat`, CORRUPT_DAT);
      const p = await runFailingNsqd("nsqd", dir);
      assert.equal(p.status!.code, 1, p.logText());
      const fatal = p.lines.filter((l) => /FATAL/.test(l));
      assert.equal(fatal.length, 1, p.logText());
      assert.match(fatal[0], new RegExp(`failed to parse metadata in ${dir}/nsqd\\.dat - \\S`));
      assert.equal(p.tcpAddress, null, "never listened");
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "nsqd.dat: a corrupt nsqd.dat is left untouched by the failed start",
  // Go leaves a corrupt nsqd.dat alone (LoadMetadata fails before any PersistMetadata); so do
  // we, so the operator can repair it.
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_meta_" });
    try {
      await Deno.writeTextFile(`${dir}/nsqd.dat`, CORRUPT_DAT);
      await Deno.utime(`${dir}/nsqd.dat`, 1_600_000_000, 1_600_000_000);
      const before = await snapshot(dir);
      const p = await runFailingNsqd("nsqd", dir);
      assert.equal(p.status!.code, 1, p.logText());
      assert.equal(await Deno.readTextFile(`${dir}/nsqd.dat`), CORRUPT_DAT);
      assert.deepEqual(await snapshot(dir), before);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "nsqd.dat: invalid topic and channel names are skipped with a warning",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_meta_" });
    let p: NsqProc | null = null;
    try {
      await Deno.writeTextFile(
        `${dir}/nsqd.dat`,
        JSON.stringify({
          topics: [
            { name: "bad topic!", paused: false, channels: [{ name: "c", paused: false }] },
            {
              name: "good",
              paused: true,
              channels: [{ name: "bad/chan", paused: false }, { name: "c", paused: true }],
            },
            { name: "empty", paused: false, channels: null },
          ],
          version: "1.3.0",
        }),
      );
      p = await spawnNsqd("nsqd", dir);
      assert.equal(p.count(/WARN: skipping creation of invalid topic bad topic!$/), 1, p.logText());
      assert.equal(p.count(/WARN: skipping creation of invalid channel bad\/chan$/), 1);
      assert.deepEqual(await topology(p), [
        { topic: "empty", paused: false, depth: 0, channels: [] },
        {
          topic: "good",
          paused: true,
          depth: 0,
          channels: [{ channel: "c", paused: true, depth: 0 }],
        },
      ]);
      // Persisted right after loading, without the skipped names.
      let dat: unknown = null;
      await waitFor(async () => {
        dat = JSON.parse(await Deno.readTextFile(`${dir}/nsqd.dat`));
        return !JSON.stringify(dat).includes("bad");
      }, { timeoutMs: 5000, message: "nsqd.dat rewritten" });
      const d = dat as { topics: { name: string }[]; version: string };
      d.topics.sort((a, b) => a.name < b.name ? -1 : 1);
      assert.deepEqual(d.topics, [
        { name: "empty", paused: false, channels: null },
        { name: "good", paused: true, channels: [{ name: "c", paused: true }] },
      ]);
      assert.equal((await p.stop("SIGTERM", 10_000)).code, 0, p.logText());
    } finally {
      await p?.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "nsqd.dat and go-diskqueue files written by Go nsqd are loaded: pause, ids, attempts",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsqd_meta_" });
    let p: NsqProc | null = null;
    try {
      // What Go nsqd 1.3 leaves behind for a paused topic `t` holding two messages.
      await Deno.writeTextFile(
        `${dir}/nsqd.dat`,
        '{"topics":[{"name":"t","paused":true,"channels":[{"name":"c","paused":false}]}],' +
          '"version":"1.3.0"}',
      );
      const msgs = [
        { timestamp: 1_700_000_000_123_456_789n, attempts: 3, id: "0a1b2c3d4e5f6071", body: "one" },
        {
          timestamp: 1_700_000_001_000_000_000n,
          attempts: 7,
          id: "0a1b2c3d4e5f6072",
          body: "two!",
        },
      ];
      const segment = encodeSegment(msgs.map(encodeMessage));
      await Deno.writeFile(segmentPath(dir, "t", 0), segment);
      await Deno.writeTextFile(metaPath(dir, "t"), `2\n0,0\n0,${segment.length}\n`);

      p = await spawnNsqd("nsqd", dir);
      assert.deepEqual(await topology(p), [
        {
          topic: "t",
          paused: true,
          depth: 2,
          channels: [{ channel: "c", paused: false, depth: 0 }],
        },
      ]);

      await using c = await V2Conn.connect(p.tcpAddress!);
      await c.sub("t", "c");
      await c.expectResponse("OK");
      await c.rdy(10);
      await post(p, "/topic/unpause?topic=t");
      const got: Msg[] = [await c.expectMessage(), await c.expectMessage()];
      got.sort((a, b) => a.id < b.id ? -1 : 1);
      assert.deepEqual(
        got.map((m) => ({
          timestamp: m.timestamp,
          attempts: m.attempts,
          id: m.id,
          body: td.decode(m.body),
        })),
        msgs.map((m) => ({ ...m, attempts: m.attempts + 1 })),
      );
      for (const m of got) await c.fin(m.id);
      await waitFor(async () => {
        const [t] = await topology(p!);
        return t.depth === 0 && t.channels[0].depth === 0;
      }, { timeoutMs: 5000, message: "t drained" });
      // The unpause is persisted.
      await waitFor(async () => {
        const dat = await Deno.readTextFile(`${dir}/nsqd.dat`);
        return dat === '{"topics":[{"name":"t","paused":false,"channels":' +
            '[{"name":"c","paused":false}]}],"version":"1.3.0"}';
      }, { timeoutMs: 5000, message: "nsqd.dat with t unpaused" });
      await c.close();
      assert.equal((await p.stop("SIGTERM", 10_000)).code, 0, p.logText());
      // Everything read: the reader stands at the writer's position in the same file.
      assert.equal(
        await Deno.readTextFile(metaPath(dir, "t")),
        `0\n0,${segment.length}\n0,${segment.length}\n`,
      );
    } finally {
      await p?.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
