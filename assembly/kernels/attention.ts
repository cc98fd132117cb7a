// Causal self-attention of one token over the cached positions 0..n-1 (llama2.c run.c, "multihead
// attention"), grouped-query: query head h reads kv head h / (nHeads / nKvHeads).
//
//   score_t = (q_h . k_t) * (1 / sqrt(headDim)),   p = softmax(score),   out_h = sum_t p_t v_t
//
// Order: each score is one dot in the matvec.ts order (the SIMD dot is dotF32); out_h starts from 0
// and adds the positions one after another, t = 0, 1, ... (each add rounded on its own). The SIMD
// kernel vectorizes the dot over headDim (eight positions per pass) and the weighted sum across
// headDim (eight positions per pass); two query heads that share a kv head go through both
// together (each key and value vector loaded once for both). Every
// element gets the same operations in the same order as in the scalar reference: the two are
// bit-identical.
// Inference (model/forward.ts) and training (train/forward.ts) both call attentionF32, so a trained
// adapter sees exactly the attention inference computes; its gradient (train/backward.ts) is
// attentionBackwardF32 below, built from the same kernels.

import { axpy4F32, axpy8F32, axpyF32, axpyF32Scalar } from "./axpy";
import { madd } from "./madd";
import { matmatRowsF32 } from "./matmat";
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
  attentionHeadsF32(out, q, keys, values, n, nHeads, nKvHeads, headDim, kvDim, probs, probsStride, 0, nHeads);
}

/**
 * Query heads [from, to) of attentionF32. A head's numbers depend only on its own q, its kv head
 * and its own probabilities and output, so heads split across threads (the threads build,
 * assembly/threads/) give the same bits as all heads on one.
 */
export function attentionHeadsF32(
  out: usize, q: usize, keys: usize, values: usize, n: i32,
  nHeads: i32, nKvHeads: i32, headDim: i32, kvDim: i32, probs: usize, probsStride: i32, from: i32, to: i32,
): void {
  const scale = scaleOf(headDim);
  const group = nHeads / nKvHeads; // query heads per kv head
  const rowBytes = <usize>kvDim << 2;
  // the heads take turns over each block of positions, so a block of keys (then of values) is
  // read from memory once, in order, and from L1 by the other heads (the ones sharing its kv head
  // read the same floats); every score and every output element gets the same operations in the
  // same order as one head at a time
  // two query heads of one kv head go together where they can (pairs within [from, to)): each
  // key or value vector loaded then serves both
  const pairs = (headDim & 3) == 0 && group > 1;
  // the bytes of each kv row these heads read: their kv heads, side by side
  const spanFrom = <usize>((from / group) * headDim) << 2;
  const spanBytes = (<usize>(((to - 1) / group + 1) * headDim) << 2) - spanFrom;
  touchRows(keys + spanFrom, min(ATTENTION_BLOCK, n), rowBytes, spanBytes);
  for (let t = 0; t < n; t += ATTENTION_BLOCK) {
    const len = min(ATTENTION_BLOCK, n - t);
    const tBytes = <usize>t << 2;
    const next = t + ATTENTION_BLOCK;
    if (next < n) touchRows(keys + spanFrom + <usize>next * rowBytes, min(ATTENTION_BLOCK, n - next), rowBytes, spanBytes);
    for (let h = from; h < to; ) {
      const kvOff = <usize>((h / group) * headDim) << 2;
      const p = probs + (<usize>h * <usize>probsStride << 2) + tBytes;
      const qh = q + (<usize>(h * headDim) << 2);
      if (pairs && h + 1 < to && (h + 1) % group != 0) {
        attentionScoresPairF32(p, probsStride, qh, keys + kvOff + <usize>t * rowBytes, len, headDim, kvDim, scale);
        h += 2;
      } else {
        attentionScoresF32(p, qh, keys + kvOff + <usize>t * rowBytes, len, headDim, kvDim, scale);
        h++;
      }
    }
  }
  touchRows(values + spanFrom, min(ATTENTION_BLOCK, n), rowBytes, spanBytes);
  for (let h = from; h < to; h++) {
    softmax(probs + (<usize>h * <usize>probsStride << 2), n);
    memory.fill(out + (<usize>(h * headDim) << 2), 0, <usize>headDim << 2);
  }
  for (let t = 0; t < n; t += ATTENTION_BLOCK) {
    const len = min(ATTENTION_BLOCK, n - t);
    const tBytes = <usize>t << 2;
    const next = t + ATTENTION_BLOCK;
    if (next < n) touchRows(values + spanFrom + <usize>next * rowBytes, min(ATTENTION_BLOCK, n - next), rowBytes, spanBytes);
    for (let h = from; h < to; ) {
      const kvOff = <usize>((h / group) * headDim) << 2;
      const p = probs + (<usize>h * <usize>probsStride << 2) + tBytes;
      const outH = out + (<usize>(h * headDim) << 2);
      if (pairs && h + 1 < to && (h + 1) % group != 0) {
        addWeightedRowsPairF32(outH, outH + (<usize>headDim << 2), values + kvOff + <usize>t * rowBytes, p, p + (<usize>probsStride << 2), len, headDim, kvDim);
        h += 2;
      } else {
        addWeightedRowsF32(outH, values + kvOff + <usize>t * rowBytes, p, len, headDim, kvDim);
        h++;
      }
    }
  }
}

