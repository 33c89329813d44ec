/**
 * Protocol V2 (https://nsq.io/clients/tcp_protocol_spec.html; nsq's nsqd/protocol_v2.go): the read
 * loop of one client connection and every command.
 *
 * The loop reads into one reusable buffer and executes every complete command in it
 * synchronously (docs/architecture.md#one-reader-and-one-writer-per-connection). A command needing
 * bytes not yet read returns NEED_MORE (the loop keeps the partial command and reads again, growing
 * the buffer for large bodies); validation that does not need the body (state, params, topic name,
 * sizes) happens as soon as its bytes are there, so errors are answered without waiting for a body
 * that may never come. The few commands that must wait for I/O (AUTH, IDENTIFY with an upgrade, SUB
 * on a topic whose files are still being deleted) return a promise the loop awaits before the next
 * command.
 *
 * After each batch: if the batch wrote to a disk queue, the loop awaits those writes before
 * sending its responses (an `OK` means the message reached the OS, as with go-diskqueue, and a
 * slow disk slows its publishers instead of growing memory); then responses are flushed in one
 * write.
 */
import { monoNow } from "../internal/clock.ts";
import { ClientError, type ErrorCode, FatalClientError } from "../protocol/errors.ts";
import {
  decodeIdentify,
  type IdentifyRequest,
  type IdentifyResponse,
} from "../protocol/identify.ts";
import { goQuote, isValidChannelName, isValidTopicName } from "../protocol/names.ts";
import { NSQ_VERSION } from "../version.ts";
import {
  type ClientV2,
  FRAME_CLOSE_WAIT,
  FRAME_OK,
  STATE_CLOSING,
  STATE_INIT,
  STATE_SUBSCRIBED,
} from "./client_v2.ts";
import { latin1, MSG_ID_LENGTH } from "../protocol/message.ts";
import type { Message } from "./message.ts";
import type { Nsqd } from "./nsqd.ts";
import { TLS_NOT_REQUIRED } from "./options.ts";

/** Longest command line (Go's 16 KiB bufio reader): longer closes the connection silently. */
const MAX_LINE = 16 * 1024;
/**
 * The read buffer's starting size: small, so an idle connection costs little. It doubles when a
 * read fills it or a body needs more, and goes back to this size once drained when the reads
 * got small again (a burst is over) or when it grew beyond READ_BUFFER_KEEP (one large body).
 */
const READ_BUFFER_SIZE = 4 * 1024;
/** A drained read buffer larger than this shrinks back at once. */
const READ_BUFFER_KEEP = 256 * 1024;
/** Consecutive small reads (≤ READ_BUFFER_SIZE / 4) after which a grown buffer shrinks back. */
const SMALL_READS_TO_SHRINK = 4;
/** The pending command needs more bytes than have been read. */
const NEED_MORE = -2;
/** The connection must close (a fatal error was queued, or the peer misbehaved). */
const CLOSE = -1;

type Result = number | Promise<number>;

const ASCII_DIGITS_ONLY = /^[0-9]*$/;

/** NSQ's base-10 parser: ASCII digits only, empty = 0; null on anything else. */
function parseBase10(s: string): number | null {
  if (!ASCII_DIGITS_ONLY.test(s)) return null;
  return s === "" ? 0 : Number(s);
}

/** Serves one V2 connection until it closes. `initial` holds bytes read after the magic. */
export async function serveV2(nsqd: Nsqd, client: ClientV2, initial: Uint8Array): Promise<void> {
  const p = new ProtocolV2(nsqd, client);
  try {
    await p.ioLoop(initial);
  } finally {
    nsqd.logger.info(`PROTOCOL(V2): [${client.remoteAddress}] exiting ioloop`);
    client.close();
  }
}

class ProtocolV2 {
  readonly nsqd: Nsqd;
  readonly client: ClientV2;
  #buf = new Uint8Array(READ_BUFFER_SIZE);
  #dv = new DataView(this.#buf.buffer);
  /** Total bytes (from the command's start) the pending command needs, when known. */
  #need = 0;
  /** Where the command being executed starts in the buffer. */
  #cmdStart = 0;
  /** A response or error was queued in this batch: flush at the end of it. */
  #respond = false;
  /** The publish command of this batch, for the error code if its disk write fails. */
  #lastPub: "PUB" | "MPUB" | "DPUB" = "PUB";
  /** Set by IDENTIFY when the transport is upgraded: stop parsing this buffer. */
  #upgraded = false;
  /** The peer closed its side: a command still waiting for bytes fails with NSQ's read error. */
  #eof = false;
  /** Consecutive small reads into a grown buffer (see SMALL_READS_TO_SHRINK). */
  #smallReads = 0;

