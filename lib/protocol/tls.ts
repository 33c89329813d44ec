/**
 * Server-side TLS upgrade in the middle of a TCP connection (IDENTIFY `tls_v1`, docs/nsqd.md#tls).
 *
 * `Deno.startTls` only makes clients, so the server handshake runs on node:tls: a `TLSSocket`
 * with `isServer: true` over a node Duplex that reads and writes the connection's Transport.
 * Data then flows through {@link TlsTransport}, which adapts the socket's events back to the
 * pull-style Transport the connection's read loop and writer use.
 *
 * Client certificates follow nsqd's `--tls-client-auth-policy`: `require` needs some
 * certificate; `require-verify` needs one that chains to `ca` (or the system roots without
 * `ca`). node:tls's `authorized` flag is not reliable on the server side in Deno, so the chain is
 * checked here with node:crypto's X509Certificate after the handshake, and a refused client
 * sees the connection close rather than a TLS alert.
 *
 * Deno's node:tls runs on rustls, which speaks TLS 1.2 and 1.3 only: `tls1.0` and `tls1.1`
 * minimums behave like `tls1.2` (an OpenSSL `-tls1_1` client is refused).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { Duplex } from "node:stream";
import { connect as tlsConnect, type PeerCertificate, rootCertificates, TLSSocket } from "node:tls";
import { SocketTransport } from "./socket_transport.ts";
import { type Transport, writeAll } from "./transport.ts";

/** nsqd's `--tls-client-auth-policy` values ("" = no client certificate requested). */
export type TlsClientAuthPolicy = "" | "require" | "require-verify";

/** nsqd's `--tls-min-version` values. */
export type TlsMinVersion = "tls1.0" | "tls1.1" | "tls1.2" | "tls1.3";

/** Options of {@link upgradeTlsServer}. */
export interface TlsUpgradeOptions {
  /** Server certificate chain, PEM. */
  cert: string;
  /** Server private key, PEM (PKCS#1 or PKCS#8). */
  key: string;
  /** CA bundle, PEM, that client certificates must chain to under `require-verify`. */
  ca?: string;
  clientAuthPolicy: TlsClientAuthPolicy;
  minVersion: TlsMinVersion;
  /** Bytes already read from the connection that belong to the TLS stream (e.g. ClientHello). */
  initial?: Uint8Array;
  /** Deadline for the handshake; default 5000 ms like nsqd. */
  handshakeTimeoutMs?: number;
}

/** What nsqd reports about a TLS connection in its client stats. */
export interface TlsState {
  /** "TLS1.0" ... "TLS1.3", as nsqd's stats name versions. */
  version: string;
  /** IANA / Go name of the cipher suite, e.g. `TLS_AES_128_GCM_SHA256`. */
  cipherSuite: string;
  /** ALPN protocol ("" if none). */
  negotiatedProtocol: string;
  /** Always true, as Go (≥ 1.16) reports it: the field is a deprecated NPN leftover. */
  negotiatedProtocolIsMutual: boolean;
  /** Subject common name of the client certificate ("" if none). */
  peerCommonName: string;
}

/** node:tls `minVersion` names of `--tls-min-version` values. */
export const MIN_VERSIONS = {
  "tls1.0": "TLSv1",
  "tls1.1": "TLSv1.1",
  "tls1.2": "TLSv1.2",
  "tls1.3": "TLSv1.3",
} as const;

const VERSION_NAMES: Record<string, string> = {
  "TLSv1": "TLS1.0",
  "TLSv1.1": "TLS1.1",
  "TLSv1.2": "TLS1.2",
  "TLSv1.3": "TLS1.3",
};

/**
 * A node Duplex over a Transport: the ciphertext side of the TLS socket. Reads one chunk per
 * `_read` (node calls again while its buffer is below the high-water mark); writes loop on short
 * writes before acknowledging. Destroying it closes the transport.
 */
