/**
 * A message as a Consumer hands it to a handler (go-nsq's message.go): its id, body, attempts
 * and timestamp, and the responses nsqd expects for it (FIN, REQ, TOUCH) on the connection it
 * came from.
 *
 * @module
 */

import { latin1, MSG_HEADER_LENGTH } from "../protocol/message.ts";

/** Where a message's responses go (the Consumer). */
export interface MessageDelegate {
  onFinish(m: Message): void;
  onRequeue(m: Message, delayMs: number, backoff: boolean): void;
  onTouch(m: Message): void;
}

/** @internal The key under which a message keeps its delegate (for the Consumer). */
export const MESSAGE_DELEGATE: unique symbol = Symbol("messageDelegate");
/** @internal The key of a message's raw id bytes. */
export const MESSAGE_ID_BYTES: unique symbol = Symbol("messageIdBytes");

/** One message received from nsqd; see the module doc. */
export class Message {
  /** The body (a view into the message's own copy of the frame). */
  readonly body: Uint8Array;
  /** Delivery attempts so far, this one included. */
  readonly attempts: number;
  /** The nsqd `host:port` it came from. */
  readonly nsqdAddress: string;
  /** The serialized message (lib/protocol/message.ts layout), copied once from the frame. */
  #raw: Uint8Array;
  #id: string | null = null;
  #delegate: MessageDelegate;
  #responded = false;
  #autoResponseDisabled = false;

  /** @internal Built by the Consumer from a message frame (`data` is copied). */
  constructor(data: Uint8Array, nsqdAddress: string, delegate: MessageDelegate) {
    if (data.length < MSG_HEADER_LENGTH) {
      throw new RangeError(`invalid message buffer size (${data.length})`);
    }
    // One copy of the whole message: the body is a view into it and so is the id, which FIN,
    // REQ and TOUCH copy straight into their commands.
    const raw = data.slice();
    this.#raw = raw;
    this.body = raw.subarray(MSG_HEADER_LENGTH);
    this.attempts = (raw[8] << 8) | raw[9];
    this.nsqdAddress = nsqdAddress;
    this.#delegate = delegate;
  }

  /** 16-character id nsqd gave the message. */
  get id(): string {
    return this.#id ??= latin1(this.#raw, 10, MSG_HEADER_LENGTH);
  }

  /** @internal The id's 16 ASCII bytes (a view; FIN/REQ/TOUCH encode from it). */
  get [MESSAGE_ID_BYTES](): Uint8Array {
    return this.#raw.subarray(10, MSG_HEADER_LENGTH);
  }

  /** @internal */
  get [MESSAGE_DELEGATE](): MessageDelegate {
    return this.#delegate;
  }

  /** When nsqd first received the message: nanoseconds since the epoch. */
  get timestamp(): bigint {
    const dv = new DataView(this.#raw.buffer, this.#raw.byteOffset, 8);
    return dv.getBigUint64(0);
  }

  /** True once finish() or requeue() was called. */
  get hasResponded(): boolean {
    return this.#responded;
  }

  /** True when the handler's outcome will not FIN/REQ the message automatically. */
  get isAutoResponseDisabled(): boolean {
    return this.#autoResponseDisabled;
  }

  /** The handler answers the message itself (e.g. later, asynchronously). */
  disableAutoResponse(): void {
    this.#autoResponseDisabled = true;
  }

  /** FIN: the message is done. No-op after a response. */
  finish(): void {
    if (this.#responded) return;
    this.#responded = true;
    this.#delegate.onFinish(this);
  }

  /**
   * REQ: nsqd delivers the message again after `delayMs`. Without a delay (or -1) the delay is
   * `defaultRequeueDelay * attempts`, capped at `maxRequeueDelay`. `backoff` (default true)
   * signals a failure to the Consumer's backoff. No-op after a response.
   */
  requeue(delayMs = -1, backoff = true): void {
    if (this.#responded) return;
    this.#responded = true;
    this.#delegate.onRequeue(this, delayMs, backoff);
  }

  /** REQ without a backoff signal (go-nsq's RequeueWithoutBackoff). */
  requeueWithoutBackoff(delayMs = -1): void {
    this.requeue(delayMs, false);
  }

  /** TOUCH: resets nsqd's timeout for this message. No-op after a response. */
  touch(): void {
    if (this.#responded) return;
    this.#delegate.onTouch(this);
  }
}