  constructor(nsqd: Nsqd, client: ClientV2) {
    this.nsqd = nsqd;
    this.client = client;
  }

  async ioLoop(initial: Uint8Array): Promise<void> {
    const client = this.client;
    let start = 0;
    let end = initial.length;
    if (end > this.#buf.length) {
      this.#buf = new Uint8Array(end * 2);
      this.#dv = new DataView(this.#buf.buffer);
    }
    this.#buf.set(initial);
    for (;;) {
      const writesBefore = this.nsqd.diskWrites;
      while (start < end) {
        let r = this.#execNext(start, end);
        if (typeof r !== "number") r = await r;
        if (r === CLOSE) return await this.#closeAfterFlush();
        if (r === NEED_MORE) break;
        start += r;
        this.#need = 0;
        // The read deadline covers a whole command, as Go sets it once per command: bytes
        // trickling into a body do not extend it, a completed command does.
        client.lastReadAt = monoNow();
        if (this.#upgraded) {
          this.#upgraded = false;
          start = end = 0; // bytes after an upgrading IDENTIFY are lost, as in NSQ
        }
      }
      if (this.nsqd.diskWrites !== writesBefore) {
        try {
          await this.nsqd.flushDirty();
        } catch (err) {
          client.writer.discard();
          const cmd = this.#lastPub;
          client.sendError(
            new FatalClientError(`E_${cmd}_FAILED`, `${cmd} failed ${(err as Error).message}`)
              .message,
          );
          return await this.#closeAfterFlush();
        }
      }
      if (this.#respond) {
        this.#respond = false;
        client.writer.flush();
      }
      if (client.closed) return;
      // Keep the unparsed tail at the front; grow for a large pending body.
      if (start === end) {
        start = end = 0;
        // A buffer grown for one large body, or for a burst that is over, goes back to its
        // starting size once drained.
        if (
          this.#buf.length > READ_BUFFER_KEEP ||
          (this.#buf.length > READ_BUFFER_SIZE && this.#smallReads >= SMALL_READS_TO_SHRINK)
        ) {
          this.#smallReads = 0;
          this.#buf = new Uint8Array(READ_BUFFER_SIZE);
          this.#dv = new DataView(this.#buf.buffer);
        }
      } else if (start > 0 && (end === this.#buf.length || start + this.#need > this.#buf.length)) {
        this.#buf.copyWithin(0, start, end);
        end -= start;
        start = 0;
      }
      if (this.#need > this.#buf.length || end === this.#buf.length) {
        let cap = this.#buf.length * 2;
        while (cap < this.#need) cap *= 2;
        const next = new Uint8Array(cap);
        next.set(this.#buf.subarray(0, end));
        this.#buf = next;
        this.#dv = new DataView(next.buffer);
      }
      if (client.writer.buffered > 4 * 1024 * 1024) await client.writer.idle();
      let n: number | null;
      try {
        n = await client.transport.read(this.#buf.subarray(end));
      } catch {
        return;
      }
      if (n === null) {
        if (start < end) {
          // A command whose body never came: NSQ answers its "failed to read" error.
          this.#eof = true;
          const r = this.#execNext(start, end);
          if ((typeof r === "number" ? r : await r) === CLOSE) await this.#closeAfterFlush();
        }
        return;
      }
      end += n;
      if (n <= READ_BUFFER_SIZE / 4 && this.#buf.length > READ_BUFFER_SIZE) this.#smallReads++;
      else this.#smallReads = 0;
    }
  }

  async #closeAfterFlush(): Promise<void> {
    await this.client.writer.idle();
    this.client.close();
  }

  // ---- parsing -------------------------------------------------------------------------------

  /** Executes the command at `start`; returns bytes consumed, NEED_MORE or CLOSE. */
  #execNext(start: number, end: number): Result {
    const buf = this.#buf;
    let nl = -1;
    const limit = Math.min(end, start + MAX_LINE);
    for (let i = start; i < limit; i++) {
      if (buf[i] === 10) {
        nl = i;
        break;
      }
    }
    if (nl < 0) {
      if (end - start >= MAX_LINE) return CLOSE; // line too long: closed without an error frame
      this.#need = 0;
      return NEED_MORE;
    }
    // Fast path for the most frequent command, `FIN <16-byte id>\n` of a subscribed client: no
    // parameter strings, the id is looked up from the buffer (the general path below handles
    // every other form, and the errors, identically).
    if (
      nl - start === 20 && buf[start] === 70 && buf[start + 1] === 73 && buf[start + 2] === 78 &&
      buf[start + 3] === 32 &&
      (this.client.state === STATE_SUBSCRIBED || this.client.state === STATE_CLOSING) &&
      this.nsqd.opts.tlsRequired === TLS_NOT_REQUIRED
    ) {
      this.#finAt(start + 4);
      return 21;
    }
    let lineEnd = nl;
    if (lineEnd > start && buf[lineEnd - 1] === 13) lineEnd--;
    const params: string[] = [];
    let s = start;
    for (let i = start; i < lineEnd; i++) {
      if (buf[i] === 32) {
        params.push(latin1(buf, s, i));
        s = i + 1;
      }
    }
    params.push(latin1(buf, s, lineEnd));
    this.#cmdStart = start;
    const line = nl + 1 - start;
    try {
      const r = this.#exec(params, nl + 1, end);
      if (typeof r === "number") return r >= 0 ? r + line : r;
      return r.then((n) => (n >= 0 ? n + line : n), (err) => this.#onError(err));
    } catch (err) {
      return this.#onError(err);
    }
  }

  /** Turns a thrown FatalClientError into the error frame; anything else is a bug: log and close. */
  #onError(err: unknown): number {
    if (err instanceof FatalClientError) {
      this.nsqd.logger.error(`[${this.client.remoteAddress}] - ${err.message}`);
      this.client.sendError(err.message);
    } else {
      this.nsqd.logger.error(
        `[${this.client.remoteAddress}] - internal error - ${(err as Error)?.stack ?? err}`,
      );
    }
    return CLOSE;
  }

  /** A non-fatal error (E_FIN_FAILED, E_REQ_FAILED, E_TOUCH_FAILED): the connection stays. */
  #nonFatal(err: ClientError): void {
    this.nsqd.logger.error(`[${this.client.remoteAddress}] - ${err.message}`);
    this.client.sendError(err.message);
    this.#respond = true;
  }

  #ok(): void {
    this.client.sendResponse(FRAME_OK);
    this.#respond = true;
  }

  /**
   * Runs one command whose line has been parsed; `body` is where the bytes after the line start.
   * Returns how many bytes after the line it consumed (≥ 0), or NEED_MORE / CLOSE.
   */
  #exec(params: string[], body: number, end: number): Result {
    const cmd = params[0];
    if (cmd !== "IDENTIFY") this.#enforceTls(cmd);
    switch (cmd) {
      case "FIN":
        return this.#fin(params);
      case "RDY":
        return this.#rdy(params);
      case "REQ":
        return this.#req(params);
      case "PUB":
        return this.#pub(params, body, end);
      case "MPUB":
        return this.#mpub(params, body, end);
      case "DPUB":
        return this.#dpub(params, body, end);
      case "NOP":
        return 0;
      case "TOUCH":
        return this.#touch(params);
      case "SUB":
        return this.#sub(params);
      case "CLS":
        return this.#cls();
      case "AUTH":
        return this.#auth(params, body, end);
      case "IDENTIFY":
        return this.#identify(body, end);
      default:
        throw new FatalClientError("E_INVALID", `invalid command ${cmd}`);
    }
  }

  #enforceTls(cmd: string): void {
    if (this.nsqd.opts.tlsRequired !== TLS_NOT_REQUIRED && this.client.tls === null) {
      throw new FatalClientError("E_INVALID", `cannot ${cmd} in current state (TLS required)`);
    }
  }

