/**
 * Running a daemon as a service (what judwhite/go-svc does for Go nsqd):
 * start → wait for SIGINT / SIGTERM → close gracefully → exit 0.
 *
 * - A start failure is logged at fatal level; whatever did start is closed; exit 1.
 * - If `daemon.failed` settles (a loop died), its reason is logged at fatal level, the daemon is
 *   closed, exit 1 (nsqd 1.2+ exits when a listener fails).
 * - A second signal while closing (more than DUPLICATE_SIGNAL_MS after the first) forces exit 1
 *   without waiting for `close()`.
 * Signal listeners are removed before returning. SIGUSR1 is never touched.
 */
import type { Daemon } from "../internal/daemon.ts";
import type { Logger } from "../internal/log.ts";

/** The signals a service stops on. */
export type StopSignal = "SIGINT" | "SIGTERM";

/** Where stop signals come from: the OS in production, a fake in tests. */
export interface SignalSource {
  /** Calls `handler` on every stop signal until the returned function is called. */
  subscribe(handler: (signal: StopSignal) => void): () => void;
}

/** SIGINT and SIGTERM of this process, via `Deno.addSignalListener`. */
export function osSignals(signals: readonly StopSignal[] = ["SIGINT", "SIGTERM"]): SignalSource {
  return {
    subscribe(handler) {
      const listeners = signals.map((sig) => {
        const fn = () => handler(sig);
        Deno.addSignalListener(sig, fn);
        return [sig, fn] as const;
      });
      return () => {
        for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
      };
    },
  };
}

export interface ServiceOptions {
  /** Names the daemon in log lines (`nsqd`). */
  readonly name: string;
  readonly logger: Logger;
  /** Defaults to osSignals(). */
  readonly signals?: SignalSource;
  /** Repeats of the first stop signal within this many ms are ignored (default 1000). */
  readonly duplicateSignalMs?: number;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A second stop signal this soon after the first is taken as a duplicate delivery. */
export const DUPLICATE_SIGNAL_MS = 1000;

/**
 * Starts `daemon`, waits for a stop signal or a fatal failure, closes it, and resolves with the
 * process exit code (0 after a clean signal-initiated stop, 1 otherwise). The caller exits.
 */
export async function runService(daemon: Daemon, options: ServiceOptions): Promise<number> {
  const { name, logger } = options;
  const source = options.signals ?? osSignals();

  // Every signal resolves the next waiter: the first asks for a stop, the second forces it.
  let signalCount = 0;
  let onSignal: (() => void) | undefined;
  let nextSignal = new Promise<void>((r) => onSignal = r);
  let firstSignalAt = 0;
  const window = options.duplicateSignalMs ?? DUPLICATE_SIGNAL_MS;
  const unsubscribe = source.subscribe((sig) => {
    // One Ctrl-C (or `timeout`'s SIGTERM) often arrives twice: to the whole process group and
    // again forwarded by a wrapper such as `deno task`. A repeat within DUPLICATE_SIGNAL_MS is
    // the same request, not the "second signal" that forces an exit.
    const now = performance.now();
    if (signalCount === 1 && now - firstSignalAt < window) {
      logger.debug(`${name}: received ${sig} again within ${window}ms, ignored`);
      return;
    }
    if (signalCount === 0) firstSignalAt = now;
    signalCount++;
    logger.info(
      signalCount === 1
        ? `${name}: received ${sig}, shutting down`
        : `${name}: received ${sig} again, forcing exit`,
    );
    const resolve = onSignal;
    nextSignal = new Promise<void>((r) => onSignal = r);
    resolve?.();
  });

  try {
    // A signal during start() also stops the service (after start settles).
    try {
      await daemon.start();
    } catch (e) {
      logger.fatal(`${name}: failed to start - ${errorText(e)}`);
      await closeOrForce(daemon, () => nextSignal, logger, name);
      return 1;
    }

    let code = 0;
    if (signalCount === 0) {
      const failed = daemon.failed.then(
        (err) => ({ kind: "failed" as const, err }),
        (err) => ({ kind: "failed" as const, err }),
      );
      const outcome = await Promise.race([
        nextSignal.then(() => ({ kind: "signal" as const, err: undefined })),
        failed,
      ]);
      if (outcome.kind === "failed") {
        logger.fatal(`${name}: ${errorText(outcome.err)}`);
        code = 1;
      }
    }
    const clean = await closeOrForce(daemon, () => nextSignal, logger, name);
    return clean ? code : 1;
  } finally {
    unsubscribe();
  }
}

/** Closes the daemon unless the next signal arrives first; false when forced or close failed. */
async function closeOrForce(
  daemon: Daemon,
  nextSignal: () => Promise<void>,
  logger: Logger,
  name: string,
): Promise<boolean> {
  const closed = daemon.close().then(
    () => true,
    (e) => {
      logger.error(`${name}: error while closing - ${errorText(e)}`);
      return false;
    },
  );
  return await Promise.race([closed, nextSignal().then(() => false)]);
}
