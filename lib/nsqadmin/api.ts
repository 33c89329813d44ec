/**
 * What nsqadmin's JSON API answers (nsq's nsqadmin/http.go handlers), as plain functions over
 * a {@linkcode ClusterInfo}: the HTTP layer and the HTML pages both call these. Partial failures
 * become the `message` field (`WARNING: ...`); total failures throw 502 `UPSTREAM_ERROR: ...`.
 */
import { HttpError } from "../http/v1.ts";
import type { Logger } from "../internal/log.ts";
import { isValidChannelName, isValidTopicName } from "../protocol/names.ts";
import {
  type ClusterInfo,
  type Partial,
  type Producer,
  producerHttpAddress,
  UpstreamError,
} from "./cluster_info.ts";
import type { NsqadminOptions } from "./options.ts";
import { addTopic, type ChannelStats, newTopicStats, type TopicStats } from "./stats.ts";

/** What the API functions need: the current options, the cluster client and the logger. */
export interface AdminContext {
  opts(): NsqadminOptions;
  readonly ci: ClusterInfo;
  readonly logger: Logger;
}

/** Go's maybeWarnMsg. */
export function warning(messages: string[]): string {
  return messages.length > 0 ? "WARNING: " + messages.join("; ") : "";
}

/**
 * Collects warnings of one request; `take` unwraps a partial answer, and turns a total failure
 * into 502 `UPSTREAM_ERROR: ...` after logging `failed to <what> - <err>`.
 */
class Warnings {
  readonly messages: string[] = [];
  readonly #logger: Logger;
  constructor(logger: Logger) {
    this.#logger = logger;
  }
  async take<T>(what: string, p: Promise<Partial<T>>): Promise<T> {
    let r: Partial<T>;
    try {
      r = await p;
    } catch (e) {
      throw this.upstream(what, e);
    }
    this.add(r.errors);
    return r.value;
  }
  add(errors: string[]): void {
    if (errors.length === 0) return;
    const text = errors.join("\n");
    this.#logger.warn(text);
    this.messages.push(text);
  }
  upstream(what: string, e: unknown): unknown {
    if (!(e instanceof UpstreamError)) return e;
    this.#logger.error(`failed to ${what} - ${e.message}`);
    return new HttpError(502, `UPSTREAM_ERROR: ${e.message}`);
  }
  get message(): string {
    return warning(this.messages);
  }
}

/** GET /api/topics (`inactive`: topics no nsqd produces, with their lookupd channels). */
export async function apiTopics(
  ctx: AdminContext,
  inactive: boolean,
): Promise<{ topics: string[] | Record<string, string[]> | null; message: string }> {
  const w = new Warnings(ctx.logger);
  const { nsqlookupdHttpAddresses: lookupds, nsqdHttpAddresses: nsqds } = ctx.opts();
  const topics = await w.take(
    "get topics",
    lookupds.length !== 0 ? ctx.ci.getLookupdTopics(lookupds) : ctx.ci.getNsqdTopics(nsqds),
  );
  if (inactive) {
    const map: Record<string, string[]> = {};
    if (lookupds.length !== 0) {
      for (const topic of topics) {
        const producers = await ctx.ci.getLookupdTopicProducers(topic, lookupds).catch(() => null);
        if (producers === null || producers.value.length === 0) {
          const channels = await ctx.ci.getLookupdTopicChannels(topic, lookupds).catch(() => null);
          map[topic] = channels?.value ?? [];
        }
      }
    }
    return { topics: map, message: w.message };
  }
  return { topics: topics.length === 0 ? null : topics, message: w.message };
}

/** GET /api/topics/:topic: the topic summed over its producers, per-node rows under `nodes`. */
export async function apiTopic(
  ctx: AdminContext,
  topic: string,
): Promise<TopicStats & { message: string }> {
  const w = new Warnings(ctx.logger);
  const { nsqlookupdHttpAddresses: lookupds, nsqdHttpAddresses: nsqds } = ctx.opts();
  const producers = await w.take(
    "get topic producers",
    ctx.ci.getTopicProducers(topic, lookupds, nsqds),
  );
  const stats = await w.take(
    "get topic metadata",
    ctx.ci.getNsqdStats(producers, topic, "", false),
  );
  const all = newTopicStats(topic);
  for (const t of stats.topics) addTopic(all, t);
  return { ...all, message: w.message };
}