  /** Reads a signed 32-bit length at `off`, or null if not all 4 bytes are there yet. */
  #readLen(off: number, end: number): number | null {
    if (off + 4 > end) return null;
    return this.#dv.getInt32(off);
  }

  /**
   * Records that the pending command needs `n` bytes from `body` (so the buffer can grow);
   * at end of stream the command fails with `eofCode eofDesc`, NSQ's text for that read.
   */
  #needMore(body: number, n: number, eofCode: ErrorCode, eofDesc: string): number {
    if (this.#eof) throw new FatalClientError(eofCode, eofDesc);
    this.#need = body - this.#cmdStart + n;
    return NEED_MORE;
  }

  // ---- commands ------------------------------------------------------------------------------

  #identify(body: number, end: number): Result {
    const c = this.client;
    if (c.state !== STATE_INIT) {
      throw new FatalClientError("E_INVALID", "cannot IDENTIFY in current state");
    }
    const size = this.#readLen(body, end);
    if (size === null) {
      return this.#needMore(body, 4, "E_BAD_BODY", "IDENTIFY failed to read body size");
    }
    const max = this.nsqd.opts.maxBodySize;
    if (size > max) {
      throw new FatalClientError("E_BAD_BODY", `IDENTIFY body too big ${size} > ${max}`);
    }
    if (size <= 0) throw new FatalClientError("E_BAD_BODY", `IDENTIFY invalid body size ${size}`);
    if (body + 4 + size > end) {
      return this.#needMore(body, 4 + size, "E_BAD_BODY", "IDENTIFY failed to read body");
    }
    const text = new TextDecoder().decode(this.#buf.subarray(body + 4, body + 4 + size));
    const data = decodeIdentify(text);
    if (data === null) {
      throw new FatalClientError("E_BAD_BODY", "IDENTIFY failed to decode JSON body");
    }
    this.nsqd.logger.info(`[${c.remoteAddress}] IDENTIFY: ${JSON.stringify(data)}`);
    const reason = applyIdentify(this.nsqd, c, data);
    if (reason !== null) throw new FatalClientError("E_BAD_BODY", `IDENTIFY ${reason}`);
    c.applySettings();
    const consumed = 4 + size;
    if (!data.feature_negotiation) {
      this.#ok();
      return consumed;
    }
    const o = this.nsqd.opts;
    const features = this.nsqd.features;
    const tlsV1 = features.tls && data.tls_v1 === true;
    const deflate = o.deflate && data.deflate === true;
    let deflateLevel = 6;
    if (deflate && (data.deflate_level ?? 0) > 0) deflateLevel = data.deflate_level!;
    if (o.maxDeflateLevel < deflateLevel) deflateLevel = o.maxDeflateLevel;
    const snappy = o.snappy && data.snappy === true;
    if (deflate && snappy) {
      throw new FatalClientError(
        "E_IDENTIFY_FAILED",
        "cannot enable both deflate and snappy compression",
      );
    }
    const response: IdentifyResponse = {
      max_rdy_count: o.maxRdyCount,
      version: NSQ_VERSION,
      max_msg_timeout: o.maxMsgTimeout,
      msg_timeout: c.msgTimeout,
      tls_v1: tlsV1,
      deflate,
      deflate_level: deflateLevel,
      max_deflate_level: o.maxDeflateLevel,
      snappy,
      sample_rate: c.sampleRate,
      auth_required: this.nsqd.opts.authHttpAddresses.length > 0,
      output_buffer_size: c.outputBufferSize,
      output_buffer_timeout: c.outputBufferTimeout,
    };
    c.sendResponseText(JSON.stringify(response));
    this.#respond = true;
    if (!tlsV1 && !snappy && !deflate) return consumed;
    // Upgrades: flush the JSON in the clear, then switch transports, confirming each with OK.
    const leftover = this.#buf.slice(body + consumed, end);
    this.#upgraded = true;
    return this.#upgrade(tlsV1, snappy, deflate, deflateLevel, leftover).then(() => consumed);
  }

  async #upgrade(
    tls: boolean,
    snappy: boolean,
    deflate: boolean,
    level: number,
    leftover: Uint8Array,
  ): Promise<void> {
    const c = this.client;
    await c.writer.idle();
    this.#respond = false;
    try {
      await this.nsqd.features.upgrade(c, { tls, snappy, deflate, level, leftover });
    } catch (err) {
      throw new FatalClientError("E_IDENTIFY_FAILED", `IDENTIFY failed ${(err as Error).message}`);
    }
  }

  async #auth(params: string[], body: number, end: number): Promise<number> {
    const c = this.client;
    if (c.state !== STATE_INIT) {
      throw new FatalClientError("E_INVALID", "cannot AUTH in current state");
    }
    if (params.length !== 1) {
      throw new FatalClientError("E_INVALID", "AUTH invalid number of parameters");
    }
    const size = this.#readLen(body, end);
    if (size === null) {
      return this.#needMore(body, 4, "E_BAD_BODY", "AUTH failed to read body size");
    }
    const max = this.nsqd.opts.maxBodySize;
    if (size > max) throw new FatalClientError("E_BAD_BODY", `AUTH body too big ${size} > ${max}`);
    if (size <= 0) throw new FatalClientError("E_BAD_BODY", `AUTH invalid body size ${size}`);
    if (body + 4 + size > end) {
      return this.#needMore(body, 4 + size, "E_BAD_BODY", "AUTH failed to read body");
    }
    if (c.auth !== null) throw new FatalClientError("E_INVALID", "AUTH already set");
    if (this.nsqd.opts.authHttpAddresses.length === 0) {
      throw new FatalClientError("E_AUTH_DISABLED", "AUTH disabled");
    }
    const secret = new TextDecoder().decode(this.#buf.subarray(body + 4, body + 4 + size));
    let permissionCount: number;
    try {
      permissionCount = await this.nsqd.features.authenticate(c, secret);
    } catch (err) {
      this.nsqd.logger.warn(
        `PROTOCOL(V2): [${c.remoteAddress}] AUTH failed ${(err as Error).message}`,
      );
      throw new FatalClientError("E_AUTH_FAILED", "AUTH failed");
    }
    if (permissionCount === 0) {
      throw new FatalClientError("E_UNAUTHORIZED", "AUTH no authorizations found");
    }
    c.sendResponseText(JSON.stringify({
      identity: c.auth!.identity,
      identity_url: c.auth!.identityUrl,
      permission_count: permissionCount,
    }));
    this.#respond = true;
    return 4 + size;
  }

  /** Auth check for SUB/PUB/MPUB/DPUB (docs/nsqd.md#auth); undefined when allowed without I/O. */
  #checkAuth(cmd: string, topic: string, channel: string): Promise<void> | undefined {
    if (this.nsqd.opts.authHttpAddresses.length === 0) return undefined;
    const c = this.client;
    if (c.auth === null) throw new FatalClientError("E_AUTH_FIRST", `AUTH required before ${cmd}`);
    const check = () => {
      const perm = cmd === "SUB" ? "subscribe" : "publish";
      if (!c.auth!.isAllowed(topic, channel, perm)) {
        throw new FatalClientError(
          "E_UNAUTHORIZED",
          `AUTH failed for ${cmd} on ${goQuote(topic)} ${goQuote(channel)}`,
        );
      }
    };
    if (!c.auth.isExpired()) {
      check();
      return undefined;
    }
    return this.nsqd.features.authenticate(c, c.authSecret ?? "").then(
      () => check(),
      (err) => {
        if (err instanceof FatalClientError) throw err;
        throw new FatalClientError("E_AUTH_FAILED", "AUTH failed");
      },
    );
  }

  #sub(params: string[]): Result {
    const c = this.client;
    if (c.state !== STATE_INIT) {
      throw new FatalClientError("E_INVALID", "cannot SUB in current state");
    }
    if (c.heartbeatInterval <= 0) {
      throw new FatalClientError("E_INVALID", "cannot SUB with heartbeats disabled");
    }
    if (params.length < 3) {
      throw new FatalClientError("E_INVALID", "SUB insufficient number of parameters");
    }
    const topicName = params[1];
    if (!isValidTopicName(topicName)) {
      throw new FatalClientError(
        "E_BAD_TOPIC",
        `SUB topic name ${goQuote(topicName)} is not valid`,
      );
    }
    const channelName = params[2];
    if (!isValidChannelName(channelName)) {
      throw new FatalClientError(
        "E_BAD_CHANNEL",
        `SUB channel name ${goQuote(channelName)} is not valid`,
      );
    }
    const finish = (): number => {
      if (this.nsqd.signal.aborted) {
        throw new FatalClientError("E_SUB_FAILED", "SUB failed exiting");
      }
      const channel = this.nsqd.getTopic(topicName).getChannel(channelName);
      const err = channel.addClient(c);
      if (err !== null) throw new FatalClientError("E_SUB_FAILED", `SUB failed ${err}`);
      c.state = STATE_SUBSCRIBED;
      c.channel = channel;
      this.#ok();
      return 0;
    };
    const auth = this.#checkAuth("SUB", topicName, channelName);
    if (auth === undefined && !this.nsqd.isDeleting(topicName, channelName)) return finish();
    return (async () => {
      await auth;
      await this.nsqd.deletionsSettled(topicName, channelName);
      return finish();
    })();
  }

  #rdy(params: string[]): Result {
    const c = this.client;
    if (c.state === STATE_CLOSING) {
      this.nsqd.logger.info(
        `PROTOCOL(V2): [${c.remoteAddress}] ignoring RDY after CLS in state ClientStateV2Closing`,
      );
      return 0;
    }
    if (c.state !== STATE_SUBSCRIBED) {
      throw new FatalClientError("E_INVALID", "cannot RDY in current state");
    }
    let count = 1;
    if (params.length > 1) {
      const n = parseBase10(params[1]);
      if (n === null) {
        throw new FatalClientError("E_INVALID", `RDY could not parse count ${params[1]}`);
      }
      count = n;
    }
    const max = this.nsqd.opts.maxRdyCount;
    if (count > max) {
      throw new FatalClientError("E_INVALID", `RDY count ${count} out of range 0-${max}`);
    }
    c.setReadyCount(count);
    return 0;
  }

  #messageId(params: string[], cmd: string): string {
    const c = this.client;
    if (c.state !== STATE_SUBSCRIBED && c.state !== STATE_CLOSING) {
      throw new FatalClientError("E_INVALID", `cannot ${cmd} in current state`);
    }
    if (params.length < (cmd === "REQ" ? 3 : 2)) {
      throw new FatalClientError("E_INVALID", `${cmd} insufficient number of params`);
    }
    const id = params[1];
    if (id.length !== MSG_ID_LENGTH) throw new FatalClientError("E_INVALID", "invalid message ID");
    return id;
  }

  /** FIN of the id at `off` of the read buffer (see the fast path in #execNext). */
  #finAt(off: number): void {
    const c = this.client;
    const err = c.channel!.finishMessageAt(c, this.#buf, off);
    if (err !== null) {
      const id = latin1(this.#buf, off, off + MSG_ID_LENGTH);
      this.#nonFatal(new ClientError("E_FIN_FAILED", `FIN ${id} failed ${err}`));
      return;
    }
    c.finishCount++;
    c.inFlightDone();
  }

  #fin(params: string[]): number {
    const id = this.#messageId(params, "FIN");
    const c = this.client;
    const err = c.channel!.finishMessage(c, id);
    if (err !== null) {
      this.#nonFatal(new ClientError("E_FIN_FAILED", `FIN ${id} failed ${err}`));
      return 0;
    }
    c.finishCount++;
    c.inFlightDone();
    return 0;
  }

  #req(params: string[]): number {
    const id = this.#messageId(params, "REQ");
    const c = this.client;
    const ms = parseBase10(params[2]);
    if (ms === null) {
      throw new FatalClientError("E_INVALID", `REQ could not parse timeout ${params[2]}`);
    }
    const max = this.nsqd.opts.maxReqTimeout;
    const clamped = Math.min(ms, max);
    if (clamped !== ms) {
      this.nsqd.logger.info(
        `PROTOCOL(V2): [${c.remoteAddress}] REQ timeout ${ms} out of range 0-${max}. Setting to ${clamped}`,
      );
    }
    const err = c.channel!.requeueMessage(c, id, clamped);
    if (err !== null) {
      this.#nonFatal(new ClientError("E_REQ_FAILED", `REQ ${id} failed ${err}`));
      return 0;
    }
    c.requeueCount++;
    c.inFlightDone();
    return 0;
  }

  #touch(params: string[]): number {
    const id = this.#messageId(params, "TOUCH");
    const c = this.client;
    const err = c.channel!.touchMessage(c, id);
    if (err !== null) {
      this.#nonFatal(new ClientError("E_TOUCH_FAILED", `TOUCH ${id} failed ${err}`));
    }
    return 0;
  }

  #cls(): number {
    const c = this.client;
    if (c.state !== STATE_SUBSCRIBED) {
      throw new FatalClientError("E_INVALID", "cannot CLS in current state");
    }
    c.setReadyCount(0);
    c.state = STATE_CLOSING;
    c.sendResponse(FRAME_CLOSE_WAIT);
    this.#respond = true;
    return 0;
  }

  /** PUB and DPUB: one message body after the line. */
  #pubOne(
    cmd: "PUB" | "DPUB",
    params: string[],
    body: number,
    end: number,
    deferMs: number,
  ): Result {
    const topicName = params[1];
    const size = this.#readLen(body, end);
    if (size === null) {
      return this.#needMore(body, 4, "E_BAD_MESSAGE", `${cmd} failed to read message body size`);
    }
    if (size <= 0) {
      throw new FatalClientError("E_BAD_MESSAGE", `${cmd} invalid message body size ${size}`);
    }
    const max = this.nsqd.opts.maxMsgSize;
    if (size > max) {
      throw new FatalClientError("E_BAD_MESSAGE", `${cmd} message too big ${size} > ${max}`);
    }
    if (body + 4 + size > end) {
      return this.#needMore(body, 4 + size, "E_BAD_MESSAGE", `${cmd} failed to read message body`);
    }
    const data = this.#buf.slice(body + 4, body + 4 + size);
    const put = (): number => {
      const topic = this.nsqd.getTopic(topicName);
      const msg = topic.newMessage(data);
      msg.deferred = deferMs;
      this.#lastPub = cmd;
      try {
        topic.put(msg);
      } catch (err) {
        throw new FatalClientError(`E_${cmd}_FAILED`, `${cmd} failed ${(err as Error).message}`);
      }
      this.client.recordPub(topicName, 1);
      this.#ok();
      return 4 + size;
    };
    const auth = this.#checkAuth(cmd, topicName, "");
    if (auth === undefined && !this.nsqd.isDeleting(topicName)) return put();
    return (async () => {
      await auth;
      await this.nsqd.deletionsSettled(topicName);
      return put();
    })();
  }

  #pub(params: string[], body: number, end: number): Result {
    if (params.length < 2) {
      throw new FatalClientError("E_INVALID", "PUB insufficient number of parameters");
    }
    if (!isValidTopicName(params[1])) {
      throw new FatalClientError(
        "E_BAD_TOPIC",
        `PUB topic name ${goQuote(params[1])} is not valid`,
      );
    }
    return this.#pubOne("PUB", params, body, end, 0);
  }

  #dpub(params: string[], body: number, end: number): Result {
    if (params.length < 3) {
      throw new FatalClientError("E_INVALID", "DPUB insufficient number of parameters");
    }
    if (!isValidTopicName(params[1])) {
      throw new FatalClientError(
        "E_BAD_TOPIC",
        `DPUB topic name ${goQuote(params[1])} is not valid`,
      );
    }
    const ms = parseBase10(params[2]);
    if (ms === null) {
      throw new FatalClientError("E_INVALID", `DPUB could not parse timeout ${params[2]}`);
    }
    const max = this.nsqd.opts.maxReqTimeout;
    if (ms > max) {
      throw new FatalClientError("E_INVALID", `DPUB timeout ${ms} out of range 0-${max}`);
    }
    return this.#pubOne("DPUB", params, body, end, ms);
  }

  #mpub(params: string[], body: number, end: number): Result {
    if (params.length < 2) {
      throw new FatalClientError("E_INVALID", "MPUB insufficient number of parameters");
    }
    const topicName = params[1];
    if (!isValidTopicName(topicName)) {
      throw new FatalClientError(
        "E_BAD_TOPIC",
        `E_BAD_TOPIC MPUB topic name ${goQuote(topicName)} is not valid`,
      );
    }
    const auth = this.#checkAuth("MPUB", topicName, "");
    if (auth === undefined && !this.nsqd.isDeleting(topicName)) {
      return this.#mpubBody(topicName, body, end);
    }
    return (async () => {
      await auth;
      await this.nsqd.deletionsSettled(topicName);
      return this.#mpubBody(topicName, body, end);
    })();
  }

  #mpubBody(topicName: string, body: number, end: number): number {
    const topic = this.nsqd.getTopic(topicName); // created even if the body turns out invalid
    const o = this.nsqd.opts;
    const size = this.#readLen(body, end);
    if (size === null) {
      return this.#needMore(body, 4, "E_BAD_BODY", "MPUB failed to read body size");
    }
    if (size <= 0) throw new FatalClientError("E_BAD_BODY", `MPUB invalid body size ${size}`);
    if (size > o.maxBodySize) {
      throw new FatalClientError("E_BAD_BODY", `MPUB body too big ${size} > ${o.maxBodySize}`);
    }
    const count = this.#readLen(body + 4, end);
    if (count === null) {
      return this.#needMore(body, 8, "E_BAD_BODY", "MPUB failed to read message count");
    }
    const maxMessages = Math.floor((o.maxBodySize - 4) / 5);
    if (count <= 0 || count > maxMessages) {
      throw new FatalClientError("E_BAD_BODY", `MPUB invalid message count ${count}`);
    }
    // Validate every message before queueing any (atomic), parsing by the inner structure.
    let off = body + 8;
    for (let i = 0; i < count; i++) {
      const n = this.#readLen(off, end);
      if (n === null) {
        return this.#needMore(
          body,
          Math.max(off - body + 4, 4 + size),
          "E_BAD_MESSAGE",
          `MPUB failed to read message(${i}) body size`,
        );
      }
      if (n <= 0) {
        throw new FatalClientError("E_BAD_MESSAGE", `MPUB invalid message(${i}) body size ${n}`);
      }
      if (n > o.maxMsgSize) {
        throw new FatalClientError("E_BAD_MESSAGE", `MPUB message too big ${n} > ${o.maxMsgSize}`);
      }
      off += 4 + n;
      if (off > end) {
        return this.#needMore(
          body,
          off - body,
          "E_BAD_MESSAGE",
          "MPUB failed to read message body",
        );
      }
    }
    // One copy of the whole batch; each message body is a view into it.
    const block = this.#buf.slice(body + 8, off);
    const bv = new DataView(block.buffer);
    const msgs: Message[] = new Array(count);
    let p = 0;
    for (let i = 0; i < count; i++) {
      const n = bv.getInt32(p);
      msgs[i] = topic.newMessage(block.subarray(p + 4, p + 4 + n));
      p += 4 + n;
    }
    this.#lastPub = "MPUB";
    try {
      for (let i = 0; i < count; i++) topic.put(msgs[i]);
    } catch (err) {
      throw new FatalClientError("E_MPUB_FAILED", `MPUB failed ${(err as Error).message}`);
    }
    this.client.recordPub(topicName, count);
    this.#ok();
    return off - body;
  }
}

