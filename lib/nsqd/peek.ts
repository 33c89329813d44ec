/**
 * Peek (beyond NSQ, nsqio/nsq#848): the next queued messages of a channel or topic, read
 * without taking them, for `GET /channel/peek` and `GET /topic/peek` (docs/beyond-nsq.md).
 *
 * Memory-queue messages are read in place. Disk messages are read from the diskqueue's data
 * files starting at its persisted read position (the record after the last one handed out),
 * with a separate file handle, so the queue's own read-ahead, positions and counts are never
 * touched. Nothing here runs unless an operator calls a peek endpoint.
 *
 * @module
 */
import { Message } from "./message.ts";
import { MSG_HEADER_LENGTH } from "../protocol/message.ts";
import type { DiskQueue } from "./disk_queue.ts";

/** Most messages one peek returns (`n` is clamped to 1..MAX_PEEK). */
export const MAX_PEEK = 100;

/**
 * Up to `n` records of `dq` from its read position on, oldest first, without moving it.
 * Records still in the write buffer are written first (`flushed()`); a file that disappears
 * meanwhile (a consumer passed it) ends the peek early rather than failing it.
 */
export async function peekDiskQueue(dq: DiskQueue, n: number): Promise<Message[]> {
  await dq.flushed();
  const pos = dq.position();
  const out: Message[] = [];
  let fileNum = pos.readFileNum;
  let off = pos.readPos;
  const want = Math.min(n, Math.max(0, pos.depth));
  while (out.length < want) {
    let f: Deno.FsFile;
    try {
      f = await Deno.open(dq.fileName(fileNum), { read: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) break;
      throw err;
    }
    try {
      await f.seek(off, Deno.SeekMode.Start);
      const lenBuf = new Uint8Array(4);
      while (out.length < want) {
        if (!(await readFull(f, lenBuf))) break; // end of this file
        const len = new DataView(lenBuf.buffer).getInt32(0);
        if (len < MSG_HEADER_LENGTH) return out; // corrupt: the queue itself will deal with it
        const rec = new Uint8Array(len);
        if (!(await readFull(f, rec))) return out;
        out.push(Message.decode(rec));
        off += 4 + len;
      }
    } finally {
      f.close();
    }
    if (fileNum >= pos.writeFileNum) break;
    fileNum++;
    off = 0;
  }
  return out;
}

/** Fills `buf` from `f`; false at end of file (a partial record counts as the end). */
async function readFull(f: Deno.FsFile, buf: Uint8Array): Promise<boolean> {
  let got = 0;
  while (got < buf.length) {
    const r = await f.read(buf.subarray(got));
    if (r === null) return false;
    got += r;
  }
  return true;
}

const TWO_32 = 4294967296n;

/** Standard base64 of bytes (Go's `base64.StdEncoding`). */
function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * The peek answer `{"messages":[{"id","timestamp","attempts","body_base64"}]}`, with the
 * timestamp as the exact int64 nanoseconds of the message header (beyond a double's precision,
 * so the JSON is written by hand).
 */
export function renderPeekJson(msgs: readonly Message[]): string {
  const parts = msgs.map((m) => {
    const ts = BigInt(m.tsHi) * TWO_32 + BigInt(m.tsLo);
    return `{"id":${JSON.stringify(m.id)},"timestamp":${ts},"attempts":${m.attempts},` +
      `"body_base64":"${base64(m.body)}"}`;
  });
  return `{"messages":[${parts.join(",")}]}`;
}

/** What a channel or topic shows peek: its memory queue head. */
export interface PeekSource {
  /** The first `n` messages of the memory queue, oldest first. */
  peekMemory(n: number): Message[];
  /** True for a disk message that is not due yet (a deferred message restored after a restart). */
  peekSkip?(msg: Message): boolean;
}

/**
 * The next `n` messages of `src`: its memory queue, then its disk queue. That is exactly the
 * delivery order while only one of the two holds messages (the usual case: memory until
 * --mem-queue-size is reached, disk after a restart). While both do, a channel interleaves
 * them as they become readable (Go's select over its two queues picks at random), so the
 * peeked messages are the next ones but may be delivered in a different order.
 */
export async function peekQueued(
  src: PeekSource,
  disk: DiskQueue | null,
  n: number,
): Promise<Message[]> {
  const skip = src.peekSkip?.bind(src);
  let fromDisk = disk === null ? [] : await peekDiskQueue(disk, skip ? 2 * n : n);
  if (skip !== undefined) fromDisk = fromDisk.filter((m) => !skip(m));
  const out = src.peekMemory(n);
  for (let i = 0; out.length < n && i < fromDisk.length; i++) out.push(fromDisk[i]);
  return out;
}
