/**
 * nsqlookupd's TCP protocol V1 (docs/nsqlookupd.md#protocol-v1; nsq's `tcp.go` +
 * `lookup_protocol_v1.go`).
 *
 * After the 4-byte magic `"  V1"`, a client sends `\n`-terminated lines (whitespace-trimmed,
 * split on single spaces): `PING`, `IDENTIFY` (followed by `[4-byte size][JSON]`), `REGISTER`,
 * `UNREGISTER`. Every answer, success or error, is `[4-byte big-endian size][data]` with no
 * frame type. Every error is fatal: its text is sent, then the connection is closed. When the
 * connection ends, its peer is removed from every registration it belonged to.
 *
 * One read loop per connection: bytes are read into a reused buffer and each complete command
 * is executed in turn; only IDENTIFY waits for more bytes (its body).
 */
import type { Logger } from "../internal/log.ts";
import { FatalClientError } from "../protocol/errors.ts";
import type { LookupdIdentify } from "../protocol/identify.ts";
import { writeAll } from "../protocol/transport.ts";
import { isEphemeral, isValidChannelName, isValidTopicName } from "../protocol/names.ts";
import { NSQ_VERSION } from "../version.ts";
import { formatDuration } from "../internal/duration.ts";
import { formatAddr } from "../internal/net_addr.ts";
import {
  nowUnixNano,
  type PeerInfo,
  Producer,
  type Registration,
  type RegistrationDB,
} from "./registration_db.ts";

/** What the protocol needs from its daemon. */
export interface LookupdContext {
  readonly db: RegistrationDB;
  readonly logger: Logger;
  /** `--broadcast-address`, returned in the IDENTIFY response. */
  readonly broadcastAddress: string;
  /** The OS hostname, returned in the IDENTIFY response. */
  readonly hostname: string;
  /** Real bound ports, returned in the IDENTIFY response. */
  readonly tcpPort: number;
  readonly httpPort: number;
}

/** The protocol magic a V1 client sends first. */
export const MAGIC_V1 = "  V1";

/** Longest command line we buffer (Go has no limit; this bounds memory per connection). */
const MAX_LINE = 1024 * 1024;
/** Largest IDENTIFY body accepted (Go allocates whatever size is announced). */
const MAX_IDENTIFY_BODY = 5 * 1024 * 1024;

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

