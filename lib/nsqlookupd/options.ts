/**
 * nsqlookupd's options (nsq's nsqlookupd/options.go; docs/nsqlookupd.md#flags). Durations are
 * milliseconds.
 *
 * NOTE(cli): lib/cli turns this into the flag/TOML/help table. Keep the field names stable.
 */
import type { LogLevel } from "../internal/log.ts";
import {
  findOptionByKey,
  optionGroup,
  optionJsonValue,
  type OptionSpec,
  osHostname,
} from "../internal/options.ts";

export interface NsqlookupdOptions {
  logLevel: LogLevel;
  logPrefix: string;
  tcpAddress: string;
  httpAddress: string;
  broadcastAddress: string;
  inactiveProducerTimeout: number;
  tombstoneLifetime: number;
}

export function defaultNsqlookupdOptions(): NsqlookupdOptions {
  return {
    logLevel: "info",
    logPrefix: "[nsqlookupd] ",
    tcpAddress: "0.0.0.0:4160",
    httpAddress: "0.0.0.0:4161",
    broadcastAddress: osHostname(),
    inactiveProducerTimeout: 300_000,
    tombstoneLifetime: 45_000,
  };
}

/** Every nsqlookupd option that is a flag, ordered like Go's nsqlookupdFlagSet. */
export const nsqlookupdOptionTable: readonly OptionSpec<NsqlookupdOptions>[] = optionGroup<
  NsqlookupdOptions
>("basic options", [
  {
    flag: "log-level",
    field: "logLevel",
    kind: "logLevel",
    help: "set log verbosity: debug, info, warn, error, or fatal",
  },
  { flag: "log-prefix", field: "logPrefix", kind: "string", help: "log message prefix" },
  {
    flag: "tcp-address",
    field: "tcpAddress",
    kind: "string",
    help: "<addr>:<port> to listen on for TCP clients",
  },
  {
    flag: "http-address",
    field: "httpAddress",
    kind: "string",
    help: "<addr>:<port> to listen on for HTTP clients",
  },
  {
    flag: "broadcast-address",
    field: "broadcastAddress",
    kind: "string",
    help: "address of this lookupd node, (default to the OS hostname)",
  },
  {
    flag: "inactive-producer-timeout",
    field: "inactiveProducerTimeout",
    kind: "duration",
    help: "duration of time a producer will remain in the active list since its last ping",
  },
  {
    flag: "tombstone-lifetime",
    field: "tombstoneLifetime",
    kind: "duration",
    help: "duration of time a producer will remain tombstoned if registration remains",
  },
]);

/**
 * GET /config/:opt for nsqlookupd: the option whose config key is `key`, rendered like Go
 * (durations in ns, log level as its number), or `undefined` when no option has that key.
 */
export function nsqlookupdConfigValue(opts: NsqlookupdOptions, key: string): unknown {
  const spec = findOptionByKey(nsqlookupdOptionTable, key);
  return spec === undefined ? undefined : optionJsonValue(spec, opts);
}
