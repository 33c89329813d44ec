/**
 * The option rows several tools declare with the same flag, field, kind and help text as nsq's
 * apps/* (each tool keeps its own defaults in its `default…Options()`). Rows whose wording differs
 * per tool in Go (`topic`, `channel`, nsq_to_nsq's `consumer-opt`, to_nsq's `nsqd-tcp-address`)
 * stay in the tool's own table.
 *
 * @module
 */
import type { OptionSpec } from "../internal/options.ts";

/** A row as `optionGroup` takes it (the group and key are filled in there). */
export type ToolOptionRow<O> = Omit<OptionSpec<O>, "group" | "key">;

/** `--max-in-flight` (nsq_tail, nsq_to_file, nsq_to_http, nsq_to_nsq). */
export function maxInFlightRow<O extends { maxInFlight: number }>(): ToolOptionRow<O> {
  return {
    flag: "max-in-flight",
    field: "maxInFlight",
    kind: "int",
    help: "max number of messages to allow in flight",
  };
}

/** `--http-client-connect-timeout` and `--http-client-request-timeout`. */
export function httpClientTimeoutRows<
  O extends { httpClientConnectTimeout: number; httpClientRequestTimeout: number },
>(): ToolOptionRow<O>[] {
  return [
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
  ];
}

/** `--nsqd-tcp-address` of the consuming tools. */
export function nsqdTcpAddressRow<O extends { nsqdTcpAddresses: string[] }>(): ToolOptionRow<O> {
  return {
    flag: "nsqd-tcp-address",
    field: "nsqdTcpAddresses",
    kind: "stringArray",
    help: "nsqd TCP address (may be given multiple times)",
  };
}

/** `--lookupd-http-address`. */
export function lookupdHttpAddressRow<
  O extends { lookupdHttpAddresses: string[] },
>(): ToolOptionRow<O> {
  return {
    flag: "lookupd-http-address",
    field: "lookupdHttpAddresses",
    kind: "stringArray",
    help: "lookupd HTTP address (may be given multiple times)",
  };
}

/** `--consumer-opt` as nsq_tail, nsq_to_file and nsq_to_http word it. */
export function consumerOptRow<O extends { consumerOpts: string[] }>(): ToolOptionRow<O> {
  return {
    flag: "consumer-opt",
    field: "consumerOpts",
    kind: "stringArray",
    help: "option to passthrough to nsq.Consumer (may be given multiple times, " +
      "http://godoc.org/github.com/nsqio/go-nsq#Config)",
  };
}
