/**
 * nsq_stat: polls `/stats` of every nsqd producing a topic and prints one channel's aggregated
 * rates, depths and counters every `--interval`, in the table layout of nsq's
 * apps/nsq_stat/nsq_stat.go (a header every 25 lines; the first poll only primes the rates).
 * Producers come from nsqlookupd `/lookup` or from the given nsqd HTTP addresses, re-read on
 * every poll.
 *
 * @module
 */
import { optionGroup, type OptionSpec } from "../internal/options.ts";
import { httpClientTimeoutRows, lookupdHttpAddressRow } from "./common_options.ts";
import {
  type ChannelStats,
  type HttpTimeouts,
  lookupdTopicProducers,
  nsqdChannelStats,
  nsqdTopicProducers,
  type Producer,
} from "./cluster_info.ts";
import {
  checkNoScheme,
  errorText,
  goLog,
  sleep,
  type ToolIo,
  type ToolSpec,
  utf8,
} from "./tool.ts";

/** nsq_stat's flags (durations in ms). */
export interface NsqStatOptions {
  topic: string;
  channel: string;
  interval: number;
  httpClientConnectTimeout: number;
  httpClientRequestTimeout: number;
  /** Number of report lines; 0 = until stopped (Go: `--count` not given). */
  count: number;
  nsqdHttpAddresses: string[];
  lookupdHttpAddresses: string[];
}

export function defaultNsqStatOptions(): NsqStatOptions {
  return {
    topic: "",
    channel: "",
    interval: 2_000,
    httpClientConnectTimeout: 2_000,
    httpClientRequestTimeout: 5_000,
    count: 0,
    nsqdHttpAddresses: [],
    lookupdHttpAddresses: [],
  };
}

export const nsqStatOptionTable: readonly OptionSpec<NsqStatOptions>[] = optionGroup<
  NsqStatOptions
>("nsq_stat options", [
  { flag: "topic", field: "topic", kind: "string", help: "NSQ topic" },
  { flag: "channel", field: "channel", kind: "string", help: "NSQ channel" },
  {
    flag: "interval",
    field: "interval",
    kind: "duration",
    help: "duration of time between polling/printing output",
  },
  ...httpClientTimeoutRows(),
  { flag: "count", field: "count", kind: "int", help: "number of reports" },
  {
    flag: "nsqd-http-address",
    field: "nsqdHttpAddresses",
    kind: "stringArray",
    help: "nsqd HTTP address (may be given multiple times)",
  },
  lookupdHttpAddressRow(),
]);

/** Go's start-up checks, in order. */
export function validateNsqStat(
  o: NsqStatOptions,
  given: ReadonlySet<string>,
): string | undefined {
  if (o.topic === "" || o.channel === "") return "--topic and --channel are required";
  if (o.interval <= 0) return "--interval should be positive";
  if (o.httpClientConnectTimeout <= 0) return "--http-client-connect-timeout should be positive";
  if (o.httpClientRequestTimeout <= 0) return "--http-client-request-timeout should be positive";
  if (given.has("count") && o.count <= 0) return "--count should be positive";
  if (o.nsqdHttpAddresses.length === 0 && o.lookupdHttpAddresses.length === 0) {
    return "--nsqd-http-address or --lookupd-http-address required";
  }
  if (o.nsqdHttpAddresses.length > 0 && o.lookupdHttpAddresses.length > 0) {
    return "use --nsqd-http-address or --lookupd-http-address not both";
  }
  const nsqdErr = checkNoScheme(o.nsqdHttpAddresses);
  if (nsqdErr !== undefined) return `--nsqd-http-address error - ${nsqdErr}`;
  const lookupdErr = checkNoScheme(o.lookupdHttpAddresses);
  if (lookupdErr !== undefined) return `--lookupd-http-address error - ${lookupdErr}`;
  return undefined;
}

/** The two header lines, printed before the first row and every 25 polls. */
export function statHeader(): string {
  return "------rate------+----------------depth----------------+--------------metadata---------------\n" +
    `${"ingress".padStart(7)} ${"egress".padStart(7)} | ${"total".padStart(7)} ${
      "mem".padStart(7)
    } ${"disk".padStart(7)} ${"inflt".padStart(5)} ${"def".padStart(5)} | ${"req".padStart(7)} ${
      "t-o".padStart(7)
    } ${"msgs".padStart(12)} ${"clients".padStart(7)}\n`;
}

/** One table row: rates over `intervalMs` from the previous poll `o` to this one `c`. */
export function statRow(c: ChannelStats, o: ChannelStats, intervalMs: number): string {
  const seconds = intervalMs / 1000;
  const ingress = Math.trunc((c.messageCount - o.messageCount) / seconds);
  const egress = Math.trunc((c.messageCount - o.messageCount - (c.depth - o.depth)) / seconds);
  const n = (v: number, w: number) => String(v).padStart(w);
  return `${n(ingress, 7)} ${n(egress, 7)} | ${n(c.depth, 7)} ${n(c.memoryDepth, 7)} ${
    n(c.backendDepth, 7)
  } ${n(c.inFlightCount, 5)} ${n(c.deferredCount, 5)} | ${n(c.requeueCount, 7)} ${
    n(c.timeoutCount, 7)
  } ${n(c.messageCount, 12)} ${n(c.clientCount, 7)}\n`;
}

/**
 * The poll loop (nsq's statLoop): producers → summed channel stats → a row; with `--count N`
 * it polls N+1 times (the first poll only primes the rates) and exits 0. Any failed query is
 * fatal (exit 1), as in Go.
 */
export async function runNsqStat(o: NsqStatOptions, io: ToolIo): Promise<number> {
  const timeouts: HttpTimeouts = {
    connectTimeout: o.httpClientConnectTimeout,
    requestTimeout: o.httpClientRequestTimeout,
  };
  let previous: ChannelStats | undefined;
  for (let i = 0; o.count === 0 || o.count >= i; i++) {
    if (io.signal.aborted) return 0;
    let producers: Producer[];
    try {
      producers = o.lookupdHttpAddresses.length > 0
        ? await lookupdTopicProducers(o.topic, o.lookupdHttpAddresses, timeouts)
        : await nsqdTopicProducers(o.topic, o.nsqdHttpAddresses, timeouts);
    } catch (e) {
      goLog(io, `ERROR: failed to get topic producers - ${errorText(e)}`);
      return 1;
    }
    let current: ChannelStats | undefined;
    try {
      current = await nsqdChannelStats(producers, o.topic, o.channel, timeouts);
    } catch (e) {
      goLog(io, `ERROR: failed to get nsqd stats - ${errorText(e)}`);
      return 1;
    }
    if (current === undefined) {
      goLog(
        io,
        `ERROR: failed to find channel(${o.channel}) in stats metadata for topic(${o.topic})`,
      );
      return 1;
    }
    if (io.signal.aborted) return 0;
    let out = i % 25 === 0 ? statHeader() : "";
    if (previous !== undefined) out += statRow(current, previous, o.interval);
    if (out !== "") io.writeStdout(utf8(out));
    previous = current;
    await sleep(o.interval, io.signal);
  }
  return 0;
}

/** nsq_stat as a tool. */
export const nsqStatTool: ToolSpec<NsqStatOptions> = {
  name: "nsq_stat",
  summary: "poll /stats of a topic's nsqd and print a channel's aggregate stats",
  table: nsqStatOptionTable,
  defaults: defaultNsqStatOptions,
  validate: validateNsqStat,
  run: runNsqStat,
};
