/**
 * Deferred messages that keep their due time across a clean restart and, past
 * --max-deferred-in-memory, wait on disk (beyond NSQ, nsqio/nsq#1107; docs/beyond-nsq.md).
 *
 * Two per-channel files sit next to the channel's diskqueue files, named with a second `:`
 * (which no topic or channel name may contain, so no Go diskqueue name can ever match):
 *
 * - **The deferred index**, `<topic>:<channel>:deferred.dat`, with --persist-deferred. At a
 *   clean exit every deferred message still goes into the channel's diskqueue, exactly as Go
 *   nsqd does (so Go nsqd, which ignores this file, still delivers every message, at once);
 *   the index records each
 *   one's id and due time (ms since the epoch) plus the diskqueue's positions after the exit.
 *   At start, when the diskqueue's positions are still those (nothing read or wrote the queue
 *   since, e.g. Go nsqd), the channel keeps the id → due map; when it reads one of those
 *   messages from its diskqueue before its due time it defers it again for the time left, so
 *   it is delivered once, no earlier than due. Positions that differ make the index stale: it
 *   is ignored (the messages are delivered at once, as in Go) and replaced at the next exit.
 *   JSON: `{"version":1,"queue":{depth,readFileNum,readPos,writeFileNum,writePos},
 *   "deferred":[[id,dueMs],...]}`, written to a tmp file, fsynced and renamed.
 *
 * - **The spill queue**, a diskqueue named `<topic>:<channel>:deferred` (files
 *   `<topic>:<channel>:deferred.diskqueue.000000.dat` and `.meta.dat`), used only with
 *   --max-deferred-in-memory N: a message deferred while N are already in memory is appended
 *   there as `[float64 BE due ms][message]`. The scan loop moves spilled messages back, in
 *   FIFO order, into memory as room appears or straight to delivery once due; the one at the
 *   head waits in memory. A spilled message is therefore never delivered early, but one spilled
 *   behind a later-due one waits for it (with one delay per consumer, as with retries, FIFO
 *   order is due order). At a clean exit spilled messages move into the channel's diskqueue
 *   (and the index) like any other deferred message, and the spill queue's files are deleted.
 *
 * Exactly once: a deferred message is in one place at a time (memory, the spill queue or the
 * channel's diskqueue). A crash between writing the exit's diskqueue and deleting the spill
 * files can deliver a spilled message twice (NSQ's guarantee is at least once).
 *
 * @module
 */
import type { Logger } from "../internal/log.ts";
import { DiskQueue } from "./disk_queue.ts";
import type { DiskQueueMeta } from "./_disk_queue_format.ts";
import { Message } from "./message.ts";
import { MIN_VALID_MSG_LENGTH } from "../protocol/message.ts";
import type { NsqdOptions } from "./options.ts";

/** `<topic>:<channel>:deferred` — the base name of both files. */
export function deferredBaseName(topic: string, channel: string): string {
  return `${topic}:${channel}:deferred`;
}

/** `<dataPath>/<topic>:<channel>:deferred.dat` */
export function deferredIndexPath(dataPath: string, topic: string, channel: string): string {
  return `${dataPath.replace(/\/+$/, "")}/${deferredBaseName(topic, channel)}.dat`;
}

interface IndexFile {
  version: number;
  queue: DiskQueueMeta;
  deferred: [string, number][];
}

function samePositions(a: DiskQueueMeta, b: DiskQueueMeta): boolean {
  return a.depth === b.depth && a.readFileNum === b.readFileNum && a.readPos === b.readPos &&
    a.writeFileNum === b.writeFileNum && a.writePos === b.writePos;
}

/**
 * The id → due (ms since the epoch) map of a channel's deferred index, or null when there is
 * none, it is unreadable, or it is stale (the diskqueue moved since it was written).
 */
