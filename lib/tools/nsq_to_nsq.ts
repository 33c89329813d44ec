/**
 * nsq_to_nsq: consumes topics and re-publishes every message over TCP to destination nsqd (nsq's
 * apps/nsq_to_nsq), to the same topic or `--destination-topic`. `--mode hostpool` (default;
 * `epsilon-greedy` is an alias) rotates over healthy destinations; `round-robin` (also what an
 * unknown mode means, as in Go 1.3) over all of them. JSON filtering: `--require-json-field`
 * (and `--require-json-value`, compared as a string, or as a number when it parses as one) drops
 * messages that do not match (a message missing the field when a value is required is REQueued
 * with backoff); `--whitelist-json-field` re-encodes the message with only those fields.
 * A message is FINished when its destination answered OK and REQueued when the PUB failed
 * (a destination that went away is reconnected on the next publish). SIGINT/SIGTERM: stop taking
 * messages, wait for the outstanding PUBs (FIN/REQ), exit 0.
 *
 * @module
 */
import { optionGroup, type OptionSpec } from "../internal/options.ts";
import { lookupdHttpAddressRow, maxInFlightRow, nsqdTcpAddressRow } from "./common_options.ts";
import { isValidChannelName, isValidTopicName } from "../protocol/names.ts";
import { Consumer, GoNsqLogger, type Message, Producer } from "../client/mod.ts";
import { checkClientOpt, clientConfig, toolUserAgent } from "./client_opts.ts";
import { HostPool, TimerMetrics } from "./host_pool.ts";
import { errorText, goLog, type ToolIo, type ToolSpec } from "./tool.ts";

export interface NsqToNsqOptions {
  channel: string;
  destinationTopic: string;
  maxInFlight: number;
  statusEvery: number;
  mode: string;
  nsqdTcpAddresses: string[];
  destinationNsqdTcpAddresses: string[];
  lookupdHttpAddresses: string[];
  topics: string[];
  whitelistJsonFields: string[];
  requireJsonField: string;
  requireJsonValue: string;
  consumerOpts: string[];
  producerOpts: string[];
}

export function defaultNsqToNsqOptions(): NsqToNsqOptions {
  return {
    channel: "nsq_to_nsq",
    destinationTopic: "",
    maxInFlight: 200,
    statusEvery: 250,
    mode: "hostpool",
    nsqdTcpAddresses: [],
    destinationNsqdTcpAddresses: [],
    lookupdHttpAddresses: [],
    topics: [],
    whitelistJsonFields: [],
    requireJsonField: "",
    requireJsonValue: "",
    consumerOpts: [],
    producerOpts: [],
  };
}

export const nsqToNsqOptionTable: readonly OptionSpec<NsqToNsqOptions>[] = optionGroup<
  NsqToNsqOptions
>("nsq_to_nsq options", [
  { flag: "channel", field: "channel", kind: "string", help: "nsq channel" },
  {
    flag: "destination-topic",
    field: "destinationTopic",
    kind: "string",
    help: "use this destination topic for all consumed topics (default is consumed topic name)",
  },
  maxInFlightRow(),
  {
    flag: "status-every",
    field: "statusEvery",
    kind: "int",
    help: "the # of requests between logging status (per destination), 0 disables",
  },
  {
    flag: "mode",
    field: "mode",
    kind: "string",
    help: "the upstream request mode options: round-robin, hostpool (default), epsilon-greedy",
  },
  nsqdTcpAddressRow(),
  {
    flag: "destination-nsqd-tcp-address",
    field: "destinationNsqdTcpAddresses",
    kind: "stringArray",
    help: "destination nsqd TCP address (may be given multiple times)",
  },
  lookupdHttpAddressRow(),
  {
    flag: "topic",
    field: "topics",
    kind: "stringArray",
    help: "nsq topic (may be given multiple times)",
  },
  {
    flag: "whitelist-json-field",
    field: "whitelistJsonFields",
    kind: "stringArray",
    help: "for JSON messages: pass this field (may be given multiple times)",
  },
  {
    flag: "require-json-field",
    field: "requireJsonField",
    kind: "string",
    help: "for JSON messages: only pass messages that contain this field",
  },
  {
    flag: "require-json-value",
    field: "requireJsonValue",
    kind: "string",
    help: "for JSON messages: only pass messages in which the required field has this value",
  },
  {
    flag: "consumer-opt",
    field: "consumerOpts",
    kind: "stringArray",
    help: "option to passthrough to nsq.Consumer (may be given multiple times, see " +
      "http://godoc.org/github.com/nsqio/go-nsq#Config)",
  },
  {
    flag: "producer-opt",
    field: "producerOpts",
    kind: "stringArray",
    help: "option to passthrough to nsq.Producer (may be given multiple times, see " +
      "http://godoc.org/github.com/nsqio/go-nsq#Config)",
  },
]);

