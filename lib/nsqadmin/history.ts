/**
 * Beyond Go nsqadmin: rate and depth history kept by nsqadmin itself, so charts show without
 * graphite. A sampler loop reads every nsqd's `/stats` (without clients) each `interval` and
 * appends one point per topic and per channel (summed over nodes) to a ring bounded by
 * `window / interval` points; series not seen for a whole window are dropped. Rates are the
 * message_count delta between neighbouring points divided by their time gap (a counter reset,
 * e.g. an nsqd restart, gives no rate for that gap).
 */

/** One sample: time (ms since epoch), summed depth, summed message_count, in-flight (channels). */
export interface HistoryPoint {
  t: number;
  depth: number;
  count: number;
  inFlight: number;
}

/** A series key: `topic` or `topic/channel` ('/' cannot occur in NSQ names). */
export function seriesKey(topic: string, channel = ""): string {
  return channel === "" ? topic : `${topic}/${channel}`;
}

/** The bounded per-topic / per-channel history. */
export class History {
  readonly #series = new Map<string, HistoryPoint[]>();
  #capacity: number;
  #window: number;

  constructor(window: number, interval: number) {
    this.#window = window;
    this.#capacity = Math.max(2, Math.ceil(window / interval) + 1);
  }

  /** Points kept per series. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Appends one point to `key`'s ring. */
  record(key: string, p: HistoryPoint): void {
    let s = this.#series.get(key);
    if (s === undefined) {
      s = [];
      this.#series.set(key, s);
    }
    s.push(p);
    if (s.length > this.#capacity) s.splice(0, s.length - this.#capacity);
  }

  /** Drops series whose newest point is older than the window. */
  prune(now: number): void {
    for (const [k, s] of this.#series) {
      if (s.length === 0 || now - s[s.length - 1].t > this.#window) this.#series.delete(k);
    }
  }

  /** The points of `key`, oldest first (empty when unknown). */
  points(key: string): readonly HistoryPoint[] {
    return this.#series.get(key) ?? [];
  }

  /** Messages per second between neighbouring points (one fewer than the points). */
  rates(key: string): { t: number; rate: number }[] {
    const s = this.points(key);
    const out: { t: number; rate: number }[] = [];
    for (let i = 1; i < s.length; i++) {
      const dt = (s[i].t - s[i - 1].t) / 1000;
      const dc = s[i].count - s[i - 1].count;
      out.push({ t: s[i].t, rate: dt > 0 && dc >= 0 ? dc / dt : 0 });
    }
    return out;
  }

  /** The latest rate of `key` in messages/s, or undefined with fewer than two points. */
  lastRate(key: string): number | undefined {
    const r = this.rates(key);
    return r.length === 0 ? undefined : r[r.length - 1].rate;
  }

  /** Number of series held. */
  get size(): number {
    return this.#series.size;
  }
}
