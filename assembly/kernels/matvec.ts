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

/**
 * Four rows per pass, rows r, r + stride, r + 2*stride, r + 3*stride, each summed in the shared
 * order (one accumulator per row). Two vectors of each row per loop pass: v128.load's immediate
 * offset 16 lets one pointer add serve both loads, so the loop is 5 adds per 8 weight loads.
 */
// @ts-ignore: decorator
@inline function fourRows(out: usize, w: usize, x: usize, r: i32, stride: i32, cols: i32): void {
  const cols4 = cols & ~3;
  const cols8 = cols & ~7;
  const rowBytes = <usize>cols << 2;
  const streamBytes = <usize>stride * rowBytes;
  const w0 = w + <usize>r * rowBytes;
  const w1 = w0 + streamBytes;
  const w2 = w1 + streamBytes;
  const w3 = w2 + streamBytes;
  let p0 = w0, p1 = w1, p2 = w2, p3 = w3, px = x;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  const end8 = x + (<usize>cols8 << 2);
  for (; px < end8; px += 32) {
    const x0 = v128.load(px);
    const x1 = v128.load(px, 16);
    a0 = madd(madd(a0, v128.load(p0), x0), v128.load(p0, 16), x1);
    a1 = madd(madd(a1, v128.load(p1), x0), v128.load(p1, 16), x1);
    a2 = madd(madd(a2, v128.load(p2), x0), v128.load(p2, 16), x1);
    a3 = madd(madd(a3, v128.load(p3), x0), v128.load(p3, 16), x1);
    p0 += 32;
    p1 += 32;
    p2 += 32;
    p3 += 32;
  }
  if (cols8 < cols4) { // one more vector per row
    const x0 = v128.load(px);
    a0 = madd(a0, v128.load(p0), x0);
    a1 = madd(a1, v128.load(p1), x0);
    a2 = madd(a2, v128.load(p2), x0);
    a3 = madd(a3, v128.load(p3), x0);
  }
  const o = out + (<usize>r << 2);
  const outStride = <usize>stride << 2;
  store<f32>(o, dotTail(hsum(a0), w0, x, cols4, cols));
  store<f32>(o + outStride, dotTail(hsum(a1), w1, x, cols4, cols));
  store<f32>(o + 2 * outStride, dotTail(hsum(a2), w2, x, cols4, cols));
  store<f32>(o + 3 * outStride, dotTail(hsum(a3), w3, x, cols4, cols));
}

/**
 * SIMD: four rows per pass, a quarter of the matrix apart (rows r, r + q, r + 2q, r + 3q with
 * q = rows / 4, for r = 0 .. q - 1), then the last rows % 4 one at a time. Each of the four
 * weight streams reads q consecutive rows, i.e. one long sequential run, like the four-stream
 * read probe (readSum4StreamsF32); passes over adjacent rows (the previous 8 and 4 rows per pass)
 * restart their streams every few KiB and read cold weights at ~0.55-0.6 of the probe against
 * ~0.95 for this order (bench/README.md, issue #16). Each row still sums in the shared order, so
 * the row grouping does not change any bit.
 */
export function matvecF32(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const quarter = rows >> 2;
  for (let r = 0; r < quarter; r++) fourRows(out, w, x, r, quarter, cols);
  const rowBytes = <usize>cols << 2;
  for (let r = quarter << 2; r < rows; r++) {
    store<f32>(out + (<usize>r << 2), dotF32(w + <usize>r * rowBytes, x, cols));
  }
}

/**
 * The same loop on four adjacent rows per pass (the stream layout of the kernels before: 8 and
 * earlier 4 adjacent rows), kept for the A/B row in bench/kernels.bench.ts.
 */
export function matvecF32Rows4(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  let r = 0;
  for (; r + 4 <= rows; r += 4) fourRows(out, w, x, r, 1, cols);
  const rowBytes = <usize>cols << 2;
  for (; r < rows; r++) store<f32>(out + (<usize>r << 2), dotF32(w + <usize>r * rowBytes, x, cols));
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
