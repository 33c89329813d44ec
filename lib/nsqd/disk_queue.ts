/**
 * The disk queue behind every non-ephemeral topic and channel: go-diskqueue v1.1.0's files, bytes and
 * metadata (docs/nsqd.md#disk-queue), reshaped as a buffered log for one event loop
 * (docs/architecture.md#the-disk-queue-is-a-buffered-log).
 *
 * Write side. `put` validates the size and appends `[int32 BE length][payload]` to an in-memory
 * write buffer. One io loop at a time drains that buffer: it takes the whole buffer as a batch,
 * splits it only where a file must roll (before a record, when `writePos > 0` and
 * `writePos + 4 + len > maxBytesPerFile`, exactly go-diskqueue's rule) and issues one write per
 * piece. So a burst of puts costs one write call, not one per record. `flushed()` resolves when the
 * batch holding every earlier record has been written (and fsynced, if the sync policy fired).
 *
 * Sync policy ("sync" = fsync the write file + persist metadata), as go-diskqueue: after every
 * `syncEvery` reads + writes, `syncTimeout` ms after the first unsynced read or write, on file roll,
 * after a read file is deleted or skipped as corrupt, and on close. Metadata goes to
 * `<meta>.<random>.tmp`, is fsynced, then renamed over the metadata file.
 *
 * Read side. `read` parses the next record out of a read-ahead buffer filled with big reads (up to
 * 1 MiB, more for a larger record); it returns null when none is in memory, starts a fill, and calls
 * `onReadable` (asynchronously) once records are available. The reader only reads bytes already
 * written to the OS; a record still in the write buffer becomes readable when its write completes.
 * The persisted `readPos` is the position after the last record handed out, never the read-ahead
 * position, so a restart resumes exactly where consumers stopped. Passing the end of a completed
 * file (one the writer has left; its end is its size) deletes it.
 *
 * Corruption. A record length outside [minMsgSize, maxMsgSize], a short record at the end of a
 * completed file, or an unreadable file: the file is renamed `<file>.bad` and reading moves to the
 * next file (writing too, when it was the write file), as go-diskqueue's handleReadError.
 *
 * Startup. Metadata is loaded (missing = fresh). A write file longer than `writePos` (an unsynced
 * tail) makes writing start at the next file while the reader salvages the old one up to its size,
 * and so on past every later file that holds data (metadata never synced, or older than one file);
 * a write file shorter than `writePos` with unread records (data lost to a power cut, or a cut
 * file) does the same. go-diskqueue checks neither and writes over data or past a hole
 * (docs/durability.md). A torn last record is then a short record at the end of a completed
 * file: logged, the file renamed `.bad`, every record before it delivered.
 * A depth that disagrees with the data is logged and corrected when the reader reaches the tail
 * (go-diskqueue's checkTailCorruption).
 *
 * @module
 */
import type { Logger } from "../internal/log.ts";
import type { BackendQueue, RecordSource } from "./backend_queue.ts";
import {
  dataFileName,
  type DiskQueueMeta,
  formatMetaData,
  metaDataFileName,
  parseMetaData,
} from "./_disk_queue_format.ts";

/** Construction options; the meanings and units of go-diskqueue's `New` parameters. */
export interface DiskQueueOptions {
  /** Topic name, or `<topic>:<channel>` for a channel. */
  name: string;
  dataPath: string;
  /** Roll to a new file before a record that would take the file past this size. */
  maxBytesPerFile: number;
  /** Smallest valid record payload (nsqd: 26, a message with an empty body). */
  minMsgSize: number;
  /** Largest valid record payload (nsqd: --max-msg-size + 26). */
  maxMsgSize: number;
  /** Sync after this many reads + writes. */
  syncEvery: number;
  /** Sync this many milliseconds after the first unsynced read or write. */
  syncTimeout: number;
  logger: Logger;
  /** Called when a write (or its fsync) fails; nsqd sets its health to the error. */
  onError?: (err: Error) => void;
  /** Called when a write succeeds after a failure; nsqd clears its health error. */
  onSuccess?: () => void;
}

/** Read-ahead size: one read call fills up to this much (more only for a bigger record). */
const READ_CHUNK = 1 << 20;
/** Smallest read-ahead buffer worth allocating. */
const READ_MIN = 64 * 1024;
/** While handing out records, read ahead again once fewer bytes than this are buffered. */
const PREFETCH_BELOW = 64 * 1024;
/** First write buffer size; it doubles as needed. */
const WRITE_BUF_INITIAL = 16 * 1024;
/** A drained write buffer up to this size is kept for the next batch while the queue is busy. */
const WRITE_BUF_KEEP = 1 << 20;
/**
 * Drained first-size write buffers of queues that went idle, shared by every queue of the
 * process: a publisher sending one message per round trip past --mem-queue-size makes its queue
 * go idle after every message, and allocating (and zeroing) a fresh 16 KiB buffer per message
 * showed in its profile. Bounded, so idle queues hold no memory of their own.
 */
const idleWriteBuffers: Uint8Array[] = [];
const IDLE_WRITE_BUFFERS_MAX = 8;

interface FlushWaiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface EmptyWaiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

const RESOLVED: Promise<void> = Promise.resolve();
const encoder = new TextEncoder();

function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Batches up to this size are written with a synchronous call: a write into the page cache of a
 * few tens of KB takes microseconds, less than the event-loop round trip an async FsFile call
 * costs (which halved one-message-per-MPUB publishing to disk). Larger batches stay async so a
 * big write never stalls other connections. fsync is always async.
 */
const SYNC_WRITE_MAX = 64 * 1024;

