// Causal self-attention of one token over the cached positions 0..n-1 (llama2.c run.c, "multihead
// attention"), grouped-query: query head h reads kv head h / (nHeads / nKvHeads).
//
//   score_t = (q_h . k_t) * (1 / sqrt(headDim)),   p = softmax(score),   out_h = sum_t p_t v_t
//
// Order: each score is one dot in the matvec.ts order (the SIMD dot is dotF32); out_h starts from 0
// and adds the positions one after another, t = 0, 1, ... (each add rounded on its own). The SIMD
// kernel vectorizes the dot over headDim and the weighted sum across headDim, so every element gets
// the same operations in the same order as in the scalar reference: the two are bit-identical.
// Inference (model/forward.ts) and training (train/forward.ts) both call attentionF32, so a trained
// adapter sees exactly the attention inference computes.

import { axpyF32 } from "./axpy";
import { softmax } from "./elementwise";
import { dotF32, dotF32Scalar } from "./matvec";

/**
 * SIMD: attention of every query head. q: (nHeads, headDim); keys, values: n rows of kvDim floats,
 * kv head g at floats [g * headDim, (g + 1) * headDim) of each row; out: (nHeads, headDim).
 * probs: head h's n probabilities are left at probs + h * probsStride floats (training keeps them).
 */
export function attentionF32(
  out: usize, q: usize, keys: usize, values: usize, n: i32,
  nHeads: i32, nKvHeads: i32, headDim: i32, kvDim: i32, probs: usize, probsStride: i32,
): void {
  const groupSize = nHeads / nKvHeads;
  const scale: f32 = 1.0 / Mathf.sqrt(<f32>headDim);
  for (let h = 0; h < nHeads; h++) {
    const headOff = <usize>(h * headDim) << 2;
    const kvOff = <usize>((h / groupSize) * headDim) << 2;
    attendHeadF32(out + headOff, q + headOff, keys + kvOff, values + kvOff, n, headDim, kvDim, scale, probs + (<usize>h * <usize>probsStride << 2));
  }
}

/** SIMD, one head: p_t = softmax(q . k_t * scale), out = sum_t p_t v_t; rows are rowFloats apart. */
export function attendHeadF32(out: usize, q: usize, keys: usize, values: usize, n: i32, headDim: i32, rowFloats: i32, scale: f32, p: usize): void {
  attentionScoresF32(p, q, keys, n, headDim, rowFloats, scale);
  softmax(p, n);
  weightedSumF32(out, values, p, n, headDim, rowFloats);
}

/** Scalar reference for attendHeadF32 (same order, so results are bit-identical). */
export function attendHeadF32Scalar(out: usize, q: usize, keys: usize, values: usize, n: i32, headDim: i32, rowFloats: i32, scale: f32, p: usize): void {
  attentionScoresF32Scalar(p, q, keys, n, headDim, rowFloats, scale);
  softmax(p, n);
  weightedSumF32Scalar(out, values, p, n, headDim, rowFloats);
}

/** SIMD: p_t = (q . k_t) * scale, t < n, each dot vectorized over headDim (the dotF32 order). */
export function attentionScoresF32(p: usize, q: usize, keys: usize, n: i32, headDim: i32, rowFloats: i32, scale: f32): void {
  const rowBytes = <usize>rowFloats << 2;
  for (let t = 0; t < n; t++) store<f32>(p + (<usize>t << 2), dotF32(q, keys + <usize>t * rowBytes, headDim) * scale);
}

/** Scalar reference for attentionScoresF32. */
export function attentionScoresF32Scalar(p: usize, q: usize, keys: usize, n: i32, headDim: i32, rowFloats: i32, scale: f32): void {
  const rowBytes = <usize>rowFloats << 2;
  for (let t = 0; t < n; t++) store<f32>(p + (<usize>t << 2), dotF32Scalar(q, keys + <usize>t * rowBytes, headDim) * scale);
}

/** SIMD: out = sum_t p_t v_t (headDim floats), positions added in order, vectorized across headDim. */
export function weightedSumF32(out: usize, values: usize, p: usize, n: i32, headDim: i32, rowFloats: i32): void {
  const rowBytes = <usize>rowFloats << 2;
  memory.fill(out, 0, <usize>headDim << 2);
  for (let t = 0; t < n; t++) axpyF32(out, values + <usize>t * rowBytes, load<f32>(p + (<usize>t << 2)), headDim);
}

/** Scalar reference for weightedSumF32. */
export function weightedSumF32Scalar(out: usize, values: usize, p: usize, n: i32, headDim: i32, rowFloats: i32): void {
  memory.fill(out, 0, <usize>headDim << 2);
  for (let t = 0; t < n; t++) {
    const a = load<f32>(p + (<usize>t << 2));
    const vt = values + <usize>t * (<usize>rowFloats << 2);
    for (let i = 0; i < headDim; i++) {
      const o = out + (<usize>i << 2);
      store<f32>(o, load<f32>(o) + load<f32>(vt + (<usize>i << 2)) * a);
    }
  }
}
