/**
 * The nsqlookupd daemon (docs/nsqlookupd.md; nsq's `nsqlookupd.go`): a TCP listener speaking
 * protocol V1 to nsqd nodes and an HTTP API for consumers and nsqadmin, both over one in-memory
 * {@linkcode RegistrationDB}. Nothing is persisted; lookupds never talk to each other.
 */
import type { Daemon } from "../internal/daemon.ts";
import type { Logger } from "../internal/log.ts";
import { TaskGroup } from "../internal/task_group.ts";
import { versionLine } from "../version.ts";
import { osHostname } from "../internal/options.ts";
import { formatAddr, splitHostPort } from "../internal/net_addr.ts";
import { type HttpServerHandle, serveHttp } from "../http/v1.ts";
import type { NsqlookupdOptions } from "./options.ts";
import { RegistrationDB } from "./registration_db.ts";
import { handleLookupConn, type LookupdContext } from "./lookup_protocol_v1.ts";
import { newLookupdHttpApp } from "./http.ts";

/** nsqlookupd: `start()` binds both listeners (port 0 allowed), `close()` stops everything. */
export class Nsqlookupd implements Daemon, LookupdContext {
  readonly opts: NsqlookupdOptions;
  readonly logger: Logger;
  readonly db: RegistrationDB = new RegistrationDB();
  readonly hostname: string = osHostname();
  readonly failed: Promise<Error>;

  readonly #failed = Promise.withResolvers<Error>();
  readonly #tasks: TaskGroup;
  readonly #conns = new Set<Deno.TcpConn>();
  #tcpListener: Deno.TcpListener | null = null;
  #http: HttpServerHandle | null = null;
  #tcpAddress = "";
  #tcpPort = 0;
  #state: "new" | "starting" | "running" | "closed" = "new";
  #closing: Promise<void> | null = null;

  constructor(opts: NsqlookupdOptions, logger: Logger) {
    this.opts = opts;
    this.logger = logger;
    this.failed = this.#failed.promise;
    this.#tasks = new TaskGroup((err) => this.#fail(err));
  }

  /** The bound TCP address, `"host:port"` (empty before `start()`). */
  get tcpAddress(): string {
    return this.#tcpAddress;
  }
  /** The bound HTTP address, `"host:port"` (empty before `start()`). */
  get httpAddress(): string {
    return this.#http?.addr ?? "";
  }
  /** The bound TCP port (what IDENTIFY answers). */
  get tcpPort(): number {
    return this.#tcpPort;
  }
  /** The bound HTTP port (what IDENTIFY answers). */
  get httpPort(): number {
    return this.#http?.port ?? 0;
  }
  /** `--broadcast-address`, returned to nsqd in IDENTIFY. */
  get broadcastAddress(): string {
    return this.opts.broadcastAddress;
  }

  /** Binds TCP then HTTP and starts serving; throws (after cleaning up) when a bind fails. */
  start(): Promise<void> {
    if (this.#state !== "new") {
      return Promise.reject(new Error(`nsqlookupd: start() called twice or after close()`));
    }
    this.#state = "starting";
    this.logger.info(versionLine("nsqlookupd"));
    try {
      const { hostname, port } = splitHostPort(this.opts.tcpAddress);
      try {
        this.#tcpListener = Deno.listen({ hostname: hostname || "0.0.0.0", port });
      } catch (err) {
        throw new Error(`listen (${this.opts.tcpAddress}) failed - ${errText(err)}`);
      }
      this.#tcpAddress = formatAddr(this.#tcpListener.addr);
      this.#tcpPort = this.#tcpListener.addr.port;
      this.logger.info(`TCP: listening on ${this.#tcpAddress}`);
      try {
        this.#http = serveHttp(this.opts.httpAddress, newLookupdHttpApp(this).fetch, {
          logger: this.logger,
        });
      } catch (err) {
        throw new Error(`listen (${this.opts.httpAddress}) failed - ${errText(err)}`);
      }
    } catch (err) {
      this.#state = "closed";
      try {
        this.#tcpListener?.close();
      } catch { /* already closed */ }
      return Promise.reject(err);
    }
    this.#state = "running";
    this.#tasks.spawn(this.#acceptLoop(this.#tcpListener));
    return Promise.resolve();
  }

  /**
   * Accepts TCP clients until the listener closes; each connection is served by
   * `handleLookupConn` as its own task. An accept error other than the listener closing fails
   * the daemon (Go's `exitFunc`).
   */
  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#state === "closed" || err instanceof Deno.errors.BadResource) break;
        if (err instanceof Deno.errors.ConnectionAborted) continue; // temporary, like Go
        throw err;
      }
      if (this.#state === "closed") {
        conn.close();
        break;
      }
      this.#conns.add(conn);
      this.#tasks.spawn(
        handleLookupConn(this, conn).finally(() => this.#conns.delete(conn)),
      );
    }
    this.logger.info(`TCP: closing ${this.#tcpAddress}`);
  }

  #fail(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.logger.fatal(e.message);
    this.#failed.resolve(e);
  }

  /** Closes the listeners and every client connection; resolves when all tasks ended. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = "closed";
      try {
        this.#tcpListener?.close();
      } catch { /* already closed */ }
      for (const conn of this.#conns) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      await this.#http?.close();
      await this.#tasks.wait();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