export function validateNsqToNsq(o: NsqToNsqOptions): string | undefined {
  if (o.topics.length === 0 || o.channel === "") return "--topic and --channel are required";
  for (const t of o.topics) if (!isValidTopicName(t)) return "--topic is invalid";
  if (o.destinationTopic !== "" && !isValidTopicName(o.destinationTopic)) {
    return "--destination-topic is invalid";
  }
  if (!isValidChannelName(o.channel)) return "--channel is invalid";
  if (o.nsqdTcpAddresses.length === 0 && o.lookupdHttpAddresses.length === 0) {
    return "--nsqd-tcp-address or --lookupd-http-address required";
  }
  if (o.nsqdTcpAddresses.length > 0 && o.lookupdHttpAddresses.length > 0) {
    return "use --nsqd-tcp-address or --lookupd-http-address not both";
  }
  if (o.destinationNsqdTcpAddresses.length === 0) return "--destination-nsqd-tcp-address required";
  return undefined;
}

/** The verdict on one JSON message: pass it on, or drop it (optionally with a backoff REQ). */
export interface JsonFilter {
  /** [pass, backoff] like Go's shouldPassMessage. */
  shouldPass(js: Record<string, unknown>): [boolean, boolean];
  /** The message re-encoded with only the whitelisted fields (the input when none are given). */
  filter(js: Record<string, unknown>, raw: Uint8Array): Uint8Array;
}

export function jsonFilter(
  requireField: string,
  requireValue: string,
  whitelist: readonly string[],
  log: (message: string) => void,
): JsonFilter {
  const asNumber = requireValue.trim() === "" ? NaN : Number(requireValue);
  const valueIsNumber = Number.isFinite(asNumber) || /^[+-]?inf(inity)?$/i.test(requireValue);
  return {
    shouldPass(js) {
      if (requireField === "") return [true, false];
      if (!Object.hasOwn(js, requireField)) {
        if (requireValue !== "") {
          log("ERROR: missing field to check required value");
          return [false, true];
        }
        return [false, false];
      }
      if (requireValue === "") return [true, false];
      const v = js[requireField];
      if (typeof v === "string") return [v === requireValue, false];
      if (valueIsNumber) return [typeof v === "number" && v === asNumber, false];
      return [false, false];
    },
    filter(js, raw) {
      if (whitelist.length === 0) return raw;
      const out: Record<string, unknown> = {};
      // Go marshals a map: keys in sorted order.
      for (const key of [...whitelist].sort()) {
        if (Object.hasOwn(js, key)) out[key] = js[key];
      }
      return new TextEncoder().encode(goJson(out));
    },
  };
}

/** JSON.stringify with Go's encoding/json HTML-safe escapes (`<`, `>`, `&`, U+2028, U+2029). */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

