/**
 * End-to-end processing latency quantiles (nsq's `internal/quantile` over bmizerany/perks).
 *
 * Two layers, like Go nsqd 1.3:
 *
 * 1. {@link TargetedQuantileStream}: the CKMS "targeted quantiles" summary (Cormode, Korn,
 *    Muthukrishnan, Srivastava, "Effective Computation of Biased Quantiles over Data Streams")
 *    exactly as perks (the 2014 revision nsq 1.3 pins) computes it: every target quantile shares
 *    epsilon 0.01; inserts go to a 500-entry buffer; a full buffer is sorted, merged into the
 *    summary and the summary is compressed. Queries on a never-flushed stream read the buffer
 *    directly ("fast path"), so small data sets are exact. Merges, compressions and queries follow
 *    perks step by step (including its rank bookkeeping) so that the same inputs give the same
 *    reported values as Go; only the data layout differs (flat typed arrays and one linear merge
 *    pass instead of a slice of pointers with an insertion per sample).
 *
 * 2. {@link E2eLatencyStream}: nsq's windowed `Quantile`: two streams, each covering half of
 *    `--e2e-processing-latency-window-time`; the current one receives inserts, and every half
 *    window the other one is reset and becomes current. A query merges both. A topic's value is
 *    a fresh stream into which all of its channels' streams are merged ({@link E2eLatencyStream.aggregate}).
 *
 * Cost: an insert is an array store plus, every 500 inserts, one sort of 500 numbers and a merge
 * and compression pass over the summary (a few hundred entries). See scripts/micro/quantile_bench.ts.
 */

/** perks' default error bound, used for every target quantile. */
export const QUANTILE_EPSILON = 0.01;

/** perks' buffer capacity: inserts are batched this many at a time. */
const BUFFER_SIZE = 500;

/** A run of (value, width, delta) samples in ascending value order, as perks' `Samples`. */
export interface QuantileSamples {
  readonly values: Float64Array;
  readonly widths: Float64Array;
  readonly deltas: Float64Array;
  readonly length: number;
}

/** The `e2e_processing_latency` object of /stats (Go's `quantile.Result`). */
export interface E2eResult {
  count: number;
  percentiles: E2ePercentile[] | null;
}

/** One entry of `E2eResult.percentiles`; `value` is nanoseconds. Keys in Go's (sorted map) order. */
export interface E2ePercentile {
  quantile: number;
  value: number;
}

/** The result Go reports when no percentiles are configured or a topic has no channel streams. */
export function emptyE2eResult(): E2eResult {
  return { count: 0, percentiles: null };
}

/**
 * A CKMS targeted-quantile stream (perks `NewTargeted(quantiles...)`). Not windowed; see
 * {@link E2eLatencyStream} for that.
 */
export class TargetedQuantileStream {
  readonly quantiles: readonly number[];
  readonly #qs: Float64Array;
  /** 2 * epsilon, as perks computes it. */
  readonly #e2: number;

  // insert buffer (perks `Stream.b`): values only, every buffered sample has width 1, delta 0
  #buf = new Float64Array(BUFFER_SIZE);
  #bufLen = 0;
  #sorted = true;

  // compressed summary (perks `stream.l`), ascending by value
  #v: Float64Array;
  #w: Float64Array;
  #d: Float64Array;
  #len = 0;
  /** Total width in the summary (perks `stream.n`). */
  #n = 0;

  constructor(quantiles: readonly number[], epsilon = QUANTILE_EPSILON) {
    for (const q of quantiles) {
      if (!(q > 0 && q <= 1)) throw new RangeError(`quantile ${q} is not in (0, 1]`);
    }
    this.quantiles = [...quantiles];
    this.#qs = Float64Array.from(quantiles);
    this.#e2 = 2 * epsilon;
    // a compressed summary holds some tens of entries; grown on demand
    this.#v = new Float64Array(64);
    this.#w = new Float64Array(64);
    this.#d = new Float64Array(64);
  }

  /** Adds one observation. */
  insert(v: number): void {
    this.#buf[this.#bufLen++] = v;
    this.#sorted = false;
    if (this.#bufLen === BUFFER_SIZE) {
      this.#flush();
      this.#compress();
    }
  }

  /** Observations seen (buffered plus summarized widths), as perks `Count()`. */
  count(): number {
    return this.#bufLen + Math.trunc(this.#n);
  }

