/**
 * nsqd's options: one type, every default in one place, grouped like nsq's nsqd/options.go.
 *
 * Durations are stored as **milliseconds** (numbers); the flag parser turns Go durations
 * (`60s`, `1m30s`) into milliseconds, and GET /config/:opt renders them back as nanoseconds.
 *
 * NOTE(cli): lib/cli turns this into the table that drives flags, TOML keys, --help and
 * GET /config/:opt. Keep the field names stable: the daemon code depends on them.
 */
import { crc32Ieee, md5 } from "../internal/hash.ts";
import type { LogLevel } from "../internal/log.ts";
import {
  findOptionByKey,
  optionGroup,
  optionJsonValue,
  type OptionSpec,
  osHostname,
  TLS_NOT_REQUIRED,
  type TlsRequired,
} from "../internal/options.ts";

export {
  TLS_NOT_REQUIRED,
  TLS_REQUIRED,
  TLS_REQUIRED_EXCEPT_HTTP,
  type TlsRequired,
} from "../internal/options.ts";

export interface NsqdOptions {
  // basic options
  /** `--node-id`, config key `id`: 0..1023. */
  id: number;
  logLevel: LogLevel;
  logPrefix: string;
  tcpAddress: string;
  httpAddress: string;
  httpsAddress: string;
  broadcastAddress: string;
  broadcastTcpPort: number;
  broadcastHttpPort: number;
  nsqlookupdTcpAddresses: string[];
  authHttpAddresses: string[];
  authHttpRequestMethod: string;
  httpClientConnectTimeout: number;
  httpClientRequestTimeout: number;
  /** [master-only] `--topology-region`: this node's region for topology-aware consumption. */
  topologyRegion: string;
  /** [master-only] `--topology-zone`: this node's zone for topology-aware consumption. */
  topologyZone: string;
  /** [master-only] `--enable-experiment` (repeatable), config key `enable_experiment`. */
  experiments: string[];

  // diskqueue options
  dataPath: string;
  memQueueSize: number;
  maxBytesPerFile: number;
  syncEvery: number;
  syncTimeout: number;

  queueScanInterval: number;
  queueScanRefreshInterval: number;
  queueScanSelectionCount: number;
  queueScanWorkerPoolMax: number;
  queueScanDirtyPercent: number;

  // msg and command options
  msgTimeout: number;
  maxMsgTimeout: number;
  maxMsgSize: number;
  maxBodySize: number;
  maxReqTimeout: number;
  /** Not a flag: ClientTimeout (default heartbeat = clientTimeout / 2). */
  clientTimeout: number;

  // client overridable configuration options
  maxHeartbeatInterval: number;
  maxRdyCount: number;
  maxOutputBufferSize: number;
  maxOutputBufferTimeout: number;
  minOutputBufferTimeout: number;
  outputBufferTimeout: number;
  maxChannelConsumers: number;

  // statsd integration
  statsdAddress: string;
  statsdPrefix: string;
  statsdInterval: number;
  statsdMemStats: boolean;
  statsdUdpPacketSize: number;
  statsdExcludeEphemeral: boolean;

  // e2e message latency
  e2eProcessingLatencyWindowTime: number;
  /** Quantiles in (0, 1], sorted descending. */
  e2eProcessingLatencyPercentiles: number[];

  // TLS config
  tlsCert: string;
  tlsKey: string;
  tlsClientAuthPolicy: string;
  tlsRootCaFile: string;
  tlsRequired: TlsRequired;
  /** `tls1.0` .. `tls1.3`. */
  tlsMinVersion: string;

  // compression
  deflate: boolean;
  maxDeflateLevel: number;
  snappy: boolean;

  // gossip (NSQ's dev branch; off unless --gossip-address is set)
  gossipAddress: string;
  gossipSeedAddresses: string[];
  gossipRegossipInterval: number;
  gossipProbeInterval: number;
  gossipSuspicionMult: number;
  gossipReapInterval: number;
  gossipReconnectTimeout: number;
  /** Base64 AES key (16, 24 or 32 bytes) encrypting gossip, as `serf agent -encrypt`. */
  gossipSecretKey: string;
}

