/**
 * The discovery data a gossiping nsqd keeps (the registration DB of nsq's dev-branch
 * internal/registrationdb, fed by Serf events instead of lookupd's TCP protocol): registrations
 * `client`, `topic:<name>` and `channel:<topic>:<name>`, each with the producers (nsqd members)
 * that have it. Queries accept `*` for the key or subkey, as nsqlookupd's do.
 */

/** One nsqd as the gossip cluster knows it (nsqlookupd's PeerInfo). */
export interface GossipPeer {
  /** The member name, `<broadcast address>:<tcp port>`. */
  id: string;
  /** The member's gossip address, `ip:port`. */
  remoteAddress: string;
  hostname: string;
  broadcastAddress: string;
  tcpPort: number;
  httpPort: number;
  version: string;
  /** Unix ms of the last event about it. */
  lastUpdate: number;
}

/** A registration: `client`, `topic` (key) or `channel` (key + subkey). */
export interface Registration {
  category: "client" | "topic" | "channel";
  key: string;
  subkey: string;
}

const SEP = "\u0000";

function regKey(r: Registration): string {
  return `${r.category}${SEP}${r.key}${SEP}${r.subkey}`;
}

export class GossipRegistrationDb {
  readonly #regs = new Map<string, { reg: Registration; producers: Map<string, GossipPeer> }>();

  #entry(r: Registration) {
    const k = regKey(r);
    let e = this.#regs.get(k);
    if (!e) {
      e = { reg: { ...r }, producers: new Map() };
      this.#regs.set(k, e);
    }
    return e;
  }

  /** Adds (or refreshes) a producer; true if it was not there. */
  addProducer(r: Registration, p: GossipPeer): boolean {
    const e = this.#entry(r);
    const had = e.producers.has(p.id);
    e.producers.set(p.id, p);
    return !had;
  }

  /** Removes a producer; returns whether it was there and how many remain. */
  removeProducer(r: Registration, id: string): { removed: boolean; left: number } {
    const e = this.#regs.get(regKey(r));
    if (!e) return { removed: false, left: 0 };
    const removed = e.producers.delete(id);
    return { removed, left: e.producers.size };
  }

  removeRegistration(r: Registration): void {
    this.#regs.delete(regKey(r));
  }

  /** Registrations matching (with `*` wildcards for key and subkey). */
  findRegistrations(
    category: Registration["category"],
    key: string,
    subkey: string,
  ): Registration[] {
    const out: Registration[] = [];
    for (const { reg } of this.#regs.values()) {
      if (reg.category !== category) continue;
      if (key !== "*" && reg.key !== key) continue;
      if (subkey !== "*" && reg.subkey !== subkey) continue;
      out.push(reg);
    }
    return out;
  }

  /** Producers of the matching registrations, each once. */
  findProducers(category: Registration["category"], key: string, subkey: string): GossipPeer[] {
    const seen = new Map<string, GossipPeer>();
    for (const r of this.findRegistrations(category, key, subkey)) {
      for (const p of this.#regs.get(regKey(r))!.producers.values()) seen.set(p.id, p);
    }
    return [...seen.values()];
  }

  /** Every registration a producer has. */
  lookupRegistrations(id: string): Registration[] {
    const out: Registration[] = [];
    for (const { reg, producers } of this.#regs.values()) if (producers.has(id)) out.push(reg);
    return out;
  }

  /** Removes a producer from everything (a member failed or left). */
  removeMember(id: string): number {
    let n = 0;
    for (const { producers } of this.#regs.values()) if (producers.delete(id)) n++;
    return n;
  }
}