export async function runNsqToNsq(o: NsqToNsqOptions, io: ToolIo): Promise<number> {
  const log = (message: string) => goLog(io, message);
  const clientLog = new GoNsqLogger("info", io.logLine);
  const ua = toolUserAgent("nsq_to_nsq");
  const cConfig = clientConfig(o.consumerOpts, {
    userAgent: ua,
    maxInFlight: o.maxInFlight,
    logger: clientLog,
  });
  const pConfig = clientConfig(o.producerOpts, { userAgent: ua, logger: clientLog });
  const destinations = [...new Set(o.destinationNsqdTcpAddresses)];
  const producers = new Map(destinations.map((a) => [a, new Producer(a, pConfig)]));
  const hostpool = o.mode === "hostpool" || o.mode === "epsilon-greedy";
  const pool = new HostPool(destinations);
  const perAddress = new Map<string, TimerMetrics>();
  if (destinations.length === 1) perAddress.set(destinations[0], new TimerMetrics(0, "", log));
  else {
    for (const a of destinations) {
      perAddress.set(a, new TimerMetrics(o.statusEvery, `[${a}]:`, log));
    }
  }
  const aggregate = new TimerMetrics(o.statusEvery, "[aggregate]:", log);
  const filtering = o.requireJsonField !== "" || o.whitelistJsonFields.length > 0;
  const jf = jsonFilter(o.requireJsonField, o.requireJsonValue, o.whitelistJsonFields, log);
  const decoder = new TextDecoder();
  let counter = 0;

  const handle = (m: Message, destinationTopic: string): void => {
    let body = m.body;
    if (filtering) {
      let js: unknown;
      try {
        js = JSON.parse(decoder.decode(body));
      } catch {
        js = undefined;
      }
      if (js === null || typeof js !== "object" || Array.isArray(js)) {
        log(`ERROR: Unable to decode json: ${decoder.decode(body)}`);
        return; // FIN: Go drops what it cannot decode
      }
      const [pass, backoff] = jf.shouldPass(js as Record<string, unknown>);
      if (!pass) {
        if (backoff) throw new Error("backoff");
        return;
      }
      body = jf.filter(js as Record<string, unknown>, body);
    }
    const start = performance.now();
    let addr: string;
    if (hostpool) addr = pool.get();
    else {
      counter++;
      addr = destinations[counter % destinations.length];
    }
    m.disableAutoResponse();
    producers.get(addr)!.publish(destinationTopic, body).then(
      () => {
        if (hostpool) pool.mark(addr, false);
        m.finish();
        perAddress.get(addr)!.status(start);
        aggregate.status(start);
      },
      (e) => {
        if (hostpool) pool.mark(addr, true);
        clientLog.warn(`(${addr}) publish failed, requeueing ${m.id}: ${errorText(e)}`);
        m.requeue();
        perAddress.get(addr)!.status(start);
        aggregate.status(start);
      },
    ).catch((e) => clientLog.error(`(${addr}) answering ${m.id}: ${errorText(e)}`));
  };

  const consumers: Consumer[] = [];
  for (const topic of o.topics) {
    const consumer = new Consumer(topic, o.channel, cConfig);
    const dest = o.destinationTopic !== "" ? o.destinationTopic : topic;
    consumer.addHandler((m) => handle(m, dest), { concurrency: destinations.length });
    consumers.push(consumer);
  }
  try {
    for (const c of consumers) {
      if (o.nsqdTcpAddresses.length > 0) await c.connectToNsqds(o.nsqdTcpAddresses);
    }
    for (const c of consumers) {
      if (o.lookupdHttpAddresses.length > 0) await c.connectToNsqlookupds(o.lookupdHttpAddresses);
    }
  } catch (e) {
    await Promise.all(consumers.map((c) => c.stop().catch(() => {})));
    await Promise.all([...producers.values()].map((p) => p.stop().catch(() => {})));
    log(errorText(e));
    return 1;
  }
  if (!io.signal.aborted) {
    await new Promise<void>((r) => io.signal.addEventListener("abort", () => r(), { once: true }));
  }
  // The consumers' graceful stop waits until every in-flight message is FINished or REQueued,
  // i.e. until the outstanding PUBs have answered; only then the producers stop.
  await Promise.all(consumers.map((c) => c.stop()));
  await Promise.all([...producers.values()].map((p) => p.stop().catch(() => {})));
  return 0;
}

export const nsqToNsqTool: ToolSpec<NsqToNsqOptions> = {
  name: "nsq_to_nsq",
  summary: "re-publish topics to other nsqd",
  table: nsqToNsqOptionTable,
  defaults: defaultNsqToNsqOptions,
  flagChecks: { "consumer-opt": checkClientOpt, "producer-opt": checkClientOpt },
  validate: validateNsqToNsq,
  run: runNsqToNsq,
};
