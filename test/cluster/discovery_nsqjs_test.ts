/**
 * Discovery with a real third-party client: an npm:nsqjs Reader that knows only the two
 * nsqlookupd HTTP addresses finds all three nsqd processes through `/lookup` and consumes what
 * was published to each of them.
 */
import assert from "node:assert/strict";
import nsq from "nsqjs";
import { Cluster, expectProducers, keyOf, pollUntil, publish, withLogs } from "../_util/procs.ts";

const PER_NSQD = 20;

Deno.test({
  name: "nsqjs Reader given only lookupdHTTPAddresses consumes from every nsqd",
  async fn() {
    await using cluster = new Cluster();
    await withLogs(cluster, async () => {
      const lookupds = await cluster.startLookupds(2);
      const nsqds = await cluster.startNsqds(3);
      const topic = `nsqjs_${Date.now().toString(36)}`;

      const want: string[] = [];
      await Promise.all(nsqds.map((n, i) => {
        const bodies = Array.from({ length: PER_NSQD }, (_, k) => `nsqd${i}-${k}`);
        want.push(...bodies);
        return publish(n, topic, bodies);
      }));
      // Both lookupds know all three producers before the Reader asks either of them.
      await expectProducers(lookupds, topic, nsqds);

      const lookupLine = new RegExp(`GET /lookup\\?topic=${topic}`);
      const before = lookupds.map((l) => l.count(lookupLine));
      const reader = new nsq.Reader(topic, "discovery", {
        lookupdHTTPAddresses: lookupds.map((l) => l.httpAddress!),
        lookupdPollInterval: 1, // seconds: the smallest nsqjs accepts
        maxInFlight: 10,
      });
      const got = new Set<string>();
      const connected = new Set<string>();
      let open = 0;
      const errors: unknown[] = [];
      reader.on("error", (err: unknown) => errors.push(err));
      reader.on("nsqd_connected", (host: string, port: number) => {
        connected.add(`${host}:${port}`);
        open++;
      });
      reader.on("nsqd_closed", () => open--);
      reader.on("message", (msg: { body: Uint8Array; finish(): void }) => {
        got.add(new TextDecoder().decode(msg.body));
        msg.finish();
      });
      reader.connect();
      try {
        await pollUntil(
          () => got.size === want.length,
          () =>
            `received ${got.size}/${want.length}; connected to ${[...connected]}; errors ${errors}`,
          15_000,
        );
        assert.deepEqual([...got].sort(), [...want].sort());
        assert.deepEqual([...connected].sort(), nsqds.map(keyOf).sort());
        assert.deepEqual(errors, []);
        // nsqjs asks one lookupd per poll, round robin: within two polls it has used both.
        await pollUntil(
          () => lookupds.every((l, i) => l.count(lookupLine) > before[i]),
          () => "the Reader did not query both lookupds",
          5000,
        );
      } finally {
        reader.close();
        await pollUntil(() => open === 0, () => `${open} nsqd connections still open`);
      }
    });
  },
});
