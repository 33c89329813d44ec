/**
 * Disk queue throughput for 200-byte records (the size of a small NSQ message on disk).
 *
 *   deno bench -A scripts/micro/disk_queue_bench.ts
 *
 * Every iteration moves BATCH records; records/s = BATCH / (time per iteration).
 * - "put": put() into the write buffer only (the write and fsync are excluded from the timing).
 * - "append": put() plus waiting for flushed(): written to the OS, fsynced per --sync-every 2500.
 * - "read (follows writer)": reading records that were just written (the common overflow case).
 * - "read (completed files)": reading a backlog from completed 16 MiB files.
 *
 * @module
 */
import { silentLogger } from "../../lib/internal/log.ts";
import { DiskQueue } from "../../lib/nsqd/disk_queue.ts";

const BATCH = 10_000;
const RECORD = new Uint8Array(200).map((_, i) => i & 0xff);

const dir = Deno.makeTempDirSync({ prefix: "dq_bench_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

let queues = 0;
function newQueue(maxBytesPerFile = 100 * 1024 * 1024): DiskQueue {
  return new DiskQueue({
    name: `bench${queues++}`,
    dataPath: dir,
    maxBytesPerFile,
    minMsgSize: 26,
    maxMsgSize: 1024 * 1024 + 26,
    syncEvery: 2500,
    syncTimeout: 2000,
    logger: silentLogger(),
  });
}

/** Reads n records, waiting for onReadable whenever the read-ahead is empty. */
async function readN(q: DiskQueue, n: number): Promise<void> {
  let got = 0;
  while (got < n) {
    const r = q.read();
    if (r !== null) {
      got++;
      continue;
    }
    await new Promise<void>((resolve) => (q.onReadable = resolve));
  }
}

const putQueue = newQueue();
Deno.bench({
  name: `put ${BATCH} x 200 B (buffer only)`,
  group: "append",
  async fn(b) {
    b.start();
    for (let i = 0; i < BATCH; i++) putQueue.put(RECORD);
    b.end();
    await putQueue.flushed();
  },
});

const appendQueue = newQueue();
Deno.bench({
  name: `append ${BATCH} x 200 B (put + flushed)`,
  group: "append",
  baseline: true,
  async fn() {
    for (let i = 0; i < BATCH; i++) appendQueue.put(RECORD);
    await appendQueue.flushed();
  },
});

const followQueue = newQueue();
Deno.bench({
  name: `read ${BATCH} x 200 B (follows writer)`,
  group: "read",
  async fn(b) {
    for (let i = 0; i < BATCH; i++) followQueue.put(RECORD);
    await followQueue.flushed();
    b.start();
    await readN(followQueue, BATCH);
    b.end();
  },
});

const backlogQueue = newQueue(16 * 1024 * 1024);
Deno.bench({
  name: `read ${BATCH} x 200 B (completed files)`,
  group: "read",
  baseline: true,
  async fn(b) {
    if (backlogQueue.depth() < BATCH) {
      // Untimed refill: ~60 MB, so most reads come from completed 16 MiB files.
      for (let i = 0; i < 30 * BATCH; i++) backlogQueue.put(RECORD);
      await backlogQueue.flushed();
    }
    b.start();
    await readN(backlogQueue, BATCH);
    b.end();
  },
});
