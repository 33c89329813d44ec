/**
 * `nsq dev` (`deno task start`): an nsqlookupd, an nsqd and an nsqadmin in one process, on
 * 127.0.0.1 and the default ports, the nsqd registered with the lookupd and storing data under
 * ./data, nsqadmin reading the lookupd. Prints the addresses, nsqadmin's URL and a `curl` to
 * publish a first message; stops all three on SIGINT / SIGTERM.
 */
import type { Daemon } from "../internal/daemon.ts";
import { Logger, type LogLevel, type LogSink } from "../internal/log.ts";
import { joinHostPort } from "../internal/net_addr.ts";
import { defaultNsqdOptions, type NsqdOptions } from "../nsqd/options.ts";
import { optionGroup } from "../internal/options.ts";
import { defaultNsqlookupdOptions, type NsqlookupdOptions } from "../nsqlookupd/options.ts";
import { defaultNsqadminOptions, type NsqadminOptions } from "../nsqadmin/options.ts";
import { validateNsqdOptions } from "./nsqd.ts";
import { type Output, processOutput } from "./output.ts";
import { type CommandSpec, parseCommandLine, VERSION_FLAG } from "./resolve.ts";
import { runService, type SignalSource } from "./service.ts";

/** The flags of `nsq dev`. */
export interface DevOptions {
  dataPath: string;
  tcpAddress: string;
  httpAddress: string;
  lookupdTcpAddress: string;
  lookupdHttpAddress: string;
  /** nsqadmin's HTTP address; empty runs no nsqadmin. */
  adminHttpAddress: string;
  logLevel: LogLevel;
}

export function defaultDevOptions(): DevOptions {
  return {
    dataPath: "./data",
    tcpAddress: "127.0.0.1:4150",
    httpAddress: "127.0.0.1:4151",
    lookupdTcpAddress: "127.0.0.1:4160",
    lookupdHttpAddress: "127.0.0.1:4161",
    adminHttpAddress: "127.0.0.1:4171",
    logLevel: "info",
  };
}

export const devCommand: CommandSpec<DevOptions> = {
  name: "dev",
  metaFlags: [VERSION_FLAG],
  defaults: defaultDevOptions,
  table: [
    ...optionGroup<DevOptions>("nsqd", [
      {
        flag: "data-path",
        field: "dataPath",
        kind: "string",
        help: "path to store disk-backed messages (created if missing)",
      },
      {
        flag: "tcp-address",
        field: "tcpAddress",
        kind: "string",
        help: "<addr>:<port> nsqd listens on for TCP clients",
      },
      {
        flag: "http-address",
        field: "httpAddress",
        kind: "string",
        help: "<addr>:<port> nsqd listens on for HTTP clients",
      },
    ]),
    ...optionGroup<DevOptions>("nsqlookupd", [
      {
        flag: "lookupd-tcp-address",
        field: "lookupdTcpAddress",
        kind: "string",
        help: "<addr>:<port> nsqlookupd listens on for TCP clients (nsqd registers here)",
      },
      {
        flag: "lookupd-http-address",
        field: "lookupdHttpAddress",
        kind: "string",
        help: "<addr>:<port> nsqlookupd listens on for HTTP clients",
      },
    ]),
    ...optionGroup<DevOptions>("nsqadmin", [
      {
        flag: "admin-http-address",
        field: "adminHttpAddress",
        kind: "string",
        help: "<addr>:<port> nsqadmin listens on for HTTP clients (empty: no nsqadmin)",
      },
    ]),
    ...optionGroup<DevOptions>("logging", [
      {
        flag: "log-level",
        field: "logLevel",
        kind: "logLevel",
        help: "set log verbosity of both daemons: debug, info, warn, error, or fatal",
      },
    ]),
  ],
};

/** The host of `host:port`, made dialable: a wildcard or empty host becomes 127.0.0.1. */
export function dialableHost(address: string): string {
  const i = address.lastIndexOf(":");
  let host = i === -1 ? address : address.slice(0, i);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return host === "" || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
}

/**
 * The address a started daemon actually bound (port 0 resolved): its `tcpAddress` /
 * `httpAddress` getter (Nsqd and Nsqlookupd both offer them), else the configured address.
 */
