/**
 * Shared HTTP pieces for nsqd and nsqlookupd (docs/nsqd.md#http-api): NSQ's "V1" response format on
 * Hono, an httprouter-like fallback (404 `NOT_FOUND`, 405 `METHOD_NOT_ALLOWED` + `Allow`,
 * trailing-slash and case-fix redirects, automatic `OPTIONS`), strict query parsing like Go's
 * `url.ParseQuery`, and {@linkcode serveHttp} to run a handler on `"host:port"` with `Deno.serve`.
 *
 * ```ts
 * const api = new V1App({ logger });
 * api.get("/ping", () => "OK", { plainText: true });
 * api.get("/info", () => ({ version: "1.3.0" }));
 * api.post("/topic/create", (c) => {
 *   const topic = c.query().get("topic");
 *   if (topic === undefined) throw new HttpError(400, "MISSING_ARG_TOPIC");
 *   return null; // empty 200
 * });
 * const server = serveHttp("127.0.0.1:0", api.fetch, { logger });
 * // ... server.addr is the bound "host:port"; await server.close();
 * ```
 *
 * Handlers return what nsq's Go handlers return: a string (raw text body), `null`/`undefined`
 * (empty 200), a `Uint8Array` (raw bytes), {@linkcode RawJson} (pre-encoded JSON), a `Response`
 * (sent as is: the escape hatch for special answers such as `TLS_REQUIRED`), or any other value
 * (JSON, encoded like Go's `encoding/json`). Errors are thrown as {@linkcode HttpError}; anything
 * else thrown becomes 500 `INTERNAL_ERROR` (Go's panic handler).
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type { Logger } from "../internal/log.ts";
import { formatDuration } from "../internal/duration.ts";
import { formatAddr, splitHostPort } from "../internal/net_addr.ts";

/** The header every V1 response carries, and its value. */
export const NSQ_CONTENT_TYPE_HEADER = "X-NSQ-Content-Type";
export const NSQ_CONTENT_TYPE_V1 = "nsq; version=1.0";
const JSON_TYPE = "application/json; charset=utf-8";
const TEXT_TYPE = "text/plain; charset=utf-8";

/** An HTTP API error: `status` and an upper-snake `text` rendered as `{"message":"<text>"}`. */
export class HttpError extends Error {
  readonly status: number;
  readonly text: string;
  constructor(status: number, text: string) {
    super(text);
    this.name = "HttpError";
    this.status = status;
    this.text = text;
  }
}

/** A handler result that is already-encoded JSON (for values JavaScript numbers cannot hold). */
export class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** Go's `encoding/json` escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings; so do we. */
const GO_JSON_ESCAPES = /[<>&\u2028\u2029]/g;
/** JSON text of `value` as Go's `json.Marshal` would write it (compact, HTML-safe escapes). */
export function goJson(value: unknown): string {
  // These characters can only occur inside JSON strings, so a global replace is safe.
  return JSON.stringify(value).replace(
    GO_JSON_ESCAPES,
    (ch) => "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}

/** A V1 response (nsq's `RespondV1`): 200 with text / JSON / empty body, or an error message. */
export function respondV1(status: number, data: unknown): Response {
  const headers = new Headers({ [NSQ_CONTENT_TYPE_HEADER]: NSQ_CONTENT_TYPE_V1 });
  if (status !== 200) {
    headers.set("Content-Type", JSON_TYPE);
    return new Response(goJson({ message: String(data) }), { status, headers });
  }
  if (data === null || data === undefined) return new Response(null, { status, headers });
  if (typeof data === "string") {
    if (data !== "") headers.set("Content-Type", TEXT_TYPE);
    return new Response(data, { status, headers });
  }
  if (data instanceof Uint8Array) {
    return new Response(data as Uint8Array<ArrayBuffer>, { status, headers });
  }
  headers.set("Content-Type", JSON_TYPE);
  if (data instanceof RawJson) return new Response(data.text, { status, headers });
  let body: string;
  try {
    body = goJson(data);
  } catch (err) {
    return respondV1(500, err instanceof Error ? err.message : String(err));
  }
  return new Response(body, { status, headers });
}

/** A plain-text response (nsq's `PlainText` decorator, used by `/ping`): no V1 header. */
export function respondPlain(status: number, text: string): Response {
  return new Response(text, { status, headers: { "Content-Type": TEXT_TYPE } });
}

/**
 * Parses a raw query string exactly as Go's `url.ParseQuery` does: `&`-separated, `+` is a
 * space, a `%` must start a two-digit hex escape, and a `;` in a pair is an error. Throws a
 * `TypeError` with Go's message on the first malformed pair.
 */
export function parseQuery(raw: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let firstError: string | null = null;
  for (const pair of raw.split("&")) {
    if (pair.includes(";")) {
      firstError ??= "invalid semicolon separator in query";
      continue;
    }
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const key = queryUnescape(eq < 0 ? pair : pair.slice(0, eq));
    const value = queryUnescape(eq < 0 ? "" : pair.slice(eq + 1));
    if (typeof key !== "string" || typeof value !== "string") {
      firstError ??= (typeof key !== "string" ? key : value as { error: string }).error;
      continue;
    }
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  if (firstError !== null) throw new TypeError(firstError);
  return out;
}

const utf8 = new TextDecoder();
function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Go's `url.QueryUnescape`; returns `{error}` instead of throwing on a bad escape. */
function queryUnescape(s: string): string | { error: string } {
  if (!s.includes("%")) return s.includes("+") ? s.replaceAll("+", " ") : s;
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0x25) {
      const hi = i + 2 < s.length ? hexVal(s.charCodeAt(i + 1)) : -1;
      const lo = i + 2 < s.length ? hexVal(s.charCodeAt(i + 2)) : -1;
      if (hi < 0 || lo < 0) {
        const bad = s.slice(i, i + 3);
        return { error: `invalid URL escape ${JSON.stringify(bad)}` };
      }
      bytes.push(hi * 16 + lo);
      i += 2;
    } else if (ch === 0x2b) {
      bytes.push(0x20);
    } else if (ch < 0x80) {
      bytes.push(ch);
    } else {
      // Copy the (possibly surrogate-paired) character as UTF-8.
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of enc.encode(String.fromCodePoint(cp))) bytes.push(b);
    }
  }
  return utf8.decode(new Uint8Array(bytes));
}

