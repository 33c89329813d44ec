/**
 * Fakes shared by the micro benchmarks: an in-memory connection and an unstarted Nsqd whose
 * topics and channels use `#ephemeral` names (no disk), plus a subscribed client on a channel.
 *
 * @module
 */
import { silentLogger } from "../../lib/internal/log.ts";
import { ClientV2, STATE_SUBSCRIBED } from "../../lib/nsqd/client_v2.ts";
import type { Channel } from "../../lib/nsqd/channel.ts";
import { Nsqd } from "../../lib/nsqd/nsqd.ts";
import { defaultNsqdOptions } from "../../lib/nsqd/options.ts";

/**
 * A connection whose reads are fed by the benchmark and whose writes complete at once.
 * `feed(bytes)` resolves the pending `read` and resolves itself when the reader asks for more,
 * i.e. when protocol V2 has executed every command in the bytes.
 */
export class FakeConn {
  readonly remoteAddr: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 40000 };
  readonly localAddr: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 4150 };
  bytesWritten = 0;
  #target: Uint8Array | null = null;
  #deliver: ((n: number | null) => void) | null = null;
  #readCalled: (() => void) | null = null;
  #closed = false;

  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.resolve(null);
    this.#target = p;
    const called = this.#readCalled;
    this.#readCalled = null;
    const pending = new Promise<number | null>((resolve) => (this.#deliver = resolve));
    called?.();
    return pending;
  }

  write(p: Uint8Array): Promise<number> {
    this.bytesWritten += p.length;
    return Promise.resolve(p.length);
  }

  /** Hands `bytes` to the waiting read (in pieces if larger than its buffer); resolves when done. */
  async feed(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      if (this.#deliver === null) await new Promise<void>((r) => (this.#readCalled = r));
      const p = this.#target!;
      const n = Math.min(p.length, bytes.length - off);
      p.set(bytes.subarray(off, off + n));
      off += n;
      const deliver = this.#deliver!;
      this.#deliver = null;
      const consumed = new Promise<void>((r) => (this.#readCalled = r));
      deliver(n);
      await consumed;
    }
  }

  close(): void {
    this.#closed = true;
    this.#deliver?.(null);
    this.#deliver = null;
  }

  setNoDelay(): void {}
  setKeepAlive(): void {}
  ref(): void {}
  unref(): void {}
}

/** An unstarted Nsqd with default options (no I/O; use `#ephemeral` names to stay off disk). */
export function fakeNsqd(): Nsqd {
  return new Nsqd({ ...defaultNsqdOptions(), logLevel: "fatal" }, silentLogger());
}

let nextId = 1;

/**
 * A ClientV2 over a FakeConn. Its heartbeat timer stays armed; `deno bench` exits anyway once
 * every bench has run.
 */
export function fakeClient(nsqd: Nsqd): { client: ClientV2; conn: FakeConn } {
  const conn = new FakeConn();
  const client = new ClientV2(nextId++, conn as unknown as Deno.Conn, nsqd.opts, () => {});
  return { client, conn };
}

/** A client subscribed to `channel` with RDY `rdy`, as SUB + RDY would leave it. */
export function subscribedClient(nsqd: Nsqd, channel: Channel, rdy = 2500): ClientV2 {
  const { client } = fakeClient(nsqd);
  client.state = STATE_SUBSCRIBED;
  client.channel = channel;
  channel.addClient(client);
  client.setReadyCount(rdy);
  return client;
}
