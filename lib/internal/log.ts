/**
 * NSQ-style leveled logging.
 *
 * Lines look like Go's `log` package with `Ldate|Ltime|Lmicroseconds` plus NSQ's level tag:
 * `[nsqd] 2026/11/21 12:00:00.000000 INFO: TCP: listening on 127.0.0.1:4150`.
 * `console` is used only here (and in main.ts), per docs/architecture.md#conventions.
 */

export type LogLevel = "debug" | "info" | "warn" | "error" | "fatal";

/** Numeric levels as NSQ's `lg` package numbers them (GET /config/log_level shows these). */
export const LOG_LEVELS: Readonly<Record<LogLevel, number>> = {
  debug: 1,
  info: 2,
  warn: 3,
  error: 4,
  fatal: 5,
};

/** Parses a level name case-insensitively (NSQ accepts `INFO`, `info`, ...); throws a RangeError. */
export function parseLogLevel(s: string): LogLevel {
  const l = s.toLowerCase();
  if (l in LOG_LEVELS) return l as LogLevel;
  throw new RangeError(`invalid log level "${s}" (want debug, info, warn, error or fatal)`);
}

/** Where finished lines go; tests inject a collector. */
export type LogSink = (line: string) => void;

const defaultSink: LogSink = (line) => console.error(line);

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** Formats a timestamp the way Go's log package does with microseconds, in local time. */
export function formatLogTime(d: Date): string {
  const micros = d.getMilliseconds() * 1000;
  return `${d.getFullYear()}/${pad(d.getMonth() + 1, 2)}/${pad(d.getDate(), 2)} ` +
    `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.${pad(micros, 6)}`;
}

/** A daemon's logger: prefix and level are live-changeable (PUT /config/log_level). */
export class Logger {
  prefix: string;
  level: LogLevel;
  #sink: LogSink;

  constructor(prefix: string, level: LogLevel = "info", sink: LogSink = defaultSink) {
    this.prefix = prefix;
    this.level = level;
    this.#sink = sink;
  }

  /** True when messages at `level` would be written (guard expensive debug formatting). */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS[level] >= LOG_LEVELS[this.level];
  }

  log(level: LogLevel, msg: string): void {
    if (!this.enabled(level)) return;
    this.#sink(`${this.prefix}${formatLogTime(new Date())} ${level.toUpperCase()}: ${msg}`);
  }

  debug(msg: string): void {
    this.log("debug", msg);
  }
  info(msg: string): void {
    this.log("info", msg);
  }
  warn(msg: string): void {
    this.log("warn", msg);
  }
  error(msg: string): void {
    this.log("error", msg);
  }
  /** Logs at fatal level; the caller decides how the daemon stops. */
  fatal(msg: string): void {
    this.log("fatal", msg);
  }
}

/** A logger that drops everything (library defaults, benchmarks). */
export function silentLogger(): Logger {
  return new Logger("", "fatal", () => {});
}
