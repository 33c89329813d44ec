/**
 * One topic's archive for nsq_to_file (nsq's apps/nsq_to_file/file_logger.go): a consumer whose
 * messages are appended, newline-terminated, to the current output file and FINished only after
 * the data is written and fsynced.
 *
 * The router (one serialized queue of events: message, tick, HUP, stop):
 * - a message first checks rotation (new `<DATETIME>` filename, `--rotate-interval` elapsed, or
 *   more than `--rotate-size` bytes written), then is buffered and remembered for FIN;
 * - a sync (every `--sync-interval`, when `--max-in-flight` messages wait, when the consumer is
 *   starved, on rotation and on stop) writes the buffer (one gzip member per sync with `--gzip`,
 *   so a file is a valid concatenation of members), fsyncs, then FINs what it wrote;
 * - closing a file moves it from `--work-dir` to `--output-dir` without overwriting (hard link
 *   then unlink; an existing name bumps `<REV>`).
 *
 * File I/O is synchronous on purpose: the tool is a single consumer process, writes happen once
 * per sync with one buffer, and the order write → fsync → FIN needs no interleaving.
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import type { Logger } from "../internal/log.ts";
import type { Consumer, Message } from "../client/mod.ts";
import { strftime } from "./strftime.ts";

/** What a FileLogger needs of nsq_to_file's options. */
export interface FileLoggerOptions {
  channel: string;
  maxInFlight: number;
  outputDir: string;
  workDir: string;
  datetimeFormat: string;
  filenameFormat: string;
  hostIdentifier: string;
  gzip: boolean;
  gzipLevel: number;
  skipEmptyFiles: boolean;
  rotateSize: number;
  rotateInterval: number;
  syncInterval: number;
}

/**
 * The filename template of `topic` with <TOPIC>, <HOST>, <PID> filled in (<DATETIME> and <REV>
 * stay), `.gz` appended with `--gzip`. Throws when <REV> is needed (gzip, rotation or a work dir)
 * but missing.
 */
export function computeFilenameFormat(
  o: FileLoggerOptions,
  topic: string,
  hostname: string,
  pid: number,
): string {
  const shortHost = hostname.split(".")[0];
  let identifier = shortHost;
  if (o.hostIdentifier.length !== 0) {
    identifier = o.hostIdentifier.replaceAll("<SHORT_HOST>", shortHost)
      .replaceAll("<HOSTNAME>", hostname);
  }
  let cff = o.filenameFormat;
  if (o.gzip || o.rotateSize > 0 || o.rotateInterval > 0 || o.workDir !== o.outputDir) {
    if (!cff.includes("<REV>")) {
      throw new Error(
        "missing <REV> in --filename-format when gzip, rotation, or work dir enabled",
      );
    }
  } else {
    cff = cff.replaceAll("<REV>", "");
  }
  cff = cff.replaceAll("<TOPIC>", topic).replaceAll("<HOST>", identifier)
    .replaceAll("<PID>", String(pid));
  if (o.gzip && !cff.endsWith(".gz")) cff += ".gz";
  return cff;
}

function revText(rev: number): string {
  return `-${String(rev).padStart(6, "0")}`;
}

function joinPath(dir: string, name: string): string {
  if (name.startsWith("/")) return name;
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? (i === 0 ? "/" : "") : path.slice(0, i);
}

