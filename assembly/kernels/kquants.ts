// k-quant kernels on ggml's super-blocks of 256 values exactly as a GGUF file stores them
// (row-major, each row cols / 256 super-blocks back to back; ggml-quants.c is the reference for
// the layouts, read in dequantRowQ4_K / dequantRowQ6_K below).
//
// Q4_K (DTYPE_Q4_K), 144 bytes: f16 d, f16 dmin, 12 bytes packing eight 6-bit scales sc[j] and
//   mins m[j], 128 bytes qs. Sub-block j (values 32j..32j+31) is the low nibbles (j even) or high
//   nibbles (j odd) of qs[32 (j >> 1) ...+32]; value = d * sc[j] * q - dmin * m[j].
// Q6_K (DTYPE_Q6_K), 210 bytes: ql[128] (low 4 bits), qh[64] (high 2 bits), i8 scales[16], f16 d.
//   Value = d * scales[v / 16] * (q - 32), q 6 bits (see sixBitQ).
//
// Integer dot products as the q8 kernels (q8.ts): x is quantized to int8 per block of 32 with an
// f32 scale xs (quantizeXQ8); a super-block spans 8 such blocks. Per row, over the 32-blocks b in
// order (j = b mod 8 within its super-block, T = sum of q * xq over the 32 values, i32):
//   Q4_K: acc = acc + (f32(sc[j] * T) * d - f32(m[j] * S[b]) * dmin) * xs[b],  S[b] = sum of xq
//         |sc * T| <= 63 * 32 * 15 * 127 < 2^22 and |m * S| <= 63 * 32 * 127: exact in f32
//   Q6_K: acc = acc + f32(scales[2j] * T0 + scales[2j+1] * T1) * (d * xs[b]),  T0, T1 the halves
//         |.| <= 2 * 128 * 16 * 32 * 127 = 16,646,144 < 2^24: exact in f32
// so each SIMD kernel (integer sums by dot_i16x8_s) and its scalar reference agree bit for bit.

import { QK_K, Q4_K_BLOCK_BYTES, Q6_K_BLOCK_BYTES } from "../abi";
import { halfBitsToF32 } from "./half";
import { quantizeXQ8 } from "./q8";

const Q4K = <usize>Q4_K_BLOCK_BYTES;
const Q6K = <usize>Q6_K_BLOCK_BYTES;

// @ts-ignore: decorator
@inline export function q4_KRowBytes(n: i32): usize {
  return <usize>(n / QK_K) * Q4K;
}

// @ts-ignore: decorator
@inline export function q6_KRowBytes(n: i32): usize {
  return <usize>(n / QK_K) * Q6K;
}

// ---- the per-32-block sums of the quantized x (Q4_K's min term) ----

let sums: usize = 0;
let sumsBlocks: i32 = 0;

/** S[b] = sum of block b's 32 quantized activations (i32 each), for nb blocks; kept and grown. */
function blockSums(xq: usize, nb: i32): usize {
  if (nb > sumsBlocks) {
    if (sums) heap.free(sums);
    sumsBlocks = nb;
    sums = heap.alloc(<usize>nb << 2);
  }
  for (let b = 0; b < nb; b++) {
    let s: i32 = 0;
    for (let i = 0; i < 32; i++) s += <i32>load<i16>(xq + (<usize>(b * 32 + i) << 1));
    store<i32>(sums + (<usize>b << 2), s);
  }
  return sums;
}

// ---- Q4_K ----

/** Sub-block j's 6-bit scale (ggml's get_scale_min_k4) from the 12 packed bytes at s. */
// @ts-ignore: decorator
@inline function q4KScale(s: usize, j: i32): i32 {
  const u = <usize>j;
  return j < 4 ? <i32>load<u8>(s + u) & 63 : (<i32>load<u8>(s + u + 4) & 15) | ((<i32>load<u8>(s + u - 4) >> 6) << 4);
}

