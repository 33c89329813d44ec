/**
 * The `nsq` executable as a real process: dispatch, exit codes, and the service lifecycle of the
 * real daemons (listening, SIGTERM / SIGINT → ordered shutdown, exit 0 within 2 s).
 */
import assert from "node:assert/strict";
import { NSQD_V8_FLAGS } from "../../lib/cli/v8_flags.ts";
import { versionLine } from "../../lib/version.ts";
import { waitFor } from "../_util/wait.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

function exists(path: string): boolean {
  try {
    Deno.statSync(new URL(`../../${path}`, import.meta.url));
    return true;
  } catch {
    return false;
  }
}

const HAVE_NSQD = exists("lib/nsqd/nsqd.ts");
const HAVE_NSQLOOKUPD = exists("lib/nsqlookupd/nsqlookupd.ts");

/** Runs `nsq args...` to completion. */
async function nsq(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A running `nsq` process whose output is collected as it arrives. */
class Proc {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #pumps: Promise<void>[];

  constructor(args: string[], cwd = ROOT) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#pumps = [
      this.#pump(this.child.stdout, (s) => this.stdout += s),
      this.#pump(this.child.stderr, (s) => this.stderr += s),
    ];
  }

  async #pump(stream: ReadableStream<Uint8Array>, add: (s: string) => void): Promise<void> {
    for await (const s of stream.pipeThrough(new TextDecoderStream())) add(s);
  }

  /** Waits until the collected stderr (log) matches `re`. */
  async waitLog(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    await waitFor(() => re.test(this.stderr), {
      timeoutMs,
      message: `${re} in log:\n${this.stderr}`,
    });
    return this.stderr.match(re)!;
  }

  /** Waits for exit; both output streams are fully read. */
  async exit(): Promise<Deno.CommandStatus> {
    const status = await this.child.status;
    await Promise.all(this.#pumps);
    return status;
  }

  /** Kills the process if a test failed before it exited. */
  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await this.exit();
  }
}

async function canConnect(address: string): Promise<boolean> {
  const i = address.lastIndexOf(":");
  const conn = await Deno.connect({ hostname: address.slice(0, i), port: +address.slice(i + 1) });
  conn.close();
  return true;
}

/** Asserts `parts` occur in `text` in this order. */
function assertOrdered(text: string, parts: string[]): void {
  let at = -1;
  for (const p of parts) {
    const i = text.indexOf(p, at + 1);
    assert.ok(i > at, `"${p}" missing or out of order in:\n${text}`);
    at = i;
  }
}

Deno.test("nsq: --help lists commands, --version, unknown command", async () => {
  let r = await nsq("--help");
  assert.equal(r.code, 0);
  for (const c of ["nsqd", "nsqlookupd", "dev"]) assert.match(r.stdout, new RegExp(`\\n  ${c} `));
  r = await nsq("--version");
  assert.deepEqual([r.code, r.stdout], [0, versionLine("nsq") + "\n"]);
  r = await nsq("frobnicate");
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /unknown command "frobnicate"/);
  assert.match(r.stderr, /Usage: nsq <command>/);
  r = await nsq();
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Usage: nsq <command>/);
});