/** Written by touchRows so that its loads are not optimized away; never read. */
let touchSink: u32 = 0;

/**
 * One load in every 64 bytes of the first spanBytes of n rows (rowBytes apart): the next block of
 * keys or values, touched before the heads work through this one. Decode reads the KV cache from
 * memory (the weights pass through the caches between layers), and the blocks' short strided rows
 * start no prefetch stream early enough: touched a block ahead, the attention of Qwen2.5-0.5B at
 * 2048 cold positions took 6.6-6.8 ms a token instead of 8.4-8.7 (bench/README.md, issue #16).
 * The loaded values are not used: the results are unchanged. Inlined here, by asc: as a function
 * of its own, called from four places, headless Chromium (V8 15.6, which inlines wasm calls on its
 * own) ran q8 decode of that shape at 0.77x in four runs of four (not with its inlining off).
 */
// @ts-ignore: decorator
@inline function touchRows(rows: usize, n: i32, rowBytes: usize, spanBytes: usize): void {
  let t: u32 = 0;
  if (spanBytes == rowBytes) { // whole rows: one run of memory
    const end = rows + <usize>n * rowBytes;
    for (let at = rows; at < end; at += 64) t ^= load<u32>(at);
    touchSink ^= t ^ load<u32>(end - 4);
    return;
  }
  for (let r = 0; r < n; r++) {
    const row = rows + <usize>r * rowBytes;
    for (let at: usize = 0; at < spanBytes; at += 64) t ^= load<u32>(row + at);
    t ^= load<u32>(row + spanBytes - 4);
  }
  touchSink ^= t;
}

/** Positions per block in attentionF32: 64 rows of keys or values (32 KiB on Qwen2.5-0.5B's 2 x 64-float kv heads; 16 KiB a kv head) stay in L1 while the heads take turns. A multiple of 8, so blocks keep weightedSumF32's groups of eight. */
const ATTENTION_BLOCK: i32 = 64;

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

/**
 * SIMD: p_t = (q . k_t) * scale, t < n, each dot vectorized over headDim in the dotF32 order.
 * Eight keys per pass share each load of q (eight independent accumulators hide the adds'
 * latency); their lane sums come out four to a vector (hsum4), scaled and stored together. A
 * headDim that is not a multiple of 4 takes four keys per pass with dotF32's scalar tail.
 */
export function attentionScoresF32(p: usize, q: usize, keys: usize, n: i32, headDim: i32, rowFloats: i32, scale: f32): void {
  const rowBytes = <usize>rowFloats << 2;
  const d4 = headDim & ~3;
  let t = 0;
  if (d4 == headDim) {
    const scale4 = f32x4.splat(scale);
    for (; t + 8 <= n; t += 8) {
      const k0 = keys + <usize>t * rowBytes;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
      for (let i = 0; i < d4; i += 4) {
        const off = <usize>i << 2;
        const qv = v128.load(q + off);
        const k = k0 + off;
        a0 = madd(a0, qv, v128.load(k));
        a1 = madd(a1, qv, v128.load(k + rowBytes));
        a2 = madd(a2, qv, v128.load(k + 2 * rowBytes));
        a3 = madd(a3, qv, v128.load(k + 3 * rowBytes));
        a4 = madd(a4, qv, v128.load(k + 4 * rowBytes));
        a5 = madd(a5, qv, v128.load(k + 5 * rowBytes));
        a6 = madd(a6, qv, v128.load(k + 6 * rowBytes));
        a7 = madd(a7, qv, v128.load(k + 7 * rowBytes));
      }
      const pt = p + (<usize>t << 2);
      v128.store(pt, f32x4.mul(hsum4(a0, a1, a2, a3), scale4));
      v128.store(pt, f32x4.mul(hsum4(a4, a5, a6, a7), scale4), 16);
    }
  }
  for (; t + 4 <= n; t += 4) {
    const k0 = keys + <usize>t * rowBytes;
    const k1 = k0 + rowBytes;
    const k2 = k1 + rowBytes;
    const k3 = k2 + rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let i = 0; i < d4; i += 4) {
      const off = <usize>i << 2;
      const qv = v128.load(q + off);
      a0 = madd(a0, qv, v128.load(k0 + off));
      a1 = madd(a1, qv, v128.load(k1 + off));
      a2 = madd(a2, qv, v128.load(k2 + off));
      a3 = madd(a3, qv, v128.load(k3 + off));
    }
    const pt = p + (<usize>t << 2);
    store<f32>(pt, dotTail(hsum(a0), q, k0, d4, headDim) * scale);
    store<f32>(pt, dotTail(hsum(a1), q, k1, d4, headDim) * scale, 4);
    store<f32>(pt, dotTail(hsum(a2), q, k2, d4, headDim) * scale, 8);
    store<f32>(pt, dotTail(hsum(a3), q, k3, d4, headDim) * scale, 12);
  }
  for (; t < n; t++) store<f32>(p + (<usize>t << 2), dotF32(q, keys + <usize>t * rowBytes, headDim) * scale);
}

