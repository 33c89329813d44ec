/**
 * The JSON shapes of nsqlookupd's read API (nsq's nsqlookupd/http.go and registration_db.go), shared
 * by nsqlookupd and by a gossiping nsqd that answers the same paths: a producer's PeerInfo as
 * `/lookup` lists it, and a node as `/nodes` lists it (PeerInfo plus its topics and, for each,
 * whether it is tombstoned there).
 *
 * @module
 */

/** What the renderers read of a registered nsqd. */
export interface LookupdPeer {
  readonly remoteAddress: string;
  readonly hostname: string;
  readonly broadcastAddress: string;
  readonly tcpPort: number;
  readonly httpPort: number;
  readonly version: string;
}

/** PeerInfo as `/lookup` renders it (Go struct field order). */
export function peerInfoJson(p: LookupdPeer) {
  return {
    remote_address: p.remoteAddress,
    hostname: p.hostname,
    broadcast_address: p.broadcastAddress,
    tcp_port: p.tcpPort,
    http_port: p.httpPort,
    version: p.version,
  };
}

/** One entry of `/nodes`: `tombstones[i]` says whether the node is tombstoned for `topics[i]`. */
export function nodeJson(p: LookupdPeer, topics: string[], tombstones: boolean[]) {
  return { ...peerInfoJson(p), tombstones, topics };
}
