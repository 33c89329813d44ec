/**
 * Our tools beside Go NSQ 1.3's own tools, against the same servers (our nsqd and Go's nsqd):
 * same printed lines (nsq_stat's table, nsq_tail), same files (names and contents) from
 * nsq_to_file, same exit codes for bad flags and failed checks. Runs only with
 * NSQ_GO_BIN=/path/to/go/nsq/bin (Go's binaries are not part of the repository).
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { Producer } from "../../lib/client/mod.ts";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { waitFor } from "../_util/wait.ts";
import { runToolProc, ToolProc } from "./_tool_proc.ts";

const GO_BIN = Deno.env.get("NSQ_GO_BIN");
const dec = new TextDecoder();

interface Server {
  name: string;
  tcp: string;
  http: string;
}

/** Go nsqd on port 0; its addresses come from its log. */
async function startGoNsqd(
  dir: string,
): Promise<{ server: Server; child: Deno.ChildProcess; log: () => string }> {
  const child = new Deno.Command(`${GO_BIN}/nsqd`, {
    args: ["--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0", `--data-path=${dir}`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const pump = (async () => {
    for await (const c of child.stderr) text += dec.decode(c);
  })();
  await waitFor(
    () => /TCP: listening on (\S+)/.test(text) && /HTTP: listening on (\S+)/.test(text),
    {
      timeoutMs: 10_000,
      message: "Go nsqd listening",
    },
  );
  const tcp = text.match(/TCP: listening on (\S+)/)![1];
  const http = text.match(/HTTP: listening on (\S+)/)![1];
  Object.assign(child, { pump });
  return { server: { name: "go nsqd", tcp, http }, child, log: () => text };
}

async function post(http: string, path: string): Promise<void> {
  const r = await fetch(`http://${http}/${path}`, { method: "POST" });
  await r.body?.cancel();
  assert.equal(r.status, 200, path);
}

async function readFiles(dir: string): Promise<Map<string, Uint8Array>> {
  const m = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) m.set(e.name, await Deno.readFile(`${dir}/${e.name}`));
  }
  return m;
}

/** Unzips a file of concatenated gzip members (what nsq_to_file writes, one per sync). */
// deno-lint-ignore require-await
async function gunzipText(bytes: Uint8Array): Promise<string> {
  return dec.decode(gunzipSync(bytes));
}

Deno.test({
  name: "Go's tools and ours print, write and exit the same (NSQ_GO_BIN)",
  ignore: GO_BIN === undefined,
  async fn() {
    await using ours = await startNsqd({ httpAddress: "127.0.0.1:0", logLevel: "warn" });
    const goDir = await Deno.makeTempDir({ prefix: "go_nsqd_" });
    const goNsqd = await startGoNsqd(goDir);
    const tmp = await Deno.makeTempDir({ prefix: "tools_cmp_" });
    try {
      const servers: Server[] = [
        { name: "our nsqd", tcp: ours.tcpAddress, http: ours.httpAddress },
        goNsqd.server,
      ];
      for (const s of servers) {
        const topic = uniqueName("cmp");
        await post(s.http, `topic/create?topic=${topic}`);
        for (const c of ["stat", "tail_ours", "tail_go", "file_ours", "file_go"]) {
          await post(s.http, `channel/create?topic=${topic}&channel=${c}`);
        }
        const lines = Array.from({ length: 300 }, (_, i) => `line ${i} of ${s.name}`);
        const p = new Producer(s.tcp);
        await p.multiPublish(topic, lines);
        await p.stop();

        // nsq_stat: the same table (nothing moves, so the rows are equal too).
        const statArgs = [
          `--topic=${topic}`,
          "--channel=stat",
          `--nsqd-http-address=${s.http}`,
          "--count=2",
          "--interval=100ms",
        ];
        const [statOurs, statGo] = await Promise.all([
          runToolProc("nsq_stat", statArgs),
          runToolProc("nsq_stat", statArgs, { bin: GO_BIN }),
        ]);
        assert.equal(statOurs.code, statGo.code, s.name);
        assert.equal(statOurs.stdout, statGo.stdout, `${s.name}: nsq_stat table`);

        // nsq_tail: the same lines.
        const tailArgs = (
          c: string,
        ) => [
          `--topic=${topic}`,
          `--channel=${c}`,
          `--nsqd-tcp-address=${s.tcp}`,
          "-n=300",
          "--print-topic",
        ];
        const [tailOurs, tailGo] = await Promise.all([
          runToolProc("nsq_tail", tailArgs("tail_ours")),
          runToolProc("nsq_tail", tailArgs("tail_go"), { bin: GO_BIN }),
        ]);
        assert.equal(tailOurs.code, 0);
        assert.equal(tailGo.code, 0);
        assert.equal(tailOurs.stdout, tailGo.stdout, `${s.name}: nsq_tail output`);

        // nsq_to_file: the same file names and contents (gzip: the same text once unzipped).
        for (const gzip of [false, true]) {
          const dirs = {
            ours: `${tmp}/${s.tcp.replace(":", "_")}_${gzip}_ours`,
            go: `${tmp}/${s.tcp.replace(":", "_")}_${gzip}_go`,
          };
          await Deno.mkdir(dirs.ours);
          await Deno.mkdir(dirs.go);
          const fileArgs = (who: "ours" | "go") => [
            `--topic=${topic}`,
            `--channel=file_${who}`,
            `--nsqd-tcp-address=${s.tcp}`,
            `--output-dir=${dirs[who]}`,
            "--host-identifier=cmp",
            "--sync-interval=300ms",
            ...(gzip ? ["--gzip", "--rotate-size=4000"] : []),
          ];
          await using fo = new ToolProc("nsq_to_file", fileArgs("ours"));
          await using fg = new ToolProc("nsq_to_file", fileArgs("go"), { bin: GO_BIN });
          const lineCount = async (dir: string) => {
            let n = 0;
            for (const [name, bytes] of await readFiles(dir)) {
              // Go's gzip writer streams into the file: a member may be half written.
              const text = name.endsWith(".gz")
                ? await gunzipText(bytes).catch(() => "")
                : dec.decode(bytes);
              n += text.split("\n").filter((l) => l !== "").length;
            }
            return n;
          };
          await waitFor(
            async () => await lineCount(dirs.ours) >= 300 && await lineCount(dirs.go) >= 300,
            {
              timeoutMs: 40_000,
              message: `${s.name}: nsq_to_file wrote everything`,
            },
          );
          assert.equal(await fo.stop(), 0, fo.stderr);
          assert.equal(await fg.stop(), 0, fg.stderr);
          const [a, b] = [await readFiles(dirs.ours), await readFiles(dirs.go)];
          assert.deepEqual(
            [...a.keys()].sort(),
            [...b.keys()].sort(),
            `${s.name}: file names (gzip ${gzip})`,
          );
          for (const [name, bytes] of a) {
            if (gzip) assert.equal(await gunzipText(bytes), await gunzipText(b.get(name)!), name);
            else assert.deepEqual(bytes, b.get(name), name);
          }
          if (!gzip) {
            // Give the channels the same messages again for the gzip round.
            const again = new Producer(s.tcp);
            await again.multiPublish(topic, lines);
            await again.stop();
          }
        }
      }

      // Exit codes for bad flags and failed checks.
      const cases: [string, string[]][] = [
        ["nsq_tail", ["--nope"]],
        ["nsq_tail", ["--topic=t"]],
        ["to_nsq", ["--topic=t", "--delimiter=ab"]],
        ["nsq_stat", ["--topic=t", "--channel=c"]],
        ["nsq_stat", ["--count=x"]],
        ["nsq_to_file", ["--topic=t", "--nsqd-tcp-address=127.0.0.1:1", "--gzip-level=0"]],
        ["nsq_to_http", ["--topic=t", "--nsqd-tcp-address=127.0.0.1:1", "--get=http://x/"]],
        ["nsq_to_http", ["-n=abc"]],
        ["nsq_to_nsq", ["--topic=t", "--nsqd-tcp-address=127.0.0.1:1"]],
        ["nsq_to_nsq", ["--consumer-opt=bogus,1"]],
      ];
      const results = await Promise.all(cases.flatMap(([tool, args]) => [
        runToolProc(tool, args),
        runToolProc(tool, args, { bin: GO_BIN }),
      ]));
      cases.forEach(([tool, args], i) => {
        const [o, g] = [results[2 * i], results[2 * i + 1]];
        assert.equal(o.code, g.code, `${tool} ${args.join(" ")}: ours ${o.stderr} go ${g.stderr}`);
        if (o.code === 1) {
          const strip = (t: string) =>
            t.trim().split("\n").at(-1)!.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, "");
          assert.equal(strip(o.stderr), strip(g.stderr), `${tool} ${args.join(" ")}`);
        }
      });
    } finally {
      goNsqd.child.kill("SIGTERM");
      await goNsqd.child.status;
      await (goNsqd.child as unknown as { pump: Promise<void> }).pump;
      await Deno.remove(goDir, { recursive: true });
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