/** Query parameters of one request, as nsq's `http_api.ReqParams` exposes them. */
export class QueryParams {
  readonly #values: Map<string, string[]>;
  constructor(values: Map<string, string[]>) {
    this.#values = values;
  }
  /** First value of `key`, or `undefined` when absent (`?topic=` gives `""`, not undefined). */
  get(key: string): string | undefined {
    return this.#values.get(key)?.[0];
  }
  /** All values of `key` in order (empty when absent). */
  getAll(key: string): string[] {
    return this.#values.get(key) ?? [];
  }
  has(key: string): boolean {
    return this.#values.has(key);
  }
  keys(): IterableIterator<string> {
    return this.#values.keys();
  }
}

/** The first value of `key`, or 400 `text` (e.g. `MISSING_ARG_TOPIC`) when it is absent. */
export function requireArg(q: QueryParams, key: string, text: string): string {
  const v = q.get(key);
  if (v === undefined) throw new HttpError(400, text);
  return v;
}

/** What a handler sees of a request. */
export class V1Context {
  /** The Hono context (route params, raw request). */
  readonly hono: Context;
  /** The peer's `ip:port` (empty when unknown). */
  readonly remoteAddr: string;
  #query: QueryParams | null = null;

  constructor(hono: Context, remoteAddr: string) {
    this.hono = hono;
    this.remoteAddr = remoteAddr;
  }

  /** The raw request (read the body from here). */
  get request(): Request {
    return this.hono.req.raw;
  }

  /** A route parameter (`/config/:opt` → `param("opt")`). */
  param(name: string): string {
    return this.hono.req.param(name) ?? "";
  }

  /**
   * The URL query parameters, parsed strictly on first use. A malformed query string throws
   * `HttpError(400, "INVALID_REQUEST")`, as nsq's handlers answer when `NewReqParams` fails.
   */
  query(): QueryParams {
    if (this.#query === null) {
      const url = this.request.url;
      const q = url.indexOf("?");
      let raw = q < 0 ? "" : url.slice(q + 1);
      const hash = raw.indexOf("#");
      if (hash >= 0) raw = raw.slice(0, hash);
      try {
        this.#query = new QueryParams(parseQuery(raw));
      } catch {
        throw new HttpError(400, "INVALID_REQUEST");
      }
    }
    return this.#query;
  }
}

/** A route handler; see the module doc for what it may return. */
export type V1Handler = (c: V1Context) => unknown;

/** Per-route options. */
export interface RouteOptions {
  /** Answer like nsq's `PlainText` decorator (success and error as raw text, no V1 header). */
  plainText?: boolean;
}

interface Route {
  method: string;
  path: string;
  segments: string[];
  hasParams: boolean;
}

type Env = { Bindings: { remoteAddr: string } };

/**
 * A Hono app with NSQ's V1 conventions and httprouter's fallback behaviour (see module doc).
 * Pass {@linkcode V1App.fetch} to {@linkcode serveHttp} (or call it directly in tests).
 * `HEAD` is never routed to `GET` handlers (httprouter does not): it answers 405.
 */
export class V1App {
  /** The underlying Hono app (routes are registered through {@linkcode V1App.route}). */
  readonly hono: Hono<Env> = new Hono<Env>();
  readonly #logger: Logger | undefined;
  readonly #routes: Route[] = [];

