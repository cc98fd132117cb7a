// Matrix-matrix products for prompt processing (prefill): a block of nTok token vectors goes
// through one weight matrix, so each weight is read from memory once per block instead of once per
// token (the rest of the block reads it from the CPU caches).
//
// Every output of token b sums in exactly the order of the one-token kernel it stands for
// (matvecF32, gatherColumnsF32, matvecQ8, gatherColumnsQ8), so a prompt run in blocks gives the
// same bits as the prompt fed token by token; the tests demand bit equality against both the
// one-token kernels and the scalar references here.
//
// Token b's vector is at x + b * xStride floats, its output at out + b * outStride floats.

import { madd } from "./madd";
import { axpy4F32, axpyF32 } from "./axpy";
import { addInPlace } from "./elementwise";
import { gatherColumnsF32Scalar, gatherHalf, gatherOrder } from "./gather";
import { dotF32, dotF32Scalar } from "./matvec";
import { gatherPlanBytesQ8, gatherPlanQ8, gatherSweepQ8, matvecQ8Quantized, q8BlockAt, q8Blocks, quantizeXQ8 } from "./q8";
import { DTYPE_Q2_K, DTYPE_Q3_K, DTYPE_Q4_0, DTYPE_Q4_1, DTYPE_Q4_K, DTYPE_Q5_0, DTYPE_Q5_1, DTYPE_Q5_K, DTYPE_Q6_K, Q8_TILE_BYTES } from "../abi";
import { blockSums, gatherPlanBytesQ4, gatherPlanQ4, gatherSweepQ4_0, matvecQ4_0Quantized, matvecQ4_1Quantized, matvecQ5_0Quantized, matvecQ5_1Quantized, q4_0RowBytes, q4_1RowBytes, q5_0RowBytes, q5_1RowBytes } from "./q4";
import { matvecQ2_KQuantized, matvecQ3_KQuantized, q2_KRowBytes, q3_KRowBytes, gatherSweepQ4_K, matvecQ4_KQuantized, matvecQ5_KQuantized, matvecQ6_KQuantized, q4_KRowBytes, q5_KRowBytes, q6_KRowBytes } from "./kquants";

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** acc + sum of w[i] * x[i] over the tail i in [from, cols), in order (matvec.ts's dotTail). */
// @ts-ignore: decorator
@inline function dotTail(acc: f32, w: usize, x: usize, from: i32, cols: i32): f32 {
  for (let i = from; i < cols; i++) acc += load<f32>(w + (<usize>i << 2)) * load<f32>(x + (<usize>i << 2));
  return acc;
}

/**
 * SIMD: out_b[r] = dot(W[r, :], x_b) for a row-major [rows x cols] f32 matrix, b < nTok. Four rows
 * by two tokens per pass (eight accumulators: each weight load feeds two tokens, each x load four
 * rows); the four rows stay in L1 while every token pair of the block passes over them.
 */
export function matmatF32(out: usize, w: usize, x: usize, rows: i32, cols: i32, nTok: i32, outStride: i32, xStride: i32): void {
  matmatRowsF32(out, w, x, rows, cols, <usize>cols << 2, nTok, outStride, xStride);
}

/**
 * matmatF32 on rows rowBytes apart (a matrix with rows cols wide, or a slice of wider rows: the
 * attention's scores take two query heads against a block of keys this way, kernels/attention.ts).
 */
// @ts-ignore: decorator
@inline export function matmatRowsF32(out: usize, w: usize, x: usize, rows: i32, cols: i32, rowBytes: usize, nTok: i32, outStride: i32, xStride: i32): void {
  const cols4 = cols & ~3;
  const xs = <usize>xStride << 2;
  const os = <usize>outStride << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const w0 = w + <usize>r * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    let b = 0;
    for (; b + 2 <= nTok; b += 2) {
      const x0 = x + <usize>b * xs;
      const x1 = x0 + xs;
      let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
      let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
      for (let i = 0; i < cols4; i += 4) {
        const off = <usize>i << 2;
        const xv0 = v128.load(x0 + off);
        const xv1 = v128.load(x1 + off);
        const v0 = v128.load(w0 + off);
        a00 = madd(a00, v0, xv0);
        a10 = madd(a10, v0, xv1);
        const v1 = v128.load(w1 + off);
        a01 = madd(a01, v1, xv0);
        a11 = madd(a11, v1, xv1);
        const v2 = v128.load(w2 + off);
        a02 = madd(a02, v2, xv0);
        a12 = madd(a12, v2, xv1);
        const v3 = v128.load(w3 + off);
        a03 = madd(a03, v3, xv0);
        a13 = madd(a13, v3, xv1);
      }
      const o0 = out + <usize>b * os + (<usize>r << 2);
      const o1 = o0 + os;
      store<f32>(o0, dotTail(hsum(a00), w0, x0, cols4, cols));
      store<f32>(o0, dotTail(hsum(a01), w1, x0, cols4, cols), 4);
      store<f32>(o0, dotTail(hsum(a02), w2, x0, cols4, cols), 8);
      store<f32>(o0, dotTail(hsum(a03), w3, x0, cols4, cols), 12);
      store<f32>(o1, dotTail(hsum(a10), w0, x1, cols4, cols));
      store<f32>(o1, dotTail(hsum(a11), w1, x1, cols4, cols), 4);
      store<f32>(o1, dotTail(hsum(a12), w2, x1, cols4, cols), 8);
      store<f32>(o1, dotTail(hsum(a13), w3, x1, cols4, cols), 12);
    }
    if (b < nTok) {
      const xb = x + <usize>b * xs;
      const o = out + <usize>b * os + (<usize>r << 2);
      store<f32>(o, dotF32(w0, xb, cols));
      store<f32>(o, dotF32(w1, xb, cols), 4);
      store<f32>(o, dotF32(w2, xb, cols), 8);
      store<f32>(o, dotF32(w3, xb, cols), 12);
    }
  }
  for (; r < rows; r++) {
    const wr = w + <usize>r * rowBytes;
    for (let b = 0; b < nTok; b++) store<f32>(out + <usize>b * os + (<usize>r << 2), dotF32(wr, x + <usize>b * xs, cols));
  }
}

