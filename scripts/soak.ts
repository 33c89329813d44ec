/**
 * Soak test: one nsqd (ours, or any nsqd binary with `--nsqd-bin`) under steady publish and
 * consume load over several topics and channels for `--duration`, with consumers that reconnect
 * (their in-flight messages go back to the channel) and nsqd restarted alternately with SIGTERM
 * and with SIGKILL, while its RSS is sampled every second.
 *
 *   deno run -A scripts/soak.ts [--duration 10m] [--topics 3] [--channels 2] [--rate 100]
 *     [--restart-every 1m] [--steady 0.34] [--consumer-session 20s] [--nsqd-bin PATH]
 *     [--json FILE]
 *
 * nsqd runs with `--mem-queue-size=0 --sync-every=1` (every acknowledged message is on disk, so
 * a SIGKILL may lose only what was in flight to a consumer that had not read it yet). Restarts
 * happen during the first `1 - steady` of the run; the last `steady` fraction runs one nsqd
 * uninterrupted, and the RSS slope over it (after a minute of warm-up) is the leak check.
 *
 * At the end publishers stop, consumers drain every channel (bounded by `--drain-timeout`), and
 * the verdict per channel is: every acknowledged message received at least once, except those in
 * flight at a SIGKILL (see IN_FLIGHT_SLACK_MS), duplicates counted; messages still queued when the
 * drain times out are reported as `pendingAtEnd`, not as lost. Exit 0 when nothing else was lost
 * and everything drained, 1 otherwise.
 *
 * Loopback only; bounded: `--duration` at most 2h.
 *
 * @module
 */
import { formatDuration } from "../lib/internal/duration.ts";
import { parseBenchCli, parseGoDuration } from "./_bench_common.ts";
import {
  Consumer,
  httpPost,
  NsqdChild,
  pendingByChannel,
  Publisher,
  reconcile,
  sleep,
  slope,
} from "./_fault_common.ts";

const FLAGS = [
  { name: "duration", kind: "duration", usage: "how long to run (at most 2h)", default: "10m" },
  { name: "topics", kind: "int", usage: "topics (one publisher each)", default: "3" },
  { name: "channels", kind: "int", usage: "channels per topic", default: "2" },
  { name: "consumers", kind: "int", usage: "consumers per channel", default: "2" },
  { name: "rate", kind: "int", usage: "messages/s per publisher (0: unpaced)", default: "100" },
  { name: "size", kind: "int", usage: "message body size in bytes", default: "200" },
  { name: "rdy", kind: "int", usage: "RDY count of each consumer", default: "25" },
  {
    name: "restart-every",
    kind: "duration",
    usage: "restart nsqd this often, alternating SIGTERM and SIGKILL (0: never)",
    default: "1m",
  },
  {
    name: "steady",
    kind: "string",
    usage: "fraction of the run at the end without nsqd restarts (the RSS check)",
    default: "0.34",
  },
  {
    name: "consumer-session",
    kind: "duration",
    usage: "each consumer reconnects after about this long (0: never)",
    default: "20s",
  },
  {
    name: "signals",
    kind: "string",
    usage: "the restart signals, used in turn",
    default: "SIGKILL,SIGTERM",
  },
  {
    name: "drain-timeout",
    kind: "duration",
    usage: "how long consumers may take to drain every channel at the end",
    default: "2m",
  },
  { name: "msg-timeout", kind: "duration", usage: "nsqd --msg-timeout", default: "5s" },
  {
    name: "nsqd-bin",
    kind: "string",
    usage: "an nsqd binary to soak instead of ours",
    default: "",
  },
  { name: "json", kind: "string", usage: "write the result as JSON to this file", default: "" },
] as const;

const MAX_DURATION_MS = 2 * 3600_000;
const WARMUP_MS = 60_000;
/** Slack on top of --msg-timeout for "in flight at a SIGKILL" (output buffer, scheduling). */
const IN_FLIGHT_SLACK_MS = 2000;