  constructor(opts: { logger?: Logger } = {}) {
    this.#logger = opts.logger;
    this.hono.notFound((c) => this.#fallback(c.req.raw, this.#path(c.req.raw)));
    this.hono.onError((err) => this.#internalError(err));
  }

  get(path: string, handler: V1Handler, opts?: RouteOptions): this {
    return this.route("GET", path, handler, opts);
  }
  post(path: string, handler: V1Handler, opts?: RouteOptions): this {
    return this.route("POST", path, handler, opts);
  }
  put(path: string, handler: V1Handler, opts?: RouteOptions): this {
    return this.route("PUT", path, handler, opts);
  }
  delete(path: string, handler: V1Handler, opts?: RouteOptions): this {
    return this.route("DELETE", path, handler, opts);
  }

  /** Registers `handler` for `method path`; `path` segments may be `:name` parameters. */
  route(method: string, path: string, handler: V1Handler, opts: RouteOptions = {}): this {
    if (!path.startsWith("/")) throw new TypeError(`Route path must begin with "/": ${path}`);
    if (method === "HEAD" || method === "OPTIONS") {
      throw new TypeError(`Route method ${method} is answered automatically`);
    }
    const segments = path.split("/");
    this.#routes.push({
      method,
      path,
      segments,
      hasParams: segments.some((s) => s.startsWith(":")),
    });
    const plain = opts.plainText === true;
    this.hono.on(method, path, async (c) => {
      const ctx = new V1Context(c, c.env?.remoteAddr ?? "");
      try {
        const data = await handler(ctx);
        if (data instanceof Response) return data;
        if (plain) return respondPlain(200, typeof data === "string" ? data : String(data ?? ""));
        return respondV1(200, data);
      } catch (err) {
        if (!(err instanceof HttpError)) return this.#internalError(err);
        return plain ? respondPlain(err.status, err.text) : respondV1(err.status, err.text);
      }
    });
    return this;
  }

  /**
   * Serves one request (a `Deno.ServeHandler`). Logs `<status> <METHOD> <uri> (<remote>)
   * <elapsed>` at info level like nsq's `http_api.Log`, except for redirects and OPTIONS.
   */
  readonly fetch = async (req: Request, info?: Deno.ServeHandlerInfo): Promise<Response> => {
    const start = performance.now();
    const remoteAddr = info ? formatAddr(info.remoteAddr) : "";
    const path = this.#path(req);
    let res: Response;
    let log = true;
    if (this.#match(req.method, path)) {
      res = await this.hono.fetch(req, { remoteAddr });
    } else {
      res = this.#fallback(req, path);
      log = res.status !== 301 && res.status !== 307 && req.method !== "OPTIONS";
    }
    if (log && this.#logger?.enabled("info")) {
      const url = req.url;
      const slash = url.indexOf("/", url.indexOf("//") + 2);
      const uri = slash < 0 ? "/" : url.slice(slash);
      this.#logger.info(
        `${res.status} ${req.method} ${uri} (${remoteAddr}) ${
          formatDuration(performance.now() - start)
        }`,
      );
    }
    return res;
  };

  /** The decoded URL path (httprouter routes on `req.URL.Path`, which Go decodes). */
  #path(req: Request): string {
    const url = req.url;
    const start = url.indexOf("/", url.indexOf("//") + 2);
    if (start < 0) return "/";
    let end = url.indexOf("?", start);
    if (end < 0) end = url.indexOf("#", start);
    const raw = end < 0 ? url.slice(start) : url.slice(start, end);
    if (!raw.includes("%")) return raw;
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }

  #match(method: string, path: string, caseInsensitive = false): Route | undefined {
    if (method === "HEAD") return undefined;
    const segs = path.split("/");
    return this.#routes.find((r) => r.method === method && matchSegments(r, segs, caseInsensitive));
  }

  /** httprouter's behaviour for a request no route matched. */
  #fallback(req: Request, path: string): Response {
    const method = req.method;
    if (method !== "CONNECT" && path !== "/" && this.#routes.some((r) => r.method === method)) {
      const code = method === "GET" ? 301 : 307;
      const toggled = path.endsWith("/") ? path.slice(0, -1) : path + "/";
      if (toggled !== "" && this.#match(method, toggled)) return redirect(req, toggled, code);
      const fixed = this.#fixPath(method, cleanPath(path));
      if (fixed !== null) return redirect(req, fixed, code);
    }
    const allowed = new Set<string>();
    const segs = path.split("/");
    for (const r of this.#routes) {
      if (r.method !== method && matchSegments(r, segs, false)) allowed.add(r.method);
    }
    if (allowed.size > 0) {
      allowed.add("OPTIONS");
      const allow = [...allowed].sort().join(", ");
      if (method === "OPTIONS") {
        return new Response(null, { status: 200, headers: { Allow: allow } });
      }
      const res = respondV1(405, "METHOD_NOT_ALLOWED");
      res.headers.set("Allow", allow);
      return res;
    }
    return respondV1(404, "NOT_FOUND");
  }

  /** httprouter's case-insensitive lookup (also trying the trailing-slash twin). */
  #fixPath(method: string, path: string): string | null {
    for (const candidate of [path, path.endsWith("/") ? path.slice(0, -1) : path + "/"]) {
      const segs = candidate.split("/");
      const r = this.#match(method, candidate, true);
      if (r) return r.segments.map((s, i) => s.startsWith(":") ? segs[i] : s).join("/");
    }
    return null;
  }

  #internalError(err: unknown): Response {
    const text = err instanceof Error ? err.message : String(err);
    this.#logger?.error(`panic in HTTP handler - ${text}`);
    return respondV1(500, "INTERNAL_ERROR");
  }
}

