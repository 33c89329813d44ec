/**
 * A scripted fake nsqd for the client's unit tests: a TCP server on 127.0.0.1 port 0 that
 * speaks just enough protocol V2 (magic, IDENTIFY with a JSON answer, SUB, RDY, FIN, REQ,
 * TOUCH, NOP, CLS → CLOSE_WAIT, PUB/MPUB/DPUB → OK) and records every command with its time,
 * while the test pushes messages, heartbeats and errors, or drops connections, at will.
 */
import { encodeFrame } from "../../lib/protocol/frame_writer.ts";
import { writeMessageHeader } from "../../lib/protocol/message.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One command the client sent. */
export interface Received {
  name: string;
  params: string[];
  body?: Uint8Array;
  /** performance.now() when it was parsed. */
  at: number;
}

/** One accepted client connection. */
export class FakeConn {
  readonly commands: Received[] = [];
  closed = false;
  #conn: Deno.Conn;
  #seq = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** The RDY counts received, in order. */
  get rdys(): number[] {
    return this.commands.filter((c) => c.name === "RDY").map((c) => Number(c.params[0]));
  }

  /** The last RDY count received (0 before any). */
  get rdy(): number {
    const r = this.rdys;
    return r.length === 0 ? 0 : r[r.length - 1];
  }

  named(name: string): Received[] {
    return this.commands.filter((c) => c.name === name);
  }

  async send(frame: Uint8Array): Promise<void> {
    if (this.closed) return;
    try {
      let off = 0;
      while (off < frame.length) off += await this.#conn.write(frame.subarray(off));
    } catch {
      this.closed = true;
    }
  }

  /** Sends a message frame; returns its id. */
  async message(body: string, attempts = 1, id?: string): Promise<string> {
    const msgId = id ?? (++this.#seq).toString(16).padStart(16, "0");
    const b = encoder.encode(body);
    const data = new Uint8Array(26 + b.length);
    const ns = BigInt(Date.now()) * 1_000_000n;
    writeMessageHeader(
      data,
      new DataView(data.buffer),
      0,
      Number(ns >> 32n),
      Number(ns & 0xffffffffn),
      attempts,
      msgId,
    );
    data.set(b, 26);
    await this.send(encodeFrame(2, data));
    return msgId;
  }

  heartbeat(): Promise<void> {
    return this.send(encodeFrame(0, "_heartbeat_"));
  }

  error(text: string): Promise<void> {
    return this.send(encodeFrame(1, text));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.#conn.close();
    } catch {
      // closed already
    }
  }
}

/** The fake server. `await using` closes it and every connection. */
export class FakeNsqd implements AsyncDisposable {
  readonly conns: FakeConn[] = [];
  /** nsqd's IDENTIFY answer fields (merged over defaults). */
  identify: Record<string, unknown> = {};
  #listener: Deno.TcpListener;
  #loops: Promise<void>[] = [];
  #accept: Promise<void>;

  private constructor(listener: Deno.TcpListener) {
    this.#listener = listener;
    this.#accept = this.#acceptLoop();
  }

  static start(identify: Record<string, unknown> = {}): FakeNsqd {
    const f = new FakeNsqd(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
    f.identify = identify;
    return f;
  }

  get address(): string {
    return `127.0.0.1:${this.#listener.addr.port}`;
  }

  /** The latest connection still open. */
  get live(): FakeConn[] {
    return this.conns.filter((c) => !c.closed);
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return;
      }
      const fc = new FakeConn(conn);
      this.conns.push(fc);
      this.#loops.push(this.#serve(conn, fc));
    }
  }

  async #serve(conn: Deno.Conn, fc: FakeConn): Promise<void> {
    let buf = new Uint8Array(0);
    const read = async (): Promise<boolean> => {
      const chunk = new Uint8Array(64 * 1024);
      let n: number | null;
      try {
        n = await conn.read(chunk);
      } catch {
        n = null;
      }
      if (n === null) return false;
      const next = new Uint8Array(buf.length + n);
      next.set(buf);
      next.set(chunk.subarray(0, n), buf.length);
      buf = next;
      return true;
    };
    try {
      while (buf.length < 4) if (!await read()) return;
      buf = buf.subarray(4); // "  V2"
      for (;;) {
        let nl = buf.indexOf(0x0a);
        while (nl < 0) {
          if (!await read()) return;
          nl = buf.indexOf(0x0a);
        }
        const [name, ...params] = decoder.decode(buf.subarray(0, nl)).split(" ");
        buf = buf.subarray(nl + 1);
        let body: Uint8Array | undefined;
        if (["IDENTIFY", "AUTH", "PUB", "MPUB", "DPUB"].includes(name)) {
          while (buf.length < 4) if (!await read()) return;
          const size = new DataView(buf.buffer, buf.byteOffset).getUint32(0);
          while (buf.length < 4 + size) if (!await read()) return;
          body = buf.slice(4, 4 + size);
          buf = buf.subarray(4 + size);
        }
        fc.commands.push({ name, params, body, at: performance.now() });
        switch (name) {
          case "IDENTIFY":
            await fc.send(encodeFrame(
              0,
              JSON.stringify({
                max_rdy_count: 2500,
                version: "1.3.0",
                max_msg_timeout: 900000,
                msg_timeout: 60000,
                tls_v1: false,
                deflate: false,
                deflate_level: 0,
                max_deflate_level: 6,
                snappy: false,
                sample_rate: 0,
                auth_required: false,
                output_buffer_size: 16384,
                output_buffer_timeout: 250,
                ...this.identify,
              }),
            ));
            break;
          case "SUB":
          case "PUB":
          case "MPUB":
          case "DPUB":
            await fc.send(encodeFrame(0, "OK"));
            break;
          case "CLS":
            await fc.send(encodeFrame(0, "CLOSE_WAIT"));
            break;
        }
      }
    } finally {
      fc.close();
    }
  }

  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // closed already
    }
    await this.#accept;
    for (const c of this.conns) c.close();
    await Promise.all(this.#loops);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
