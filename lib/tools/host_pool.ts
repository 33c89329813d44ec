/**
 * Destination choice for nsq_to_http and nsq_to_nsq, as bitly/go-hostpool's standard pool and
 * bitly/timer_metrics do it for nsq's tools.
 *
 * HostPool: round-robin over the hosts not marked dead; a failed host is dead for 30 s, then
 * offered again once (each further failure doubles its wait, up to 15 min); a success revives
 * it; when every host is dead, all are revived.
 *
 * TimerMetrics: keeps the last `statusEvery` durations and, every `statusEvery` of them, logs
 * `<prefix> finished N - 99th: Xms - 95th: Yms - avg: Zms`.
 *
 * @module
 */

const INITIAL_RETRY_MS = 30_000;
const MAX_RETRY_MS = 900_000;

interface HostEntry {
  host: string;
  dead: boolean;
  nextRetry: number;
  retryDelay: number;
}

export class HostPool {
  readonly #hosts: HostEntry[];
  #next = 0;
  readonly #now: () => number;

  constructor(hosts: readonly string[], now: () => number = Date.now) {
    this.#hosts = hosts.map((host) => ({ host, dead: false, nextRetry: 0, retryDelay: 0 }));
    this.#now = now;
  }

  /** The next host to use. */
  get(): string {
    const now = this.#now();
    const n = this.#hosts.length;
    for (let i = 0; i < n; i++) {
      const idx = (i + this.#next) % n;
      const h = this.#hosts[idx];
      if (!h.dead) {
        this.#next = idx + 1;
        return h.host;
      }
      if (h.nextRetry < now) {
        h.retryDelay = Math.min(h.retryDelay * 2, MAX_RETRY_MS);
        h.nextRetry = now + h.retryDelay;
        this.#next = idx + 1;
        return h.host;
      }
    }
    for (const h of this.#hosts) h.dead = false;
    this.#next = 0;
    return this.#hosts[0].host;
  }

  /** Records the outcome of a request to `host` (an error marks it dead). */
  mark(host: string, failed: boolean): void {
    const h = this.#hosts.find((e) => e.host === host);
    if (h === undefined) return;
    if (!failed) {
      h.dead = false;
      return;
    }
    if (!h.dead) {
      h.dead = true;
      h.retryDelay = INITIAL_RETRY_MS;
      h.nextRetry = this.#now() + h.retryDelay;
    }
  }
}

function percentile(perc: number, sorted: number[]): number {
  if (sorted.length === 0) return 0;
  let idx = Math.ceil((perc / 100) * sorted.length + 0.5);
  if (idx >= sorted.length) idx = sorted.length - 1;
  return sorted[idx];
}

export class TimerMetrics {
  readonly #every: number;
  readonly #prefix: string;
  readonly #log: (line: string) => void;
  readonly #timings: number[] = [];
  #position = 0;

  constructor(statusEvery: number, prefix: string, log: (message: string) => void) {
    this.#every = statusEvery;
    this.#prefix = prefix;
    this.#log = log;
    if (statusEvery > 0 && statusEvery < 100) {
      log(
        `Warning: use more than 100 status values for accurate percentiles (configured with ${statusEvery})`,
      );
    }
  }

  /** Records the time since `startMs` (performance.now()). */
  status(startMs: number): void {
    if (this.#every === 0) return;
    this.statusDuration(performance.now() - startMs);
  }

  statusDuration(ms: number): void {
    if (this.#every === 0) return;
    this.#position++;
    let looped = false;
    if (this.#position > this.#every) {
      looped = true;
      this.#position = 1;
    }
    if (this.#position > this.#timings.length) this.#timings.push(ms);
    else this.#timings[this.#position - 1] = ms;
    if (!looped) return;
    this.#log(this.statsLine());
  }

  /** The status line for the kept durations. */
  statsLine(): string {
    const sorted = [...this.#timings].sort((a, b) => a - b);
    const total = this.#timings.reduce((a, b) => a + b, 0);
    const avg = sorted.length > 0 ? total / sorted.length : 0;
    return `${this.#prefix} finished ${sorted.length} - 99th: ${
      percentile(99, sorted).toFixed(2)
    }ms - 95th: ${percentile(95, sorted).toFixed(2)}ms - avg: ${avg.toFixed(2)}ms`;
  }
}
