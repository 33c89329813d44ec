/**
 * nsqlookupd's read API on a gossiping nsqd's HTTP port (`/lookup`, `/topics`, `/channels`,
 * `/nodes`, with nsqlookupd's JSON), answered from the gossip-fed registration DB. Registered only
 * when `--gossip-address` is set: otherwise these paths answer 404 `NOT_FOUND` as Go nsqd 1.3 does.
 */
import { HttpError, requireArg, type V1App } from "../http/v1.ts";
import { nodeJson, peerInfoJson } from "../http/lookupd_api.ts";
import type { Nsqd } from "./nsqd.ts";

function db(nsqd: Nsqd) {
  if (nsqd.gossip === null) throw new HttpError(503, "GOSSIP_NOT_READY");
  return nsqd.gossip.db;
}

/** Adds the discovery routes to nsqd's app. */
export function addGossipRoutes(app: V1App, nsqd: Nsqd): void {
  app.get("/lookup", (c) => {
    const topic = requireArg(c.query(), "topic", "MISSING_ARG_TOPIC");
    const d = db(nsqd);
    if (d.findRegistrations("topic", topic, "").length === 0) {
      throw new HttpError(404, "TOPIC_NOT_FOUND");
    }
    const channels = d.findRegistrations("channel", topic, "*").map((r) => r.subkey);
    const producers = d.findProducers("topic", topic, "").map(peerInfoJson);
    return { channels, producers };
  });

  app.get("/topics", () => ({
    topics: db(nsqd).findRegistrations("topic", "*", "").map((r) => r.key),
  }));

  app.get("/channels", (c) => {
    const topic = requireArg(c.query(), "topic", "MISSING_ARG_TOPIC");
    return { channels: db(nsqd).findRegistrations("channel", topic, "*").map((r) => r.subkey) };
  });

  app.get("/nodes", () => {
    const d = db(nsqd);
    const producers = d.findProducers("client", "", "").map((p) => {
      const topics = d.lookupRegistrations(p.id).filter((r) => r.category === "topic").map((r) =>
        r.key
      );
      return nodeJson(p, topics, topics.map(() => false));
    });
    return { producers };
  });
}

/** The `Gossip:` section of the text /stats (nsq's dev-branch printStats, plus the members). */
export function gossipStatsText(nsqd: Nsqd): string {
  if (nsqd.gossip === null) return "";
  const s = nsqd.gossip.stats();
  let w = `\nGossip: ${s.name} ${s.health}\n`;
  for (const k of Object.keys(s.serf).sort()) w += `   ${k}: ${s.serf[k]}\n`;
  w += "   Members:\n";
  for (const m of s.members) w += `      ${m.name} ${m.address} ${m.status}\n`;
  return w;
}