/** GET /api/topics/:topic/:channel: the channel summed over nodes, with every client. */
export async function apiChannel(
  ctx: AdminContext,
  topic: string,
  channel: string,
): Promise<(ChannelStats | Record<never, never>) & { message: string }> {
  const w = new Warnings(ctx.logger);
  const { nsqlookupdHttpAddresses: lookupds, nsqdHttpAddresses: nsqds } = ctx.opts();
  const producers = await w.take(
    "get topic producers",
    ctx.ci.getTopicProducers(topic, lookupds, nsqds),
  );
  const stats = await w.take(
    "get channel metadata",
    ctx.ci.getNsqdStats(producers, topic, channel, true),
  );
  // Go embeds a nil *ChannelStats for an unknown channel: only `message` remains.
  return { ...stats.channels.get(channel) ?? {}, message: w.message };
}

/** GET /api/nodes. */
export async function apiNodes(
  ctx: AdminContext,
): Promise<{ nodes: Producer[] | null; message: string }> {
  const w = new Warnings(ctx.logger);
  const { nsqlookupdHttpAddresses: lookupds, nsqdHttpAddresses: nsqds } = ctx.opts();
  const producers = await w.take("get nodes", ctx.ci.getProducers(lookupds, nsqds));
  return { nodes: producers.length === 0 ? null : producers, message: w.message };
}

/** The result of GET /api/nodes/:node. */
export interface NodeAnswer {
  node: string;
  topics: TopicStats[] | null;
  total_messages: number;
  total_clients: number;
  message: string;
}

/** GET /api/nodes/:node (`node` is the nsqd's HTTP address); 404 `NODE_NOT_FOUND`. */
export async function apiNode(ctx: AdminContext, node: string): Promise<NodeAnswer> {
  const w = new Warnings(ctx.logger);
  const { nsqlookupdHttpAddresses: lookupds, nsqdHttpAddresses: nsqds } = ctx.opts();
  const producers = await w.take("get producers", ctx.ci.getProducers(lookupds, nsqds));
  const producer = producers.find((p) => producerHttpAddress(p) === node);
  if (producer === undefined) throw new HttpError(404, "NODE_NOT_FOUND");
  let stats;
  try {
    stats = await ctx.ci.getNsqdStats([producer], "", "", true);
  } catch (e) {
    ctx.logger.error(`failed to get nsqd stats - ${e instanceof Error ? e.message : e}`);
    throw new HttpError(502, `UPSTREAM_ERROR: ${e instanceof Error ? e.message : e}`);
  }
  let totalClients = 0;
  let totalMessages = 0;
  for (const t of stats.value.topics) {
    for (const c of t.channels ?? []) totalClients += c.clients?.length ?? 0;
    totalMessages += t.message_count;
  }
  const topics = stats.value.topics;
  return {
    node,
    topics: topics.length === 0 ? null : topics,
    total_messages: totalMessages,
    total_clients: totalClients,
    message: w.message,
  };
}

/** One row of GET /api/counter. */
export interface CounterStats {
  node: string;
  topic_name: string;
  channel_name: string;
  message_count: number;
}

/** GET /api/counter: messages processed per `topic:channel:node`. */
export async function apiCounter(
  ctx: AdminContext,
): Promise<{ stats: Record<string, CounterStats>; message: string }> {
  const w = new Warnings(ctx.logger);
  const { nsqlookupdHttpAddresses: lookupds, nsqdHttpAddresses: nsqds } = ctx.opts();
  const producers = await w.take("get counter producer list", ctx.ci.getProducers(lookupds, nsqds));
  const stats = await w.take("get nsqd stats", ctx.ci.getNsqdStats(producers, "", "", false));
  const out: Record<string, CounterStats> = {};
  for (const c of stats.channels.values()) {
    for (const n of c.nodes ?? []) {
      const key = `${c.topic_name}:${c.channel_name}:${n.node}`;
      out[key] ??= {
        node: n.node,
        topic_name: c.topic_name,
        channel_name: c.channel_name,
        message_count: 0,
      };
      out[key].message_count += n.message_count;
    }
  }
  return { stats: out, message: w.message };
}

