/**
 * memberlist's TransmitLimitedQueue (hashicorp/memberlist queue.go): messages piggy-backed on
 * gossip and probes. Each is sent at most `retransmitMult * ceil(log10(n + 1))` times for a
 * cluster of n members; the least-sent go first (newest first among equals), and a message about
 * a node replaces any queued message about the same node. Nothing leaves the queue while there is
 * no one to send to, so its owner bounds it with `prune`.
 */
interface Item {
  id: number;
  name: string | null;
  msg: Uint8Array;
  transmits: number;
  onDone: (() => void) | null;
}

/** retransmitLimit from memberlist's util.go. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

export class BroadcastQueue {
  #items: Item[] = [];
  #nextId = 0;
  readonly #numNodes: () => number;
  readonly #mult: number;

  constructor(numNodes: () => number, retransmitMult: number) {
    this.#numNodes = numNodes;
    this.#mult = retransmitMult;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Queues a message; `name` invalidates queued messages about the same node. */
  queue(msg: Uint8Array, name: string | null = null, onDone: (() => void) | null = null): void {
    if (name !== null) {
      this.#items = this.#items.filter((it) => {
        if (it.name !== name) return true;
        it.onDone?.();
        return false;
      });
    }
    this.#items.push({ id: this.#nextId++, name, msg, transmits: 0, onDone });
  }

  /** Takes the messages that fit in `limit` bytes, each costing `overhead` more. */
  get(overhead: number, limit: number): Uint8Array[] {
    if (this.#items.length === 0) return [];
    const max = retransmitLimit(this.#mult, this.#numNodes());
    this.#items.sort((a, b) => a.transmits - b.transmits || b.id - a.id);
    const out: Uint8Array[] = [];
    let used = 0;
    const keep: Item[] = [];
    for (const it of this.#items) {
      const cost = overhead + it.msg.length;
      if (used + cost > limit) {
        keep.push(it);
        continue;
      }
      used += cost;
      out.push(it.msg);
      it.transmits++;
      if (it.transmits >= max) it.onDone?.();
      else keep.push(it);
    }
    this.#items = keep;
    return out;
  }

  /** Keeps only the `max` newest messages (Serf's queue depth limit, 4096). */
  prune(max: number): void {
    if (this.#items.length <= max) return;
    this.#items.sort((a, b) => a.id - b.id);
    for (const it of this.#items.splice(0, this.#items.length - max)) it.onDone?.();
  }

  /** Drops everything (calling the done callbacks). */
  reset(): void {
    for (const it of this.#items) it.onDone?.();
    this.#items = [];
  }
}