/** Every default, as Go nsqd 1.3.0's NewOptions() sets them. */
export function defaultNsqdOptions(): NsqdOptions {
  return {
    id: defaultNodeId(osHostname()),
    logLevel: "info",
    logPrefix: "[nsqd] ",
    tcpAddress: "0.0.0.0:4150",
    httpAddress: "0.0.0.0:4151",
    httpsAddress: "0.0.0.0:4152",
    broadcastAddress: osHostname(),
    broadcastTcpPort: 0,
    broadcastHttpPort: 0,
    nsqlookupdTcpAddresses: [],
    authHttpAddresses: [],
    authHttpRequestMethod: "get",
    httpClientConnectTimeout: 2_000,
    httpClientRequestTimeout: 5_000,
    topologyRegion: "",
    topologyZone: "",
    experiments: [],

    dataPath: "",
    memQueueSize: 10_000,
    maxBytesPerFile: 100 * 1024 * 1024,
    syncEvery: 2500,
    syncTimeout: 2_000,

    queueScanInterval: 100,
    queueScanRefreshInterval: 5_000,
    queueScanSelectionCount: 20,
    queueScanWorkerPoolMax: 4,
    queueScanDirtyPercent: 0.25,

    msgTimeout: 60_000,
    maxMsgTimeout: 15 * 60_000,
    maxMsgSize: 1024 * 1024,
    maxBodySize: 5 * 1024 * 1024,
    maxReqTimeout: 60 * 60_000,
    clientTimeout: 60_000,

    maxHeartbeatInterval: 60_000,
    maxRdyCount: 2500,
    maxOutputBufferSize: 64 * 1024,
    maxOutputBufferTimeout: 30_000,
    minOutputBufferTimeout: 25,
    outputBufferTimeout: 250,
    maxChannelConsumers: 0,

    statsdAddress: "",
    statsdPrefix: "nsq.%s",
    statsdInterval: 60_000,
    statsdMemStats: true,
    statsdUdpPacketSize: 508,
    statsdExcludeEphemeral: false,

    e2eProcessingLatencyWindowTime: 10 * 60_000,
    e2eProcessingLatencyPercentiles: [],

    tlsCert: "",
    tlsKey: "",
    tlsClientAuthPolicy: "",
    tlsRootCaFile: "",
    tlsRequired: TLS_NOT_REQUIRED,
    tlsMinVersion: "tls1.0",

    deflate: true,
    maxDeflateLevel: 6,
    snappy: true,

    gossipAddress: "",
    gossipSeedAddresses: [],
    gossipRegossipInterval: 60_000,
    gossipProbeInterval: 1_000,
    gossipSuspicionMult: 5,
    gossipReapInterval: 15_000,
    gossipReconnectTimeout: 60 * 60_000,
    gossipSecretKey: "",
  };
}

/** Go's default node id: CRC32-IEEE of the MD5 digest of the hostname, mod 1024. */
export function defaultNodeId(hostname: string): number {
  return crc32Ieee(md5(new TextEncoder().encode(hostname))) % 1024;
}

// ---------------------------------------------------------------------------------------------
// The option table: the one source for command-line flags, TOML keys, --help and GET /config/:opt
// (lib/cli parses with it; the HTTP API renders with it). Defaults stay in defaultNsqdOptions().

/** [master-only] `--enable-experiment` values nsqd knows. */
export const EXPERIMENTS: readonly string[] = ["topology-aware-consumption"];

