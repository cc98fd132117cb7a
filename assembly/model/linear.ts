// Each weight matrix's dtype (ids in ../abi.ts, given with its pointer: state.ts setLayerWeight,
// setGlobalWeights) and the kernels that go with it: f32; q8 (the engine's int8 layouts,
// assembly/kernels/q8.ts); or ggml's Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q2_K / Q3_K / Q4_K / Q5_K / Q6_K blocks as the file stores them
// (row-major only: kernels/q4.ts, kquants.ts). The forward pass passes each matrix's dtype here
// and never branches on it itself. Norm weights and biases stay f32.
//
// In the threads build (ASC_FEATURE_THREADS, a compile-time constant; assembly/threads/) the f32
// and q8 products, one token's and a prompt block's, are split by output ranges over the thread
// pool; results are bit-identical to one thread. The workers have no allocator, so the q8 kernels' scratch work (quantizing x, the
// gather's plan) is done once here on the main instance. The ggml-block kernels run on one thread.

import { matvecF32, matvecRowsF32 } from "../kernels/matvec";
import { gatherColumnsF32, gatherOrder } from "../kernels/gather";
import { addInPlace } from "../kernels/elementwise";
import * as S from "./state";
import { dequantRowQ8, gatherBytesQ8, gatherColumnsQ8, gatherPlanQ8, matvecQ8, matvecRowsQ8, q8Blocks, q8Bytes, q8InBytes, quantizeXQ8 } from "../kernels/q8";
import { dequantRowQ4_0, dequantRowQ4_1, dequantRowQ5_0, dequantRowQ5_1, gatherBytesQ4_0, gatherColumnsQ4_0, matvecQ4_0, matvecQ4_1, matvecQ5_0, matvecQ5_1, matvecRowsQ4_0, matvecRowsQ4_1, matvecRowsQ5_0, matvecRowsQ5_1, q4_0InBytes, q4_0InColumnBytes, q4_0RowBytes, q4_1RowBytes, q5_0RowBytes, q5_1RowBytes } from "../kernels/q4";
import { dequantRowQ2_K, dequantRowQ3_K, matvecQ2_K, matvecQ3_K, matvecRowsQ2_K, matvecRowsQ3_K, q2_KRowBytes, q3_KRowBytes, dequantRowQ4_K, dequantRowQ5_K, dequantRowQ6_K, gatherBytesQ4_K, gatherColumnsQ4_K, matvecQ4_K, matvecQ5_K, matvecQ6_K, matvecRowsQ4_K, matvecRowsQ5_K, matvecRowsQ6_K, q4_KInBytes, q4_KInColumnBytes, q4_KRowBytes, q5_KRowBytes, q6_KRowBytes } from "../kernels/kquants";
import { addBatchParts, gatherBatchScratchF32, gatherBatchSecondBytes, gatherColumnsBatchF32, gatherColumnsBatchGgml, gatherColumnsBatchQ8, gatherPlansBatchQ8, matmatF32, matmatGgml, matmatQ8, quantizeBatchQ8 } from "../kernels/matmat";
import { KERNEL_GATHER_BATCH_F32, KERNEL_GATHER_BATCH_Q8, KERNEL_GATHER_F32, KERNEL_GATHER_Q8, KERNEL_MATMAT_F32, KERNEL_MATMAT_Q8, KERNEL_MATVEC_F32, KERNEL_MATVEC_Q8 } from "../threads/jobs";
import { MIN_PARALLEL_WEIGHTS, parallelFor, poolThreads } from "../threads/pool";
import { DTYPE_F32, DTYPE_Q2_K, DTYPE_Q3_K, DTYPE_Q4_0, DTYPE_Q4_1, DTYPE_Q4_K, DTYPE_Q5_0, DTYPE_Q5_1, DTYPE_Q5_K, DTYPE_Q6_K, DTYPE_Q8 } from "../abi";

/** Whether a product of n x m weights is shared by the threads (threads build only). */
// @ts-ignore: decorator
@inline function split(n: i32, m: i32): bool {
  return poolThreads > 1 && <i64>n * m >= MIN_PARALLEL_WEIGHTS;
}

