/**
 * The nsqadmin daemon (nsq's nsqadmin/nsqadmin.go): one HTTP server for the JSON API and the web
 * UI over a {@linkcode ClusterInfo}, the admin-action notifier and (beyond Go) the history
 * sampler. Options can change at run time through `PUT /config/:opt`, so everything reads them
 * through `opts()`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Daemon } from "../internal/daemon.ts";
import type { Logger } from "../internal/log.ts";
import { TaskGroup } from "../internal/task_group.ts";
import { type HttpServerHandle, serveHttp } from "../http/v1.ts";
import { versionLine } from "../version.ts";
import type { AdminContext } from "./api.ts";
import { ClusterInfo } from "./cluster_info.ts";
import { History, seriesKey } from "./history.ts";
import { newAdminHttpApp } from "./http.ts";
import { Notifier } from "./notify.ts";
import { normalizeBasePath, type NsqadminOptions } from "./options.ts";

/** nsqadmin: `start()` binds the HTTP listener (port 0 allowed), `close()` stops everything. */
export class Nsqadmin implements Daemon, AdminContext {
  readonly logger: Logger;
  readonly ci: ClusterInfo;
  /** The same client logging its queries at debug level (pages, refreshes, the sampler). */
  readonly quietCi: ClusterInfo;
  readonly notifier: Notifier;
  readonly history: History;
  readonly failed: Promise<Error>;
  /** When the history sampler last completed a round (ms since epoch), 0 before the first. */
  lastSample = 0;

  #opts: NsqadminOptions;
  readonly #failed = Promise.withResolvers<Error>();
  readonly #tasks: TaskGroup;
  readonly #abort = new AbortController();
  #http: HttpServerHandle | null = null;
  #httpClient: Deno.HttpClient | undefined;
  #closing: Promise<void> | null = null;

  constructor(opts: NsqadminOptions, logger: Logger) {
    this.#opts = { ...opts, basePath: normalizeBasePath(opts.basePath) };
    this.logger = logger;
    this.failed = this.#failed.promise;
    this.#tasks = new TaskGroup((err) => this.#failed.resolve(toError(err)));
    const client = {
      connectTimeout: opts.httpClientConnectTimeout,
      requestTimeout: opts.httpClientRequestTimeout,
    };
    this.ci = new ClusterInfo(client, logger);
    this.quietCi = new ClusterInfo({ ...client, quiet: true }, logger);
    this.notifier = new Notifier(
      () => this.#opts.notificationHttpEndpoint,
      () => this.#opts.httpClientConnectTimeout + this.#opts.httpClientRequestTimeout,
      logger,
      this.#tasks,
    );
    this.history = new History(opts.historyWindow, opts.historyInterval);
  }

  /** The current options (replaced as a whole by `PUT /config/:opt`). */
  opts(): NsqadminOptions {
    return this.#opts;
  }

  /** Replaces the options (Go's swapOpts). */
  swapOpts(opts: NsqadminOptions): void {
    this.#opts = opts;
    this.logger.level = opts.logLevel;
  }

  /** The bound HTTP address, `"host:port"` (empty before `start()`). */
  get httpAddress(): string {
    return this.#http?.addr ?? "";
  }

  async start(): Promise<void> {
    const o = this.#opts;
    this.logger.info(versionLine("nsqadmin"));
    if (o.httpClientTlsCert !== "" || o.httpClientTlsRootCaFile !== "") {
      const read = async (path: string, what: string) => {
        try {
          return await Deno.readTextFile(path);
        } catch (e) {
          throw new Error(`failed to read ${what} ${path} - ${e instanceof Error ? e.message : e}`);
        }
      };
      const tls: Deno.CreateHttpClientOptions = {};
      if (o.httpClientTlsRootCaFile !== "") {
        tls.caCerts = [await read(o.httpClientTlsRootCaFile, "TLS root CA file")];
      }
      if (o.httpClientTlsCert !== "") {
        (tls as Record<string, unknown>).cert = await read(o.httpClientTlsCert, "TLS cert");
        (tls as Record<string, unknown>).key = await read(o.httpClientTlsKey, "TLS key");
      }
      this.#httpClient = Deno.createHttpClient(tls);
      this.ci.useHttpClient(this.#httpClient);
      this.quietCi.useHttpClient(this.#httpClient);
    }
    if (o.httpClientTlsInsecureSkipVerify) {
      this.logger.warn(
        "--http-client-tls-insecure-skip-verify is not supported by this runtime's HTTP client; " +
          "use --http-client-tls-root-ca-file",
      );
    }
    const app = newAdminHttpApp(this);
    try {
      this.#http = serveHttp(o.httpAddress, app.fetch, { logger: this.logger });
    } catch (e) {
      throw new Error(`listen (${o.httpAddress}) failed - ${e instanceof Error ? e.message : e}`);
    }
    if (o.historyWindow > 0) this.#tasks.spawn(this.#sampleLoop(this.#abort.signal));
  }

  /**
   * The history sampler: every `--history-interval`, one round of /stats over every producer;
   * a failed round is logged at debug level and skipped (the charts show a gap, nothing else).
   */
  async #sampleLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.sampleOnce().catch((e) =>
        this.logger.debug(`history sample failed - ${e instanceof Error ? e.message : e}`)
      );
      try {
        await sleep(this.#opts.historyInterval, undefined, { signal });
      } catch {
        return;
      }
    }
  }

  /** One history round (exposed for tests). */
  async sampleOnce(): Promise<void> {
    const o = this.#opts;
    const ci = this.quietCi;
    const producers = await ci.getProducers(o.nsqlookupdHttpAddresses, o.nsqdHttpAddresses);
    const stats = await ci.getNsqdStats(producers.value, "", "", false);
    const now = Date.now();
    const topics = new Map<string, { depth: number; count: number }>();
    for (const t of stats.value.topics) {
      const agg = topics.get(t.topic_name) ?? { depth: 0, count: 0 };
      agg.depth += t.depth;
      agg.count += t.message_count;
      topics.set(t.topic_name, agg);
    }
    for (const [name, v] of topics) {
      this.history.record(seriesKey(name), { t: now, ...v, inFlight: 0 });
    }
    for (const c of stats.value.channels.values()) {
      this.history.record(seriesKey(c.topic_name, c.channel_name), {
        t: now,
        depth: c.depth,
        count: c.message_count,
        inFlight: c.in_flight_count,
      });
    }
    this.history.prune(now);
    this.lastSample = now;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort();
      await this.#http?.close();
      await this.#tasks.wait();
      this.#httpClient?.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