/** Writes every byte synchronously (a write may be short). */
function writeAllSync(f: Deno.FsFile, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += f.writeSync(data.subarray(off));
}

/** Writes every byte (a write may be short). */
async function writeAll(f: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await f.write(data.subarray(off));
}

/** The int32 big-endian length at `off` (signed, so a garbled high bit reads as negative). */
function readLength(b: Uint8Array, off: number): number {
  return (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
}

/** go-diskqueue v1.1.0 as a buffered log; see the module comment for the algorithm. */
export class DiskQueue implements BackendQueue {
  /** Set by the owner; called (asynchronously) when records became readable after a null read. */
  onReadable: (() => void) | null = null;
  readonly name: string;

  readonly #dataPath: string;
  readonly #metaPath: string;
  readonly #maxBytesPerFile: number;
  readonly #minMsgSize: number;
  readonly #maxMsgSize: number;
  readonly #syncEvery: number;
  readonly #syncTimeout: number;
  readonly #logger: Logger;
  readonly #onError: ((err: Error) => void) | undefined;
  readonly #onSuccess: (() => void) | undefined;

  // Persisted state (the metadata file). Invariant: depth - unwritten = records on disk not yet
  // handed out, which is what the metadata stores. depth can go negative only after metadata
  // corruption (as in go-diskqueue); checkTail resets it at the tail.
  #depth = 0;
  /** Position after the last record handed out by read(). */
  #readFileNum = 0;
  #readPos = 0;
  /** End of the bytes written to the OS (always a record boundary). */
  #writeFileNum = 0;
  #writePos = 0;

  // Write side.
  #buf: Uint8Array | null = null;
  /** A DataView of #buf, re-made when #buf changes (records serialize through it). */
  #bufView: DataView | null = null;
  #bufLen = 0;
  #bufCount = 0;
  #spare: Uint8Array | null = null;
  /** Records put but not yet written: the write buffer plus the batch being written. */
  #unwritten = 0;
  #putSeq = 0;
  #doneSeq = 0;
  #waiters: FlushWaiter[] = [];
  #writeFile: Deno.FsFile | null = null;
  /** After a failed write, bytes past writePos may be garbage: cut them when reopening. */
  #truncateOnOpen = false;
  #failed = false;

  // The io loop (writes, syncs, deletions, corruption handling, empty), one run at a time.
  #ioRunning = false;
  #ioPromise: Promise<void> = RESOLVED;
  #needSync = false;
  /** Reads + writes since the last sync. */
  #count = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #deleteQueue: number[] = [];
  #emptyRequested = false;
  #emptyWaiters: EmptyWaiter[] = [];
  /** Bumped by empty(): a batch being written when it is called is abandoned. */
  #emptyGen = 0;
  #readErrorPending = false;

  // Read side.
  #readFile: Deno.FsFile | null = null;
  #readFileFor = -1;
  #readFileOffset = 0;
  /** Size of the read file once the writer has left it, else -1. */
  #readFileEnd = -1;
  /** Read-ahead: bytes [raOff, raEnd) are the file's bytes from readPos on. */
  #ra: Uint8Array | null = null;
  #raOff = 0;
  #raEnd = 0;
  #fillActive = false;
  #fillPromise: Promise<void> = RESOLVED;
  /** Bumped to abandon a fill in flight (empty, corruption, close). */
  #readGen = 0;
  #wantReadable = false;

  #closing = false;
  #closed = false;
  #closePromise: Promise<void> | null = null;

  /**
   * Loads the metadata (one small synchronous read and a stat); does no other I/O until used.
   * Construction never throws for bad metadata: it logs and starts fresh, as go-diskqueue.
   */
  constructor(opts: DiskQueueOptions) {
    this.name = opts.name;
    this.#dataPath = opts.dataPath;
    this.#metaPath = metaDataFileName(opts.dataPath, opts.name);
    this.#maxBytesPerFile = opts.maxBytesPerFile;
    this.#minMsgSize = opts.minMsgSize;
    this.#maxMsgSize = opts.maxMsgSize;
    this.#syncEvery = Math.max(1, opts.syncEvery);
    this.#syncTimeout = Math.max(1, opts.syncTimeout);
    this.#logger = opts.logger;
    this.#onError = opts.onError;
    this.#onSuccess = opts.onSuccess;
    this.#retrieveMetaData();
  }

  /** Bytes waiting in the write buffer (not counting a batch being written). */
  get bufferedBytes(): number {
    return this.#bufLen;
  }

  /** Appends one record; throws go-diskqueue's error for a bad size, or "exiting" once closing. */
  put(data: Uint8Array): void {
    const off = this.#reserve(data.length);
    this.#buf!.set(data, off + 4);
    this.#commit(off + 4 + data.length);
  }

  /** Appends a record serialized straight into the write buffer (no intermediate copy). */
  putRecord(rec: RecordSource): void {
    const len = rec.size;
    const off = this.#reserve(len);
    const buf = this.#buf!;
    let dv = this.#bufView;
    if (dv === null || dv.buffer !== buf.buffer) dv = this.#bufView = new DataView(buf.buffer);
    rec.writeTo(buf, dv, off + 4);
    this.#commit(off + 4 + len);
  }

  /** Checks a record of `len` bytes, makes room and writes its length prefix; returns its offset. */
  #reserve(len: number): number {
    if (this.#closing) throw new Error("exiting");
    if (len < this.#minMsgSize || len > this.#maxMsgSize) {
      throw new Error(
        `invalid message write size (${len}) minMsgSize=${this.#minMsgSize} maxMsgSize=${this.#maxMsgSize}`,
      );
    }
    const off = this.#bufLen;
    const end = off + 4 + len;
    let buf = this.#buf;
    if (buf === null || end > buf.length) buf = this.#growBuffer(end);
    buf[off] = len >>> 24;
    buf[off + 1] = (len >>> 16) & 0xff;
    buf[off + 2] = (len >>> 8) & 0xff;
    buf[off + 3] = len & 0xff;
    return off;
  }

  #commit(end: number): void {
    this.#bufLen = end;
    this.#bufCount++;
    this.#unwritten++;
    this.#depth++;
    this.#putSeq++;
    if (!this.#ioRunning) this.#kick();
  }

  /** Resolves once every record put before the call is written (and synced per the policy). */
  flushed(): Promise<void> {
    if (this.#doneSeq >= this.#putSeq) return RESOLVED;
    return new Promise((resolve, reject) => {
      this.#waiters.push({ seq: this.#putSeq, resolve, reject });
    });
  }

  /** Records put and not yet handed out by read(). */
  depth(): number {
    const d = this.#depth;
    if (d > 0) return d;
    // Only after metadata corruption: unread data remains although the count says none. Report one
    // so that consumers keep reading; checkTail corrects the count at the tail, as go-diskqueue.
    return this.#readFileNum < this.#writeFileNum || this.#readPos < this.#writePos ? 1 : 0;
  }

  /**
   * The next record, or null when none is in memory right now (then a fill starts and
   * `onReadable` follows). The record is a view into a read-ahead chunk that the queue never
   * writes again, so the caller owns its bytes; holding it keeps that chunk (up to 1 MiB) alive.
   */
  read(): Uint8Array | null {
    if (this.#closing || this.#emptyRequested || this.#readErrorPending) return this.#none();
    const ra = this.#ra;
    const o = this.#raOff;
    const avail = this.#raEnd - o;
    if (ra === null || avail < 4) return this.#none();
    const len = readLength(ra, o);
    if (len < this.#minMsgSize || len > this.#maxMsgSize) {
      this.#readError(`invalid message read size (${len})`);
      return this.#none();
    }
    const size = 4 + len;
    if (avail < size) return this.#none();
    // A view: bytes before raOff are never written again (fills append or use a new buffer).
    const rec = ra.subarray(o + 4, o + size);
    this.#raOff = o + size;
    this.#readPos += size;
    this.#depth--;
    this.#countOp(1);
    this.#afterHandOut();
    return rec;
  }

  /** Drops every record: deletes the data files and the metadata; file numbering continues. */
  empty(): Promise<void> {
    if (this.#closing) return Promise.reject(new Error("exiting"));
    return this.#requestEmpty();
  }

  /** Empty + close, without writing metadata again (topic or channel deletion). */
  delete(): Promise<void> {
    if (this.#closePromise !== null) return this.#closePromise;
    this.#logger.info(`DISKQUEUE(${this.name}): deleting`);
    this.#closing = true;
    this.#closePromise = this.#requestEmpty().then(
      () => this.#finishClose(false),
      async (err) => {
        await this.#finishClose(false);
        throw err;
      },
    );
    return this.#closePromise;
  }

  /** Writes out the buffer, fsyncs, persists metadata, closes files. Idempotent. */
  close(): Promise<void> {
    if (this.#closePromise === null) {
      this.#logger.info(`DISKQUEUE(${this.name}): closing`);
      this.#closing = true;
      this.#closePromise = this.#finishClose(true);
    }
    return this.#closePromise;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * The persisted positions as they stand now: where the next record to hand out starts and
   * where the written data ends (peek reads the files from here; deferred.ts compares them
   * across a restart). Records still in the write buffer are not on disk yet: await `flushed()`.
   */
  position(): DiskQueueMeta {
    return {
      depth: this.#depth - this.#unwritten,
      readFileNum: this.#readFileNum,
      readPos: this.#readPos,
      writeFileNum: this.#writeFileNum,
      writePos: this.#writePos,
    };
  }

  /** The path of data file `fileNum` (`<dataPath>/<name>.diskqueue.<%06d>.dat`). */
  fileName(fileNum: number): string {
    return dataFileName(this.#dataPath, this.name, fileNum);
  }

  // ---------------------------------------------------------------------------------------------
  // Startup

  #retrieveMetaData(): void {
    let meta: DiskQueueMeta | null = null;
    try {
      meta = parseMetaData(Deno.readTextFileSync(this.#metaPath));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        this.#logger.error(
          `DISKQUEUE(${this.name}) failed to retrieveMetaData - ${errorOf(err).message}`,
        );
      }
    }
    if (meta !== null) {
      this.#depth = meta.depth;
      this.#readFileNum = meta.readFileNum;
      this.#readPos = meta.readPos;
      this.#writeFileNum = meta.writeFileNum;
      this.#writePos = meta.writePos;
    }

    // If the metadata was not synced at the last shutdown, the write file may be longer than
    // writePos: write from a new file and let the reader salvage what it can from this one.
    let size = this.#statSize(this.#writeFileNum);
    if (
      this.#writePos > Math.max(size, 0) &&
      (this.#readFileNum < this.#writeFileNum || this.#readPos < this.#writePos)
    ) {
      // Not in go-diskqueue, which would write on at writePos past the end, leaving a hole the
      // reader later takes for corruption (losing what was written after it). The data never
      // reached the disk (power loss) or the file was cut, and unread records were in it: read
      // what is there as a completed file (a torn last record is reported and skipped) and write
      // from a new file. (With everything read, the reader starts past the hole: nothing to do.)
      this.#logger.error(
        `DISKQUEUE(${this.name}) ${
          this.#fileName(this.#writeFileNum)
        } metadata writePos ${this.#writePos} > file size of ${
          Math.max(size, 0)
        }, data lost or cut short, skipping to new file`,
      );
      this.#writeFileNum++;
      this.#writePos = 0;
      size = this.#statSize(this.#writeFileNum);
    }
    // A loop, unlike go-diskqueue's single check: when the metadata is older than one file (never
    // synced at all: a queue killed within --sync-timeout of its first write, or killed again
    // before the first sync after a restart that skipped to a new file), the next files hold
    // data too. go-diskqueue then writes over them from their start, losing what they held.
    while (this.#writePos < size) {
      this.#logger.warn(
        `DISKQUEUE(${this.name}) ${
          this.#fileName(this.#writeFileNum)
        } metadata writePos ${this.#writePos} < file size of ${size}, skipping to new file`,
      );
      this.#writeFileNum++;
      this.#writePos = 0;
      size = this.#statSize(this.#writeFileNum);
    }

    const r = this.#readFileNum, rp = this.#readPos;
    const w = this.#writeFileNum, wp = this.#writePos;
    if (r > w || (r === w && rp > wp)) {
      // The reader is past the writer: nothing trustworthy to read. Start over after both.
      if (r > w) {
        this.#logger.error(
          `DISKQUEUE(${this.name}) readFileNum > writeFileNum (${r} > ${w}), corruption, skipping to next writeFileNum and resetting 0...`,
        );
      } else {
        this.#logger.error(
          `DISKQUEUE(${this.name}) readPos > writePos (${rp} > ${wp}), corruption, skipping to next writeFileNum and resetting 0...`,
        );
      }
      for (let i = r; i <= w; i++) this.#removeSync(this.#fileName(i));
      this.#writeFileNum = Math.max(r, w) + 1;
      this.#writePos = 0;
      this.#readFileNum = this.#writeFileNum;
      this.#readPos = 0;
      this.#depth = 0;
      this.#needSync = true;
    } else if (r === w && rp === wp) {
      if (this.#depth !== 0) {
        this.#logger.error(
          `DISKQUEUE(${this.name}) ${
            this.#depth < 0 ? "negative" : "positive"
          } depth at tail (${this.#depth}), ${
            this.#depth < 0 ? "metadata corruption" : "data loss"
          }, resetting 0...`,
        );
        this.#depth = 0;
        this.#needSync = true;
      }
    } else if (this.#depth <= 0) {
      this.#logger.error(
        `DISKQUEUE(${this.name}) depth ${this.#depth} but unread data remains (${r},${rp} < ${w},${wp}), metadata corruption, the depth is reset when the reader reaches the end...`,
      );
    }
  }

  /** The size of data file `fileNum`, -1 when it does not exist (or cannot be stat'ed). */
  #statSize(fileNum: number): number {
    const fn = this.#fileName(fileNum);
    try {
      return Deno.statSync(fn).size;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        this.#logger.error(
          `DISKQUEUE(${this.name}) failed to stat ${fn} - ${errorOf(err).message}`,
        );
      }
      return -1;
    }
  }

  #removeSync(fn: string): void {
    try {
      Deno.removeSync(fn);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        this.#logger.error(
          `DISKQUEUE(${this.name}) failed to remove data file - ${errorOf(err).message}`,
        );
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Shared helpers

  #fileName(fileNum: number): string {
    return dataFileName(this.#dataPath, this.name, fileNum);
  }

  #growBuffer(need: number): Uint8Array {
    const old = this.#buf;
    if (old === null && need <= WRITE_BUF_INITIAL && idleWriteBuffers.length > 0) {
      return this.#buf = idleWriteBuffers.pop()!;
    }
    const cap = Math.max(WRITE_BUF_INITIAL, need, old === null ? 0 : old.length * 2);
    const buf = new Uint8Array(cap);
    if (old !== null && this.#bufLen > 0) buf.set(old.subarray(0, this.#bufLen));
    this.#buf = buf;
    return buf;
  }

  /** Counts reads/writes for the sync policy; arms the sync timer on the first unsynced one. */
  #countOp(n: number): void {
    if (this.#count === 0) this.#armTimer();
    this.#count += n;
    if (this.#count >= this.#syncEvery && !this.#ioRunning) this.#kick();
  }

  #armTimer(): void {
    if (this.#timer !== null || this.#closing) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#count > 0) {
        this.#needSync = true;
        this.#kick();
      }
    }, this.#syncTimeout);
  }

  #disarmTimer(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  /**
   * go-diskqueue's checkTailCorruption: when the reader has consumed everything written, the
   * on-disk depth (depth - unwritten) must be 0; otherwise log and reset it.
   */
  #checkTail(): void {
    if (this.#emptyRequested) return;
    if (this.#readFileNum !== this.#writeFileNum || this.#readPos !== this.#writePos) return;
    const d = this.#depth - this.#unwritten;
    if (d === 0) return;
    if (d < 0) {
      this.#logger.error(
        `DISKQUEUE(${this.name}) negative depth at tail (${d}), metadata corruption, resetting 0...`,
      );
    } else {
      this.#logger.error(
        `DISKQUEUE(${this.name}) positive depth at tail (${d}), data loss, resetting 0...`,
      );
    }
    this.#depth = this.#unwritten;
    this.#needSync = true;
    this.#kick();
  }

  // ---------------------------------------------------------------------------------------------
  // The io loop: one run at a time, started by kick(), ends when there is no work.

  #kick(): void {
    if (this.#ioRunning || this.#closed) return;
    this.#ioRunning = true;
    this.#ioPromise = this.#ioLoop();
  }

  async #ioLoop(): Promise<void> {
    // Let the rest of the current synchronous run add its puts to the same batch.
    await null;
    for (;;) {
      try {
        if (this.#emptyRequested) await this.#doEmpty();
        else if (this.#readErrorPending) await this.#doReadError();
        else if (this.#bufLen > 0) await this.#writeBatch();
        else if (this.#deleteQueue.length > 0) await this.#deleteReadFiles();
        else if (this.#needSync || this.#count >= this.#syncEvery) await this.#syncLogged();
        else {
          // Decided synchronously, so a put after this point starts a new run.
          this.#ioRunning = false;
          const spare = this.#spare;
          this.#spare = null;
          if (
            spare !== null && spare.length === WRITE_BUF_INITIAL &&
            idleWriteBuffers.length < IDLE_WRITE_BUFFERS_MAX
          ) idleWriteBuffers.push(spare);
          return;
        }
      } catch (err) {
        // Every step handles its own errors; this is a last resort that keeps the loop alive.
        this.#logger.error(`DISKQUEUE(${this.name}) io loop - ${errorOf(err).message}`);
      }
    }
  }

  /** Writes the whole write buffer: one write per file it spans, rolling files as needed. */
  async #writeBatch(): Promise<void> {
    const buf = this.#buf!;
    const len = this.#bufLen;
    const lastSeq = this.#putSeq;
    const gen = this.#emptyGen;
    let left = this.#bufCount;
    this.#buf = this.#spare;
    this.#spare = null;
    this.#bufLen = 0;
    this.#bufCount = 0;

    let error: Error | null = null;
    let off = 0;
    try {
      while (off < len && gen === this.#emptyGen) {
        // The records that fit in the current file (go-diskqueue rolls before a record when
        // writePos > 0 and writePos + 4 + len > maxBytesPerFile).
        let end = off;
        let pos = this.#writePos;
        let recs = 0;
        while (end < len) {
          const size = 4 + readLength(buf, end);
          if (pos > 0 && pos + size > this.#maxBytesPerFile) break;
          pos += size;
          end += size;
          recs++;
        }
        if (end === off) {
          await this.#roll();
          continue;
        }
        if (this.#writeFile === null) await this.#openWriteFile();
        if (end - off <= SYNC_WRITE_MAX) writeAllSync(this.#writeFile!, buf.subarray(off, end));
        else await writeAll(this.#writeFile!, buf.subarray(off, end));
        this.#writePos += end - off;
        this.#unwritten -= recs;
        left -= recs;
        off = end;
        this.#countOp(recs);
      }
    } catch (err) {
      error = errorOf(err);
      if (this.#writeFile !== null) {
        this.#writeFile.close();
        this.#writeFile = null;
      }
      this.#truncateOnOpen = true;
    }
    if (left > 0) {
      // Records not written: emptied (already uncounted) or lost to the error.
      this.#unwritten -= left;
      if (gen === this.#emptyGen) this.#depth -= left;
    }
    if (error !== null) {
      this.#logger.error(
        `DISKQUEUE(${this.name}) failed to write ${left} records - ${error.message}`,
      );
      this.#fail(error);
    } else if (gen === this.#emptyGen && (this.#needSync || this.#count >= this.#syncEvery)) {
      try {
        await this.#syncNow();
      } catch (err) {
        error = errorOf(err);
        this.#logger.error(`DISKQUEUE(${this.name}) failed to sync - ${error.message}`);
        this.#fail(error);
      }
    }
    if (error === null) this.#succeed();
    if (lastSeq > this.#doneSeq) this.#doneSeq = lastSeq;
    this.#settle(error);
    if (this.#spare === null && buf.length <= WRITE_BUF_KEEP) this.#spare = buf;
    // The reader may be waiting for exactly these records.
    if (this.#wantReadable) this.#startFill(false);
  }

  /** A write or sync failed: tell the owner (nsqd sets its health to the error). */
  #fail(err: Error): void {
    this.#failed = true;
    this.#callback(this.#onError, err);
  }

  /** A write or sync succeeded: after a failure, tell the owner (nsqd clears its health). */
  #succeed(): void {
    if (!this.#failed) return;
    this.#failed = false;
    this.#callback(this.#onSuccess);
  }

  #callback<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void {
    if (fn === undefined) return;
    try {
      fn(...args);
    } catch (err) {
      this.#logger.error(`DISKQUEUE(${this.name}) callback threw - ${errorOf(err).message}`);
    }
  }

  /** Settles flushed() waiters for every record up to doneSeq. */
  #settle(error: Error | null): void {
    const w = this.#waiters;
    let i = 0;
    while (i < w.length && w[i].seq <= this.#doneSeq) {
      if (error === null) w[i].resolve();
      else w[i].reject(error);
      i++;
    }
    if (i > 0) w.splice(0, i);
  }

  async #openWriteFile(): Promise<void> {
    const fn = this.#fileName(this.#writeFileNum);
    const f = await Deno.open(fn, { write: true, create: true, mode: 0o600 });
    try {
      this.#logger.info(`DISKQUEUE(${this.name}): writeOne() opened ${fn}`);
      if (this.#truncateOnOpen) {
        await f.truncate(this.#writePos);
        this.#truncateOnOpen = false;
      }
      if (this.#writePos > 0) await f.seek(this.#writePos, Deno.SeekMode.Start);
    } catch (err) {
      f.close();
      throw err;
    }
    this.#writeFile = f;
  }

  /** Moves writing to the next file: fsync the old one and persist metadata, then close it. */
  async #roll(): Promise<void> {
    const old = this.#writeFileNum;
    // A reader in this file must now stop at its final size.
    if (this.#readFileNum === old) this.#readFileEnd = this.#writePos;
    if (this.#truncateOnOpen) {
      // A failed write may have left bytes past writePos; the reader will trust the file's size.
      try {
        await Deno.truncate(this.#fileName(old), this.#writePos);
      } catch {
        // Nothing was written there after all (or the file is gone): nothing to cut.
      }
      this.#truncateOnOpen = false;
    }
    this.#writeFileNum = old + 1;
    this.#writePos = 0;
    await this.#syncLogged();
    if (this.#writeFile !== null) {
      this.#writeFile.close();
      this.#writeFile = null;
    }
    this.#maybeRotate();
  }

  async #syncLogged(): Promise<void> {
    try {
      await this.#syncNow();
      this.#succeed();
    } catch (err) {
      const e = errorOf(err);
      this.#logger.error(`DISKQUEUE(${this.name}) failed to sync - ${e.message}`);
      this.#fail(e);
    }
  }

  /** fsync the write file, delete passed read files, persist metadata. */
  async #syncNow(): Promise<void> {
    if (this.#writeFile !== null) {
      try {
        await this.#writeFile.sync();
      } catch (err) {
        this.#writeFile.close();
        this.#writeFile = null;
        throw err;
      }
    }
    if (this.#deleteQueue.length > 0) await this.#deleteReadFiles();
    await this.#persistMetaData();
  }

  /** Writes the metadata; state changed after the text is taken sets needSync again. */
  async #persistMetaData(): Promise<void> {
    this.#needSync = false;
    this.#count = 0;
    this.#disarmTimer();
    const text = formatMetaData({
      depth: this.#depth - this.#unwritten,
      readFileNum: this.#readFileNum,
      readPos: this.#readPos,
      writeFileNum: this.#writeFileNum,
      writePos: this.#writePos,
    });
    const tmp = `${this.#metaPath}.${Math.floor(Math.random() * Number.MAX_SAFE_INTEGER)}.tmp`;
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      try {
        await writeAll(f, encoder.encode(text));
        await f.sync();
      } finally {
        f.close();
      }
      await Deno.rename(tmp, this.#metaPath);
    } catch (err) {
      // A full disk: the old metadata stands; remove the temp file (go-diskqueue leaves it).
      await Deno.remove(tmp).catch(() => {});
      throw err;
    }
  }

  /** Deletes read files the reader has passed; schedules a sync (go-diskqueue's moveForward). */
  async #deleteReadFiles(): Promise<void> {
    const nums = this.#deleteQueue;
    this.#deleteQueue = [];
    for (const n of nums) {
      const fn = this.#fileName(n);
      try {
        await Deno.remove(fn);
      } catch (err) {
        this.#logger.error(
          `DISKQUEUE(${this.name}) failed to Remove(${fn}) - ${errorOf(err).message}`,
        );
      }
    }
    this.#needSync = true;
  }

  /** go-diskqueue's handleReadError: rename the bad file and skip to the next one. */
  async #doReadError(): Promise<void> {
    if (this.#fillActive) await this.#fillPromise;
    const bad = this.#readFileNum;
    this.#closeReadFile();
    if (bad === this.#writeFileNum) {
      // If the current write file cannot be read, something is wrong with it: write a new one.
      if (this.#writeFile !== null) {
        this.#writeFile.close();
        this.#writeFile = null;
      }
      this.#writeFileNum++;
      this.#writePos = 0;
      this.#truncateOnOpen = false;
    }
    const badFn = this.#fileName(bad);
    const badRenameFn = `${badFn}.bad`;
    this.#logger.warn(
      `DISKQUEUE(${this.name}) jump to next file and saving bad file as ${badRenameFn}`,
    );
    try {
      await Deno.rename(badFn, badRenameFn);
    } catch {
      this.#logger.error(
        `DISKQUEUE(${this.name}) failed to rename bad diskqueue file ${badFn} to ${badRenameFn}`,
      );
    }
    this.#readFileNum = bad + 1;
    this.#readPos = 0;
    this.#readFileEnd = -1;
    this.#ra = null;
    this.#raOff = this.#raEnd = 0;
    this.#needSync = true;
    this.#readErrorPending = false;
    this.#checkTail();
    if (this.#wantReadable) this.#startFill(false);
  }

  /** Sync half of empty(): the caller's records are already gone; drop the files. */
  #requestEmpty(): Promise<void> {
    this.#logger.info(`DISKQUEUE(${this.name}): emptying`);
    this.#unwritten -= this.#bufCount;
    this.#bufLen = 0;
    this.#bufCount = 0;
    this.#depth = 0;
    this.#emptyGen++;
    this.#readGen++;
    this.#ra = null;
    this.#raOff = this.#raEnd = 0;
    this.#doneSeq = this.#putSeq;
    this.#settle(null);
    this.#emptyRequested = true;
    const p = new Promise<void>((resolve, reject) => this.#emptyWaiters.push({ resolve, reject }));
    this.#kick();
    return p;
  }

  /** go-diskqueue's deleteAllFiles: remove readFileNum..writeFileNum and the metadata. */
  async #doEmpty(): Promise<void> {
    if (this.#fillActive) await this.#fillPromise;
    this.#closeReadFile();
    if (this.#writeFile !== null) {
      this.#writeFile.close();
      this.#writeFile = null;
    }
    let error: Error | null = null;
    // Files the reader already passed but the io loop has not deleted yet go too.
    const nums = this.#deleteQueue;
    this.#deleteQueue = [];
    for (let i = this.#readFileNum; i <= this.#writeFileNum; i++) nums.push(i);
    for (const i of nums) {
      try {
        await Deno.remove(this.#fileName(i));
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) {
          error = errorOf(err);
          this.#logger.error(
            `DISKQUEUE(${this.name}) failed to remove data file - ${error.message}`,
          );
        }
      }
    }
    this.#writeFileNum++;
    this.#writePos = 0;
    this.#readFileNum = this.#writeFileNum;
    this.#readPos = 0;
    this.#readFileEnd = -1;
    this.#ra = null;
    this.#raOff = this.#raEnd = 0;
    this.#readErrorPending = false;
    this.#truncateOnOpen = false;
    this.#count = 0;
    this.#needSync = false;
    this.#disarmTimer();
    try {
      await Deno.remove(this.#metaPath);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        error = errorOf(err);
        this.#logger.error(
          `DISKQUEUE(${this.name}) failed to remove metadata file - ${error.message}`,
        );
      }
    }
    this.#emptyRequested = false;
    const waiters = this.#emptyWaiters;
    this.#emptyWaiters = [];
    for (const w of waiters) {
      if (error === null) w.resolve();
      else w.reject(error);
    }
    if (this.#wantReadable) this.#startFill(false);
  }

  async #finishClose(persist: boolean): Promise<void> {
    this.#readGen++;
    this.#wantReadable = false;
    this.#disarmTimer();
    // Write out the buffer (and anything else queued), then stop.
    this.#kick();
    while (this.#ioRunning) await this.#ioPromise;
    if (this.#fillActive) await this.#fillPromise;
    if (persist) await this.#syncLogged();
    this.#disarmTimer();
    this.#closeReadFile();
    if (this.#writeFile !== null) {
      this.#writeFile.close();
      this.#writeFile = null;
    }
    this.#closed = true;
    this.#ra = null;
    this.#buf = this.#spare = null;
    this.#logger.info(`DISKQUEUE(${this.name}): closing ... ioLoop`);
  }

  // ---------------------------------------------------------------------------------------------
  // The reader

  /** read() found nothing in memory: remember the caller wants data and go get it. */
  #none(): null {
    if (!this.#closing && this.depth() > 0) {
      this.#wantReadable = true;
      this.#startFill(false);
    }
    return null;
  }

  /** After a record was handed out: reuse/free the buffer, roll files, prefetch, check the tail. */
  #afterHandOut(): void {
    const buffered = this.#raEnd - this.#raOff;
    if (this.#readFileNum < this.#writeFileNum) {
      if (this.#readFileEnd >= 0 && this.#readPos >= this.#readFileEnd) this.#maybeRotate();
    } else if (this.#readPos === this.#writePos) {
      this.#checkTail();
    }
    if (this.#fillActive) return;
    if (buffered === 0) {
      // Handed-out records are views into this buffer: never reuse it.
      this.#ra = null;
      this.#raOff = this.#raEnd = 0;
      if (!this.#moreOnDisk(this.#readPos)) return;
    }
    if (buffered < PREFETCH_BELOW && this.#moreInFile(this.#readPos + buffered)) {
      this.#startFill(true);
    }
  }

  /** Whether the read file has bytes past file position `pos` that can be read now. */
  #moreInFile(pos: number): boolean {
    if (this.#readFileNum < this.#writeFileNum) {
      return this.#readFileEnd < 0 || pos < this.#readFileEnd;
    }
    return pos < this.#writePos;
  }

  /** Whether bytes past file position `pos` of the read file (or later files) can be read now. */
  #moreOnDisk(pos: number): boolean {
    if (this.#readFileNum < this.#writeFileNum) {
      return this.#readFileEnd < 0 || pos < this.#readFileEnd ||
        this.#readFileNum + 1 < this.#writeFileNum || this.#writePos > 0;
    }
    return pos < this.#writePos;
  }

  /** Passing the end of a completed file deletes it and moves to the next (moveForward). */
  #maybeRotate(): void {
    if (this.#fillActive || this.#raEnd !== this.#raOff || this.#emptyRequested) return;
    if (this.#readFileNum >= this.#writeFileNum) return;
    if (this.#readFileEnd < 0 || this.#readPos < this.#readFileEnd) return;
    this.#rotate();
  }

  #rotate(): void {
    const old = this.#readFileNum;
    this.#closeReadFile();
    this.#readFileNum = old + 1;
    this.#readPos = 0;
    this.#readFileEnd = -1;
    this.#ra = null;
    this.#raOff = this.#raEnd = 0;
    this.#deleteQueue.push(old);
    this.#needSync = true;
    this.#kick();
    this.#checkTail();
  }

  #closeReadFile(): void {
    if (this.#readFile !== null) {
      this.#readFile.close();
      this.#readFile = null;
      this.#readFileFor = -1;
    }
  }

  /** Logs a read error and hands it to the io loop (handleReadError). */
  #readError(reason: string): void {
    if (this.#readErrorPending || this.#closing || this.#emptyRequested) return;
    this.#logger.error(
      `DISKQUEUE(${this.name}) reading at ${this.#readPos} of ${
        this.#fileName(this.#readFileNum)
      } - ${reason}`,
    );
    this.#readErrorPending = true;
    this.#readGen++;
    this.#kick();
  }

  /** 1: a whole valid record is buffered; 0: more bytes are needed; -1: invalid length. */
  #peek(): number {
    const avail = this.#raEnd - this.#raOff;
    if (this.#ra === null || avail < 4) return 0;
    const len = readLength(this.#ra, this.#raOff);
    if (len < this.#minMsgSize || len > this.#maxMsgSize) return -1;
    return avail >= 4 + len ? 1 : 0;
  }

  #startFill(prefetch: boolean): void {
    if (this.#fillActive || this.#closing || this.#emptyRequested || this.#readErrorPending) return;
    this.#fillActive = true;
    this.#fillPromise = this.#runFill(prefetch);
  }

  async #runFill(prefetch: boolean): Promise<void> {
    const gen = this.#readGen;
    try {
      await this.#fill(prefetch, gen);
    } catch (err) {
      if (gen === this.#readGen) this.#readError(errorOf(err).message);
    }
    this.#fillActive = false;
    this.#afterFill();
  }

  #afterFill(): void {
    if (this.#closing || this.#emptyRequested || this.#readErrorPending) return;
    if (this.#raOff === this.#raEnd) {
      this.#ra = null;
      this.#raOff = this.#raEnd = 0;
      this.#maybeRotate();
    }
    if (!this.#wantReadable) return;
    if (this.#peek() !== 0) {
      this.#wantReadable = false;
      queueMicrotask(() => {
        if (!this.#closing) this.#callback(this.onReadable ?? undefined);
      });
    } else if (this.#moreOnDisk(this.#readPos + this.#raEnd - this.#raOff)) {
      // A write completed while this fill was finishing.
      this.#startFill(false);
    }
  }

  /**
   * Reads ahead until a whole record is buffered (or, when prefetching, once more), the reader
   * has caught up with the writer, or a read error is found. Bounded: every iteration reads bytes,
   * moves to the next file, or returns.
   */
  async #fill(prefetch: boolean, gen: number): Promise<void> {
    let didRead = false;
    for (;;) {
      if (gen !== this.#readGen) return;
      const p = this.#peek();
      if (p < 0) {
        this.#readError(`invalid message read size (${readLength(this.#ra!, this.#raOff)})`);
        return;
      }
      if (p > 0 && (!prefetch || didRead)) return;

      const leftover = this.#raEnd - this.#raOff;
      const filePos = this.#readPos + leftover;
      const completed = this.#readFileNum < this.#writeFileNum;
      if (completed && this.#readFileEnd < 0) {
        if (!await this.#openReadFile(gen)) return;
        continue; // opening a completed file learns its size
      }
      const limit = completed ? this.#readFileEnd : this.#writePos;
      if (filePos >= limit) {
        if (p > 0) return; // prefetch: nothing more to read yet
        if (leftover > 0 || filePos > limit) {
          // A partial record at the end of the data: the file was cut short.
          this.#readError("unexpected EOF");
          return;
        }
        if (completed) {
          this.#rotate();
          continue;
        }
        // Caught up with the writer; writeBatch restarts the fill when more is written.
        this.#ra = null;
        this.#raOff = this.#raEnd = 0;
        return;
      }

      // Every await is followed by a fresh look at the state: read() keeps consuming meanwhile.
      // (It moves readPos and raOff together, so filePos itself does not change.)
      if (this.#readFile === null || this.#readFileFor !== this.#readFileNum) {
        if (!await this.#openReadFile(gen)) return;
        continue;
      }
      const f = this.#readFile;
      if (this.#readFileOffset !== filePos) {
        await f.seek(filePos, Deno.SeekMode.Start);
        if (gen !== this.#readGen) return;
        this.#readFileOffset = filePos;
        continue;
      }

      // Append after raEnd when the next record fits there and the space is worth a read;
      // otherwise move the leftover into a new buffer. Never compact in place: records handed
      // out are views into the bytes before raOff.
      const avail = limit - filePos;
      const need = this.#needBytes();
      let ra = this.#ra;
      if (
        ra === null || ra.length - this.#raOff < need ||
        ra.length - this.#raEnd < Math.min(avail, READ_MIN)
      ) {
        const size = Math.max(need, Math.min(READ_CHUNK, Math.max(READ_MIN, leftover + avail)));
        const nb = new Uint8Array(size);
        if (ra !== null && leftover > 0) nb.set(ra.subarray(this.#raOff, this.#raEnd));
        ra = this.#ra = nb;
        this.#raOff = 0;
        this.#raEnd = leftover;
      }
      const start = this.#raEnd;
      const n = await f.read(ra.subarray(start, start + Math.min(ra.length - start, avail)));
      if (gen !== this.#readGen) return;
      if (n === null || n === 0) {
        this.#readError("unexpected EOF");
        return;
      }
      // Only read() moved raOff meanwhile; the bytes landed at the old raEnd.
      this.#raEnd = start + n;
      this.#readFileOffset += n;
      didRead = true;
    }
  }

  /** Bytes the next record needs in the buffer: its header, then the whole record. */
  #needBytes(): number {
    if (this.#ra === null || this.#raEnd - this.#raOff < 4) return 4;
    return 4 + readLength(this.#ra, this.#raOff);
  }

  /** Opens the read file if needed; learns a completed file's size. False if aborted or failed. */
  async #openReadFile(gen: number): Promise<boolean> {
    const num = this.#readFileNum;
    if (this.#readFile === null || this.#readFileFor !== num) {
      this.#closeReadFile();
      const fn = this.#fileName(num);
      let f: Deno.FsFile;
      try {
        f = await Deno.open(fn, { read: true });
      } catch (err) {
        if (gen === this.#readGen) this.#readError(errorOf(err).message);
        return false;
      }
      if (gen !== this.#readGen || num !== this.#readFileNum) {
        f.close();
        return false;
      }
      this.#logger.info(`DISKQUEUE(${this.name}): readOne() opened ${fn}`);
      this.#readFile = f;
      this.#readFileFor = num;
      this.#readFileOffset = 0;
    }
    if (this.#readFileNum < this.#writeFileNum && this.#readFileEnd < 0) {
      // A completed file ends at its actual size.
      const st = await this.#readFile.stat();
      if (gen !== this.#readGen) return false;
      this.#readFileEnd = st.size;
    }
    return true;
  }
}
