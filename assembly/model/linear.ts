// The weight dtype of the loaded model and the kernels that go with it: f32, or q8 (int8 quants with
// per-block scales; layouts in assembly/kernels/q8.ts). The forward pass calls these and never branches
// on the dtype itself. Norm weights and biases stay f32.
//
// In the threads build (ASC_FEATURE_THREADS, a compile-time constant; assembly/threads/) the big
// products are split by output ranges over the thread pool; results are bit-identical to one
// thread. The workers have no allocator, so the q8 kernels' scratch work (quantizing x, the
// gather's plan) is done once here on the main instance.

import { matvecF32, matvecRowsF32 } from "../kernels/matvec";
import { gatherColumnsF32 } from "../kernels/gather";
import { dequantRowQ8, gatherBytesQ8, gatherColumnsQ8, gatherPlanQ8, matvecQ8, matvecRowsQ8, q8Blocks, q8Bytes, q8InBytes, quantizeXQ8 } from "../kernels/q8";
import { gatherColumnsBatchF32, gatherColumnsBatchQ8, matmatF32, matmatQ8 } from "../kernels/matmat";
import { KERNEL_GATHER_F32, KERNEL_GATHER_Q8, KERNEL_MATVEC_F32, KERNEL_MATVEC_Q8 } from "../threads/jobs";
import { MIN_PARALLEL_WEIGHTS, parallelFor, poolThreads } from "../threads/pool";
import { DTYPE_F32, DTYPE_Q8 } from "../abi";

export let weightDtype: i32 = DTYPE_F32;

export function setWeightDtype(dtype: i32): void {
  weightDtype = dtype;
}

/** Whether a product of n x m weights is shared by the threads (threads build only). */
// @ts-ignore: decorator
@inline function split(n: i32, m: i32): bool {
  return poolThreads > 1 && <i64>n * m >= MIN_PARALLEL_WEIGHTS;
}

/** out = W x for a row-major [rows x cols] matrix. */
export function linear(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  if (weightDtype == DTYPE_Q8) {
    // x quantized once here; every thread reads it (the workers have no scratch of their own)
    if (ASC_FEATURE_THREADS && split(rows, cols)) parallelFor(KERNEL_MATVEC_Q8, out, w, quantizeXQ8(x, cols), 0, 0, rows, cols);
    else matvecQ8(out, w, x, rows, cols);
  } else if (ASC_FEATURE_THREADS && split(rows, cols)) parallelFor(KERNEL_MATVEC_F32, out, w, x, 0, 0, rows, cols);
  else matvecF32(out, w, x, rows, cols);
}

/** out[k] = W[rowIdx[k], :] . x for the listed rows of a row-major [totalRows x cols] matrix. */
export function linearRows(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, totalRows: i32, cols: i32): void {
  if (weightDtype == DTYPE_Q8) matvecRowsQ8(out, w, x, rowIdx, nRows, totalRows, cols);
  else matvecRowsF32(out, w, x, rowIdx, nRows, cols);
}

/** out = sum over kept inputs j of x[j] * WT[j, :] for an input-major [nIn x nOut] matrix. */
export function gatherColumns(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32): void {
  if (weightDtype == DTYPE_Q8) {
    if (ASC_FEATURE_THREADS && split(nKept, nOut)) parallelFor(KERNEL_GATHER_Q8, out, gatherPlanQ8(wT, x, idx, nKept, nIn, nOut), 0, 0, 0, nOut, 0);
    else gatherColumnsQ8(out, wT, x, idx, nKept, nIn, nOut);
  } else if (ASC_FEATURE_THREADS && split(nKept, nOut)) parallelFor(KERNEL_GATHER_F32, out, wT, x, idx, nKept, nOut, 0);
  else gatherColumnsF32(out, wT, x, idx, nKept, nOut);
}