class TransportDuplex extends Duplex {
  #t: Transport;
  #buf = new Uint8Array(32 * 1024);
  #initial: Uint8Array | undefined;
  #reading = false;
  #closed = false;

  constructor(t: Transport, initial?: Uint8Array) {
    super({ allowHalfOpen: false });
    this.#t = t;
    this.#initial = initial && initial.length > 0 ? initial : undefined;
  }

  override _read(): void {
    if (this.#initial) {
      const initial = this.#initial;
      this.#initial = undefined;
      this.push(Buffer.from(initial.buffer, initial.byteOffset, initial.length));
      return;
    }
    if (this.#reading || this.#closed) return;
    this.#reading = true;
    this.#t.read(this.#buf).then((n) => {
      this.#reading = false;
      if (n === null) this.push(null);
      // push keeps the chunk, so hand it a copy and keep reusing the read buffer.
      else this.push(Buffer.from(this.#buf.subarray(0, n)));
    }, (err) => {
      this.#reading = false;
      if (this.#closed) this.push(null);
      else this.destroy(err);
    });
  }

  override _write(
    chunk: Uint8Array,
    _encoding: string,
    callback: (error?: Error | null) => void,
  ): void {
    writeAll(this.#t, chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.closeTransport();
    callback(err);
  }

  closeTransport(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#t.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * A Transport over an established TLS socket (server side over a {@link TransportDuplex}, or
 * client side over a node:net socket); see {@link SocketTransport} for reads and writes.
 */
export class TlsTransport extends SocketTransport {
  /** Negotiated parameters, for client stats and auth (`common_name`). */
  readonly state: TlsState;
  #under: { closeTransport(): void } | null;

  /** @internal Created by {@link upgradeTlsServer} and {@link upgradeTlsClient}. */
  constructor(socket: TLSSocket, under: { closeTransport(): void } | null, state: TlsState) {
    super(socket);
    this.#under = under;
    this.state = state;
  }

  /** Closes the TLS socket and the connection under it; pending reads resolve null. */
  override close(): void {
    super.close();
    this.#under?.closeTransport();
  }
}

/**
 * Runs a TLS server handshake on `conn` (a `Deno.Conn` or any Transport) and enforces the client
 * certificate policy. Resolves with a Transport for the encrypted stream; on failure or after
 * `handshakeTimeoutMs` it closes `conn` and rejects with an Error naming the cause.
 */
export function upgradeTlsServer(conn: Transport, opts: TlsUpgradeOptions): Promise<TlsTransport> {
  const requestCert = opts.clientAuthPolicy === "require" ||
    opts.clientAuthPolicy === "require-verify";
  const minVersion = MIN_VERSIONS[opts.minVersion];
  const duplex = new TransportDuplex(conn, opts.initial);
  let socket: TLSSocket;
  try {
    if (!minVersion) throw new RangeError(`Unknown TLS min version ${opts.minVersion}`);
    socket = new TLSSocket(duplex, {
      isServer: true,
      cert: opts.cert,
      key: opts.key,
      ca: opts.ca,
      requestCert,
      // The policy is enforced below: node's own verdict is not trustworthy here.
      rejectUnauthorized: false,
      minVersion,
    });
  } catch (err) {
    duplex.closeTransport();
    return Promise.reject(err);
  }
  let peer: PeerCertificate | undefined;
  return driveHandshake(socket, duplex, "secure", opts.handshakeTimeoutMs ?? 5000, {
    teardown: () => {
      duplex.destroy();
      duplex.closeTransport();
    },
    verify: () => {
      peer = socket.getPeerCertificate(true);
      const problem = checkClientCert(opts.clientAuthPolicy, peer, opts.ca);
      return problem ? new Error(problem) : null;
    },
    build: () => {
      const alpn = socket.alpnProtocol;
      return new TlsTransport(
        socket,
        duplex,
        connectionState(socket, typeof alpn === "string" ? alpn : "", peer),
      );
    },
  });
}

/** What a side does at the end of its handshake (see {@linkcode driveHandshake}). */
interface HandshakeSteps {
  /** Releases the transport under the TLS socket on failure. */
  teardown(): void;
  /** Why the finished handshake is unacceptable, or null; a throw fails it as `TLS handshake failed`. */
  verify(): Error | null;
  /** The transport once the handshake is accepted. */
  build(): TlsTransport;
}

/**
 * Waits for `socket`'s `secureEvent` within `timeoutMs`, then verifies and builds the transport;
 * any error, close or timeout before that destroys both sockets and rejects once.
 */
function driveHandshake(
  socket: TLSSocket,
  under: { on(event: "error", listener: () => void): unknown },
  secureEvent: "secure" | "secureConnect",
  timeoutMs: number,
  steps: HandshakeSteps,
): Promise<TlsTransport> {
  return new Promise<TlsTransport>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      steps.teardown();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new Error(`TLS handshake timed out after ${timeoutMs}ms`)),
      timeoutMs,
    );
    // Keep a listener for the socket's whole life: an unheard 'error' would crash the process.
    socket.on("error", (err: Error) => fail(new Error(`TLS handshake failed: ${err.message}`)));
    under.on("error", () => {});
    const onClose = () => fail(new Error("TLS handshake failed: connection closed"));
    socket.once("close", onClose);
    socket.once(secureEvent, () => {
      if (settled) return;
      try {
        const problem = steps.verify();
        if (problem) return fail(problem);
      } catch (err) {
        return fail(new Error(`TLS handshake failed: ${(err as Error).message}`));
      }
      settled = true;
      clearTimeout(timer);
      socket.off("close", onClose);
      resolve(steps.build());
    });
  });
}

