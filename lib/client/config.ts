/**
 * The client's configuration: go-nsq's `Config` (go-nsq's config.go) with its option names in
 * camelCase and every duration in milliseconds. Defaults are go-nsq 1.1's.
 *
 * `applyOpt(config, "max_in_flight,100")` takes the strings Go's tools accept in
 * `--consumer-opt` / `--producer-opt` (go-nsq's `ConfigFlag`): `key,value`, or a bare `key`
 * meaning `true`; keys use go-nsq's snake_case names (`-` is read as `_`). Values are checked
 * against go-nsq's minimum and maximum, with go-nsq's error texts.
 *
 * @module
 */

import { formatDuration, parseDuration } from "../internal/duration.ts";
import { type Logger, silentLogger } from "../internal/log.ts";
import { osHostname } from "../internal/options.ts";
import { NSQ_DENO_VERSION } from "../version.ts";

/** TLS settings for the IDENTIFY `tls_v1` upgrade (go-nsq's `tls_*` options). */
export interface ClientTlsConfig {
  /** CA bundles (PEM text) the nsqd certificate must chain to; system roots when absent. */
  caCerts?: string[];
  /** Client certificate (PEM text), for nsqd's `--tls-client-auth-policy`. */
  cert?: string;
  /** Client private key (PEM text). */
  key?: string;
  /** Accept any nsqd certificate. */
  insecureSkipVerify?: boolean;
  /** Server name to verify; default: the host of the nsqd address. */
  serverName?: string;
  /** Lowest TLS version: `tls1.0` ... `tls1.3` (Deno's TLS stack starts at 1.2). */
  minVersion?: "tls1.0" | "tls1.1" | "tls1.2" | "tls1.3";
}

/** go-nsq's backoff strategies. */
export type BackoffStrategy = "exponential" | "full_jitter";

/** Client options; durations in milliseconds. See docs/client.md for each one. */
export interface ClientConfig {
  dialTimeout: number;
  readTimeout: number;
  writeTimeout: number;
  lookupdPollInterval: number;
  lookupdPollJitter: number;
  lookupdPollTimeout: number;
  maxRequeueDelay: number;
  defaultRequeueDelay: number;
  backoffStrategy: BackoffStrategy;
  maxBackoffDuration: number;
  backoffMultiplier: number;
  maxAttempts: number;
  lowRdyIdleTimeout: number;
  lowRdyTimeout: number;
  rdyRedistributeInterval: number;
  clientId: string;
  hostname: string;
  userAgent: string;
  /** -1 disables heartbeats. */
  heartbeatInterval: number;
  sampleRate: number;
  tlsV1: boolean;
  tlsConfig?: ClientTlsConfig;
  deflate: boolean;
  deflateLevel: number;
  snappy: boolean;
  outputBufferSize: number;
  /** -1 disables output buffering timeouts on nsqd's side. */
  outputBufferTimeout: number;
  maxInFlight: number;
  /** 0 = nsqd's default. */
  msgTimeout: number;
  authSecret: string;
  /** Send `auth_secret` to nsqlookupd as a bearer token (go-nsq's `skip_lookupd_authorization`). */
  lookupdAuthorization: boolean;
  /** Where the client logs (NSQ's levels); silent by default. */
  logger?: Logger;
}

/** The user agent IDENTIFY sends by default. */
export const DEFAULT_USER_AGENT = `nsq-deno/${NSQ_DENO_VERSION}`;

/** go-nsq 1.1's defaults (client id: the short hostname; hostname: the OS hostname). */
export function defaultClientConfig(): ClientConfig {
  const hostname = osHostname();
  return {
    dialTimeout: 1000,
    readTimeout: 60_000,
    writeTimeout: 1000,
    lookupdPollInterval: 60_000,
    lookupdPollJitter: 0.3,
    lookupdPollTimeout: 60_000,
    maxRequeueDelay: 15 * 60_000,
    defaultRequeueDelay: 90_000,
    backoffStrategy: "exponential",
    maxBackoffDuration: 2 * 60_000,
    backoffMultiplier: 1000,
    maxAttempts: 5,
    lowRdyIdleTimeout: 10_000,
    lowRdyTimeout: 30_000,
    rdyRedistributeInterval: 5000,
    clientId: hostname.split(".")[0],
    hostname,
    userAgent: DEFAULT_USER_AGENT,
    heartbeatInterval: 30_000,
    sampleRate: 0,
    tlsV1: false,
    tlsConfig: undefined,
    deflate: false,
    deflateLevel: 6,
    snappy: false,
    outputBufferSize: 16384,
    outputBufferTimeout: 250,
    maxInFlight: 1,
    msgTimeout: 0,
    authSecret: "",
    lookupdAuthorization: true,
  };
}

type Kind = "duration" | "int" | "float" | "bool" | "string" | "strategy";