/** Scalar reference for matmatF32 (each output is dotF32Scalar, the one-token reference). */
export function matmatF32Scalar(out: usize, w: usize, x: usize, rows: i32, cols: i32, nTok: i32, outStride: i32, xStride: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let b = 0; b < nTok; b++) {
    const xb = x + (<usize>b * <usize>xStride << 2);
    const ob = out + (<usize>b * <usize>outStride << 2);
    for (let r = 0; r < rows; r++) store<f32>(ob + (<usize>r << 2), dotF32Scalar(w + <usize>r * rowBytes, xb, cols));
  }
}

/**
 * SIMD: out_b = sum over kept inputs j of x_b[j] * WT[j, :] for an input-major [nIn x nOut] f32
 * matrix (gather.ts's product, b < nTok), in gather.ts's order: its list (gatherOrder) cut at
 * gatherHalf(nKept), each part summed as a run, then added. The threads build runs the two parts'
 * output ranges on its threads (model/linear.ts) with the same three steps.
 */
export function gatherColumnsBatchF32(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32, nTok: i32, outStride: i32, xStride: i32): void {
  const second = gatherBatchScratchF32(nKept, nOut, nTok);
  const list = gatherOrder(second + gatherBatchSecondBytes(nOut, nTok), idx, nKept, nOut);
  const h = gatherHalf(nKept);
  gatherRunBatchF32(out, wT, x, list, h, nOut, nTok, outStride, xStride, 0, nOut);
  gatherRunBatchF32(second, wT, x, list + (<usize>h << 2), nKept - h, nOut, nTok, nOut, xStride, 0, nOut);
  addBatchParts(out, second, nOut, nTok, outStride);
}

/** Bytes of the second part's sums: nTok * nOut floats, token b's at b * nOut. */
// @ts-ignore: decorator
@inline export function gatherBatchSecondBytes(nOut: i32, nTok: i32): usize {
  return <usize>nTok * <usize>nOut << 2;
}