export function boundAddress(daemon: unknown, kind: "tcp" | "http", configured: string): string {
  const v = (daemon as Record<string, unknown> | null)?.[`${kind}Address`];
  return typeof v === "string" && v !== "" ? v : configured;
}

/** Factories for the daemons (tests inject fakes; without `nsqadmin`, none is started). */
export interface DevDaemons {
  nsqlookupd(opts: NsqlookupdOptions, logger: Logger): Daemon | Promise<Daemon>;
  nsqd(opts: NsqdOptions, logger: Logger): Daemon | Promise<Daemon>;
  nsqadmin?(opts: NsqadminOptions, logger: Logger): Daemon | Promise<Daemon>;
}

const realDaemons: DevDaemons = {
  async nsqlookupd(opts, logger) {
    const { Nsqlookupd } = await import("../nsqlookupd/nsqlookupd.ts");
    return new Nsqlookupd(opts, logger);
  },
  async nsqd(opts, logger) {
    const { Nsqd } = await import("../nsqd/nsqd.ts");
    return new Nsqd(opts, logger);
  },
  async nsqadmin(opts, logger) {
    const { Nsqadmin } = await import("../nsqadmin/nsqadmin.ts");
    return new Nsqadmin(opts, logger);
  },
};

/**
 * nsqlookupd, nsqd, then nsqadmin, as one Daemon: start() starts the lookupd, points the nsqd at
 * the lookupd's bound TCP address and starts it, then nsqadmin over the lookupd's bound HTTP
 * address; close() closes them in reverse order; `failed` settles when any fails.
 */
export class DevCluster implements Daemon {
  readonly failed: Promise<Error>;
  /** Bound addresses once started. */
  addresses = { nsqdTcp: "", nsqdHttp: "", lookupdTcp: "", lookupdHttp: "", adminHttp: "" };
  #opts: DevOptions;
  #factories: DevDaemons;
  #sink: LogSink | undefined;
  #lookupd: Daemon | undefined;
  #nsqd: Daemon | undefined;
  #admin: Daemon | undefined;
  #fail!: (e: Error) => void;
  #closing: Promise<void> | undefined;

  constructor(opts: DevOptions, factories: DevDaemons = realDaemons, sink?: LogSink) {
    this.#opts = opts;
    this.#factories = factories;
    this.#sink = sink;
    this.failed = new Promise((resolve) => this.#fail = resolve);
  }

  #watch(d: Daemon, name: string): void {
    d.failed.then(
      (e) => this.#fail(new Error(`${name}: ${e.message}`)),
      (e) => this.#fail(new Error(`${name}: ${e}`)),
    );
  }

