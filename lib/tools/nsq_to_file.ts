/**
 * nsq_to_file: archives topics to newline-delimited files (nsq's apps/nsq_to_file): one
 * FileLogger per topic (see file_logger.ts for rotation, gzip, sync and the work-dir move). The
 * topics are the `--topic` flags, or, without any, every topic nsqlookupd `/topics` lists,
 * re-read every `--topic-refresh`; either way only those matching `--topic-pattern` (a regular
 * expression) are archived. SIGINT/SIGTERM: every logger writes, fsyncs and FINs what it has,
 * closes its file, and the tool exits 0. SIGHUP closes the current files (for logrotate).
 *
 * @module
 */
import { Logger, type LogLevel, parseLogLevel } from "../internal/log.ts";
import { optionGroup, type OptionSpec, osHostname } from "../internal/options.ts";
import {
  consumerOptRow,
  httpClientTimeoutRows,
  lookupdHttpAddressRow,
  maxInFlightRow,
  nsqdTcpAddressRow,
} from "./common_options.ts";
import { Consumer, GoNsqLogger } from "../client/mod.ts";
import { lookupdTopics } from "./cluster_info.ts";
import { checkClientOpt, clientConfig, toolUserAgent } from "./client_opts.ts";
import { computeFilenameFormat, FileLogger } from "./file_logger.ts";
import { errorText, sleep, type ToolIo, type ToolSpec } from "./tool.ts";

export interface NsqToFileOptions {
  /** debug, info, warn, error or fatal (checked at start, as Go does). */
  logLevel: string;
  logPrefix: string;
  channel: string;
  maxInFlight: number;
  outputDir: string;
  workDir: string;
  datetimeFormat: string;
  filenameFormat: string;
  hostIdentifier: string;
  gzipLevel: number;
  gzip: boolean;
  skipEmptyFiles: boolean;
  topicRefresh: number;
  topicPattern: string;
  rotateSize: number;
  rotateInterval: number;
  syncInterval: number;
  httpClientConnectTimeout: number;
  httpClientRequestTimeout: number;
  nsqdTcpAddresses: string[];
  lookupdHttpAddresses: string[];
  topics: string[];
  consumerOpts: string[];
}

export function defaultNsqToFileOptions(): NsqToFileOptions {
  return {
    logLevel: "info",
    logPrefix: "[nsq_to_file] ",
    channel: "nsq_to_file",
    maxInFlight: 200,
    outputDir: "/tmp",
    workDir: "",
    datetimeFormat: "%Y-%m-%d_%H",
    filenameFormat: "<TOPIC>.<HOST><REV>.<DATETIME>.log",
    hostIdentifier: "",
    gzipLevel: 6,
    gzip: false,
    skipEmptyFiles: false,
    topicRefresh: 60_000,
    topicPattern: "",
    rotateSize: 0,
    rotateInterval: 0,
    syncInterval: 30_000,
    httpClientConnectTimeout: 2_000,
    httpClientRequestTimeout: 5_000,
    nsqdTcpAddresses: [],
    lookupdHttpAddresses: [],
    topics: [],
    consumerOpts: [],
  };
}

export const nsqToFileOptionTable: readonly OptionSpec<NsqToFileOptions>[] = optionGroup<
  NsqToFileOptions
>("nsq_to_file options", [
  {
    flag: "log-level",
    field: "logLevel",
    kind: "string",
    help: "set log verbosity: debug, info, warn, error, or fatal",
  },
  { flag: "log-prefix", field: "logPrefix", kind: "string", help: "log message prefix" },
  { flag: "channel", field: "channel", kind: "string", help: "nsq channel" },
  maxInFlightRow(),
  {
    flag: "output-dir",
    field: "outputDir",
    kind: "string",
    help: "directory to write output files to",
  },
  {
    flag: "work-dir",
    field: "workDir",
    kind: "string",
    help: "directory for in-progress files before moving to output-dir",
  },
  {
    flag: "datetime-format",
    field: "datetimeFormat",
    kind: "string",
    help: "strftime compatible format for <DATETIME> in filename format",
  },
  {
    flag: "filename-format",
    field: "filenameFormat",
    kind: "string",
    help: "output filename format (<TOPIC>, <HOST>, <PID>, <DATETIME>, <REV> are replaced. " +
      "<REV> is increased when file already exists)",
  },
  {
    flag: "host-identifier",
    field: "hostIdentifier",
    kind: "string",
    help: "value to output in log filename in place of hostname. <SHORT_HOST> and <HOSTNAME> " +
      "are valid replacement tokens",
  },
  {
    flag: "gzip-level",
    field: "gzipLevel",
    kind: "int",
    help: "gzip compression level (1-9, 1=BestSpeed, 9=BestCompression)",
  },
  { flag: "gzip", field: "gzip", kind: "bool", help: "gzip output files." },
  {
    flag: "skip-empty-files",
    field: "skipEmptyFiles",
    kind: "bool",
    help: "skip writing empty files",
  },
  {
    flag: "topic-refresh",
    field: "topicRefresh",
    kind: "duration",
    help: "how frequently the topic list should be refreshed",
  },
  {
    flag: "topic-pattern",
    field: "topicPattern",
    kind: "string",
    help: "only log topics matching the following pattern",
  },
  {
    flag: "rotate-size",
    field: "rotateSize",
    kind: "int",
    help: "rotate the file when it grows bigger than `rotate-size` bytes",
  },
  {
    flag: "rotate-interval",
    field: "rotateInterval",
    kind: "duration",
    help: "rotate the file every duration",
  },
  {
    flag: "sync-interval",
    field: "syncInterval",
    kind: "duration",
    help: "sync file to disk every duration",
  },
  ...httpClientTimeoutRows(),
  nsqdTcpAddressRow(),
  lookupdHttpAddressRow(),
  {
    flag: "topic",
    field: "topics",
    kind: "stringArray",
    help: "nsq topic (may be given multiple times)",
  },
  consumerOptRow(),
]);

