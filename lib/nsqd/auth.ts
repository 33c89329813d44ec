/**
 * Client for nsqd's external auth servers (`--auth-http-address`, docs/nsqd.md#auth; nsq's
 * internal/auth/authorizations.go).
 *
 * On AUTH, nsqd asks an auth server what the connection's secret grants:
 * `GET <url>?common_name=..&remote_ip=..&secret=..&tls=..` with
 * `Accept: application/vnd.nsq; version=1.0`, where `<url>` is the address itself if it contains
 * `://` and `http://<addr>/auth` otherwise. With several servers it starts at a random one and
 * tries each in turn until one answers acceptably. The answer
 * `{"ttl", "identity", "identity_url", "authorizations": [{"topic", "channels", "permissions"}]}`
 * must have `ttl > 0`, only `subscribe` / `publish` permissions and regexes that compile.
 *
 * Errors are plain `Error`s whose message says what failed; nsqd answers any of them with
 * `E_AUTH_FAILED AUTH failed` and logs the message.
 *
 * @module
 */

/** What nsqd tells the auth server about the connection. */
export interface AuthParams {
  /** Client IP ("" for unix sockets). */
  remoteIp: string;
  /** Whether the connection upgraded to TLS. */
  tls: boolean;
  /** The AUTH body. */
  secret: string;
  /** Common name of the client's TLS certificate ("" if none). */
  commonName: string;
}

/** HTTP client settings for auth queries (nsqd's `--http-client-*` and `--tls-root-ca-file`). */
export interface AuthQueryOptions {
  /**
   * `--http-client-connect-timeout`. fetch cannot time the connect phase separately, so the
   * whole request, connect included, is bounded by `requestTimeoutMs` (Go's
   * `http.Client.Timeout`); this is the deadline only when `requestTimeoutMs` is 0.
   */
  connectTimeoutMs: number;
  /** `--http-client-request-timeout`: deadline for the whole request, body included. */
  requestTimeoutMs: number;
  /** `--tls-root-ca-file`: PEM roots for `https://` auth servers, in addition to the system's. */
  caFile?: string;
  /** `--auth-http-request-method` ([master-only] `post`); default `get`. */
  method?: "get" | "post";
}

/** One entry of an auth server's `authorizations`. */
export interface Authorization {
  /** Regex (unanchored search) over topic names. */
  topic: string;
  /** Regexes over channel names; publishing checks the channel "". */
  channels: string[];
  permissions: ("subscribe" | "publish")[];
}

interface CompiledAuthorization {
  topic: RegExp;
  channels: RegExp[];
  subscribe: boolean;
  publish: boolean;
}

/** The auth server's answer for one connection, valid until `expiresAt`. */
export class AuthState {
  readonly identity: string;
  readonly identityUrl: string;
  readonly ttlSeconds: number;
  /** Expiry, in ms since the epoch (the query's time + ttl). */
  readonly expiresAt: number;
  readonly authorizations: readonly Authorization[];
  readonly #compiled: CompiledAuthorization[];

  /**
   * Validates a decoded response body like nsqd does and compiles its regexes.
   * Throws Error naming the first problem.
   */
  constructor(response: unknown, now = Date.now()) {
    const body = decodeState(response);
    this.#compiled = body.authorizations.map((a) => {
      for (const p of a.permissions) {
        if (p !== "subscribe" && p !== "publish") throw new Error(`unknown permission ${p}`);
      }
      return {
        topic: compileGoRegexp(a.topic, "topic"),
        channels: a.channels.map((c) => compileGoRegexp(c, "channel")),
        subscribe: a.permissions.includes("subscribe"),
        publish: a.permissions.includes("publish"),
      };
    });
    if (!(body.ttl > 0)) throw new Error(`invalid TTL ${body.ttl} (must be >0)`);
    this.identity = body.identity;
    this.identityUrl = body.identity_url;
    this.ttlSeconds = body.ttl;
    this.expiresAt = now + body.ttl * 1000;
    this.authorizations = body.authorizations as Authorization[];
  }

  /** Number of authorizations, reported as `permission_count` in the AUTH response. */
  get permissionCount(): number {
    return this.authorizations.length;
  }

  /** True once the TTL has passed; nsqd then queries the auth server again. */
  isExpired(now = Date.now()): boolean {
    return this.expiresAt < now;
  }

  /**
   * Whether some authorization grants `permission` on `topic` (and `channel`, for subscribe):
   * its topic regex and one of its channel regexes must match (unanchored). Publishing is
   * checked against the channel "", so it needs a channel regex that matches the empty string.
   */
  isAllowed(topic: string, channel: string, permission: "publish" | "subscribe"): boolean {
    const ch = permission === "publish" ? "" : channel;
    for (const a of this.#compiled) {
      if (permission === "publish" ? !a.publish : !a.subscribe) continue;
      if (!a.topic.test(topic)) continue;
      for (const re of a.channels) if (re.test(ch)) return true;
    }
    return false;
  }
}

