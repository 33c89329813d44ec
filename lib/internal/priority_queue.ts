/**
 * A binary min-heap of items that carry their own key (`pri`) and position (`index`), so removal
 * and re-keying of an arbitrary item are O(log n) with no lookup and no allocation per operation.
 * Channels keep their in-flight messages (keyed by deadline) and deferred messages (keyed by due
 * time) in one each, like nsqd's in_flight_pqueue.go and pqueue.go.
 *
 * Invariant: for every item in the heap, `items[item.index] === item`; items not in a heap have
 * `index === -1`.
 */
export interface PqItem {
  pri: number;
  index: number;
}

export class PriorityQueue<T extends PqItem> {
  #items: T[] = [];

  get length(): number {
    return this.#items.length;
  }

  /** The item with the smallest key, or undefined. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    item.index = items.length;
    items.push(item);
    this.#up(item.index);
  }

  /** Removes and returns the smallest item. */
  pop(): T | undefined {
    const items = this.#items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      last.index = 0;
      this.#down(0);
    }
    top.index = -1;
    return top;
  }

  /** Removes `item` (which must be in this heap). */
  remove(item: T): void {
    const items = this.#items;
    const i = item.index;
    const last = items.pop()!;
    if (i < items.length) {
      items[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
    item.index = -1;
  }

  /** Re-keys `item` (which must be in this heap). */
  update(item: T, pri: number): void {
    item.pri = pri;
    this.#down(item.index);
    this.#up(item.index);
  }

  /** Removes every item, returning them in heap order (not sorted). */
  drain(): T[] {
    const items = this.#items;
    this.#items = [];
    for (const it of items) it.index = -1;
    return items;
  }

  #up(i: number): void {
    const items = this.#items;
    const item = items[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p];
      if (parent.pri <= item.pri) break;
      items[i] = parent;
      parent.index = i;
      i = p;
    }
    items[i] = item;
    item.index = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const item = items[i];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && items[c + 1].pri < items[c].pri) c++;
      const child = items[c];
      if (child.pri >= item.pri) break;
      items[i] = child;
      child.index = i;
      i = c;
    }
    items[i] = item;
    item.index = i;
  }
}
