/**
 * Gossip: HashiCorp memberlist/Serf's protocol in TypeScript, beneath nsqd (see docs/gossip.md).
 */
export { Memberlist, type MemberlistConfig, type MemberNode } from "./memberlist.ts";
export {
  LamportClock,
  type MemberStatus,
  Serf,
  type SerfConfig,
  type SerfEvent,
  type SerfMember,
  USER_EVENT_SIZE_LIMIT,
} from "./serf.ts";
export { Keyring } from "./security.ts";
export { type GossipPeer, GossipRegistrationDb, type Registration } from "./registration_db.ts";
