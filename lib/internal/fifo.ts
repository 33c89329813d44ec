/**
 * A growable ring-buffer FIFO (the memory queue of topics and channels).
 * O(1) push and shift without the O(n) `Array.prototype.shift`.
 */
export class Fifo<T> {
  #buf: (T | undefined)[];
  #head = 0;
  #len = 0;

  constructor(initialCapacity = 16) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.#buf = new Array(cap);
  }

  get length(): number {
    return this.#len;
  }

  push(item: T): void {
    if (this.#len === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#len) & (this.#buf.length - 1)] = item;
    this.#len++;
  }

  shift(): T | undefined {
    if (this.#len === 0) return undefined;
    const item = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#buf.length - 1);
    this.#len--;
    return item;
  }

  /** The item `i` places from the head (0 = next to shift), or undefined past the end. */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.#len) return undefined;
    return this.#buf[(this.#head + i) & (this.#buf.length - 1)];
  }

  /** The first `n` items (fewer when shorter), oldest first, without removing them. */
  head(n: number): T[] {
    const out: T[] = [];
    for (let i = 0; i < n && i < this.#len; i++) {
      out.push(this.#buf[(this.#head + i) & (this.#buf.length - 1)] as T);
    }
    return out;
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  clear(): void {
    this.#buf = new Array(16);
    this.#head = 0;
    this.#len = 0;
  }

  #grow(): void {
    const old = this.#buf;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#len; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#buf = next;
    this.#head = 0;
  }
}
