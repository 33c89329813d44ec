/**
 * Tests for scripts/bench_writer.ts, scripts/bench_reader.ts and their shared
 * scripts/_bench_common.ts against a minimal fake nsqd that answers OK to IDENTIFY/SUB/MPUB,
 * streams message frames inside the RDY window and counts FINs.
 *
 * `startFakeNsqd` is exported so a throwaway script can measure the clients' ceiling against it.
 */
import assert from "node:assert/strict";
import { encodeMpubBatch, runWriter } from "../../scripts/bench_writer.ts";
import {
  formatBenchLine,
  goLogLine,
  parseBenchFlags,
  parseDeadline,
  parseGoDuration,
} from "../../scripts/_bench_common.ts";
import { runReader } from "../../scripts/bench_reader.ts";
import { formatDurationNanos } from "../../lib/internal/duration.ts";
import { waitFor } from "../_util/wait.ts";

/** Counters and command log of a {@linkcode FakeNsqd}. */
export interface FakeStats {
  conns: number;
  closedConns: number;
  identifies: unknown[];
  subs: string[];
  rdys: number[];
  mpubBatches: number;
  mpubMsgs: number;
  mpubBytes: number;
  sent: number;
  fins: number;
  /** FINs for IDs never sent or already finished on that connection. */
  badFins: number;
  nops: number;
  errors: string[];
}

/** A fake nsqd on 127.0.0.1:0. */
export interface FakeNsqd {
  addr: string;
  stats: FakeStats;
  close(): Promise<void>;
}

const OK_FRAME = Uint8Array.of(0, 0, 0, 6, 0, 0, 0, 0, 0x4f, 0x4b);
const HEX = new TextEncoder().encode("0123456789abcdef");

/**
 * Starts the fake. Per connection: expects the magic, then parses commands in place. MPUB bodies
 * are validated (count and inner sizes must add up to the outer size). After SUB and RDY n it
 * keeps `n` messages in flight, writing message frames (IDs are a per-connection counter in hex)
 * from a template in one write per batch; each valid FIN frees a slot.
 * `opts.heartbeatEvery` sends a `_heartbeat_` frame before every Nth message batch.
 */
export function startFakeNsqd(opts: { bodySize?: number; heartbeatEvery?: number } = {}): FakeNsqd {
  const bodySize = opts.bodySize ?? 200;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stats: FakeStats = {
    conns: 0,
    closedConns: 0,
    identifies: [],
    subs: [],
    rdys: [],
    mpubBatches: 0,
    mpubMsgs: 0,
    mpubBytes: 0,
    sent: 0,
    fins: 0,
    badFins: 0,
    nops: 0,
    errors: [],
  };
  const conns = new Set<Deno.Conn>();
  const handlers = new Set<Promise<void>>();
  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        conn.setNoDelay(true);
        conns.add(conn);
        stats.conns++;
        const h = handle(conn, stats, bodySize, opts.heartbeatEvery ?? 0)
          .catch((err) => {
            stats.errors.push(String(err));
          })
          .finally(() => {
            conns.delete(conn);
            stats.closedConns++;
            try {
              conn.close();
            } catch {
              // closed
            }
            handlers.delete(h);
          });
        handlers.add(h);
      }
    } catch {
      // listener closed
    }
  })();
  return {
    addr: `127.0.0.1:${listener.addr.port}`,
    stats,
    async close() {
      try {
        listener.close();
      } catch {
        // closed
      }
      await acceptLoop;
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
      await Promise.all([...handlers]);
    },
  };
}