  async start(): Promise<void> {
    const o = this.#opts;
    await Deno.mkdir(o.dataPath, { recursive: true });

    const lookupdOpts: NsqlookupdOptions = {
      ...defaultNsqlookupdOptions(),
      tcpAddress: o.lookupdTcpAddress,
      httpAddress: o.lookupdHttpAddress,
      broadcastAddress: dialableHost(o.lookupdTcpAddress),
      logLevel: o.logLevel,
    };
    const lookupdLogger = new Logger(lookupdOpts.logPrefix, o.logLevel, this.#sink);
    this.#lookupd = await this.#factories.nsqlookupd(lookupdOpts, lookupdLogger);
    this.#watch(this.#lookupd, "nsqlookupd");
    await this.#lookupd.start();
    this.addresses.lookupdTcp = boundAddress(this.#lookupd, "tcp", o.lookupdTcpAddress);
    this.addresses.lookupdHttp = boundAddress(this.#lookupd, "http", o.lookupdHttpAddress);

    const lookupdTcp = this.addresses.lookupdTcp;
    const i = lookupdTcp.lastIndexOf(":");
    const nsqdOpts: NsqdOptions = {
      ...defaultNsqdOptions(),
      dataPath: o.dataPath,
      tcpAddress: o.tcpAddress,
      httpAddress: o.httpAddress,
      broadcastAddress: dialableHost(o.tcpAddress),
      nsqlookupdTcpAddresses: [
        joinHostPort(dialableHost(lookupdTcp), Number(lookupdTcp.slice(i + 1))),
      ],
      logLevel: o.logLevel,
    };
    const problem = validateNsqdOptions(nsqdOpts);
    if (problem !== undefined) throw new Error(problem);
    const nsqdLogger = new Logger(nsqdOpts.logPrefix, o.logLevel, this.#sink);
    this.#nsqd = await this.#factories.nsqd(nsqdOpts, nsqdLogger);
    this.#watch(this.#nsqd, "nsqd");
    await this.#nsqd.start();
    this.addresses.nsqdTcp = boundAddress(this.#nsqd, "tcp", o.tcpAddress);
    this.addresses.nsqdHttp = boundAddress(this.#nsqd, "http", o.httpAddress);

    const makeAdmin = this.#factories.nsqadmin;
    if (o.adminHttpAddress === "" || makeAdmin === undefined) return;
    const lookupdHttp = this.addresses.lookupdHttp;
    const adminOpts: NsqadminOptions = {
      ...defaultNsqadminOptions(),
      httpAddress: o.adminHttpAddress,
      nsqlookupdHttpAddresses: [
        joinHostPort(
          dialableHost(lookupdHttp),
          Number(lookupdHttp.slice(lookupdHttp.lastIndexOf(":") + 1)),
        ),
      ],
      logLevel: o.logLevel,
    };
    const adminLogger = new Logger(adminOpts.logPrefix, o.logLevel, this.#sink);
    this.#admin = await makeAdmin(adminOpts, adminLogger);
    this.#watch(this.#admin, "nsqadmin");
    await this.#admin.start();
    this.addresses.adminHttp = boundAddress(this.#admin, "http", o.adminHttpAddress);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.#admin?.close();
      } finally {
        try {
          await this.#nsqd?.close();
        } finally {
          await this.#lookupd?.close();
        }
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The lines `nsq dev` prints once the daemons run. */
export function devBanner(cluster: DevCluster, dataPath: string): string {
  const a = cluster.addresses;
  const dialable = (addr: string) =>
    `${dialableHost(addr)}:${addr.slice(addr.lastIndexOf(":") + 1)}`;
  const http = dialable(a.nsqdHttp);
  const admin = a.adminHttp === ""
    ? []
    : [`nsqadmin    HTTP ${a.adminHttp}  open http://${dialable(a.adminHttp)}/`];
  return [
    `nsqlookupd  TCP ${a.lookupdTcp}  HTTP ${a.lookupdHttp}`,
    `nsqd        TCP ${a.nsqdTcp}  HTTP ${a.nsqdHttp}  data ${dataPath}`,
    ...admin,
    ``,
    `Publish a message:`,
    `  curl -d hello 'http://${http}/pub?topic=test'`,
    `Press Ctrl-C to stop.`,
    ``,
  ].join("\n");
}

/** Injection points for tests. */
export interface DevDeps {
  daemons?: DevDaemons;
  signals?: SignalSource;
  output?: Output;
  logSink?: LogSink;
}

/** `nsq dev ...`: resolves the exit code once both daemons have stopped. */
export async function run(args: readonly string[], deps: DevDeps = {}): Promise<number> {
  const output = deps.output ?? processOutput;
  const outcome = parseCommandLine(devCommand, args);
  if (outcome.kind === "exit") {
    if (outcome.stdout !== "") output.out(outcome.stdout);
    if (outcome.stderr !== "") output.err(outcome.stderr);
    return outcome.code;
  }
  const opts = outcome.options;
  const logger = new Logger("[dev] ", opts.logLevel, deps.logSink);
  const cluster = new DevCluster(opts, deps.daemons, deps.logSink);
  // Print the banner once start() has resolved: runService starts the daemon itself.
  const wrapped: Daemon = {
    failed: cluster.failed,
    start: async () => {
      await cluster.start();
      output.out(devBanner(cluster, opts.dataPath));
    },
    close: () => cluster.close(),
    [Symbol.asyncDispose]: () => cluster.close(),
  };
  return await runService(wrapped, { name: "dev", logger, signals: deps.signals });
}
