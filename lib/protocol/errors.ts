/**
 * Wire errors, shared by both ends of NSQ's TCP protocols (V2 for nsqd, V1 for nsqlookupd).
 *
 * An error travels as text, `CODE description` (nsqd sends it in an error frame, nsqlookupd as a
 * size-prefixed response), where CODE is one of the `E_*` codes below. The texts are exactly
 * what nsq's nsqd/protocol_v2.go and nsqlookupd/lookup_protocol_v1.go send; a fatal error closes
 * the connection after it is sent, a non-fatal one (E_FIN_FAILED, E_REQ_FAILED, E_TOUCH_FAILED)
 * leaves it open. Shaped like nsq's internal/protocol/errors.go (ClientErr, FatalClientErr).
 */

/** Every error code nsqd (protocol V2) and nsqlookupd (protocol V1) send. */
export type ErrorCode =
  | "E_INVALID"
  | "E_BAD_PROTOCOL"
  | "E_BAD_BODY"
  | "E_BAD_TOPIC"
  | "E_BAD_CHANNEL"
  | "E_BAD_MESSAGE"
  | "E_PUB_FAILED"
  | "E_MPUB_FAILED"
  | "E_DPUB_FAILED"
  | "E_FIN_FAILED"
  | "E_REQ_FAILED"
  | "E_TOUCH_FAILED"
  | "E_SUB_FAILED"
  | "E_IDENTIFY_FAILED"
  | "E_AUTH_DISABLED"
  | "E_AUTH_FIRST"
  | "E_AUTH_FAILED"
  | "E_UNAUTHORIZED";

/** The error codes that leave the connection open (nsqd's ClientErr, not FatalClientErr). */
export const NON_FATAL_ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  "E_FIN_FAILED",
  "E_REQ_FAILED",
  "E_TOUCH_FAILED",
]);

/**
 * A wire error a server answers with: `message` is the exact text sent (`code desc`);
 * `parent` is an underlying cause that is logged but not sent.
 */
export class ClientError extends Error {
  readonly code: ErrorCode;
  readonly desc: string;
  readonly parent: string | null;
  /** The connection closes after this error is sent. */
  get fatal(): boolean {
    return false;
  }

  constructor(code: ErrorCode, desc: string, parent: string | null = null) {
    super(desc === "" ? code : `${code} ${desc}`);
    this.code = code;
    this.desc = desc;
    this.parent = parent;
  }
}

/** A wire error after which the server closes the connection. */
export class FatalClientError extends ClientError {
  override get fatal(): boolean {
    return true;
  }
}

/** The code of an error text received from a server (`"E_INVALID cannot ..."` → `"E_INVALID"`). */
export function errorCode(text: string): string {
  const sp = text.indexOf(" ");
  return sp < 0 ? text : text.slice(0, sp);
}