/** Every nsqd option that is a flag, grouped and ordered like Go's nsqdFlagSet. */
export const nsqdOptionTable: readonly OptionSpec<NsqdOptions>[] = [
  ...optionGroup<NsqdOptions>("basic options", [
    {
      flag: "log-level",
      field: "logLevel",
      kind: "logLevel",
      help: "set log verbosity: debug, info, warn, error, or fatal",
    },
    { flag: "log-prefix", field: "logPrefix", kind: "string", help: "log message prefix" },
    {
      flag: "node-id",
      field: "id",
      key: "id",
      kind: "int",
      help: "unique part for message IDs, (int) in range [0,1024) (default is hash of hostname)",
    },
    {
      flag: "https-address",
      field: "httpsAddress",
      kind: "string",
      help: "<addr>:<port> to listen on for HTTPS clients",
    },
    {
      flag: "http-address",
      field: "httpAddress",
      kind: "string",
      help: "<addr>:<port> to listen on for HTTP clients",
    },
    {
      flag: "tcp-address",
      field: "tcpAddress",
      kind: "string",
      help: "<addr>:<port> to listen on for TCP clients",
    },
    {
      flag: "auth-http-address",
      field: "authHttpAddresses",
      key: "auth_http_addresses",
      kind: "stringList",
      help: "<addr>:<port> to query auth server (may be given multiple times)",
    },
    {
      flag: "auth-http-request-method",
      field: "authHttpRequestMethod",
      kind: "string",
      help: "HTTP method to use for auth server requests ('get' or 'post')",
    },
    {
      flag: "broadcast-address",
      field: "broadcastAddress",
      kind: "string",
      help: "address that will be registered with lookupd (defaults to the OS hostname)",
    },
    {
      flag: "broadcast-tcp-port",
      field: "broadcastTcpPort",
      kind: "int",
      help:
        "TCP port that will be registered with lookupd (defaults to the TCP port that this nsqd is listening on)",
    },
    {
      flag: "broadcast-http-port",
      field: "broadcastHttpPort",
      kind: "int",
      help:
        "HTTP port that will be registered with lookupd (defaults to the HTTP port that this nsqd is listening on)",
    },
    {
      flag: "lookupd-tcp-address",
      field: "nsqlookupdTcpAddresses",
      key: "nsqlookupd_tcp_addresses",
      kind: "stringList",
      help: "lookupd TCP address (may be given multiple times)",
    },
    {
      flag: "http-client-connect-timeout",
      field: "httpClientConnectTimeout",
      kind: "duration",
      help: "timeout for HTTP connect",
    },
    {
      flag: "http-client-request-timeout",
      field: "httpClientRequestTimeout",
      kind: "duration",
      help: "timeout for HTTP request",
    },
    {
      flag: "topology-region",
      field: "topologyRegion",
      kind: "string",
      help: "region of this nsqd, for topology-aware consumption",
    },
    {
      flag: "topology-zone",
      field: "topologyZone",
      kind: "string",
      help: "availability zone of this nsqd, for topology-aware consumption",
    },
    {
      flag: "enable-experiment",
      field: "experiments",
      key: "enable_experiment",
      kind: "stringList",
      choices: EXPERIMENTS,
      help: `enable an experimental feature (may be given multiple times): ${
        EXPERIMENTS.join(", ")
      }`,
    },
  ]),
  ...optionGroup<NsqdOptions>("diskqueue options", [
    {
      flag: "data-path",
      field: "dataPath",
      kind: "string",
      help: "path to store disk-backed messages",
    },
    {
      flag: "mem-queue-size",
      field: "memQueueSize",
      kind: "int",
      help: "number of messages to keep in memory (per topic/channel)",
    },
    {
      flag: "max-bytes-per-file",
      field: "maxBytesPerFile",
      kind: "int",
      help: "number of bytes per diskqueue file before rolling",
    },
    {
      flag: "sync-every",
      field: "syncEvery",
      kind: "int",
      help: "number of messages per diskqueue fsync",
    },
    {
      flag: "sync-timeout",
      field: "syncTimeout",
      kind: "duration",
      help: "duration of time per diskqueue fsync",
    },
    {
      flag: "queue-scan-worker-pool-max",
      field: "queueScanWorkerPoolMax",
      kind: "int",
      help: "max concurrency for checking in-flight and deferred message timeouts",
    },
    {
      flag: "queue-scan-selection-count",
      field: "queueScanSelectionCount",
      kind: "int",
      help:
        "number of channels to check per cycle (every 100ms) for in-flight and deferred timeouts",
    },
  ]),
  ...optionGroup<NsqdOptions>("msg and command options", [
    {
      flag: "msg-timeout",
      field: "msgTimeout",
      kind: "duration",
      help: "default duration to wait before auto-requeing a message",
    },
    {
      flag: "max-msg-timeout",
      field: "maxMsgTimeout",
      kind: "duration",
      help: "maximum duration before a message will timeout",
    },
    {
      flag: "max-msg-size",
      field: "maxMsgSize",
      kind: "int",
      help: "maximum size of a single message in bytes",
    },
    {
      flag: "max-req-timeout",
      field: "maxReqTimeout",
      kind: "duration",
      help: "maximum requeuing timeout for a message",
    },
    {
      flag: "max-body-size",
      field: "maxBodySize",
      kind: "int",
      help: "maximum size of a single command body",
    },
  ]),
  ...optionGroup<NsqdOptions>("client overridable configuration options", [
    {
      flag: "max-heartbeat-interval",
      field: "maxHeartbeatInterval",
      kind: "duration",
      help: "maximum client configurable duration of time between client heartbeats",
    },
    {
      flag: "max-rdy-count",
      field: "maxRdyCount",
      kind: "int",
      help: "maximum RDY count for a client",
    },
    {
      flag: "max-output-buffer-size",
      field: "maxOutputBufferSize",
      kind: "int",
      help: "maximum client configurable size (in bytes) for a client output buffer",
    },
    {
      flag: "max-output-buffer-timeout",
      field: "maxOutputBufferTimeout",
      kind: "duration",
      help: "maximum client configurable duration of time between flushing to a client",
    },
    {
      flag: "min-output-buffer-timeout",
      field: "minOutputBufferTimeout",
      kind: "duration",
      help: "minimum client configurable duration of time between flushing to a client",
    },
    {
      flag: "output-buffer-timeout",
      field: "outputBufferTimeout",
      kind: "duration",
      help: "default duration of time between flushing data to clients",
    },
    {
      flag: "max-channel-consumers",
      field: "maxChannelConsumers",
      kind: "int",
      help:
        "maximum channel consumer connection count per nsqd instance (default 0, i.e., unlimited)",
    },
  ]),
  ...optionGroup<NsqdOptions>("statsd integration options", [
    {
      flag: "statsd-address",
      field: "statsdAddress",
      kind: "string",
      help: "UDP <addr>:<port> of a statsd daemon for pushing stats",
    },
    {
      flag: "statsd-interval",
      field: "statsdInterval",
      kind: "duration",
      help: "duration between pushing to statsd",
    },
    {
      flag: "statsd-mem-stats",
      field: "statsdMemStats",
      kind: "bool",
      help: "toggle sending memory and GC stats to statsd",
    },
    {
      flag: "statsd-prefix",
      field: "statsdPrefix",
      kind: "string",
      help: "prefix used for keys sent to statsd (%s for host replacement)",
    },
    {
      flag: "statsd-udp-packet-size",
      field: "statsdUdpPacketSize",
      kind: "int",
      help: "the size in bytes of statsd UDP packets",
    },
    {
      flag: "statsd-exclude-ephemeral",
      field: "statsdExcludeEphemeral",
      kind: "bool",
      help: "Skip ephemeral topics and channels when sending stats to statsd",
    },
  ]),
  ...optionGroup<NsqdOptions>("e2e message latency options", [
    {
      flag: "e2e-processing-latency-percentile",
      field: "e2eProcessingLatencyPercentiles",
      key: "e2e_processing_latency_percentiles",
      kind: "floatList",
      help:
        "message processing time percentiles (as float (0, 1.0]) to track (can be specified multiple times or comma separated '1.0,0.99,0.95', default none)",
    },
    {
      flag: "e2e-processing-latency-window-time",
      field: "e2eProcessingLatencyWindowTime",
      kind: "duration",
      help:
        "calculate end to end latency quantiles for this duration of time (ie: 60s would only show quantile calculations from the past 60 seconds)",
    },
  ]),
  ...optionGroup<NsqdOptions>("TLS config", [
    { flag: "tls-cert", field: "tlsCert", kind: "string", help: "path to certificate file" },
    { flag: "tls-key", field: "tlsKey", kind: "string", help: "path to key file" },
    {
      flag: "tls-client-auth-policy",
      field: "tlsClientAuthPolicy",
      kind: "string",
      help: "client certificate auth policy ('require' or 'require-verify')",
    },
    {
      flag: "tls-root-ca-file",
      field: "tlsRootCaFile",
      kind: "string",
      help: "path to certificate authority file",
    },
    {
      flag: "tls-required",
      field: "tlsRequired",
      kind: "tlsRequired",
      help: "require TLS for client connections (true, false, tcp-https)",
    },
    {
      flag: "tls-min-version",
      field: "tlsMinVersion",
      kind: "tlsMinVersion",
      help: "minimum SSL/TLS version acceptable ('tls1.0', 'tls1.1', 'tls1.2' or 'tls1.3')",
    },
  ]),
  ...optionGroup<NsqdOptions>("compression", [
    {
      flag: "deflate",
      field: "deflate",
      kind: "bool",
      help: "enable deflate feature negotiation (client compression)",
    },
    {
      flag: "max-deflate-level",
      field: "maxDeflateLevel",
      kind: "int",
      help: "max deflate compression level a client can negotiate (> values == > nsqd CPU usage)",
    },
    {
      flag: "snappy",
      field: "snappy",
      kind: "bool",
      help: "enable snappy feature negotiation (client compression)",
    },
  ]),
  // NSQ's dev branch (nsqd/gossip.go): Serf gossip between nsqd (docs/gossip.md).
  ...optionGroup<NsqdOptions>("gossip options", [
    {
      flag: "gossip-address",
      field: "gossipAddress",
      kind: "string",
      help: "<addr>:<port> to listen on for gossip (reasonable default: 0.0.0.0:7946)",
    },
    {
      flag: "gossip-seed-address",
      field: "gossipSeedAddresses",
      kind: "stringList",
      help:
        "TCP address of an nsqd serving as a seed node to bootstrap gossip protocol (may be given multiple times)",
    },
    {
      flag: "gossip-regossip-interval",
      field: "gossipRegossipInterval",
      kind: "duration",
      help: "how often node will re-gossip topic and channel information with known peers",
    },
    {
      flag: "gossip-probe-interval",
      field: "gossipProbeInterval",
      kind: "duration",
      help: "how often a gossip member probes another for failure detection",
    },
    {
      flag: "gossip-suspicion-mult",
      field: "gossipSuspicionMult",
      kind: "int",
      help:
        "suspicion timeout multiplier (a suspect is declared failed after mult * probe interval)",
    },
    {
      flag: "gossip-reap-interval",
      field: "gossipReapInterval",
      kind: "duration",
      help: "how often failed and left gossip members are reaped",
    },
    {
      flag: "gossip-reconnect-timeout",
      field: "gossipReconnectTimeout",
      kind: "duration",
      help: "how long a failed gossip member is retried before it is reaped",
    },
    {
      flag: "gossip-secret-key",
      field: "gossipSecretKey",
      kind: "string",
      help: "base64 AES key (16, 24 or 32 bytes, as 'serf keygen' makes) to encrypt gossip",
    },
  ]),
];

/**
 * GET /config/:opt for nsqd: the value of the option whose config key is `key`, rendered like Go
 * (see optionJsonValue), or `undefined` when no option has that key.
 */
export function nsqdConfigValue(opts: NsqdOptions, key: string): unknown {
  const spec = findOptionByKey(nsqdOptionTable, key);
  return spec === undefined ? undefined : optionJsonValue(spec, opts);
}

/** Decodes a base64 `--gossip-secret-key`, checking its size (lib/nsqd/gossip.ts uses the key). */
export function parseGossipKey(b64: string): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    throw new TypeError("--gossip-secret-key is not valid base64");
  }
  if (![16, 24, 32].includes(raw.length)) {
    throw new RangeError(
      `--gossip-secret-key must decode to 16, 24 or 32 bytes, got ${raw.length}`,
    );
  }
  return raw;
}
