// Training one layer's hidden-unit predictor (Deja Vu style; docs/predictor.md) on a batch of
// dense activations the host captured:
//   z = A x (rank),  s = B z (hiddenDim),  loss = mean over samples and units of BCE(sigmoid(s), y)
// with y_i = 1 when unit i is in the dense top-k of |h| (the target the host writes). A and B are
// one parameter block [A (rank, dim) | B (hiddenDim, rank)], updated by the LoRA trainer's AdamW.
// One layer at a time: the host loads a layer's parameters, trains them, reads them back.

import { arenaAlloc } from "../arena";
import { matvecF32 } from "../kernels/matvec";
import { selectTopK } from "../kernels/topk";
import { ERR_OUT_OF_MEMORY } from "../abi";
import { adamwUpdate } from "./adamw";

let rank: i32 = 0;
let dim: i32 = 0;
let hidden: i32 = 0;
let maxBatch: i32 = 0;
let params: usize = 0; // A then B
let grads: usize = 0;
let moment1: usize = 0;
let moment2: usize = 0;
let xs: usize = 0; // (maxBatch, dim) inputs
let ys: usize = 0; // (maxBatch, hidden) targets, 0 or 1
let z: usize = 0; // (rank) A x of one sample
let s: usize = 0; // (hidden) B z of one sample, then d loss / d s
let dz: usize = 0; // (rank)
let kept: usize = 0; // (hidden) u32 top-k of s (recall)
let scratch: usize = 0; // (hidden) top-k workspace

const paramCount = (): i32 => rank * dim + hidden * rank;

/** Lays out the parameters, optimizer state and a batch of maxBatch samples. Returns 0 or -1 (out of memory). */
export function predictorTrainInit(rank_: i32, dim_: i32, hidden_: i32, maxBatch_: i32): i32 {
  rank = rank_;
  dim = dim_;
  hidden = hidden_;
  maxBatch = maxBatch_;
  const n = <usize>paramCount() * 4;
  params = arenaAlloc(n);
  grads = arenaAlloc(n);
  moment1 = arenaAlloc(n);
  moment2 = arenaAlloc(n);
  xs = arenaAlloc(<usize>maxBatch * <usize>dim * 4);
  ys = arenaAlloc(<usize>maxBatch * <usize>hidden * 4);
  z = arenaAlloc(<usize>rank * 4);
  s = arenaAlloc(<usize>hidden * 4);
  dz = arenaAlloc(<usize>rank * 4);
  kept = arenaAlloc(<usize>hidden * 4);
  scratch = arenaAlloc(<usize>hidden * 4);
  return scratch == 0 ? ERR_OUT_OF_MEMORY : 0;
}

export function predictorTrainParamsPtr(): usize { return params; }
export function predictorTrainGradsPtr(): usize { return grads; }
export function predictorTrainInputsPtr(): usize { return xs; }
export function predictorTrainTargetsPtr(): usize { return ys; }

/** Zeroes the AdamW moments (before training another layer's parameters). */
export function predictorTrainResetOptimizer(): void {
  memory.fill(moment1, 0, <usize>paramCount() * 4);
  memory.fill(moment2, 0, <usize>paramCount() * 4);
}

/** s = B (A x) for sample t of the batch. */
function scoresOf(t: i32): void {
  matvecF32(z, params, xs + <usize>t * <usize>dim * 4, rank, dim);
  matvecF32(s, params + <usize>rank * <usize>dim * 4, z, hidden, rank);
}

/**
 * Mean binary cross-entropy of the first n samples; with withGrads, also the gradient of that mean
 * into the gradient block (overwritten). BCE from the logit, stable: max(s, 0) - s y + log(1 + e^-|s|).
 */
export function predictorTrainLoss(n: i32, withGrads: bool): f64 {
  const b = params + <usize>rank * <usize>dim * 4;
  const gA = grads;
  const gB = grads + <usize>rank * <usize>dim * 4;
  if (withGrads) memory.fill(grads, 0, <usize>paramCount() * 4);
  const scale = 1.0 / (<f64>n * <f64>hidden);
  let total: f64 = 0;
  for (let t = 0; t < n; t++) {
    scoresOf(t);
    const y = ys + <usize>t * <usize>hidden * 4;
    for (let i = 0; i < hidden; i++) {
      const off = <usize>i << 2;
      const si = <f64>load<f32>(s + off);
      const yi = <f64>load<f32>(y + off);
      total += Math.max(si, 0) - si * yi + Math.log1p(Math.exp(-Math.abs(si)));
      store<f32>(s + off, <f32>((1.0 / (1.0 + Math.exp(-si)) - yi) * scale)); // d mean loss / d s_i
    }
    if (!withGrads) continue;
    // dB[i, r] += ds_i z_r;  dz_r = sum_i B[i, r] ds_i;  dA[r, j] += dz_r x_j
    memory.fill(dz, 0, <usize>rank * 4);
    for (let i = 0; i < hidden; i++) {
      const ds = load<f32>(s + (<usize>i << 2));
      const rowB = <usize>i * <usize>rank * 4;
      for (let r = 0; r < rank; r++) {
        const off = <usize>r << 2;
        store<f32>(gB + rowB + off, load<f32>(gB + rowB + off) + ds * load<f32>(z + off));
        store<f32>(dz + off, load<f32>(dz + off) + ds * load<f32>(b + rowB + off));
      }
    }
    const x = xs + <usize>t * <usize>dim * 4;
    for (let r = 0; r < rank; r++) {
      const d = load<f32>(dz + (<usize>r << 2));
      const rowA = <usize>r * <usize>dim * 4;
      for (let j = 0; j < dim; j++) {
        const off = <usize>j << 2;
        store<f32>(gA + rowA + off, load<f32>(gA + rowA + off) + d * load<f32>(x + off));
      }
    }
  }
  return total * scale;
}

/** One AdamW step on the gradient predictorTrainLoss left. */
export function predictorTrainAdamw(lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64, step: i32): void {
  adamwUpdate(params, grads, moment1, moment2, paramCount(), lr, beta1, beta2, eps, weightDecay, step, 1.0);
}

/**
 * Recall of the first n samples: the mean fraction of each sample's k target units (y = 1) that
 * the predictor's top-k scores pick. k is the sample's own count of targets.
 */
export function predictorTrainRecall(n: i32): f64 {
  let sum: f64 = 0;
  for (let t = 0; t < n; t++) {
    scoresOf(t);
    const y = ys + <usize>t * <usize>hidden * 4;
    let k = 0;
    for (let i = 0; i < hidden; i++) if (load<f32>(y + (<usize>i << 2)) != 0) k++;
    if (k == 0) {
      sum += 1;
      continue;
    }
    const m = selectTopK(s, hidden, k, kept, scratch);
    let hit = 0;
    for (let j = 0; j < m; j++) if (load<f32>(y + (<usize>load<u32>(kept + (<usize>j << 2)) << 2)) != 0) hit++;
    sum += <f64>hit / <f64>k;
  }
  return sum / <f64>n;
}
