/**
 * HTTPS through node:https, for what `Deno.serve` cannot do: requesting and checking client
 * certificates (`--tls-client-auth-policy`) and a TLS 1.3 floor (`--tls-min-version`). Go nsqd
 * serves HTTPS with the same tls.Config as the TCP upgrade, so both must apply the same rules.
 *
 * Each request is turned into a fetch `Request` and answered by the same handler `Deno.serve`
 * uses; a client whose certificate breaks the policy has its connection closed before any
 * request is handled (Go refuses it during the handshake).
 */
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../internal/log.ts";
import {
  checkClientCert,
  MIN_VERSIONS,
  type TlsClientAuthPolicy,
  type TlsMinVersion,
} from "../protocol/tls.ts";
import type { HttpServerHandle } from "./v1.ts";
import { formatAddr, splitHostPort } from "../internal/net_addr.ts";

export interface NodeHttpsOptions {
  cert: string;
  key: string;
  ca?: string;
  clientAuthPolicy: TlsClientAuthPolicy;
  minVersion: TlsMinVersion;
  logger: Logger;
  signal: AbortSignal;
}

/** Serves `handler` over HTTPS on `address` ("host:port", port 0 allowed). */
export async function serveHttpsNode(
  address: string,
  handler: Deno.ServeHandler,
  opts: NodeHttpsOptions,
): Promise<HttpServerHandle> {
  const log = opts.logger;
  const server = https.createServer({
    cert: opts.cert,
    key: opts.key,
    ca: opts.ca,
    requestCert: opts.clientAuthPolicy !== "",
    rejectUnauthorized: false, // checked below, as the TCP upgrade does
    minVersion: MIN_VERSIONS[opts.minVersion],
  }, (req, res) => {
    respond(req, res, handler).catch((err) => {
      log.error(`HTTPS: request failed - ${(err as Error).message}`);
      res.destroy();
    });
  });
  server.on("secureConnection", (socket: TLSSocket) => {
    const problem = checkClientCert(
      opts.clientAuthPolicy,
      socket.getPeerCertificate(true),
      opts.ca,
    );
    if (problem !== null) {
      log.error(`HTTPS: client(${socket.remoteAddress}) refused - ${problem}`);
      socket.destroy();
    }
  });
  server.on("tlsClientError", () => {});
  const { hostname, port } = splitHostPort(address);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname || "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address() as { address: string; port: number };
  const addr = formatAddr({ transport: "tcp", hostname: a.address, port: a.port });
  log.info(`HTTPS: listening on ${addr}`);
  const { promise: finished, resolve: done } = Promise.withResolvers<void>();
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      opts.signal.removeEventListener("abort", onAbort);
      server.close(() => {
        log.info(`HTTPS: closing ${addr}`);
        done();
        resolve();
      });
      server.closeAllConnections();
    });
    return closing;
  };
  const onAbort = () => void close();
  if (opts.signal.aborted) onAbort();
  else opts.signal.addEventListener("abort", onAbort, { once: true });
  return { addr, port: a.port, finished, close };
}

/** One request: node → fetch Request → handler → node response. */
async function respond(
  req: IncomingMessage,
  res: ServerResponse,
  handler: Deno.ServeHandler,
): Promise<void> {
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  for await (const c of req) chunks.push(c as Uint8Array<ArrayBuffer>);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (Array.isArray(v)) { for (const x of v) headers.append(k, x); }
    else if (v !== undefined) headers.set(k, v);
  }
  const method = req.method ?? "GET";
  const body = method === "GET" || method === "HEAD" ? undefined : new Blob(chunks);
  const request = new Request(`https://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, {
    method,
    headers,
    body,
  });
  const sock = req.socket;
  const response = await handler(request, {
    remoteAddr: {
      transport: "tcp",
      hostname: sock.remoteAddress ?? "",
      port: sock.remotePort ?? 0,
    },
    completed: Promise.resolve(),
  } as unknown as Deno.ServeHandlerInfo<Deno.NetAddr>);
  const out = new Uint8Array(await response.arrayBuffer());
  res.statusCode = response.status;
  response.headers.forEach((v, k) => res.setHeader(k, v));
  res.setHeader("content-length", out.length);
  res.end(out);
}
