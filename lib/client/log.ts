/**
 * The client's log lines, worded as go-nsq words them (go-nsq's consumer.go, conn.go,
 * producer.go `log` methods): each Consumer and Producer has an instance number (one counter for
 * both, from 1, as go-nsq's `instCount`), and a line reads
 * `<id> [topic/channel] (nsqd address) text` for a consumer connection, `<id> [topic/channel]
 * text` for the consumer, `<id> (nsqd address) text` for a producer connection and `<id> text`
 * for the producer, with the id right-aligned in 3 columns.
 *
 * Lines go to the config's Logger (lib/internal/log.ts, NSQ's daemon format by default).
 * {@link GoNsqLogger} formats them exactly as go-nsq's default logger does behind Go's `log`
 * package (`2006/01/02 15:04:05 INF    1 [t/c] (127.0.0.1:4150) connecting to nsqd`), for
 * tools whose output must match Go's.
 *
 * @module
 */

import { Logger, type LogLevel, type LogSink } from "../internal/log.ts";

/** Logs one line at a level (the owner has already added its prefix). */
export type LogFn = (level: LogLevel, msg: string) => void;

let instances = 0;

/** The next instance number (go-nsq's `instCount`, shared by consumers and producers). */
export function nextInstanceId(): number {
  return ++instances;
}

/** A LogFn writing `prefix + msg` to `logger`, skipping disabled levels cheaply. */
export function prefixedLog(logger: Logger, prefix: string): LogFn {
  return (level, msg) => {
    if (logger.enabled(level)) logger.log(level, prefix + msg);
  };
}

/** `%3d` of Go's fmt. */
export function padId(id: number): string {
  return String(id).padStart(3, " ");
}

/** go-nsq's level names (`LogLevel.String()`). */
const GO_NSQ_LEVELS: Readonly<Record<LogLevel, string>> = {
  debug: "DBG",
  info: "INF",
  warn: "WRN",
  error: "ERR",
  fatal: "ERR",
};

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** Go's `log.LstdFlags` timestamp: `2006/01/02 15:04:05` in local time. */
export function goLogTime(d: Date): string {
  return `${d.getFullYear()}/${pad2(d.getMonth() + 1)}/${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/**
 * A Logger whose lines look like go-nsq's default logger's:
 * `2006/01/02 15:04:05 INF    1 [topic/channel] text` (Go's `log` package with `LstdFlags`,
 * then go-nsq's `%-4s` level).
 */
export class GoNsqLogger extends Logger {
  #out: LogSink;

  constructor(level: LogLevel, sink: LogSink) {
    super("", level, sink);
    this.#out = sink;
  }

  override log(level: LogLevel, msg: string): void {
    if (!this.enabled(level)) return;
    this.#out(`${goLogTime(new Date())} ${GO_NSQ_LEVELS[level].padEnd(4)} ${msg}`);
  }
}
