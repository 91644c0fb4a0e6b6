/**
 * Measurement helpers shared by the benchmarks. The machine is shared and noisy, so nothing
 * here yields an absolute verdict: every figure is a ratio of a subject to a baseline measured
 * in the same run, in interleaved rounds (A B, B A, A B, ...), and the median of the per-round
 * ratios is reported with its spread.
 */

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of nothing");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Linear-interpolated quantile, q in [0, 1]. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error("quantile of nothing");
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** "q1–q3": the middle half of the values, a spread that one preempted round cannot stretch. */
export function middleHalf(values: readonly number[]): string {
  return `${quantile(values, 0.25).toFixed(2)}–${quantile(values, 0.75).toFixed(2)}`;
}

/**
 * Runs `rounds` rounds in which every phase runs once, in an order rotated by one each round,
 * so that drift (thermal, neighbours, GC debt) favours no phase. Each phase returns one metric
 * (e.g. operations per second); ratios are then taken within a round, between phases that ran
 * back to back.
 */
export async function rotate<K extends string>(
  rounds: number,
  phases: Record<K, () => Promise<number> | number>,
): Promise<Record<K, number[]>> {
  const names = Object.keys(phases) as K[];
  const out = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!;
      out[name].push(await phases[name]());
    }
  }
  return out;
}

/** Per-round ratios a[i] / b[i]. */
export function ratios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((value, i) => value / b[i]!);
}

export interface Paired {
  /** Milliseconds of each baseline operation. */
  baseline: number[];
  /** Milliseconds of each subject operation. */
  subject: number[];
  /** median(subject) / median(baseline) over all pairs. */
  ratio: number;
  /** The same ratio per block of consecutive pairs, to show the spread. */
  blockRatios: number[];
}

/**
 * For latencies of single operations: alternates one baseline and one subject operation (order
 * flipped every pair) `pairs` times, so both sides see the same moments of the machine's noise,
 * then compares the medians. Finer-grained than phases, hence steadier when a neighbour's fsync
 * storm comes and goes within a second.
 */
export async function paired(
  pairs: number,
  baseline: () => Promise<unknown>,
  subject: () => Promise<unknown>,
  blocks = 8,
): Promise<Paired> {
  const b: number[] = [];
  const s: number[] = [];
  const time = async (fn: () => Promise<unknown>, into: number[]) => {
    const start = performance.now();
    await fn();
    into.push(performance.now() - start);
  };
  for (let i = 0; i < pairs; i++) {
    if (i % 2 === 0) {
      await time(baseline, b);
      await time(subject, s);
    } else {
      await time(subject, s);
      await time(baseline, b);
    }
  }
  const size = Math.max(1, Math.floor(pairs / blocks));
  const blockRatios: number[] = [];
  for (let start = 0; start + size <= pairs; start += size) {
    blockRatios.push(median(s.slice(start, start + size)) / median(b.slice(start, start + size)));
  }
  return { baseline: b, subject: s, ratio: median(s) / median(b), blockRatios };
}

/** "1.02× (middle half of 8 blocks of 150 pairs 0.97–1.08)" */
export function pairedSummary(result: Paired): string {
  const r = result.blockRatios;
  return `${ratio(result.ratio)} (middle half of ${r.length} blocks of ${Math.floor(result.subject.length / r.length)} pairs ${middleHalf(r)})`;
}

/** Times `iterations` synchronous calls; returns nanoseconds per call. */
export function timeSync(iterations: number, fn: () => unknown): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink(fn());
  return Number(process.hrtime.bigint() - start) / iterations;
}

/** Where timed results go, so the optimiser cannot drop the work that made them. */
export const sinkHole: { last: unknown } = { last: undefined };
function sink(value: unknown): void {
  sinkHole.last = value;
}

/** Iterations such that one timed batch of `fn` lasts about `targetMs`. */
export function calibrate(fn: () => unknown, targetMs: number): number {
  let n = 16;
  for (;;) {
    const ns = timeSync(n, fn) * n;
    if (ns >= (targetMs * 1e6) / 4 || n >= 1 << 24)
      return Math.max(16, Math.round((n * targetMs * 1e6) / ns));
    n *= 4;
  }
}

export function ratio(value: number): string {
  return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}×`;
}

/** "1.02× (middle half of 9 rounds 0.97–1.08)" */
export function ratioWithSpread(ratios: readonly number[]): string {
  return `${ratio(median(ratios))} (middle half of ${ratios.length} rounds ${middleHalf(ratios)})`;
}

export function fixed(value: number, digits = 0): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** One headline figure of a suite, gathered into the summary printed at the end. */
export interface Headline {
  suite: string;
  what: string;
  ratio: number;
  /** How to read the ratio, e.g. "≈1 expected". */
  note: string;
}

export function line(text = ""): void {
  process.stdout.write(`${text}\n`);
}