async function writeFull(conn: Deno.Conn, p: Uint8Array): Promise<void> {
  let off = 0;
  while (off < p.length) off += await conn.write(p.subarray(off));
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

async function handle(
  conn: Deno.Conn,
  stats: FakeStats,
  bodySize: number,
  heartbeatEvery: number,
): Promise<void> {
  const dec = new TextDecoder();
  let buf = new Uint8Array(256 * 1024);
  let start = 0;
  let end = 0;
  let magicSeen = false;
  let rdy = 0;
  let subscribed = false;
  let nextId = 0;
  const inFlight = new Set<number>();
  let writing = false;
  let pumpError: unknown = null;
  let batches = 0;

  const frameSize = 8 + 26 + bodySize;
  const template = new Uint8Array(frameSize);
  new DataView(template.buffer).setUint32(0, 4 + 26 + bodySize);
  new DataView(template.buffer).setUint32(4, 2);
  new DataView(template.buffer).setBigInt64(8, BigInt(Date.now()) * 1_000_000n);
  template[17] = 1; // attempts
  let out = new Uint8Array(0);
  const hb = new Uint8Array([0, 0, 0, 15, 0, 0, 0, 0, ...new TextEncoder().encode("_heartbeat_")]);

  // Keeps `rdy` messages in flight, one write per batch, at most one write outstanding.
  const pump = async () => {
    if (writing) return;
    writing = true;
    try {
      while (subscribed && inFlight.size < rdy) {
        const n = rdy - inFlight.size;
        const withHb = heartbeatEvery > 0 && ++batches % heartbeatEvery === 0;
        const need = n * frameSize + (withHb ? hb.length : 0);
        if (out.length < need) out = new Uint8Array(need);
        let o = 0;
        if (withHb) {
          out.set(hb, 0);
          o = hb.length;
        }
        for (let i = 0; i < n; i++, o += frameSize) {
          out.set(template, o);
          let id = nextId++;
          inFlight.add(id);
          for (let d = 15; d >= 0; d--, id = Math.floor(id / 16)) {
            out[o + 18 + d] = HEX[id % 16];
          }
        }
        stats.sent += n;
        await writeFull(conn, out.subarray(0, o));
      }
    } catch (err) {
      pumpError = err;
    } finally {
      writing = false;
    }
  };

  for (;;) {
    if (end === buf.length) {
      if (start > 0) {
        buf.copyWithin(0, start, end);
        end -= start;
        start = 0;
      } else {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
    }
    let n: number | null;
    try {
      n = await conn.read(buf.subarray(end));
    } catch {
      n = null;
    }
    if (n === null) break;
    end += n;
    if (!magicSeen) {
      if (end - start < 4) continue;
      if (dec.decode(buf.subarray(start, start + 4)) !== "  V2") throw new Error("bad magic");
      magicSeen = true;
      start += 4;
    }
    const replies: Uint8Array[] = [];
    let wake = false;
    for (;;) {
      const nl = buf.subarray(start, end).indexOf(0x0a);
      if (nl < 0) break;
      const lineEnd = start + nl;
      const line = dec.decode(buf.subarray(start, lineEnd));
      const [name, ...params] = line.split(" ");
      let bodyStart = lineEnd + 1;
      let body: Uint8Array | null = null;
      if (name === "IDENTIFY" || name === "MPUB" || name === "PUB") {
        if (end - bodyStart < 4) break;
        const size = u32(buf, bodyStart);
        if (end - bodyStart < 4 + size) break;
        body = buf.subarray(bodyStart + 4, bodyStart + 4 + size);
        bodyStart += 4 + size;
      }
      start = bodyStart;
      switch (name) {
        case "IDENTIFY":
          stats.identifies.push(JSON.parse(dec.decode(body!)));
          replies.push(OK_FRAME);
          break;
        case "MPUB": {
          const b = body!;
          const count = u32(b, 0);
          let off = 4;
          for (let i = 0; i < count; i++) off += 4 + u32(b, off);
          if (off !== b.length || count === 0) throw new Error("bad MPUB body");
          stats.mpubBatches++;
          stats.mpubMsgs += count;
          stats.mpubBytes += b.length - 4 - 4 * count;
          replies.push(OK_FRAME);
          break;
        }
        case "SUB":
          stats.subs.push(params.join(" "));
          subscribed = true;
          replies.push(OK_FRAME);
          break;
        case "RDY":
          rdy = Number(params[0]);
          stats.rdys.push(rdy);
          wake = true;
          break;
        case "FIN": {
          const id = params[0].length === 16 ? parseInt(params[0], 16) : NaN;
          if (inFlight.delete(id)) stats.fins++;
          else stats.badFins++;
          wake = true;
          break;
        }
        case "NOP":
          stats.nops++;
          break;
        default:
          throw new Error(`unexpected command ${JSON.stringify(line)}`);
      }
    }
    if (start === end) start = end = 0;
    for (const r of replies) await writeFull(conn, r);
    if (pumpError) throw pumpError;
    if (wake) void pump();
  }
  // Wait for an outstanding pump write to end before the handler closes the socket.
  await waitFor(() => !writing, { intervalMs: 1 });
}

Deno.test("formatDurationNanos matches Go's time.Duration.String", () => {
  const cases: Array<[bigint, string]> = [
    [0n, "0s"],
    [1n, "1ns"],
    [1100n, "1.1µs"],
    [2_200_000n, "2.2ms"],
    [300_000_000n, "300ms"],
    [3_300_000_000n, "3.3s"],
    [10_000_123_456n, "10.000123456s"],
    [60_000_000_000n, "1m0s"],
    [61_500_000_000n, "1m1.5s"],
    [3_723_000_000_000n, "1h2m3s"],
    [-1_500_000_000n, "-1.5s"],
  ];
  for (const [ns, want] of cases) assert.equal(formatDurationNanos(ns), want);
});

Deno.test("parseGoDuration accepts Go durations and rejects others", () => {
  assert.equal(parseGoDuration("10s"), 10_000);
  assert.equal(parseGoDuration("300ms"), 300);
  assert.equal(parseGoDuration("1m30s"), 90_000);
  assert.equal(parseGoDuration("1.5h"), 5_400_000);
  assert.equal(parseGoDuration("250us"), 0.25);
  assert.equal(parseGoDuration("-2s"), -2000);
  assert.equal(parseGoDuration("0"), 0);
  for (const bad of ["", "10", "s", "1x", "1.s2", "abc"]) {
    assert.throws(() => parseGoDuration(bad), TypeError, bad);
  }
});

Deno.test("formatBenchLine is bench_writer.go's line", () => {
  assert.equal(
    formatBenchLine(10_000.123456, 2_000_000, 200),
    "duration: 10.000123456s - 38.147mb/s - 199997.531ops/s - 5.000us/op",
  );
  // No messages: Go prints +Inf us/op.
  assert.equal(
    formatBenchLine(1000, 0, 200),
    "duration: 1s - 0.000mb/s - 0.000ops/s - +Infus/op",
  );
  // Exact binary ties round half to even, as Go's strconv does (JS toFixed rounds them up).
  assert.equal(
    formatBenchLine(1000, 1, 1),
    "duration: 1s - 0.000mb/s - 1.000ops/s - 1000000.000us/op",
  );
  assert.match(formatBenchLine(1000, 65536, 1), / - 0\.062mb\/s - /);
  assert.equal(
    goLogLine("[bench_writer] ", "x", new Date(2024, 0, 2, 3, 4, 5)),
    "[bench_writer] 2024/01/02 03:04:05 x",
  );
});

Deno.test("parseBenchFlags: Go flag syntax, aliases, errors", () => {
  const flags = [
    { name: "runfor", kind: "duration" as const, usage: "", default: "10s" },
    { name: "size", kind: "int" as const, usage: "", default: "200" },
    {
      name: "nsqd-tcp-address",
      kind: "string" as const,
      usage: "",
      default: "127.0.0.1:4150",
      aliases: ["tcp-address"],
    },
  ];
  const { values } = parseBenchFlags(
    ["-runfor=1s", "--size", "10", "--tcp-address", "h:1", "rest", "--size=3"],
    flags,
  );
  assert.deepEqual(values, { runfor: "1s", size: "10", "nsqd-tcp-address": "h:1" });
  assert.equal(parseBenchFlags(["-h"], flags).help, true);
  assert.throws(() => parseBenchFlags(["--nope=1"], flags), /flag provided but not defined: -nope/);
  assert.throws(() => parseBenchFlags(["--size=x"], flags), /invalid value "x" for flag -size/);
  assert.throws(() => parseBenchFlags(["--runfor", "5"], flags), /invalid value "5"/);
  assert.throws(() => parseBenchFlags(["--size"], flags), /flag needs an argument: -size/);
});

Deno.test("parseDeadline is Go's time.Parse with the 2006-01-02 15:04:05 layout (UTC)", () => {
  assert.equal(parseDeadline("2024-03-04 05:06:07"), Date.UTC(2024, 2, 4, 5, 6, 7));
  assert.throws(() => parseDeadline("2024-02-30 00:00:00"), /parsing time/);
  assert.throws(() => parseDeadline("tomorrow"), /parsing time "tomorrow"/);
});

Deno.test("encodeMpubBatch: one MPUB with batch-size zeroed messages", () => {
  const b = encodeMpubBatch("t", 3, 2);
  const head = [...new TextEncoder().encode("MPUB t\n")];
  // body size 18 = count(4) + 2 × (size(4) + 3)
  const body = [0, 0, 0, 18, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0];
  assert.deepEqual([...b], [...head, ...body]);
});

Deno.test("runWriter: MPUBs batches over N connections for runfor and counts acknowledged messages", async () => {
  const fake = startFakeNsqd();
  try {
    const r = await runWriter({
      nsqdTcpAddress: fake.addr,
      runforMs: 300,
      concurrency: 3,
      batchSize: 50,
      size: 100,
      topic: "bench_t",
    });
    assert.ok(r.durationMs >= 300 && r.durationMs < 2000, `duration ${r.durationMs}`);
    assert.ok(r.msgs > 0);
    assert.equal(r.msgs % 50, 0);
    assert.equal(r.msgs, fake.stats.mpubMsgs);
    assert.equal(fake.stats.mpubBytes, r.msgs * 100);
    assert.equal(fake.stats.conns, 3);
    assert.equal(fake.stats.identifies.length, 3);
    assert.deepEqual(Object.keys(fake.stats.identifies[0] as object), [
      "client_id",
      "hostname",
      "user_agent",
    ]);
    await waitFor(() => fake.stats.closedConns === 3);
    assert.deepEqual(fake.stats.errors, []);
  } finally {
    await fake.close();
  }
});

Deno.test("runWriter: an error frame fails the run and closes every connection", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    listener.close();
    const buf = new Uint8Array(4096);
    await conn.read(buf);
    const err = new TextEncoder().encode("E_BAD_TOPIC nope");
    const frame = new Uint8Array(8 + err.length);
    new DataView(frame.buffer).setUint32(0, 4 + err.length);
    new DataView(frame.buffer).setUint32(4, 1);
    frame.set(err, 8);
    await writeFull(conn, frame);
    while ((await conn.read(buf).catch(() => null)) !== null) { /* drain */ }
    conn.close();
  })();
  await assert.rejects(
    runWriter({ nsqdTcpAddress: `127.0.0.1:${listener.addr.port}`, runforMs: 100, concurrency: 1 }),
    /E_BAD_TOPIC nope/,
  );
  await served;
});