// Batched forms for prompt processing (model/prompt.ts): nTok token vectors, token b's at
// x + b * xStride floats and its result at out + b * outStride floats. Each weight is read from
// memory once per call, and each token's result has the bits of the one-token function above.
// A new dtype plugs in with its own matmat kernels (kernels/matmat.ts) in these two branches.
// One thread: the threads build runs prompts on the calling thread only.

/** linear() for a block of tokens: out_b = W x_b. */
export function linearBatch(out: usize, w: usize, x: usize, rows: i32, cols: i32, nTok: i32, outStride: i32, xStride: i32): void {
  if (weightDtype == DTYPE_Q8) matmatQ8(out, w, x, rows, cols, nTok, outStride, xStride);
  else matmatF32(out, w, x, rows, cols, nTok, outStride, xStride);
}

/** gatherColumns() for a block of tokens with one kept list: out_b = sum over kept j of x_b[j] * WT[j, :]. */
export function gatherColumnsBatch(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32, nTok: i32, outStride: i32, xStride: i32): void {
  if (weightDtype == DTYPE_Q8) gatherColumnsBatchQ8(out, wT, x, idx, nKept, nIn, nOut, nTok, outStride, xStride);
  else gatherColumnsBatchF32(out, wT, x, idx, nKept, nOut, nTok, outStride, xStride);
}

/** out = row r of a row-major [rows x cols] table (the token embedding). */
export function tableRow(out: usize, w: usize, r: i32, rows: i32, cols: i32): void {
  if (weightDtype == DTYPE_Q8) dequantRowQ8(out, w, r, rows, cols);
  else memory.copy(out, w + <usize>r * <usize>cols * 4, <usize>cols * 4);
}

/** Bytes read for one row of n weights of a row-major matrix (q8: whole blocks of 32 and their scales). */
export function rowBytes(n: i32): f64 {
  return rowBytesIn(weightDtype, n);
}

/** Bytes linear() reads for a [rows x cols] matrix (q8: whole tiles of 8 rows). */
export function matrixBytes(rows: i32, cols: i32): f64 {
  return matrixBytesIn(weightDtype, rows, cols);
}

// The byte formulas by dtype, exported so the host lays out and accounts memory with the very
// formulas the kernels use (host/abi.ts); f64, so a total past 4 GiB does not wrap.

/** rowBytes for a given dtype. */
export function rowBytesIn(dtype: i32, n: i32): f64 {
  return dtype == DTYPE_Q8 ? 36.0 * q8Blocks(n) : 4.0 * n;
}

/** matrixBytes for a given dtype: also the bytes a row-major [rows x cols] matrix takes in memory. */
export function matrixBytesIn(dtype: i32, rows: i32, cols: i32): f64 {
  return dtype == DTYPE_Q8 ? <f64>q8Bytes(rows, cols) : 4.0 * <f64>rows * <f64>cols;
}

/** Bytes an input-major [nIn x nOut] matrix takes in memory (q8: quants, alignment, f16 scales). */
export function inputMajorBytesIn(dtype: i32, nIn: i32, nOut: i32): f64 {
  return dtype == DTYPE_Q8 ? <f64>q8InBytes(nIn, nOut) : 4.0 * <f64>nIn * <f64>nOut;
}

/** Bytes gatherColumns reads when every one of the nIn columns is kept (q8: every quant and every block's scales). */
export function allColumnsBytesIn(dtype: i32, nIn: i32, nOut: i32): f64 {
  return dtype == DTYPE_Q8 ? <f64>nIn * <f64>nOut + 2.0 * <f64>nOut * <f64>q8Blocks(nIn) : 4.0 * <f64>nIn * <f64>nOut;
}

/** Bytes gatherColumns reads for this kept list (q8: the kept quants and the touched blocks' scales). */
export function gatherBytes(idx: usize, nKept: i32, nOut: i32): f64 {
  return weightDtype == DTYPE_Q8 ? gatherBytesQ8(idx, nKept, nOut) : 4.0 * <f64>nKept * <f64>nOut;
}
