/**
 * nsq_to_http: consumes a topic and delivers each message as an HTTP request (nsq's
 * apps/nsq_to_http): `--post` URLs get the body (with `--content-type`), `--get` URLs get it
 * query-escaped in place of their one `%s`. `--mode hostpool` (default; `epsilon-greedy` is an
 * alias) rotates over healthy endpoints, `round-robin` rotates over all, and an unknown mode
 * sends to every endpoint (Go 1.3's ModeAll). `-n` requests run concurrently; `--sample` drops
 * a fraction (FINished unsent). A message is FINished only when its request got a 2xx (GET: 200)
 * and is REQueued (with backoff) otherwise. Every `--status-every` requests a timing line is
 * logged. SIGINT/SIGTERM: stop taking messages, let requests in flight finish (FIN/REQ), exit 0.
 *
 * @module
 */
import { optionGroup, type OptionSpec } from "../internal/options.ts";
import {
  consumerOptRow,
  httpClientTimeoutRows,
  lookupdHttpAddressRow,
  maxInFlightRow,
  nsqdTcpAddressRow,
} from "./common_options.ts";
import { Consumer, GoNsqLogger, type Message } from "../client/mod.ts";
import { checkClientOpt, clientConfig, toolUserAgent } from "./client_opts.ts";
import { HostPool, TimerMetrics } from "./host_pool.ts";
import { goLog, type ToolIo, type ToolSpec } from "./tool.ts";
import { NSQ_VERSION } from "../version.ts";

export interface NsqToHttpOptions {
  topic: string;
  channel: string;
  maxInFlight: number;
  n: number;
  mode: string;
  sample: number;
  httpClientConnectTimeout: number;
  httpClientRequestTimeout: number;
  statusEvery: number;
  contentType: string;
  posts: string[];
  headers: string[];
  gets: string[];
  nsqdTcpAddresses: string[];
  lookupdHttpAddresses: string[];
  consumerOpts: string[];
}

const DEFAULT_CONTENT_TYPE = "application/octet-stream";

export function defaultNsqToHttpOptions(): NsqToHttpOptions {
  return {
    topic: "",
    channel: "nsq_to_http",
    maxInFlight: 200,
    n: 100,
    mode: "hostpool",
    sample: 1.0,
    httpClientConnectTimeout: 2_000,
    httpClientRequestTimeout: 20_000,
    statusEvery: 250,
    contentType: DEFAULT_CONTENT_TYPE,
    posts: [],
    headers: [],
    gets: [],
    nsqdTcpAddresses: [],
    lookupdHttpAddresses: [],
    consumerOpts: [],
  };
}

export const nsqToHttpOptionTable: readonly OptionSpec<NsqToHttpOptions>[] = optionGroup<
  NsqToHttpOptions
>("nsq_to_http options", [
  { flag: "topic", field: "topic", kind: "string", help: "nsq topic" },
  { flag: "channel", field: "channel", kind: "string", help: "nsq channel" },
  maxInFlightRow(),
  { flag: "n", field: "n", kind: "int", help: "number of concurrent publishers" },
  {
    flag: "mode",
    field: "mode",
    kind: "string",
    help: "the upstream request mode options: round-robin, hostpool (default), epsilon-greedy",
  },
  {
    flag: "sample",
    field: "sample",
    kind: "float",
    help: "% of messages to publish (float b/w 0 -> 1)",
  },
  ...httpClientTimeoutRows(),
  {
    flag: "status-every",
    field: "statusEvery",
    kind: "int",
    help: "the # of requests between logging status (per handler), 0 disables",
  },
  {
    flag: "content-type",
    field: "contentType",
    kind: "string",
    help: "the Content-Type used for POST requests",
  },
  {
    flag: "post",
    field: "posts",
    kind: "stringArray",
    help: "HTTP address to make a POST request to.  data will be in the body (may be given " +
      "multiple times)",
  },
  {
    flag: "header",
    field: "headers",
    kind: "stringArray",
    help: "Custom header for HTTP requests (may be given multiple times)",
  },
  {
    flag: "get",
    field: "gets",
    kind: "stringArray",
    help: "HTTP address to make a GET request to. '%s' will be printf replaced with data (may " +
      "be given multiple times)",
  },
  nsqdTcpAddressRow(),
  lookupdHttpAddressRow(),
  consumerOptRow(),
]);

/** `--header "Key: value"` pairs; throws on a malformed one. */
export function parseCustomHeaders(strs: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const s of strs) {
    const i = s.indexOf(":");
    const key = i < 0 ? "" : s.slice(0, i).trim();
    const val = i < 0 ? "" : s.slice(i + 1).trim();
    if (key === "" || val === "") throw new TypeError(`invalid header: ${JSON.stringify(s)}`);
    headers[key] = val;
  }
  return headers;
}

