/**
 * A channel's in-flight messages by id, for FIN / REQ / TOUCH.
 *
 * Keyed by a 30-bit hash of the 16 id bytes rather than by the id string: V8's Map with string
 * keys hashes and compares the whole string, and nsqd's ids share their first 13 characters
 * within a millisecond, which made `Map<string, Message>` set/get/delete cost about 2–4 µs per
 * message under load against ~0.5 µs for small-integer keys (the FIN path of a consumer at
 * RDY 2500 spent a quarter of nsqd's CPU there). A hash collision between two in-flight
 * messages is rare and handled exactly: the second goes into a string-keyed overflow map, and
 * every lookup checks the full id.
 *
 * @module
 */
import type { Message } from "./message.ts";
import { MSG_ID_LENGTH } from "../protocol/message.ts";

/** FNV-1a over the 16 char codes of `id`, to a small non-negative integer. */
export function idKey(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) & 0x3fffffff;
}

/** {@linkcode idKey} of the 16 bytes at `off` of `buf` (equal to idKey of their latin1 text). */
export function idKeyAt(buf: Uint8Array, off: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < MSG_ID_LENGTH; i++) h = Math.imul(h ^ buf[off + i], 0x01000193);
  return (h >>> 0) & 0x3fffffff;
}

/** Whether `id` equals the 16 bytes at `off` of `buf`. */
function idEqualsAt(id: string, buf: Uint8Array, off: number): boolean {
  if (id.length !== MSG_ID_LENGTH) return false;
  for (let i = 0; i < MSG_ID_LENGTH; i++) if (id.charCodeAt(i) !== buf[off + i]) return false;
  return true;
}

function keyOf(msg: Message): number {
  let k = msg.idKey;
  if (k < 0) k = msg.idKey = idKey(msg.id);
  return k;
}

export class InFlightIndex {
  readonly #byKey = new Map<number, Message>();
  /** Messages whose key was taken by another in-flight message (rare). */
  #overflow: Map<string, Message> | null = null;

  get size(): number {
    return this.#byKey.size + (this.#overflow?.size ?? 0);
  }

  /** Adds `msg`; false when a message with the same id is already in flight. */
  add(msg: Message): boolean {
    const k = keyOf(msg);
    const cur = this.#byKey.get(k);
    if (cur === undefined) {
      this.#byKey.set(k, msg);
      return true;
    }
    if (cur.id === msg.id) return false;
    const o = this.#overflow ??= new Map();
    if (o.has(msg.id)) return false;
    o.set(msg.id, msg);
    return true;
  }

  get(id: string): Message | undefined {
    const cur = this.#byKey.get(idKey(id));
    if (cur !== undefined && cur.id === id) return cur;
    return this.#overflow?.get(id);
  }

  /** The message whose id is the 16 bytes at `off` of `buf` (no string made on a hit). */
  getAt(buf: Uint8Array, off: number): Message | undefined {
    const cur = this.#byKey.get(idKeyAt(buf, off));
    if (cur !== undefined && idEqualsAt(cur.id, buf, off)) return cur;
    const o = this.#overflow;
    if (o === null || o.size === 0) return undefined;
    let id = "";
    for (let i = 0; i < MSG_ID_LENGTH; i++) id += String.fromCharCode(buf[off + i]);
    return o.get(id);
  }

  /** Removes `msg` itself (not another message with its id). */
  delete(msg: Message): void {
    const k = keyOf(msg);
    if (this.#byKey.get(k) === msg) this.#byKey.delete(k);
    else if (this.#overflow?.get(msg.id) === msg) this.#overflow.delete(msg.id);
  }

  clear(): void {
    this.#byKey.clear();
    this.#overflow = null;
  }
}