export function validateNsqToFile(o: NsqToFileOptions): string | undefined {
  try {
    parseLogLevel(o.logLevel);
  } catch {
    return "--log-level is invalid";
  }
  if (o.channel === "") return "--channel is required";
  if (o.httpClientConnectTimeout <= 0) return "--http-client-connect-timeout should be positive";
  if (o.httpClientRequestTimeout <= 0) return "--http-client-request-timeout should be positive";
  if (o.nsqdTcpAddresses.length === 0 && o.lookupdHttpAddresses.length === 0) {
    return "--nsqd-tcp-address or --lookupd-http-address required.";
  }
  if (o.nsqdTcpAddresses.length !== 0 && o.lookupdHttpAddresses.length !== 0) {
    return "use --nsqd-tcp-address or --lookupd-http-address not both";
  }
  if (o.gzipLevel < 1 || o.gzipLevel > 9) {
    return `invalid --gzip-level value (${o.gzipLevel}), should be 1-9`;
  }
  if (o.topics.length === 0 && o.topicPattern.length === 0) {
    return "--topic or --topic-pattern required";
  }
  if (o.topics.length === 0 && o.lookupdHttpAddresses.length === 0) {
    return "--lookupd-http-address must be specified when no --topic specified";
  }
  if (o.workDir === "") o.workDir = o.outputDir;
  if (o.syncInterval <= 0) return "--sync-interval should be positive";
  if (o.topicRefresh <= 0) return "--topic-refresh should be positive";
  if (o.topicPattern !== "") {
    try {
      new RegExp(o.topicPattern);
    } catch {
      return `--topic-pattern is invalid: ${o.topicPattern}`;
    }
  }
  return undefined;
}

export async function runNsqToFile(o: NsqToFileOptions, io: ToolIo): Promise<number> {
  const log = new Logger(o.logPrefix, parseLogLevel(o.logLevel) as LogLevel, io.logLine);
  const config = clientConfig(o.consumerOpts, {
    userAgent: toolUserAgent("nsq_to_file"),
    maxInFlight: o.maxInFlight,
    logger: new GoNsqLogger("info", io.logLine),
  });
  const pattern = o.topicPattern === "" ? null : new RegExp(o.topicPattern);
  const hostname = osHostname();
  const loggers = new Map<string, FileLogger>();
  const fatal = new AbortController();
  let fatalError: Error | null = null;
  const onFatal = (e: Error) => {
    fatalError ??= e;
    fatal.abort();
  };
  const stop = AbortSignal.any([io.signal, fatal.signal]);
  const timeouts = {
    connectTimeout: o.httpClientConnectTimeout,
    requestTimeout: o.httpClientRequestTimeout,
  };

  const updateTopics = async (topics: readonly string[]) => {
    for (const topic of topics) {
      if (loggers.has(topic) || stop.aborted) continue;
      if (pattern !== null && !pattern.test(topic)) {
        log.warn(`skipping topic ${topic} (doesn't match pattern ${o.topicPattern})`);
        continue;
      }
      let fl: FileLogger | undefined;
      try {
        const format = computeFilenameFormat(o, topic, hostname, Deno.pid);
        const consumer = new Consumer(topic, o.channel, config);
        fl = new FileLogger(o, topic, consumer, log, format, onFatal);
        if (o.nsqdTcpAddresses.length > 0) await consumer.connectToNsqds(o.nsqdTcpAddresses);
        if (o.lookupdHttpAddresses.length > 0) {
          await consumer.connectToNsqlookupds(o.lookupdHttpAddresses);
        }
        loggers.set(topic, fl);
      } catch (e) {
        // Like Go: this topic is left out (a later topic refresh may try it again).
        await fl?.stop();
        log.error(`couldn't create logger for new topic ${topic}: ${errorText(e)}`);
      }
    }
  };

  const onHup = () => {
    for (const fl of loggers.values()) fl.hup();
  };
  let hupListening = false;
  try {
    Deno.addSignalListener("SIGHUP", onHup);
    hupListening = true;
  } catch { /* no SIGHUP here */ }
  try {
    await updateTopics(o.topics);
    if (o.topics.length === 0) {
      while (!stop.aborted) {
        await sleep(o.topicRefresh, stop);
        if (stop.aborted) break;
        try {
          await updateTopics(await lookupdTopics(o.lookupdHttpAddresses, timeouts));
        } catch (e) {
          log.error(`could not retrieve topic list: ${errorText(e)}`);
        }
      }
    } else if (!stop.aborted) {
      await new Promise<void>((r) => stop.addEventListener("abort", () => r(), { once: true }));
    }
    await Promise.all([...loggers.values()].map((fl) => fl.stop()));
  } finally {
    if (hupListening) Deno.removeSignalListener("SIGHUP", onHup);
  }
  if (fatalError !== null) {
    log.fatal(errorText(fatalError));
    return 1;
  }
  return 0;
}

export const nsqToFileTool: ToolSpec<NsqToFileOptions> = {
  name: "nsq_to_file",
  summary: "archive topics to (rotated, optionally gzipped) files",
  table: nsqToFileOptionTable,
  defaults: defaultNsqToFileOptions,
  flagChecks: { "consumer-opt": checkClientOpt },
  validate: validateNsqToFile,
  run: runNsqToFile,
};
