/**
 * nsqlookupd's options (spec §2.5). Durations are milliseconds.
 *
 * NOTE(cli): lib/cli turns this into the flag/TOML/help table. Keep the field names stable.
 */
import type { LogLevel } from "../internal/log.ts";
import { osHostname } from "../nsqd/options.ts";

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