Deno.test("nsq <cmd>: --version, -h, bad flag exits 2 naming the flag", async () => {
  let r = await nsq("nsqd", "--version");
  assert.deepEqual([r.code, r.stdout], [0, versionLine("nsqd") + "\n"]);
  r = await nsq("nsqlookupd", "-version");
  assert.deepEqual([r.code, r.stdout], [0, versionLine("nsqlookupd") + "\n"]);
  r = await nsq("nsqd", "-h");
  assert.equal(r.code, 0);
  assert.ok(r.stdout.includes("  -mem-queue-size int\n"));
  r = await nsq("nsqd", "--mem-queue-size", "abc");
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    "invalid value \"abc\" for flag -mem-queue-size: parse error\nRun 'nsq nsqd -h' for usage.\n",
  );
  r = await nsq("nsqlookupd", "--nope");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /flag provided but not defined: -nope/);
  r = await nsq("nsqd", "--max-deflate-level=0");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /FATAL: failed to instantiate nsqd - --max-deflate-level must be \[1,9\]/);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test({
    name: `nsq nsqd: listens, ${signal} → ordered shutdown, exit 0 within 2 s`,
    ignore: !HAVE_NSQD,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "nsq_cli_main_" });
      const proc = new Proc([
        "nsqd",
        "--tcp-address",
        "127.0.0.1:0",
        "--http-address",
        "127.0.0.1:0",
        "--data-path",
        dir,
      ]);
      try {
        const [, addr] = await proc.waitLog(/TCP: listening on (\S+:\d+)/);
        assert.ok(await canConnect(addr));
        if (Deno.build.os === "linux") {
          // `deno run main.ts nsqd` re-executed itself (same pid) with nsqd's V8 flags.
          const environ = Deno.readTextFileSync(`/proc/${proc.child.pid}/environ`).split("\0");
          assert.ok(environ.includes(`DENO_V8_FLAGS=${NSQD_V8_FLAGS}`), environ.join(" "));
        }
        const sentAt = performance.now();
        proc.child.kill(signal);
        const status = await proc.exit();
        assert.ok(performance.now() - sentAt < 2000, "exit took 2 s or more");
        assert.equal(status.code, 0, proc.stderr);
        assertOrdered(proc.stderr, [
          "TCP: listening on",
          `nsqd: received ${signal}, shutting down`,
          "TCP: closing",
          "NSQ: closing topics",
          "NSQ: bye",
        ]);
      } finally {
        await proc.kill();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "nsq nsqd: --config file and flags reach the daemon; a busy port exits 1",
  ignore: !HAVE_NSQD,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsq_cli_main_" });
    const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const busy = `127.0.0.1:${(blocker.addr as Deno.NetAddr).port}`;
    try {
      await Deno.writeTextFile(
        `${dir}/nsqd.toml`,
        `tcp_address = "${busy}"\nhttp_address = "127.0.0.1:0"\nlog_level = "debug"\n` +
          `data_path = "${dir}"\n`,
      );
      const r = await nsq("nsqd", "--config", `${dir}/nsqd.toml`, "--log-prefix=[cfg] ");
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^\[cfg\] /m);
      assert.match(r.stderr, /FATAL: /);
    } finally {
      blocker.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "nsq nsqlookupd: listens, SIGTERM → exit 0 within 2 s",
  ignore: !HAVE_NSQLOOKUPD,
  async fn() {
    const proc = new Proc([
      "nsqlookupd",
      "--tcp-address=127.0.0.1:0",
      "--http-address=127.0.0.1:0",
    ]);
    try {
      const [, addr] = await proc.waitLog(/TCP: listening on (\S+:\d+)/);
      assert.ok(await canConnect(addr));
      const sentAt = performance.now();
      proc.child.kill("SIGTERM");
      const status = await proc.exit();
      assert.ok(performance.now() - sentAt < 2000, "exit took 2 s or more");
      assert.equal(status.code, 0, proc.stderr);
      assertOrdered(proc.stderr, [
        "TCP: listening on",
        "nsqlookupd: received SIGTERM, shutting down",
        "TCP: closing",
      ]);
    } finally {
      await proc.kill();
    }
  },
});

Deno.test({
  name: "nsq dev: lookupd, nsqd and nsqadmin in one process, banner, SIGINT → exit 0",
  ignore: !HAVE_NSQD || !HAVE_NSQLOOKUPD,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsq_cli_dev_" });
    const proc = new Proc([
      "dev",
      `--data-path=${dir}/data`,
      "--tcp-address=127.0.0.1:0",
      "--http-address=127.0.0.1:0",
      "--lookupd-tcp-address=127.0.0.1:0",
      "--lookupd-http-address=127.0.0.1:0",
      "--admin-http-address=127.0.0.1:0",
    ]);
    try {
      await waitFor(() => proc.stdout.includes("curl -d hello"), {
        timeoutMs: 15_000,
        message: `dev banner; log:\n${proc.stderr}`,
      });
      const lookupd = proc.stdout.match(/nsqlookupd {2}TCP (\S+)/)![1];
      const nsqd = proc.stdout.match(/nsqd {8}TCP (\S+)/)![1];
      assert.ok(await canConnect(lookupd));
      assert.ok(await canConnect(nsqd));
      const admin = proc.stdout.match(/nsqadmin {4}HTTP \S+ {2}open (http:\/\/\S+)/)![1];
      const ping = await fetch(`${admin}ping`);
      assert.equal(await ping.text(), "OK");
      assert.equal((await Deno.stat(`${dir}/data`)).isDirectory, true);
      assert.match(proc.stderr, /^\[nsqlookupd\] /m);
      assert.match(proc.stderr, /^\[nsqd\] /m);
      proc.child.kill("SIGINT");
      const status = await proc.exit();
      assert.equal(status.code, 0, proc.stderr);
      // nsqd stops before the lookupd it registered with
      const nsqdBye = proc.stderr.indexOf("NSQ: bye");
      const lookupdClose = proc.stderr.lastIndexOf("[nsqlookupd]");
      assert.ok(nsqdBye !== -1 && nsqdBye < lookupdClose, proc.stderr);
    } finally {
      await proc.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