interface RssSample {
  t: number;
  kb: number;
  incarnation: number;
}

async function main(): Promise<number> {
  const v = parseBenchCli(
    "soak",
    Deno.args,
    FLAGS as unknown as Parameters<typeof parseBenchCli>[2],
  );
  if (typeof v === "number") return v;
  const durationMs = parseGoDuration(v["duration"]);
  if (!(durationMs > 0 && durationMs <= MAX_DURATION_MS)) {
    console.error(`--duration must be in (0, 2h], got ${v["duration"]}`);
    return 2;
  }
  const steady = Number(v["steady"]);
  if (!(steady >= 0 && steady <= 1)) {
    console.error(`--steady must be in [0, 1], got ${v["steady"]}`);
    return 2;
  }
  const nTopics = Number(v["topics"]), nChannels = Number(v["channels"]);
  const nConsumers = Number(v["consumers"]);
  const rdy = Number(v["rdy"]);
  const restartEveryMs = parseGoDuration(v["restart-every"]);
  const sessionMs = parseGoDuration(v["consumer-session"]);
  const msgTimeoutMs = parseGoDuration(v["msg-timeout"]);
  const drainTimeoutMs = parseGoDuration(v["drain-timeout"]);
  const bin = v["nsqd-bin"];
  const signals = v["signals"].split(",").map((x) => x.trim());
  if (!signals.every((x): x is "SIGKILL" | "SIGTERM" => x === "SIGKILL" || x === "SIGTERM")) {
    console.error(`--signals: a list of SIGKILL and SIGTERM, got ${v["signals"]}`);
    return 2;
  }
  const nsqdArgs = ["--mem-queue-size=0", "--sync-every=1", `--msg-timeout=${v["msg-timeout"]}`];
  const log = (s: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${s}`);

  const dataPath = await Deno.makeTempDir({ prefix: "nsq_soak_" });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const topics = Array.from({ length: nTopics }, (_, i) => `soak${i}`);
  const channels = topics.flatMap((t) =>
    Array.from({ length: nChannels }, (_, j) => ({ topic: t, channel: `ch${j}` }))
  );
  let nsqd: NsqdChild | null = null;
  let live = false;
  const target = { addr: () => (live && nsqd !== null ? nsqd.tcpAddress : null) };
  const errorLines: string[] = [];
  let errorCount = 0;
  const onLine = (l: string) => {
    if (/ (ERROR|FATAL|WARN|WARNING): /.test(l)) {
      errorCount++;
      if (errorLines.length < 50) errorLines.push(l);
    }
  };
  let incarnation = 0;
  const missingAfterRestart: string[] = [];
  const restarts: { at: number; signal: string; downMs: number }[] = [];
  /** performance.now() of each SIGKILL. */
  const killTimes: number[] = [];

  /** Starts nsqd, makes sure every topic and channel exists (reporting any that vanished). */
  const startNsqd = async () => {
    nsqd = await NsqdChild.start({ bin, dataPath, args: nsqdArgs, onLine });
    incarnation++;
    const have = await pendingByChannel(nsqd.httpAddress!);
    for (const c of channels) {
      const key = `${c.topic}/${c.channel}`;
      if (incarnation > 1 && !have.has(key)) missingAfterRestart.push(`#${incarnation} ${key}`);
      await httpPost(nsqd.httpAddress!, `/topic/create?topic=${c.topic}`);
      await httpPost(nsqd.httpAddress!, `/channel/create?topic=${c.topic}&channel=${c.channel}`);
    }
    live = true;
  };

  const rss: RssSample[] = [];
  const t0 = performance.now();
  const pubs = topics.map((t, i) => new Publisher(i, t, Number(v["size"]), Number(v["rate"])));
  const consumers = channels.map((c) =>
    Array.from(
      { length: nConsumers },
      () => new Consumer({ topic: c.topic, channel: c.channel, rdy, sessionMs }),
    )
  );
  const pubStop = new AbortController();
  const conStop = new AbortController();
  const tasks: Promise<void>[] = [];
  let sampler: ReturnType<typeof setInterval> | undefined;
  let exitCode = 1;
  try {
    await startNsqd();
    log(
      `soak: ${bin || "nsq-deno nsqd"} pid ${nsqd!.pid}, ${nTopics} topics x ${nChannels} ` +
        `channels x ${nConsumers} consumers, ${v["rate"]} msgs/s per topic, ` +
        `${formatDuration(durationMs)}, restarts every ${v["restart-every"]} in the first ` +
        `${Math.round((1 - steady) * 100)}%, data ${dataPath}`,
    );
    sampler = setInterval(() => {
      if (nsqd === null || !live) return;
      const kb = nsqd.rssKb();
      if (kb > 0) rss.push({ t: performance.now() - t0, kb, incarnation });
    }, 1000);
    for (const p of pubs) tasks.push(p.run(target, AbortSignal.any([pubStop.signal, stop.signal])));
    for (const cs of consumers) {
      for (const c of cs) tasks.push(c.run(target, AbortSignal.any([conStop.signal, stop.signal])));
    }

    const restartUntil = durationMs * (1 - steady);
    let nextRestart = restartEveryMs > 0 ? restartEveryMs : Infinity;
    let nextReport = 60_000;
    let kills = 0;
    while (!stop.signal.aborted) {
      const now = performance.now() - t0;
      if (now >= durationMs) break;
      if (now >= nextRestart && now < restartUntil) {
        const signal = signals[restarts.length % signals.length];
        const down = performance.now();
        live = false;
        if (signal === "SIGKILL") killTimes.push(performance.now());
        const st = await nsqd!.stop(signal);
        if (signal === "SIGTERM" && st.code !== 0) {
          log(`nsqd exited ${st.code} after SIGTERM:\n${nsqd!.tail.slice(-20).join("\n")}`);
        }
        if (signal === "SIGKILL") kills++;
        await startNsqd();
        restarts.push({ at: now, signal, downMs: performance.now() - down });
        log(
          `restart #${restarts.length} (${signal}) took ${
            Math.round(performance.now() - down)
          } ms; new pid ${nsqd!.pid}`,
        );
        nextRestart += restartEveryMs;
        continue;
      }
      if (now >= nextReport) {
        nextReport += 60_000;
        const acked = pubs.reduce((a, p) => a + p.ackedCount, 0);
        const recv = consumers.flat().reduce((a, c) => a + c.received, 0);
        const last = rss.at(-1);
        log(
          `${Math.round(now / 1000)}s: ${acked} acked, ${recv} received, ${restarts.length} ` +
            `restarts (${kills} kill -9), RSS ${last ? (last.kb / 1024).toFixed(1) : "?"} MB`,
        );
      }
      await sleep(Math.max(1, Math.min(250, nextRestart - now, durationMs - now)));
    }

    // Stop publishing, then let consumers drain every channel (bounded).
    pubStop.abort();
    await Promise.all(tasks.slice(0, pubs.length));
    const drainStart = performance.now();
    let pending = new Map<string, number>();
    let allSeen = false;
    let emptySince: number | null = null;
    let recvAtEmpty = 0;
    while (performance.now() - drainStart < drainTimeoutMs && !stop.signal.aborted) {
      pending = await pendingByChannel(nsqd!.httpAddress!);
      allSeen = channels.every((c, i) =>
        reconcile(pubs.filter((p) => p.topic === c.topic), consumers[i]).lost === 0
      );
      // Drained: nothing left in any channel, twice 2 s apart with nothing received in between
      // (what a SIGKILL lost will never come).
      const empty = [...pending.values()].every((n) => n === 0);
      if (empty && allSeen) break;
      const recv = consumers.flat().reduce((a, c) => a + c.received, 0);
      if (empty && emptySince !== null && recv === recvAtEmpty) {
        if (performance.now() - emptySince >= 2000) break;
      } else if (empty) {
        if (emptySince === null || recv !== recvAtEmpty) {
          emptySince = performance.now();
          recvAtEmpty = recv;
        }
      } else emptySince = null;
      await sleep(250);
    }
    const drainMs = performance.now() - drainStart;
    conStop.abort();
    await Promise.all(tasks);
    clearInterval(sampler);
    sampler = undefined;
    live = false;
    const finalStatus = await nsqd!.stop("SIGTERM");

    // ---- the verdict ----
    const perChannel = channels.map((c, i) => {
      const r = reconcile(pubs.filter((p) => p.topic === c.topic), consumers[i]);
      const cs = consumers[i];
      // A SIGKILL loses the messages in flight to this channel's consumers: in memory only, as
      // in NSQ. Those are messages sent (or still in nsqd's output buffer, up to 250 ms) but not
      // read, and those of a consumer that disconnected less than --msg-timeout before the kill
      // (NSQ requeues them only when they time out). So they were acknowledged at most
      // msg-timeout + 2 s before the kill, and there are at most RDY per consumer connection
      // alive in that window.
      const window = msgTimeoutMs + IN_FLIGHT_SLACK_MS;
      const perKill = killTimes.map(() => 0);
      let unexplained = 0;
      for (const t of r.lostAckTimes) {
        const k = killTimes.findIndex((kt) => t <= kt + 100 && t >= kt - window);
        if (k >= 0) perKill[k]++;
        else unexplained++;
      }
      perKill.forEach((n, k) => {
        const ended = cs.reduce(
          (a, c) =>
            a + c.sessionEnds.filter((e) => e <= killTimes[k] && e >= killTimes[k] - window).length,
          0,
        );
        const bound = (cs.length + ended) * rdy;
        if (n > bound) unexplained += n - bound;
      });
      return {
        channel: `${c.topic}/${c.channel}`,
        acked: r.acked,
        received: cs.reduce((a, x) => a + x.received, 0),
        lost: r.lost,
        lostInFlightAtKill: r.lost - unexplained,
        lostOtherwise: unexplained,
        lostPerKill: perKill,
        lostSample: r.lostSample,
        duplicates: cs.reduce((a, x) => a + x.duplicates, 0),
        phantom: r.phantom + cs.reduce((a, x) => a + x.foreign, 0),
        sessions: cs.reduce((a, x) => a + x.sessions, 0),
      };
    });
    const lost = perChannel.reduce((a, c) => a + c.lost, 0);
    const lostOtherwise = perChannel.reduce((a, c) => a + c.lostOtherwise, 0);
    const phantom = perChannel.reduce((a, c) => a + c.phantom, 0);
    const steadyStart = durationMs * (1 - steady) + WARMUP_MS;
    const lastInc = incarnation;
    if (Deno.env.get("SOAK_DEBUG") === "1") {
      for (let i = 0; i < channels.length; i++) {
        const r = reconcile(pubs.filter((p) => p.topic === channels[i].topic), consumers[i]);
        console.log(channels[i], "kills", killTimes.map((k) => Math.round(k - t0)));
        console.log("lost ack times", r.lostAckTimes.map((k) => Math.round(k - t0)).join(" "));
      }
    }
    const steadySamples = rss.filter((s) => s.incarnation === lastInc && s.t >= steadyStart);
    const slopeKbPerMin = slope(
      steadySamples.map((s) => s.t / 60_000),
      steadySamples.map((s) => s.kb),
    );
    const mb = (kb: number) => Math.round(kb / 102.4) / 10;
    const byInc = new Map<number, number[]>();
    for (const s of rss) {
      let a = byInc.get(s.incarnation);
      if (a === undefined) byInc.set(s.incarnation, a = []);
      a.push(s.kb);
    }
    const result = {
      nsqd: bin || "nsq-deno",
      flags: nsqdArgs,
      durationMs: Math.round(performance.now() - t0),
      topics: nTopics,
      channelsPerTopic: nChannels,
      consumersPerChannel: nConsumers,
      ratePerTopic: Number(v["rate"]),
      published: {
        acked: pubs.reduce((a, p) => a + p.ackedCount, 0),
        retries: pubs.reduce((a, p) => a + p.retries, 0),
      },
      restarts: {
        total: restarts.length,
        sigkill: restarts.filter((r) => r.signal === "SIGKILL").length,
        sigterm: restarts.filter((r) => r.signal === "SIGTERM").length,
        maxDownMs: Math.round(Math.max(0, ...restarts.map((r) => r.downMs))),
      },
      channelsMissingAfterRestart: missingAfterRestart,
      consumerSessions: perChannel.reduce((a, c) => a + c.sessions, 0),
      lost,
      lostInFlightAtKill: lost - lostOtherwise,
      lostOtherwise,
      duplicates: perChannel.reduce((a, c) => a + c.duplicates, 0),
      phantom,
      drainMs: Math.round(drainMs),
      allAckedSeen: allSeen,
      // Still queued in nsqd when the drain ended: not lost, undelivered (the drain timed out).
      pendingAtEnd: [...pending.values()].reduce((a, n) => a + n, 0),
      finalExitCode: finalStatus.code,
      rss: {
        samples: rss.length,
        peakMb: mb(Math.max(0, ...rss.map((s) => s.kb))),
        perIncarnationPeakMb: [...byInc.values()].map((a) => mb(Math.max(...a))),
        steady: {
          samples: steadySamples.length,
          fromMb: steadySamples.length ? mb(steadySamples[0].kb) : null,
          toMb: steadySamples.length ? mb(steadySamples.at(-1)!.kb) : null,
          minMb: steadySamples.length ? mb(Math.min(...steadySamples.map((s) => s.kb))) : null,
          maxMb: steadySamples.length ? mb(Math.max(...steadySamples.map((s) => s.kb))) : null,
          slopeMbPerMin: Math.round(slopeKbPerMin / 1.024) / 1000,
        },
      },
      nsqdWarnOrErrorLines: errorCount,
      nsqdWarnOrErrorSample: errorLines.slice(0, 20),
      perChannel,
    };
    console.log(JSON.stringify(result, null, 2));
    if (v["json"] !== "") {
      await Deno.writeTextFile(v["json"], JSON.stringify({ ...result, rssSamples: rss }) + "\n");
    }
    log(
      `soak done: ${result.published.acked} acknowledged, ${lost} lost (${lostOtherwise} not in ` +
        `flight at a kill -9), ${result.duplicates} ` +
        `duplicates, ${restarts.length} restarts (${result.restarts.sigkill} kill -9), ` +
        `steady RSS ${result.rss.steady.fromMb}→${result.rss.steady.toMb} MB, slope ` +
        `${result.rss.steady.slopeMbPerMin} MB/min`,
    );
    if (result.pendingAtEnd > 0) {
      log(`not drained: ${result.pendingAtEnd} messages still queued (see --drain-timeout)`);
    }
    exitCode =
      lostOtherwise === 0 && result.pendingAtEnd === 0 && phantom === 0 && !stop.signal.aborted
        ? 0
        : 1;
  } finally {
    if (sampler !== undefined) clearInterval(sampler);
    pubStop.abort();
    conStop.abort();
    live = false;
    await Promise.allSettled(tasks);
    const n = nsqd as NsqdChild | null;
    if (n !== null) await n.stop("SIGKILL");
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await Deno.remove(dataPath, { recursive: true }).catch(() => {});
  }
  return exitCode;
}

if (import.meta.main) Deno.exit(await main());
