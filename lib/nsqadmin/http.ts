/**
 * nsqadmin's HTTP server (nsq's nsqadmin/http.go): the JSON API under `/api`, `/config/:opt`,
 * `/ping`, the embedded assets under `/static`, and the HTML pages, all under `--base-path`.
 * Handlers parse input, call lib/nsqadmin/api.ts, and render.
 */
import { HttpError, V1App, type V1Context } from "../http/v1.ts";
import { parseLogLevel } from "../internal/log.ts";
import {
  apiChannel,
  apiCounter,
  apiCreateTopicChannel,
  apiDeleteChannel,
  apiDeleteTopic,
  apiNode,
  apiNodes,
  apiTombstone,
  apiTopic,
  apiTopicChannelAction,
  apiTopics,
  checkCreateBody,
  TOPIC_CHANNEL_ACTIONS,
  type TopicChannelAction,
} from "./api.ts";
import { isValidTopicName } from "../protocol/names.ts";
import { seriesKey } from "./history.ts";
import type { Nsqadmin } from "./nsqadmin.ts";
import { adminAction } from "./notify.ts";
import { cidrContains, nsqadminConfigValue, parseCidr, parseIp } from "./options.ts";
import { ASSETS } from "./assets.ts";
import { renderPage } from "./pages.ts";

/** Whether the request may act (Go's isAuthorizedAdminRequest). */
export function isAdminRequest(admin: Nsqadmin, req: Request): boolean {
  const { adminUsers, aclHttpHeader } = admin.opts();
  if (adminUsers.length === 0) return true;
  const user = req.headers.get(aclHttpHeader) ?? "";
  return adminUsers.includes(user);
}

function requireAdmin(admin: Nsqadmin, c: V1Context): void {
  if (!isAdminRequest(admin, c.request)) throw new HttpError(403, "FORBIDDEN");
}

/**
 * The JSON body, decoded like Go's `json.NewDecoder(body).Decode(&v)`: an empty body is `EOF`,
 * malformed JSON a Go-worded syntax error, a non-string where a string field is expected a
 * Go-worded type error. Throws `HttpError(400, <that text>)`, or `badBody` when given.
 */
export async function decodeBody(
  req: Request,
  stringFields: readonly string[],
  badBody?: string,
): Promise<Record<string, unknown>> {
  const goType = `struct { ${
    stringFields.map((f) => `${f[0].toUpperCase()}${f.slice(1)} string "json:\\"${f}\\""`)
      .join("; ")
  } }`;
  const text = (await req.text()).trim();
  const fail = (msg: string) => new HttpError(400, badBody ?? msg);
  if (text === "") throw fail("EOF");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    const first = text[0];
    if (!'{["tfn-0123456789'.includes(first)) {
      throw fail(`invalid character '${first}' looking for beginning of value`);
    }
    throw fail("unexpected EOF");
  }
  if (v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) {
    const kind = Array.isArray(v) ? "array" : typeof v === "string" ? "string" : typeof v;
    throw fail(`json: cannot unmarshal ${kind} into Go value of type ${goType}`);
  }
  const obj = v as Record<string, unknown>;
  for (const f of stringFields) {
    const x = obj[f];
    if (x !== undefined && x !== null && typeof x !== "string") {
      const kind = Array.isArray(x) ? "array" : typeof x === "object" ? "object" : typeof x;
      throw fail(`json: cannot unmarshal ${kind} into Go struct field .${f} of type string`);
    }
  }
  return obj;
}

function notify(
  admin: Nsqadmin,
  c: V1Context,
  action: string,
  topic: string,
  channel = "",
  node = "",
): void {
  const remoteIp = c.remoteAddr;
  admin.notifier.notify(adminAction(action, topic, channel, node, c.request, remoteIp));
}

