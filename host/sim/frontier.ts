// The iso-throughput memory frontier (issue #18 item 4): for a method, the smallest DRAM budget at
// which its simulated tokens/s reaches a target, found by bisection over budgets. The simulator is
// deterministic, so each budget has one answer; the search assumes tokens/s does not fall when the
// budget grows (true for replayed traces: more DRAM places more static groups and gives every cache
// at least as many entries, and lru/lfu hit at least as often in a larger cache). Also: synthetic
// mask traces for shapes without weights (the paper's presets).
import type { ModelDims } from "./presets.js";
import { maskGroupsFor } from "./groups.js";
import { TraceBuilder, type MaskTrace } from "./trace.js";
import { keepCount, maskKeeps, type SparsitySpec } from "../sparsity.js";
import { seededRandom } from "../prng.js";

/** What a search needs from one evaluation: its throughput. */
export interface Throughput {
  tok_s: number;
}

export interface BudgetSearch<T extends Throughput> {
  /** smallest budget found that reaches the target; null when even the upper bound does not */
  budget: number | null;
  /** the evaluation at `budget` (at the upper bound when it is null) */
  at: T;
  /** budgets evaluated */
  evaluations: number;
}

/**
 * Bisection over integer budgets in [0, maxBudget]: the result reaches `target` and
 * result - tolerance does not (given tokens/s non-decreasing in the budget). `evaluate` is called
 * about log2(maxBudget / tolerance) + 2 times.
 */
export function minBudgetFor<T extends Throughput>(evaluate: (budget: number) => T, target: number, maxBudget: number, tolerance: number): BudgetSearch<T> {
  if (!(tolerance >= 1)) throw new RangeError(`tolerance must be at least 1 byte, got ${tolerance}`);
  if (!Number.isSafeInteger(maxBudget) || maxBudget < 0) throw new RangeError(`the largest budget must be a non-negative integer, got ${maxBudget}`);
  let evaluations = 0;
  const run = (budget: number): T => (evaluations++, evaluate(budget));
  let hiResult = run(maxBudget);
  if (hiResult.tok_s < target) return { budget: null, at: hiResult, evaluations };
  const loResult = run(0);
  if (loResult.tok_s >= target) return { budget: 0, at: loResult, evaluations };
  let lo = 0; // does not reach the target
  let hi = maxBudget; // reaches it
  while (hi - lo > tolerance) {
    const mid = Math.floor((lo + hi) / 2);
    const r = run(mid);
    if (r.tok_s >= target) (hi = mid), (hiResult = r);
    else lo = mid;
  }
  return { budget: hi, at: hiResult, evaluations };
}

export interface SyntheticTraceOptions {
  /** model name for reports (e.g. the preset's) */
  name?: string;
  seed?: number;
  /** tokens of the one sequence */
  tokens?: number;
  /** Zipf exponent of column popularity (0: uniform) */
  zipf?: number;
}

/**
 * Masks of the method's sizes (keepCount of maskKeeps, as the engine's top-k) drawn for a shape
 * without weights. Each (layer, group) has a fixed random popularity order with weight
 * 1 / rank^zipf; every token draws its k columns independently, without replacement, in
 * proportion to those weights (Efraimidis-Spirakis keys u^(1/w)). No correlation between
 * consecutive tokens beyond the shared popularity: a real model's masks repeat more, so its caches
 * hit more than these do.
 */
export function syntheticTrace(dims: ModelDims, spec: SparsitySpec, opts: SyntheticTraceOptions = {}): MaskTrace {
  const random = seededRandom(opts.seed ?? 1);
  const zipf = opts.zipf ?? 1;
  const tokens = opts.tokens ?? 32;
  const groups = maskGroupsFor(spec.method, dims);
  const keeps = maskKeeps(spec);
  const sizes = groups.map((g) => keepCount(g.name === "input" ? keeps.inputKeep : keeps.hiddenKeep, g.nEntries));
  const weights = Array.from({ length: dims.nLayers }, () =>
    groups.map((g) => {
      const w = new Float64Array(g.nEntries);
      const order = Array.from({ length: g.nEntries }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      order.forEach((column, rank) => (w[column] = 1 / Math.pow(rank + 1, zipf)));
      return w;
    }),
  );
  const b = new TraceBuilder({ model: opts.name, method: spec.method, sparsity: { keep: spec.keep ?? 1, zipf, seed: opts.seed ?? 1 }, dims, groups, producer: "dip frontier (synthetic)" });
  b.beginSequence(0);
  for (let t = 0; t < tokens; t++) {
    for (let l = 0; l < dims.nLayers; l++) {
      groups.forEach((g, gi) => {
        if (g.alwaysFull) return b.addMask(l, gi, "full");
        const w = weights[l][gi];
        const keys = Array.from(w, (wi, column) => ({ column, key: Math.log(random()) / wi }));
        keys.sort((x, y) => y.key - x.key);
        b.addMask(l, gi, keys.slice(0, sizes[gi]).map((k) => k.column).sort((x, y) => x - y));
      });
    }
  }
  return b.build();
}
