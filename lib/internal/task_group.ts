/**
 * A task group: NSQ's WaitGroupWrapper for promises.
 *
 * `spawn` tracks a promise (a loop, a connection handler) and guarantees it never becomes an
 * unhandled rejection: a rejection is passed to `onError` (which may decide to stop the daemon).
 * `wait()` resolves once every spawned task has settled, including tasks spawned while waiting.
 */
export class TaskGroup {
  #tasks = new Set<Promise<unknown>>();
  #onError: (err: unknown) => void;

  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
  }

  /** Number of tasks still running. */
  get size(): number {
    return this.#tasks.size;
  }

  spawn(task: Promise<unknown>): void {
    const tracked = task.then(
      () => {},
      (err) => this.#onError(err),
    ).finally(() => this.#tasks.delete(tracked));
    this.#tasks.add(tracked);
  }

  async wait(): Promise<void> {
    while (this.#tasks.size > 0) {
      await Promise.all(this.#tasks);
    }
  }
}
