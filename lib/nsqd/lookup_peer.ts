/**
 * One nsqd → nsqlookupd connection (docs/nsqd.md#lookup-loop; nsq's `nsqd/lookup_peer.go`).
 *
 * A peer connects lazily: the first queued command (or `connect()`) dials with a 1 s timeout,
 * sends the magic `"  V1"` and IDENTIFY, and on success replaces its queue with the current
 * registrations (`REGISTER <topic>` / `REGISTER <topic> <channel>`), which subsume every command
 * queued before that moment because a fresh lookupd connection starts with no registrations.
 *
 * Work is done by one drain task at a time: it writes queued commands in batches (one write per
 * batch, 1 s write deadline) and reads one `[4-byte size][data]` answer per command (1 s read
 * deadline each). Any failure closes the connection and drops the queue; the next command
 * (at the latest the next PING) reconnects, and the reconnect re-registers everything. So the
 * caller never waits on a lookupd and a dead lookupd costs at most one dial per command burst.
 */
import type { Logger } from "../internal/log.ts";
import { writeAll } from "../protocol/transport.ts";
import { splitHostPort } from "../internal/net_addr.ts";

/** What a lookupd says about itself in its IDENTIFY answer. */
export interface LookupPeerInfo {
  tcpPort: number;
  httpPort: number;
  version: string;
  broadcastAddress: string;
}

/** Options for {@linkcode LookupPeer}. */
export interface LookupPeerOptions {
  /** The lookupd TCP address, `"host:port"`. */
  addr: string;
  logger: Logger;
  /** The IDENTIFY JSON body (called on every connect). */
  identifyBody: () => string;
  /** The registration commands to replay after each IDENTIFY (called on every connect). */
  registrations: () => string[];
  /** Runs a background task (the owner's task group; must not reject unhandled). */
  spawn: (task: Promise<void>) => void;
  /** Largest answer accepted (nsqd's `--max-body-size`, default 5 MiB). */
  maxBodySize?: number;
  /** Dial timeout in ms (default 1000). */
  dialTimeout?: number;
  /** Per read / write deadline in ms (default 1000). */
  ioTimeout?: number;
}

const MAGIC_V1 = new TextEncoder().encode("  V1");
const BATCH = 256;
const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

class DeadlineError extends Error {
  constructor() {
    super("i/o timeout");
  }
}

/** A lazily connected, self-healing connection to one nsqlookupd. */
export class LookupPeer {
  readonly addr: string;
  /** The lookupd's self-description from the last successful IDENTIFY (kept across reconnects). */
  info: LookupPeerInfo | null = null;

  readonly #log: Logger;
  readonly #opts: LookupPeerOptions;
  readonly #maxBodySize: number;
  readonly #dialTimeout: number;
  readonly #ioTimeout: number;
  #queue: string[] = [];
  #wantConnect = false;
  #draining = false;
  #closed = false;
  #conn: Deno.TcpConn | null = null;
  #dialAbort: AbortController | null = null;
  #deadlineHit = false;
  #rbuf = new Uint8Array(4096);
  #rstart = 0;
  #rend = 0;

  constructor(opts: LookupPeerOptions) {
    this.addr = opts.addr;
    this.#opts = opts;
    this.#log = opts.logger;
    this.#maxBodySize = opts.maxBodySize ?? 5 * 1024 * 1024;
    this.#dialTimeout = opts.dialTimeout ?? 1000;
    this.#ioTimeout = opts.ioTimeout ?? 1000;
  }

  /** True while a connection is open and identified. */
  get connected(): boolean {
    return this.#conn !== null;
  }

  /** Queued commands not yet sent. */
  get pending(): readonly string[] {
    return this.#queue;
  }

