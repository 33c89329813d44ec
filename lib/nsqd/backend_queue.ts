/**
 * The queue behind a topic's or channel's memory queue: go-diskqueue's role (spec §4.2, §4.3).
 *
 * Records are serialized messages (spec §1.4). The interface is synchronous where the event-loop
 * design needs it to be (put, read), with promises only for I/O completion:
 *
 * - `put` copies the record into a write buffer and returns; a single outstanding write drains it.
 *   Callers that must not acknowledge before the OS has the bytes await `flushed()`.
 * - `read` hands out the next record already read ahead into memory, or returns null and (when
 *   records remain) starts reading ahead, calling `onReadable` once some are in memory.
 */
export interface BackendQueue {
  /** Appends one record; throws an Error if the queue is closed or failed. */
  put(data: Uint8Array): void;
  /**
   * Resolves once every record put before the call has been written to the OS (and fsynced if the
   * sync policy says so); rejects with the write error. Resolves at once when nothing is pending.
   */
  flushed(): Promise<void>;
  /** Records put and not yet taken by `read`. */
  depth(): number;
  /** The next record (the caller owns the bytes), or null if none is in memory right now. */
  read(): Uint8Array | null;
  /** Called (once per null-returning `read` that had depth > 0) when records are readable. */
  onReadable: (() => void) | null;
  /** Drops every record (files deleted; numbering continues). */
  empty(): Promise<void>;
  /** Empty + close (topic/channel deletion). */
  delete(): Promise<void>;
  /** Writes out buffered records, fsyncs, persists metadata, closes files. Idempotent. */
  close(): Promise<void>;
}

/**
 * The backend of ephemeral topics and channels: nothing touches disk, overflow is dropped
 * (and counted, which Go's dummy queue does not do).
 */
export class DroppingBackendQueue implements BackendQueue {
  dropped = 0;
  onReadable: (() => void) | null = null;
  put(_data: Uint8Array): void {
    this.dropped++;
  }
  flushed(): Promise<void> {
    return Promise.resolve();
  }
  depth(): number {
    return 0;
  }
  read(): Uint8Array | null {
    return null;
  }
  empty(): Promise<void> {
    return Promise.resolve();
  }
  delete(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * An in-memory BackendQueue with the disk queue's semantics but no files (unit tests, and a
 * stand-in wherever persistence is not wanted). Records are copied on put.
 */
export class MemoryBackendQueue implements BackendQueue {
  onReadable: (() => void) | null = null;
  #records: Uint8Array[] = [];
  #head = 0;
  #closed = false;

  put(data: Uint8Array): void {
    if (this.#closed) throw new Error("exiting");
    this.#records.push(data.slice());
  }
  flushed(): Promise<void> {
    return Promise.resolve();
  }
  depth(): number {
    return this.#records.length - this.#head;
  }
  read(): Uint8Array | null {
    if (this.#head === this.#records.length) return null;
    const r = this.#records[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#records.length) {
      this.#records = this.#records.slice(this.#head);
      this.#head = 0;
    }
    return r;
  }
  empty(): Promise<void> {
    this.#records = [];
    this.#head = 0;
    return Promise.resolve();
  }
  delete(): Promise<void> {
    this.#closed = true;
    return this.empty();
  }
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
