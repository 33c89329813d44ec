/**
 * A Transport over a node:net (or node:tls) socket, adapting its push-style events to the
 * pull-style `read` a connection's read loop uses.
 *
 * Reads are served from chunks queued by the socket's 'data' events; the socket is paused while
 * more than 256 KiB wait, so a slow reader applies backpressure to the peer. `write` resolves
 * once the socket has taken the bytes (the caller may then reuse them).
 *
 * @module
 */

import type { Socket } from "node:net";
import type { Transport } from "./transport.ts";

const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;

export class SocketTransport implements Transport {
  readonly socket: Socket;
  #queue: Uint8Array[] = [];
  #head = 0;
  #headOff = 0;
  #queued = 0;
  #paused = false;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #closed = false;
  // deno-lint-ignore no-explicit-any
  #listeners: [string, (...args: any[]) => void][];

  constructor(socket: Socket) {
    this.socket = socket;
    const onData = (chunk: Uint8Array) => {
      this.#queue.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued > HIGH_WATER && !this.#paused) {
        this.#paused = true;
        socket.pause();
      }
      this.#notify();
    };
    const onEnd = () => {
      this.#ended = true;
      this.#notify();
    };
    const onError = (err: Error) => {
      this.#error ??= err;
      this.#notify();
    };
    this.#listeners = [["data", onData], ["end", onEnd], ["close", onEnd], ["error", onError]];
    for (const [event, fn] of this.#listeners) socket.on(event, fn);
  }

  #notify() {
    const wake = this.#wake;
    if (wake) {
      this.#wake = null;
      wake();
    }
  }

  /** Reads bytes; null once the peer closed and everything was read. */
  async read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return 0;
    for (;;) {
      if (this.#head < this.#queue.length) return this.#take(p);
      if (this.#closed || this.#ended) return null;
      if (this.#error) throw this.#error;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  #take(p: Uint8Array): number {
    let n = 0;
    while (n < p.length && this.#head < this.#queue.length) {
      const chunk = this.#queue[this.#head];
      const k = Math.min(p.length - n, chunk.length - this.#headOff);
      p.set(chunk.subarray(this.#headOff, this.#headOff + k), n);
      n += k;
      this.#headOff += k;
      if (this.#headOff === chunk.length) {
        this.#head++;
        this.#headOff = 0;
      }
    }
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 64) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    this.#queued -= n;
    if (this.#paused && this.#queued <= LOW_WATER) {
      this.#paused = false;
      this.socket.resume();
    }
    return n;
  }

  /** Sends all of `p`; resolves with p.length. */
  write(p: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("Transport is closed"));
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.socket.write(p, (err?: Error | null) => err ? reject(err) : resolve(p.length));
    });
  }

  /**
   * Stops reading from the socket and hands it over (e.g. to a TLS client handshake), with the
   * bytes received and not read yet put back in front of its stream. The transport is unusable
   * afterwards; the socket stays open.
   */
  detach(): Socket {
    for (const [event, fn] of this.#listeners) this.socket.off(event, fn);
    this.socket.pause();
    const rest = this.#queue.slice(this.#head);
    if (rest.length > 0) rest[0] = rest[0].subarray(this.#headOff);
    for (let i = rest.length - 1; i >= 0; i--) this.socket.unshift(rest[i]);
    this.#queue = [];
    this.#head = this.#headOff = this.#queued = 0;
    this.#closed = true;
    this.#notify();
    return this.socket;
  }

  /** Closes the socket; pending reads resolve null. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.socket.destroy();
    this.#notify();
  }
}