function mkdirFor(path: string): void {
  const dir = dirOf(path);
  if (dir !== "") Deno.mkdirSync(dir, { recursive: true, mode: 0o770 });
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Hard link then unlink: fails with AlreadyExists instead of overwriting `dst`. */
function exclusiveRename(src: string, dst: string): void {
  Deno.linkSync(src, dst);
  Deno.removeSync(src);
}

/** A fatal I/O problem: nsq_to_file logs it and exits 1. */
export class FileLoggerFatal extends Error {}

/** One topic's consumer and output file; see the module doc. */
export class FileLogger {
  readonly topic: string;
  readonly #o: FileLoggerOptions;
  readonly #log: Logger;
  readonly #consumer: Consumer;
  readonly #filenameFormat: string;
  readonly #tag: string;
  readonly #onFatal: (e: Error) => void;

  #out: Deno.FsFile | null = null;
  #outPath = "";
  #filename = "";
  #openTime = 0;
  #filesize = 0;
  #rev = 0;

  /** Bytes written since the last sync (body + "\n" each). */
  #chunks: Uint8Array[] = [];
  /** Messages written since the last sync, FINished by it. */
  #pending: Message[] = [];
  #queue: Message[] = [];
  #scheduled = false;
  #stopping = false;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(
    o: FileLoggerOptions,
    topic: string,
    consumer: Consumer,
    log: Logger,
    filenameFormat: string,
    onFatal: (e: Error) => void,
  ) {
    this.topic = topic;
    this.#o = o;
    this.#log = log;
    this.#consumer = consumer;
    this.#filenameFormat = filenameFormat;
    this.#tag = `[${topic}/${o.channel}]`;
    this.#onFatal = onFatal;
    consumer.addHandler((m) => {
      m.disableAutoResponse();
      if (this.#closed) {
        m.requeue(0, false); // after a fatal error nothing more is written
        return;
      }
      this.#queue.push(m);
      this.#schedule();
    });
    this.#ticker = setInterval(() => this.#guard(() => this.#tick()), o.syncInterval);
  }

  #guard(fn: () => void): void {
    if (this.#closed) return;
    try {
      fn();
    } catch (e) {
      this.#closed = true;
      clearInterval(this.#ticker);
      // What was not synced is not durable: hand it back to nsqd.
      for (const m of [...this.#pending, ...this.#queue]) m.requeue(0, false);
      this.#pending = [];
      this.#queue = [];
      this.#chunks = [];
      this.#onFatal(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Handles queued messages in one macrotask, so a burst is one write + fsync. */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      this.#guard(() => this.#drain());
    }, 0);
  }

  #drain(): void {
    let sync = false;
    while (this.#queue.length > 0) {
      // The message leaves the queue only once it is in `#pending`: a fatal error in between
      // still finds it (and REQueues it).
      const m = this.#queue[0];
      if (this.#needsRotation()) {
        this.#updateFile();
        sync = true;
      }
      this.#write(m.body);
      this.#write(NEWLINE);
      this.#pending.push(m);
      this.#queue.shift();
      if (this.#pending.length >= this.#o.maxInFlight) this.#sync();
    }
    if (sync || this.#stopping || this.#consumer.isStarved()) this.#sync();
  }

  #tick(): void {
    if (this.#needsRotation()) {
      if (this.#o.skipEmptyFiles) {
        this.#sync();
        this.#close();
        return;
      }
      this.#updateFile();
    }
    this.#sync();
  }

  /** SIGHUP: sync and close the current file (a new one opens with the next message). */
  hup(): void {
    this.#guard(() => {
      this.#log.info(`${this.#tag} SIGHUP: closing the current file`);
      this.#sync();
      this.#close();
    });
  }

  /**
   * Stops consuming: everything received is written, synced and FINished; then the file is
   * closed (and moved to the output dir).
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#ticker);
    this.#guard(() => this.#drain());
    const stopped = this.#consumer.stop();
    await stopped.catch((e) => this.#log.error(`${this.#tag} stopping consumer: ${e}`));
    this.#guard(() => {
      this.#drain();
      this.#close();
    });
    this.#closed = true;
  }

  #write(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.#filesize += bytes.length;
  }

  #flushChunks(): void {
    if (this.#chunks.length === 0 || this.#out === null) return;
    let total = 0;
    for (const c of this.#chunks) total += c.length;
    let data: Uint8Array = new Uint8Array(total);
    let off = 0;
    for (const c of this.#chunks) {
      data.set(c, off);
      off += c.length;
    }
    this.#chunks = [];
    if (this.#o.gzip) data = new Uint8Array(gzipSync(data, { level: this.#o.gzipLevel }));
    for (let w = 0; w < data.length;) w += this.#out.writeSync(data.subarray(w));
  }

  #sync(): void {
    if (this.#pending.length === 0 && this.#chunks.length === 0) return;
    if (this.#pending.length > 0) {
      this.#log.info(`${this.#tag} syncing ${this.#pending.length} records to disk`);
    }
    this.#flushChunks();
    this.#out?.syncSync();
    const done = this.#pending;
    this.#pending = [];
    for (const m of done) m.finish();
  }

  #currentFilename(): string {
    return this.#filenameFormat.replaceAll(
      "<DATETIME>",
      strftime(this.#o.datetimeFormat, new Date()),
    );
  }

  #needsRotation(): boolean {
    if (this.#out === null) return true;
    const filename = this.#currentFilename();
    if (filename !== this.#filename) {
      this.#log.info(`${this.#tag} new filename ${filename}, rotating...`);
      return true;
    }
    if (this.#o.rotateInterval > 0) {
      const since = Date.now() - this.#openTime;
      if (since > this.#o.rotateInterval) {
        this.#log.info(`${this.#tag} ${since}ms since last open, rotating...`);
        return true;
      }
    }
    if (this.#o.rotateSize > 0 && this.#filesize > this.#o.rotateSize) {
      this.#log.info(
        `${this.#tag} ${this.#outPath} currently ${this.#filesize} bytes (> ${this.#o.rotateSize}), rotating...`,
      );
      return true;
    }
    return false;
  }

  #outputPathOf(workPath: string): string {
    const rel = workPath.startsWith(this.#o.workDir)
      ? workPath.slice(this.#o.workDir.length)
      : workPath;
    return joinPath(this.#o.outputDir, rel.replace(/^\/+/, ""));
  }

  /** Writes what is buffered, fsyncs, closes, and moves the file to the output dir. */
  #close(): void {
    if (this.#out === null) return;
    this.#flushChunks();
    this.#out.syncSync();
    this.#out.close();
    this.#out = null;
    const src = this.#outPath;
    if (this.#o.workDir === this.#o.outputDir) return;
    const dst = this.#outputPathOf(src);
    this.#log.info(`${this.#tag} moving finished file ${src} to ${dst}`);
    try {
      exclusiveRename(src, dst);
      return;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        throw new FileLoggerFatal(`${this.#tag} unable to move file from ${src} to ${dst}: ${e}`);
      }
    }
    const dstTmpl = joinPath(dirOf(dst), this.#filename.split("/").pop()!);
    for (let i = this.#rev + 1;; i++) {
      this.#log.warn(`${this.#tag} destination file already exists: ${dst}`);
      const next = dstTmpl.replaceAll("<REV>", revText(i));
      try {
        exclusiveRename(src, next);
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) continue;
        throw new FileLoggerFatal(
          `${this.#tag} unable to rename file from ${src} to ${next}: ${e}`,
        );
      }
      this.#log.info(`${this.#tag} renamed finished file ${src} to ${next} to avoid overwrite`);
      return;
    }
  }

  #mkdirFor(path: string): void {
    try {
      mkdirFor(path);
    } catch (e) {
      throw new FileLoggerFatal(
        `${this.#tag} unable to create dir: ${e instanceof Error ? e.message : e}`,
      );
    }
  }

  /** Closes the current file and opens the next one (the first free `<REV>`). */
  #updateFile(): void {
    this.#close();
    const filename = this.#currentFilename();
    if (filename !== this.#filename) this.#rev = 0;
    else this.#rev++;
    this.#filename = filename;
    this.#openTime = Date.now();
    const fullPath = joinPath(this.#o.workDir, filename);
    this.#mkdirFor(fullPath);
    const exclusive = this.#o.gzip || this.#o.rotateInterval > 0;
    for (;; this.#rev++) {
      const abs = fullPath.replaceAll("<REV>", revText(this.#rev));
      if (this.#o.workDir !== this.#o.outputDir) {
        const outName = this.#outputPathOf(abs);
        this.#mkdirFor(outName);
        if (exists(outName)) {
          this.#log.warn(`${this.#tag} output file already exists: ${outName}`);
          continue;
        }
      }
      let file: Deno.FsFile;
      try {
        file = exclusive
          ? Deno.openSync(abs, { write: true, createNew: true, mode: 0o666 })
          : Deno.openSync(abs, { write: true, append: true, create: true, mode: 0o666 });
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) {
          this.#log.warn(`${this.#tag} working file already exists: ${abs}`);
          continue;
        }
        throw new FileLoggerFatal(`${this.#tag} unable to open ${abs}: ${e}`);
      }
      this.#log.info(`${this.#tag} opening ${abs}`);
      this.#out = file;
      this.#outPath = abs;
      this.#filesize = file.statSync().size;
      if (this.#o.rotateSize > 0 && this.#filesize > this.#o.rotateSize) {
        this.#log.info(
          `${this.#tag} ${abs} currently ${this.#filesize} bytes (> ${this.#o.rotateSize}), rotating...`,
        );
        file.close();
        this.#out = null;
        continue;
      }
      return;
    }
  }
}

const NEWLINE = new Uint8Array([10]);
