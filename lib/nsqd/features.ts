/**
 * nsqd's optional capabilities, installed at start: TLS (in-band upgrade after IDENTIFY, and the
 * HTTPS listener's certificate), snappy and deflate compression, and authorization through an
 * auth server (docs/nsqd.md#identify-and-upgrades, #auth, #tls). The protocol code only sees the
 * `NsqdFeatures` hooks.
 */
import { FRAME_OK } from "./client_v2.ts";
import type { ClientV2 } from "./client_v2.ts";
import type { NsqdFeatures, UpgradeRequest } from "./nsqd.ts";
import type { NsqdOptions } from "./options.ts";
import type { Transport } from "../protocol/transport.ts";
import type { TlsClientAuthPolicy, TlsConfig, TlsMinVersion } from "../protocol/tls.ts";

// TLS, compression and auth load on first use (dynamic imports with literal paths, so
// `deno compile` still embeds them): a plain nsqd never pays for node:tls, node:zlib or the
// auth client.

/** The features, and the PEM pair for HTTPS when TLS is configured. */
export interface LoadedFeatures {
  features: NsqdFeatures;
  tls: TlsConfig | null;
}

/**
 * Loads the TLS files (when --tls-cert and --tls-key are set) and builds the hooks. Throws with
 * NSQ's start-up messages when the TLS settings cannot work.
 */
export async function loadFeatures(opts: NsqdOptions): Promise<LoadedFeatures> {
  let tls: TlsConfig | null = null;
  if (opts.tlsCert !== "" || opts.tlsKey !== "") {
    try {
      const { loadTlsConfig } = await import("../protocol/tls.ts");
      tls = await loadTlsConfig(opts.tlsCert, opts.tlsKey, opts.tlsRootCaFile || undefined);
    } catch (err) {
      throw new Error(`failed to build TLS config - ${(err as Error).message}`);
    }
  }
  if (tls === null && opts.tlsRequired !== 0) {
    throw new Error("cannot require TLS client connections without TLS key and cert");
  }
  const tlsConfig = tls;
  const features: NsqdFeatures = {
    tls: tlsConfig !== null,
    upgrade: (c, req) => upgrade(c, req, opts, tlsConfig),
    authenticate: (c, secret) => authenticate(c, secret, opts),
  };
  return { features, tls };
}

/** Swaps the client's transport, then confirms the step with OK over the new transport. */
async function switchTo(c: ClientV2, t: Transport): Promise<void> {
  c.transport = t;
  c.writer.transport = t;
  c.sendResponse(FRAME_OK);
  await c.writer.idle();
}

/**
 * TLS first, then snappy or deflate on top of it, each confirmed by its own OK
 * (docs/nsqd.md#identify-and-upgrades).
 */
async function upgrade(
  c: ClientV2,
  req: UpgradeRequest,
  opts: NsqdOptions,
  tls: TlsConfig | null,
): Promise<void> {
  let initial: Uint8Array | undefined = req.leftover.length > 0 ? req.leftover : undefined;
  if (req.tls) {
    const { upgradeTlsServer } = await import("../protocol/tls.ts");
    const t = await upgradeTlsServer(c.transport, {
      cert: tls!.cert,
      key: tls!.key,
      ca: tls!.ca,
      clientAuthPolicy: opts.tlsClientAuthPolicy as TlsClientAuthPolicy,
      minVersion: (opts.tlsMinVersion || "tls1.0") as TlsMinVersion,
      initial,
    });
    initial = undefined;
    c.tls = t.state;
    await switchTo(c, t);
  }
  const compress = req.snappy || req.deflate ? await import("../protocol/compress.ts") : null;
  if (req.snappy) {
    c.snappy = true;
    await switchTo(c, new compress!.SnappyTransport(c.transport, initial));
  }
  if (req.deflate) {
    c.deflate = true;
    c.deflateLevel = req.level;
    await switchTo(c, new compress!.DeflateTransport(c.transport, initial, req.level));
  }
}

/** Queries the auth server with the client's details; stores the grant on the client. */
async function authenticate(c: ClientV2, secret: string, opts: NsqdOptions): Promise<number> {
  const { queryAuthd } = await import("./auth.ts");
  const state = await queryAuthd(
    opts.authHttpAddresses,
    {
      remoteIp: c.remoteIp,
      tls: c.tls !== null,
      secret,
      commonName: c.tls?.peerCommonName ?? "",
    },
    {
      connectTimeoutMs: opts.httpClientConnectTimeout,
      requestTimeoutMs: opts.httpClientRequestTimeout,
      caFile: opts.tlsRootCaFile || undefined,
      method: opts.authHttpRequestMethod === "post" ? "post" : "get",
    },
  );
  c.auth = state;
  c.authSecret = secret;
  return state.permissionCount;
}
