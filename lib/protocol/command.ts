/**
 * Encoding of the V2 commands a client sends (nsq's doc "TCP Protocol Spec", go-nsq's
 * command.go): `NAME param param\n`, followed for commands with a body by
 * `[4-byte big-endian size][body]`.
 *
 * Every function returns the whole command as one Uint8Array, ready to append to a connection's
 * buffered writer. The per-message commands (FIN, REQ, TOUCH, RDY) are built byte by byte from
 * the 16-character ASCII message id without a TextEncoder round trip.
 *
 * @module
 */

import { MSG_ID_LENGTH } from "./message.ts";

/** The 4 bytes a V2 client sends first. */
export const MAGIC_V2: Uint8Array = new Uint8Array([0x20, 0x20, 0x56, 0x32]); // "  V2"

const encoder = new TextEncoder();
const NEWLINE = 0x0a;
const SPACE = 0x20;

/** `NAME p1 p2\n` with an optional size-prefixed body. */
export function encodeCommand(
  name: string,
  params: readonly string[] = [],
  body?: Uint8Array,
): Uint8Array {
  const head = encoder.encode(params.length > 0 ? `${name} ${params.join(" ")}\n` : `${name}\n`);
  if (body === undefined) return head;
  const out = new Uint8Array(head.length + 4 + body.length);
  out.set(head, 0);
  new DataView(out.buffer).setUint32(head.length, body.length);
  out.set(body, head.length + 4);
  return out;
}

/** Writes ASCII `s` into `buf` at `off`; returns the end. */
function putAscii(buf: Uint8Array, off: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[off++] = s.charCodeAt(i);
  return off;
}

/**
 * `NAME <id>[ <arg>]\n` for the per-message commands; the id as its string or as the 16 ASCII
 * bytes of the message frame (copied without decoding).
 */
function messageCommand(name: string, id: string | Uint8Array, arg?: string): Uint8Array {
  if (id.length !== MSG_ID_LENGTH) throw new RangeError(`Invalid message id "${id}"`);
  const len = name.length + 1 + MSG_ID_LENGTH + (arg === undefined ? 0 : arg.length + 1) + 1;
  const out = new Uint8Array(len);
  let off = putAscii(out, 0, name);
  out[off++] = SPACE;
  if (typeof id === "string") {
    off = putAscii(out, off, id);
  } else {
    out.set(id, off);
    off += MSG_ID_LENGTH;
  }
  if (arg !== undefined) {
    out[off++] = SPACE;
    off = putAscii(out, off, arg);
  }
  out[off] = NEWLINE;
  return out;
}

/** `IDENTIFY\n[size][json]`: `fields` are sent as nsqd's JSON keys (snake_case). */
export function identifyCommand(fields: object): Uint8Array {
  return encodeCommand("IDENTIFY", [], encoder.encode(JSON.stringify(fields)));
}

/** `AUTH\n[size][secret]`. */
export function authCommand(secret: string): Uint8Array {
  return encodeCommand("AUTH", [], encoder.encode(secret));
}

/** `SUB <topic> <channel>\n`. */
export function subCommand(topic: string, channel: string): Uint8Array {
  return encodeCommand("SUB", [topic, channel]);
}

/** `RDY <count>\n`. */
export function rdyCommand(count: number): Uint8Array {
  const n = String(Math.max(0, Math.trunc(count)));
  const out = new Uint8Array(5 + n.length);
  putAscii(out, 0, "RDY ");
  putAscii(out, 4, n);
  out[4 + n.length] = NEWLINE;
  return out;
}

/** `FIN <id>\n`. */
export function finCommand(id: string | Uint8Array): Uint8Array {
  return messageCommand("FIN", id);
}

/** `REQ <id> <timeout ms>\n`. */
export function reqCommand(id: string | Uint8Array, delayMs: number): Uint8Array {
  return messageCommand("REQ", id, String(Math.max(0, Math.trunc(delayMs))));
}

/** `TOUCH <id>\n`. */
export function touchCommand(id: string | Uint8Array): Uint8Array {
  return messageCommand("TOUCH", id);
}

/** A body given as bytes or as text (encoded as UTF-8). */
export type Body = Uint8Array | string;

function bytesOf(body: Body): Uint8Array {
  return typeof body === "string" ? encoder.encode(body) : body;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** `PUB <topic>\n[size][body]`: one allocation for ASCII topics (every valid name is). */
export function pubCommand(topic: string, body: Body): Uint8Array {
  if (!isAscii(topic)) return encodeCommand("PUB", [topic], bytesOf(body));
  const head = 4 + topic.length + 1;
  if (typeof body === "string" && body.length > 1024) body = encoder.encode(body);
  if (typeof body === "string") {
    // Worst case 3 bytes per UTF-16 unit; encodeInto writes in place, then trim.
    const out = new Uint8Array(head + 4 + body.length * 3);
    const n = encoder.encodeInto(body, out.subarray(head + 4)).written;
    writePubHead(out, topic, n);
    return out.subarray(0, head + 4 + n);
  }
  const out = new Uint8Array(head + 4 + body.length);
  writePubHead(out, topic, body.length);
  out.set(body, head + 4);
  return out;
}

function writePubHead(out: Uint8Array, topic: string, size: number): void {
  let off = putAscii(out, 0, "PUB ");
  off = putAscii(out, off, topic);
  out[off++] = NEWLINE;
  out[off++] = size >>> 24;
  out[off++] = (size >>> 16) & 0xff;
  out[off++] = (size >>> 8) & 0xff;
  out[off] = size & 0xff;
}

/** `DPUB <topic> <defer ms>\n[size][body]`. */
export function dpubCommand(topic: string, deferMs: number, body: Body): Uint8Array {
  return encodeCommand("DPUB", [topic, String(Math.max(0, Math.trunc(deferMs)))], bytesOf(body));
}

/** `MPUB <topic>\n[size][count][size][body]...`. */
export function mpubCommand(topic: string, bodies: readonly Body[]): Uint8Array {
  const parts = bodies.map(bytesOf);
  let size = 4;
  for (const p of parts) size += 4 + p.length;
  const head = encoder.encode(`MPUB ${topic}\n`);
  const out = new Uint8Array(head.length + 4 + size);
  const dv = new DataView(out.buffer);
  out.set(head, 0);
  let off = head.length;
  dv.setUint32(off, size);
  dv.setUint32(off + 4, parts.length);
  off += 8;
  for (const p of parts) {
    dv.setUint32(off, p.length);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

/** `NOP\n` (the answer to a heartbeat). */
export const NOP_COMMAND: Uint8Array = encoder.encode("NOP\n");

/** `CLS\n` (start a graceful close: nsqd answers `CLOSE_WAIT`). */
export const CLS_COMMAND: Uint8Array = encoder.encode("CLS\n");