  /** Clears the stream, keeping its memory (perks `Reset`). */
  reset(): void {
    this.#bufLen = 0;
    this.#sorted = true;
    this.#len = 0;
    this.#n = 0;
  }

  /**
   * The value at quantile `q`. Only meaningful for the target quantiles. Returns 0 on an empty
   * stream, like perks.
   */
  query(q: number): number {
    if (this.#len === 0) {
      // perks fast path: nothing flushed yet, answer from the (sorted) buffer
      const l = this.#bufLen;
      if (l === 0) return 0;
      let i = Math.trunc(l * q);
      if (i > 0) i -= 1;
      this.#sortBuffer();
      return this.#buf[i];
    }
    this.#flush();
    return this.#querySummary(q);
  }

  /**
   * The stream's samples for merging elsewhere (perks `Samples`): the raw buffer while nothing has
   * been flushed, otherwise the summary after a flush and compression (which mutates this stream
   * exactly as perks does). The returned arrays are copies.
   */
  samples(): QuantileSamples {
    if (this.#len === 0) {
      const n = this.#bufLen;
      const widths = new Float64Array(n);
      widths.fill(1);
      return {
        values: this.#buf.slice(0, n),
        widths,
        deltas: new Float64Array(n),
        length: n,
      };
    }
    this.#flush();
    this.#compress();
    const n = this.#len;
    return {
      values: this.#v.slice(0, n),
      widths: this.#w.slice(0, n),
      deltas: this.#d.slice(0, n),
      length: n,
    };
  }