export function readDeferredIndex(
  path: string,
  queue: DiskQueueMeta,
  logger: Logger,
): Map<string, number> | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      logger.error(`DEFERRED: failed to read ${path} - ${(err as Error).message}`);
    }
    return null;
  }
  let f: IndexFile;
  try {
    f = JSON.parse(text);
    if (f?.version !== 1 || !Array.isArray(f.deferred) || typeof f.queue !== "object") {
      throw new Error("unknown format");
    }
  } catch (err) {
    logger.error(`DEFERRED: ignoring ${path} - ${(err as Error).message}`);
    return null;
  }
  if (!samePositions(f.queue, queue)) {
    logger.warn(
      `DEFERRED: ignoring ${path}: the queue changed since it was written (another program, ` +
        `e.g. Go nsqd, used the data directory); dropping the due times of its ${f.deferred.length} messages`,
    );
    return null;
  }
  const now = Date.now();
  const map = new Map<string, number>();
  for (const e of f.deferred) {
    if (Array.isArray(e) && typeof e[0] === "string" && typeof e[1] === "number" && e[1] > now) {
      map.set(e[0], e[1]);
    }
  }
  logger.info(`DEFERRED: ${map.size} deferred messages keep their due time (${path})`);
  return map.size > 0 ? map : null;
}

