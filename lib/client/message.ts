/**
 * A message as a Consumer hands it to a handler (go-nsq's message.go): its id, body, attempts
 * and timestamp, and the responses nsqd expects for it (FIN, REQ, TOUCH) on the connection it
 * came from.
 *
 * @module
 */

import { decodeMessage } from "../protocol/message.ts";

/** Where a message's responses go (the Consumer). */
export interface MessageDelegate {
  onFinish(m: Message): void;
  onRequeue(m: Message, delayMs: number, backoff: boolean): void;
  onTouch(m: Message): void;
}

/** @internal The key under which a message keeps its delegate (for the Consumer). */
export const MESSAGE_DELEGATE: unique symbol = Symbol("messageDelegate");

/** One message received from nsqd; see the module doc. */
export class Message {
  /** 16-character id nsqd gave the message. */
  readonly id: string;
  /** The body (a copy owned by this message). */
  readonly body: Uint8Array;
  /** Delivery attempts so far, this one included. */
  readonly attempts: number;
  /** The nsqd `host:port` it came from. */
  readonly nsqdAddress: string;
  #tsHi: number;
  #tsLo: number;
  #delegate: MessageDelegate;
  #responded = false;
  #autoResponseDisabled = false;

  /** @internal Built by the Consumer from a message frame (`data` is copied). */
  constructor(data: Uint8Array, nsqdAddress: string, delegate: MessageDelegate) {
    const d = decodeMessage(data);
    this.id = d.id;
    this.body = d.body.slice();
    this.attempts = d.attempts;
    this.#tsHi = d.tsHi;
    this.#tsLo = d.tsLo;
    this.nsqdAddress = nsqdAddress;
    this.#delegate = delegate;
  }

  /** @internal */
  get [MESSAGE_DELEGATE](): MessageDelegate {
    return this.#delegate;
  }

  /** When nsqd first received the message: nanoseconds since the epoch. */
  get timestamp(): bigint {
    return (BigInt(this.#tsHi) << 32n) | BigInt(this.#tsLo);
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
