/**
 * The HTTP client side shared by nsqadmin and the tools when they query nsqd/nsqlookupd (nsq's
 * internal/http_api/api_request.go): requests send `Accept: application/vnd.nsq; version=1.0`
 * so nsqd/nsqlookupd answer with bare JSON, are bounded by one deadline, and fail with errors in
 * the words of Go's net/http client (`Get "<url>": dial tcp ...: connect: connection refused`,
 * `got response 404 Not Found "..."`). {@linkcode settleAll} is the fan-out both callers build
 * their "failed to query any ..." errors on.
 *
 * @module
 */

/** The Accept header nsq's http_api GETV1/POSTV1 send. */
export const NSQ_V1_ACCEPT = "application/vnd.nsq; version=1.0";

/** How one request is made: its deadline (ms) and optionally the client (TLS settings). */
export interface NsqRequestOptions {
  timeout: number;
  client?: Deno.HttpClient;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

/** A fetch failure in words close to Go's net/http errors (without the `Get "<url>": ` prefix). */
export function describeFetchError(e: unknown, url: string): string {
  const cause = e instanceof Error && e.cause !== undefined ? ` ${e.cause}` : "";
  const msg = (e instanceof Error ? e.message : String(e)) + cause;
  let host = url;
  try {
    host = new URL(url).host;
  } catch { /* keep the url */ }
  if (e instanceof DOMException && (e.name === "TimeoutError" || e.name === "AbortError")) {
    return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";
  }
  if (/refused/i.test(msg)) return `dial tcp ${host}: connect: connection refused`;
  if (/reset/i.test(msg)) return `read tcp ${host}: read: connection reset by peer`;
  if (/dns|lookup|resolve/i.test(msg)) return `dial tcp: lookup ${host}: no such host`;
  return e instanceof Error && e.cause instanceof Error ? e.cause.message : msg;
}

/**
 * Sends `method` to `url` as nsq's http_api does and returns the 200 response; any other status
 * throws `got response <code> <text> "<body>"`, a transport failure `Get "<url>": <why>`.
 */
export async function nsqRequest(
  method: "GET" | "POST",
  url: string,
  opts: NsqRequestOptions,
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { Accept: NSQ_V1_ACCEPT },
      signal: AbortSignal.timeout(opts.timeout),
      client: opts.client,
    });
  } catch (e) {
    const verb = method === "GET" ? "Get" : "Post";
    throw new Error(`${verb} ${JSON.stringify(url)}: ${describeFetchError(e, url)}`);
  }
  if (res.status !== 200) {
    const body = await res.text().catch(() => "");
    const text = res.statusText || STATUS_TEXT[res.status] || "";
    throw new Error(`got response ${res.status} ${text} ${JSON.stringify(body)}`);
  }
  return res;
}

/**
 * GET `url` as nsq's http_api GETV1: the parsed JSON of a 200 answer. An nsqd/nsqlookupd that
 * ignored the Accept header wraps its answer in `{"status_code":...,"data":...}`: unwrapped.
 */
export async function nsqGetV1<T>(url: string, opts: NsqRequestOptions): Promise<T> {
  const res = await nsqRequest("GET", url, opts);
  let parsed: unknown = JSON.parse(await res.text());
  if (
    parsed !== null && typeof parsed === "object" && "data" in parsed && "status_code" in parsed
  ) {
    parsed = (parsed as { data: unknown }).data;
  }
  return parsed as T;
}

/** Runs `fn` on every address concurrently: the answers, and the failures as Errors. */
export async function settleAll<R>(
  addrs: readonly string[],
  fn: (addr: string) => Promise<R>,
): Promise<{ results: R[]; errors: Error[] }> {
  const settled = await Promise.allSettled(addrs.map(fn));
  const results: R[] = [];
  const errors: Error[] = [];
  for (const s of settled) {
    if (s.status === "fulfilled") results.push(s.value);
    else errors.push(s.reason instanceof Error ? s.reason : new Error(String(s.reason)));
  }
  return { results, errors };
}