Deno.test("runReader: SUB + RDY, FINs every message, stops after runfor", async () => {
  const fake = startFakeNsqd({ bodySize: 200, heartbeatEvery: 50 });
  try {
    const r = await runReader({
      nsqdTcpAddress: fake.addr,
      runforMs: 300,
      concurrency: 2,
      rdy: 100,
      topic: "bench_t",
      channel: "bench_c",
    });
    assert.ok(r.durationMs >= 300 && r.durationMs < 2000, `duration ${r.durationMs}`);
    assert.ok(r.msgs > 100, `msgs ${r.msgs}`);
    await waitFor(() => fake.stats.closedConns === 2);
    const s = fake.stats;
    assert.deepEqual(s.errors, []);
    assert.deepEqual(s.subs, ["bench_t bench_c", "bench_t bench_c"]);
    assert.deepEqual(s.rdys, [100, 100]);
    assert.deepEqual(s.identifies, [{ long_id: "test", short_id: "test" }, {
      long_id: "test",
      short_id: "test",
    }]);
    assert.equal(s.badFins, 0);
    assert.ok(r.msgs <= s.sent);
    // Every received message was FIN'd, except FINs still unwritten when the run closed.
    assert.ok(s.fins <= r.msgs && s.fins >= r.msgs - 2 * 100, `fins ${s.fins} msgs ${r.msgs}`);
    assert.ok(s.nops > 0, "heartbeats answered with NOP");
  } finally {
    await fake.close();
  }
});

