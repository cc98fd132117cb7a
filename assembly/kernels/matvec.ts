// Row-major f32 matrix-vector products: out[r] = dot(W[r, :], x), W is [rows x cols].
// Used for attention projections and the LM head (never pruned by input).
//
// Summation order is fixed and shared by the SIMD kernel and its scalar reference: four lane
// accumulators (lane l sums elements i = l mod 4 of the 4-aligned prefix in order), combined as
// (a0 + a1) + (a2 + a3), then the tail added in order. So both give bit-identical results (in the
// default build; the relaxed build may fuse the lane multiply-adds, see madd.ts).

import { madd } from "./madd";

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// @ts-ignore: decorator
@inline function dotTail(acc: f32, w: usize, x: usize, from: i32, cols: i32): f32 {
  for (let i = from; i < cols; i++) {
    acc += load<f32>(w + (<usize>i << 2)) * load<f32>(x + (<usize>i << 2));
  }
  return acc;
}

/** Rows r.. of out = W x: four rows per pass, then one at a time (the tail of both kernels below). */
// @ts-ignore: decorator
@inline function fourRowsThenOne(out: usize, w: usize, x: usize, r: i32, rows: i32, cols: i32): void {
  const cols4 = cols & ~3;
  const rowBytes = <usize>cols << 2;
  for (; r + 4 <= rows; r += 4) {
    const w0 = w + <usize>r * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (let i = 0; i < cols4; i += 4) {
      const off = <usize>i << 2;
      const xv = v128.load(x + off);
      a0 = madd(a0, v128.load(w0 + off), xv);
      a1 = madd(a1, v128.load(w1 + off), xv);
      a2 = madd(a2, v128.load(w2 + off), xv);
      a3 = madd(a3, v128.load(w3 + off), xv);
    }
    store<f32>(out + (<usize>r << 2), dotTail(hsum(a0), w0, x, cols4, cols));
    store<f32>(out + (<usize>(r + 1) << 2), dotTail(hsum(a1), w1, x, cols4, cols));
    store<f32>(out + (<usize>(r + 2) << 2), dotTail(hsum(a2), w2, x, cols4, cols));
    store<f32>(out + (<usize>(r + 3) << 2), dotTail(hsum(a3), w3, x, cols4, cols));
  }
  for (; r < rows; r++) {
    store<f32>(out + (<usize>r << 2), dotF32(w + <usize>r * rowBytes, x, cols));
  }
}

/**
 * SIMD: eight rows per pass so each x load feeds eight weight streams, then four, then one.
 * Each row still sums in the shared order, so the row grouping does not change any bit.
 */
export function matvecF32(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const cols4 = cols & ~3;
  const rowBytes = <usize>cols << 2;
  let r = 0;
  for (; r + 8 <= rows; r += 8) {
    const w0 = w + <usize>r * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    const w4 = w3 + rowBytes;
    const w5 = w4 + rowBytes;
    const w6 = w5 + rowBytes;
    const w7 = w6 + rowBytes;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let a4 = f32x4.splat(0);
    let a5 = f32x4.splat(0);
    let a6 = f32x4.splat(0);
    let a7 = f32x4.splat(0);
    for (let i = 0; i < cols4; i += 4) {
      const off = <usize>i << 2;
      const xv = v128.load(x + off);
      a0 = madd(a0, v128.load(w0 + off), xv);
      a1 = madd(a1, v128.load(w1 + off), xv);
      a2 = madd(a2, v128.load(w2 + off), xv);
      a3 = madd(a3, v128.load(w3 + off), xv);
      a4 = madd(a4, v128.load(w4 + off), xv);
      a5 = madd(a5, v128.load(w5 + off), xv);
      a6 = madd(a6, v128.load(w6 + off), xv);
      a7 = madd(a7, v128.load(w7 + off), xv);
    }
    const o = out + (<usize>r << 2);
    store<f32>(o, dotTail(hsum(a0), w0, x, cols4, cols));
    store<f32>(o, dotTail(hsum(a1), w1, x, cols4, cols), 4);
    store<f32>(o, dotTail(hsum(a2), w2, x, cols4, cols), 8);
    store<f32>(o, dotTail(hsum(a3), w3, x, cols4, cols), 12);
    store<f32>(o, dotTail(hsum(a4), w4, x, cols4, cols), 16);
    store<f32>(o, dotTail(hsum(a5), w5, x, cols4, cols), 20);
    store<f32>(o, dotTail(hsum(a6), w6, x, cols4, cols), 24);
    store<f32>(o, dotTail(hsum(a7), w7, x, cols4, cols), 28);
  }
  fourRowsThenOne(out, w, x, r, rows, cols);
}

/** Previous kernel (four rows per pass), kept for the A/B row in bench/kernels.bench.ts. */
export function matvecF32Rows4(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  fourRowsThenOne(out, w, x, 0, rows, cols);
}

/** SIMD dot product of one row with x, in the shared summation order. */
export function dotF32(w: usize, x: usize, cols: i32): f32 {
  const cols4 = cols & ~3;
  let a = f32x4.splat(0);
  for (let i = 0; i < cols4; i += 4) {
    const off = <usize>i << 2;
    a = madd(a, v128.load(w + off), v128.load(x + off));
  }
  return dotTail(hsum(a), w, x, cols4, cols);
}

/** Scalar reference for matvecF32 (same summation order, so results are bit-identical). */
export function matvecF32Scalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) store<f32>(out + (<usize>r << 2), dotF32Scalar(w + <usize>r * rowBytes, x, cols));
}

/** Scalar reference for dotF32: four scalar accumulators stand in for the four lanes. */
export function dotF32Scalar(w: usize, x: usize, cols: i32): f32 {
  const cols4 = cols & ~3;
  let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0;
  for (let i = 0; i < cols4; i += 4) {
    const off = <usize>i << 2;
    a0 += load<f32>(w + off) * load<f32>(x + off);
    a1 += load<f32>(w + off + 4) * load<f32>(x + off + 4);
    a2 += load<f32>(w + off + 8) * load<f32>(x + off + 8);
    a3 += load<f32>(w + off + 12) * load<f32>(x + off + 12);
  }
  return dotTail((a0 + a1) + (a2 + a3), w, x, cols4, cols);
}

/** Rows given by an index list: out[k] = dot(W[rows[k], :], x). CATS reads only kept rows of W_up. */
export function matvecRowsF32(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let k = 0; k < nRows; k++) {
    const r = load<u32>(rowIdx + (<usize>k << 2));
    store<f32>(out + (<usize>k << 2), dotF32(w + <usize>r * rowBytes, x, cols));
  }
}