/** The negotiated parameters as {@linkcode TlsTransport} reports them. */
function connectionState(
  socket: TLSSocket,
  negotiatedProtocol: string,
  peer: PeerCertificate | undefined,
): TlsState {
  const cipher = socket.getCipher();
  const protocol = socket.getProtocol() ?? "";
  return {
    version: VERSION_NAMES[protocol] ?? protocol,
    cipherSuite: cipher?.standardName || cipher?.name || "",
    negotiatedProtocol,
    negotiatedProtocolIsMutual: true,
    peerCommonName: commonName(peer),
  };
}

function hasCert(peer: PeerCertificate | undefined): peer is PeerCertificate {
  return !!peer && !!peer.raw && peer.raw.length > 0;
}

function commonName(peer: PeerCertificate | undefined): string {
  if (!hasCert(peer)) return "";
  const cn = (peer.subject as unknown as Record<string, string | string[] | undefined>)?.CN;
  return Array.isArray(cn) ? cn[0] ?? "" : cn ?? "";
}

/** Returns why the client's certificate breaks `policy`, or null if it is acceptable. */
export function checkClientCert(
  policy: TlsClientAuthPolicy,
  peer: PeerCertificate | undefined,
  ca: string | undefined,
): string | null {
  if (policy === "") return null;
  if (!hasCert(peer)) return "tls: client didn't provide a certificate";
  if (policy === "require") return null;
  return verifyChain(peer, ca ? caCertificates(ca) : systemRoots());
}

let systemRootsCache: X509Certificate[] | null = null;
function systemRoots(): X509Certificate[] {
  return systemRootsCache ??= rootCertificates.flatMap((pem) => {
    try {
      return [new X509Certificate(pem)];
    } catch {
      return [];
    }
  });
}

const caCache = new Map<string, X509Certificate[]>();
function caCertificates(pem: string): X509Certificate[] {
  let certs = caCache.get(pem);
  if (!certs) {
    certs = splitPem(pem, "CERTIFICATE").map((block) => new X509Certificate(block));
    caCache.set(pem, certs);
  }
  return certs;
}

/**
 * Checks that the client's certificate chains to one of `roots`, through intermediates the
 * client sent, with every certificate in its validity period (Go's `RequireAndVerifyClientCert`
 * minus key-usage checks). Returns the problem or null.
 */