Deno.test("runReader: frames larger than the read buffer", async () => {
  const fake = startFakeNsqd({ bodySize: 100_000 });
  try {
    const r = await runReader({
      nsqdTcpAddress: fake.addr,
      runforMs: 200,
      concurrency: 1,
      rdy: 5,
      readBufferSize: 4096,
    });
    assert.ok(r.msgs > 5, `msgs ${r.msgs}`);
    await waitFor(() => fake.stats.closedConns === 1);
    assert.equal(fake.stats.badFins, 0);
    assert.deepEqual(fake.stats.errors, []);
  } finally {
    await fake.close();
  }
});

Deno.test("runReader: abort signal ends the run early", async () => {
  const fake = startFakeNsqd();
  const ac = new AbortController();
  try {
    const t0 = performance.now();
    const p = runReader({ nsqdTcpAddress: fake.addr, runforMs: 10_000, concurrency: 1, rdy: 10 });
    void p.catch(() => {});
    const r2 = runReader({
      nsqdTcpAddress: fake.addr,
      runforMs: 10_000,
      concurrency: 1,
      rdy: 10,
      signal: ac.signal,
    });
    await waitFor(() => fake.stats.fins > 20);
    ac.abort();
    const r = await r2;
    assert.ok(performance.now() - t0 < 5000);
    assert.ok(r.msgs > 0);
    // The other run keeps going until the fake closes it.
    await fake.close();
    await p;
  } finally {
    await fake.close();
  }
});

function scriptPath(name: string): string {
  return new URL(`../../scripts/${name}`, import.meta.url).pathname;
}

Deno.test("CLI: bench_writer and bench_reader print NSQ's line", async () => {
  const fake = startFakeNsqd();
  try {
    for (
      const [script, prefix] of [
        [scriptPath("bench_writer.ts"), "[bench_writer] "],
        [scriptPath("bench_reader.ts"), "[bench_reader] "],
      ]
    ) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          script,
          `--nsqd-tcp-address=${fake.addr}`,
          "--runfor",
          "200ms",
          "-concurrency=1",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, err);
      const re = new RegExp(
        "^" + prefix.replace(/[[\]]/g, "\\$&") +
          String
            .raw`\d{4}/\d\d/\d\d \d\d:\d\d:\d\d duration: [\d.]+m?s - \d+\.\d{3}mb/s - \d+\.\d{3}ops/s - \d+\.\d{3}us/op\n$`,
      );
      assert.match(err, re);
    }
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", scriptPath("bench_writer.ts"), "--bogus"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(bad.code, 2);
    assert.match(new TextDecoder().decode(bad.stderr), /flag provided but not defined: -bogus/);
  } finally {
    await fake.close();
  }
});