/**
 * SIMD, two query heads of one kv head: pA_t = (qA . k_t) * scale and pB_t = (qB . k_t) * scale.
 * The dots are matmat.ts's four-rows-by-two-tokens product (the keys as rows, the two queries as
 * the tokens): each key vector loaded once serves both heads, six loads for eight multiply-adds
 * against nine for one head's eight keys (1.4x as fast over 2048 cached positions,
 * bench/README.md, issue #16). Its dots sum in the dotF32 order and the scale multiplies each one
 * after, as in attentionScoresF32: the same bits.
 */
function attentionScoresPairF32(pA: usize, probsStride: i32, qA: usize, keys: usize, n: i32, headDim: i32, rowFloats: i32, scale: f32): void {
  matmatRowsF32(pA, keys, qA, n, headDim, <usize>rowFloats << 2, 2, probsStride, headDim);
  const pB = pA + (<usize>probsStride << 2);
  const n4 = n & ~3;
  const scale4 = f32x4.splat(scale);
  for (let t = 0; t < n4; t += 4) {
    const off = <usize>t << 2;
    v128.store(pA + off, f32x4.mul(v128.load(pA + off), scale4));
    v128.store(pB + off, f32x4.mul(v128.load(pB + off), scale4));
  }
  for (let t = n4; t < n; t++) {
    const off = <usize>t << 2;
    store<f32>(pA + off, load<f32>(pA + off) * scale);
    store<f32>(pB + off, load<f32>(pB + off) * scale);
  }
}

/** [hsum(a), hsum(b), hsum(c), hsum(d)]: each (x0 + x1) + (x2 + x3), the same adds as hsum, by transposing shuffles. */
// @ts-ignore: decorator
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 2, 4, 6), v128.shuffle<f32>(a, b, 1, 3, 5, 7)); // a0+a1, a2+a3, b0+b1, b2+b3
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 2, 4, 6), v128.shuffle<f32>(c, d, 1, 3, 5, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 2, 4, 6), v128.shuffle<f32>(ab, cd, 1, 3, 5, 7));
}

/** matvec.ts's lane sum and tail: (a0 + a1) + (a2 + a3), then the tail in order. */
// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// @ts-ignore: decorator
@inline function dotTail(acc: f32, a: usize, b: usize, from: i32, n: i32): f32 {
  for (let i = from; i < n; i++) acc += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return acc;
}

/** Scalar reference for attentionScoresF32. */
export function attentionScoresF32Scalar(p: usize, q: usize, keys: usize, n: i32, headDim: i32, rowFloats: i32, scale: f32): void {
  const rowBytes = <usize>rowFloats << 2;
  for (let t = 0; t < n; t++) store<f32>(p + (<usize>t << 2), dotF32Scalar(q, keys + <usize>t * rowBytes, headDim) * scale);
}

/**
 * SIMD: out = sum_t p_t v_t (headDim floats), positions added in order, vectorized across headDim;
 * eight (then four, then one) positions per pass, so out is loaded and stored once per eight
 * value rows (axpy.ts: the grouping does not change any bit).
 */
export function weightedSumF32(out: usize, values: usize, p: usize, n: i32, headDim: i32, rowFloats: i32): void {
  memory.fill(out, 0, <usize>headDim << 2);
  addWeightedRowsF32(out, values, p, n, headDim, rowFloats);
}

