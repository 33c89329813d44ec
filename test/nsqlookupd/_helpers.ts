/**
 * Test helpers for nsqlookupd: start a daemon on 127.0.0.1 port 0 with a collecting logger, a
 * protocol V1 wire client, and HTTP shortcuts. Private to test/nsqlookupd (and the nsqd lookup
 * tests, which need a real lookupd).
 */
import { Nsqlookupd } from "../../lib/nsqlookupd/nsqlookupd.ts";
import { defaultNsqlookupdOptions, type NsqlookupdOptions } from "../../lib/nsqlookupd/options.ts";
import { Logger } from "../../lib/internal/log.ts";
import { splitHostPort } from "../../lib/internal/net_addr.ts";

/** A started nsqlookupd and the log lines it wrote. */
export interface TestLookupd {
  lookupd: Nsqlookupd;
  lines: string[];
}

/** Starts nsqlookupd on 127.0.0.1 port 0 (both listeners) with debug logging collected. */
export async function startLookupd(
  overrides: Partial<NsqlookupdOptions> = {},
): Promise<TestLookupd> {
  const lines: string[] = [];
  const opts: NsqlookupdOptions = {
    ...defaultNsqlookupdOptions(),
    tcpAddress: "127.0.0.1:0",
    httpAddress: "127.0.0.1:0",
    broadcastAddress: "lookupd.test",
    logLevel: "debug",
    ...overrides,
  };
  const logger = new Logger(opts.logPrefix, opts.logLevel, (l) => lines.push(l));
  const lookupd = new Nsqlookupd(opts, logger);
  await lookupd.start();
  return { lookupd, lines };
}

/** A parsed HTTP answer. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  // deno-lint-ignore no-explicit-any
  json: any;
}

/** Sends a request to the lookupd's HTTP API and reads the whole answer. */
export async function http(
  lookupd: Nsqlookupd,
  method: string,
  pathAndQuery: string,
): Promise<HttpAnswer> {
  const res = await fetch(`http://${lookupd.httpAddress}${pathAndQuery}`, { method });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A raw protocol V1 client with deadlines on every read. */
export class V1Client implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  #buf = new Uint8Array(0);
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects and (unless `magic` is null) sends the magic. */
  static async connect(addr: string, magic: string | null = "  V1"): Promise<V1Client> {
    const { hostname, port } = splitHostPort(addr);
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    const c = new V1Client(conn);
    if (magic !== null) await c.write(magic);
    return c;
  }

  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /** Sends `line\n`. */
  send(line: string): Promise<void> {
    return this.write(line + "\n");
  }

  /** Sends `IDENTIFY\n[size][body]` (objects are JSON-encoded). */
  async identify(body: unknown): Promise<void> {
    const bytes = body instanceof Uint8Array
      ? body
      : enc.encode(typeof body === "string" ? body : JSON.stringify(body));
    const out = new Uint8Array(9 + 4 + bytes.length);
    out.set(enc.encode("IDENTIFY\n"));
    new DataView(out.buffer).setInt32(9, bytes.length);
    out.set(bytes, 13);
    await this.write(out);
  }

  /** Sends a command line and reads its `[size][data]` answer. */
  async command(line: string): Promise<string> {
    await this.send(line);
    return await this.readResponse();
  }

  /** Reads exactly `n` bytes; null at EOF. Rejects after `timeoutMs`. */
  async #readN(n: number, timeoutMs: number): Promise<Uint8Array | null> {
    const timer = setTimeout(() => this.close(), timeoutMs);
    try {
      while (this.#buf.length < n) {
        const chunk = new Uint8Array(4096);
        let got: number | null;
        try {
          got = await this.conn.read(chunk);
        } catch (err) {
          if (err instanceof Deno.errors.ConnectionReset) got = null;
          else throw err;
        }
        if (got === null) return null;
        const merged = new Uint8Array(this.#buf.length + got);
        merged.set(this.#buf);
        merged.set(chunk.subarray(0, got), this.#buf.length);
        this.#buf = merged;
      }
      const out = this.#buf.slice(0, n);
      this.#buf = this.#buf.slice(n);
      return out;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads one `[4-byte size][data]` answer as text. */
  async readResponse(timeoutMs = 2000): Promise<string> {
    const size = await this.#readN(4, timeoutMs);
    if (size === null) throw new Error("connection closed before a response");
    const n = new DataView(size.buffer).getInt32(0);
    const data = await this.#readN(n, timeoutMs);
    if (data === null) throw new Error("connection closed inside a response");
    return dec.decode(data);
  }

  /** Resolves when the server has closed the connection (EOF); rejects after the timeout. */
  async expectClosed(timeoutMs = 2000): Promise<void> {
    const got = await this.#readN(this.#buf.length + 1, timeoutMs);
    if (got !== null) throw new Error(`expected EOF, got ${dec.decode(got)}`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** A valid IDENTIFY body for a fake nsqd. */
export function nsqdIdentity(
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    broadcast_address: "nsqd.test",
    hostname: "nsqd-host",
    http_port: 4151,
    tcp_port: 4150,
    version: "1.3.0",
    ...overrides,
  };
}

/** Connects, sends magic and IDENTIFY, and returns the client with the lookupd's answer. */
export async function identifiedClient(
  lookupd: Nsqlookupd,
  overrides: Record<string, unknown> = {},
): Promise<{ client: V1Client; response: string }> {
  const client = await V1Client.connect(lookupd.tcpAddress);
  await client.identify(nsqdIdentity(overrides));
  const response = await client.readResponse();
  return { client, response };
}
