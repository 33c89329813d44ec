/**
 * nsqd's HTTP and HTTPS API (docs/nsqd.md#http-api; nsq's `nsqd/http.go`): a thin Hono adapter over
 * the core. Handlers parse the query string (never the body) and answer in the V1 format of
 * lib/http/v1.ts; httprouter's 404 / 405 / redirects come from there too.
 *
 * Publishing (`POST /pub`, `POST /mpub`) answers `OK` only once the messages are in the topic
 * and any disk writes they caused reached the OS, like the TCP path. Like Go, those two routes
 * are not logged per request (the hot path); everything else is.
 *
 * ```ts
 * const http = await startNsqdHttp(nsqd, { tls: { cert, key } });
 * // http.httpAddress, http.httpsAddress ... await http.close();
 * ```
 *
 * @module
 */
import {
  HttpError,
  type HttpServerHandle,
  NSQ_CONTENT_TYPE_HEADER,
  NSQ_CONTENT_TYPE_V1,
  parseQuery,
  QueryParams,
  RawJson,
  requireArg,
  respondV1,
  serveHttp,
  V1App,
  type V1Context,
} from "../http/v1.ts";
import { parseLogLevel } from "../internal/log.ts";
import { formatAddr, splitHostPort } from "../internal/net_addr.ts";
import type { TlsClientAuthPolicy, TlsMinVersion } from "../protocol/tls.ts";
import { isValidChannelName, isValidTopicName } from "../protocol/names.ts";
import { NSQ_VERSION } from "../version.ts";
import type { Message } from "./message.ts";
import type { Nsqd } from "./nsqd.ts";
import { nsqdConfigValue, TLS_REQUIRED } from "./options.ts";
import { osHostname } from "../internal/options.ts";
import { processMetrics, PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./prometheus.ts";
import {
  loadHeapStatistics,
  marshalGoJson,
  renderStatsJson,
  renderStatsText,
  statsJsonValue,
} from "./stats.ts";
import { addGossipRoutes, gossipStatsText } from "./gossip_http.ts";
import { collectStats } from "./stats_collect.ts";
import type { Topic } from "./topic.ts";
import type { BackendQueue } from "./backend_queue.ts";
import { DiskQueue } from "./disk_queue.ts";
import { MAX_PEEK, peekQueued, renderPeekJson } from "./peek.ts";

/** Options of {@linkcode startNsqdHttp}. */
export interface NsqdHttpOptions {
  /** PEM certificate chain and key; with a non-empty `--https-address` HTTPS is served too. */
  tls?: { cert: string; key: string; ca?: string };
}

/** The running HTTP/HTTPS listeners of an nsqd. */
export interface NsqdHttpServer {
  /** Bound HTTP address (`host:port` or socket path); "" when `--http-address` is empty. */
  readonly httpAddress: string;
  /** Bound HTTPS address; "" when HTTPS is not served. */
  readonly httpsAddress: string;
  /** HTTP port: 0 when disabled, -1 on a unix socket (what `/info` reports). */
  readonly httpPort: number;
  /** HTTPS port, 0 when not served. */
  readonly httpsPort: number;
  /** Stops both listeners (in-flight requests finish); idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What the handlers need to know about the listeners. */
export interface NsqdHttpPorts {
  /** The plain HTTP port for `/info` (0 when disabled, -1 on a unix socket). */
  httpPort(): number;
}

/**
 * Serves nsqd's API on `--http-address` (unless empty) and, when `opts.tls` is given and
 * `--https-address` is non-empty, on `--https-address` over TLS. With `--tls-required=true`
 * the plain listener answers every request 403 `TLS_REQUIRED` (docs/nsqd.md#tls). Both listeners
 * close when `nsqd.signal` aborts. Throws when an address cannot be bound.
 */
export async function startNsqdHttp(
  nsqd: Nsqd,
  opts: NsqdHttpOptions = {},
): Promise<NsqdHttpServer> {
  const o = nsqd.opts;
  let http: HttpServerHandle | null = null;
  let https: HttpServerHandle | null = null;
  const handler = nsqdHttpHandler(nsqd, { httpPort: () => http?.port ?? 0 });
  try {
    if (opts.tls !== undefined && o.httpsAddress !== "") {
      // Deno.serve cannot request client certificates or set a TLS 1.3 floor; node:https can.
      https = o.tlsClientAuthPolicy !== "" || o.tlsMinVersion === "tls1.3"
        ? await (await import("../http/https_node.ts")).serveHttpsNode(o.httpsAddress, handler, {
          ...opts.tls,
          clientAuthPolicy: o.tlsClientAuthPolicy as TlsClientAuthPolicy,
          minVersion: o.tlsMinVersion as TlsMinVersion,
          logger: nsqd.logger,
          signal: nsqd.signal,
        })
        : serveHttps(o.httpsAddress, handler, opts.tls, nsqd);
    }
    if (o.httpAddress !== "") {
      const plain = o.tlsRequired === TLS_REQUIRED
        ? tlsRequiredHandler(() => https?.port ?? 0)
        : handler;
      http = serveHttp(o.httpAddress, plain, {
        logger: nsqd.logger,
        name: "HTTP",
        signal: nsqd.signal,
      });
    }
  } catch (err) {
    await https?.close();
    throw err;
  }
  const close = async () => {
    await Promise.all([http?.close(), https?.close()]);
  };
  return {
    httpAddress: http?.addr ?? "",
    httpsAddress: https?.addr ?? "",
    httpPort: http?.port ?? 0,
    httpsPort: https?.port ?? 0,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The plain listener's answer under `--tls-required=true`: Go's exact body, V1 headers. */
function tlsRequiredHandler(httpsPort: () => number): Deno.ServeHandler {
  return () =>
    new Response(`{"message": "TLS_REQUIRED", "https_port": ${httpsPort()}}`, {
      status: 403,
      headers: {
        [NSQ_CONTENT_TYPE_HEADER]: NSQ_CONTENT_TYPE_V1,
        "Content-Type": "application/json; charset=utf-8",
      },
    });
}

/**
 * HTTPS with Deno.serve's TLS (`--https-address` is TCP only). Same lifecycle as serveHttp.
 * TODO(http): move into lib/http/v1.ts serveHttp as a `tls` option.
 */
function serveHttps(
  address: string,
  handler: Deno.ServeHandler,
  tls: { cert: string; key: string },
  nsqd: Nsqd,
): HttpServerHandle {
  const log = nsqd.logger;
  const { hostname, port } = splitHostPort(address);
  const server = Deno.serve({
    hostname: hostname || "0.0.0.0",
    port,
    cert: tls.cert,
    key: tls.key,
    onListen() {},
    onError(err: unknown) {
      log.error(`HTTPS: unhandled error - ${err}`);
      return new Response('{"message":"INTERNAL_ERROR"}', { status: 500 });
    },
  }, handler);
  const addr = formatAddr(server.addr);
  log.info(`HTTPS: listening on ${addr}`);
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      nsqd.signal.removeEventListener("abort", onAbort);
      await server.shutdown();
      await server.finished;
      log.info(`HTTPS: closing ${addr}`);
    })();
    return closing;
  };
  const onAbort = () => {
    close().catch((err) => log.error(`HTTPS: close failed - ${err}`));
  };
  if (nsqd.signal.aborted) onAbort();
  else nsqd.signal.addEventListener("abort", onAbort, { once: true });
  return { addr, port: server.addr.port, finished: server.finished, close };
}

// ---------------------------------------------------------------------------------------------
// Routes

/**
 * The request handler for both listeners. `POST /pub` and `POST /mpub` (the hot path) skip the
 * router and are not logged (Go does not log them either); every other request goes through
 * the logging V1App, which also answers 404 / 405 for everything (including `GET /pub`).
 */
export function nsqdHttpHandler(nsqd: Nsqd, ports: NsqdHttpPorts): Deno.ServeHandler {
  const app = newNsqdHttpApp(nsqd, ports);
  return (req, info) => {
    if (req.method === "POST") {
      const path = urlPath(req.url);
      if (path === "/pub") return publish(nsqd, req, doPub);
      if (path === "/mpub") return publish(nsqd, req, doMpub);
    }
    return app.fetch(req, info);
  };
}

/** A publish request's input: the raw request and its query, parsed on first use. */
interface PubRequest {
  readonly request: Request;
  query(): QueryParams;
}

type PubHandler = (nsqd: Nsqd, c: PubRequest) => Promise<string>;

const OK_HEADERS: [string, string][] = [
  [NSQ_CONTENT_TYPE_HEADER, NSQ_CONTENT_TYPE_V1],
  ["Content-Type", "text/plain; charset=utf-8"],
];

/** Runs a publish handler outside the router, answering like V1App would. */
async function publish(nsqd: Nsqd, request: Request, handler: PubHandler): Promise<Response> {
  let query: QueryParams | null = null;
  const c: PubRequest = {
    request,
    query: () => (query ??= parseRequestQuery(request.url)),
  };
  try {
    const text = await handler(nsqd, c);
    return new Response(text, { headers: OK_HEADERS });
  } catch (err) {
    if (err instanceof HttpError) return respondV1(err.status, err.text);
    nsqd.logger.error(`panic in HTTP handler - ${err instanceof Error ? err.message : err}`);
    return respondV1(500, "INTERNAL_ERROR");
  }
}

/** The query string of `url` parsed like Go's url.ParseQuery; 400 INVALID_REQUEST when bad. */
function parseRequestQuery(url: string): QueryParams {
  const q = url.indexOf("?");
  let raw = q < 0 ? "" : url.slice(q + 1);
  const hash = raw.indexOf("#");
  if (hash >= 0) raw = raw.slice(0, hash);
  try {
    return new QueryParams(parseQuery(raw));
  } catch {
    throw new HttpError(400, "INVALID_REQUEST");
  }
}

/** The path of an absolute URL, without query (no decoding; only compared with plain paths). */
function urlPath(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

/** Every nsqd route on one V1App (logging each request like Go's `http_api.Log`). */
export function newNsqdHttpApp(nsqd: Nsqd, ports: NsqdHttpPorts): V1App {
  const o = nsqd.opts;
  const app = new V1App({ logger: nsqd.logger });

  app.get("/ping", () => {
    const health = nsqd.getHealth();
    if (!nsqd.isHealthy()) throw new HttpError(500, health);
    const gossip = nsqd.gossip?.unhealthy();
    if (gossip) throw new HttpError(500, `NOK - ${gossip}`);
    return health;
  }, { plainText: true });

  // Beyond Go 1.3 (NSQ's dev branch): nsqlookupd's read API, only with --gossip-address.
  if (o.gossipAddress !== "") addGossipRoutes(app, nsqd);

  app.get("/info", () => ({
    version: NSQ_VERSION,
    broadcast_address: o.broadcastAddress,
    hostname: osHostname(),
    http_port: ports.httpPort(),
    tcp_port: nsqd.tcpPort,
    start_time: nsqd.startTime,
    max_heartbeat_interval: msToNs(o.maxHeartbeatInterval),
    max_output_buffer_size: o.maxOutputBufferSize,
    max_output_buffer_timeout: msToNs(o.maxOutputBufferTimeout),
    max_deflate_level: o.maxDeflateLevel,
  }));

  app.post("/pub", (c) => doPub(nsqd, c));
  app.post("/mpub", (c) => doMpub(nsqd, c));

  app.get("/stats", async (c) => {
    const q = c.query();
    const includeMem = boolParam(q.get("include_mem"));
    if (includeMem) await loadHeapStatistics();
    const stats = collectStats(nsqd, {
      topic: q.get("topic") ?? "",
      channel: q.get("channel") ?? "",
      includeClients: boolParam(q.get("include_clients")),
      includeMem,
    });
    if (q.get("format") === "json") {
      if (nsqd.gossip === null) return new RawJson(renderStatsJson(stats));
      return new RawJson(marshalGoJson({ ...statsJsonValue(stats), gossip: nsqd.gossip.stats() }));
    }
    return renderStatsText(stats, { startTimeMs: nsqd.startTime * 1000, nowMs: Date.now() }) +
      gossipStatsText(nsqd);
  });

  // Beyond Go: Prometheus text of the same document (memory figures come from processMetrics).
  app.get("/metrics", (c) => {
    const includeClients = boolParam(c.query().get("include_clients"));
    const stats = collectStats(nsqd, { includeClients, includeMem: false });
    return new Response(renderPrometheus(stats, processMetrics()), {
      headers: {
        [NSQ_CONTENT_TYPE_HEADER]: NSQ_CONTENT_TYPE_V1,
        "Content-Type": PROMETHEUS_CONTENT_TYPE,
      },
    });
  });

  // ---- topics: `topic` must be present; create and empty also validate the name

  app.post("/topic/create", async (c) => {
    await getTopicFromQuery(nsqd, c.query());
    return null;
  });

  app.post("/topic/delete", (c) => {
    const name = requireArg(c.query(), "topic", "MISSING_ARG_TOPIC");
    if (!nsqd.deleteExistingTopic(name)) throw new HttpError(404, "TOPIC_NOT_FOUND");
    return null;
  });

  app.post("/topic/empty", async (c) => {
    const name = requireArg(c.query(), "topic", "MISSING_ARG_TOPIC");
    if (!isValidTopicName(name)) throw new HttpError(400, "INVALID_TOPIC");
    const topic = existingTopic(nsqd, name);
    try {
      await topic.empty();
    } catch (err) {
      nsqd.logger.error(`TOPIC(${name}): failed to empty - ${(err as Error).message}`);
      throw new HttpError(500, "INTERNAL_ERROR");
    }
    return null;
  });

  const pauseTopic = (pause: boolean) => async (c: V1Context) => {
    const topic = existingTopic(nsqd, requireArg(c.query(), "topic", "MISSING_ARG_TOPIC"));
    if (pause) topic.pause();
    else topic.unpause();
    await persistPause(nsqd);
    return null;
  };
  app.post("/topic/pause", pauseTopic(true));
  app.post("/topic/unpause", pauseTopic(false));

  // ---- channels: valid topic and channel, existing topic (http_api.GetTopicChannelArgs)

  app.post("/channel/create", async (c) => {
    const [topic, name] = topicChannelArgs(nsqd, c);
    if (nsqd.isDeleting(topic.name, name)) await nsqd.deletionsSettled(topic.name, name);
    topic.getChannel(name);
    return null;
  });

  app.post("/channel/delete", (c) => {
    const [topic, name] = topicChannelArgs(nsqd, c);
    if (!topic.deleteChannel(name)) throw new HttpError(404, "CHANNEL_NOT_FOUND");
    return null;
  });

  app.post("/channel/empty", async (c) => {
    const [topic, name] = topicChannelArgs(nsqd, c);
    const channel = topic.getExistingChannel(name);
    if (channel === undefined) throw new HttpError(404, "CHANNEL_NOT_FOUND");
    try {
      await channel.empty();
    } catch (err) {
      nsqd.logger.error(
        `TOPIC(${topic.name}): failed to empty channel ${name} - ${(err as Error).message}`,
      );
      throw new HttpError(500, "INTERNAL_ERROR");
    }
    return null;
  });

  const pauseChannel = (pause: boolean) => async (c: V1Context) => {
    const [topic, name] = topicChannelArgs(nsqd, c);
    const channel = topic.getExistingChannel(name);
    if (channel === undefined) throw new HttpError(404, "CHANNEL_NOT_FOUND");
    if (pause) channel.pause();
    else channel.unpause();
    await persistPause(nsqd);
    return null;
  };
  app.post("/channel/pause", pauseChannel(true));
  app.post("/channel/unpause", pauseChannel(false));

  // ---- beyond NSQ: max attempts and a dead-letter topic per channel (docs/beyond-nsq.md)

  app.post("/channel/config", async (c) => {
    const [topic, name] = topicChannelArgs(nsqd, c);
    const channel = topic.getExistingChannel(name);
    if (channel === undefined) throw new HttpError(404, "CHANNEL_NOT_FOUND");
    const q = c.query();
    const ma = q.get("max_attempts");
    let maxAttempts = channel.maxAttempts;
    if (ma !== undefined) {
      const v = parseGoInt(ma);
      if (v === null || v < 0 || v > 65535) throw new HttpError(400, "INVALID_MAX_ATTEMPTS");
      maxAttempts = v;
    }
    const dl = q.get("dead_letter_topic");
    if (dl !== undefined && dl !== "" && !isValidTopicName(dl)) {
      throw new HttpError(400, "INVALID_DEAD_LETTER_TOPIC");
    }
    channel.maxAttempts = maxAttempts;
    if (dl !== undefined) channel.deadLetterTopic = dl;
    channel.deadLetterConfigured = true;
    nsqd.logger.info(
      `TOPIC(${topic.name}): channel ${name} max_attempts=${channel.maxAttempts} ` +
        `dead_letter_topic=${channel.deadLetterTopic}`,
    );
    await persistPause(nsqd);
    return { max_attempts: channel.maxAttempts, dead_letter_topic: channel.deadLetterTopic };
  });

  // ---- beyond NSQ: peek (docs/beyond-nsq.md); read-only, changes no count or order

  app.get("/channel/peek", async (c) => {
    const [topic, name] = topicChannelArgs(nsqd, c);
    const channel = topic.getExistingChannel(name);
    if (channel === undefined) throw new HttpError(404, "CHANNEL_NOT_FOUND");
    const n = peekCount(c.query());
    return new RawJson(renderPeekJson(await peekQueued(channel, diskQueueOf(channel.backend), n)));
  });

  app.get("/topic/peek", async (c) => {
    const q = c.query();
    const name = requireArg(q, "topic", "MISSING_ARG_TOPIC");
    if (!isValidTopicName(name)) throw new HttpError(400, "INVALID_ARG_TOPIC");
    const topic = existingTopic(nsqd, name);
    const n = peekCount(q);
    return new RawJson(renderPeekJson(await peekQueued(topic, diskQueueOf(topic.backend), n)));
  });

  // ---- options

  app.get("/config/:opt", (c) => configValue(nsqd, c.param("opt")));
  app.put("/config/:opt", async (c) => {
    const opt = c.param("opt");
    const readMax = o.maxMsgSize + 1;
    const body = await readBodyOr500(c.request, readMax);
    if (body.length === readMax || body.length === 0) throw new HttpError(413, "INVALID_VALUE");
    const text = new TextDecoder().decode(body);
    switch (opt) {
      case "nsqlookupd_tcp_addresses": {
        const addrs = parseStringArray(text);
        if (addrs === null) throw new HttpError(400, "INVALID_VALUE");
        nsqd.setLookupdAddresses(addrs);
        break;
      }
      case "log_level": {
        let level;
        try {
          level = parseLogLevel(text);
        } catch {
          throw new HttpError(400, "INVALID_VALUE");
        }
        o.logLevel = level;
        nsqd.logger.level = level;
        break;
      }
      default:
        throw new HttpError(400, "INVALID_OPTION");
    }
    return configValue(nsqd, opt);
  });

  return app;
}

// ---------------------------------------------------------------------------------------------
// Publishing

/**
 * POST /pub: checks, in Go's order, Content-Length and the read size against --max-msg-size
 * (413 MSG_TOO_BIG), an empty body (400 MSG_EMPTY), the topic (creating it), then `defer`.
 */
async function doPub(nsqd: Nsqd, c: PubRequest): Promise<string> {
  const o = nsqd.opts;
  const req = c.request;
  const declared = contentLength(req);
  if (declared > o.maxMsgSize) throw new HttpError(413, "MSG_TOO_BIG");
  const readMax = o.maxMsgSize + 1;
  const body = await readBodyOr500(req, readMax, declared);
  if (body.length === readMax) throw new HttpError(413, "MSG_TOO_BIG");
  if (body.length === 0) throw new HttpError(400, "MSG_EMPTY");
  const q = c.query();
  const topic = await getTopicFromQuery(nsqd, q);
  let deferMs = 0;
  const ds = q.get("defer");
  if (ds !== undefined) {
    const v = parseGoInt(ds);
    if (v === null || v < 0 || v > o.maxReqTimeout) throw new HttpError(400, "INVALID_DEFER");
    deferMs = v;
  }
  const msg = topic.newMessage(body);
  msg.deferred = deferMs;
  await putMessages(nsqd, topic, [msg]);
  return "OK";
}

/**
 * POST /mpub: Content-Length against --max-body-size (413 BODY_TOO_BIG), the topic (created
 * before the body is parsed), then the body: newline-separated messages (empty lines dropped)
 * or, with `binary`, `[4-byte count]([4-byte size][bytes])*`. Every message is validated
 * before any is put.
 */
async function doMpub(nsqd: Nsqd, c: PubRequest): Promise<string> {
  const o = nsqd.opts;
  const req = c.request;
  const declared = contentLength(req);
  if (declared > o.maxBodySize) throw new HttpError(413, "BODY_TOO_BIG");
  const q = c.query();
  const topic = await getTopicFromQuery(nsqd, q);
  const binary = binaryParam(nsqd, q.get("binary"));
  const readMax = o.maxBodySize + 1;
  const body = await readBodyOr500(req, readMax, declared);
  let bodies: Uint8Array[];
  if (binary) {
    if (body.length === readMax) throw new HttpError(413, "BODY_TOO_BIG");
    bodies = parseBinaryMpub(body, o.maxMsgSize, o.maxBodySize);
  } else {
    bodies = splitTextMpub(body, readMax, o.maxMsgSize);
  }
  const msgs = new Array<Message>(bodies.length);
  for (let i = 0; i < bodies.length; i++) msgs[i] = topic.newMessage(bodies[i]);
  await putMessages(nsqd, topic, msgs);
  return "OK";
}

/** Puts the messages; awaits the disk when they caused backend writes. Failure: 503 EXITING. */
async function putMessages(nsqd: Nsqd, topic: Topic, msgs: Message[]): Promise<void> {
  // Beyond NSQ (--max-topic-depth): refused while full; nothing of this request is put.
  if (topic.isFull()) throw new HttpError(503, "TOPIC_FULL");
  const writesBefore = nsqd.diskWrites;
  try {
    for (let i = 0; i < msgs.length; i++) topic.put(msgs[i]);
  } catch {
    throw new HttpError(503, "EXITING");
  }
  if (nsqd.diskWrites !== writesBefore) {
    try {
      await nsqd.flushDirty();
    } catch (err) {
      nsqd.logger.error(`TOPIC(${topic.name}): failed to write - ${(err as Error).message}`);
      throw new HttpError(503, "EXITING");
    }
  }
}

/**
 * Go's text-mode reader: blocks up to and including `\n` over a body cut at `readMax` bytes;
 * reaching `readMax` bytes is BODY_TOO_BIG, checked before each line's MSG_TOO_BIG. Messages are
 * views into `body`.
 */
export function splitTextMpub(body: Uint8Array, readMax: number, maxMsgSize: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  while (start < body.length) {
    const nl = body.indexOf(0x0a, start);
    const lineEnd = nl < 0 ? body.length : nl;
    const blockEnd = nl < 0 ? body.length : nl + 1;
    if (blockEnd === readMax) throw new HttpError(413, "BODY_TOO_BIG");
    const len = lineEnd - start;
    if (len > maxMsgSize) throw new HttpError(413, "MSG_TOO_BIG");
    if (len > 0) out.push(body.subarray(start, lineEnd));
    start = blockEnd;
  }
  return out;
}

/**
 * The binary MPUB body (nsqd's `readMPUB`): errors are 413 with the TCP code minus `E_`:
 * BAD_BODY for the count, BAD_MESSAGE for a size or a short message. Bytes after the last
 * message are ignored, as Go does. Messages are views into `body`.
 */
export function parseBinaryMpub(
  body: Uint8Array,
  maxMsgSize: number,
  maxBodySize: number,
): Uint8Array[] {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < 4) throw new HttpError(413, "BAD_BODY");
  const count = dv.getInt32(0);
  if (count <= 0 || count > Math.floor((maxBodySize - 4) / 5)) {
    throw new HttpError(413, "BAD_BODY");
  }
  const out = new Array<Uint8Array>(count);
  let off = 4;
  for (let i = 0; i < count; i++) {
    if (off + 4 > body.length) throw new HttpError(413, "BAD_MESSAGE");
    const n = dv.getInt32(off);
    if (n <= 0 || n > maxMsgSize || off + 4 + n > body.length) {
      throw new HttpError(413, "BAD_MESSAGE");
    }
    out[i] = body.subarray(off + 4, off + 4 + n);
    off += 4 + n;
  }
  return out;
}

/** `binary`: absent → text; Go's strconv.ParseBool; any other value → binary (with a warning). */
function binaryParam(nsqd: Nsqd, v: string | undefined): boolean {
  if (v === undefined) return false;
  const b = GO_BOOLS.get(v);
  if (b !== undefined) return b;
  nsqd.logger.warn(`deprecated value '${v}' used for /mpub binary param`);
  return true;
}

const GO_BOOLS = new Map<string, boolean>([
  ["1", true],
  ["t", true],
  ["T", true],
  ["TRUE", true],
  ["true", true],
  ["True", true],
  ["0", false],
  ["f", false],
  ["F", false],
  ["FALSE", false],
  ["false", false],
  ["False", false],
]);

/** `include_clients` / `include_mem`: `true`/`1` or `false`/`0`; anything else (or absent) true. */
function boolParam(v: string | undefined): boolean {
  return v === "false" || v === "0" ? false : true;
}

/** Go's strconv.ParseInt(s, 10, 64) for values a number holds exactly; null when invalid. */
function parseGoInt(s: string): number | null {
  if (!/^[+-]?[0-9]+$/.test(s)) return null;
  const v = Number(s);
  return Number.isSafeInteger(v) ? v : null;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Peek's `n`: default 1, at most MAX_PEEK (larger values are clamped); 400 INVALID_ARG_N. */
function peekCount(q: QueryParams): number {
  const v = q.get("n");
  if (v === undefined) return 1;
  const n = parseGoInt(v);
  if (n === null || n < 1) throw new HttpError(400, "INVALID_ARG_N");
  return Math.min(n, MAX_PEEK);
}

function diskQueueOf(b: BackendQueue): DiskQueue | null {
  return b instanceof DiskQueue ? b : null;
}

function existingTopic(nsqd: Nsqd, name: string): Topic {
  const t = nsqd.getExistingTopic(name);
  if (t === undefined) throw new HttpError(404, "TOPIC_NOT_FOUND");
  return t;
}

/**
 * Go's `getTopicFromQuery`: `topic` present (400 MISSING_ARG_TOPIC) and valid (400
 * INVALID_TOPIC), then get-or-create, after any deletion of the same name has finished.
 * A closing nsqd answers 503 EXITING instead of creating a topic that would never be closed.
 */
async function getTopicFromQuery(nsqd: Nsqd, q: QueryParams): Promise<Topic> {
  const name = requireArg(q, "topic", "MISSING_ARG_TOPIC");
  if (!isValidTopicName(name)) throw new HttpError(400, "INVALID_TOPIC");
  if (nsqd.isDeleting(name)) await nsqd.deletionsSettled(name);
  if (nsqd.signal.aborted) throw new HttpError(503, "EXITING");
  return nsqd.getTopic(name);
}

/** nsq's `getExistingTopicFromQuery` (http_api.GetTopicChannelArgs + an existing topic). */
function topicChannelArgs(nsqd: Nsqd, c: V1Context): [Topic, string] {
  const q = c.query();
  const topic = requireArg(q, "topic", "MISSING_ARG_TOPIC");
  if (!isValidTopicName(topic)) throw new HttpError(400, "INVALID_ARG_TOPIC");
  const channel = requireArg(q, "channel", "MISSING_ARG_CHANNEL");
  if (!isValidChannelName(channel)) throw new HttpError(400, "INVALID_ARG_CHANNEL");
  return [existingTopic(nsqd, topic), channel];
}

/** Go persists nsqd.dat before answering a (un)pause (and so do we for /channel/config); a failure is only logged. */
async function persistPause(nsqd: Nsqd): Promise<void> {
  try {
    await nsqd.persistMetadata();
  } catch (err) {
    nsqd.logger.error(`failed to persist metadata - ${(err as Error).message}`);
  }
}

function configValue(nsqd: Nsqd, key: string): unknown {
  const v = nsqdConfigValue(nsqd.opts, key);
  if (v === undefined) throw new HttpError(400, "INVALID_OPTION");
  return v;
}

/** A JSON array of strings (or null, meaning none), as Go's json.Unmarshal into []string. */
function parseStringArray(text: string): string[] | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) return null;
  return v;
}

