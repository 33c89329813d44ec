/**
 * nsqadmin's options, as nsq's nsqadmin/options.go and apps/nsqadmin/main.go declare them.
 * Durations are milliseconds. One table drives the flags, the TOML keys, `-h` and
 * `GET /config/:opt`.
 */
import type { LogLevel } from "../internal/log.ts";
import {
  findOptionByKey,
  optionGroup,
  optionJsonValue,
  type OptionSpec,
} from "../internal/options.ts";

export interface NsqadminOptions {
  logLevel: LogLevel;
  logPrefix: string;
  httpAddress: string;
  basePath: string;
  devStaticDir: string;
  graphiteUrl: string;
  proxyGraphite: boolean;
  statsdPrefix: string;
  statsdCounterFormat: string;
  statsdGaugeFormat: string;
  statsdInterval: number;
  nsqlookupdHttpAddresses: string[];
  nsqdHttpAddresses: string[];
  httpClientConnectTimeout: number;
  httpClientRequestTimeout: number;
  httpClientTlsInsecureSkipVerify: boolean;
  httpClientTlsRootCaFile: string;
  httpClientTlsCert: string;
  httpClientTlsKey: string;
  allowConfigFromCidr: string;
  notificationHttpEndpoint: string;
  aclHttpHeader: string;
  adminUsers: string[];
  /** Beyond Go: how long nsqadmin keeps its own rate/depth history (0 turns sampling off). */
  historyWindow: number;
  /** Beyond Go: how often nsqadmin samples every nsqd's /stats for that history. */
  historyInterval: number;
  /** Beyond Go: how often open pages refresh their numbers (0: never). */
  uiRefreshInterval: number;
}

/** Go's NewOptions(), plus our history defaults. */
export function defaultNsqadminOptions(): NsqadminOptions {
  return {
    logLevel: "info",
    logPrefix: "[nsqadmin] ",
    httpAddress: "0.0.0.0:4171",
    basePath: "/",
    devStaticDir: "",
    graphiteUrl: "",
    proxyGraphite: false,
    statsdPrefix: "nsq.%s",
    statsdCounterFormat: "stats.counters.%s.count",
    statsdGaugeFormat: "stats.gauges.%s",
    statsdInterval: 60_000,
    nsqlookupdHttpAddresses: [],
    nsqdHttpAddresses: [],
    httpClientConnectTimeout: 2_000,
    httpClientRequestTimeout: 5_000,
    httpClientTlsInsecureSkipVerify: false,
    httpClientTlsRootCaFile: "",
    httpClientTlsCert: "",
    httpClientTlsKey: "",
    allowConfigFromCidr: "127.0.0.1/8",
    notificationHttpEndpoint: "",
    aclHttpHeader: "X-Forwarded-User",
    adminUsers: [],
    historyWindow: 3_600_000,
    historyInterval: 10_000,
    uiRefreshInterval: 5_000,
  };
}

