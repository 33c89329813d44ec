import assert from "node:assert/strict";
import { runService } from "../../lib/cli/service.ts";
import { Logger } from "../../lib/internal/log.ts";
import { FakeDaemon, FakeSignals } from "./_fakes.ts";

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger("[test] ", "debug", (l) => lines.push(l)), lines };
}

Deno.test("runService: start, SIGTERM, graceful close, exit 0, listeners removed", async () => {
  const signals = new FakeSignals();
  const daemon = new FakeDaemon();
  const { logger, lines } = capture();
  const code = runService(daemon, { name: "nsqd", logger, signals });
  await daemon.started.promise;
  assert.equal(signals.handlers.size, 1);
  signals.fire("SIGTERM");
  assert.equal(await code, 0);
  assert.deepEqual(daemon.events, ["start", "close", "closed"]);
  assert.equal(signals.handlers.size, 0);
  assert.ok(lines.some((l) => l.includes("INFO: nsqd: received SIGTERM, shutting down")));
});

Deno.test("runService: SIGINT behaves the same", async () => {
  const signals = new FakeSignals();
  const daemon = new FakeDaemon();
  const { logger } = capture();
  const code = runService(daemon, { name: "nsqd", logger, signals });
  await daemon.started.promise;
  signals.fire("SIGINT");
  assert.equal(await code, 0);
  assert.equal(daemon.closeCalls, 1);
});

Deno.test("runService: a second signal during close forces exit 1", async () => {
  const signals = new FakeSignals();
  const daemon = new FakeDaemon();
  const gate = Promise.withResolvers<void>();
  daemon.closeGate = gate.promise;
  const { logger, lines } = capture();
  const code = runService(daemon, { name: "nsqd", logger, signals, duplicateSignalMs: 0 });
  await daemon.started.promise;
  signals.fire("SIGTERM");
  await Promise.resolve();
  signals.fire("SIGINT");
  assert.equal(await code, 1);
  assert.deepEqual(daemon.events, ["start", "close"]);
  assert.ok(lines.some((l) => l.includes("received SIGINT again, forcing exit")));
  assert.equal(signals.handlers.size, 0);
  gate.resolve(); // let the abandoned close finish
});

Deno.test("runService: a repeat of the signal right after the first (process group + task runner) is not a second signal", async () => {
  const signals = new FakeSignals();
  const daemon = new FakeDaemon();
  const gate = Promise.withResolvers<void>();
  daemon.closeGate = gate.promise;
  const { logger, lines } = capture();
  const code = runService(daemon, { name: "nsqd", logger, signals, duplicateSignalMs: 60_000 });
  await daemon.started.promise;
  signals.fire("SIGINT");
  await Promise.resolve();
  signals.fire("SIGINT");
  gate.resolve();
  assert.equal(await code, 0);
  assert.deepEqual(daemon.events, ["start", "close", "closed"]);
  assert.ok(!lines.some((l) => l.includes("forcing exit")));
});

Deno.test("runService: daemon.failed → fatal log, close, exit 1", async () => {
  const signals = new FakeSignals();
  const daemon = new FakeDaemon();
  const { logger, lines } = capture();
  const code = runService(daemon, { name: "nsqd", logger, signals });
  await daemon.started.promise;
  daemon.fail(new Error("TCP listener died"));
  assert.equal(await code, 1);
  assert.deepEqual(daemon.events, ["start", "close", "closed"]);
  assert.ok(lines.some((l) => l.includes("FATAL: nsqd: TCP listener died")));
  assert.equal(signals.handlers.size, 0);
});

Deno.test("runService: a start failure is logged, the daemon closed, exit 1", async () => {
  const signals = new FakeSignals();
  const daemon = new FakeDaemon();
  daemon.startError = new Error("listen tcp 127.0.0.1:1: address in use");
  const { logger, lines } = capture();
  assert.equal(await runService(daemon, { name: "nsqd", logger, signals }), 1);
  assert.deepEqual(daemon.events, ["start", "close", "closed"]);
  assert.ok(lines.some((l) => l.includes("FATAL: nsqd: failed to start - listen tcp")));
  assert.equal(signals.handlers.size, 0);
});

Deno.test("runService: a signal during start stops right after start", async () => {
  const signals = new FakeSignals();
  const daemon = new FakeDaemon();
  const { logger } = capture();
  const code = runService(daemon, { name: "nsqd", logger, signals });
  signals.fire("SIGTERM"); // start() has not resolved yet
  assert.equal(await code, 0);
  assert.deepEqual(daemon.events, ["start", "close", "closed"]);
});

Deno.test("runService: a close error exits 1", async () => {
  const signals = new FakeSignals();
  const daemon = new FakeDaemon();
  daemon.closeGate = Promise.reject(new Error("fsync failed"));
  daemon.closeGate.catch(() => {});
  const { logger, lines } = capture();
  const code = runService(daemon, { name: "nsqd", logger, signals });
  await daemon.started.promise;
  signals.fire();
  assert.equal(await code, 1);
  assert.ok(lines.some((l) => l.includes("ERROR: nsqd: error while closing - fsync failed")));
});
