/**
 * Fakes for the command tests: a signal source fired by hand and a daemon whose steps the test
 * controls and records.
 *
 * @module
 */
import type { SignalSource, StopSignal } from "../../lib/cli/service.ts";
import type { Daemon } from "../../lib/internal/daemon.ts";

/** A signal source the test fires by hand. */
export class FakeSignals implements SignalSource {
  handlers = new Set<(s: StopSignal) => void>();
  subscribe(handler: (s: StopSignal) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }
  fire(sig: StopSignal = "SIGTERM"): void {
    for (const h of [...this.handlers]) h(sig);
  }
}

/**
 * A daemon whose steps the test controls and records: `events` (`start`, `close`, `closed`),
 * and `<name> start` / `<name> close` in a `journal` several daemons may share. `start()` exposes
 * the `bound` addresses, then fails with `startError` when set; `close()` waits for `closeGate`
 * when set; `fail()` resolves `failed` (a crash after start).
 */
export class FakeDaemon implements Daemon {
  events: string[] = [];
  readonly failed: Promise<Error>;
  fail!: (e: Error) => void;
  started = Promise.withResolvers<void>();
  startError: Error | undefined;
  /** When set, close() waits for it. */
  closeGate: Promise<void> | undefined;
  closeCalls = 0;
  tcpAddress = "";
  httpAddress = "";

  constructor(
    readonly name = "daemon",
    readonly journal: string[] = [],
    readonly bound: { tcp: string; http: string } = { tcp: "", http: "" },
  ) {
    this.failed = new Promise((r) => this.fail = r);
  }
  async start(): Promise<void> {
    this.events.push("start");
    this.journal.push(`${this.name} start`);
    this.tcpAddress = this.bound.tcp;
    this.httpAddress = this.bound.http;
    await Promise.resolve();
    if (this.startError) throw this.startError;
    this.started.resolve();
  }
  async close(): Promise<void> {
    this.closeCalls++;
    this.events.push("close");
    this.journal.push(`${this.name} close`);
    if (this.closeGate) await this.closeGate;
    this.events.push("closed");
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
