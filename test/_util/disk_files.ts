/**
 * go-diskqueue's files as Go nsqd leaves them in its data dir, read and written independently of
 * lib/nsqd/disk_queue.ts: `<queue>.diskqueue.NNNNNN.dat` segments of `[int32 BE length][message]`
 * records and the `<queue>.diskqueue.meta.dat` text `depth\nreadFileNum,readPos\nwriteFileNum,
 * writePos\n`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { concat, decodeMessage, type Msg } from "./wire.ts";

/** The path of segment `n` of queue `queue` (a topic, or `topic:channel`) in `dir`. */
export function segmentPath(dir: string, queue: string, n: number): string {
  return `${dir}/${queue}.diskqueue.${String(n).padStart(6, "0")}.dat`;
}

/** The path of the metadata file of queue `queue` in `dir`. */
export function metaPath(dir: string, queue: string): string {
  return `${dir}/${queue}.diskqueue.meta.dat`;
}

/** One record as go-diskqueue writes it: `[int32 BE length][payload]`. */
export function encodeRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setInt32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** A segment holding `payloads` as consecutive records. */
export function encodeSegment(payloads: Uint8Array[]): Uint8Array {
  return concat(payloads.map(encodeRecord));
}

/** A record found in a segment: where its length prefix starts, the length, its payload. */
export interface DiskRecord {
  offset: number;
  length: number;
  payload: Uint8Array;
}

/**
 * The message records of `data` from `start` to `end` (default: the whole segment). Asserts each
 * length holds at least a message header (26 bytes) and ends within `end`; `name` labels failures.
 */
export function parseRecords(
  data: Uint8Array,
  { start = 0, end = data.length, name = "segment" }: {
    start?: number;
    end?: number;
    name?: string;
  } = {},
): DiskRecord[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: DiskRecord[] = [];
  for (let pos = start; pos < end;) {
    const len = view.getInt32(pos);
    assert.ok(len >= 26 && pos + 4 + len <= end, `${name}: bad record length ${len} at ${pos}`);
    out.push({ offset: pos, length: len, payload: data.subarray(pos + 4, pos + 4 + len) });
    pos += 4 + len;
  }
  return out;
}

/** Parses a go-diskqueue metadata file: depth, read and write positions. */
export function parseMeta(text: string): {
  depth: number;
  readFileNum: number;
  readPos: number;
  writeFileNum: number;
  writePos: number;
} {
  const m = /^(-?\d+)\n(\d+),(\d+)\n(\d+),(\d+)\n$/.exec(text);
  assert.ok(m, `metadata in go-diskqueue's "%d\\n%d,%d\\n%d,%d\\n" form: ${JSON.stringify(text)}`);
  const [depth, readFileNum, readPos, writeFileNum, writePos] = m.slice(1).map(Number);
  return { depth, readFileNum, readPos, writeFileNum, writePos };
}

/**
 * Reads the unread messages of queue `name` straight from the files, as go-diskqueue would:
 * from (readFileNum, readPos) to (writeFileNum, writePos). Asserts their count is the depth.
 */
export async function readDiskQueue(dir: string, name: string): Promise<Msg[]> {
  const meta = parseMeta(await Deno.readTextFile(metaPath(dir, name)));
  const out: Msg[] = [];
  for (let n = meta.readFileNum; n <= meta.writeFileNum; n++) {
    const fn = segmentPath(dir, name, n);
    let data: Uint8Array;
    try {
      data = await Deno.readFile(fn);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound && n === meta.writeFileNum && meta.writePos === 0) {
        break; // go-diskqueue creates the write file lazily
      }
      throw err;
    }
    const end = n === meta.writeFileNum ? meta.writePos : data.length;
    assert.ok(end <= data.length, `${fn}: writePos ${end} beyond its size ${data.length}`);
    const start = n === meta.readFileNum ? meta.readPos : 0;
    for (const r of parseRecords(data, { start, end, name: fn })) {
      out.push(decodeMessage(r.payload));
    }
  }
  assert.equal(out.length, meta.depth, `${name}: records on disk vs metadata depth`);
  return out;
}