  /** Queues one command line (without `\n`); connects first if needed. Never throws. */
  command(line: string): void {
    if (this.#closed) return;
    this.#queue.push(line);
    this.#kick();
  }

  /** Connects (IDENTIFY + re-register) if not connected, without sending anything else. */
  connect(): void {
    if (this.#closed) return;
    this.#wantConnect = true;
    this.#kick();
  }

  /** Closes the connection for good (aborting a dial in progress) and drops queued commands. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#dialAbort?.abort();
    this.#disconnect();
  }

  toString(): string {
    return this.addr;
  }

  #kick(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#opts.spawn(this.#drain());
  }

  /** The drain task: connect when needed, then send queued commands in batches. */
  async #drain(): Promise<void> {
    let retried = false;
    try {
      while (!this.#closed && (this.#queue.length > 0 || this.#wantConnect)) {
        if (this.#conn === null) {
          this.#wantConnect = false;
          const trigger = this.#queue[0];
          if (!await this.#connect(trigger)) {
            this.#queue = [];
            break;
          }
          continue;
        }
        this.#wantConnect = false;
        if (this.#queue.length === 0) continue; // connect() on a connected peer: nothing to send
        const batch = this.#queue.splice(0, BATCH);
        if (await this.#roundTrip(batch)) continue;
        if (retried || this.#closed) {
          this.#queue = [];
          break;
        }
        // The connection was found dead (e.g. the lookupd restarted while we were idle):
        // reconnect at once, once; the re-registration covers what was lost.
        retried = true;
        this.#wantConnect = true;
      }
    } catch (err) {
      this.#log.error(`LOOKUPD(${this.addr}): ${errText(err)}`);
      this.#disconnect();
      this.#queue = [];
    } finally {
      this.#draining = false;
    }
  }

  /** Dials, sends magic + IDENTIFY, parses the answer and queues the re-registration. */
  async #connect(trigger: string | undefined): Promise<boolean> {
    const what = trigger ?? "IDENTIFY";
    let conn: Deno.TcpConn;
    const abort = new AbortController();
    this.#dialAbort = abort;
    const timer = setTimeout(() => abort.abort(new DeadlineError()), this.#dialTimeout);
    try {
      const { hostname, port } = splitHostPort(this.addr);
      conn = await Deno.connect({ hostname, port, signal: abort.signal });
    } catch (err) {
      if (!this.#closed) {
        const reason = abort.signal.aborted ? "i/o timeout" : errText(err);
        this.#log.error(`LOOKUPD(${this.addr}): ${what} - dial tcp ${this.addr}: ${reason}`);
      }
      return false;
    } finally {
      clearTimeout(timer);
      this.#dialAbort = null;
    }
    if (this.#closed) {
      closeQuietly(conn);
      return false;
    }
    conn.setNoDelay(true);
    this.#conn = conn;
    this.#rstart = this.#rend = 0;
    this.#deadlineHit = false;

    const body = utf8Encoder.encode(this.#opts.identifyBody());
    const out = new Uint8Array(MAGIC_V1.length + 9 + 4 + body.length);
    out.set(MAGIC_V1);
    out.set(utf8Encoder.encode("IDENTIFY\n"), MAGIC_V1.length);
    new DataView(out.buffer).setUint32(MAGIC_V1.length + 9, body.length);
    out.set(body, MAGIC_V1.length + 13);
    let resp: string;
    try {
      await this.#write(out);
      resp = await this.#readResponse();
    } catch (err) {
      if (!this.#closed) {
        this.#log.error(`LOOKUPD(${this.addr}): IDENTIFY - ${this.#ioErrText(err)}`);
      }
      this.#disconnect();
      return false;
    }
    if (resp === "E_INVALID") {
      this.#log.info(`LOOKUPD(${this.addr}): lookupd returned ${resp}`);
      this.#disconnect();
      return false;
    }
    const info = parsePeerInfo(resp);
    if (info === null) {
      this.#log.error(`LOOKUPD(${this.addr}): parsing response - ${resp}`);
      this.#disconnect();
      return false;
    }
    this.info = info;
    this.#log.info(
      `LOOKUPD(${this.addr}): peer info {TCPPort:${info.tcpPort} HTTPPort:${info.httpPort} ` +
        `Version:${info.version} BroadcastAddress:${info.broadcastAddress}}`,
    );
    if (info.broadcastAddress === "") {
      this.#log.error(`LOOKUPD(${this.addr}): no broadcast address`);
    }
    // Everything queued so far is subsumed by the current registrations.
    this.#queue = this.#opts.registrations();
    for (const cmd of this.#queue) this.#log.info(`LOOKUPD(${this.addr}): ${cmd}`);
    return true;
  }

  /** Writes `batch` in one write and reads one answer per command; false on failure. */
  async #roundTrip(batch: string[]): Promise<boolean> {
    try {
      await this.#write(utf8Encoder.encode(batch.join("\n") + "\n"));
      for (const cmd of batch) {
        const resp = await this.#readResponse();
        if (resp.startsWith("E_")) {
          // Every nsqlookupd error is fatal: it closes the connection after answering.
          this.#log.error(`LOOKUPD(${this.addr}): ${cmd} - ${resp}`);
          this.#disconnect();
          return false;
        }
      }
      return true;
    } catch (err) {
      if (!this.#closed) {
        this.#log.error(`LOOKUPD(${this.addr}): ${batch[0]} - ${this.#ioErrText(err)}`);
      }
      this.#disconnect();
      return false;
    }
  }

  #ioErrText(err: unknown): string {
    return this.#deadlineHit ? "i/o timeout" : errText(err);
  }

  /** Arms the I/O deadline: when it fires, the connection is closed, failing the pending op. */
  #deadline(): ReturnType<typeof setTimeout> {
    return setTimeout(() => {
      this.#deadlineHit = true;
      if (this.#conn) closeQuietly(this.#conn);
    }, this.#ioTimeout);
  }

  async #write(bytes: Uint8Array): Promise<void> {
    const conn = this.#conn;
    if (conn === null) throw new Error("not connected");
    const timer = this.#deadline();
    try {
      await writeAll(conn, bytes);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads one `[4-byte size][data]` answer, bounded by maxBodySize. */
  async #readResponse(): Promise<string> {
    await this.#fill(4);
    const size = new DataView(this.#rbuf.buffer, this.#rbuf.byteOffset + this.#rstart, 4)
      .getInt32(0);
    if (size < 0 || size > this.#maxBodySize) {
      throw new Error(`response body size (${size}) is greater than limit (${this.#maxBodySize})`);
    }
    await this.#fill(4 + size);
    const text = utf8.decode(this.#rbuf.subarray(this.#rstart + 4, this.#rstart + 4 + size));
    this.#rstart += 4 + size;
    return text;
  }

  /** Ensures `n` unread bytes are buffered (reused buffer, compacted or grown as needed). */
  async #fill(n: number): Promise<void> {
    const conn = this.#conn;
    if (conn === null) throw new Error("not connected");
    if (this.#rstart === this.#rend) this.#rstart = this.#rend = 0;
    if (this.#rbuf.length - this.#rstart < n) {
      const have = this.#rend - this.#rstart;
      if (n > this.#rbuf.length) {
        const bigger = new Uint8Array(Math.max(n, this.#rbuf.length * 2));
        bigger.set(this.#rbuf.subarray(this.#rstart, this.#rend));
        this.#rbuf = bigger;
      } else {
        this.#rbuf.copyWithin(0, this.#rstart, this.#rend);
      }
      this.#rstart = 0;
      this.#rend = have;
    }
    while (this.#rend - this.#rstart < n) {
      const timer = this.#deadline();
      let got: number | null;
      try {
        got = await conn.read(this.#rbuf.subarray(this.#rend));
      } finally {
        clearTimeout(timer);
      }
      if (got === null) throw new Error("EOF");
      this.#rend += got;
    }
  }

  #disconnect(): void {
    const conn = this.#conn;
    this.#conn = null;
    if (conn) closeQuietly(conn);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Parses the IDENTIFY answer like Go's `json.Unmarshal` into nsqd's lookup `peerInfo`. */
function parsePeerInfo(text: string): LookupPeerInfo | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const int = (x: unknown) => typeof x === "number" && Number.isInteger(x);
  const str = (x: unknown) => typeof x === "string";
  const ok = (x: unknown, check: (x: unknown) => boolean) =>
    x === undefined || x === null || check(x);
  if (!ok(o.tcp_port, int) || !ok(o.http_port, int) || !ok(o.version, str)) return null;
  if (!ok(o.broadcast_address, str)) return null;
  return {
    tcpPort: (o.tcp_port as number | undefined) ?? 0,
    httpPort: (o.http_port as number | undefined) ?? 0,
    version: (o.version as string | undefined) ?? "",
    broadcastAddress: (o.broadcast_address as string | undefined) ?? "",
  };
}