export function validateNsqToHttp(o: NsqToHttpOptions): string | undefined {
  if (o.headers.length > 0) {
    try {
      parseCustomHeaders(o.headers);
    } catch {
      return "--header value format should be 'key=value'";
    }
  }
  if (o.topic === "" || o.channel === "") return "--topic and --channel are required";
  if (o.contentType !== DEFAULT_CONTENT_TYPE) {
    if (o.posts.length === 0) return "--content-type only used with --post";
    if (o.contentType.length === 0) return "--content-type requires a value when used";
  }
  if (o.nsqdTcpAddresses.length === 0 && o.lookupdHttpAddresses.length === 0) {
    return "--nsqd-tcp-address or --lookupd-http-address required";
  }
  if (o.nsqdTcpAddresses.length > 0 && o.lookupdHttpAddresses.length > 0) {
    return "use --nsqd-tcp-address or --lookupd-http-address not both";
  }
  if (o.gets.length === 0 && o.posts.length === 0) return "--get or --post required";
  if (o.gets.length > 0 && o.posts.length > 0) return "use --get or --post not both";
  for (const g of o.gets) {
    if (g.split("%s").length - 1 !== 1) return "invalid GET address - must be a printf string";
  }
  if (o.sample > 1.0 || o.sample < 0.0) return "ERROR: --sample must be between 0.0 and 1.0";
  return undefined;
}

/** Go's url.QueryEscape: spaces as `+`, everything but unreserved characters %-escaped. */
export function queryEscape(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (b === 0x20) out += "+";
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

type Mode = "all" | "round-robin" | "hostpool";

export async function runNsqToHttp(o: NsqToHttpOptions, io: ToolIo): Promise<number> {
  const log = (message: string) => goLog(io, message);
  const headers = parseCustomHeaders(o.headers);
  const isPost = o.posts.length > 0;
  const addresses = isPost ? o.posts : o.gets;
  const mode: Mode = o.mode === "round-robin"
    ? "round-robin"
    : o.mode === "hostpool" || o.mode === "epsilon-greedy"
    ? "hostpool"
    : "all";
  const userAgent = `nsq_to_http v${NSQ_VERSION}`;

  const publish = async (addr: string, body: Uint8Array): Promise<void> => {
    const signal = AbortSignal.timeout(o.httpClientRequestTimeout);
    let resp: Response;
    if (isPost) {
      resp = await fetch(addr, {
        method: "POST",
        body: body as Uint8Array<ArrayBuffer>,
        headers: { "User-Agent": userAgent, "Content-Type": o.contentType, ...headers },
        signal,
      });
      await resp.body?.cancel();
      if (resp.status < 200 || resp.status >= 300) {
        throw new Error(`got status code ${resp.status}`);
      }
    } else {
      const endpoint = addr.replace("%s", () => queryEscape(body));
      resp = await fetch(endpoint, { headers: { "User-Agent": userAgent, ...headers }, signal });
      await resp.body?.cancel();
      if (resp.status !== 200) throw new Error(`got status code ${resp.status}`);
    }
  };

  const perAddress = new Map<string, TimerMetrics>();
  if (addresses.length === 1) perAddress.set(addresses[0], new TimerMetrics(0, "", log));
  else {
    for (const a of addresses) perAddress.set(a, new TimerMetrics(o.statusEvery, `[${a}]:`, log));
  }
  const aggregate = new TimerMetrics(o.statusEvery, "[aggregate]:", log);
  const pool = new HostPool(addresses);
  let counter = 0;

  const handler = async (m: Message): Promise<void> => {
    if (o.sample < 1.0 && Math.random() > o.sample) return;
    const start = performance.now();
    switch (mode) {
      case "all":
        for (const addr of addresses) {
          const st = performance.now();
          await publish(addr, m.body);
          perAddress.get(addr)!.status(st);
        }
        break;
      case "round-robin": {
        counter++;
        const addr = addresses[counter % addresses.length];
        await publish(addr, m.body);
        perAddress.get(addr)!.status(start);
        break;
      }
      case "hostpool": {
        const addr = pool.get();
        try {
          await publish(addr, m.body);
        } catch (e) {
          pool.mark(addr, true);
          throw e;
        }
        pool.mark(addr, false);
        perAddress.get(addr)!.status(start);
        break;
      }
    }
    aggregate.status(start);
  };

  const config = clientConfig(o.consumerOpts, {
    userAgent: toolUserAgent("nsq_to_http"),
    maxInFlight: o.maxInFlight,
    logger: new GoNsqLogger("info", io.logLine),
  });
  const consumer = new Consumer(o.topic, o.channel, config);
  consumer.addHandler(handler, { concurrency: o.n });
  try {
    if (o.nsqdTcpAddresses.length > 0) await consumer.connectToNsqds(o.nsqdTcpAddresses);
    if (o.lookupdHttpAddresses.length > 0) {
      await consumer.connectToNsqlookupds(o.lookupdHttpAddresses);
    }
  } catch (e) {
    await consumer.stop().catch(() => {});
    log(e instanceof Error ? e.message : String(e));
    return 1;
  }
  if (!io.signal.aborted) {
    await new Promise<void>((r) => io.signal.addEventListener("abort", () => r(), { once: true }));
  }
  await consumer.stop();
  return 0;
}

export const nsqToHttpTool: ToolSpec<NsqToHttpOptions> = {
  name: "nsq_to_http",
  summary: "deliver a topic's messages as HTTP GET/POST requests",
  table: nsqToHttpOptionTable,
  defaults: defaultNsqToHttpOptions,
  flagChecks: { "consumer-opt": checkClientOpt },
  validate: validateNsqToHttp,
  run: runNsqToHttp,
};