/** SIMD: out += sum_t p_t v_t, positions added in order (weightedSumF32 without the zeroing: blocks of positions add up to the whole sum bit for bit when each block but the last has a multiple of 8). */
// @ts-ignore: decorator
@inline function addWeightedRowsF32(out: usize, values: usize, p: usize, n: i32, headDim: i32, rowFloats: i32): void {
  const rowBytes = <usize>rowFloats << 2;
  let t = 0;
  for (; t + 8 <= n; t += 8) {
    const v0 = values + <usize>t * rowBytes;
    const pt = p + (<usize>t << 2);
    axpy8F32(
      out, v0, v0 + rowBytes, v0 + 2 * rowBytes, v0 + 3 * rowBytes, v0 + 4 * rowBytes, v0 + 5 * rowBytes, v0 + 6 * rowBytes, v0 + 7 * rowBytes,
      load<f32>(pt), load<f32>(pt, 4), load<f32>(pt, 8), load<f32>(pt, 12), load<f32>(pt, 16), load<f32>(pt, 20), load<f32>(pt, 24), load<f32>(pt, 28),
      headDim,
    );
  }
  for (; t + 4 <= n; t += 4) {
    const v0 = values + <usize>t * rowBytes;
    const pt = p + (<usize>t << 2);
    axpy4F32(out, v0, v0 + rowBytes, v0 + 2 * rowBytes, v0 + 3 * rowBytes, load<f32>(pt), load<f32>(pt, 4), load<f32>(pt, 8), load<f32>(pt, 12), headDim);
  }
  for (; t < n; t++) axpyF32(out, values + <usize>t * rowBytes, load<f32>(p + (<usize>t << 2)), headDim);
}

/**
 * SIMD, two query heads of one kv head (headDim a multiple of 4): outA += sum_t pA_t v_t and
 * outB += sum_t pB_t v_t. Sixteen outputs of each head stay in registers while all n positions go
 * by (then four at a time for a headDim that is not a multiple of 16), each value vector loaded
 * once for both heads: six loads a position for eight multiply-adds, and no loads or stores of out
 * inside the loop. Over 2048 positions of Qwen2.5-0.5B's values this ran 1.5x as fast as one head
 * at a time with out loaded and stored every eight positions (bench/README.md, issue #16). Each
 * head adds its positions in order, as addWeightedRowsF32 does, so the bits are the same.
 */
function addWeightedRowsPairF32(outA: usize, outB: usize, values: usize, pA: usize, pB: usize, n: i32, headDim: i32, rowFloats: i32): void {
  const rowBytes = <usize>rowFloats << 2;
  const pEnd = pA + (<usize>n << 2);
  let o = 0;
  for (; o + 16 <= headDim; o += 16) {
    const oa = outA + (<usize>o << 2);
    const ob = outB + (<usize>o << 2);
    let a0 = v128.load(oa), a1 = v128.load(oa, 16), a2 = v128.load(oa, 32), a3 = v128.load(oa, 48);
    let b0 = v128.load(ob), b1 = v128.load(ob, 16), b2 = v128.load(ob, 32), b3 = v128.load(ob, 48);
    let v = values + (<usize>o << 2);
    for (let ta = pA, tb = pB; ta < pEnd; ta += 4, tb += 4, v += rowBytes) {
      const sa = v128.load32_splat(ta);
      const sb = v128.load32_splat(tb);
      const x0 = v128.load(v), x1 = v128.load(v, 16), x2 = v128.load(v, 32), x3 = v128.load(v, 48);
      a0 = madd(a0, x0, sa);
      b0 = madd(b0, x0, sb);
      a1 = madd(a1, x1, sa);
      b1 = madd(b1, x1, sb);
      a2 = madd(a2, x2, sa);
      b2 = madd(b2, x2, sb);
      a3 = madd(a3, x3, sa);
      b3 = madd(b3, x3, sb);
    }
    v128.store(oa, a0);
    v128.store(oa, a1, 16);
    v128.store(oa, a2, 32);
    v128.store(oa, a3, 48);
    v128.store(ob, b0);
    v128.store(ob, b1, 16);
    v128.store(ob, b2, 32);
    v128.store(ob, b3, 48);
  }
  for (; o < headDim; o += 4) {
    const oa = outA + (<usize>o << 2);
    const ob = outB + (<usize>o << 2);
    let a = v128.load(oa);
    let b = v128.load(ob);
    let v = values + (<usize>o << 2);
    for (let ta = pA, tb = pB; ta < pEnd; ta += 4, tb += 4, v += rowBytes) {
      const x = v128.load(v);
      a = madd(a, x, v128.load32_splat(ta));
      b = madd(b, x, v128.load32_splat(tb));
    }
    v128.store(oa, a);
    v128.store(ob, b);
  }
}

/** Scalar reference for weightedSumF32. */
export function weightedSumF32Scalar(out: usize, values: usize, p: usize, n: i32, headDim: i32, rowFloats: i32): void {
  const rowBytes = <usize>rowFloats << 2;
  memory.fill(out, 0, <usize>headDim << 2);
  for (let t = 0; t < n; t++) axpyF32Scalar(out, values + <usize>t * rowBytes, load<f32>(p + (<usize>t << 2)), headDim);
}
