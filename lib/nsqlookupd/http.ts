/**
 * nsqlookupd's HTTP API (docs/nsqlookupd.md#http-api; nsq's `nsqlookupd/http.go`), a thin Hono
 * adapter over the registration DB. Parameters come from the URL query string only; answers use the
 * V1 format.
 */
import type { Logger } from "../internal/log.ts";
import { isValidChannelName, isValidTopicName } from "../protocol/names.ts";
import { NSQ_VERSION } from "../version.ts";
import { goJson, HttpError, RawJson, requireArg, V1App, type V1Context } from "../http/v1.ts";
import { nodeJson, peerInfoJson } from "../http/lookupd_api.ts";
import { filterByActive, type Producer, type RegistrationDB } from "./registration_db.ts";

/** What the HTTP API needs from its daemon. */
export interface LookupdHttpContext {
  readonly db: RegistrationDB;
  readonly logger: Logger;
  readonly opts: { readonly inactiveProducerTimeout: number; readonly tombstoneLifetime: number };
}

/** nsq's `http_api.GetTopicChannelArgs`: present and valid topic and channel. */
function topicChannelArgs(c: V1Context): [string, string] {
  const q = c.query();
  const topic = requireArg(q, "topic", "MISSING_ARG_TOPIC");
  if (!isValidTopicName(topic)) throw new HttpError(400, "INVALID_ARG_TOPIC");
  const channel = requireArg(q, "channel", "MISSING_ARG_CHANNEL");
  if (!isValidChannelName(channel)) throw new HttpError(400, "INVALID_ARG_CHANNEL");
  return [topic, channel];
}

/** Builds the app; serve it with `serveHttp(addr, app.fetch)`. */
export function newLookupdHttpApp(ctx: LookupdHttpContext): V1App {
  const { db, logger: log, opts } = ctx;
  const app = new V1App({ logger: log });

  app.get("/ping", () => "OK", { plainText: true });
  app.get("/info", () => ({ version: NSQ_VERSION }));

  app.get("/debug", () => {
    // Keys sorted like Go's map encoding; registrations without producers are not listed.
    // Timestamps are int64 nanoseconds, beyond what a JS number holds exactly: encode by hand.
    const groups = new Map<string, string[]>();
    for (const [r, producers] of db.entries()) {
      if (producers.length === 0) continue;
      const key = `${r.category}:${r.key}:${r.subkey}`;
      const list = groups.get(key) ?? [];
      for (const p of producers) {
        const i = p.peerInfo;
        list.push(
          `{"broadcast_address":${goJson(i.broadcastAddress)},` +
            `"hostname":${goJson(i.hostname)},"http_port":${i.httpPort},` +
            `"id":${goJson(i.id)},"last_update":${i.lastUpdate},` +
            `"tcp_port":${i.tcpPort},"tombstoned":${p.tombstoned},` +
            `"tombstoned_at":${p.tombstonedAt},"version":${goJson(i.version)}}`,
        );
      }
      groups.set(key, list);
    }
    const keys = [...groups.keys()].sort();
    return new RawJson(
      `{${keys.map((k) => `${goJson(k)}:[${groups.get(k)!.join(",")}]`).join(",")}}`,
    );
  });

  app.get("/lookup", (c) => {
    const topic = requireArg(c.query(), "topic", "MISSING_ARG_TOPIC");
    if (db.findRegistrations("topic", topic, "").length === 0) {
      throw new HttpError(404, "TOPIC_NOT_FOUND");
    }
    const channels = db.findRegistrations("channel", topic, "*").map((r) => r.subkey);
    const producers = filterByActive(
      db.findProducers("topic", topic, ""),
      opts.inactiveProducerTimeout,
      opts.tombstoneLifetime,
    );
    return { channels, producers: producers.map((p) => peerInfoJson(p.peerInfo)) };
  });

  app.get("/topics", () => ({
    topics: db.findRegistrations("topic", "*", "").map((r) => r.key),
  }));

  app.get("/channels", (c) => {
    const topic = requireArg(c.query(), "topic", "MISSING_ARG_TOPIC");
    return { channels: db.findRegistrations("channel", topic, "*").map((r) => r.subkey) };
  });

  app.get("/nodes", () => {
    // Every active nsqd, tombstoned ones included (tombstone lifetime 0 keeps them).
    const clients = filterByActive(
      db.findProducers("client", "", ""),
      opts.inactiveProducerTimeout,
      0,
    );
    const producers = clients.map((p: Producer) => {
      const info = p.peerInfo;
      const topics = db.lookupRegistrations(info.id)
        .filter((r) => r.category === "topic")
        .map((r) => r.key);
      // tombstones[i] says whether this node is tombstoned for topics[i].
      const tombstones = topics.map((t) =>
        db.findProducers("topic", t, "").some((tp) =>
          tp.peerInfo === info && tp.isTombstoned(opts.tombstoneLifetime)
        )
      );
      return nodeJson(info, topics, tombstones);
    });
    return { producers };
  });

  app.post("/topic/create", (c) => {
    const topic = requireArg(c.query(), "topic", "MISSING_ARG_TOPIC");
    if (!isValidTopicName(topic)) throw new HttpError(400, "INVALID_ARG_TOPIC");
    log.info(`DB: adding topic(${topic})`);
    db.addRegistration({ category: "topic", key: topic, subkey: "" });
    return null;
  });

  app.post("/topic/delete", (c) => {
    const topic = requireArg(c.query(), "topic", "MISSING_ARG_TOPIC");
    for (const r of db.findRegistrations("channel", topic, "*")) {
      log.info(`DB: removing channel(${r.subkey}) from topic(${topic})`);
      db.removeRegistration(r);
    }
    for (const r of db.findRegistrations("topic", topic, "")) {
      log.info(`DB: removing topic(${topic})`);
      db.removeRegistration(r);
    }
    return null;
  });

  app.post("/topic/tombstone", (c) => {
    const q = c.query();
    const topic = requireArg(q, "topic", "MISSING_ARG_TOPIC");
    const node = requireArg(q, "node", "MISSING_ARG_NODE");
    log.info(`DB: setting tombstone for producer@${node} of topic(${topic})`);
    for (const p of db.findProducers("topic", topic, "")) {
      if (`${p.peerInfo.broadcastAddress}:${p.peerInfo.httpPort}` === node) p.tombstone();
    }
    return null;
  });

  app.post("/channel/create", (c) => {
    const [topic, channel] = topicChannelArgs(c);
    log.info(`DB: adding channel(${channel}) in topic(${topic})`);
    db.addRegistration({ category: "channel", key: topic, subkey: channel });
    log.info(`DB: adding topic(${topic})`);
    db.addRegistration({ category: "topic", key: topic, subkey: "" });
    return null;
  });

  app.post("/channel/delete", (c) => {
    const [topic, channel] = topicChannelArgs(c);
    const regs = db.findRegistrations("channel", topic, channel);
    if (regs.length === 0) throw new HttpError(404, "CHANNEL_NOT_FOUND");
    log.info(`DB: removing channel(${channel}) from topic(${topic})`);
    for (const r of regs) db.removeRegistration(r);
    return null;
  });

  return app;
}
