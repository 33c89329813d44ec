/**
 * `nsq nsqd [flags]`: nsqd's flags (apps/nsqd/options.go), TOML config and validation
 * (nsqd.New()), then the daemon as a service.
 */
import type { Daemon } from "../internal/daemon.ts";
import type { Logger } from "../internal/log.ts";
import {
  defaultNsqdOptions,
  type NsqdOptions,
  nsqdOptionTable,
  parseGossipKey,
  TLS_NOT_REQUIRED,
  TLS_REQUIRED,
} from "../nsqd/options.ts";
import { runDaemonCommand, type RunDeps } from "./command.ts";
import {
  type CliOutcome,
  type CommandSpec,
  CONFIG_FLAG,
  type MetaFlag,
  parseCommandLine,
  VERBOSE_FLAG,
  VERSION_FLAG,
} from "./resolve.ts";

/** `--worker-id`: deprecated, accepted and ignored (a boolean, as in Go). */
export const WORKER_ID_FLAG: MetaFlag = {
  flag: "worker-id",
  kind: "bool",
  help: "[deprecated] use --node-id",
};

/**
 * The checks Go's `nsqd.New()` makes, in its order, with its messages (prefixed like Go's
 * `failed to instantiate nsqd - `). A tls-client-auth-policy turns tls-required on.
 */
export function validateNsqdOptions(opts: NsqdOptions): string | undefined {
  const fail = (msg: string) => `failed to instantiate nsqd - ${msg}`;
  if (!(opts.maxDeflateLevel >= 1 && opts.maxDeflateLevel <= 9)) {
    return fail("--max-deflate-level must be [1,9]");
  }
  if (!(opts.id >= 0 && opts.id < 1024)) return fail("--node-id must be [0,1024)");
  if (opts.tlsClientAuthPolicy !== "" && opts.tlsRequired === TLS_NOT_REQUIRED) {
    opts.tlsRequired = TLS_REQUIRED;
  }
  if ((opts.tlsCert === "") !== (opts.tlsKey === "")) {
    return fail("failed to build TLS config - --tls-cert and --tls-key must be given together");
  }
  if (opts.tlsCert === "" && opts.tlsRequired !== TLS_NOT_REQUIRED) {
    return fail("cannot require TLS client connections without TLS key and cert");
  }
  if (opts.authHttpRequestMethod !== "post" && opts.authHttpRequestMethod !== "get") {
    return fail("--auth-http-request-method must be post or get");
  }
  for (const p of opts.e2eProcessingLatencyPercentiles) {
    if (!(p > 0 && p <= 1)) return fail(`invalid E2E processing latency percentile: ${p}`);
  }
  const gossip = validateGossipOptions(opts);
  if (gossip !== undefined) return fail(gossip);
  return undefined;
}

/** The gossip flags (ours; NSQ's dev branch checks none of them). */
function validateGossipOptions(opts: NsqdOptions): string | undefined {
  if (opts.gossipAddress === "") return undefined;
  if (!/^(\[.*\]|[^:]*):\d+$/.test(opts.gossipAddress)) {
    return `--gossip-address "${opts.gossipAddress}" must be <addr>:<port>`;
  }
  if (!(opts.gossipProbeInterval > 0)) return "--gossip-probe-interval must be > 0";
  if (!(opts.gossipSuspicionMult >= 1)) return "--gossip-suspicion-mult must be >= 1";
  if (!(opts.gossipRegossipInterval > 0)) return "--gossip-regossip-interval must be > 0";
  if (!(opts.gossipReapInterval > 0)) return "--gossip-reap-interval must be > 0";
  if (opts.gossipSecretKey !== "") {
    try {
      parseGossipKey(opts.gossipSecretKey);
    } catch (err) {
      return (err as Error).message;
    }
  }
  return undefined;
}

/** nsqd's command description: its option table, CLI-only flags, defaults and validation. */
export const nsqdCommand: CommandSpec<NsqdOptions> = {
  name: "nsqd",
  table: nsqdOptionTable,
  metaFlags: [VERSION_FLAG, CONFIG_FLAG, VERBOSE_FLAG, WORKER_ID_FLAG],
  defaults: defaultNsqdOptions,
  validate: validateNsqdOptions,
};

/**
 * argv (after `nsqd`) → NsqdOptions, or the exit to take (help, version, a flag error with
 * code 2, a config / validation error with code 1). No I/O except reading `--config`.
 */
export function parseNsqdArgs(argv: readonly string[]): CliOutcome<NsqdOptions> {
  return parseCommandLine(nsqdCommand, argv);
}

async function createNsqd(opts: NsqdOptions, logger: Logger): Promise<Daemon> {
  const { Nsqd } = await import("../nsqd/nsqd.ts");
  return new Nsqd(opts, logger);
}

/** `nsq nsqd ...`: resolves the exit code once the daemon has stopped (or failed to start). */
export function run(args: readonly string[], deps: RunDeps<NsqdOptions> = {}): Promise<number> {
  return runDaemonCommand(nsqdCommand, args, createNsqd, deps);
}