/** Runs an action's fan-out and turns its failures into the `message` answer. */
async function actionAnswer(
  ctx: AdminContext,
  what: string,
  run: () => Promise<string[]>,
): Promise<{ message: string }> {
  const w = new Warnings(ctx.logger);
  try {
    w.add(await run());
  } catch (e) {
    throw w.upstream(what, e);
  }
  return { message: w.message };
}

/** POST /api/topics body check: Go's validation order and errors. */
export function checkCreateBody(body: unknown): { topic: string; channel: string } {
  const b = (body ?? {}) as Record<string, unknown>;
  const topic = typeof b.topic === "string" ? b.topic : "";
  const channel = typeof b.channel === "string" ? b.channel : "";
  if (!isValidTopicName(topic)) throw new HttpError(400, "INVALID_TOPIC");
  if (channel.length > 0 && !isValidChannelName(channel)) {
    throw new HttpError(400, "INVALID_CHANNEL");
  }
  return { topic, channel };
}

/** POST /api/topics: create a topic (and channel) on the lookupds (and the channel's nsqd). */
export function apiCreateTopicChannel(
  ctx: AdminContext,
  topic: string,
  channel: string,
): Promise<{ message: string }> {
  return actionAnswer(
    ctx,
    "create topic/channel",
    () => ctx.ci.createTopicChannel(topic, channel, ctx.opts().nsqlookupdHttpAddresses),
  );
}

/** DELETE /api/topics/:topic. */
export function apiDeleteTopic(ctx: AdminContext, topic: string): Promise<{ message: string }> {
  const o = ctx.opts();
  return actionAnswer(
    ctx,
    "delete topic",
    () => ctx.ci.deleteTopic(topic, o.nsqlookupdHttpAddresses, o.nsqdHttpAddresses),
  );
}

/** DELETE /api/topics/:topic/:channel. */
export function apiDeleteChannel(
  ctx: AdminContext,
  topic: string,
  channel: string,
): Promise<{ message: string }> {
  const o = ctx.opts();
  return actionAnswer(
    ctx,
    "delete channel",
    () => ctx.ci.deleteChannel(topic, channel, o.nsqlookupdHttpAddresses, o.nsqdHttpAddresses),
  );
}

/** DELETE /api/nodes/:node with `{"topic": ...}`: tombstone the node for the topic. */
export function apiTombstone(
  ctx: AdminContext,
  topic: string,
  node: string,
): Promise<{ message: string }> {
  return actionAnswer(
    ctx,
    "tombstone node for topic",
    () => ctx.ci.tombstoneNodeForTopic(topic, node, ctx.opts().nsqlookupdHttpAddresses),
  );
}

/** The actions POST /api/topics/:topic[/:channel] accepts. */
export const TOPIC_CHANNEL_ACTIONS = ["pause", "unpause", "empty"] as const;
export type TopicChannelAction = typeof TOPIC_CHANNEL_ACTIONS[number];

/** pause / unpause / empty on every nsqd that has the topic. */
export function apiTopicChannelAction(
  ctx: AdminContext,
  action: TopicChannelAction,
  topic: string,
  channel: string,
): Promise<{ message: string }> {
  const o = ctx.opts();
  const uri = `${channel !== "" ? "channel" : "topic"}/${action}`;
  return actionAnswer(
    ctx,
    `${action} topic/channel`,
    () =>
      ctx.ci.topicChannelAction(
        uri,
        topic,
        channel,
        o.nsqlookupdHttpAddresses,
        o.nsqdHttpAddresses,
      ),
  );
}
