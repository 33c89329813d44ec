/**
 * Starts a real nsqd in the test process: TCP on 127.0.0.1 port 0, no HTTP unless
 * `httpAddress` is given (e.g. "127.0.0.1:0"), a fresh temp data dir, logs kept in memory
 * (printed only when NSQ_TEST_LOG=1). `await using` closes it and removes the dir.
 */
import { Logger } from "../../lib/internal/log.ts";
import { Nsqd } from "../../lib/nsqd/nsqd.ts";
import { defaultNsqdOptions, type NsqdOptions } from "../../lib/nsqd/options.ts";

export interface TestNsqd extends AsyncDisposable {
  nsqd: Nsqd;
  /** "127.0.0.1:port" of the TCP listener. */
  tcpAddress: string;
  /** Bound HTTP address, "" when HTTP was not asked for. */
  httpAddress: string;
  dataPath: string;
  logs: string[];
  /** Closes the daemon; keeps the data dir (for restart tests) unless `removeData`. */
  close(removeData?: boolean): Promise<void>;
}

let topicSeq = 0;

/** A topic (or channel) name unique within the test run. */
export function uniqueName(prefix = "t"): string {
  return `${prefix}_${Date.now().toString(36)}_${++topicSeq}`;
}

export interface StartNsqdSetup {
  /** PEM cert and key for the HTTPS listener (with a non-empty httpsAddress). */
  httpsTls?: { cert: string; key: string };
}

export async function startNsqd(
  overrides: Partial<NsqdOptions> = {},
  dataPath?: string,
  setup: StartNsqdSetup = {},
): Promise<TestNsqd> {
  const dir = dataPath ?? await Deno.makeTempDir({ prefix: "nsqd_test_" });
  const logs: string[] = [];
  const echo = Deno.env.get("NSQ_TEST_LOG") === "1";
  const logger = new Logger("[nsqd] ", overrides.logLevel ?? "debug", (line) => {
    logs.push(line);
    if (echo) console.error(line);
  });
  const opts: NsqdOptions = {
    ...defaultNsqdOptions(),
    tcpAddress: "127.0.0.1:0",
    httpAddress: "",
    httpsAddress: "",
    broadcastAddress: "127.0.0.1",
    ...overrides,
    dataPath: dir,
  };
  const nsqd = new Nsqd(opts, logger);
  if (setup.httpsTls) nsqd.httpsTls = setup.httpsTls;
  try {
    await nsqd.start();
  } catch (err) {
    if (dataPath === undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
  let closed = false;
  const close = async (removeData = true) => {
    if (!closed) {
      closed = true;
      await nsqd.close();
    }
    if (removeData && dataPath === undefined) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  };
  return {
    nsqd,
    tcpAddress: nsqd.tcpAddress,
    httpAddress: nsqd.httpAddress,
    dataPath: dir,
    logs,
    close,
    [Symbol.asyncDispose]: () => close(true),
  };
}
