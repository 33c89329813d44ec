/**
 * The web UI (the pages of Go nsqadmin, rendered on the server): topics, topic, channel, nodes,
 * node, counter and lookup. Each page reads the same functions as the JSON API, so a number on a
 * page is the number the API answers. Actions are buttons the embedded script turns into API
 * calls after a confirmation. Every page renders its content inside `#content`, which the script
 * re-fetches to refresh the numbers without a reload.
 */
import { HttpError, type V1Context } from "../http/v1.ts";
import { NSQ_DENO_VERSION, NSQ_VERSION } from "../version.ts";
import {
  type AdminContext,
  apiChannel,
  apiCounter,
  apiNode,
  apiNodes,
  apiTopic,
  apiTopics,
} from "./api.ts";
import { type PeekMessage, producerHttpAddress, UpstreamError } from "./cluster_info.ts";
import { chart, type ChartPoint, sparkline } from "./charts.ts";
import { seriesKey } from "./history.ts";
import { commafy, durationText, type Html, html, nanoToHuman, percentLabel } from "./html.ts";
import type { Nsqadmin } from "./nsqadmin.ts";
import {
  addTopic,
  type ChannelStats,
  type ClientStats,
  type E2eAggregate,
  newTopicStats,
  type TopicStats,
} from "./stats.ts";

/** The pages nsqadmin serves. */
export type PageName = "topics" | "topic" | "channel" | "nodes" | "node" | "counter" | "lookup";

interface PageCtx {
  admin: Nsqadmin;
  /** What the API functions need, with the quiet cluster client. */
  api: AdminContext;
  c: V1Context;
  isAdmin: boolean;
  bp(p: string): string;
}

interface PageBody {
  title: string;
  crumbs: Html[];
  body: Html;
  status?: number;
}

/** Renders one page as an HTML response (errors become a page with the error, never a blank). */
export async function renderPage(
  admin: Nsqadmin,
  name: PageName,
  c: V1Context,
  isAdmin: boolean,
): Promise<Response> {
  const base = admin.opts().basePath;
  const ctx: PageCtx = {
    admin,
    api: { opts: () => admin.opts(), ci: admin.quietCi, logger: admin.logger },
    c,
    isAdmin,
    bp: (p) => base === "/" ? p : base + p,
  };
  let page: PageBody;
  try {
    page = await PAGES[name](ctx);
  } catch (e) {
    const status = e instanceof HttpError ? e.status : 500;
    const text = e instanceof HttpError ? e.text : e instanceof Error ? e.message : String(e);
    if (!(e instanceof HttpError)) admin.logger.error(`page ${name} failed - ${text}`);
    page = {
      title: "Error",
      crumbs: [],
      status,
      body: html`<div class="alert err"><b>${status}</b> ${text}</div>`,
    };
  }
  return new Response(layout(ctx, name, page).text, {
    status: page.status ?? 200,
    headers: { "Content-Type": "text/html; charset=utf-8" },
  });
}