/** out = W x for a row-major [rows x cols] matrix of the given dtype. */
export function linear(dtype: i32, out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  if (dtype == DTYPE_Q8) {
    // x quantized once here; every thread reads it (the workers have no scratch of their own)
    if (ASC_FEATURE_THREADS && split(rows, cols)) parallelFor(KERNEL_MATVEC_Q8, out, w, quantizeXQ8(x, cols), 0, 0, rows, cols);
    else matvecQ8(out, w, x, rows, cols);
  } else if (dtype == DTYPE_Q4_0) matvecQ4_0(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q4_K) matvecQ4_K(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q6_K) matvecQ6_K(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q5_0) matvecQ5_0(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q5_K) matvecQ5_K(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q4_1) matvecQ4_1(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q5_1) matvecQ5_1(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q3_K) matvecQ3_K(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q2_K) matvecQ2_K(out, w, x, rows, cols);
  else linearF32(out, w, x, rows, cols);
}

/** linear for an f32 matrix (also the streamed LM head's product: streams are f32). */
export function linearF32(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  if (ASC_FEATURE_THREADS && split(rows, cols)) parallelFor(KERNEL_MATVEC_F32, out, w, x, 0, 0, rows, cols);
  else matvecF32(out, w, x, rows, cols);
}

/** out[k] = W[rowIdx[k], :] . x for the listed rows of a row-major [totalRows x cols] matrix. */
export function linearRows(dtype: i32, out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, totalRows: i32, cols: i32): void {
  if (dtype == DTYPE_Q8) matvecRowsQ8(out, w, x, rowIdx, nRows, totalRows, cols);
  else if (dtype == DTYPE_Q4_0) matvecRowsQ4_0(out, w, x, rowIdx, nRows, cols);
  else if (dtype == DTYPE_Q4_K) matvecRowsQ4_K(out, w, x, rowIdx, nRows, cols);
  else if (dtype == DTYPE_Q6_K) matvecRowsQ6_K(out, w, x, rowIdx, nRows, cols);
  else if (dtype == DTYPE_Q5_0) matvecRowsQ5_0(out, w, x, rowIdx, nRows, cols);
  else if (dtype == DTYPE_Q5_K) matvecRowsQ5_K(out, w, x, rowIdx, nRows, cols);
  else if (dtype == DTYPE_Q4_1) matvecRowsQ4_1(out, w, x, rowIdx, nRows, cols);
  else if (dtype == DTYPE_Q5_1) matvecRowsQ5_1(out, w, x, rowIdx, nRows, cols);
  else if (dtype == DTYPE_Q3_K) matvecRowsQ3_K(out, w, x, rowIdx, nRows, cols);
  else if (dtype == DTYPE_Q2_K) matvecRowsQ2_K(out, w, x, rowIdx, nRows, cols);
  else matvecRowsF32(out, w, x, rowIdx, nRows, cols);
}

/**
 * out = sum over kept inputs j of x[j] * WT[j, :] for an input-major [nIn x nOut] matrix; its
 * dtype is f32, q8, Q4_0 or Q4_K (the input-major layouts; the host lays the MLP out in one of them).
 */
export function gatherColumns(dtype: i32, out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32): void {
  if (dtype == DTYPE_Q8) {
    if (ASC_FEATURE_THREADS && split(nKept, nOut)) parallelFor(KERNEL_GATHER_Q8, out, gatherPlanQ8(wT, x, idx, nKept, nIn, nOut), 0, 0, 0, nOut, 0);
    else gatherColumnsQ8(out, wT, x, idx, nKept, nIn, nOut);
  } else if (dtype == DTYPE_Q4_0) gatherColumnsQ4_0(out, wT, x, idx, nKept, nIn, nOut);
  else if (dtype == DTYPE_Q4_K) gatherColumnsQ4_K(out, wT, x, idx, nKept, nIn, nOut);
  else if (ASC_FEATURE_THREADS && split(nKept, nOut)) {
    const list = gatherOrder(S.gatherScratch + (<usize>nOut << 2), idx, nKept, nOut);
    parallelFor(KERNEL_GATHER_F32, out, wT, x, list, nKept, nOut, 0, S.gatherScratch); // the halves on two threads
    addInPlace(out, S.gatherScratch, nOut);
  } else gatherColumnsF32(out, wT, x, idx, nKept, nOut, S.gatherScratch);
}