/** Writes the index atomically (tmp, fsync, rename); with no entries, removes it instead. */
export async function writeDeferredIndex(
  path: string,
  queue: DiskQueueMeta,
  entries: [string, number][],
): Promise<void> {
  if (entries.length === 0) {
    await removeFile(path);
    return;
  }
  const body: IndexFile = { version: 1, queue, deferred: entries };
  const data = new TextEncoder().encode(JSON.stringify(body));
  const tmp = `${path}.${Math.floor(Math.random() * 2 ** 31)}.tmp`;
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    let off = 0;
    while (off < data.length) off += await f.write(data.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
  await Deno.rename(tmp, path);
}

/** Removes a file if present. */
export async function removeFile(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

const SPILL_HEADER = 8;

/** What the spill needs from nsqd. */
export interface SpillHost {
  readonly opts: NsqdOptions;
  readonly dataPath: string;
  readonly logger: Logger;
  setHealth(err: Error | null): void;
}

/** A spilled message and its due time (ms since the epoch). */
export interface Spilled {
  msg: Message;
  dueMs: number;
}

/**
 * The spill queue of one channel (see the module comment). Created when a channel first spills,
 * or at start when its files hold messages from an earlier run that could not move them.
 */
export class DeferredSpill {
  readonly queue: DiskQueue;
  /** The oldest spilled message, read and waiting for room or its due time. */
  #head: Spilled | null = null;

  constructor(host: SpillHost, topic: string, channel: string) {
    this.queue = new DiskQueue({
      name: deferredBaseName(topic, channel),
      dataPath: host.dataPath,
      maxBytesPerFile: host.opts.maxBytesPerFile,
      minMsgSize: SPILL_HEADER + MIN_VALID_MSG_LENGTH,
      maxMsgSize: SPILL_HEADER + MIN_VALID_MSG_LENGTH + host.opts.maxMsgSize,
      syncEvery: host.opts.syncEvery,
      syncTimeout: host.opts.syncTimeout,
      logger: host.logger,
      onError: (err) => host.setHealth(err),
      onSuccess: () => host.setHealth(null),
    });
  }

  /** True when spill files of an earlier run exist for this channel. */
  static existsOnDisk(dataPath: string, topic: string, channel: string): boolean {
    try {
      Deno.statSync(
        `${dataPath.replace(/\/+$/, "")}/${deferredBaseName(topic, channel)}.diskqueue.meta.dat`,
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Spilled messages not yet moved back (the head included). */
  get count(): number {
    return this.queue.depth() + (this.#head === null ? 0 : 1);
  }

  /** Appends a deferred message due at `dueMs`. Throws when the queue fails. */
  put(msg: Message, dueMs: number): void {
    const rec = new Uint8Array(SPILL_HEADER + msg.size);
    const dv = new DataView(rec.buffer);
    dv.setFloat64(0, dueMs);
    msg.writeTo(rec, dv, SPILL_HEADER);
    this.queue.put(rec);
  }

  /** The next spilled message, or null when none is in memory right now. */
  #next(): Spilled | null {
    if (this.#head !== null) {
      const h = this.#head;
      this.#head = null;
      return h;
    }
    for (;;) {
      const rec = this.queue.read();
      if (rec === null) return null;
      try {
        const dueMs = new DataView(rec.buffer, rec.byteOffset, rec.byteLength).getFloat64(0);
        // Own the bytes: a deferred message can linger, a read-ahead chunk should not.
        return { msg: Message.decode(rec.slice(SPILL_HEADER)), dueMs };
      } catch {
        // decode errors are impossible for records that passed the queue's size checks
      }
    }
  }

  /**
   * Moves spilled messages back in FIFO order: those due (at `nowMs`) to `deliver`, others to
   * `defer` while `room` > 0; stops at the first that fits neither (it stays the head).
   * Returns how many moved.
   */
  refill(
    nowMs: number,
    room: number,
    deliver: (msg: Message) => void,
    defer: (msg: Message, dueMs: number) => void,
  ): number {
    let moved = 0;
    for (;;) {
      const s = this.#next();
      if (s === null) return moved;
      if (s.dueMs <= nowMs) {
        deliver(s.msg);
      } else if (room > 0) {
        room--;
        defer(s.msg, s.dueMs);
      } else {
        this.#head = s;
        return moved;
      }
      moved++;
    }
  }

  /**
   * Takes every spilled message (at exit), awaiting the queue's reads; gives up after
   * `stallMs` without progress (the files then stay for the next start).
   */
  async takeAll(each: (s: Spilled) => void, stallMs = 5000): Promise<boolean> {
    for (;;) {
      const s = this.#next();
      if (s !== null) {
        each(s);
        continue;
      }
      if (this.queue.depth() === 0) return true;
      // read() returned null and started a fill; onReadable follows it (asynchronously)
      const readable = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), stallMs);
        this.queue.onReadable = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      this.queue.onReadable = null;
      if (!readable) return false;
    }
  }

  /** Drops every spilled message (channel empty). */
  async empty(): Promise<void> {
    this.#head = null;
    await this.queue.empty();
  }

  /** Deletes the spill files (after a clean exit moved the messages, or channel deletion). */
  async delete(): Promise<void> {
    this.#head = null;
    await this.queue.delete();
  }

  /** Closes the queue keeping its files (the exit could not move every message). */
  async close(): Promise<void> {
    await this.queue.close();
  }
}

/** What {@linkcode closeDeferred} needs of a channel. */
export interface DeferredOwner {
  readonly name: string;
  readonly topic: { readonly name: string };
  readonly nsqd: SpillHost;
}

/**
 * A channel's exit, after its memory, in-flight and `deferred` messages went into `backend`:
 * spilled messages follow them, the backend is closed, the spill files are deleted and, with
 * --persist-deferred, the index records the due time of every deferred message now in the
 * backend (those just written and the `restored` ones this run never read).
 */
export async function closeDeferred(
  ch: DeferredOwner,
  backend: DiskQueue,
  deferred: readonly Message[],
  restored: ReadonlyMap<string, number> | null,
  spill: DeferredSpill | null,
): Promise<void> {
  const { logger, opts, dataPath } = ch.nsqd;
  const entries: [string, number][] = [];
  // in memory, due times are monotonic ms (`pri`); timeOrigin + pri is the wall-clock due time
  for (const m of deferred) entries.push([m.id, performance.timeOrigin + m.pri]);
  const now = Date.now();
  for (const [id, due] of restored ?? []) if (due > now) entries.push([id, due]);
  let spillDone = true;
  if (spill !== null) {
    spillDone = await spill.takeAll((s) => {
      try {
        backend.putRecord(s.msg);
        entries.push([s.msg.id, s.dueMs]);
      } catch (err) {
        logger.error(
          `CHANNEL(${ch.name}): failed to write message to backend - ${(err as Error).message}`,
        );
      }
    });
  }
  await backend.close();
  try {
    if (spill !== null) await (spillDone ? spill.delete() : spill.close());
    if (!opts.persistDeferred) return;
    await writeDeferredIndex(
      deferredIndexPath(dataPath, ch.topic.name, ch.name),
      backend.position(),
      entries,
    );
    if (entries.length > 0) {
      logger.info(`CHANNEL(${ch.name}): saved the due time of ${entries.length} deferred messages`);
    }
  } catch (err) {
    logger.error(`CHANNEL(${ch.name}): failed to save deferred index - ${(err as Error).message}`);
  }
}