/**
 * Queries the auth servers `addrs`, starting at a random one and trying each in turn until one
 * answers acceptably. Rejects with an Error listing every failure
 * (`failed to auth against <addr> - <reason>; ...`) if none does.
 */
export async function queryAuthd(
  addrs: string[],
  params: AuthParams,
  opts: AuthQueryOptions,
): Promise<AuthState> {
  if (addrs.length === 0) throw new Error("no auth servers configured");
  const start = Math.floor(Math.random() * addrs.length);
  let failures = "";
  for (let i = 0; i < addrs.length; i++) {
    const addr = addrs[(start + i) % addrs.length];
    try {
      return await queryOne(addr, params, opts);
    } catch (err) {
      const msg = `failed to auth against ${addr} - ${(err as Error).message}`;
      failures = failures ? `${failures}; ${msg}` : msg;
    }
  }
  throw new Error(failures);
}

async function queryOne(addr: string, p: AuthParams, opts: AuthQueryOptions): Promise<AuthState> {
  const values: [string, string][] = [
    ["common_name", p.commonName],
    ["remote_ip", p.remoteIp],
    ["secret", p.secret],
    ["tls", p.tls ? "true" : "false"],
  ];
  const base = addr.includes("://") ? addr : `http://${addr}/auth`;
  const post = opts.method === "post";
  let url = post ? base : `${base}?${values.map(([k, v]) => `${k}=${queryEscape(v)}`).join("&")}`;
  const init: RequestInit = {
    method: post ? "POST" : "GET",
    headers: post
      ? { "Accept": "application/vnd.nsq; version=1.0", "Content-Type": "application/json" }
      : { "Accept": "application/vnd.nsq; version=1.0" },
    body: post ? JSON.stringify(Object.fromEntries(values.map(([k, v]) => [k, [v]]))) : undefined,
    redirect: "follow",
  };
  const ca = opts.caFile ? await Deno.readTextFile(opts.caFile) : undefined;
  const client = ca ? Deno.createHttpClient({ caCerts: [ca] }) : undefined;
  const controller = new AbortController();
  const deadline = opts.requestTimeoutMs > 0 ? opts.requestTimeoutMs : opts.connectTimeoutMs;
  const timer = deadline > 0 ? setTimeout(() => controller.abort(), deadline) : undefined;
  try {
    for (let attempt = 0;; attempt++) {
      let status: number;
      let statusText: string;
      let text: string;
      try {
        const res = await fetch(url, { ...init, client, signal: controller.signal });
        status = res.status;
        statusText = res.statusText;
        text = await res.text();
      } catch (err) {
        if (controller.signal.aborted) throw new Error(`request timed out after ${deadline}ms`);
        throw new Error((err as Error).message);
      }
      if (status === 200) return new AuthState(parseJson(text));
      // Like nsq's http_api client: a 403 over http retries once over https on `https_port`.
      if (status === 403 && !url.startsWith("https") && attempt === 0) {
        url = httpsEndpoint(url, text);
        continue;
      }
      throw new Error(`got response ${status} ${statusText} ${JSON.stringify(text)}`);
    }
  } finally {
    clearTimeout(timer);
    client?.close();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`invalid JSON response: ${(err as Error).message}`);
  }
}

function httpsEndpoint(url: string, body: string): string {
  const resp = parseJson(body);
  const port = isObject(resp) ? field(resp, "https_port") : undefined;
  if (typeof port !== "number" || !Number.isInteger(port)) {
    throw new Error(`403 response without a valid https_port: ${JSON.stringify(body)}`);
  }
  const u = new URL(url);
  u.protocol = "https:";
  u.port = String(port);
  return u.toString();
}