/** The batch gather's scratch: the second part's sums (gatherBatchSecondBytes), then room for the list (nKept u32s). */
export function gatherBatchScratchF32(nKept: i32, nOut: i32, nTok: i32): usize {
  return batchScratchOf(gatherBatchSecondBytes(nOut, nTok) + (<usize>nKept << 2));
}

/** out_b += second_b for every token: the two parts' sums added, as gather.ts does for one token. */
export function addBatchParts(out: usize, second: usize, nOut: i32, nTok: i32, outStride: i32): void {
  for (let b = 0; b < nTok; b++) addInPlace(out + (<usize>b * <usize>outStride << 2), second + (<usize>b * <usize>nOut << 2), nOut);
}

/**
 * One run (gather.ts's gatherRunF32) for a block of tokens, outputs [from, to) of nOut: the kept
 * columns added one after another in idx order from 0. Four kept columns per pass, then one;
 * within a pass two tokens at a time share each weight load (axpy.ts: the grouping does not change
 * any bit). The four columns' slices stay in L1/L2 while the block passes. Every output gets the
 * same adds whatever the range (from a multiple of 4), so a run split by outputs across threads is
 * bit-identical to the whole run.
 */
export function gatherRunBatchF32(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32, nTok: i32, outStride: i32, xStride: i32, from: i32, to: i32): void {
  const colBytes = <usize>nOut << 2;
  const xs = <usize>xStride << 2;
  const os = <usize>outStride << 2;
  out += <usize>from << 2;
  wT += <usize>from << 2;
  nOut = to - from;
  const sliceBytes = <usize>nOut << 2;
  for (let b = 0; b < nTok; b++) memory.fill(out + <usize>b * os, 0, sliceBytes);
  const n4 = nOut & ~3;
  let k = 0;
  for (; k + 4 <= nKept; k += 4) {
    const ik = idx + (<usize>k << 2);
    const j0 = <usize>load<u32>(ik), j1 = <usize>load<u32>(ik, 4), j2 = <usize>load<u32>(ik, 8), j3 = <usize>load<u32>(ik, 12);
    const c0 = wT + j0 * colBytes, c1 = wT + j1 * colBytes, c2 = wT + j2 * colBytes, c3 = wT + j3 * colBytes;
    let b = 0;
    for (; b + 2 <= nTok; b += 2) {
      const xa = x + <usize>b * xs;
      const xb = xa + xs;
      const oa = out + <usize>b * os;
      const ob = oa + os;
      const sa0 = load<f32>(xa + (j0 << 2)), sa1 = load<f32>(xa + (j1 << 2)), sa2 = load<f32>(xa + (j2 << 2)), sa3 = load<f32>(xa + (j3 << 2));
      const sb0 = load<f32>(xb + (j0 << 2)), sb1 = load<f32>(xb + (j1 << 2)), sb2 = load<f32>(xb + (j2 << 2)), sb3 = load<f32>(xb + (j3 << 2));
      const va0 = f32x4.splat(sa0), va1 = f32x4.splat(sa1), va2 = f32x4.splat(sa2), va3 = f32x4.splat(sa3);
      const vb0 = f32x4.splat(sb0), vb1 = f32x4.splat(sb1), vb2 = f32x4.splat(sb2), vb3 = f32x4.splat(sb3);
      for (let o = 0; o < n4; o += 4) {
        const off = <usize>o << 2;
        let accA = v128.load(oa + off);
        let accB = v128.load(ob + off);
        const w0 = v128.load(c0 + off);
        accA = madd(accA, w0, va0);
        accB = madd(accB, w0, vb0);
        const w1 = v128.load(c1 + off);
        accA = madd(accA, w1, va1);
        accB = madd(accB, w1, vb1);
        const w2 = v128.load(c2 + off);
        accA = madd(accA, w2, va2);
        accB = madd(accB, w2, vb2);
        const w3 = v128.load(c3 + off);
        accA = madd(accA, w3, va3);
        accB = madd(accB, w3, vb3);
        v128.store(oa + off, accA);
        v128.store(ob + off, accB);
      }
      for (let o = n4; o < nOut; o++) {
        const off = <usize>o << 2;
        store<f32>(oa + off, (((load<f32>(oa + off) + load<f32>(c0 + off) * sa0) + load<f32>(c1 + off) * sa1) + load<f32>(c2 + off) * sa2) + load<f32>(c3 + off) * sa3);
        store<f32>(ob + off, (((load<f32>(ob + off) + load<f32>(c0 + off) * sb0) + load<f32>(c1 + off) * sb1) + load<f32>(c2 + off) * sb2) + load<f32>(c3 + off) * sb3);
      }
    }
    if (b < nTok) {
      const xa = x + <usize>b * xs;
      axpy4F32(out + <usize>b * os, c0, c1, c2, c3, load<f32>(xa + (j0 << 2)), load<f32>(xa + (j1 << 2)), load<f32>(xa + (j2 << 2)), load<f32>(xa + (j3 << 2)), nOut);
    }
  }
  for (; k < nKept; k++) {
    const j = <usize>load<u32>(idx + (<usize>k << 2));
    const c = wT + j * colBytes;
    for (let b = 0; b < nTok; b++) axpyF32(out + <usize>b * os, c, load<f32>(x + <usize>b * xs + (j << 2)), nOut);
  }
}

