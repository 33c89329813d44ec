/**
 * to_nsq: reads stdin, splits it on `--delimiter` (one byte, default newline) and publishes each
 * non-empty piece to `--topic` on every `--nsqd-tcp-address`, optionally throttled to `--rate`
 * messages per second (nsq's apps/to_nsq). Publishes are pipelined (a bounded window of
 * unanswered PUBs per nsqd, in order); the first error is fatal (exit 1). At end of input or on
 * SIGINT/SIGTERM it waits for the outstanding answers, stops the producers and exits 0.
 *
 * Unlike Go 1.3, a last piece without a trailing delimiter is published whole (Go drops its
 * last byte).
 *
 * @module
 */
import { optionGroup, type OptionSpec } from "../internal/options.ts";
import { GoNsqLogger, Producer } from "../client/mod.ts";
import { checkClientOpt, clientConfig, toolUserAgent } from "./client_opts.ts";
import { errorText, goLog, sleep, type ToolIo, type ToolSpec } from "./tool.ts";

export interface ToNsqOptions {
  topic: string;
  delimiter: string;
  nsqdTcpAddresses: string[];
  producerOpts: string[];
  /** Messages per second; 0 = unthrottled. */
  rate: number;
}

export function defaultToNsqOptions(): ToNsqOptions {
  return { topic: "", delimiter: "\n", nsqdTcpAddresses: [], producerOpts: [], rate: 0 };
}

export const toNsqOptionTable: readonly OptionSpec<ToNsqOptions>[] = optionGroup<ToNsqOptions>(
  "to_nsq options",
  [
    { flag: "topic", field: "topic", kind: "string", help: "NSQ topic to publish to" },
    {
      flag: "delimiter",
      field: "delimiter",
      kind: "string",
      help: "character to split input from stdin",
    },
    {
      flag: "nsqd-tcp-address",
      field: "nsqdTcpAddresses",
      kind: "stringArray",
      help: "destination nsqd TCP address (may be given multiple times)",
    },
    {
      flag: "producer-opt",
      field: "producerOpts",
      kind: "stringArray",
      help: "option to passthrough to nsq.Producer (may be given multiple times, " +
        "http://godoc.org/github.com/nsqio/go-nsq#Config)",
    },
    {
      flag: "rate",
      field: "rate",
      kind: "int",
      help: "Throttle messages to n/second. 0 to disable",
    },
  ],
);

export function validateToNsq(o: ToNsqOptions): string | undefined {
  if (o.topic.length === 0) return "--topic required";
  if (new TextEncoder().encode(o.delimiter).length !== 1) {
    return "--delimiter must be a single byte";
  }
  if (o.nsqdTcpAddresses.length === 0) return "--nsqd-tcp-address required";
  return undefined;
}

/** Unanswered PUBs allowed per nsqd before reading more input. */
const WINDOW = 512;

/**
 * Splits byte chunks on one delimiter byte, yielding each piece without the delimiter (empty
 * pieces included; the caller skips them), and the unterminated rest at the end.
 */
export async function* splitStream(
  stream: ReadableStream<Uint8Array>,
  delim: number,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  const onAbort = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  let carry: Uint8Array | null = null;
  try {
    while (!signal.aborted) {
      const { value, done } = await reader.read();
      if (done || value === undefined) break;
      let start = 0;
      for (let i = value.indexOf(delim); i !== -1; i = value.indexOf(delim, i + 1)) {
        let piece = value.subarray(start, i);
        if (carry !== null) {
          const joined: Uint8Array = new Uint8Array(carry.length + piece.length);
          joined.set(carry);
          joined.set(piece, carry.length);
          piece = joined;
          carry = null;
        }
        yield piece.slice();
        start = i + 1;
      }
      if (start < value.length) {
        const rest = value.subarray(start);
        if (carry === null) carry = rest.slice();
        else {
          const joined: Uint8Array = new Uint8Array(carry.length + rest.length);
          joined.set(carry);
          joined.set(rest, carry.length);
          carry = joined;
        }
      }
    }
    if (carry !== null && carry.length > 0 && !signal.aborted) yield carry;
  } finally {
    signal.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
}

/**
 * A token bucket like Go's to_nsq: one token at start, one more every 1/rate s, at most `rate`
 * banked; `take()` waits when the bucket is empty.
 */
export class Throttle {
  readonly #interval: number;
  readonly #rate: number;
  #balance = 1;
  #last = performance.now();

  constructor(rate: number) {
    this.#rate = rate;
    this.#interval = 1000 / rate;
  }

  async take(signal: AbortSignal): Promise<void> {
    for (;;) {
      const now = performance.now();
      const earned = Math.floor((now - this.#last) / this.#interval);
      if (earned > 0) {
        this.#balance = Math.min(this.#rate, this.#balance + earned);
        this.#last += earned * this.#interval;
      }
      if (this.#balance > 0 || signal.aborted) {
        this.#balance--;
        return;
      }
      await sleep(this.#interval - (now - this.#last), signal);
    }
  }
}

export async function runToNsq(o: ToNsqOptions, io: ToolIo): Promise<number> {
  const config = clientConfig(o.producerOpts, {
    userAgent: toolUserAgent("to_nsq"),
    logger: new GoNsqLogger("info", io.logLine),
  });
  const producers = [...new Set(o.nsqdTcpAddresses)].map((a) => new Producer(a, config));
  const throttle = o.rate >= 1 ? new Throttle(o.rate) : null;
  if (throttle !== null) goLog(io, `Throttling messages rate to max:${o.rate}/second`);
  const delim = new TextEncoder().encode(o.delimiter)[0];
  const outstanding: Promise<void>[] = [];
  let failure: unknown = null;
  const track = (p: Promise<void>) => {
    const t: Promise<void> = p.catch((e) => {
      failure ??= e;
    });
    outstanding.push(t);
  };
  try {
    for await (const line of splitStream(io.stdin, delim, io.signal)) {
      if (line.length === 0) continue;
      if (throttle !== null) await throttle.take(io.signal);
      for (const p of producers) track(p.publish(o.topic, line));
      if (outstanding.length >= WINDOW * producers.length) {
        await Promise.all(outstanding.splice(0, outstanding.length - WINDOW));
      }
      if (failure !== null) break;
    }
    await Promise.all(outstanding);
  } catch (e) {
    failure ??= e;
  } finally {
    await Promise.all(producers.map((p) => p.stop().catch(() => {})));
  }
  if (failure !== null) {
    goLog(io, errorText(failure));
    return 1;
  }
  return 0;
}

export const toNsqTool: ToolSpec<ToNsqOptions> = {
  name: "to_nsq",
  summary: "publish stdin, split on a delimiter, to a topic",
  table: toNsqOptionTable,
  defaults: defaultToNsqOptions,
  flagChecks: { "producer-opt": checkClientOpt },
  validate: validateToNsq,
  run: runToNsq,
};