// Batched forms for prompt processing (model/prompt.ts): nTok token vectors, token b's at
// x + b * xStride floats and its result at out + b * outStride floats. Each weight is read from
// memory once per call (kernels/matmat.ts) for every dtype, and each token's result has the bits
// of the one-token function above (a new dtype plugs in with a branch here and in matmat.ts).
// The threads build splits f32 and q8 products by outputs, as for one token (the ggml types run
// on the calling thread, as their one-token kernels do).

/** linear() for a block of tokens: out_b = W x_b. */
export function linearBatch(dtype: i32, out: usize, w: usize, x: usize, rows: i32, cols: i32, nTok: i32, outStride: i32, xStride: i32): void {
  if (dtype == DTYPE_Q8) {
    if (ASC_FEATURE_THREADS && split(rows, cols)) parallelFor(KERNEL_MATMAT_Q8, out, w, quantizeBatchQ8(x, cols, nTok, xStride), 0, 0, rows, cols, 0, nTok, outStride, xStride);
    else matmatQ8(out, w, x, rows, cols, nTok, outStride, xStride);
  } else if (dtype == DTYPE_F32) {
    if (ASC_FEATURE_THREADS && split(rows, cols)) parallelFor(KERNEL_MATMAT_F32, out, w, x, 0, 0, rows, cols, 0, nTok, outStride, xStride);
    else matmatF32(out, w, x, rows, cols, nTok, outStride, xStride);
  } else matmatGgml(dtype, out, w, x, rows, cols, nTok, outStride, xStride);
}

/** gatherColumns() for a block of tokens with one kept list: out_b = sum over kept j of x_b[j] * WT[j, :]. */
export function gatherColumnsBatch(dtype: i32, out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32, nTok: i32, outStride: i32, xStride: i32): void {
  if (dtype == DTYPE_Q8) {
    if (ASC_FEATURE_THREADS && split(nKept, nOut)) {
      parallelFor(KERNEL_GATHER_BATCH_Q8, out, gatherPlansBatchQ8(wT, x, idx, nKept, nIn, nOut, nTok, xStride), 0, 0, nKept, nOut, 0, 0, nTok, outStride, xStride);
    } else gatherColumnsBatchQ8(out, wT, x, idx, nKept, nIn, nOut, nTok, outStride, xStride);
  } else if (dtype == DTYPE_F32) {
    if (ASC_FEATURE_THREADS && split(nKept, nOut)) { // gatherColumnsBatchF32's steps, the parts' output ranges on the threads
      const second = gatherBatchScratchF32(nKept, nOut, nTok);
      const list = gatherOrder(second + gatherBatchSecondBytes(nOut, nTok), idx, nKept, nOut);
      parallelFor(KERNEL_GATHER_BATCH_F32, out, wT, x, list, nKept, nOut, 0, second, nTok, outStride, xStride);
      addBatchParts(out, second, nOut, nTok, outStride);
    } else gatherColumnsBatchF32(out, wT, x, idx, nKept, nOut, nTok, outStride, xStride);
  } else gatherColumnsBatchGgml(dtype, out, wT, x, idx, nKept, nIn, nOut, nTok, outStride, xStride);
}

/** out = row r of a row-major [rows x cols] table (the token embedding), dequantized exactly. */
export function tableRow(dtype: i32, out: usize, w: usize, r: i32, rows: i32, cols: i32): void {
  if (dtype == DTYPE_Q8) dequantRowQ8(out, w, r, rows, cols);
  else if (dtype == DTYPE_Q4_0) dequantRowQ4_0(out, w, r, cols);
  else if (dtype == DTYPE_Q4_K) dequantRowQ4_K(out, w, r, cols);
  else if (dtype == DTYPE_Q6_K) dequantRowQ6_K(out, w, r, cols);
  else if (dtype == DTYPE_Q5_0) dequantRowQ5_0(out, w, r, cols);
  else if (dtype == DTYPE_Q5_K) dequantRowQ5_K(out, w, r, cols);
  else if (dtype == DTYPE_Q4_1) dequantRowQ4_1(out, w, r, cols);
  else if (dtype == DTYPE_Q5_1) dequantRowQ5_1(out, w, r, cols);
  else if (dtype == DTYPE_Q3_K) dequantRowQ3_K(out, w, r, cols);
  else if (dtype == DTYPE_Q2_K) dequantRowQ2_K(out, w, r, cols);
  else memory.copy(out, w + <usize>r * <usize>cols * 4, <usize>cols * 4);
}