/** Scalar reference for gatherColumnsBatchF32: per token, gather.ts's scalar reference. */
export function gatherColumnsBatchF32Scalar(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32, nTok: i32, outStride: i32, xStride: i32): void {
  const second = batchScratchOf(<usize>(nOut + nKept) << 2); // gather.ts's scratch: a part, then the list
  for (let b = 0; b < nTok; b++) {
    gatherColumnsF32Scalar(out + (<usize>b * <usize>outStride << 2), wT, x + (<usize>b * <usize>xStride << 2), idx, nKept, nOut, second);
  }
}

// ---- q8 ----
// The q8 kernels' own scratch (the quantized x, a gather's plan) holds one token; the batch keeps
// a copy per token here, then runs the one-token kernels' inner parts over a cache-sized piece of
// the matrix for every token before moving on. Same quantization, same order: bit-identical.

let batchScratch: usize = 0;
let batchScratchBytes: usize = 0;

function batchScratchOf(bytes: usize): usize {
  if (bytes > batchScratchBytes) {
    if (batchScratch) heap.free(batchScratch);
    batchScratchBytes = (bytes + 4095) & ~(<usize>4095);
    batchScratch = heap.alloc(batchScratchBytes);
  }
  return batchScratch;
}

/** Bytes of weights a q8 batch pass keeps hot while every token of the block goes over them. */
const Q8_PIECE_BYTES: usize = 128 << 10;

/** q8 matvecQ8 for a block of tokens: rows in pieces of whole tile rows, every token per piece. */
export function matmatQ8(out: usize, w: usize, x: usize, rows: i32, cols: i32, nTok: i32, outStride: i32, xStride: i32): void {
  matmatQ8Quantized(out, w, quantizeBatchQ8(x, cols, nTok, xStride), cols, nTok, outStride, 0, rows);
}

/** Bytes of one token's quantized x in quantizeBatchQ8's copy: quantizeXQ8's i16 quants, then f32 scales. */
// @ts-ignore: decorator
@inline function q8XBytes(cols: i32): usize {
  const nb = <usize>q8Blocks(cols);
  return (nb << 6) + (nb << 2);
}

/** Every token's x quantized as matvecQ8 does it (quantizeXQ8), token b's at b * q8XBytes(cols); returns the copy. */
export function quantizeBatchQ8(x: usize, cols: i32, nTok: i32, xStride: i32): usize {
  const xqBytes = q8XBytes(cols);
  const xq = batchScratchOf(<usize>nTok * xqBytes);
  for (let b = 0; b < nTok; b++) memory.copy(xq + <usize>b * xqBytes, quantizeXQ8(x + (<usize>b * <usize>xStride << 2), cols), xqBytes);
  return xq;
}

/**
 * Rows [from, to) of matmatQ8 on the quantized block (quantizeBatchQ8), from a multiple of 8 (whole
 * tile rows): each row's result depends only on its own tiles, so a split is bit-identical.
 */
