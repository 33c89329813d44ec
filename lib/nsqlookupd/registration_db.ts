/**
 * nsqlookupd's registration DB (docs/nsqlookupd.md#registration-db; nsq's `registration_db.go`): a
 * map from `Registration{category, key, subkey}` to the producers (nsqd peers) registered under it.
 *
 * Categories: `client` (key and subkey empty: every identified nsqd), `topic` (key = topic) and
 * `channel` (key = topic, subkey = channel). Lookups accept `*` as a wildcard key or subkey.
 * Registrations stay in the map when their last producer leaves (topics and channels remain
 * listed with zero producers) until removed explicitly. Everything runs on the one event loop,
 * so there is no locking.
 */

/** One registration key. */
export interface Registration {
  readonly category: string;
  readonly key: string;
  readonly subkey: string;
}

/**
 * What an nsqd told us in IDENTIFY; shared by all the producers of one TCP connection.
 * `id` is the connection's remote `ip:port`.
 */
export interface PeerInfo {
  readonly id: string;
  readonly remoteAddress: string;
  readonly hostname: string;
  readonly broadcastAddress: string;
  readonly tcpPort: number;
  readonly httpPort: number;
  readonly version: string;
  /** Unix nanoseconds of the last IDENTIFY or PING (liveness). */
  lastUpdate: bigint;
}

/** Go's `time.Time{}.UnixNano()`: what `/debug` shows as `tombstoned_at` before any tombstone. */
export const ZERO_TIME_UNIX_NANO = -6795364578871345152n;

/** Current wall-clock time in Unix nanoseconds (microsecond resolution). */
export function nowUnixNano(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

const NS_PER_MS = 1_000_000;

/** A peer registered under one registration, with that registration's tombstone state. */
export class Producer {
  readonly peerInfo: PeerInfo;
  tombstoned = false;
  tombstonedAt: bigint = ZERO_TIME_UNIX_NANO;

  constructor(peerInfo: PeerInfo) {
    this.peerInfo = peerInfo;
  }

  /** Marks this producer tombstoned as of `now` (Unix ns). */
  tombstone(now: bigint = nowUnixNano()): void {
    this.tombstoned = true;
    this.tombstonedAt = now;
  }

  /** True while tombstoned and `now − tombstonedAt < lifetime`. */
  isTombstoned(lifetimeMs: number, now: bigint = nowUnixNano()): boolean {
    return this.tombstoned && Number(now - this.tombstonedAt) < lifetimeMs * NS_PER_MS;
  }
}

/**
 * Producers whose peer pinged within `inactiveTimeoutMs` and that are not tombstoned (a
 * `tombstoneLifetimeMs` of 0 keeps tombstoned ones), like Go's `FilterByActive`.
 */
export function filterByActive(
  producers: Iterable<Producer>,
  inactiveTimeoutMs: number,
  tombstoneLifetimeMs: number,
  now: bigint = nowUnixNano(),
): Producer[] {
  const out: Producer[] = [];
  for (const p of producers) {
    if (Number(now - p.peerInfo.lastUpdate) > inactiveTimeoutMs * NS_PER_MS) continue;
    if (p.isTombstoned(tombstoneLifetimeMs, now)) continue;
    out.push(p);
  }
  return out;
}

interface Entry {
  readonly reg: Registration;
  /** Producers keyed by peer id, in registration order. */
  readonly producers: Map<string, Producer>;
}

function mapKey(category: string, key: string, subkey: string): string {
  return `${category}\u0000${key}\u0000${subkey}`;
}

function matches(r: Registration, category: string, key: string, subkey: string): boolean {
  return r.category === category && (key === "*" || r.key === key) &&
    (subkey === "*" || r.subkey === subkey);
}

/** The registration map. Iteration order is insertion order (Go's is random). */
export class RegistrationDB {
  readonly #map = new Map<string, Entry>();

  #entry(r: Registration): Entry {
    const k = mapKey(r.category, r.key, r.subkey);
    let e = this.#map.get(k);
    if (!e) {
      e = { reg: { category: r.category, key: r.key, subkey: r.subkey }, producers: new Map() };
      this.#map.set(k, e);
    }
    return e;
  }

  /** Adds a registration key (without producers) if missing. */
  addRegistration(r: Registration): void {
    this.#entry(r);
  }

  /** Adds `p` under `r` unless that peer is already there; true when added. */
  addProducer(r: Registration, p: Producer): boolean {
    const e = this.#entry(r);
    if (e.producers.has(p.peerInfo.id)) return false;
    e.producers.set(p.peerInfo.id, p);
    return true;
  }

  /**
   * Removes peer `id` from `r`; returns whether it was there and how many producers are left.
   * The registration key stays, even when empty.
   */
  removeProducer(r: Registration, id: string): { removed: boolean; left: number } {
    const e = this.#map.get(mapKey(r.category, r.key, r.subkey));
    if (!e) return { removed: false, left: 0 };
    const removed = e.producers.delete(id);
    return { removed, left: e.producers.size };
  }

  /** Removes a registration and all its producers. */
  removeRegistration(r: Registration): void {
    this.#map.delete(mapKey(r.category, r.key, r.subkey));
  }

  /** Registrations matching (with `*` wildcards in key / subkey). */
  findRegistrations(category: string, key: string, subkey: string): Registration[] {
    if (key !== "*" && subkey !== "*") {
      const e = this.#map.get(mapKey(category, key, subkey));
      return e ? [e.reg] : [];
    }
    const out: Registration[] = [];
    for (const e of this.#map.values()) {
      if (matches(e.reg, category, key, subkey)) out.push(e.reg);
    }
    return out;
  }

  /** Producers of the matching registrations, each peer once. */
  findProducers(category: string, key: string, subkey: string): Producer[] {
    if (key !== "*" && subkey !== "*") {
      const e = this.#map.get(mapKey(category, key, subkey));
      return e ? [...e.producers.values()] : [];
    }
    const seen = new Set<string>();
    const out: Producer[] = [];
    for (const e of this.#map.values()) {
      if (!matches(e.reg, category, key, subkey)) continue;
      for (const p of e.producers.values()) {
        if (seen.has(p.peerInfo.id)) continue;
        seen.add(p.peerInfo.id);
        out.push(p);
      }
    }
    return out;
  }

  /** Every registration peer `id` is a producer of. */
  lookupRegistrations(id: string): Registration[] {
    const out: Registration[] = [];
    for (const e of this.#map.values()) {
      if (e.producers.has(id)) out.push(e.reg);
    }
    return out;
  }

  /** Every registration with its producers (for `/debug`). */
  *entries(): IterableIterator<[Registration, Producer[]]> {
    for (const e of this.#map.values()) yield [e.reg, [...e.producers.values()]];
  }
}