interface OptSpec {
  field: keyof ClientConfig;
  kind: Kind;
  min?: number;
  max?: number;
}

const MINUTE = 60_000;

/** go-nsq's option names, types and bounds (its `opt`, `min`, `max` struct tags). */
const OPTS: Record<string, OptSpec> = {
  dial_timeout: { field: "dialTimeout", kind: "duration" },
  read_timeout: { field: "readTimeout", kind: "duration", min: 100, max: 5 * MINUTE },
  write_timeout: { field: "writeTimeout", kind: "duration", min: 100, max: 5 * MINUTE },
  lookupd_poll_interval: {
    field: "lookupdPollInterval",
    kind: "duration",
    min: 10,
    max: 5 * MINUTE,
  },
  lookupd_poll_jitter: { field: "lookupdPollJitter", kind: "float", min: 0, max: 1 },
  lookupd_poll_timeout: { field: "lookupdPollTimeout", kind: "duration" },
  max_requeue_delay: { field: "maxRequeueDelay", kind: "duration", min: 0, max: 60 * MINUTE },
  default_requeue_delay: {
    field: "defaultRequeueDelay",
    kind: "duration",
    min: 0,
    max: 60 * MINUTE,
  },
  backoff_strategy: { field: "backoffStrategy", kind: "strategy" },
  max_backoff_duration: {
    field: "maxBackoffDuration",
    kind: "duration",
    min: 0,
    max: 60 * MINUTE,
  },
  backoff_multiplier: { field: "backoffMultiplier", kind: "duration", min: 0, max: 60 * MINUTE },
  max_attempts: { field: "maxAttempts", kind: "int", min: 0, max: 65535 },
  low_rdy_idle_timeout: {
    field: "lowRdyIdleTimeout",
    kind: "duration",
    min: 1000,
    max: 5 * MINUTE,
  },
  low_rdy_timeout: { field: "lowRdyTimeout", kind: "duration", min: 1000, max: 5 * MINUTE },
  rdy_redistribute_interval: {
    field: "rdyRedistributeInterval",
    kind: "duration",
    min: 1,
    max: 5000,
  },
  client_id: { field: "clientId", kind: "string" },
  hostname: { field: "hostname", kind: "string" },
  user_agent: { field: "userAgent", kind: "string" },
  heartbeat_interval: { field: "heartbeatInterval", kind: "duration" },
  sample_rate: { field: "sampleRate", kind: "int", min: 0, max: 99 },
  tls_v1: { field: "tlsV1", kind: "bool" },
  deflate: { field: "deflate", kind: "bool" },
  deflate_level: { field: "deflateLevel", kind: "int", min: 1, max: 9 },
  snappy: { field: "snappy", kind: "bool" },
  output_buffer_size: { field: "outputBufferSize", kind: "int" },
  output_buffer_timeout: { field: "outputBufferTimeout", kind: "duration" },
  max_in_flight: { field: "maxInFlight", kind: "int", min: 0 },
  msg_timeout: { field: "msgTimeout", kind: "duration", min: 0 },
  auth_secret: { field: "authSecret", kind: "string" },
  skip_lookupd_authorization: { field: "lookupdAuthorization", kind: "bool" },
};

const TLS_OPTS = new Set([
  "tls_cert",
  "tls_key",
  "tls_root_ca_file",
  "tls_insecure_skip_verify",
  "tls_min_version",
]);

/** Splits a `--consumer-opt` string: `key,value` (a bare `key` means `true`). */
export function parseOptString(opt: string): { key: string; value: string | true } {
  const comma = opt.indexOf(",");
  if (comma < 0) return { key: opt, value: true };
  return { key: opt.slice(0, comma), value: opt.slice(comma + 1) };
}

/**
 * Applies a go-nsq `--consumer-opt` / `--producer-opt` string to `config`. Throws a TypeError
 * naming the option when the key is unknown or the value does not fit (go-nsq's texts:
 * `invalid option foo`, `invalid max_in_flight ! -1 < 0`).
 */
export function applyOpt(config: ClientConfig, opt: string): void {
  const { key, value } = parseOptString(opt);
  setOption(config, key, value);
}

/** Sets one go-nsq option by its snake_case name (go-nsq's `Config.Set`). */
export function setOption(config: ClientConfig, name: string, value: string | boolean | number) {
  const option = name.replaceAll("-", "_");
  if (TLS_OPTS.has(option)) return setTlsOption(config, option, value);
  const spec = OPTS[option];
  if (!spec) throw new TypeError(`invalid option ${option}`);
  const v = coerce(option, spec.kind, value);
  if (typeof v === "number") {
    const show = spec.kind === "duration" ? formatDuration : String;
    if (spec.min !== undefined && v < spec.min) {
      throw new TypeError(`invalid ${option} ! ${show(v)} < ${show(spec.min)}`);
    }
    if (spec.max !== undefined && v > spec.max) {
      throw new TypeError(`invalid ${option} ! ${show(v)} > ${show(spec.max)}`);
    }
  }
  (config as unknown as Record<string, unknown>)[spec.field] = v;
}