/** Builds the Hono app serving nsqadmin's routes. */
export function newAdminHttpApp(admin: Nsqadmin): V1App {
  const app = new V1App({ logger: admin.logger });
  const base = admin.opts().basePath;
  const bp = (p: string) => base === "/" ? p : p === "/" ? base : base + p;

  app.get(bp("/ping"), () => "OK", { plainText: true });

  // Pages (server-rendered HTML).
  const page = (name: Parameters<typeof renderPage>[1]) => (c: V1Context) =>
    renderPage(admin, name, c, isAdminRequest(admin, c.request));
  app.get(bp("/"), page("topics"));
  app.get(bp("/topics"), page("topics"));
  app.get(bp("/topics/:topic"), page("topic"));
  app.get(bp("/topics/:topic/:channel"), page("channel"));
  app.get(bp("/nodes"), page("nodes"));
  app.get(bp("/nodes/:node"), page("node"));
  app.get(bp("/counter"), page("counter"));
  app.get(bp("/lookup"), page("lookup"));

  const asset = (c: V1Context) => {
    const a = ASSETS[c.param("asset")];
    if (a === undefined) throw new HttpError(404, "NOT_FOUND");
    return new Response(a.body, {
      headers: { "Content-Type": a.type, "Cache-Control": "max-age=300" },
    });
  };
  app.get(bp("/static/:asset"), asset, { plainText: true });
  app.get(bp("/fonts/:asset"), asset, { plainText: true });

  if (admin.opts().proxyGraphite) {
    app.get(bp("/render"), async (c) => {
      const target = new URL(admin.opts().graphiteUrl);
      const url = new URL(c.request.url);
      const upstream = `${target.origin}${url.pathname}${url.search}`;
      const headers = new Headers();
      if (target.username !== "") {
        headers.set(
          "Authorization",
          "Basic " +
            btoa(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`),
        );
      }
      try {
        const res = await fetch(upstream, {
          headers,
          signal: AbortSignal.timeout(
            admin.opts().httpClientConnectTimeout + admin.opts().httpClientRequestTimeout,
          ),
        });
        return new Response(res.body, { status: res.status, headers: res.headers });
      } catch {
        return new Response(null, { status: 502 });
      }
    });
  }

  // The JSON API.
  app.get(bp("/api/topics"), (c) => apiTopics(admin, c.query().get("inactive") === "true"));
  app.get(bp("/api/topics/:topic"), (c) => apiTopic(admin, c.param("topic")));
  app.get(
    bp("/api/topics/:topic/:channel"),
    (c) => apiChannel(admin, c.param("topic"), c.param("channel")),
  );
  app.get(bp("/api/nodes"), () => apiNodes(admin));
  app.get(bp("/api/nodes/:node"), (c) => apiNode(admin, c.param("node")));

  app.post(bp("/api/topics"), async (c) => {
    requireAdmin(admin, c);
    const { topic, channel } = checkCreateBody(
      await decodeBody(c.request, ["topic", "channel"]),
    );
    const answer = await apiCreateTopicChannel(admin, topic, channel);
    notify(admin, c, "create_topic", topic);
    if (channel !== "") notify(admin, c, "create_channel", topic, channel);
    return answer;
  });

  const topicChannelAction = async (c: V1Context, topic: string, channel: string) => {
    requireAdmin(admin, c);
    const body = await decodeBody(c.request, ["action"]);
    const action = body.action;
    if (!TOPIC_CHANNEL_ACTIONS.includes(action as TopicChannelAction)) {
      throw new HttpError(400, "INVALID_ACTION");
    }
    const answer = await apiTopicChannelAction(
      admin,
      action as TopicChannelAction,
      topic,
      channel,
    );
    notify(admin, c, `${action}_${channel !== "" ? "channel" : "topic"}`, topic, channel);
    return answer;
  };
  app.post(bp("/api/topics/:topic"), (c) => topicChannelAction(c, c.param("topic"), ""));
  app.post(
    bp("/api/topics/:topic/:channel"),
    (c) => topicChannelAction(c, c.param("topic"), c.param("channel")),
  );

  app.delete(bp("/api/nodes/:node"), async (c) => {
    requireAdmin(admin, c);
    const body = await decodeBody(c.request, ["topic"], "INVALID_BODY");
    const topic = typeof body.topic === "string" ? body.topic : "";
    if (!isValidTopicName(topic)) throw new HttpError(400, "INVALID_TOPIC");
    const node = c.param("node");
    const answer = await apiTombstone(admin, topic, node);
    notify(admin, c, "tombstone_topic_producer", topic, "", node);
    return answer;
  });
  app.delete(bp("/api/topics/:topic"), async (c) => {
    requireAdmin(admin, c);
    const topic = c.param("topic");
    const answer = await apiDeleteTopic(admin, topic);
    notify(admin, c, "delete_topic", topic);
    return answer;
  });
  app.delete(bp("/api/topics/:topic/:channel"), async (c) => {
    requireAdmin(admin, c);
    const topic = c.param("topic");
    const channel = c.param("channel");
    const answer = await apiDeleteChannel(admin, topic, channel);
    notify(admin, c, "delete_channel", topic, channel);
    return answer;
  });

  app.get(bp("/api/counter"), () => apiCounter(admin));
  app.get(bp("/api/graphite"), (c) => graphite(admin, c));

  // Beyond Go: the sampled history of a topic or channel, for scripts and the charts.
  app.get(bp("/api/history"), (c) => {
    const q = c.query();
    const key = seriesKey(q.get("topic") ?? "", q.get("channel") ?? "");
    return {
      interval: admin.opts().historyInterval,
      window: admin.opts().historyWindow,
      points: admin.history.points(key),
      rates: admin.history.rates(key),
    };
  });

  const config = async (c: V1Context) => {
    const cidr = admin.opts().allowConfigFromCidr;
    if (cidr !== "") {
      const net = parseCidr(cidr)!;
      const colon = c.remoteAddr.lastIndexOf(":");
      const host = colon < 0 ? "" : c.remoteAddr.slice(0, colon).replace(/^\[|\]$/g, "");
      const ip = parseIp(host);
      if (ip === undefined) {
        admin.logger.error(`failed to parse RemoteAddr ${c.remoteAddr}`);
        throw new HttpError(400, "INVALID_REMOTE_ADDR");
      }
      if (!cidrContains(net, ip)) throw new HttpError(403, "FORBIDDEN");
    }
    const opt = c.param("opt");
    if (c.request.method === "PUT") {
      const bytes = new Uint8Array(await c.request.arrayBuffer());
      if (bytes.length === 0 || bytes.length > 1024 * 1024) {
        throw new HttpError(413, "INVALID_VALUE");
      }
      const text = new TextDecoder().decode(bytes);
      const opts = { ...admin.opts() };
      if (opt === "nsqlookupd_http_addresses") {
        let v: unknown;
        try {
          v = JSON.parse(text);
        } catch {
          throw new HttpError(400, "INVALID_VALUE");
        }
        if (v !== null && !(Array.isArray(v) && v.every((x) => typeof x === "string"))) {
          throw new HttpError(400, "INVALID_VALUE");
        }
        opts.nsqlookupdHttpAddresses = (v as string[] | null) ?? [];
      } else if (opt === "log_level") {
        try {
          opts.logLevel = parseLogLevel(text);
        } catch {
          throw new HttpError(400, "INVALID_VALUE");
        }
      } else {
        throw new HttpError(400, "INVALID_OPTION");
      }
      admin.swapOpts(opts);
    }
    const v = nsqadminConfigValue(admin.opts(), opt);
    if (v === undefined) throw new HttpError(400, "INVALID_OPTION");
    return v;
  };
  app.get(bp("/config/:opt"), config);
  app.put(bp("/config/:opt"), config);
  return app;
}

/** GET /api/graphite?metric=rate&target=...: the rate graphite reports (Go's graphiteHandler). */
async function graphite(admin: Nsqadmin, c: V1Context): Promise<{ rate: string }> {
  let q;
  try {
    q = c.query();
  } catch {
    throw new HttpError(400, "INVALID_REQUEST");
  }
  if (q.get("metric") !== "rate") throw new HttpError(400, "INVALID_ARG_METRIC");
  const target = q.get("target");
  if (target === undefined) throw new HttpError(400, "INVALID_ARG_TARGET");
  const o = admin.opts();
  const interval = Math.floor(o.statsdInterval / 1000);
  const params = new URLSearchParams({
    format: "json",
    from: `-${interval * 2}sec`,
    target,
    until: `-${interval}sec`,
  });
  const url = `${o.graphiteUrl}/render?${params}`;
  admin.logger.info(`GRAPHITE: ${url}`);
  try {
    const resp = await admin.ci.getV1<{ target: string; datapoints: (number | null)[][] }[]>(url);
    const rate = resp[0].datapoints[0][0] ?? 0;
    return { rate: rate < 0 ? "N/A" : (rate / interval).toFixed(2) };
  } catch (e) {
    admin.logger.error(`graphite request failed - ${e instanceof Error ? e.message : e}`);
    throw new HttpError(500, "INTERNAL_ERROR");
  }
}