/** Go's url.QueryEscape: keeps A-Z a-z 0-9 - _ . ~, spaces become '+'. */
function queryEscape(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]|%20/g,
    (c) => c === "%20" ? "+" : `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Go's encoding/json field lookup: exact key first, else a case-insensitive match. */
function field(o: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(o, name)) return o[name];
  for (const k of Object.keys(o)) if (k.toLowerCase() === name) return o[k];
  return undefined;
}

interface DecodedState {
  ttl: number;
  identity: string;
  identity_url: string;
  authorizations: Authorization[];
}

/**
 * Decodes a response body with Go's encoding/json rules for nsq's auth.State: unknown keys are
 * ignored, null leaves the zero value, a value of the wrong type is an error.
 */
function decodeState(v: unknown): DecodedState {
  if (v === null) v = {};
  if (!isObject(v)) throw new Error(`cannot decode ${jsonType(v)} into auth state`);
  const ttl = field(v, "ttl") ?? 0;
  if (typeof ttl !== "number" || !Number.isInteger(ttl)) {
    throw new Error(`cannot decode ${jsonType(ttl)} ${JSON.stringify(ttl)} into ttl (int)`);
  }
  const authorizations = field(v, "authorizations") ?? [];
  if (!Array.isArray(authorizations)) {
    throw new Error(`cannot decode ${jsonType(authorizations)} into authorizations (array)`);
  }
  return {
    ttl,
    identity: str(field(v, "identity"), "identity"),
    identity_url: str(field(v, "identity_url"), "identity_url"),
    authorizations: authorizations.map((a, i) => {
      if (a === null) a = {};
      if (!isObject(a)) throw new Error(`cannot decode ${jsonType(a)} into authorizations[${i}]`);
      return {
        topic: str(field(a, "topic"), `authorizations[${i}].topic`),
        channels: strings(field(a, "channels"), `authorizations[${i}].channels`),
        permissions: strings(field(a, "permissions"), `authorizations[${i}].permissions`) as (
          | "subscribe"
          | "publish"
        )[],
      };
    }),
  };
}

function str(v: unknown, name: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw new Error(`cannot decode ${jsonType(v)} into ${name} (string)`);
  return v;
}

function strings(v: unknown, name: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Error(`cannot decode ${jsonType(v)} into ${name} (array)`);
  return v.map((s, i) => str(s, `${name}[${i}]`));
}

function jsonType(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/**
 * Compiles a Go (RE2) regexp as a JavaScript RegExp. Translates what differs in common use:
 * leading flag groups like `(?i)`, `(?P<name>`, `\A` and `\z`; rejects what RE2 refuses
 * (lookaround, backreferences). Throws Error("unable to compile <what> ...").
 */
export function compileGoRegexp(src: string, what = "regexp"): RegExp {
  const fail = (why: string) =>
    new Error(`unable to compile ${what} ${JSON.stringify(src)} ${why}`);
  let flags = "";
  let body = src;
  const lead = /^\(\?([imsU]+)\)/.exec(body);
  if (lead) {
    if (lead[1].includes("U")) throw fail("ungreedy flag (?U) is not supported");
    flags = [...new Set(lead[1])].join("");
    body = body.slice(lead[0].length);
  }
  let out = "";
  let inClass = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === "\\") {
      const n = body[i + 1];
      if (n === undefined) throw fail("trailing backslash");
      if (!inClass && n >= "1" && n <= "9") throw fail("backreferences are not supported");
      if (!inClass && n === "A") out += "^";
      else if (!inClass && n === "z") out += "$(?![\\s\\S])";
      else out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      out += c;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      if (body[i + 1] === "^") out += body[++i];
      if (body[i + 1] === "]") out += body[++i];
      continue;
    }
    if (c === "(" && body[i + 1] === "?") {
      const rest = body.slice(i + 2);
      if (/^(=|!|<=|<!)/.test(rest)) throw fail("lookaround is not supported");
      if (rest.startsWith("P<")) {
        out += "(?<";
        i += 3;
        continue;
      }
    }
    out += c;
  }
  try {
    return new RegExp(out, flags);
  } catch (err) {
    throw fail((err as Error).message);
  }
}