function coerce(option: string, kind: Kind, value: string | boolean | number) {
  const fail = (why: string) =>
    new TypeError(`failed to coerce option ${option} (${value}) - ${why}`);
  switch (kind) {
    case "string":
      return String(value);
    case "bool":
      if (typeof value === "boolean") return value;
      if (typeof value === "number") return value !== 0;
      switch (value) {
        case "1":
        case "t":
        case "T":
        case "true":
        case "TRUE":
        case "True":
          return true;
        case "0":
        case "f":
        case "F":
        case "false":
        case "FALSE":
        case "False":
          return false;
      }
      throw fail(`strconv.ParseBool: parsing "${value}": invalid syntax`);
    case "int": {
      if (typeof value === "boolean") throw fail("invalid value type");
      const n = typeof value === "number" ? value : Number(value.trim() === "" ? NaN : value);
      if (!Number.isInteger(n)) {
        throw fail(`strconv.ParseInt: parsing "${value}": invalid syntax`);
      }
      return n;
    }
    case "float": {
      if (typeof value === "boolean") throw fail("invalid value type");
      const n = typeof value === "number" ? value : Number(value.trim() === "" ? NaN : value);
      if (!Number.isFinite(n)) {
        throw fail(`strconv.ParseFloat: parsing "${value}": invalid syntax`);
      }
      return n;
    }
    case "duration": {
      if (typeof value === "boolean") throw fail("invalid value type");
      if (typeof value === "number") return value; // go-nsq treats integers as milliseconds
      try {
        return parseDuration(value);
      } catch (err) {
        throw fail((err as Error).message);
      }
    }
    case "strategy":
      if (value === "" || value === "exponential") return "exponential";
      if (value === "full_jitter") return "full_jitter";
      throw fail("invalid value type");
  }
}

function setTlsOption(config: ClientConfig, option: string, value: string | boolean | number) {
  const tls = config.tlsConfig ??= {};
  const text = String(value);
  const readFile = (what: string) => {
    try {
      return Deno.readTextFileSync(text);
    } catch (err) {
      throw new TypeError(`failed to read ${what} ${text} - ${(err as Error).message}`);
    }
  };
  switch (option) {
    case "tls_cert":
      tls.cert = readFile("TLS certificate");
      return;
    case "tls_key":
      tls.key = readFile("TLS key");
      return;
    case "tls_root_ca_file": {
      const pem = readFile("Certificate Authority file");
      if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
        throw new TypeError(
          "ERROR: failed to append certificates from Certificate Authority file",
        );
      }
      tls.caCerts = [...(tls.caCerts ?? []), pem];
      return;
    }
    case "tls_insecure_skip_verify":
      tls.insecureSkipVerify = coerce(option, "bool", value) as boolean;
      return;
    case "tls_min_version":
      switch (text) {
        case "ssl3.0":
        case "tls1.0":
          tls.minVersion = "tls1.0";
          return;
        case "tls1.1":
        case "tls1.2":
        case "tls1.3":
          tls.minVersion = text;
          return;
      }
      throw new TypeError(`ERROR: ${text} is not a tls version`);
  }
}

/**
 * Merges `partial` over the defaults and checks every bound (go-nsq's `Config.Validate`).
 * Throws a TypeError naming the option.
 */
export function resolveConfig(partial: Partial<ClientConfig> = {}): ClientConfig {
  const config = { ...defaultClientConfig() };
  for (const [k, v] of Object.entries(partial)) {
    if (v !== undefined) (config as unknown as Record<string, unknown>)[k] = v;
  }
  for (const [option, spec] of Object.entries(OPTS)) {
    const v = config[spec.field];
    if (typeof v !== "number") continue;
    const show = spec.kind === "duration" ? formatDuration : String;
    if (Number.isNaN(v)) throw new TypeError(`invalid ${option} ! NaN`);
    if (spec.min !== undefined && v < spec.min) {
      throw new TypeError(`invalid ${option} ! ${show(v)} < ${show(spec.min)}`);
    }
    if (spec.max !== undefined && v > spec.max) {
      throw new TypeError(`invalid ${option} ! ${show(v)} > ${show(spec.max)}`);
    }
  }
  if (config.backoffStrategy !== "exponential" && config.backoffStrategy !== "full_jitter") {
    throw new TypeError(`invalid backoff_strategy ${config.backoffStrategy}`);
  }
  return config;
}

/** The logger of `config`, or a silent one. */
export function loggerOf(config: ClientConfig): Logger {
  return config.logger ?? silentLogger();
}
