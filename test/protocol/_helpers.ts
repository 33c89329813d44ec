/** Test helpers for the protocol transports: data generators and an in-memory Transport pair. */
import type { Transport } from "../../lib/protocol/transport.ts";
import { concat } from "../_util/wire.ts";

/** `n` random bytes (crypto.getRandomValues is limited to 64 KiB per call). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** `n` bytes of NSQ-like traffic: 200-byte frames with a JSON body, compressible ~5x. */
export function messageBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  const enc = new TextEncoder();
  let o = 0;
  for (let k = seed; o < n; k++) {
    const frame = new Uint8Array(200);
    const dv = new DataView(frame.buffer);
    dv.setUint32(0, 196);
    dv.setUint32(4, 2);
    dv.setBigUint64(8, 1_700_000_000_000_000_000n + BigInt(k) * 1_000_003n);
    dv.setUint16(16, 1);
    const body = `${((k * 2654435761) >>> 0).toString(16).padStart(16, "0")}{"id":${k},` +
      `"user":"user${k % 97}","event":"click","ts":${1_700_000_000 + k},"v":${
        (k * 7919) % 100003
      }}`;
    frame.set(enc.encode(body.padEnd(182, " ")).subarray(0, 182), 18);
    const take = Math.min(200, n - o);
    out.set(frame.subarray(0, take), o);
    o += take;
  }
  return out;
}

/**
 * One end of an in-memory byte pipe. Writes copy into the peer's queue and may be short
 * (`maxWrite`) to exercise callers' write loops; reads wait for data or the peer's close.
 */
export class MemoryTransport implements Transport {
  peer!: MemoryTransport;
  readonly maxWrite: number;
  /** Every byte written by this end, for inspection. */
  readonly written: Uint8Array[] = [];
  writeCalls = 0;
  #queue: Uint8Array[] = [];
  #wake: (() => void) | null = null;
  #eof = false;
  #closed = false;

  constructor(maxWrite = Infinity) {
    this.maxWrite = maxWrite;
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    if (this.#queue.length > 0) {
      const head = this.#queue[0];
      const n = Math.min(p.length, head.length);
      p.set(head.subarray(0, n));
      if (n === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(n);
      return Promise.resolve(n);
    }
    if (this.#eof) return Promise.resolve(null);
    return new Promise<void>((resolve) => this.#wake = resolve).then(() => this.read(p));
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    this.writeCalls++;
    const n = Math.min(p.length, this.maxWrite);
    const copy = p.slice(0, n);
    this.written.push(copy);
    this.peer.#push(copy);
    return Promise.resolve(n);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.peer.#end();
    this.#wakeUp();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Makes the peer's next read see end of stream once the queue drains. */
  closeWrite(): void {
    this.peer.#end();
  }

  #push(p: Uint8Array) {
    if (p.length > 0) this.#queue.push(p);
    this.#wakeUp();
  }

  #end() {
    this.#eof = true;
    this.#wakeUp();
  }

  #wakeUp() {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** A connected pair of in-memory transports. */
export function memoryPipe(maxWrite = Infinity): [MemoryTransport, MemoryTransport] {
  const a = new MemoryTransport(maxWrite);
  const b = new MemoryTransport(maxWrite);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** Reads from `t` until `n` bytes arrived (or end of stream), using reads of `chunk` bytes. */
export async function readN(t: Transport, n: number, chunk = 4096): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  const buf = new Uint8Array(chunk);
  let o = 0;
  while (o < n) {
    const k = await t.read(buf.subarray(0, Math.min(chunk, n - o)));
    if (k === null) return out.subarray(0, o);
    out.set(buf.subarray(0, k), o);
    o += k;
  }
  return out;
}

/** Reads from `t` until end of stream. */
export async function readAll(t: Transport, chunk = 4096): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(chunk);
  for (;;) {
    const k = await t.read(buf);
    if (k === null) return concat(parts);
    parts.push(buf.slice(0, k));
  }
}

/** A connected loopback TCP pair: [server side, client side]. */
export async function tcpPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const accepted = listener.accept();
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    return [await accepted, client];
  } finally {
    listener.close();
  }
}