function msToNs(ms: number): number {
  return Math.round(ms * 1_000_000);
}

/** The declared Content-Length, or -1 when absent (chunked), like Go's req.ContentLength. */
function contentLength(req: Request): number {
  const v = req.headers.get("content-length");
  if (v === null || !/^[0-9]+$/.test(v)) return -1;
  return Number(v);
}

/** {@linkcode readBody}, with a read failure answered 500 INTERNAL_ERROR as in Go. */
async function readBodyOr500(
  req: Request,
  limit: number,
  declared = contentLength(req),
): Promise<Uint8Array> {
  try {
    return await readBody(req, limit, declared);
  } catch {
    throw new HttpError(500, "INTERNAL_ERROR");
  }
}

/**
 * Reads at most `limit` bytes of the request body (Go's `io.LimitReader`): a result of exactly
 * `limit` bytes means the body may be longer, and the rest is left unread. `declared` is the
 * Content-Length (-1 when chunked): a body declared shorter than `limit` is read in one piece.
 */
export async function readBody(
  req: Request,
  limit: number,
  declared = contentLength(req),
): Promise<Uint8Array> {
  // A body of known length is read whole without touching `req.body`: creating that stream
  // costs Deno a ReadableStream and its buffers per request (~+15 MB of peak RSS at 20k req/s).
  if (declared >= 0 && declared < limit) {
    const buf = new Uint8Array(await req.arrayBuffer());
    return buf.length > limit ? buf.subarray(0, limit) : buf;
  }
  const stream = req.body;
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
  } finally {
    if (total >= limit) await reader.cancel().catch(() => {});
    else reader.releaseLock();
  }
  if (chunks.length === 1 && total <= limit) return chunks[0];
  const out = new Uint8Array(Math.min(total, limit));
  let off = 0;
  for (const ch of chunks) {
    if (off >= out.length) break;
    const n = Math.min(ch.length, out.length - off);
    out.set(n === ch.length ? ch : ch.subarray(0, n), off);
    off += n;
  }
  return out;
}
