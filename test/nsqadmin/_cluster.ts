/**
 * A live cluster for the nsqadmin tests, all in this process on 127.0.0.1 port 0: an
 * nsqlookupd, an nsqd registered with it (HTTP on, TLS offered with the test certificates so
 * clients may upgrade), and an nsqadmin reading the lookupd. `await using` closes all three.
 */
import { Logger } from "../../lib/internal/log.ts";
import { Nsqadmin } from "../../lib/nsqadmin/nsqadmin.ts";
import { defaultNsqadminOptions, type NsqadminOptions } from "../../lib/nsqadmin/options.ts";
import { Nsqlookupd } from "../../lib/nsqlookupd/nsqlookupd.ts";
import { defaultNsqlookupdOptions } from "../../lib/nsqlookupd/options.ts";
import { startNsqd, type TestNsqd } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";

const CERTS = new URL("../_fixtures/certs/", import.meta.url);
const cert = (name: string) => new URL(name, CERTS).pathname;

export interface AdminCluster extends AsyncDisposable {
  lookupd: Nsqlookupd;
  nsqd: TestNsqd;
  admin: Nsqadmin;
  /** `http://127.0.0.1:port` of nsqadmin plus its base path (no trailing slash). */
  url: string;
  logs: string[];
  /** fetch against nsqadmin: `path` is appended to `url`. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** GET JSON from nsqd's HTTP API. */
  nsqdJson<T = unknown>(path: string): Promise<T>;
  close(): Promise<void>;
}

/** Starts the cluster; `admin` overrides nsqadmin's options (e.g. adminUsers, basePath). */
export async function startAdminCluster(
  admin: Partial<NsqadminOptions> = {},
): Promise<AdminCluster> {
  const logs: string[] = [];
  const echo = Deno.env.get("NSQ_TEST_LOG") === "1";
  const sink = (line: string) => {
    logs.push(line);
    if (echo) console.error(line);
  };
  const lookupd = new Nsqlookupd(
    {
      ...defaultNsqlookupdOptions(),
      tcpAddress: "127.0.0.1:0",
      httpAddress: "127.0.0.1:0",
      broadcastAddress: "127.0.0.1",
    },
    new Logger("[nsqlookupd] ", "warn", sink),
  );
  await lookupd.start();
  let nsqd: TestNsqd | undefined;
  let nsqadmin: Nsqadmin | undefined;
  try {
    nsqd = await startNsqd({
      httpAddress: "127.0.0.1:0",
      nsqlookupdTcpAddresses: [lookupd.tcpAddress],
      logLevel: "warn",
      tlsCert: cert("server.pem"),
      tlsKey: cert("server.key"),
    });
    const opts: NsqadminOptions = {
      ...defaultNsqadminOptions(),
      httpAddress: "127.0.0.1:0",
      nsqlookupdHttpAddresses: [lookupd.httpAddress],
      historyInterval: 300,
      ...admin,
    };
    nsqadmin = new Nsqadmin(opts, new Logger("[nsqadmin] ", "warn", sink));
    await nsqadmin.start();
    const nsqdHttp = nsqd.httpAddress;
    // Ready once the lookupd lists the nsqd.
    await waitFor(async () => {
      const r = await fetch(`http://${lookupd.httpAddress}/nodes`);
      const j = await r.json() as { producers: unknown[] };
      return j.producers.length === 1;
    }, { message: "nsqd registered with the lookupd" });
    const normalized = nsqadmin.opts().basePath;
    const base = normalized === "/" ? "" : normalized;
    const url = `http://${nsqadmin.httpAddress}${base}`;
    const a = nsqadmin;
    const n = nsqd;
    let closed: Promise<void> | undefined;
    const close = () =>
      closed ??= (async () => {
        await a.close();
        await n.close();
        await lookupd.close();
      })();
    return {
      lookupd,
      nsqd,
      admin: nsqadmin,
      url,
      logs,
      fetch: (path, init) => fetch(url + path, init),
      nsqdJson: async <T>(path: string) => {
        const r = await fetch(`http://${nsqdHttp}${path}`);
        return await r.json() as T;
      },
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (e) {
    await nsqadmin?.close();
    await nsqd?.close();
    await lookupd.close();
    throw e;
  }
}

/** POST/DELETE/PUT with a JSON body; the status and the decoded answer. */
export async function send(
  c: AdminCluster,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await c.fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text === "" ? {} : JSON.parse(text) };
}
