/**
 * nsqd's options: one type, every default in one place, grouped like nsq's nsqd/options.go.
 *
 * Durations are stored as **milliseconds** (numbers); the flag parser turns Go durations
 * (`60s`, `1m30s`) into milliseconds, and GET /config/:opt renders them back as nanoseconds.
 *
 * NOTE(cli): lib/cli turns this into the table that drives flags, TOML keys, --help and
 * GET /config/:opt. Keep the field names stable: the daemon code depends on them.
 */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import type { LogLevel } from "../internal/log.ts";

/** `--tls-required`: Go stores 0 (not required), 1 (required), 2 (tcp-https). */
export type TlsRequired = 0 | 1 | 2;
export const TLS_NOT_REQUIRED: TlsRequired = 0;
export const TLS_REQUIRED: TlsRequired = 1;
export const TLS_REQUIRED_EXCEPT_HTTP: TlsRequired = 2;

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
}

/** The OS hostname, or "localhost" where it cannot be read. */
export function osHostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
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
  };
}

/** Go's default node id: CRC32-IEEE of the MD5 digest of the hostname, mod 1024. */
export function defaultNodeId(hostname: string): number {
  return crc32(createHash("md5").update(hostname).digest()) % 1024;
}