export function matmatQ8Quantized(out: usize, w: usize, xq: usize, cols: i32, nTok: i32, outStride: i32, from: i32, to: i32): void {
  const nb = q8Blocks(cols);
  const xqBytes = q8XBytes(cols);
  const tileRowBytes = <usize>nb * <usize>Q8_TILE_BYTES;
  // at least 4 tile rows per piece: matvecQ8Quantized reads a piece as 4 streams
  const pieceRows = <i32>max<usize>(4, Q8_PIECE_BYTES / tileRowBytes) << 3;
  for (let r = from; r < to; r += pieceRows) {
    const n = min(pieceRows, to - r);
    const wp = q8BlockAt(w, nb, r, 0);
    for (let b = 0; b < nTok; b++) {
      matvecQ8Quantized(out + ((<usize>b * <usize>outStride + <usize>r) << 2), wp, xq + <usize>b * xqBytes, n, cols);
    }
  }
}

/** q8 gatherColumnsQ8 for a block of tokens: outputs in pieces (multiples of 16), every token per piece. */
export function gatherColumnsBatchQ8(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32, nTok: i32, outStride: i32, xStride: i32): void {
  gatherSweepBatchQ8(out, gatherPlansBatchQ8(wT, x, idx, nKept, nIn, nOut, nTok, xStride), nKept, nOut, nTok, outStride, 0, nOut);
}

/** Bytes of one token's plan in gatherPlansBatchQ8's copy (16-byte aligned). */
// @ts-ignore: decorator
@inline function q8PlanBytes(nKept: i32): usize {
  return (gatherPlanBytesQ8(nKept) + 15) & ~(<usize>15);
}

/** Every token's gather plan (gatherPlanQ8: x quantized per run, columns paired), token b's at b * q8PlanBytes(nKept); returns the copy. */
export function gatherPlansBatchQ8(wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32, nTok: i32, xStride: i32): usize {
  const planBytes = q8PlanBytes(nKept);
  const plans = batchScratchOf(<usize>nTok * planBytes);
  for (let b = 0; b < nTok; b++) {
    memory.copy(plans + <usize>b * planBytes, gatherPlanQ8(wT, x + (<usize>b * <usize>xStride << 2), idx, nKept, nIn, nOut), gatherPlanBytesQ8(nKept));
  }
  return plans;
}

/** Outputs [from, to) of gatherColumnsBatchQ8 on the plans (gatherPlansBatchQ8), from a multiple of 16 (gatherSweepQ8's ranges). */
export function gatherSweepBatchQ8(out: usize, plans: usize, nKept: i32, nOut: i32, nTok: i32, outStride: i32, from: i32, to: i32): void {
  const planBytes = q8PlanBytes(nKept);
  const piece = <i32>max<usize>(16, (Q8_PIECE_BYTES / <usize>max(1, nKept)) & ~(<usize>15));
  for (let o = from; o < to; o += piece) {
    const end = min(to, o + piece);
    for (let b = 0; b < nTok; b++) gatherSweepQ8(out + (<usize>b * <usize>outStride << 2), plans + <usize>b * planBytes, nOut, o, end);
  }
}

// ---- ggml blocks as stored (Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K; kernels/q4.ts, kquants.ts) ----
// As q8: each token's quantized x (and its block sums) copied per token, then the one-token
// kernels' inner parts over pieces of the matrix (whole four-row passes; tiles of 32 outputs for
// the input-major gathers) for every token. Same quantization, same order: bit-identical.

