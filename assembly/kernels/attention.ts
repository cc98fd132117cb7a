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
// adapter sees exactly the attention inference computes; its gradient (train/backward.ts) is
// attentionBackwardF32 below, built from the same kernels.

import { axpyF32, axpyF32Scalar } from "./axpy";
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
  const scale = scaleOf(headDim);
  for (let h = 0; h < nHeads; h++) {
    const headOff = <usize>(h * headDim) << 2;
    const kvOff = kvHeadOffset(h, nHeads, nKvHeads, headDim);
    attendHeadF32(out + headOff, q + headOff, keys + kvOff, values + kvOff, n, headDim, kvDim, scale, probs + (<usize>h * <usize>probsStride << 2));
  }
}

/**
 * SIMD: the gradient of attentionF32 given dOut (nHeads, headDim) and the probabilities it left:
 * dq = (nHeads, headDim) is written, dKeys and dValues (n rows of kvDim floats, like keys and
 * values) are accumulated into. dP: n floats of scratch.
 */
export function attentionBackwardF32(
  dq: usize, dKeys: usize, dValues: usize, dOut: usize, q: usize, keys: usize, values: usize, n: i32,
  nHeads: i32, nKvHeads: i32, headDim: i32, kvDim: i32, probs: usize, probsStride: i32, dP: usize,
): void {
  const scale = scaleOf(headDim);
  for (let h = 0; h < nHeads; h++) {
    const headOff = <usize>(h * headDim) << 2;
    const kvOff = kvHeadOffset(h, nHeads, nKvHeads, headDim);
    const p = probs + (<usize>h * <usize>probsStride << 2);
    attendHeadBackwardF32(dq + headOff, dKeys + kvOff, dValues + kvOff, dOut + headOff, q + headOff, keys + kvOff, values + kvOff, n, headDim, kvDim, scale, p, dP);
  }
}

/** 1 / sqrt(headDim), in f32. */
// @ts-ignore: decorator
@inline function scaleOf(headDim: i32): f32 {
  return 1.0 / Mathf.sqrt(<f32>headDim);
}

/** Byte offset in a kv row of the kv head query head h reads (grouped-query attention). */
// @ts-ignore: decorator
@inline function kvHeadOffset(h: i32, nHeads: i32, nKvHeads: i32, headDim: i32): usize {
  return <usize>((h / (nHeads / nKvHeads)) * headDim) << 2;
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

/**
 * SIMD, one head's gradient (out = sum_t p_t v_t, p = softmax(q . k_t * scale)):
 *   dp_t = dOut . v_t,   dv_t += p_t dOut,   ds_t = p_t (dp_t - sum_t' p_t' dp_t') * scale,
 *   dq = sum_t ds_t k_t,   dk_t += ds_t q.
 * dP (n floats) ends holding ds.
 */
export function attendHeadBackwardF32(
  dq: usize, dKeys: usize, dValues: usize, dOut: usize, q: usize, keys: usize, values: usize,
  n: i32, headDim: i32, rowFloats: i32, scale: f32, p: usize, dP: usize,
): void {
  attentionScoresF32(dP, dOut, values, n, headDim, rowFloats, 1.0); // * 1 is exact
  rowsAddScaledF32(dValues, dOut, p, n, headDim, rowFloats);
  scoresBackward(dP, p, n, scale);
  weightedSumF32(dq, keys, dP, n, headDim, rowFloats);
  rowsAddScaledF32(dKeys, q, dP, n, headDim, rowFloats);
}

/** Scalar reference for attendHeadBackwardF32. */
export function attendHeadBackwardF32Scalar(
  dq: usize, dKeys: usize, dValues: usize, dOut: usize, q: usize, keys: usize, values: usize,
  n: i32, headDim: i32, rowFloats: i32, scale: f32, p: usize, dP: usize,
): void {
  attentionScoresF32Scalar(dP, dOut, values, n, headDim, rowFloats, 1.0);
  rowsAddScaledF32Scalar(dValues, dOut, p, n, headDim, rowFloats);
  scoresBackward(dP, p, n, scale);
  weightedSumF32Scalar(dq, keys, dP, n, headDim, rowFloats);
  rowsAddScaledF32Scalar(dKeys, q, dP, n, headDim, rowFloats);
}

/** The softmax's and the scale's gradient, in place: dP_t = p_t (dP_t - sum_t' p_t' dP_t') * scale. */
// @ts-ignore: decorator
@inline function scoresBackward(dP: usize, p: usize, n: i32, scale: f32): void {
  let dotPdP: f32 = 0;
  for (let t = 0; t < n; t++) dotPdP += load<f32>(p + (<usize>t << 2)) * load<f32>(dP + (<usize>t << 2));
  for (let t = 0; t < n; t++) {
    const off = <usize>t << 2;
    store<f32>(dP + off, load<f32>(p + off) * (load<f32>(dP + off) - dotPdP) * scale);
  }
}

/** SIMD: row t of rows (rowFloats apart) += c_t x, t < n, over headDim floats. */
export function rowsAddScaledF32(rows: usize, x: usize, c: usize, n: i32, headDim: i32, rowFloats: i32): void {
  const rowBytes = <usize>rowFloats << 2;
  for (let t = 0; t < n; t++) axpyF32(rows + <usize>t * rowBytes, x, load<f32>(c + (<usize>t << 2)), headDim);
}

/** Scalar reference for rowsAddScaledF32. */
export function rowsAddScaledF32Scalar(rows: usize, x: usize, c: usize, n: i32, headDim: i32, rowFloats: i32): void {
  const rowBytes = <usize>rowFloats << 2;
  for (let t = 0; t < n; t++) axpyF32Scalar(rows + <usize>t * rowBytes, x, load<f32>(c + (<usize>t << 2)), headDim);
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
  const rowBytes = <usize>rowFloats << 2;
  memory.fill(out, 0, <usize>headDim << 2);
  for (let t = 0; t < n; t++) axpyF32Scalar(out, values + <usize>t * rowBytes, load<f32>(p + (<usize>t << 2)), headDim);
}