/** Sub-block j's 6-bit min. */
// @ts-ignore: decorator
@inline function q4KMin(s: usize, j: i32): i32 {
  const u = <usize>j;
  return j < 4 ? <i32>load<u8>(s + u + 4) & 63 : (<i32>load<u8>(s + u + 4) >> 4) | ((<i32>load<u8>(s + u) >> 6) << 4);
}

/** T of Q4_K sub-block j of the super-block at p against one 32-block of i16 activations at xb (SIMD). */
// @ts-ignore: decorator
@inline function subDotQ4_K(p: usize, j: i32, xb: usize): i32 {
  const qp = p + 16 + (<usize>(j >> 1) << 5);
  const shift = <u32>((j & 1) << 2);
  const mask = i8x16.splat(15);
  const a = v128.and(i8x16.shr_u(v128.load(qp), shift), mask);
  const b = v128.and(i8x16.shr_u(v128.load(qp, 16), shift), mask);
  const s = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(a), v128.load(xb)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(a), v128.load(xb, 16))),
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(b), v128.load(xb, 32)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(b), v128.load(xb, 48))),
  );
  return (i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1)) + (i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3));
}

/** Scalar T of Q4_K sub-block j (the reference's). */
// @ts-ignore: decorator
@inline function subDotQ4_KScalar(p: usize, j: i32, xb: usize): i32 {
  const qp = p + 16 + (<usize>(j >> 1) << 5);
  const shift = (j & 1) << 2;
  let t: i32 = 0;
  for (let i = 0; i < 32; i++) t += ((<i32>load<u8>(qp + <usize>i) >> shift) & 15) * <i32>load<i16>(xb + (<usize>i << 1));
  return t;
}

/** One Q4_K row (nsb super-blocks at w) against the quantized x; `simd` picks the T kernel (a compile-time constant). */
// @ts-ignore: decorator
@inline function dotRowQ4_K(w: usize, nsb: i32, xq: usize, xs: usize, s: usize, simd: bool): f32 {
  let acc: f32 = 0;
  for (let sb = 0; sb < nsb; sb++) {
    const p = w + <usize>sb * Q4K;
    const d = halfBitsToF32(load<u16>(p));
    const dmin = halfBitsToF32(load<u16>(p, 2));
    for (let j = 0; j < 8; j++) {
      const b = (sb << 3) + j;
      const xb = xq + (<usize>b << 6);
      const t = simd ? subDotQ4_K(p, j, xb) : subDotQ4_KScalar(p, j, xb);
      const term = <f32>(q4KScale(p + 4, j) * t) * d - <f32>(q4KMin(p + 4, j) * load<i32>(s + (<usize>b << 2))) * dmin;
      acc += term * load<f32>(xs + (<usize>b << 2));
    }
  }
  return acc;
}

/** out[r] = dot(W[r, :], x) for a Q4_K matrix [rows x cols] (cols a multiple of 256). */
export function matvecQ4_K(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const nb = cols >> 5;
  const xq = quantizeXQ8(x, cols);
  const s = blockSums(xq, nb);
  const rowBytes = q4_KRowBytes(cols);
  for (let r = 0; r < rows; r++) store<f32>(out + (<usize>r << 2), dotRowQ4_K(w + <usize>r * rowBytes, cols / QK_K, xq, xq + (<usize>nb << 6), s, true));
}

/** Scalar reference for matvecQ4_K (same quantized x, same order). */
export function matvecQ4_KScalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const nb = cols >> 5;
  const xq = quantizeXQ8(x, cols);
  const s = blockSums(xq, nb);
  const rowBytes = q4_KRowBytes(cols);
  for (let r = 0; r < rows; r++) store<f32>(out + (<usize>r << 2), dotRowQ4_K(w + <usize>r * rowBytes, cols / QK_K, xq, xq + (<usize>nb << 6), s, false));
}

