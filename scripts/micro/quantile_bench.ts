/**
 * Cost of recording an e2e latency sample (the FIN path) and of rendering a result (/stats).
 * Run: deno bench scripts/micro/quantile_bench.ts
 */
import { E2eLatencyStream, TargetedQuantileStream } from "../../lib/nsqd/quantile.ts";

const N = 100_000;
const latencies = new Float64Array(N);
let seed = 42;
for (let i = 0; i < N; i++) {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  latencies[i] = 1e5 + (seed % 50_000_000); // 0.1 ms .. 50 ms in ns
}

Deno.bench(
  "TargetedQuantileStream.insert x100k (3 targets)",
  { group: "insert", baseline: true },
  () => {
    const s = new TargetedQuantileStream([0.99, 0.95, 0.5]);
    for (let i = 0; i < N; i++) s.insert(latencies[i]);
  },
);

Deno.bench("E2eLatencyStream.insert x100k (explicit clock)", { group: "insert" }, () => {
  const e = new E2eLatencyStream(600_000, [0.99, 0.95, 0.5], 0);
  for (let i = 0; i < N; i++) e.insert(latencies[i], 1);
});

Deno.bench("E2eLatencyStream.insert x100k (Date.now clock)", { group: "insert" }, () => {
  const e = new E2eLatencyStream(600_000, [0.99, 0.95, 0.5]);
  for (let i = 0; i < N; i++) e.insert(latencies[i]);
});

const full = new E2eLatencyStream(600_000, [0.99, 0.95, 0.5], 0);
for (let i = 0; i < N; i++) full.insert(latencies[i], 1);
Deno.bench("E2eLatencyStream.result after 100k inserts", { group: "result" }, () => {
  full.result(2);
});

const channels = Array.from({ length: 10 }, () => {
  const e = new E2eLatencyStream(600_000, [0.99, 0.95, 0.5], 0);
  for (let i = 0; i < N / 10; i++) e.insert(latencies[i], 1);
  return e;
});
Deno.bench("E2eLatencyStream.aggregateResult over 10 channels", { group: "result" }, () => {
  E2eLatencyStream.aggregateResult(channels, 2);
});
