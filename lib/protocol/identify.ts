/**
 * IDENTIFY, shared by both ends of a connection: the JSON fields a client sends to nsqd (protocol
 * V2) and the fields of nsqd's answer when `feature_negotiation` is set, plus the body nsqd and
 * nsqlookupd exchange over nsqlookupd's protocol V1. Field names are the JSON keys on the wire,
 * exactly as nsq's nsqd/protocol_v2.go and nsqlookupd/lookup_protocol_v1.go spell them.
 *
 * How nsqd validates and applies the values is nsqd's business (lib/nsqd/protocol_v2.ts).
 */

/**
 * The IDENTIFY body a client sends to nsqd, as nsqd 1.3 understands it after Go-style decoding
 * (nsq's nsqd/protocol_v2.go identifyDataV2; https://nsq.io/clients/tcp_protocol_spec.html).
 * Field names are the JSON keys on the wire.
 */
export interface IdentifyRequest {
  client_id?: string;
  hostname?: string;
  user_agent?: string;
  feature_negotiation?: boolean;
  heartbeat_interval?: number;
  output_buffer_size?: number;
  output_buffer_timeout?: number;
  tls_v1?: boolean;
  snappy?: boolean;
  deflate?: boolean;
  deflate_level?: number;
  sample_rate?: number;
  msg_timeout?: number;
}

/** Each IDENTIFY JSON key nsqd reads, with the Go type its value must decode into. */
export const IDENTIFY_FIELDS: Readonly<Record<string, "string" | "bool" | "int" | "int32">> = {
  client_id: "string",
  hostname: "string",
  user_agent: "string",
  feature_negotiation: "bool",
  heartbeat_interval: "int",
  output_buffer_size: "int",
  output_buffer_timeout: "int",
  tls_v1: "bool",
  snappy: "bool",
  deflate: "bool",
  deflate_level: "int",
  sample_rate: "int32",
  msg_timeout: "int",
};

/**
 * Decodes IDENTIFY's JSON as Go's encoding/json would into nsqd's struct: keys match
 * case-insensitively, unknown keys are ignored, null leaves a field unset, a value of the wrong
 * type (or a non-integer for an int) fails the whole decode (→ null).
 */
export function decodeIdentify(text: string): IdentifyRequest | null {
  let raw: unknown;
  let badNumber = false;
  try {
    // Go's decoder refuses a fraction or exponent ("1000.0", "1e3") and int64 overflow for an
    // int field; JSON.parse would turn them into integers, so check the source text.
    raw = JSON.parse(text, (key, value, context?: { source?: string }) => {
      if (typeof value === "number" && IDENTIFY_FIELDS[key.toLowerCase()] !== undefined) {
        const src = context?.source ?? "";
        if (/[.eE]/.test(src) || Math.abs(value) > 9223372036854775807) badNumber = true;
      }
      return value;
    });
  } catch {
    return null;
  }
  if (badNumber) return null;
  if (raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const key = k.toLowerCase();
    const type = IDENTIFY_FIELDS[key];
    if (type === undefined || v === null) continue;
    switch (type) {
      case "string":
        if (typeof v !== "string") return null;
        break;
      case "bool":
        if (typeof v !== "boolean") return null;
        break;
      case "int":
      case "int32":
        if (typeof v !== "number" || !Number.isInteger(v)) return null;
        if (type === "int32" && (v < -2147483648 || v > 2147483647)) return null;
        break;
    }
    out[key] = v;
  }
  return out as IdentifyRequest;
}

/**
 * nsqd's answer to an IDENTIFY with `feature_negotiation: true` (a JSON response frame). The
 * `tls_v1`, `snappy` and `deflate` flags say which upgrades follow, each confirmed by an `OK`
 * sent over the new transport; durations are milliseconds.
 */
export interface IdentifyResponse {
  max_rdy_count: number;
  version: string;
  max_msg_timeout: number;
  msg_timeout: number;
  tls_v1: boolean;
  deflate: boolean;
  deflate_level: number;
  max_deflate_level: number;
  snappy: boolean;
  sample_rate: number;
  auth_required: boolean;
  output_buffer_size: number;
  output_buffer_timeout: number;
}

/**
 * The IDENTIFY body nsqd sends to nsqlookupd (protocol V1), and nsqlookupd's answer, which has
 * the same fields describing nsqlookupd itself. Keys in alphabetical order, as Go marshals a map.
 */
export interface LookupdIdentify {
  broadcast_address: string;
  hostname: string;
  http_port: number;
  tcp_port: number;
  version: string;
}
