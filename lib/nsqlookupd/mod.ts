/**
 * nsqlookupd, the NSQ discovery daemon: `new Nsqlookupd(opts, logger)`, then `start()`.
 *
 * @module
 */
export { Nsqlookupd } from "./nsqlookupd.ts";
export { defaultNsqlookupdOptions, type NsqlookupdOptions } from "./options.ts";
export {
  filterByActive,
  type PeerInfo,
  Producer,
  type Registration,
  RegistrationDB,
} from "./registration_db.ts";
export {
  decodePeerInfo,
  handleLookupConn,
  type LookupdContext,
  MAGIC_V1,
} from "./lookup_protocol_v1.ts";
export { type LookupdHttpContext, newLookupdHttpApp } from "./http.ts";
