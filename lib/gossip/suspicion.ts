/**
 * Lifeguard's suspicion timer (hashicorp/memberlist suspicion.go). A suspected node is declared
 * dead after a timeout that starts at `max` and shrinks toward `min` as independent peers confirm
 * the suspicion: timeout = max - (max - min) * log(c + 1) / log(k + 1) after c of the k expected
 * confirmations. With k < 1 (small clusters) the timeout is simply `min`.
 */
export class Suspicion {
  #n = 0;
  readonly #k: number;
  readonly #min: number;
  readonly #max: number;
  readonly #start = performance.now();
  readonly #seen = new Set<string>();
  #timer: ReturnType<typeof setTimeout>;
  readonly #fire: (confirmations: number) => void;

  constructor(from: string, k: number, min: number, max: number, fire: (n: number) => void) {
    this.#k = k;
    this.#min = min;
    this.#max = max;
    this.#fire = fire;
    this.#seen.add(from);
    const timeout = k < 1 ? min : max;
    this.#timer = setTimeout(() => this.#fire(this.#n), timeout);
  }

  static remaining(n: number, k: number, elapsed: number, min: number, max: number): number {
    const frac = Math.log(n + 1) / Math.log(k + 1);
    const raw = max - frac * (max - min);
    return Math.max(min, Math.floor(raw)) - elapsed;
  }

  /** Counts a confirmation from a new peer; true if it was new (and should be re-gossiped). */
  confirm(from: string): boolean {
    if (this.#n >= this.#k || this.#seen.has(from)) return false;
    this.#seen.add(from);
    this.#n++;
    const left = Suspicion.remaining(
      this.#n,
      this.#k,
      performance.now() - this.#start,
      this.#min,
      this.#max,
    );
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#fire(this.#n), Math.max(0, left));
    return true;
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