function verifyChain(peer: PeerCertificate, roots: X509Certificate[]): string | null {
  type Detailed = PeerCertificate & { issuerCertificate?: Detailed };
  const presented: X509Certificate[] = [];
  const seen = new Set<Detailed>();
  for (let c: Detailed | undefined = peer; c && !seen.has(c) && c.raw; c = c.issuerCertificate) {
    seen.add(c);
    presented.push(new X509Certificate(c.raw));
  }
  const now = Date.now();
  const unknown = "tls: failed to verify client certificate: x509: certificate signed by unknown" +
    " authority";
  let cur = presented[0];
  for (let depth = 0; depth < 10; depth++) {
    if (!inValidity(cur, now)) {
      return "tls: failed to verify client certificate: x509: certificate has expired or is not" +
        " yet valid";
    }
    for (const root of roots) {
      if (root.raw.equals(cur.raw)) return null;
      if (cur.checkIssued(root) && cur.verify(root.publicKey) && inValidity(root, now)) return null;
    }
    const next = presented.find((c) =>
      c !== cur && c.ca && cur.checkIssued(c) && cur.verify(c.publicKey)
    );
    if (!next) return unknown;
    cur = next;
  }
  return unknown;
}

function inValidity(cert: X509Certificate, now: number): boolean {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return !(from > now) && !(to < now);
}

/** The PEM blocks of `label` in `pem` ("CERTIFICATE" etc.), each with its armor. */
function splitPem(pem: string, label: string): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, "g");
  return pem.match(re) ?? [];
}

/** PEM material for nsqd's TLS listener, checked at start-up. */
export interface TlsConfig {
  cert: string;
  key: string;
  ca?: string;
}

/**
 * Reads `--tls-cert`, `--tls-key` and the optional `--tls-root-ca-file` as PEM and checks them:
 * the certificate parses, the key is a PKCS#1 (`RSA PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or
 * PKCS#8 (`PRIVATE KEY`) key that matches it, and the CA file holds certificates. Throws
 * TypeError with a message naming the file and the problem.
 */
export async function loadTlsConfig(
  certFile: string,
  keyFile: string,
  caFile?: string,
): Promise<TlsConfig> {
  const read = async (what: string, path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (err) {
      throw new TypeError(`Failed to read ${what} ${path}: ${(err as Error).message}`);
    }
  };
  const cert = await read("TLS certificate", certFile);
  const key = await read("TLS key", keyFile);
  const ca = caFile ? await read("TLS root CA file", caFile) : undefined;

  const certBlocks = splitPem(cert, "CERTIFICATE");
  if (certBlocks.length === 0) {
    throw new TypeError(`TLS certificate ${certFile} holds no PEM CERTIFICATE block`);
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certBlocks[0]);
    for (const block of certBlocks.slice(1)) new X509Certificate(block);
  } catch (err) {
    throw new TypeError(`TLS certificate ${certFile} is invalid: ${(err as Error).message}`);
  }

  const keyMatch = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----/.exec(key);
  if (!keyMatch) {
    throw new TypeError(
      `TLS key ${keyFile} holds no PEM private key (expected PRIVATE KEY, RSA PRIVATE KEY or ` +
        `EC PRIVATE KEY)`,
    );
  }
  if (keyMatch[1] === "ENCRYPTED PRIVATE KEY") {
    throw new TypeError(`TLS key ${keyFile} is encrypted; nsqd needs an unencrypted key`);
  }
  let publicFromKey: string;
  try {
    const pk = createPrivateKey({ key: splitPem(key, keyMatch[1])[0], format: "pem" });
    publicFromKey = createPublicKey(pk).export({ type: "spki", format: "pem" }).toString();
  } catch (err) {
    throw new TypeError(`TLS key ${keyFile} is invalid: ${(err as Error).message}`);
  }
  const publicFromCert = leaf.publicKey.export({ type: "spki", format: "pem" }).toString();
  if (publicFromKey !== publicFromCert) {
    throw new TypeError(`TLS key ${keyFile} does not match certificate ${certFile}`);
  }

  if (ca !== undefined) {
    const blocks = splitPem(ca, "CERTIFICATE");
    if (blocks.length === 0) {
      throw new TypeError(`TLS root CA file ${caFile} holds no PEM CERTIFICATE block`);
    }
    try {
      for (const block of blocks) new X509Certificate(block);
    } catch (err) {
      throw new TypeError(`TLS root CA file ${caFile} is invalid: ${(err as Error).message}`);
    }
  }
  return { cert, key, ca };
}

