/**
 * Admin-action notifications (nsq's nsqadmin/notify.go): every action is POSTed as JSON to
 * `--notification-http-endpoint`, in the background so a slow endpoint never delays the answer.
 */
import type { Logger } from "../internal/log.ts";
import { osHostname } from "../internal/options.ts";
import type { TaskGroup } from "../internal/task_group.ts";

/** The JSON body, field for field Go's AdminAction (empty optional fields left out). */
export interface AdminAction {
  action: string;
  topic: string;
  channel?: string;
  node?: string;
  timestamp: number;
  user?: string;
  remote_ip: string;
  user_agent: string;
  url: string;
  via: string;
}

/** The user of an `Authorization: Basic` header, or "" (Go's basicAuthUser). */
export function basicAuthUser(header: string | null): string {
  const parts = (header ?? "").split(" ");
  if (parts.length < 2 || parts[0] !== "Basic") return "";
  let decoded: string;
  try {
    decoded = atob(parts.slice(1).join(" "));
  } catch {
    return "";
  }
  const colon = decoded.indexOf(":");
  return colon < 0 ? "" : decoded.slice(0, colon);
}

/** Builds the action for `req` as Go does (the URL rebuilt from Host, path and query). */
export function adminAction(
  action: string,
  topic: string,
  channel: string,
  node: string,
  req: Request,
  remoteAddr: string,
): AdminAction {
  const u = new URL(req.url);
  const https = u.protocol === "https:" || req.headers.get("X-Scheme") === "https";
  const host = req.headers.get("Host") ?? u.host;
  const a: AdminAction = {
    action,
    topic,
    timestamp: Math.floor(Date.now() / 1000),
    remote_ip: remoteAddr,
    user_agent: req.headers.get("User-Agent") ?? "",
    url: `${https ? "https" : "http"}://${host}${u.pathname}${u.search}`,
    via: osHostname(),
  };
  // Key order as Go's struct: action, topic, channel, node, timestamp, user, remote_ip ...
  const ordered: AdminAction = { action, topic } as AdminAction;
  if (channel !== "") ordered.channel = channel;
  if (node !== "") ordered.node = node;
  ordered.timestamp = a.timestamp;
  const user = basicAuthUser(req.headers.get("Authorization"));
  if (user !== "") ordered.user = user;
  ordered.remote_ip = a.remote_ip;
  ordered.user_agent = a.user_agent;
  ordered.url = a.url;
  ordered.via = a.via;
  return ordered;
}

/** Sends notifications on a task group; failures are logged, never thrown. */
export class Notifier {
  readonly #endpoint: () => string;
  readonly #timeout: () => number;
  readonly #logger: Logger;
  readonly #tasks: TaskGroup;

  constructor(endpoint: () => string, timeout: () => number, logger: Logger, tasks: TaskGroup) {
    this.#endpoint = endpoint;
    this.#timeout = timeout;
    this.#logger = logger;
    this.#tasks = tasks;
  }

  /** Queues a POST of `action` (no-op without an endpoint). */
  notify(action: AdminAction): void {
    const endpoint = this.#endpoint();
    if (endpoint === "") return;
    this.#tasks.spawn((async () => {
      this.#logger.info(`POSTing notification to ${endpoint}`);
      try {
        const res = await fetch(endpoint, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(action),
          signal: AbortSignal.timeout(this.#timeout()),
        });
        await res.body?.cancel();
      } catch (e) {
        this.#logger.error(`failed to POST notification - ${e instanceof Error ? e.message : e}`);
      }
    })());
  }
}