/** Validates and applies IDENTIFY settings in Go's order; returns the failure reason or null. */
function applyIdentify(nsqd: Nsqd, c: ClientV2, d: IdentifyRequest): string | null {
  const o = nsqd.opts;
  c.clientId = d.client_id ?? "";
  c.hostname = d.hostname ?? "";
  c.userAgent = d.user_agent ?? "";
  const hb = d.heartbeat_interval ?? 0;
  if (hb === -1) c.heartbeatInterval = 0;
  else if (hb === 0) { /* default */ }
  else if (hb >= 1000 && hb <= o.maxHeartbeatInterval) c.heartbeatInterval = hb;
  else return `heartbeat interval (${hb}) is invalid`;

  const obt = d.output_buffer_timeout ?? 0;
  if (obt === -1) c.outputBufferTimeout = 0;
  else if (obt === 0) { /* default */ }
  else if (obt >= o.minOutputBufferTimeout && obt <= o.maxOutputBufferTimeout) {
    c.outputBufferTimeout = obt;
  } else return `output buffer timeout (${obt}) is invalid`;

  const obs = d.output_buffer_size ?? 0;
  if (obs === -1) {
    c.outputBufferSize = 1;
    c.outputBufferTimeout = 0;
  } else if (obs === 0) { /* default */ }
  else if (obs >= 64 && obs <= o.maxOutputBufferSize) c.outputBufferSize = obs;
  else return `output buffer size (${obs}) is invalid`;

  const sr = d.sample_rate ?? 0;
  if (sr < 0 || sr > 99) return `sample rate (${sr}) is invalid`;
  c.sampleRate = sr;

  const mt = d.msg_timeout ?? 0;
  if (mt === 0) { /* default */ }
  else if (mt >= 1000 && mt <= o.maxMsgTimeout) c.msgTimeout = mt;
  else return `msg timeout (${mt}) is invalid`;
  return null;
}
