/**
 * The queue behind a topic's or channel's memory queue: go-diskqueue's role
 * (docs/nsqd.md#memory-and-disk-queues).
 *
 * Records are serialized messages (lib/protocol/message.ts). The interface is synchronous where the
 * event-loop design needs it to be (put, read), with promises only for I/O completion:
 *
 * - `put` copies the record into a write buffer and returns; a single outstanding write drains it.
 *   Callers that must not acknowledge before the OS has the bytes await `flushed()`.
 * - `read` hands out the next record already read ahead into memory, or returns null and (when
 *   records remain) starts reading ahead, calling `onReadable` once some are in memory.
 */
/** A record that can serialize itself in place (a Message), so queues need no intermediate copy. */
export interface RecordSource {
  /** Serialized length in bytes. */
  readonly size: number;
  /** Writes the record at `off` of `buf` (which has room); returns the end offset. */
  writeTo(buf: Uint8Array, dv: DataView, off: number): number;
}

export interface BackendQueue {
  /** Appends one record; throws an Error if the queue is closed or failed. */
  put(data: Uint8Array): void;
  /** Appends `rec` serialized straight into the queue's buffer (same rules as `put`). */
  putRecord(rec: RecordSource): void;
  /**
   * Resolves once every record put before the call has been written to the OS (and fsynced if the
   * sync policy says so); rejects with the write error. Resolves at once when nothing is pending.
   */
  flushed(): Promise<void>;
  /** Records put and not yet taken by `read`. */
  depth(): number;
  /** Bytes put and not yet written out (0 for queues that write nothing). */
  readonly bufferedBytes: number;
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
  readonly bufferedBytes = 0;
  onReadable: (() => void) | null = null;
  put(_data: Uint8Array): void {
    this.dropped++;
  }
  putRecord(_rec: RecordSource): void {
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