/** Listed rows only (CATS's W_up), as matvecQ4_K per row. */
export function matvecRowsQ4_K(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  const nb = cols >> 5;
  const xq = quantizeXQ8(x, cols);
  const s = blockSums(xq, nb);
  const rowBytes = q4_KRowBytes(cols);
  for (let k = 0; k < nRows; k++) {
    const row = w + <usize>load<u32>(rowIdx + (<usize>k << 2)) * rowBytes;
    store<f32>(out + (<usize>k << 2), dotRowQ4_K(row, cols / QK_K, xq, xq + (<usize>nb << 6), s, true));
  }
}

/** Row r dequantized into out, as ggml's dequantize_row_q4_K: (d * sc) * q - (dmin * m). */
export function dequantRowQ4_K(out: usize, w: usize, r: i32, cols: i32): void {
  const nsb = cols / QK_K;
  const row = w + <usize>r * q4_KRowBytes(cols);
  for (let sb = 0; sb < nsb; sb++) {
    const p = row + <usize>sb * Q4K;
    const d = halfBitsToF32(load<u16>(p));
    const dmin = halfBitsToF32(load<u16>(p, 2));
    for (let j = 0; j < 8; j++) {
      const qp = p + 16 + (<usize>(j >> 1) << 5);
      const shift = (j & 1) << 2;
      const scale = d * <f32>q4KScale(p + 4, j);
      const offset = dmin * <f32>q4KMin(p + 4, j);
      const o = out + (<usize>(sb * QK_K + j * 32) << 2);
      for (let i = 0; i < 32; i++) store<f32>(o + (<usize>i << 2), scale * <f32>((<i32>load<u8>(qp + <usize>i) >> shift) & 15) - offset);
    }
  }
}

// ---- Q6_K ----
// Value v (0..255) of a super-block: half n = v / 128, and within it k = (v / 32) % 4, l = v % 32:
//   q = ((ql[64n + 32 (k & 1) + l] >> 4 (k >> 1)) & 15) | (((qh[32n + l] >> 2k) & 3) << 4)
// with scale scales[8n + 2k + l / 16] (ggml's dequantize_row_q6_K: q1..q4 are k = 0..3).

/** q - 32 of value l of 32-block k (0..7) of the super-block at p. */
// @ts-ignore: decorator
@inline function sixBitQ(p: usize, k: i32, l: i32): i32 {
  const n = k >> 2, kk = k & 3;
  const lo = (<i32>load<u8>(p + <usize>(64 * n + 32 * (kk & 1) + l)) >> ((kk >> 1) << 2)) & 15;
  const hi = (<i32>load<u8>(p + 128 + <usize>(32 * n + l)) >> (kk << 1)) & 3;
  return (lo | (hi << 4)) - 32;
}

/** 16 values q - 32 (i8) of 32-block k, values l0..l0+15 (l0 = 0 or 16), SIMD. */
// @ts-ignore: decorator
@inline function sixBit16(p: usize, k: i32, l0: i32): v128 {
  const n = k >> 2, kk = k & 3;
  const lo = v128.and(i8x16.shr_u(v128.load(p + <usize>(64 * n + 32 * (kk & 1) + l0)), <u32>((kk >> 1) << 2)), i8x16.splat(15));
  const hi = i8x16.shl(v128.and(i8x16.shr_u(v128.load(p + 128 + <usize>(32 * n + l0)), <u32>(kk << 1)), i8x16.splat(3)), 4);
  return i8x16.sub(v128.or(lo, hi), i8x16.splat(32));
}

/** sum of the 4 i32 lanes */
// @ts-ignore: decorator
@inline function lanes(s: v128): i32 {
  return (i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1)) + (i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3));
}