/** Row-major [rows x cols] matrix of ggml blocks (dtype DTYPE_Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K or Q6_K) for a block of tokens. */
export function matmatGgml(dtype: i32, out: usize, w: usize, x: usize, rows: i32, cols: i32, nTok: i32, outStride: i32, xStride: i32): void {
  const nb = cols >> 5;
  const xqBytes = (<usize>nb << 6) + (<usize>nb << 2); // quantizeXQ8's i16 quants then f32 scales
  const perToken = xqBytes + (<usize>nb << 2); // then the block sums
  const xq = batchScratchOf(<usize>nTok * perToken);
  for (let b = 0; b < nTok; b++) {
    const t = xq + <usize>b * perToken;
    memory.copy(t, quantizeXQ8(x + (<usize>b * <usize>xStride << 2), cols), xqBytes);
    if (dtype != DTYPE_Q6_K && dtype != DTYPE_Q3_K && dtype != DTYPE_Q2_K) memory.copy(t + xqBytes, blockSums(t, nb), <usize>nb << 2);
  }
  const rowBytes = dtype == DTYPE_Q4_0 ? q4_0RowBytes(cols) : dtype == DTYPE_Q5_0 ? q5_0RowBytes(cols) : dtype == DTYPE_Q4_K ? q4_KRowBytes(cols)
    : dtype == DTYPE_Q6_K ? q6_KRowBytes(cols) : dtype == DTYPE_Q5_K ? q5_KRowBytes(cols) : dtype == DTYPE_Q4_1 ? q4_1RowBytes(cols)
    : dtype == DTYPE_Q5_1 ? q5_1RowBytes(cols) : dtype == DTYPE_Q3_K ? q3_KRowBytes(cols) : q2_KRowBytes(cols);
  const pieceRows = <i32>max<usize>(1, Q8_PIECE_BYTES / (rowBytes << 2)) << 2;
  for (let from = 0; from < rows; from += pieceRows) {
    const n = min(pieceRows, rows - from);
    const wp = w + <usize>from * rowBytes;
    for (let b = 0; b < nTok; b++) {
      const o = out + ((<usize>b * <usize>outStride + <usize>from) << 2);
      const t = xq + <usize>b * perToken;
      if (dtype == DTYPE_Q4_0) matvecQ4_0Quantized(o, wp, t, t + xqBytes, n, cols);
      else if (dtype == DTYPE_Q5_0) matvecQ5_0Quantized(o, wp, t, t + xqBytes, n, cols);
      else if (dtype == DTYPE_Q4_K) matvecQ4_KQuantized(o, wp, t, t + xqBytes, n, cols);
      else if (dtype == DTYPE_Q6_K) matvecQ6_KQuantized(o, wp, t, n, cols);
      else if (dtype == DTYPE_Q5_K) matvecQ5_KQuantized(o, wp, t, t + xqBytes, n, cols);
      else if (dtype == DTYPE_Q4_1) matvecQ4_1Quantized(o, wp, t, t + xqBytes, n, cols);
      else if (dtype == DTYPE_Q5_1) matvecQ5_1Quantized(o, wp, t, t + xqBytes, n, cols);
      else if (dtype == DTYPE_Q3_K) matvecQ3_KQuantized(o, wp, t, n, cols);
      else matvecQ2_KQuantized(o, wp, t, n, cols);
    }
  }
}

/** Input-major Q4_0 or Q4_K gather (dtype DTYPE_Q4_0 or Q4_K) for a block of tokens with one kept list: pieces of whole 32-output tiles. */
export function gatherColumnsBatchGgml(dtype: i32, out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32, nTok: i32, outStride: i32, xStride: i32): void {
  const planBytes = (gatherPlanBytesQ4(nKept) + 15) & ~(<usize>15);
  const plans = batchScratchOf(<usize>nTok * planBytes);
  for (let b = 0; b < nTok; b++) {
    gatherPlanQ4(plans + <usize>b * planBytes, x + (<usize>b * <usize>xStride << 2), idx, nKept);
    memory.fill(out + (<usize>b * <usize>outStride << 2), 0, <usize>nOut << 2);
  }
  // kept columns' bytes per output: half a byte of quants (plus scales per run)
  const piece = <i32>max<usize>(32, ((Q8_PIECE_BYTES << 1) / <usize>max(1, nKept)) & ~(<usize>31));
  for (let from = 0; from < nOut; from += piece) {
    const to = min(nOut, from + piece);
    for (let b = 0; b < nTok; b++) {
      const o = out + (<usize>b * <usize>outStride << 2);
      if (dtype == DTYPE_Q4_0) gatherSweepQ4_0(o, wT, plans + <usize>b * planBytes, idx, nKept, nIn, nOut, from, to);
      else gatherSweepQ4_K(o, wT, plans + <usize>b * planBytes, idx, nKept, nIn, nOut, from, to);
    }
  }
}