// The byte formulas by dtype: what the kernels read, and what the host lays out and accounts
// memory with (host/abi.ts asks these exports); f64, so a total past 4 GiB does not wrap.

/** Bytes read for one row of n weights of a row-major matrix (q8: whole blocks of 32 and their scales; ggml types: whole blocks). */
export function rowBytesIn(dtype: i32, n: i32): f64 {
  if (dtype == DTYPE_Q8) return 36.0 * q8Blocks(n);
  if (dtype == DTYPE_Q4_0) return <f64>q4_0RowBytes(n);
  if (dtype == DTYPE_Q4_K) return <f64>q4_KRowBytes(n);
  if (dtype == DTYPE_Q6_K) return <f64>q6_KRowBytes(n);
  if (dtype == DTYPE_Q5_0) return <f64>q5_0RowBytes(n);
  if (dtype == DTYPE_Q5_K) return <f64>q5_KRowBytes(n);
  if (dtype == DTYPE_Q4_1) return <f64>q4_1RowBytes(n);
  if (dtype == DTYPE_Q5_1) return <f64>q5_1RowBytes(n);
  if (dtype == DTYPE_Q3_K) return <f64>q3_KRowBytes(n);
  if (dtype == DTYPE_Q2_K) return <f64>q2_KRowBytes(n);
  return 4.0 * n;
}

/** Bytes linear() reads for a row-major [rows x cols] matrix, also what it takes in memory (q8: whole tiles of 8 rows). */
export function matrixBytesIn(dtype: i32, rows: i32, cols: i32): f64 {
  if (dtype == DTYPE_Q8) return <f64>q8Bytes(rows, cols);
  return <f64>rows * rowBytesIn(dtype, cols);
}

/** Bytes an input-major [nIn x nOut] matrix takes in memory (q8: quants, alignment, f16 scales). */
export function inputMajorBytesIn(dtype: i32, nIn: i32, nOut: i32): f64 {
  if (dtype == DTYPE_Q4_0) return <f64>q4_0InBytes(nIn, nOut);
  if (dtype == DTYPE_Q4_K) return <f64>q4_KInBytes(nIn, nOut);
  return dtype == DTYPE_Q8 ? <f64>q8InBytes(nIn, nOut) : 4.0 * <f64>nIn * <f64>nOut;
}

/** Bytes gatherColumns reads when every one of the nIn columns is kept (q8: every quant and every block's scales). */
export function allColumnsBytesIn(dtype: i32, nIn: i32, nOut: i32): f64 {
  if (dtype == DTYPE_Q4_0) return <f64>nIn * <f64>q4_0InColumnBytes(nOut) + 2.0 * <f64>nOut * <f64>q8Blocks(nIn);
  if (dtype == DTYPE_Q4_K) return <f64>nIn * <f64>q4_KInColumnBytes(nOut) + 2.0 * <f64>nOut * <f64>q8Blocks(nIn) + 8.0 * <f64>nOut * <f64>(nIn >> 8);
  return dtype == DTYPE_Q8 ? <f64>nIn * <f64>nOut + 2.0 * <f64>nOut * <f64>q8Blocks(nIn) : 4.0 * <f64>nIn * <f64>nOut;
}

/** Bytes gatherColumns reads for this kept list (q8: the kept quants and the touched blocks' scales). */
export function gatherBytes(dtype: i32, idx: usize, nKept: i32, nOut: i32): f64 {
  if (dtype == DTYPE_Q4_0) return gatherBytesQ4_0(idx, nKept, nOut);
  if (dtype == DTYPE_Q4_K) return gatherBytesQ4_K(idx, nKept, nOut);
  return dtype == DTYPE_Q8 ? gatherBytesQ8(idx, nKept, nOut) : 4.0 * <f64>nKept * <f64>nOut;
}
