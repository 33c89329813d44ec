/**
 * The lifecycle every daemon (nsqd, nsqlookupd, later nsqadmin) offers to main.ts and tests,
 * shaped like `Deno.serve`: constructing does no I/O; `start()` binds and exposes real addresses;
 * `close()` is idempotent and resolves when every loop has ended.
 */
export interface Daemon extends AsyncDisposable {
  start(): Promise<void>;
  close(): Promise<void>;
  /**
   * Settles with the error of a loop that failed fatally (the service must then stop and exit
   * non-zero, as nsqd 1.2+ does). Stays pending while the daemon is healthy.
   */
  readonly failed: Promise<Error>;
}
