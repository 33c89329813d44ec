/**
 * The message layout both ends of an NSQ connection share, inside a message frame and as a
 * go-diskqueue record (nsq's nsqd/message.go):
 * `[8-byte int64 timestamp ns][2-byte uint16 attempts][16-byte ASCII hex id][body]`.
 *
 * The timestamp travels as two uint32 halves because nanoseconds since 1970 exceed 2^53: the
 * halves round-trip Go's bytes exactly. nsqd's Message and the client's Message both follow it.
 */

export const MSG_ID_LENGTH = 16;
/** 8 (timestamp) + 2 (attempts) + 16 (id). */
export const MSG_HEADER_LENGTH = 26;
/** Smallest valid serialized message, also go-diskqueue's minimum record size. */
export const MIN_VALID_MSG_LENGTH = MSG_HEADER_LENGTH;

/** A message that can serialize itself into a frame or a record (FrameWriter takes these). */
export interface WireMessage {
  /** Serialized length: MSG_HEADER_LENGTH + body length. */
  readonly size: number;
  /** Writes the serialized message at `off` of `buf` (which must have room); returns the end. */
  writeTo(buf: Uint8Array, dv: DataView, off: number): number;
}

/** The fields of a serialized message; `body` is a view into the input. */
export interface DecodedMessage {
  id: string;
  tsHi: number;
  tsLo: number;
  attempts: number;
  body: Uint8Array;
}

/** Parses a serialized message; the body is a view into `data`. Throws a RangeError if short. */
export function decodeMessage(data: Uint8Array): DecodedMessage {
  if (data.length < MSG_HEADER_LENGTH) {
    throw new RangeError(`invalid message buffer size (${data.length})`);
  }
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    id: latin1(data, 10, 26),
    tsHi: dv.getUint32(0),
    tsLo: dv.getUint32(4),
    attempts: dv.getUint16(8),
    body: data.subarray(MSG_HEADER_LENGTH),
  };
}

/** Writes a message header (timestamp halves, attempts, 16-char id) at `off`; returns the body offset. */
export function writeMessageHeader(
  buf: Uint8Array,
  dv: DataView,
  off: number,
  tsHi: number,
  tsLo: number,
  attempts: number,
  id: string,
): number {
  dv.setUint32(off, tsHi);
  dv.setUint32(off + 4, tsLo);
  dv.setUint16(off + 8, attempts);
  for (let i = 0; i < MSG_ID_LENGTH; i++) buf[off + 10 + i] = id.charCodeAt(i);
  return off + MSG_HEADER_LENGTH;
}

/** Bytes [start, end) as a string of char codes (for ASCII names, ids and numbers). */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  if (end - start === 16) {
    return String.fromCharCode(
      buf[start],
      buf[start + 1],
      buf[start + 2],
      buf[start + 3],
      buf[start + 4],
      buf[start + 5],
      buf[start + 6],
      buf[start + 7],
      buf[start + 8],
      buf[start + 9],
      buf[start + 10],
      buf[start + 11],
      buf[start + 12],
      buf[start + 13],
      buf[start + 14],
      buf[start + 15],
    );
  }
  if (end - start <= 1024) {
    return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  }
  let s = "";
  for (let i = start; i < end; i += 1024) {
    s += String.fromCharCode.apply(
      null,
      buf.subarray(i, Math.min(end, i + 1024)) as unknown as number[],
    );
  }
  return s;
}