/** Every nsqadmin option that is a flag, in the order of Go's nsqadminFlagSet. */
export const nsqadminOptionTable: readonly OptionSpec<NsqadminOptions>[] = [
  ...optionGroup<NsqadminOptions>("basic options", [
    {
      flag: "log-level",
      field: "logLevel",
      kind: "logLevel",
      help: "set log verbosity: debug, info, warn, error, or fatal",
    },
    { flag: "log-prefix", field: "logPrefix", kind: "string", help: "log message prefix" },
    {
      flag: "http-address",
      field: "httpAddress",
      kind: "string",
      help: "<addr>:<port> to listen on for HTTP clients",
    },
    { flag: "base-path", field: "basePath", kind: "string", help: "URL base path" },
    {
      flag: "dev-static-dir",
      field: "devStaticDir",
      kind: "string",
      help: "(development use only)",
    },
  ]),
  ...optionGroup<NsqadminOptions>("graphite", [
    { flag: "graphite-url", field: "graphiteUrl", kind: "string", help: "graphite HTTP address" },
    {
      flag: "proxy-graphite",
      field: "proxyGraphite",
      kind: "bool",
      help: "proxy HTTP requests to graphite",
    },
    {
      flag: "statsd-counter-format",
      field: "statsdCounterFormat",
      kind: "string",
      help:
        "The counter stats key formatting applied by the implementation of statsd. If no formatting is desired, set this to an empty string.",
    },
    {
      flag: "statsd-gauge-format",
      field: "statsdGaugeFormat",
      kind: "string",
      help:
        "The gauge stats key formatting applied by the implementation of statsd. If no formatting is desired, set this to an empty string.",
    },
    {
      flag: "statsd-prefix",
      field: "statsdPrefix",
      kind: "string",
      help: "prefix used for keys sent to statsd (%s for host replacement, must match nsqd)",
    },
    {
      flag: "statsd-interval",
      field: "statsdInterval",
      kind: "duration",
      help: "time interval nsqd is configured to push to statsd (must match nsqd)",
    },
  ]),
  ...optionGroup<NsqadminOptions>("notifications and HTTP client", [
    {
      flag: "notification-http-endpoint",
      field: "notificationHttpEndpoint",
      kind: "string",
      help:
        "HTTP endpoint (fully qualified) to which POST notifications of admin actions will be sent",
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
      flag: "http-client-tls-insecure-skip-verify",
      field: "httpClientTlsInsecureSkipVerify",
      kind: "bool",
      help: "configure the HTTP client to skip verification of TLS certificates",
    },
    {
      flag: "http-client-tls-root-ca-file",
      field: "httpClientTlsRootCaFile",
      kind: "string",
      help: "path to CA file for the HTTP client",
    },
    {
      flag: "http-client-tls-cert",
      field: "httpClientTlsCert",
      kind: "string",
      help: "path to certificate file for the HTTP client",
    },
    {
      flag: "http-client-tls-key",
      field: "httpClientTlsKey",
      kind: "string",
      help: "path to key file for the HTTP client",
    },
  ]),
  ...optionGroup<NsqadminOptions>("access", [
    {
      flag: "allow-config-from-cidr",
      field: "allowConfigFromCidr",
      kind: "string",
      help: "A CIDR from which to allow HTTP requests to the /config endpoint",
    },
    {
      flag: "acl-http-header",
      field: "aclHttpHeader",
      kind: "string",
      help: "HTTP header to check for authenticated admin users",
    },
  ]),
  ...optionGroup<NsqadminOptions>("cluster", [
    {
      flag: "lookupd-http-address",
      field: "nsqlookupdHttpAddresses",
      key: "nsqlookupd_http_addresses",
      kind: "stringList",
      help: "lookupd HTTP address (may be given multiple times)",
    },
    {
      flag: "nsqd-http-address",
      field: "nsqdHttpAddresses",
      key: "nsqd_http_addresses",
      kind: "stringList",
      help: "nsqd HTTP address (may be given multiple times)",
    },
    {
      flag: "admin-user",
      field: "adminUsers",
      key: "admin_users",
      kind: "stringList",
      help:
        "admin user (may be given multiple times; if specified, only these users will be able to perform privileged actions; acl-http-header is used to determine the authenticated user)",
    },
  ]),
  ...optionGroup<NsqadminOptions>("beyond nsq (nsq-deno only)", [
    {
      flag: "history-window",
      field: "historyWindow",
      kind: "duration",
      help: "how much rate and depth history nsqadmin keeps for its charts (0 disables sampling)",
    },
    {
      flag: "history-interval",
      field: "historyInterval",
      kind: "duration",
      help: "how often nsqadmin samples every nsqd's /stats for its charts",
    },
    {
      flag: "ui-refresh-interval",
      field: "uiRefreshInterval",
      kind: "duration",
      help: "how often open pages refresh their numbers without a reload (0 disables)",
    },
  ]),
];

/**
 * GET /config/:opt: the option whose config key is `key`, rendered like Go (durations in ns,
 * log level as its number), or `undefined` when no option has that key.
 */
export function nsqadminConfigValue(opts: NsqadminOptions, key: string): unknown {
  const spec = findOptionByKey(nsqadminOptionTable, key);
  return spec === undefined ? undefined : optionJsonValue(spec, opts);
}

/** Go's normalizeBasePath: a leading slash, then `path.Clean`. */
export function normalizeBasePath(p: string): string {
  if (p === "") return "/";
  if (!p.startsWith("/")) p = "/" + p;
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return "/" + out.join("/");
}

/** Parses `a.b.c.d/n` or an IPv6 CIDR; `undefined` when malformed. */
export function parseCidr(cidr: string): { bytes: number[]; bits: number } | undefined {
  const slash = cidr.indexOf("/");
  if (slash < 0) return undefined;
  const bytes = parseIp(cidr.slice(0, slash));
  const bitsText = cidr.slice(slash + 1);
  if (bytes === undefined || !/^\d+$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > bytes.length * 8) return undefined;
  return { bytes, bits };
}