/** Buffered reader over one connection: a reused, growable buffer parsed in place. */
class ConnReader {
  readonly #conn: Deno.Conn;
  #buf = new Uint8Array(4096);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Reads more bytes; false at end of stream. Compacts or grows the buffer when full. */
  async #fill(): Promise<boolean> {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** The next line without its `\n`; null at end of stream (a partial last line is dropped). */
  async readLine(): Promise<string | null> {
    let scanned = 0; // bytes after #start already known to hold no newline
    for (;;) {
      const i = this.#buf.subarray(this.#start + scanned, this.#end).indexOf(0x0a);
      if (i >= 0) {
        const nl = this.#start + scanned + i;
        const line = utf8.decode(this.#buf.subarray(this.#start, nl));
        this.#start = nl + 1;
        return line;
      }
      scanned = this.#end - this.#start;
      if (scanned > MAX_LINE) throw new Error(`line longer than ${MAX_LINE} bytes`);
      if (!await this.#fill()) return null;
    }
  }

  /** Exactly `n` bytes (a copy), or null when the stream ends first. */
  async readExact(n: number): Promise<Uint8Array | null> {
    while (this.#end - this.#start < n) {
      if (!await this.#fill()) return null;
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }
}

/** Go's `strings.TrimSpace` (Unicode White_Space). */
const GO_SPACE =
  "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const TRIM_RE = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, "g");

/** `[4-byte size][data]`. */
function frameResponse(data: string): Uint8Array {
  const body = utf8Encoder.encode(data);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/**
 * Serves one accepted TCP connection until it ends (nsq's `tcpServer.Handle` + `IOLoop`).
 * Never throws; closes the connection before returning.
 */
export async function handleLookupConn(ctx: LookupdContext, conn: Deno.TcpConn): Promise<void> {
  const log = ctx.logger;
  const remote = formatAddr(conn.remoteAddr);
  try {
    conn.setNoDelay(true);
  } catch { /* already closed */ }
  log.info(`TCP: new client(${remote})`);
  const reader = new ConnReader(conn);
  try {
    let magicBytes: Uint8Array | null;
    try {
      magicBytes = await reader.readExact(4);
    } catch (err) {
      magicBytes = null;
      log.error(`failed to read protocol version - ${errText(err)}`);
      return;
    }
    if (magicBytes === null) {
      log.error("failed to read protocol version - EOF");
      return;
    }
    const magic = utf8.decode(magicBytes);
    log.info(`CLIENT(${remote}): desired protocol magic '${magic}'`);
    if (magic !== MAGIC_V1) {
      await writeAll(conn, frameResponse("E_BAD_PROTOCOL")).catch(() => {});
      log.error(`client(${remote}) bad protocol magic '${magic}'`);
      return;
    }
    const err = await new LookupProtocolV1(ctx, conn, remote, reader).ioLoop();
    if (err !== null) log.error(`client(${remote}) - ${err}`);
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One V1 client connection. */
class LookupProtocolV1 {
  readonly #ctx: LookupdContext;
  readonly #conn: Deno.TcpConn;
  readonly #remote: string;
  readonly #reader: ConnReader;
  #peerInfo: PeerInfo | null = null;

  constructor(ctx: LookupdContext, conn: Deno.TcpConn, remote: string, reader: ConnReader) {
    this.#ctx = ctx;
    this.#conn = conn;
    this.#remote = remote;
    this.#reader = reader;
  }

  /** Runs until EOF, a write failure or a (fatal) error; returns the ending error text. */
  async ioLoop(): Promise<string | null> {
    const log = this.#ctx.logger;
    let result: string | null = null;
    try {
      for (;;) {
        let line: string | null;
        try {
          line = await this.#reader.readLine();
        } catch (err) {
          result = errText(err);
          break;
        }
        if (line === null) {
          result = "EOF";
          break;
        }
        const params = line.replace(TRIM_RE, "").split(" ");
        let response: string;
        try {
          response = await this.#exec(params);
        } catch (err) {
          if (!(err instanceof FatalClientError)) {
            result = errText(err);
            break;
          }
          const parent = err.parent !== null ? ` - ${err.parent}` : "";
          log.error(`[${this.#remote}] - ${err.message}${parent}`);
          try {
            await writeAll(this.#conn, frameResponse(err.message));
          } catch (sendErr) {
            log.error(`[${this.#remote}] - ${errText(sendErr)}${parent}`);
          }
          result = err.message;
          break;
        }
        try {
          await writeAll(this.#conn, frameResponse(response));
        } catch (err) {
          result = errText(err);
          break;
        }
      }
    } finally {
      try {
        this.#conn.close();
      } catch { /* already closed */ }
      log.info(`CLIENT(${this.#remote}): closing`);
      this.#removePeer();
    }
    return result;
  }

  /** Removes this connection's peer from every registration (keys stay). */
  #removePeer(): void {
    const peer = this.#peerInfo;
    if (peer === null) return;
    const db = this.#ctx.db;
    for (const r of db.lookupRegistrations(peer.id)) {
      if (db.removeProducer(r, peer.id).removed) {
        this.#ctx.logger.info(
          `DB: client(${this.#remote}) UNREGISTER category:${r.category} key:${r.key} subkey:${r.subkey}`,
        );
      }
    }
  }

  #exec(params: string[]): Promise<string> | string {
    switch (params[0]) {
      case "PING":
        return this.#ping();
      case "IDENTIFY":
        return this.#identify();
      case "REGISTER":
        return this.#register(params.slice(1));
      case "UNREGISTER":
        return this.#unregister(params.slice(1));
    }
    throw new FatalClientError("E_INVALID", `invalid command ${params[0]}`);
  }

  #ping(): string {
    const peer = this.#peerInfo;
    if (peer !== null) {
      // A PING may arrive before IDENTIFY on the same connection; only identified peers count.
      const now = nowUnixNano();
      if (this.#ctx.logger.enabled("debug")) {
        const since = formatDuration(Number(now - peer.lastUpdate) / 1e6);
        this.#ctx.logger.debug(`CLIENT(${peer.id}): pinged (last ping ${since})`);
      }
      peer.lastUpdate = now;
    }
    return "OK";
  }

  async #identify(): Promise<string> {
    if (this.#peerInfo !== null) throw new FatalClientError("E_INVALID", "cannot IDENTIFY again");
    const sizeBytes = await this.#reader.readExact(4).catch(() => null);
    if (sizeBytes === null) {
      throw new FatalClientError("E_BAD_BODY", "IDENTIFY failed to read body size", "EOF");
    }
    const size = new DataView(sizeBytes.buffer, sizeBytes.byteOffset).getInt32(0);
    if (size < 0 || size > MAX_IDENTIFY_BODY) {
      throw new FatalClientError(
        "E_BAD_BODY",
        "IDENTIFY failed to read body",
        `invalid body size ${size}`,
      );
    }
    const body = await this.#reader.readExact(size).catch(() => null);
    if (body === null) {
      throw new FatalClientError("E_BAD_BODY", "IDENTIFY failed to read body", "unexpected EOF");
    }
    const fields = decodePeerInfo(body);
    if (fields instanceof Error) {
      throw new FatalClientError(
        "E_BAD_BODY",
        "IDENTIFY failed to decode JSON body",
        fields.message,
      );
    }
    if (
      fields.broadcastAddress === "" || fields.tcpPort === 0 || fields.httpPort === 0 ||
      fields.version === ""
    ) {
      throw new FatalClientError("E_BAD_BODY", "IDENTIFY missing fields");
    }
    const peer: PeerInfo = {
      ...fields,
      id: this.#remote,
      remoteAddress: this.#remote,
      lastUpdate: nowUnixNano(),
    };
    const log = this.#ctx.logger;
    log.info(
      `CLIENT(${this.#remote}): IDENTIFY Address:${peer.broadcastAddress} TCP:${peer.tcpPort} ` +
        `HTTP:${peer.httpPort} Version:${peer.version}`,
    );
    this.#peerInfo = peer;
    if (this.#ctx.db.addProducer({ category: "client", key: "", subkey: "" }, new Producer(peer))) {
      log.info(`DB: client(${this.#remote}) REGISTER category:client key: subkey:`);
    }
    // Keys in alphabetical order, as Go marshals a map.
    const response: LookupdIdentify = {
      broadcast_address: this.#ctx.broadcastAddress,
      hostname: this.#ctx.hostname,
      http_port: this.#ctx.httpPort,
      tcp_port: this.#ctx.tcpPort,
      version: NSQ_VERSION,
    };
    return JSON.stringify(response);
  }

  #register(params: string[]): string {
    const peer = this.#requirePeer();
    const [topic, channel] = topicChannel("REGISTER", params);
    const db = this.#ctx.db;
    const log = this.#ctx.logger;
    if (channel !== "") {
      if (
        db.addProducer({ category: "channel", key: topic, subkey: channel }, new Producer(peer))
      ) {
        log.info(
          `DB: client(${this.#remote}) REGISTER category:channel key:${topic} subkey:${channel}`,
        );
      }
    }
    if (db.addProducer({ category: "topic", key: topic, subkey: "" }, new Producer(peer))) {
      log.info(`DB: client(${this.#remote}) REGISTER category:topic key:${topic} subkey:`);
    }
    return "OK";
  }

  #unregister(params: string[]): string {
    const peer = this.#requirePeer();
    const [topic, channel] = topicChannel("UNREGISTER", params);
    const db = this.#ctx.db;
    const log = this.#ctx.logger;
    if (channel !== "") {
      const key: Registration = { category: "channel", key: topic, subkey: channel };
      const { removed, left } = db.removeProducer(key, peer.id);
      if (removed) {
        log.info(
          `DB: client(${this.#remote}) UNREGISTER category:channel key:${topic} subkey:${channel}`,
        );
      }
      // An ephemeral channel disappears with its last producer.
      if (left === 0 && isEphemeral(channel)) db.removeRegistration(key);
    } else {
      // A topic unregistration also drops this peer from the topic's channels; nsqd normally
      // unregisters those first, hence the warning when anything is removed here.
      for (const r of db.findRegistrations("channel", topic, "*")) {
        if (db.removeProducer(r, peer.id).removed) {
          log.warn(
            `client(${this.#remote}) unexpected UNREGISTER category:channel key:${topic} subkey:${r.subkey}`,
          );
        }
      }
      const key: Registration = { category: "topic", key: topic, subkey: "" };
      const { removed, left } = db.removeProducer(key, peer.id);
      if (removed) {
        log.info(`DB: client(${this.#remote}) UNREGISTER category:topic key:${topic} subkey:`);
      }
      if (left === 0 && isEphemeral(topic)) db.removeRegistration(key);
    }
    return "OK";
  }

  #requirePeer(): PeerInfo {
    if (this.#peerInfo === null) throw new FatalClientError("E_INVALID", "client must IDENTIFY");
    return this.#peerInfo;
  }
}

/** Validates `<topic> [<channel>]` params of REGISTER / UNREGISTER. */
function topicChannel(command: string, params: string[]): [string, string] {
  if (params.length === 0) {
    throw new FatalClientError("E_INVALID", `${command} insufficient number of params`);
  }
  const topic = params[0];
  const channel = params.length >= 2 ? params[1] : "";
  if (!isValidTopicName(topic)) {
    throw new FatalClientError("E_BAD_TOPIC", `${command} topic name '${topic}' is not valid`);
  }
  if (channel !== "" && !isValidChannelName(channel)) {
    throw new FatalClientError(
      "E_BAD_CHANNEL",
      `${command} channel name '${channel}' is not valid`,
    );
  }
  return [topic, channel];
}

/** The IDENTIFY fields a client supplies. */
export type PeerFields = {
  -readonly [K in "hostname" | "broadcastAddress" | "tcpPort" | "httpPort" | "version"]:
    PeerInfo[K];
};

const STRING_FIELDS: Record<string, "hostname" | "broadcastAddress" | "version" | null> = {
  remote_address: null, // accepted, then overwritten with the connection's address
  hostname: "hostname",
  broadcast_address: "broadcastAddress",
  version: "version",
};
const INT_FIELDS: Record<string, "tcpPort" | "httpPort"> = {
  tcp_port: "tcpPort",
  http_port: "httpPort",
};

/**
 * Decodes an IDENTIFY body like Go's `json.Unmarshal` into nsqlookupd's `PeerInfo`: unknown keys
 * are ignored, keys match case-insensitively, `null` leaves a field empty, and a value of the
 * wrong type is an error.
 */
export function decodePeerInfo(body: Uint8Array): PeerFields | Error {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(body));
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
  const out: PeerFields = {
    hostname: "",
    broadcastAddress: "",
    tcpPort: 0,
    httpPort: 0,
    version: "",
  };
  if (parsed === null) return out;
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    const kind = Array.isArray(parsed) ? "array" : typeof parsed;
    return new Error(`json: cannot unmarshal ${kind} into Go value of type nsqlookupd.PeerInfo`);
  }
  for (const [rawKey, value] of Object.entries(parsed as Record<string, unknown>)) {
    const key = rawKey.toLowerCase();
    if (value === null) continue;
    if (Object.hasOwn(STRING_FIELDS, key)) {
      if (typeof value !== "string") return fieldTypeError(key, value, "string");
      const field = STRING_FIELDS[key];
      if (field !== null) out[field] = value;
    } else if (Object.hasOwn(INT_FIELDS, key)) {
      if (typeof value !== "number" || !Number.isSafeInteger(value)) {
        return fieldTypeError(key, value, "int");
      }
      out[INT_FIELDS[key]] = value;
    }
  }
  return out;
}

function fieldTypeError(key: string, value: unknown, goType: string): Error {
  const kind = Array.isArray(value) ? "array" : typeof value === "boolean" ? "bool" : typeof value;
  return new Error(
    `json: cannot unmarshal ${kind} into Go struct field PeerInfo.${key} of type ${goType}`,
  );
}