/** Options of {@link upgradeTlsClient} (go-nsq's `tls_*` options). */
export interface TlsClientUpgradeOptions {
  /** Name the server certificate must carry (go-nsq uses the host of the nsqd address). */
  serverName?: string;
  /** CA bundles (PEM) the server certificate must chain to; the system roots when absent. */
  ca?: string[];
  /** Client certificate chain and key (PEM), for nsqd's `--tls-client-auth-policy`. */
  cert?: string;
  key?: string;
  /** Accept any server certificate (go-nsq's `tls_insecure_skip_verify`). */
  insecureSkipVerify?: boolean;
  /** Lowest TLS version to accept (`tls1.0` ... `tls1.3`; default `tls1.2`, Deno's floor). */
  minVersion?: TlsMinVersion;
  /** Bytes already read from the connection that belong to the TLS stream. */
  initial?: Uint8Array;
  /** Deadline for the handshake; default 5000 ms. */
  handshakeTimeoutMs?: number;
}

/**
 * Runs a TLS client handshake on `conn` (the IDENTIFY `tls_v1` upgrade, as go-nsq's
 * `upgradeTLS`). `conn` must be a {@link SocketTransport} over a node:net socket: Deno's
 * node:tls runs a client handshake only on a real socket (and `Deno.startTls` cannot present a
 * client certificate nor skip verification). Resolves with a Transport for the encrypted
 * stream; on failure or timeout it closes the socket and rejects with an Error naming the cause.
 */
export function upgradeTlsClient(
  conn: Transport,
  opts: TlsClientUpgradeOptions = {},
): Promise<TlsTransport> {
  if (!(conn instanceof SocketTransport)) {
    conn.close();
    return Promise.reject(new TypeError("TLS client upgrade needs a node:net socket transport"));
  }
  const raw = conn.detach();
  if (opts.initial && opts.initial.length > 0) raw.unshift(opts.initial);
  let socket: TLSSocket;
  try {
    const minVersion = MIN_VERSIONS[opts.minVersion ?? "tls1.2"];
    if (!minVersion) throw new RangeError(`Unknown TLS min version ${opts.minVersion}`);
    const name = opts.serverName ?? "";
    socket = tlsConnect({
      socket: raw,
      host: name,
      servername: name !== "" && !isIpLiteral(name) ? name : undefined,
      ca: opts.ca && opts.ca.length > 0 ? opts.ca : undefined,
      cert: opts.cert,
      key: opts.key,
      rejectUnauthorized: !opts.insecureSkipVerify,
      minVersion,
    });
  } catch (err) {
    raw.destroy();
    return Promise.reject(err);
  }
  return driveHandshake(socket, raw, "secureConnect", opts.handshakeTimeoutMs ?? 5000, {
    teardown: () => raw.destroy(),
    verify: () =>
      !opts.insecureSkipVerify && socket.authorized === false
        ? new Error(`TLS handshake failed: ${socket.authorizationError ?? "unauthorized"}`)
        : null,
    build: () => {
      let peer: PeerCertificate | undefined;
      try {
        peer = socket.getPeerCertificate();
      } catch {
        peer = undefined;
      }
      return new TlsTransport(
        socket,
        { closeTransport: () => raw.destroy() },
        connectionState(socket, "", peer),
      );
    },
  });
}

function isIpLiteral(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(":");
}