/** IPv4 (4 bytes) or IPv6 (16 bytes) address bytes, or `undefined`. */
export function parseIp(text: string): number[] | undefined {
  if (text.includes(".") && !text.includes(":")) {
    const parts = text.split(".");
    if (parts.length !== 4) return undefined;
    const bytes = parts.map((p) => /^\d{1,3}$/.test(p) ? Number(p) : 256);
    return bytes.every((b) => b < 256) ? bytes : undefined;
  }
  if (!text.includes(":")) return undefined;
  let v4tail: number[] = [];
  let t = text;
  const lastColon = t.lastIndexOf(":");
  if (t.slice(lastColon + 1).includes(".")) {
    const v4 = parseIp(t.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    v4tail = v4;
    t = t.slice(0, lastColon + 1) + "0:0";
  }
  const halves = t.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string) => s === "" ? [] : s.split(":");
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const groups = [...head, ...Array(halves.length === 2 ? fill : 0).fill("0"), ...tail];
  const bytes: number[] = [];
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    const n = parseInt(g, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  if (v4tail.length === 4) bytes.splice(12, 4, ...v4tail);
  return bytes;
}

/** Whether `ip` lies in `cidr` (Go's IPNet.Contains, IPv4-mapped IPv6 matching IPv4). */
export function cidrContains(cidr: { bytes: number[]; bits: number }, ip: number[]): boolean {
  let addr = ip;
  if (cidr.bytes.length === 4 && ip.length === 16) {
    const mapped = ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;
    if (!mapped) return false;
    addr = ip.slice(12);
  }
  if (addr.length !== cidr.bytes.length) return false;
  for (let bit = 0; bit < cidr.bits; bit++) {
    const i = bit >> 3;
    const m = 0x80 >> (bit & 7);
    if ((addr[i] & m) !== (cidr.bytes[i] & m)) return false;
  }
  return true;
}

/**
 * The checks Go's `nsqadmin.New()` makes, in its order, with its messages (prefixed like Go's
 * `failed to instantiate nsqadmin - `). Normalises the base path.
 */
export function validateNsqadminOptions(opts: NsqadminOptions): string | undefined {
  const fail = (msg: string) => `failed to instantiate nsqadmin - ${msg}`;
  if (opts.nsqdHttpAddresses.length === 0 && opts.nsqlookupdHttpAddresses.length === 0) {
    return fail("--nsqd-http-address or --lookupd-http-address required");
  }
  if (opts.nsqdHttpAddresses.length !== 0 && opts.nsqlookupdHttpAddresses.length !== 0) {
    return fail("use --nsqd-http-address or --lookupd-http-address not both");
  }
  if (opts.httpClientTlsCert !== "" && opts.httpClientTlsKey === "") {
    return fail("--http-client-tls-key must be specified with --http-client-tls-cert");
  }
  if (opts.httpClientTlsKey !== "" && opts.httpClientTlsCert === "") {
    return fail("--http-client-tls-cert must be specified with --http-client-tls-key");
  }
  for (
    const [flag, list] of [
      ["lookupd-http-address", opts.nsqlookupdHttpAddresses],
      ["nsqd-http-address", opts.nsqdHttpAddresses],
    ] as const
  ) {
    for (const address of list) {
      const colon = address.lastIndexOf(":");
      const port = address.slice(colon + 1);
      if (colon < 0) {
        return fail(
          `failed to resolve --${flag} (${address}) - address ${address}: missing port in address`,
        );
      }
      if (!/^\d+$/.test(port) || Number(port) > 65535) {
        return fail(`failed to resolve --${flag} (${address}) - address ${address}: invalid port`);
      }
    }
  }
  if (opts.proxyGraphite) {
    try {
      new URL(opts.graphiteUrl);
    } catch {
      return fail(`failed to parse --graphite-url (${opts.graphiteUrl}) - invalid URL`);
    }
  }
  if (opts.allowConfigFromCidr !== "" && parseCidr(opts.allowConfigFromCidr) === undefined) {
    return fail(
      `failed to parse --allow-config-from-cidr (${opts.allowConfigFromCidr}) - invalid CIDR address: ${opts.allowConfigFromCidr}`,
    );
  }
  if (opts.historyInterval <= 0) return fail("--history-interval must be positive");
  opts.basePath = normalizeBasePath(opts.basePath);
  return undefined;
}