function matchSegments(r: Route, segs: string[], caseInsensitive: boolean): boolean {
  if (r.segments.length !== segs.length) return false;
  for (let i = 0; i < segs.length; i++) {
    const want = r.segments[i];
    const got = segs[i];
    if (want.startsWith(":")) {
      if (got === "") return false;
    } else if (caseInsensitive ? want.toLowerCase() !== got.toLowerCase() : want !== got) {
      return false;
    }
  }
  return true;
}

/** Go's `http.Redirect` to `path`, keeping the query string. */
function redirect(req: Request, path: string, status: number): Response {
  const q = req.url.indexOf("?");
  const location = q < 0 ? path : path + req.url.slice(q);
  const headers = new Headers({ Location: location });
  let body: string | null = null;
  if (req.method === "GET") {
    headers.set("Content-Type", "text/html; charset=utf-8");
    const text = status === 301 ? "Moved Permanently" : "Temporary Redirect";
    body = `<a href="${escapeHtml(location)}">${text}</a>.\n\n`;
  }
  return new Response(body, { status, headers });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Go's `path.Clean` as httprouter's `CleanPath` applies it (keeps a trailing slash). */
export function cleanPath(p: string): string {
  if (p === "") return "/";
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  let cleaned = "/" + out.join("/");
  if (p.length > 1 && p.endsWith("/") && cleaned !== "/") cleaned += "/";
  return cleaned;
}

// ---------------------------------------------------------------------------------------------
// Addresses and serving

/** A running HTTP server. */
export interface HttpServerHandle {
  /** The bound address, `"host:port"` (or the socket path). */
  readonly addr: string;
  /** The bound port (-1 for a unix socket). */
  readonly port: number;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops accepting, lets in-flight requests finish, closes idle connections; idempotent. */
  close(): Promise<void>;
}

/** Options for {@linkcode serveHttp}. */
export interface ServeHttpOptions {
  /** Aborting closes the server (like calling `close()`). */
  signal?: AbortSignal;
  /** Logs `<name>: listening on <addr>` and `<name>: closing <addr>` (nsq's `http_api.Serve`). */
  logger?: Logger;
  /** Listener name in those log lines (default `"HTTP"`). */
  name?: string;
}

/**
 * Serves `handler` on `address`: `"host:port"` (port 0 picks a free port; an empty host means
 * all interfaces) or, when it contains a `/`, a unix socket path. Binds synchronously and throws
 * when the address cannot be bound.
 */
export function serveHttp(
  address: string,
  handler: Deno.ServeHandler,
  opts: ServeHttpOptions = {},
): HttpServerHandle {
  const name = opts.name ?? "HTTP";
  const common = {
    onListen() {},
    onError(err: unknown) {
      opts.logger?.error(`${name}: unhandled error - ${err}`);
      return respondV1(500, "INTERNAL_ERROR");
    },
  };
  let server: Deno.HttpServer<Deno.Addr>;
  if (address.includes("/")) {
    server = Deno.serve({ ...common, transport: "unix", path: address }, handler);
  } else {
    const { hostname, port } = splitHostPort(address);
    server = Deno.serve({ ...common, hostname: hostname || "0.0.0.0", port }, handler);
  }
  const addr = formatAddr(server.addr);
  const port = server.addr.transport === "tcp" ? server.addr.port : -1;
  opts.logger?.info(`${name}: listening on ${addr}`);

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      opts.signal?.removeEventListener("abort", onAbort);
      await server.shutdown();
      await server.finished;
      opts.logger?.info(`${name}: closing ${addr}`);
    })();
    return closing;
  };
  const onAbort = () => {
    close().catch((err) => opts.logger?.error(`${name}: close failed - ${err}`));
  };
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });
  return { addr, port, finished: server.finished, close };
}