function layout(ctx: PageCtx, name: PageName, page: PageBody): Html {
  const o = ctx.admin.opts();
  const nav = (href: string, label: string, on: boolean) =>
    html`<a href="${ctx.bp(href)}" class="${on ? "on" : ""}">${label}</a>`;
  const source = o.nsqlookupdHttpAddresses.length > 0
    ? `lookupd ${o.nsqlookupdHttpAddresses.join(", ")}`
    : `nsqd ${o.nsqdHttpAddresses.join(", ")}`;
  const crumbs = page.crumbs.length === 0
    ? html``
    : html`<div class="crumbs">${page.crumbs.map((c) => html`<span>${c}</span>`)}</div>`;
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${page.title} · nsqadmin</title>
        <link rel="stylesheet" href="${ctx.bp("/static/nsqadmin.css")}">
      </head>
      <body data-refresh="${o.uiRefreshInterval}" data-page="${name}">
        <header
          class="bar"><a class="brand" href="${ctx.bp(
            "/",
          )}">nsqadmin<small title="nsq-deno ${NSQ_DENO_VERSION}">v${NSQ_VERSION}</small></a>
    <nav>${nav(
      "/topics",
      "Topics",
      name === "topics" || name === "topic" || name === "channel",
    )}${nav("/nodes", "Nodes", name === "nodes" || name === "node")}${nav(
      "/counter",
      "Counter",
      name === "counter",
    )}${nav("/lookup", "Lookup", name === "lookup")}</nav>
    <div class="right"><span class="mono" title="where nsqadmin discovers the cluster">${source}</span>
    <span id="updated"></span><label><input type="checkbox" id="autorefresh" checked> auto-refresh</label></div></header>
        <main>${crumbs}<div id="flash"></div><div id="content">${page.body}</div></main>
        <script src="${ctx.bp("/static/nsqadmin.js")}"></script>
      </body>
    </html>
  `;
}

const PAGES: Record<PageName, (ctx: PageCtx) => Promise<PageBody>> = {
  topics: topicsPage,
  topic: topicPage,
  channel: channelPage,
  nodes: nodesPage,
  node: nodePage,
  counter: counterPage,
  lookup: lookupPage,
};

// ---------------------------------------------------------------------------------------------
// Pieces

function warn(message: string): Html {
  return message === "" ? html`` : html`<div class="alert warn">${message}</div>`;
}

function num(n: number | undefined, stat: string): Html {
  return html`<td class="num" data-stat="${stat}">${n === undefined ? "–" : commafy(n)}</td>`;
}

function card(label: string, value: string, stat: string): Html {
  return html`
    <div class="card">
      <div class="k">${label}</div>
      <div class="v" data-stat="${stat}">${value}</div>
    </div>
  `;
}

function rateText(r: number | undefined): string {
  if (r === undefined) return "–";
  return r >= 100 ? `${commafy(r)}/s` : `${r.toFixed(r >= 10 ? 1 : 2)}/s`;
}

function topicHref(ctx: PageCtx, topic: string): string {
  return ctx.bp(`/topics/${encodeURIComponent(topic)}`);
}

function channelHref(ctx: PageCtx, topic: string, channel: string): string {
  return ctx.bp(`/topics/${encodeURIComponent(topic)}/${encodeURIComponent(channel)}`);
}

function nodeHref(ctx: PageCtx, node: string): string {
  return ctx.bp(`/nodes/${encodeNode(node)}`);
}

/** A node address in a path: `host:port` keeps its colon, `[v6]` its brackets. */
function encodeNode(node: string): string {
  return encodeURIComponent(node).replace(/%3A/g, ":").replace(/%5B/g, "[").replace(/%5D/g, "]");
}

function apiHref(ctx: PageCtx, path: string): string {
  return ctx.bp(`/api${path}`);
}

function actionButton(
  label: string,
  cls: string,
  method: string,
  api: string,
  confirmText: string,
  body?: unknown,
  then?: string,
): Html {
  return html`
    <button class="${cls}" data-method="${method}" data-api="${api}"
      data-confirm="${confirmText}" data-body="${body === undefined
        ? ""
        : JSON.stringify(body)}" data-then="${then ?? ""}">${label}</button>
  `;
}

function ephemeralBadge(name: string): Html {
  return name.endsWith("#ephemeral")
    ? html`
      <span class="badge ephemeral">ephemeral</span>
    `
    : html``;
}

function pausedBadge(paused: boolean): Html {
  return paused
    ? html`
      <span class="badge paused">paused</span>
    `
    : html``;
}

function e2eHead(e2e: E2eAggregate | null): Html {
  return html`${
    (e2e?.percentiles ?? []).map((p) => html`<th class="num">p${percentLabel(p.quantile)}</th>`)
  }`;
}

function e2eCells(e2e: E2eAggregate | null, cols: number): Html {
  const ps = e2e?.percentiles ?? [];
  const cells = ps.map((p) =>
    html`<td class="num" title="min ${nanoToHuman(p.min)}, max ${nanoToHuman(p.max)}">${
      nanoToHuman(p.average)
    }</td>`
  );
  for (let i = ps.length; i < cols; i++) cells.push(html`<td></td>`);
  return html`${cells}`;
}

function ratePoints(ctx: PageCtx, key: string): ChartPoint[] {
  return ctx.admin.history.rates(key).map((r) => ({ t: r.t, v: r.rate }));
}

function depthPoints(ctx: PageCtx, key: string): ChartPoint[] {
  return ctx.admin.history.points(key).map((p) => ({ t: p.t, v: p.depth }));
}

function historyOn(ctx: PageCtx): boolean {
  return ctx.admin.opts().historyWindow > 0;
}

function nodeLabel(ctx: PageCtx, node: string, hostname: string): Html {
  const port = node.slice(node.lastIndexOf(":") + 1);
  const host = hostname !== "" ? `${hostname}:${port}` : node;
  return host === node
    ? html`<a href="${nodeHref(ctx, node)}">${node}</a>`
    : html`${host} <a class="muted" href="${nodeHref(ctx, node)}">(${node})</a>`;
}

function upstreamOrEmpty(e: unknown): boolean {
  return e instanceof HttpError && e.status === 502 &&
    e.text === "UPSTREAM_ERROR: failed to query any nsqd: ";
}

// ---------------------------------------------------------------------------------------------
// Topics

async function topicsPage(ctx: PageCtx): Promise<PageBody> {
  const o = ctx.admin.opts();
  const list = await apiTopics(ctx.api, false);
  const messages = list.message === "" ? [] : [list.message];
  const names = (list.topics as string[] | null) ?? [];
  const sums = new Map<string, TopicStats>();
  let nodeCount = 0;
  try {
    const producers = await ctx.api.ci.getProducers(
      o.nsqlookupdHttpAddresses,
      o.nsqdHttpAddresses,
    );
    nodeCount = producers.value.length;
    if (producers.value.length > 0) {
      const stats = await ctx.api.ci.getNsqdStats(producers.value, "", "", false);
      if (stats.errors.length > 0) messages.push(`WARNING: ${stats.errors.join("; ")}`);
      for (const t of stats.value.topics) {
        let agg = sums.get(t.topic_name);
        if (agg === undefined) {
          agg = newTopicStats(t.topic_name);
          sums.set(t.topic_name, agg);
        }
        addTopic(agg, t);
      }
    }
  } catch (e) {
    if (!(e instanceof UpstreamError)) throw e;
    messages.push(`WARNING: ${e.message}`);
  }
  const all = [...new Set([...names, ...sums.keys()])].sort();
  let depth = 0, count = 0, channels = 0;
  for (const t of sums.values()) {
    depth += t.depth;
    count += t.message_count;
    channels += t.channels?.length ?? 0;
  }
  const spark = historyOn(ctx);
  const rows = all.map((name) => {
    const t = sums.get(name);
    const key = seriesKey(name);
    return html`
      <tr
        data-topic="${name}"><td><a href="${topicHref(ctx, name)}">${name}</a>${ephemeralBadge(
          name,
        )}${pausedBadge(t?.paused ?? false)}${t === undefined
          ? html`
            <span class="badge">no producers</span>
          `
          : html``}</td>${num(
            t?.depth,
            "depth",
          )}<td class="num muted" data-stat="memory_backend">${t === undefined
          ? "–"
          : `${commafy(t.memory_depth)} + ${commafy(t.backend_depth)}`}</td>${num(
            t?.message_count,
            "message_count",
          )}${num(t?.channels?.length ?? 0, "channels")}${num(
            t?.nodes?.length ?? 0,
            "nodes",
          )}${spark
          ? html`
            <td class="num" data-stat="rate">${rateText(ctx.admin.history.lastRate(key))}</td>
            <td>${sparkline(ratePoints(ctx, key), `${name} rate`)}</td>
          `
          : html``}</tr>
    `;
  });
  const table = all.length === 0
    ? html`
      <div
        class="empty">No topics yet. Publish a message to an nsqd, or create a topic on the <a href="${ctx
          .bp("/lookup")}">Lookup</a> page.</div>
    `
    : html`
      <table>
        <thead>
          <tr><th>Topic</th><th class="num">Depth</th><th class="num">Memory + Disk</th><th class="num">Messages</th><th class="num">Channels</th><th class="num">Nodes</th>${spark
            ? html`
              <th class="num">Rate</th>
              <th>Last hour</th>
            `
            : html``}</tr>
        </thead>
        <tbody>${rows}</tbody>
      </table>
    `;
  return {
    title: "Topics",
    crumbs: [],
    body: html`
      ${messages.map(warn)}<h1>Topics</h1><div
        class="cards">${card("Topics", commafy(all.length), "topics")}${card(
          "Channels",
          commafy(channels),
          "channels",
        )}${card("Nodes", commafy(nodeCount), "nodes")}${card(
          "Depth",
          commafy(depth),
          "depth",
        )}${card("Messages", commafy(count), "message_count")}</div><div
        class="panel">${table}</div>
    `,
  };
}

// ---------------------------------------------------------------------------------------------
// Topic

function noProducers(ctx: PageCtx, what: string): Html {
  return html`
    <div
      class="alert warn"><b>Notice</b> No producers exist for this ${what}. See <a href="${ctx.bp(
        "/lookup",
      )}">Lookup</a> for more information.</div>
  `;
}

async function topicPage(ctx: PageCtx): Promise<PageBody> {
  const topic = ctx.c.param("topic");
  const crumbs = [html`<a href="${ctx.bp("/topics")}">Topics</a>`, html`${topic}`];
  let t;
  try {
    t = await apiTopic(ctx.api, topic);
  } catch (e) {
    if (!upstreamOrEmpty(e)) throw e;
    return {
      title: topic,
      crumbs,
      body: html`<h1><span class="kind">Topic</span>${topic}</h1>${noProducers(ctx, "topic")}`,
    };
  }
  const key = seriesKey(topic);
  const api = apiHref(ctx, `/topics/${encodeURIComponent(topic)}`);
  const actions = ctx.isAdmin
    ? html`<div class="actions">${
      t.paused
        ? actionButton("Unpause Topic", "primary", "POST", api, `Unpause topic ${topic}?`, {
          action: "unpause",
        })
        : actionButton(
          "Pause Topic",
          "",
          "POST",
          api,
          `Pause topic ${topic}? Messages stop flowing to its channels.`,
          {
            action: "pause",
          },
        )
    }${
      actionButton(
        "Empty Queue",
        "",
        "POST",
        api,
        `Empty topic ${topic}? Its queued messages are dropped.`,
        {
          action: "empty",
        },
      )
    }${
      actionButton(
        "Delete Topic",
        "danger",
        "DELETE",
        api,
        `Delete topic ${topic} from every nsqd and lookupd? This cannot be undone.`,
        undefined,
        ctx.bp("/topics"),
      )
    }</div>`
    : html``;
  const e2eCols = t.e2e_processing_latency?.percentiles?.length ?? 0;
  // As in Go's topic page: tombstone one producer of the topic (lookupd mode, admins).
  const canTombstone = ctx.isAdmin && ctx.admin.opts().nsqlookupdHttpAddresses.length > 0;
  const tombstone = (node: string) =>
    canTombstone
      ? html`
        ${actionButton(
          "Tombstone",
          "small danger",
          "DELETE",
          apiHref(ctx, `/nodes/${encodeNode(node)}`),
          `Tombstone ${node} for topic ${topic}? The topic is deleted from this nsqd and lookupds stop returning it.`,
          { topic },
        )}
      `
      : html``;
  const nodeRows = (t.nodes ?? []).map((n) =>
    html`
      <tr
        data-node="${n.node}"><td>${nodeLabel(ctx, n.node, n.hostname)}${pausedBadge(
          n.paused,
        )}${tombstone(n.node)}</td>${num(n.depth, "depth")}<td class="num muted">${commafy(
          n.memory_depth,
        )} + ${commafy(
          n.backend_depth,
        )}</td>${num(n.message_count, "message_count")}${num(
          n.channels?.length ?? 0,
          "channels",
        )}${e2eCells(n.e2e_processing_latency, e2eCols)}</tr>
    `
  );
  // Beyond Go: messages waiting in the topic's own queue (a paused topic, or one without
  // channels), from nsqd that offer GET /topic/peek; shown only when there are some.
  const topicPeeks = await Promise.all(
    (t.nodes ?? []).map(async (n) => ({
      node: n.node,
      messages: n.depth > 0 ? await ctx.api.ci.peekTopic(n.node, topic, 10) : null,
    })),
  );
  const topicPeek = topicPeeks.some((p) => (p.messages?.length ?? 0) > 0)
    ? peekView(topicPeeks)
    : html``;
  const spark = historyOn(ctx);
  const chRows = (t.channels ?? []).map((ch) => {
    const k = seriesKey(topic, ch.channel_name);
    return html`
      <tr
        data-channel="${ch.channel_name}"><td><a href="${channelHref(
          ctx,
          topic,
          ch.channel_name,
        )}">${ch.channel_name}</a>${ephemeralBadge(ch.channel_name)}${pausedBadge(
          ch.paused,
        )}</td>${num(ch.depth, "depth")}<td class="num muted">${commafy(
          ch.memory_depth,
        )} + ${commafy(ch.backend_depth)}</td>${num(ch.in_flight_count, "in_flight_count")}${num(
          ch.deferred_count,
          "deferred_count",
        )}${num(ch.requeue_count, "requeue_count")}${num(ch.timeout_count, "timeout_count")}${num(
          ch.message_count,
          "message_count",
        )}${num(ch.client_count, "client_count")}${spark
          ? html`
            <td class="num" data-stat="rate">${rateText(ctx.admin.history.lastRate(k))}</td>
            <td>${sparkline(ratePoints(ctx, k), `${ch.channel_name} rate`)}</td>
          `
          : html``}</tr>
    `;
  });
  const charts = spark
    ? html`<div class="charts">${chart(ratePoints(ctx, key), "Publish rate", "msg/s")}${
      chart(depthPoints(ctx, key), "Depth", "msgs")
    }</div>`
    : html``;
  return {
    title: topic,
    crumbs,
    body: html`
      ${warn(t.message)}<h1><span class="kind">Topic</span>${topic}${ephemeralBadge(
        topic,
      )}${pausedBadge(t.paused)}</h1>${actions}${charts}<h2>Message queues by node</h2><div
        class="panel">
        <table>
          <thead>
            <tr><th>nsqd host</th><th class="num">Depth</th><th class="num">Memory + Disk</th><th class="num">Messages</th><th class="num">Channels</th>${e2eHead(
              t.e2e_processing_latency,
            )}</tr>
          </thead>
          <tbody>${nodeRows}<tr class="total" data-node="*"><td>Total</td>${num(
            t.depth,
            "depth",
          )}<td class="num">${commafy(t.memory_depth)} + ${commafy(t.backend_depth)}</td>${num(
            t.message_count,
            "message_count",
          )}${num(t.channels?.length ?? 0, "channels")}${e2eCells(
            t.e2e_processing_latency,
            e2eCols,
          )}</tr></tbody>
        </table>
      </div>${topicPeek}<h2>Channels</h2><div class="panel">${chRows.length === 0
        ? html`<div class="empty">This topic has no channels. A consumer creates one when it subscribes.</div>`
        : html`
          <table>
            <thead>
              <tr><th>Channel</th><th class="num">Depth</th><th class="num">Memory + Disk</th><th class="num">In-Flight</th><th class="num">Deferred</th><th class="num">Requeued</th><th class="num">Timed Out</th><th class="num">Messages</th><th class="num">Connections</th>${spark
                ? html`
                  <th class="num">Rate</th>
                  <th>Last hour</th>
                `
                : html``}</tr>
            </thead>
            <tbody>${chRows}</tbody>
          </table>
        `}</div>
    `,
  };
}

// ---------------------------------------------------------------------------------------------
// Channel

function clientAttributes(cl: ClientStats): Html {
  const tlsTitle = cl.tls_version !== ""
    ? `${cl.tls_version} ${cl.tls_cipher_suite} ${cl.tls_negotiated_protocol} mutual:${cl.tls_negotiated_protocol_is_mutual}`
    : "";
  return html`${
    cl.sample_rate > 0 ? html`<span class="badge">Sampled ${cl.sample_rate}%</span>` : ""
  }${cl.tls ? html`<span class="badge tls" title="${tlsTitle}">TLS</span>` : ""}${
    cl.deflate ? html`<span class="badge deflate">Deflate</span>` : ""
  }${cl.snappy ? html`<span class="badge snappy">Snappy</span>` : ""}${
    cl.authed
      ? html`<span class="badge auth" title="${cl.auth_identity}">${
        cl.auth_identity_url !== ""
          ? html`<a href="${cl.auth_identity_url}">Authed</a>`
          : html`Authed`
      }</span>`
      : ""
  }`;
}

function bodyPreview(b64: string): string {
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
  } catch {
    return "(not base64)";
  }
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, 400));
    return text.length > 200 ? text.slice(0, 200) + "…" : text;
  } catch {
    return `(${bytes.length} bytes, binary)`;
  }
}

/** The "Next messages" section, or nothing when no nsqd offers peek. */
function peekView(peeks: { node: string; messages: PeekMessage[] | null }[]): Html {
  const offered = peeks.filter((p) => p.messages !== null);
  if (offered.length === 0) return html``;
  const rows = offered.flatMap((p) =>
    p.messages!.map((m) =>
      html`
        <tr
          data-message="${m.id}"><td>${p.node}</td><td class="mono">${m
            .id}</td><td class="mono">${timestampText(m.timestamp)}</td>${num(
              m.attempts,
              "attempts",
            )}<td class="body mono">${bodyPreview(m.body_base64)}</td></tr>
      `
    )
  );
  return html`
    <h2>Next messages</h2>
    <div class="panel" id="peek">${rows.length === 0
      ? html`<div class="empty">No queued messages.</div>`
      : html`
        <table>
          <thead>
            <tr>
              <th>nsqd host</th>
              <th>ID</th>
              <th>Timestamp</th>
              <th class="num">Attempts</th>
              <th>Body</th>
            </tr>
          </thead>
          <tbody>${rows}</tbody>
        </table>
      `}</div>
  `;
}

function timestampText(ts: number): string {
  const ms = ts > 1e15 ? ts / 1e6 : ts > 1e12 ? ts : ts * 1000;
  const d = new Date(ms);
  return isNaN(d.getTime()) ? String(ts) : d.toISOString().replace("T", " ").slice(0, 23);
}

async function channelPage(ctx: PageCtx): Promise<PageBody> {
  const topic = ctx.c.param("topic");
  const channel = ctx.c.param("channel");
  const crumbs = [
    html`<a href="${ctx.bp("/topics")}">Topics</a>`,
    html`<a href="${topicHref(ctx, topic)}">${topic}</a>`,
    html`${channel}`,
  ];
  const h1 = (paused: boolean) =>
    html`<h1><span class="kind">Channel</span>${topic} / ${channel}${ephemeralBadge(channel)}${
      pausedBadge(paused)
    }</h1>`;
  let answer;
  try {
    answer = await apiChannel(ctx.api, topic, channel);
  } catch (e) {
    if (!upstreamOrEmpty(e)) throw e;
    return { title: channel, crumbs, body: html`${h1(false)}${noProducers(ctx, "topic/channel")}` };
  }
  if (!("channel_name" in answer)) {
    return {
      title: channel,
      crumbs,
      body: html`${warn(answer.message)}${h1(false)}${noProducers(ctx, "topic/channel")}`,
    };
  }
  const ch = answer as ChannelStats & { message: string };
  const key = seriesKey(topic, channel);
  const api = apiHref(ctx, `/topics/${encodeURIComponent(topic)}/${encodeURIComponent(channel)}`);
  const actions = ctx.isAdmin
    ? html`<div class="actions">${
      ch.paused
        ? actionButton("Unpause Channel", "primary", "POST", api, `Unpause channel ${channel}?`, {
          action: "unpause",
        })
        : actionButton(
          "Pause Channel",
          "",
          "POST",
          api,
          `Pause channel ${channel}? Consumers stop receiving messages.`,
          {
            action: "pause",
          },
        )
    }${
      actionButton(
        "Empty Queue",
        "",
        "POST",
        api,
        `Empty channel ${channel}? Its queued messages are dropped.`,
        {
          action: "empty",
        },
      )
    }${
      actionButton(
        "Delete Channel",
        "danger",
        "DELETE",
        api,
        `Delete channel ${channel} of ${topic}? This cannot be undone.`,
        undefined,
        topicHref(ctx, topic),
      )
    }</div>`
    : html``;
  const spark = historyOn(ctx);
  const charts = spark
    ? html`<div class="charts">${chart(ratePoints(ctx, key), "Message rate", "msg/s")}${
      chart(depthPoints(ctx, key), "Depth", "msgs")
    }${
      chart(
        ctx.admin.history.points(key).map((p) => ({ t: p.t, v: p.inFlight })),
        "In-flight",
        "msgs",
      )
    }</div>`
    : html``;
  const extras: Html[] = [];
  if (ch.max_attempts !== undefined) {
    extras.push(
      card(
        "Max attempts",
        ch.max_attempts === 0 ? "unlimited" : commafy(ch.max_attempts),
        "max_attempts",
      ),
    );
  }
  if (ch.dead_letter_topic !== undefined) {
    extras.push(
      html`
        <div class="card">
          <div class="k">Dead-letter topic</div>
          <div class="v" data-stat="dead_letter_topic">${ch.dead_letter_topic === ""
            ? "none"
            : html`<a href="${
              topicHref(ctx, ch.dead_letter_topic)
            }">${ch.dead_letter_topic}</a>`}</div>
        </div>
      `,
    );
  }
  if (ch.dead_letter_count !== undefined) {
    extras.push(card("Dead-lettered", commafy(ch.dead_letter_count), "dead_letter_count"));
  }
  const e2eCols = ch.e2e_processing_latency?.percentiles?.length ?? 0;
  const row = (n: ChannelStats, label: Html, cls: string, node: string) =>
    html`
      <tr class="${cls}"
        data-node="${node}"><td>${label}</td>${num(
          n.depth,
          "depth",
        )}<td class="num muted">${commafy(n.memory_depth)} + ${commafy(n.backend_depth)}</td>${num(
          n.in_flight_count,
          "in_flight_count",
        )}${num(n.deferred_count, "deferred_count")}${num(n.requeue_count, "requeue_count")}${num(
          n.timeout_count,
          "timeout_count",
        )}${num(n.message_count, "message_count")}${num(n.client_count, "client_count")}${e2eCells(
          n.e2e_processing_latency,
          e2eCols,
        )}</tr>
    `;
  const nodeRows = (ch.nodes ?? []).map((n) =>
    row(n, html`${nodeLabel(ctx, n.node, n.hostname)}${pausedBadge(n.paused)}`, "", n.node)
  );

  // Beyond Go: the next queued messages, from nsqd that offer GET /channel/peek.
  const peek = peekView(
    await Promise.all(
      (ch.nodes ?? []).map(async (n) => ({
        node: n.node,
        messages: await ctx.api.ci.peekChannel(n.node, topic, channel, 10),
      })),
    ),
  );

  const clients = ch.clients ?? [];
  const clientRows = clients.map((cl) => {
    const port = cl.remote_address.slice(cl.remote_address.lastIndexOf(":") + 1);
    return html`
      <tr
        data-client="${cl.remote_address}"><td title="${cl.remote_address}">${cl
          .hostname}:${port}${cl.client_id !== "" && cl.client_id !== cl.hostname
          ? html`
            <span class="muted">(${cl.client_id})</span>
          `
          : ""}</td><td class="muted">${cl
          .user_agent}</td><td data-stat="attributes">${clientAttributes(
            cl,
          )}</td><td><a href="${nodeHref(ctx, cl.node)}">${cl.node}</a></td>${num(
            cl.in_flight_count,
            "in_flight_count",
          )}${num(cl.ready_count, "ready_count")}${num(cl.finish_count, "finish_count")}${num(
            cl.requeue_count,
            "requeue_count",
          )}${num(cl.message_count, "message_count")}<td class="num">${durationText(
            cl.connected / 1e9,
          )}</td></tr>
    `;
  });
  return {
    title: `${topic}/${channel}`,
    crumbs,
    body: html`
      ${warn(ch.message)}${h1(ch.paused)}${actions}${extras.length > 0
        ? html`<div class="cards">${extras}</div>`
        : ""}${charts}<h2>Message queues by node</h2><div
        class="panel">
        <table>
          <thead>
            <tr><th>nsqd host</th><th class="num">Depth</th><th class="num">Memory + Disk</th><th class="num">In-Flight</th><th class="num">Deferred</th><th class="num">Requeued</th><th class="num">Timed Out</th><th class="num">Messages</th><th class="num">Connections</th>${e2eHead(
              ch.e2e_processing_latency,
            )}</tr>
          </thead>
          <tbody>${nodeRows}${row(ch, html`Total`, "total", "*")}</tbody>
        </table>
      </div>${peek}<h2>Client connections</h2><div class="panel">${clients.length === 0
        ? html`<div class="empty">No clients connected to this channel.</div>`
        : html`
          <table id="clients">
            <thead>
              <tr>
                <th>Client host</th>
                <th>User-Agent</th>
                <th>Attributes</th>
                <th>nsqd host</th>
                <th class="num">In-Flight</th>
                <th class="num">Ready</th>
                <th class="num">Finished</th>
                <th class="num">Requeued</th>
                <th class="num">Messages</th>
                <th class="num">Connected</th>
              </tr>
            </thead>
            <tbody>${clientRows}</tbody>
          </table>
        `}</div>
    `,
  };
}

// ---------------------------------------------------------------------------------------------
// Nodes

async function nodesPage(ctx: PageCtx): Promise<PageBody> {
  const answer = await apiNodes(ctx.api);
  const lookupds = ctx.admin.opts().nsqlookupdHttpAddresses.length;
  const nodes = answer.nodes ?? [];
  const rows = nodes.map((p) => {
    const http = producerHttpAddress(p);
    const conns = p.remote_addresses?.length ?? 0;
    const inconsistent = lookupds > 0 && conns !== lookupds;
    const topics = p.topics ?? [];
    return html`
      <tr
        data-node="${http}"><td><a href="${nodeHref(ctx, http)}">${p
          .hostname}</a></td><td class="mono">${p
          .broadcast_address}</td><td class="num mono" data-stat="tcp_port">${p
          .tcp_port}</td><td class="num mono" data-stat="http_port">${p.http_port}</td><td>${p
          .version}${p.out_of_date
          ? html`
            <span class="badge warn">out of date</span>
          `
          : ""}</td>${lookupds > 0
          ? html`<td class="num" title="${(p.remote_addresses ?? []).join("\n")}">${conns}${
            inconsistent
              ? html`
                <span class="badge warn">inconsistent</span>
              `
              : ""
          }</td>`
          : ""}${num(topics.length, "topics")}<td>${topics.map((t) =>
            html`<a class="badge${t.tombstoned ? " tomb" : ""}" href="${
              topicHref(ctx, t.topic)
            }" title="${t.tombstoned ? "tombstoned" : ""}">${t.topic}</a>`
          )}</td></tr>
    `;
  });
  return {
    title: "Nodes",
    crumbs: [],
    body: html`${warn(answer.message)}<h1>Nodes</h1><div class="panel">${
      nodes.length === 0 ? html`<div class="empty">No nsqd found.</div>` : html`
        <table>
          <thead>
            <tr><th>Hostname</th><th>Broadcast address</th><th class="num">TCP port</th><th class="num">HTTP port</th><th>Version</th>${lookupds >
                0
              ? html`<th class="num">Lookupd conns</th>`
              : ""}<th class="num">Topics</th><th></th></tr>
          </thead>
          <tbody>${rows}</tbody>
        </table>
      `
    }</div>`,
  };
}

async function nodePage(ctx: PageCtx): Promise<PageBody> {
  const node = ctx.c.param("node");
  const n = await apiNode(ctx.api, node);
  const topics = n.topics ?? [];
  const lookupds = ctx.admin.opts().nsqlookupdHttpAddresses.length > 0;
  let channelCount = 0;
  const rows = topics.flatMap((t) => {
    channelCount += t.channels?.length ?? 0;
    const tomb = ctx.isAdmin && lookupds
      ? actionButton(
        "Tombstone",
        "small danger",
        "DELETE",
        apiHref(ctx, `/nodes/${encodeNode(node)}`),
        `Tombstone ${node} for topic ${t.topic_name}? The topic is removed from this nsqd and lookupds stop returning it.`,
        { topic: t.topic_name },
      )
      : html``;
    const topicRow = html`
      <tr class="total"
        data-topic="${t.topic_name}"><td><a href="${topicHref(ctx, t.topic_name)}">${t
          .topic_name}</a>${pausedBadge(t.paused)}</td>${num(
            t.depth,
            "depth",
          )}<td class="num muted">${commafy(t.memory_depth)} + ${commafy(
            t.backend_depth,
          )}</td><td></td><td></td><td></td><td></td>${num(t.message_count, "message_count")}${num(
            t.channels?.length ?? 0,
            "channels",
          )}<td>${tomb}</td></tr>
    `;
    const chRows = (t.channels ?? []).map((c) =>
      html`
        <tr
          data-channel="${c.channel_name}"><td style="padding-left:26px"><a href="${channelHref(
            ctx,
            t.topic_name,
            c.channel_name,
          )}">${c.channel_name}</a>${pausedBadge(c.paused)}</td>${num(
            c.depth,
            "depth",
          )}<td class="num muted">${commafy(c.memory_depth)} + ${commafy(
            c.backend_depth,
          )}</td>${num(c.in_flight_count, "in_flight_count")}${num(
            c.deferred_count,
            "deferred_count",
          )}${num(c.requeue_count, "requeue_count")}${num(c.timeout_count, "timeout_count")}${num(
            c.message_count,
            "message_count",
          )}${num(c.clients?.length ?? 0, "clients")}<td></td></tr>
      `
    );
    return [topicRow, ...chRows];
  });
  return {
    title: node,
    crumbs: [html`<a href="${ctx.bp("/nodes")}">Nodes</a>`, html`${node}`],
    body: html`
      ${warn(n.message)}<h1><span class="kind">Node</span>${node}</h1><div
        class="cards">${card("Topics", commafy(topics.length), "topics")}${card(
          "Channels",
          commafy(channelCount),
          "channels",
        )}${card("Clients", commafy(n.total_clients), "total_clients")}${card(
          "Messages",
          commafy(n.total_messages),
          "total_messages",
        )}</div><div
        class="panel">${topics.length === 0
          ? html`<div class="empty">This nsqd has no topics.</div>`
          : html`
            <table>
              <thead>
                <tr>
                  <th>Topic / channel</th>
                  <th class="num">Depth</th>
                  <th class="num">Memory + Disk</th>
                  <th class="num">In-Flight</th>
                  <th class="num">Deferred</th>
                  <th class="num">Requeued</th>
                  <th class="num">Timed Out</th>
                  <th class="num">Messages</th>
                  <th class="num">Channels / clients</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>${rows}</tbody>
            </table>
          `}</div>
    `,
  };
}

// ---------------------------------------------------------------------------------------------
// Counter

async function counterPage(ctx: PageCtx): Promise<PageBody> {
  let answer;
  try {
    answer = await apiCounter(ctx.api);
  } catch (e) {
    // No nsqd at all: the API answers 502 as Go's does; the page says so plainly.
    if (!upstreamOrEmpty(e)) throw e;
    answer = { stats: {}, message: "" };
  }
  const rows = Object.values(answer.stats).sort((a, b) =>
    b.message_count - a.message_count ||
    `${a.topic_name}:${a.channel_name}:${a.node}`.localeCompare(
      `${b.topic_name}:${b.channel_name}:${b.node}`,
    )
  );
  const total = rows.reduce((s, r) => s + r.message_count, 0);
  // The cluster-wide rate: the sum of every channel's latest sampled rate.
  let rate: number | undefined;
  for (const key of new Set(rows.map((r) => seriesKey(r.topic_name, r.channel_name)))) {
    const r = ctx.admin.history.lastRate(key);
    if (r !== undefined) rate = (rate ?? 0) + r;
  }
  return {
    title: "Counter",
    crumbs: [],
    body: html`
      ${warn(
        answer.message,
      )}<h1>Messages processed</h1><div class="card" style="margin-bottom:14px">
        <div class="k">all channels on all nodes</div>
        <div class="big" data-stat="total">${commafy(total)}</div>${historyOn(ctx)
          ? html`<div class="muted" data-stat="rate">${rateText(rate)} over the last ${
            durationText(ctx.admin.opts().historyInterval / 1000)
          }</div>`
          : ""}
      </div><div class="panel">${rows.length === 0
        ? html`<div class="empty">No channels yet.</div>`
        : html`
          <table>
            <thead>
              <tr>
                <th>Topic</th>
                <th>Channel</th>
                <th>nsqd host</th>
                <th class="num">Messages</th>
              </tr>
            </thead>
            <tbody>${rows.map((r) =>
              html`<tr><td><a href="${
                topicHref(ctx, r.topic_name)
              }">${r.topic_name}</a></td><td><a href="${
                channelHref(ctx, r.topic_name, r.channel_name)
              }">${r.channel_name}</a></td><td>${r.node}</td>${
                num(r.message_count, "message_count")
              }</tr>`
            )}</tbody>
          </table>
        `}</div>
    `,
  };
}

// ---------------------------------------------------------------------------------------------
// Lookup

async function lookupPage(ctx: PageCtx): Promise<PageBody> {
  const lookupds = ctx.admin.opts().nsqlookupdHttpAddresses;
  if (lookupds.length === 0) {
    return {
      title: "Lookup",
      crumbs: [],
      body: html`
        <h1>Lookup</h1>
        <div
          class="alert warn"><b>Notice</b> nsqadmin is not configured with nsqlookupd hosts (it was started with --nsqd-http-address).</div>
      `,
    };
  }
  const answer = await apiTopics(ctx.api, true);
  const inactive = (answer.topics ?? {}) as Record<string, string[]>;
  const names = Object.keys(inactive).sort();
  const rows = names.map((topic) => {
    const api = apiHref(ctx, `/topics/${encodeURIComponent(topic)}`);
    return html`
      <tr data-topic="${topic}">
        <td><a href="${topicHref(ctx, topic)}">${topic}</a></td>
        <td>${inactive[topic].map((ch) =>
          html`<span class="badge">${ch}${
            ctx.isAdmin
              ? html`
                ${actionButton(
                  "×",
                  "small danger",
                  "DELETE",
                  `${api}/${encodeURIComponent(ch)}`,
                  `Delete channel ${ch} of ${topic}?`,
                )}
              `
              : ""
          }</span>`
        )}</td>
        <td>${ctx.isAdmin
          ? actionButton("Delete topic", "small danger", "DELETE", api, `Delete topic ${topic}?`)
          : ""}</td>
      </tr>
    `;
  });
  const form = ctx.isAdmin
    ? html`
      <h2>Create topic / channel</h2>
      <div class="panel">
        <form class="inline" data-api="${apiHref(ctx, "/topics")}"
          data-confirm="Create topic {topic} {channel} on every lookupd?"><label>Topic<input type="text" name="topic" required pattern="[.a-zA-Z0-9_\\-]+(#ephemeral)?" placeholder="topic name"></label><label>Channel (optional)<input type="text" name="channel" pattern="[.a-zA-Z0-9_\\-]+(#ephemeral)?" placeholder="channel name"></label><button class="primary" type="submit">Create</button><span class="muted">Registers the topic (and channel) on every lookupd; a channel is also created on the nsqd that have the topic.</span></form>
      </div>
    `
    : html``;
  return {
    title: "Lookup",
    crumbs: [],
    body: html`
      ${warn(answer.message)}<h1>Lookup</h1><div class="muted"
        style="margin-bottom:8px">nsqlookupd: ${lookupds.map((l, i) =>
          html`${i > 0 ? ", " : ""}<span class="mono">${l}</span>`
        )}</div><h2>Inactive topics <span class="muted">(registered, but no nsqd produces them)</span></h2><div
        class="panel">${names.length === 0
          ? html`<div class="empty">No inactive topics.</div>`
          : html`
            <table>
              <thead>
                <tr>
                  <th>Topic</th>
                  <th>Channels</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>${rows}</tbody>
            </table>
          `}</div>${form}
    `,
  };
}