  /**
   * Merges samples (from another stream's {@link samples}) into the summary, as perks `Merge`:
   * the samples are sorted by value (stable, like Go's sort on these inputs) and each new entry
   * gets the delta the invariant allows at its rank. The summary is not compressed here.
   */
  merge(samples: QuantileSamples): void {
    const n = samples.length;
    if (n === 0) return;
    let values = samples.values;
    let widths = samples.widths;
    if (!isSorted(values, n)) {
      const order = Array.from({ length: n }, (_, i) => i);
      order.sort((a, b) => values[a] - values[b] || a - b);
      const sv = new Float64Array(n);
      const sw = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        sv[i] = values[order[i]];
        sw[i] = widths[order[i]];
      }
      values = sv;
      widths = sw;
    }
    this.#mergeSorted(values, widths, n);
  }

  #sortBuffer(): void {
    if (!this.#sorted) {
      this.#sorted = true;
      this.#buf.subarray(0, this.#bufLen).sort();
    }
  }

  #flush(): void {
    if (this.#bufLen === 0) return;
    this.#sortBuffer();
    this.#mergeSorted(this.#buf, null, this.#bufLen);
    this.#bufLen = 0;
  }

  /**
   * perks `stream.merge` as one linear pass: for each incoming sample, summary entries with a
   * value <= the sample's are passed (their widths accumulate into the rank r); the sample is
   * inserted before the first larger entry with delta floor(f(r)) - 1, or appended with delta 0.
   * As in perks, r counts only pre-existing entries and n grows with every inserted sample.
   */
  #mergeSorted(values: Float64Array, widths: Float64Array | null, count: number): void {
    const oldLen = this.#len;
    const oldV = this.#v;
    const oldW = this.#w;
    const oldD = this.#d;
    const total = oldLen + count;
    const { v: nv, w: nw, d: nd } = scratch(total);
    const qs = this.#qs;
    const e2 = this.#e2;
    let n = this.#n;
    let r = 0;
    let j = 0; // next pre-existing entry
    let k = 0; // output position
    for (let s = 0; s < count; s++) {
      const v = values[s];
      const w = widths === null ? 1 : widths[s];
      while (j < oldLen && oldV[j] <= v) {
        nv[k] = oldV[j];
        nw[k] = oldW[j];
        nd[k] = oldD[j];
        r += oldW[j];
        j++;
        k++;
      }
      nv[k] = v;
      nw[k] = w;
      nd[k] = j < oldLen ? Math.floor(invariant(qs, e2, n, r)) - 1 : 0;
      k++;
      n += w;
    }
    while (j < oldLen) {
      nv[k] = oldV[j];
      nw[k] = oldW[j];
      nd[k] = oldD[j];
      j++;
      k++;
    }
    this.#n = n;
    if (oldV.length < k) {
      let cap = oldV.length;
      while (cap < k) cap *= 2;
      this.#v = new Float64Array(cap);
      this.#w = new Float64Array(cap);
      this.#d = new Float64Array(cap);
    }
    this.#v.set(nv.subarray(0, k));
    this.#w.set(nw.subarray(0, k));
    this.#d.set(nd.subarray(0, k));
    this.#len = k;
  }

  /**
   * perks `stream.compress`: walking from the largest value down, an entry is folded into its
   * right neighbour x while c.width + x.width + x.delta <= f(r). Done in place, right to left.
   */
  #compress(): void {
    const len = this.#len;
    if (len < 2) return;
    const v = this.#v;
    const w = this.#w;
    const d = this.#d;
    let x = len - 1; // index of the current survivor
    const qs = this.#qs;
    const e2 = this.#e2;
    const n = this.#n;
    let r = n - 1 - w[x];
    for (let i = len - 2; i >= 0; i--) {
      const cw = w[i];
      if (cw + w[x] + d[x] <= invariant(qs, e2, n, r)) {
        w[x] += cw;
      } else {
        x--;
        v[x] = v[i];
        w[x] = cw;
        d[x] = d[i];
      }
      r -= cw;
    }
    if (x > 0) {
      v.copyWithin(0, x, len);
      w.copyWithin(0, x, len);
      d.copyWithin(0, x, len);
    }
    this.#len = len - x;
  }

  /** perks `stream.query`. */
  #querySummary(q: number): number {
    const v = this.#v;
    const w = this.#w;
    const d = this.#d;
    let t = Math.ceil(q * this.#n);
    t += Math.ceil(invariant(this.#qs, this.#e2, this.#n, t) / 2);
    let p = 0;
    let r = 0;
    for (let i = 1; i < this.#len; i++) {
      if (r + w[i] + d[i] > t) return v[p];
      r += w[p];
      p = i;
    }
    return v[p];
  }
}

/**
 * Merge output space shared by all streams: merges are synchronous and JavaScript runs one at a
 * time, so one set of arrays (as large as the largest merge so far) serves every stream, and each
 * stream keeps only its compressed summary (tens of entries) plus its 500-entry insert buffer.
 */
let scratchV = new Float64Array(1024);
let scratchW = new Float64Array(1024);
let scratchD = new Float64Array(1024);

function scratch(size: number): { v: Float64Array; w: Float64Array; d: Float64Array } {
  if (scratchV.length < size) {
    let cap = scratchV.length;
    while (cap < size) cap *= 2;
    scratchV = new Float64Array(cap);
    scratchW = new Float64Array(cap);
    scratchD = new Float64Array(cap);
  }
  return { v: scratchV, w: scratchW, d: scratchD };
}

/**
 * The CKMS targeted invariant f(r, n) (perks `NewTargeted`): the rank uncertainty allowed at rank r
 * of n for the target quantiles qs; e2 is 2 * epsilon. Same operations and order as perks, so the
 * results round identically.
 */
function invariant(qs: Float64Array, e2: number, n: number, r: number): number {
  let m = Number.MAX_VALUE;
  for (let i = 0; i < qs.length; i++) {
    const q = qs[i];
    const f = q * n <= r ? (e2 * r) / q : (e2 * (n - r)) / (1 - q);
    if (f < m) m = f;
  }
  return m;
}

function isSorted(a: Float64Array, n: number): boolean {
  for (let i = 1; i < n; i++) if (a[i - 1] > a[i]) return false;
  return true;
}

/**
 * Default clock for window rotation: wall-clock milliseconds (Go's time.Now()). Date.now() costs
 * about half of performance.now() here, and the FIN path already reads it to compute the latency
 * from the message timestamp, so callers can pass that reading as `nowMs`.
 */
function clockMs(): number {
  return Date.now();
}

/**
 * A windowed latency stream (Go nsq's `quantile.Quantile`): two {@link TargetedQuantileStream}s
 * each covering half the window, rotated lazily on insert and query. Latencies are nanoseconds.
 *
 * Times (`nowMs`) are milliseconds on one clock; the default is `Date.now()`. On the FIN path pass
 * the `Date.now()` already read to compute the latency. Use the same clock for every call on a
 * stream (tests pass explicit values).
 */
export class E2eLatencyStream {
  readonly windowMs: number;
  /** Target quantiles, in the order results are reported (nsq sorts them descending). */
  readonly percentiles: readonly number[];
  readonly #moveWindowMs: number;
  readonly #streams: [TargetedQuantileStream, TargetedQuantileStream];
  #current = 0;
  #lastMoveWindow: number;

  constructor(windowMs: number, percentiles: readonly number[], nowMs: number = clockMs()) {
    if (!(windowMs > 0)) throw new RangeError(`e2e window ${windowMs} ms must be positive`);
    this.windowMs = windowMs;
    this.percentiles = [...percentiles];
    this.#moveWindowMs = windowMs / 2;
    this.#streams = [
      new TargetedQuantileStream(this.percentiles),
      new TargetedQuantileStream(this.percentiles),
    ];
    this.#lastMoveWindow = nowMs;
  }

  /** True when percentiles are configured; otherwise inserts are ignored. */
  get enabled(): boolean {
    return this.percentiles.length > 0;
  }

  /** Records one processing latency in nanoseconds (nsq records on FIN: now - message timestamp). */
  insert(latencyNs: number, nowMs: number = clockMs()): void {
    if (this.percentiles.length === 0) return;
    if (nowMs > this.#lastMoveWindow + this.#moveWindowMs) this.#rotate(nowMs);
    this.#streams[this.#current].insert(latencyNs);
  }

  /**
   * Go's `for IsDataStale(now) { moveWindow() }` in O(1): each move flips the current stream,
   * resets the new current one and advances lastMoveWindow by half a window.
   */
  #rotate(nowMs: number): void {
    const move = this.#moveWindowMs;
    // Go moves while now > last + move: that is ceil((now - last) / move) - 1 moves (>= 1 here)
    const k = Math.max(Math.ceil((nowMs - this.#lastMoveWindow) / move) - 1, 1);
    if (k >= 2) {
      this.#streams[0].reset();
      this.#streams[1].reset();
    } else {
      this.#streams[this.#current ^ 1].reset();
    }
    if (k % 2 === 1) this.#current ^= 1;
    this.#lastMoveWindow += k * move;
  }

  #maybeRotate(nowMs: number): void {
    if (nowMs > this.#lastMoveWindow + this.#moveWindowMs) this.#rotate(nowMs);
  }

  /**
   * Merges another stream's data into this one (Go `Quantile.Merge`): current into current,
   * previous into previous; the later window start wins. `other` is rotated to `nowMs` first.
   */
  merge(other: E2eLatencyStream, nowMs: number = clockMs()): void {
    if (this.percentiles.length === 0) return;
    other.#maybeRotate(nowMs);
    let us = this.#current;
    let them = other.#current;
    this.#streams[us].merge(other.#streams[them].samples());
    us ^= 1;
    them ^= 1;
    this.#streams[us].merge(other.#streams[them].samples());
    if (this.#lastMoveWindow < other.#lastMoveWindow) this.#lastMoveWindow = other.#lastMoveWindow;
  }

  /**
   * A topic's stream: a fresh stream (same window and percentiles as the first present input)
   * into which every present channel stream is merged; null when there are none, which renders
   * as `{count: 0, percentiles: null}` just like Go (also when percentiles are configured but the
   * topic has no channels).
   */
  static aggregate(
    streams: Iterable<E2eLatencyStream | null | undefined>,
    nowMs: number = clockMs(),
  ): E2eLatencyStream | null {
    let agg: E2eLatencyStream | null = null;
    for (const s of streams) {
      if (!s || s.percentiles.length === 0) continue;
      agg ??= new E2eLatencyStream(s.windowMs, s.percentiles, nowMs);
      agg.merge(s, nowMs);
    }
    return agg;
  }

  /** {@link aggregate} rendered: the topic's `e2e_processing_latency`. */
  static aggregateResult(
    streams: Iterable<E2eLatencyStream | null | undefined>,
    nowMs: number = clockMs(),
  ): E2eResult {
    const agg = E2eLatencyStream.aggregate(streams, nowMs);
    return agg === null ? emptyE2eResult() : agg.result(nowMs);
  }

  /**
   * Count and percentile values over the current window, as Go reports them: both halves are
   * merged into a fresh stream, `count` is its observation count and each value (ns) is its query
   * at that percentile. `{count: 0, percentiles: null}` when no percentiles are configured.
   */
  result(nowMs: number = clockMs()): E2eResult {
    if (this.percentiles.length === 0) return emptyE2eResult();
    this.#maybeRotate(nowMs);
    const merged = new TargetedQuantileStream(this.percentiles);
    merged.merge(this.#streams[0].samples());
    merged.merge(this.#streams[1].samples());
    return {
      count: merged.count(),
      percentiles: this.percentiles.map((quantile) => ({
        quantile,
        value: merged.query(quantile),
      })),
    };
  }
}
