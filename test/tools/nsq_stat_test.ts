/** nsq_stat: the table layout, the row arithmetic, and a real run against our nsqd over HTTP. */
import assert from "node:assert/strict";
import { statHeader, statRow } from "../../lib/tools/nsq_stat.ts";
import type { ChannelStats } from "../../lib/tools/cluster_info.ts";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { runToolProc } from "./_tool_proc.ts";

function stats(over: Partial<ChannelStats>): ChannelStats {
  return {
    depth: 0,
    memoryDepth: 0,
    backendDepth: 0,
    inFlightCount: 0,
    deferredCount: 0,
    requeueCount: 0,
    timeoutCount: 0,
    messageCount: 0,
    clientCount: 0,
    paused: false,
    ...over,
  };
}

Deno.test("nsq_stat: header and row columns as Go prints them", () => {
  assert.equal(
    statHeader(),
    "------rate------+----------------depth----------------+--------------metadata---------------\n" +
      "ingress  egress |   total     mem    disk inflt   def |     req     t-o         msgs clients\n",
  );
  const o = stats({ messageCount: 100, depth: 50 });
  const c = stats({
    messageCount: 1100,
    depth: 150,
    memoryDepth: 100,
    backendDepth: 50,
    inFlightCount: 3,
    deferredCount: 1,
    requeueCount: 7,
    timeoutCount: 2,
    clientCount: 4,
  });
  // ingress = 1000 / 2 s; egress = (1000 - 100) / 2 s.
  assert.equal(
    statRow(c, o, 2000),
    "    500     450 |     150     100      50     3     1 |       7       2         1100       4\n",
  );
  // Rates truncate toward zero like Go's int64(float64).
  assert.equal(
    statRow(stats({ messageCount: 3 }), stats({}), 2000).slice(0, 16),
    "      1       1 ",
  );
});

Deno.test("nsq_stat: --count rows of a channel summed from /stats; bad flags exit like Go", async () => {
  await using nsqd = await startNsqd({ httpAddress: "127.0.0.1:0", logLevel: "warn" });
  const topic = uniqueName("stat");
  const base = `http://${nsqd.httpAddress}`;
  await fetch(`${base}/topic/create?topic=${topic}`, { method: "POST" }).then((r) =>
    r.body?.cancel()
  );
  await fetch(`${base}/channel/create?topic=${topic}&channel=c`, { method: "POST" }).then((r) =>
    r.body?.cancel()
  );
  for (let i = 0; i < 3; i++) {
    await fetch(`${base}/pub?topic=${topic}`, { method: "POST", body: `m${i}` }).then((r) =>
      r.body?.cancel()
    );
  }
  const [ok, missing] = await Promise.all([
    runToolProc("nsq_stat", [
      "--topic",
      topic,
      "--channel",
      "c",
      "--nsqd-http-address",
      nsqd.httpAddress,
      "--count",
      "2",
      "--interval",
      "100ms",
    ]),
    runToolProc("nsq_stat", [
      "--topic",
      topic,
      "--channel=nope",
      "--nsqd-http-address",
      nsqd.httpAddress,
    ]),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  const lines = ok.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 4, ok.stdout);
  assert.equal(lines.slice(0, 2).join("\n") + "\n", statHeader());
  for (const row of lines.slice(2)) {
    assert.equal(
      row,
      "      0       0 |       3       3       0     0     0 |       0       0            3       0",
    );
  }
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d ERROR: failed to find channel\(nope\) in stats metadata for topic\(stat_/,
  );
});
