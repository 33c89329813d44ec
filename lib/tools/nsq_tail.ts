/**
 * nsq_tail: consumes one or more topics and prints each message body on its own line to stdout
 * (nsq's apps/nsq_tail), optionally prefixed `<topic> | ` with `--print-topic`. The default
 * channel is ephemeral and random (`tail<6 digits>#ephemeral`), so tailing takes nothing away
 * from real consumers. With `-n N` it exits 0 once one topic has shown N messages (and asks for
 * no more than N at a time). SIGINT/SIGTERM stop the consumers gracefully, exit 0.
 *
 * @module
 */
import { optionGroup, type OptionSpec } from "../internal/options.ts";
import {
  consumerOptRow,
  lookupdHttpAddressRow,
  maxInFlightRow,
  nsqdTcpAddressRow,
} from "./common_options.ts";
import { Consumer, GoNsqLogger, type Message } from "../client/mod.ts";
import { checkClientOpt, clientConfig, toolUserAgent } from "./client_opts.ts";
import { goLog, type ToolIo, type ToolSpec, utf8 } from "./tool.ts";

export interface NsqTailOptions {
  channel: string;
  maxInFlight: number;
  /** Messages to show per topic before exiting; 0 = until stopped. */
  n: number;
  printTopic: boolean;
  nsqdTcpAddresses: string[];
  lookupdHttpAddresses: string[];
  topics: string[];
  consumerOpts: string[];
}

export function defaultNsqTailOptions(): NsqTailOptions {
  return {
    channel: "",
    maxInFlight: 200,
    n: 0,
    printTopic: false,
    nsqdTcpAddresses: [],
    lookupdHttpAddresses: [],
    topics: [],
    consumerOpts: [],
  };
}

export const nsqTailOptionTable: readonly OptionSpec<NsqTailOptions>[] = optionGroup<
  NsqTailOptions
>("nsq_tail options", [
  { flag: "channel", field: "channel", kind: "string", help: "NSQ channel" },
  maxInFlightRow(),
  { flag: "n", field: "n", kind: "int", help: "total messages to show (will wait if starved)" },
  {
    flag: "print-topic",
    field: "printTopic",
    kind: "bool",
    help: "print topic name where message was received",
  },
  nsqdTcpAddressRow(),
  lookupdHttpAddressRow(),
  {
    flag: "topic",
    field: "topics",
    kind: "stringArray",
    help: "NSQ topic (may be given multiple times)",
  },
  consumerOptRow(),
]);

/** Go's `tail%06d#ephemeral` with a random number below 999999. */
export function randomTailChannel(): string {
  const n = Math.floor(Math.random() * 999999);
  return `tail${String(n).padStart(6, "0")}#ephemeral`;
}

export function validateNsqTail(o: NsqTailOptions): string | undefined {
  if (o.channel === "") o.channel = randomTailChannel();
  if (o.nsqdTcpAddresses.length === 0 && o.lookupdHttpAddresses.length === 0) {
    return "--nsqd-tcp-address or --lookupd-http-address required";
  }
  if (o.nsqdTcpAddresses.length > 0 && o.lookupdHttpAddresses.length > 0) {
    return "use --nsqd-tcp-address or --lookupd-http-address not both";
  }
  if (o.topics.length === 0) return "--topic required";
  return undefined;
}

export async function runNsqTail(o: NsqTailOptions, io: ToolIo): Promise<number> {
  // Don't ask for more messages than we want.
  const maxInFlight = o.n > 0 && o.n < o.maxInFlight ? o.n : o.maxInFlight;
  const config = clientConfig(o.consumerOpts, {
    userAgent: toolUserAgent("nsq_tail"),
    maxInFlight,
    logger: new GoNsqLogger("info", io.logLine),
  });
  const done = new AbortController();
  let exitCode = 0;
  const stop = AbortSignal.any([io.signal, done.signal]);
  const consumers: Consumer[] = [];
  for (const topic of o.topics) {
    goLog(io, `Adding consumer for topic: ${topic}`);
    const consumer = new Consumer(topic, o.channel, config);
    const prefix = o.printTopic ? utf8(`${topic} | `) : new Uint8Array(0);
    let shown = 0;
    consumer.addHandler((m: Message) => {
      if (done.signal.aborted || (o.n > 0 && shown >= o.n)) {
        // Already done (this topic or another reached -n): hand it back rather than print more.
        m.disableAutoResponse();
        m.requeue(0, false);
        return;
      }
      shown++;
      const line = new Uint8Array(prefix.length + m.body.length + 1);
      line.set(prefix);
      line.set(m.body, prefix.length);
      line[line.length - 1] = 10;
      try {
        io.writeStdout(line);
      } catch (e) {
        // stdout is gone (e.g. `nsq_tail ... | head`): Go exits 1 with this line.
        if (!done.signal.aborted) {
          goLog(io, `ERROR: failed to write to os.Stdout - ${e instanceof Error ? e.message : e}`);
          exitCode = 1;
          done.abort();
        }
        m.disableAutoResponse();
        m.requeue(0, false);
        return;
      }
      if (o.n > 0 && shown >= o.n) done.abort();
    });
    consumers.push(consumer);
  }
  try {
    for (const c of consumers) {
      if (o.nsqdTcpAddresses.length > 0) await c.connectToNsqds(o.nsqdTcpAddresses);
      if (o.lookupdHttpAddresses.length > 0) await c.connectToNsqlookupds(o.lookupdHttpAddresses);
    }
  } catch (e) {
    await Promise.all(consumers.map((c) => c.stop().catch(() => {})));
    goLog(io, e instanceof Error ? e.message : String(e));
    return 1;
  }
  if (!stop.aborted) {
    await new Promise<void>((resolve) =>
      stop.addEventListener("abort", () => resolve(), { once: true })
    );
  }
  await Promise.all(consumers.map((c) => c.stop()));
  return exitCode;
}

export const nsqTailTool: ToolSpec<NsqTailOptions> = {
  name: "nsq_tail",
  summary: "print a topic's messages to stdout",
  table: nsqTailOptionTable,
  defaults: defaultNsqTailOptions,
  flagChecks: { "consumer-opt": checkClientOpt },
  validate: validateNsqTail,
  run: runNsqTail,
};