/** scales[2k] * T0 + scales[2k+1] * T1 of Q6_K 32-block k against i16 activations at xb; `simd` picks the kernel. */
// @ts-ignore: decorator
@inline function blockDotQ6_K(p: usize, k: i32, xb: usize, simd: bool): i32 {
  const sc = p + 192 + <usize>(8 * (k >> 2) + 2 * (k & 3));
  let t0: i32 = 0, t1: i32 = 0;
  if (simd) {
    const a = sixBit16(p, k, 0);
    const b = sixBit16(p, k, 16);
    t0 = lanes(i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), v128.load(xb)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), v128.load(xb, 16))));
    t1 = lanes(i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(b), v128.load(xb, 32)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(b), v128.load(xb, 48))));
  } else {
    for (let l = 0; l < 16; l++) t0 += sixBitQ(p, k, l) * <i32>load<i16>(xb + (<usize>l << 1));
    for (let l = 16; l < 32; l++) t1 += sixBitQ(p, k, l) * <i32>load<i16>(xb + (<usize>l << 1));
  }
  return <i32>load<i8>(sc) * t0 + <i32>load<i8>(sc, 1) * t1;
}

// @ts-ignore: decorator
@inline function dotRowQ6_K(w: usize, nsb: i32, xq: usize, xs: usize, simd: bool): f32 {
  let acc: f32 = 0;
  for (let sb = 0; sb < nsb; sb++) {
    const p = w + <usize>sb * Q6K;
    const d = halfBitsToF32(load<u16>(p, 208));
    for (let k = 0; k < 8; k++) {
      const b = (sb << 3) + k;
      acc += <f32>blockDotQ6_K(p, k, xq + (<usize>b << 6), simd) * (d * load<f32>(xs + (<usize>b << 2)));
    }
  }
  return acc;
}

/** out[r] = dot(W[r, :], x) for a Q6_K matrix [rows x cols] (cols a multiple of 256). */
export function matvecQ6_K(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const xq = quantizeXQ8(x, cols);
  const xs = xq + (<usize>(cols >> 5) << 6);
  const rowBytes = q6_KRowBytes(cols);
  for (let r = 0; r < rows; r++) store<f32>(out + (<usize>r << 2), dotRowQ6_K(w + <usize>r * rowBytes, cols / QK_K, xq, xs, true));
}

/** Scalar reference for matvecQ6_K (same quantized x, same order). */
export function matvecQ6_KScalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const xq = quantizeXQ8(x, cols);
  const xs = xq + (<usize>(cols >> 5) << 6);
  const rowBytes = q6_KRowBytes(cols);
  for (let r = 0; r < rows; r++) store<f32>(out + (<usize>r << 2), dotRowQ6_K(w + <usize>r * rowBytes, cols / QK_K, xq, xs, false));
}

/** Listed rows only (CATS's W_up), as matvecQ6_K per row. */
export function matvecRowsQ6_K(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  const xq = quantizeXQ8(x, cols);
  const xs = xq + (<usize>(cols >> 5) << 6);
  const rowBytes = q6_KRowBytes(cols);
  for (let k = 0; k < nRows; k++) {
    store<f32>(out + (<usize>k << 2), dotRowQ6_K(w + <usize>load<u32>(rowIdx + (<usize>k << 2)) * rowBytes, cols / QK_K, xq, xs, true));
  }
}

/** Row r dequantized into out, as ggml's dequantize_row_q6_K: (d * scale) * (q - 32). */
export function dequantRowQ6_K(out: usize, w: usize, r: i32, cols: i32): void {
  const nsb = cols / QK_K;
  const row = w + <usize>r * q6_KRowBytes(cols);
  for (let sb = 0; sb < nsb; sb++) {
    const p = row + <usize>sb * Q6K;
    const d = halfBitsToF32(load<u16>(p, 208));
    for (let k = 0; k < 8; k++) {
      const sc = p + 192 + <usize>(8 * (k >> 2) + 2 * (k & 3));
      const o = out + (<usize>(sb * QK_K + k * 32) << 2);
      for (let l = 0; l < 32; l++) store<f32>(o + (<usize>l << 2), d * <f32>load<i8>(sc + <usize>(l >> 4)) * <f32>sixBitQ(p, k, l));
    }
  }
}
