// k-quant kernels on ggml's super-blocks of 256 values exactly as a GGUF file stores them
// (row-major, each row cols / 256 super-blocks back to back; ggml-quants.c is the reference for
// the layouts, read in the dequantRow* functions below). Q4_K and Q6_K here; Q5_K, Q2_K and Q3_K
// in their own sections at the end, on the same scheme.
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
import { halfBitsToF32, loadHalves4 } from "./half";
import { quantizeXQ8, reduce4 } from "./q8";
import { blockSums, gatherPlanQ4, gatherPlanScratchQ4, runEndQ4, storeQuarters } from "./q4";

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

// ---- four rows per pass (the SIMD matvecs): lanes are rows ----
// Each 32-block's x is loaded once for four rows; their four T side by side (reduce4); their
// scales, mins and d decoded in SIMD and transposed to one vector per sub-block (lanes = rows,
// kept in a small static scratch for the pass's super-block); the f32 step for four rows at once,
// lane by lane the scalar reference's operations in its order.

/** Per super-block of a four-row pass: 16 i32x4 vectors (Q4_K: sc[j] then m[j]; Q6_K: scales[i]). */
const rowScales = memory.data(16 * 16, 16);

/** [sc0..sc7, m0..m7] (bytes) of the 12 packed bytes at s (ggml's get_scale_min_k4 for every j); reads 16 bytes. */
// @ts-ignore: decorator
@inline function q4KScalesMins(s: usize): v128 {
  const v = v128.load(s);
  const a = i8x16.swizzle(v, i8x16(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
  const low = v128.or(
    v128.and(a, i8x16(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0)),
    v128.and(i8x16.shr_u(a, 4), i8x16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15)),
  );
  // the top two bits of sc[4..7] and m[4..7] (out-of-range swizzle lanes give 0)
  const top = i8x16.swizzle(v, i8x16(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
  return v128.or(low, i8x16.shl(i8x16.shr_u(top, 6), 4));
}

/**
 * Four rows' 16 bytes each (r0..r3) transposed into 16 i32x4 vectors at rowScales (vector i holds
 * byte i of the four rows), zero- or sign-extended.
 */
// @ts-ignore: decorator
@inline function transposeBytes4(r0: v128, r1: v128, r2: v128, r3: v128, signed: bool): void {
  const abLo = i8x16.shuffle(r0, r1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const abHi = i8x16.shuffle(r0, r1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const cdLo = i8x16.shuffle(r2, r3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const cdHi = i8x16.shuffle(r2, r3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  widenBytes4(rowScales, i8x16.shuffle(abLo, cdLo, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), signed);
  widenBytes4(rowScales + 64, i8x16.shuffle(abLo, cdLo, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), signed);
  widenBytes4(rowScales + 128, i8x16.shuffle(abHi, cdHi, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), signed);
  widenBytes4(rowScales + 192, i8x16.shuffle(abHi, cdHi, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), signed);
}

/** The 16 bytes of v as four i32x4 (bytes 0-3, 4-7, ...) stored at dst. */
// @ts-ignore: decorator
@inline function widenBytes4(dst: usize, v: v128, signed: bool): void {
  const lo = signed ? i16x8.extend_low_i8x16_s(v) : i16x8.extend_low_i8x16_u(v);
  const hi = signed ? i16x8.extend_high_i8x16_s(v) : i16x8.extend_high_i8x16_u(v);
  v128.store(dst, signed ? i32x4.extend_low_i16x8_s(lo) : i32x4.extend_low_i16x8_u(lo));
  v128.store(dst, signed ? i32x4.extend_high_i16x8_s(lo) : i32x4.extend_high_i16x8_u(lo), 16);
  v128.store(dst, signed ? i32x4.extend_low_i16x8_s(hi) : i32x4.extend_low_i16x8_u(hi), 32);
  v128.store(dst, signed ? i32x4.extend_high_i16x8_s(hi) : i32x4.extend_high_i16x8_u(hi), 48);
}

/** Partial sums (4 lanes) of 32 unsigned 4-bit q (q0: values 0-15, q1: 16-31, one per byte) times the 32 i16 x0..x3. */
// @ts-ignore: decorator
@inline function nibbleDot(q0: v128, q1: v128, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(q0), x0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(q0), x1)),
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(q1), x2), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(q1), x3)),
  );
}

/** The 32 nibbles (low or high) of the 32 bytes at q, times x0..x3. */
// @ts-ignore: decorator
@inline function halfDot(q: usize, high: bool, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const a = v128.load(q), b = v128.load(q, 16);
  const mask = i8x16.splat(15);
  return high ? nibbleDot(i8x16.shr_u(a, 4), i8x16.shr_u(b, 4), x0, x1, x2, x3) : nibbleDot(v128.and(a, mask), v128.and(b, mask), x0, x1, x2, x3);
}

/** Q4_K sub-block j of four rows (super-blocks at p0..p3): acc + their f32 steps (lanes = rows). */
// @ts-ignore: decorator
@inline function subStep4Q4_K(acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, j: i32, b: i32, xq: usize, xs: usize, s: usize, d: v128, dmin: v128): v128 {
  const xb = xq + (<usize>b << 6);
  const x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
  const q: usize = 16 + (<usize>(j >> 1) << 5);
  const high = (j & 1) != 0;
  let t: v128;
  if (high) t = reduce4(halfDot(p0 + q, true, x0, x1, x2, x3), halfDot(p1 + q, true, x0, x1, x2, x3), halfDot(p2 + q, true, x0, x1, x2, x3), halfDot(p3 + q, true, x0, x1, x2, x3));
  else t = reduce4(halfDot(p0 + q, false, x0, x1, x2, x3), halfDot(p1 + q, false, x0, x1, x2, x3), halfDot(p2 + q, false, x0, x1, x2, x3), halfDot(p3 + q, false, x0, x1, x2, x3));
  const sc = v128.load(rowScales + (<usize>j << 4));
  const m = v128.load(rowScales + (<usize>(j + 8) << 4));
  const scaled = f32x4.mul(f32x4.convert_i32x4_s(i32x4.mul(sc, t)), d);
  const offset = f32x4.mul(f32x4.convert_i32x4_s(i32x4.mul(m, i32x4.splat(load<i32>(s + (<usize>b << 2))))), dmin);
  return f32x4.add(acc, f32x4.mul(f32x4.sub(scaled, offset), v128.load32_splat(xs + (<usize>b << 2))));
}

/** out[r] = dot(W[r, :], x) for a Q4_K matrix [rows x cols] (cols a multiple of 256). */
export function matvecQ4_K(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const xq = quantizeXQ8(x, cols);
  matvecQ4_KQuantized(out, w, xq, blockSums(xq, cols >> 5), rows, cols);
}

/**
 * matvecQ4_K on an x already quantized by quantizeXQ8, with its block sums S: four rows per pass
 * (above), the rest one by one. Each row's result depends only on its own super-blocks, so any
 * range of rows can run alone (the batched kernel's pieces).
 */
export function matvecQ4_KQuantized(out: usize, w: usize, xq: usize, s: usize, rows: i32, cols: i32): void {
  matvecQx_KQuantized(out, w, xq, s, rows, cols, false);
}

/**
 * Q4_K and Q5_K rows four per pass, four streams a quarter of the matrix apart (the same d, dmin
 * and 6-bit scales and mins per super-block); `fiveBit` (a constant at each call, so the inlined
 * copy keeps one branch) picks Q5_K's super-blocks with their fifth bits.
 */
// @ts-ignore: decorator
@inline function matvecQx_KQuantized(out: usize, w: usize, xq: usize, s: usize, rows: i32, cols: i32, fiveBit: bool): void {
  const nb = cols >> 5;
  const nsb = cols / QK_K;
  const xs = xq + (<usize>nb << 6);
  const rowBytes = fiveBit ? q5_KRowBytes(cols) : q4_KRowBytes(cols);
  const superBytes = fiveBit ? Q5K : Q4K;
  // four streams a quarter of the matrix apart (each sequential for the prefetchers), then the rest
  const quarter = rows >> 2;
  const rows4 = quarter << 2;
  const streamGap = <usize>quarter * rowBytes;
  for (let r = 0; r < quarter; r++) {
    let p0 = w + <usize>r * rowBytes;
    let p1 = p0 + streamGap, p2 = p1 + streamGap, p3 = p2 + streamGap;
    let acc = f32x4.splat(0);
    for (let sb = 0; sb < nsb; sb++) {
      const d = loadHalves4(p0, p1, p2, p3);
      const dmin = loadHalves4(p0 + 2, p1 + 2, p2 + 2, p3 + 2);
      transposeBytes4(q4KScalesMins(p0 + 4), q4KScalesMins(p1 + 4), q4KScalesMins(p2 + 4), q4KScalesMins(p3 + 4), false);
      if (fiveBit) {
        for (let j = 0; j < 8; j++) acc = subStep4Q5_K(acc, p0, p1, p2, p3, j, (sb << 3) + j, xq, xs, s, d, dmin);
      } else {
        for (let j = 0; j < 8; j += 2) {
          acc = subStep4Q4_K(acc, p0, p1, p2, p3, j, (sb << 3) + j, xq, xs, s, d, dmin);
          acc = subStep4Q4_K(acc, p0, p1, p2, p3, j + 1, (sb << 3) + j + 1, xq, xs, s, d, dmin);
        }
      }
      p0 += superBytes;
      p1 += superBytes;
      p2 += superBytes;
      p3 += superBytes;
    }
    storeQuarters(out, r, quarter, acc);
  }
  for (let r = rows4; r < rows; r++) store<f32>(out + (<usize>r << 2), fiveBit ? dotRowQ5_K(w + <usize>r * rowBytes, nsb, xq, xs, s, true) : dotRowQ4_K(w + <usize>r * rowBytes, nsb, xq, xs, s, true));
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

/** Q6_K 32-block k of four rows (super-blocks at p0..p3): acc + f32(scales[2k] T0 + scales[2k+1] T1) * (d * xs[b]), lanes = rows. */
// @ts-ignore: decorator
@inline function blockStep4Q6_K(acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, k: i32, b: i32, xq: usize, xs: usize, d: v128): v128 {
  const xb = xq + (<usize>b << 6);
  const x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
  const t0 = reduce4(sixBitDot(p0, k, 0, x0, x1), sixBitDot(p1, k, 0, x0, x1), sixBitDot(p2, k, 0, x0, x1), sixBitDot(p3, k, 0, x0, x1));
  const t1 = reduce4(sixBitDot(p0, k, 16, x2, x3), sixBitDot(p1, k, 16, x2, x3), sixBitDot(p2, k, 16, x2, x3), sixBitDot(p3, k, 16, x2, x3));
  const sc = rowScales + (<usize>k << 5);
  const v = i32x4.add(i32x4.mul(v128.load(sc), t0), i32x4.mul(v128.load(sc, 16), t1));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(v), f32x4.mul(d, v128.load32_splat(xs + (<usize>b << 2)))));
}

/** Partial sums of the 16 values q - 32 at l0 of 32-block k times the 16 i16 xa, xb. */
// @ts-ignore: decorator
@inline function sixBitDot(p: usize, k: i32, l0: i32, xa: v128, xb: v128): v128 {
  const a = sixBit16(p, k, l0);
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), xa), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), xb));
}

/** out[r] = dot(W[r, :], x) for a Q6_K matrix [rows x cols] (cols a multiple of 256). */
export function matvecQ6_K(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  matvecQ6_KQuantized(out, w, quantizeXQ8(x, cols), rows, cols);
}

/** matvecQ6_K on an x already quantized by quantizeXQ8: four rows per pass (above), the rest one by one; rows independent. */
export function matvecQ6_KQuantized(out: usize, w: usize, xq: usize, rows: i32, cols: i32): void {
  const nsb = cols / QK_K;
  const xs = xq + (<usize>(cols >> 5) << 6);
  const rowBytes = q6_KRowBytes(cols);
  // four streams a quarter of the matrix apart (each sequential for the prefetchers), then the rest
  const quarter = rows >> 2;
  const rows4 = quarter << 2;
  const streamGap = <usize>quarter * rowBytes;
  for (let r = 0; r < quarter; r++) {
    let p0 = w + <usize>r * rowBytes;
    let p1 = p0 + streamGap, p2 = p1 + streamGap, p3 = p2 + streamGap;
    let acc = f32x4.splat(0);
    for (let sb = 0; sb < nsb; sb++) {
      const d = loadHalves4(p0 + 208, p1 + 208, p2 + 208, p3 + 208);
      transposeBytes4(v128.load(p0, 192), v128.load(p1, 192), v128.load(p2, 192), v128.load(p3, 192), true);
      for (let k = 0; k < 8; k++) acc = blockStep4Q6_K(acc, p0, p1, p2, p3, k, (sb << 3) + k, xq, xs, d);
      p0 += Q6K;
      p1 += Q6K;
      p2 += Q6K;
      p3 += Q6K;
    }
    storeQuarters(out, r, quarter, acc);
  }
  for (let r = rows4; r < rows; r++) store<f32>(out + (<usize>r << 2), dotRowQ6_K(w + <usize>r * rowBytes, nsb, xq, xs, true));
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

// ---- input-major Q4_K: out = sum over kept j of x[j] * W[:, j], W a Q4_K matrix [nOut x nIn] ----
//
// The file's Q4_K values transposed so that input j's nOut values are contiguous and a pruned
// input is never read, every value kept exactly (w = d * sc * q - dmin * m as in the file):
//   quants  u8[nIn * colBytes]       column j at wT + j * colBytes, colBytes = ceil(nOut / 32) * 16:
//           per tile of 32 outputs 16 bytes, output 32t + i in byte i's low nibble, 32t + 16 + i in
//           its high nibble (padding outputs 0); the nibble is the file's q
//   sc, m   u8[nbIn * nOut] each      the 6-bit scale and min of (32-input sub-block, output), block
//           jb's nOut together, at q4_KInScales / + nbIn * nOut
//   d, dmin f32[nsbIn * nOut] each    of (256-input super-block, output), at q4_KInSuper / +
//           nsbIn * nOut * 4: the file's f16 values widened (exact; any f16, no decode in the kernel)
// 4 bits + 16 bits per 32 + 64 bits per 256 = 4.75 bits per weight when every column is kept.
// Bytes read for a kept list: colBytes per kept column, 2 * nOut per run (its sub-block's sc and m),
// 8 * nOut per touched super-block (its d and dmin).
//
// Runs (kept entries in one 32-input sub-block) as gatherColumnsQ4_0, x quantized per run (xq,
// scale xd), S = sum of the run's xq, and per output
//   out[o] = out[o] + (f32(sc * T) * d - f32(m * S) * dmin) * xd,  T = sum over the run of q * xq
// over the runs in list order (the row-major kernel's step; the bounds above make both exact).

/** Bytes of one column of an input-major Q4_K matrix with nOut outputs (whole tiles of 32). */
// @ts-ignore: decorator
@inline export function q4_KInColumnBytes(nOut: i32): usize {
  return <usize>((nOut + 31) >> 5) << 4;
}

/** Where the sc bytes of an input-major Q4_K matrix start (after the quants); the m bytes follow them. */
// @ts-ignore: decorator
@inline export function q4_KInScales(wT: usize, nIn: i32, nOut: i32): usize {
  return wT + <usize>nIn * q4_KInColumnBytes(nOut);
}

/** Where the f32 d of an input-major Q4_K matrix start (4-byte aligned after sc and m); dmin follow them. */
// @ts-ignore: decorator
@inline export function q4_KInSuper(wT: usize, nIn: i32, nOut: i32): usize {
  return (q4_KInScales(wT, nIn, nOut) + 2 * <usize>(nIn >> 5) * <usize>nOut + 3) & ~(<usize>3);
}

/** Bytes of an input-major Q4_K matrix (nIn a multiple of 256). */
export function q4_KInBytes(nIn: i32, nOut: i32): usize {
  return q4_KInSuper(0, nIn, nOut) + 8 * <usize>(nIn / QK_K) * <usize>nOut;
}

/** Weight bytes gatherColumnsQ4_K reads for this kept list. */
export function gatherBytesQ4_K(idx: usize, nKept: i32, nOut: i32): f64 {
  let runs = 0, supers = 0;
  let lastSuper: i32 = -1;
  for (let k = 0; k < nKept; k = runEndQ4(idx, k, nKept)) {
    runs++;
    const sb = <i32>(load<u32>(idx + (<usize>k << 2)) >> 8);
    if (sb != lastSuper) supers++;
    lastSuper = sb;
  }
  return <f64>nKept * <f64>q4_KInColumnBytes(nOut) + 2.0 * <f64>runs * <f64>nOut + 8.0 * <f64>supers * <f64>nOut;
}

/** out[o..o+4) += (f32(sc * t) * d - f32(m * S) * dmin) * xd for four outputs. */
// @ts-ignore: decorator
@inline function flushK4(out: usize, o: usize, t: v128, sc: usize, m: usize, d: usize, dmin: usize, sv: v128, xdv: v128): void {
  const scv = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(sc + o)));
  const mv = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(m + o)));
  const a = f32x4.mul(f32x4.convert_i32x4_s(i32x4.mul(scv, t)), v128.load(d + (o << 2)));
  const b = f32x4.mul(f32x4.convert_i32x4_s(i32x4.mul(mv, sv)), v128.load(dmin + (o << 2)));
  const p = out + (o << 2);
  v128.store(p, f32x4.add(v128.load(p), f32x4.mul(f32x4.sub(a, b), xdv)));
}

/** The scalar step of output o: T over the run's entries [k, e), then the f32 update (the SIMD tail's and the reference's). */
// @ts-ignore: decorator
@inline function stepK(out: usize, wT: usize, colBytes: usize, idx: usize, plan: usize, nKept: i32, k: i32, e: i32, o: i32, sc: usize, m: usize, d: usize, dmin: usize, xd: f32): void {
  const byte = <usize>((o >> 5) << 4) + <usize>(o & 15);
  const shift = (o & 16) >> 2;
  let t: i32 = 0;
  for (let i = k; i < e; i++) {
    const col = wT + <usize>load<u32>(idx + (<usize>i << 2)) * colBytes;
    t += ((<i32>load<u8>(col + byte) >> shift) & 15) * load<i32>(plan + (<usize>i << 2));
  }
  const ou = <usize>o;
  const s = load<i32>(plan + (<usize>(2 * nKept + k) << 2));
  const term = <f32>(<i32>load<u8>(sc + ou) * t) * load<f32>(d + (ou << 2)) - <f32>(<i32>load<u8>(m + ou) * s) * load<f32>(dmin + (ou << 2));
  const p = out + (ou << 2);
  store<f32>(p, load<f32>(p) + term * xd);
}

/** Where the sc row of input j's sub-block starts (its m row is nbIn * nOut bytes on). */
// @ts-ignore: decorator
@inline function scRow(wT: usize, j: usize, nIn: i32, nOut: i32): usize {
  return q4_KInScales(wT, nIn, nOut) + (j >> 5) * <usize>nOut;
}

/** Where the f32 d row of input j's super-block starts (its dmin row is nsbIn * nOut floats on). */
// @ts-ignore: decorator
@inline function dRow(wT: usize, j: usize, nIn: i32, nOut: i32): usize {
  return q4_KInSuper(wT, nIn, nOut) + (((j >> 8) * <usize>nOut) << 2);
}

/** Column gather on an input-major Q4_K matrix [nIn x nOut] (layout above), x quantized per run. */
export function gatherColumnsQ4_K(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32): void {
  const plan = gatherPlanScratchQ4(nKept);
  gatherPlanQ4(plan, x, idx, nKept);
  memory.fill(out, 0, <usize>nOut << 2);
  gatherSweepQ4_K(out, wT, plan, idx, nKept, nIn, nOut, 0, nOut);
}

/** Adds outputs [from, to) (from a multiple of 32) of the gather planned at plan (q4.ts gatherPlanQ4) to out, runs in list order. */
export function gatherSweepQ4_K(out: usize, wT: usize, plan: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32, from: i32, to: i32): void {
  const colBytes = q4_KInColumnBytes(nOut);
  const full = min(to, nOut & ~31);
  let k = 0;
  while (k < nKept) {
    const e = runEndQ4(idx, k, nKept);
    const xd = load<f32>(plan + (<usize>(nKept + k) << 2));
    const j = <usize>load<u32>(idx + (<usize>k << 2));
    const sc = scRow(wT, j, nIn, nOut), m = sc + <usize>(nIn >> 5) * <usize>nOut;
    const d = dRow(wT, j, nIn, nOut), dmin = d + ((<usize>(nIn >> 8) * <usize>nOut) << 2);
    const sv = i32x4.splat(load<i32>(plan + (<usize>(2 * nKept + k) << 2)));
    const xdv = f32x4.splat(xd);
    for (let o = from; o < full; o += 32) {
      const tile = <usize>(o >> 5) << 4;
      let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
      let a4 = i32x4.splat(0), a5 = i32x4.splat(0), a6 = i32x4.splat(0), a7 = i32x4.splat(0);
      for (let i = k; i < e; i += 2) {
        const two = i + 1 < e;
        const ca = wT + <usize>load<u32>(idx + (<usize>i << 2)) * colBytes + tile;
        const cb = two ? wT + <usize>load<u32>(idx + (<usize>(i + 1) << 2)) * colBytes + tile : ca;
        const xa = load<i32>(plan + (<usize>i << 2));
        const xb = two ? load<i32>(plan + (<usize>(i + 1) << 2)) : 0;
        const xp = i32x4.splat((xb << 16) | (xa & 0xffff));
        const va = v128.load(ca), vb = v128.load(cb);
        const mask = i8x16.splat(15);
        const la = v128.and(va, mask), lb = v128.and(vb, mask); // outputs o .. o+15
        const ha = i8x16.shr_u(va, 4), hb = i8x16.shr_u(vb, 4); // outputs o+16 .. o+31
        const l0 = i8x16.shuffle(la, lb, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const l1 = i8x16.shuffle(la, lb, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        const h0 = i8x16.shuffle(ha, hb, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const h1 = i8x16.shuffle(ha, hb, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(l0), xp));
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(l0), xp));
        a2 = i32x4.add(a2, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(l1), xp));
        a3 = i32x4.add(a3, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(l1), xp));
        a4 = i32x4.add(a4, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(h0), xp));
        a5 = i32x4.add(a5, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(h0), xp));
        a6 = i32x4.add(a6, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(h1), xp));
        a7 = i32x4.add(a7, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(h1), xp));
      }
      const ou = <usize>o;
      flushK4(out, ou, a0, sc, m, d, dmin, sv, xdv);
      flushK4(out, ou + 4, a1, sc, m, d, dmin, sv, xdv);
      flushK4(out, ou + 8, a2, sc, m, d, dmin, sv, xdv);
      flushK4(out, ou + 12, a3, sc, m, d, dmin, sv, xdv);
      flushK4(out, ou + 16, a4, sc, m, d, dmin, sv, xdv);
      flushK4(out, ou + 20, a5, sc, m, d, dmin, sv, xdv);
      flushK4(out, ou + 24, a6, sc, m, d, dmin, sv, xdv);
      flushK4(out, ou + 28, a7, sc, m, d, dmin, sv, xdv);
    }
    for (let o = max(from, full); o < to; o++) stepK(out, wT, colBytes, idx, plan, nKept, k, e, o, sc, m, d, dmin, xd);
    k = e;
  }
}

/** Scalar reference for gatherColumnsQ4_K (same runs, same quantized x, same f32 order). */
export function gatherColumnsQ4_KScalar(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32): void {
  const colBytes = q4_KInColumnBytes(nOut);
  const plan = gatherPlanScratchQ4(nKept);
  gatherPlanQ4(plan, x, idx, nKept);
  memory.fill(out, 0, <usize>nOut << 2);
  let k = 0;
  while (k < nKept) {
    const e = runEndQ4(idx, k, nKept);
    const xd = load<f32>(plan + (<usize>(nKept + k) << 2));
    const j = <usize>load<u32>(idx + (<usize>k << 2));
    const sc = scRow(wT, j, nIn, nOut), m = sc + <usize>(nIn >> 5) * <usize>nOut;
    const d = dRow(wT, j, nIn, nOut), dmin = d + ((<usize>(nIn >> 8) * <usize>nOut) << 2);
    for (let o = 0; o < nOut; o++) stepK(out, wT, colBytes, idx, plan, nKept, k, e, o, sc, m, d, dmin, xd);
    k = e;
  }
}

// ---- Q5_K, row-major (DTYPE_Q5_K), 176 bytes: f16 d, f16 dmin, 12 bytes of scales/mins (packed as
// Q4_K's), qh[32], qs[128]. Sub-block j's value l (0..31) is q = nibble | (bit j of qh[l]) << 4, the
// nibble the low (j even) or high (j odd) one of qs[32 (j >> 1) + l]; value = d * sc[j] * q - dmin * m[j]
// (ggml's dequantize_row_q5_K). The Q4_K step, T over 5-bit q: |sc * T| <= 63 * 32 * 31 * 127 < 2^23, exact.

const Q5K: usize = 176;

// @ts-ignore: decorator
@inline export function q5_KRowBytes(n: i32): usize {
  return <usize>(n / QK_K) * Q5K;
}

/** q of value l of Q5_K sub-block j of the super-block at p (scalar). */
// @ts-ignore: decorator
@inline function fiveBitQ(p: usize, j: i32, l: i32): i32 {
  const nibble = (<i32>load<u8>(p + 48 + <usize>(32 * (j >> 1) + l)) >> ((j & 1) << 2)) & 15;
  return nibble | (((<i32>load<u8>(p + 16 + <usize>l) >> j) & 1) << 4);
}

/** Partial sums (4 lanes) of Q5_K sub-block j of the super-block at p times x0..x3 (SIMD). */
// @ts-ignore: decorator
@inline function subDotQ5_K(p: usize, j: i32, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const ql = p + 48 + (<usize>(j >> 1) << 5);
  const shift = <u32>((j & 1) << 2);
  const mask = i8x16.splat(15), one = i8x16.splat(1);
  const a = v128.or(v128.and(i8x16.shr_u(v128.load(ql), shift), mask), i8x16.shl(v128.and(i8x16.shr_u(v128.load(p, 16), <u32>j), one), 4));
  const b = v128.or(v128.and(i8x16.shr_u(v128.load(ql, 16), shift), mask), i8x16.shl(v128.and(i8x16.shr_u(v128.load(p, 32), <u32>j), one), 4));
  return nibbleDot(a, b, x0, x1, x2, x3);
}

/** One Q5_K row (nsb super-blocks at w) against the quantized x; `simd` picks the T kernel (a compile-time constant). */
// @ts-ignore: decorator
@inline function dotRowQ5_K(w: usize, nsb: i32, xq: usize, xs: usize, s: usize, simd: bool): f32 {
  let acc: f32 = 0;
  for (let sb = 0; sb < nsb; sb++) {
    const p = w + <usize>sb * Q5K;
    const d = halfBitsToF32(load<u16>(p));
    const dmin = halfBitsToF32(load<u16>(p, 2));
    for (let j = 0; j < 8; j++) {
      const b = (sb << 3) + j;
      const xb = xq + (<usize>b << 6);
      let t: i32 = 0;
      if (simd) t = lanes(subDotQ5_K(p, j, v128.load(xb), v128.load(xb, 16), v128.load(xb, 32), v128.load(xb, 48)));
      else for (let l = 0; l < 32; l++) t += fiveBitQ(p, j, l) * <i32>load<i16>(xb + (<usize>l << 1));
      const term = <f32>(q4KScale(p + 4, j) * t) * d - <f32>(q4KMin(p + 4, j) * load<i32>(s + (<usize>b << 2))) * dmin;
      acc += term * load<f32>(xs + (<usize>b << 2));
    }
  }
  return acc;
}

/** Q5_K sub-block j of four rows: acc + their f32 steps (lanes = rows; sc, m of the pass's super-block at rowScales). */
// @ts-ignore: decorator
@inline function subStep4Q5_K(acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, j: i32, b: i32, xq: usize, xs: usize, s: usize, d: v128, dmin: v128): v128 {
  const xb = xq + (<usize>b << 6);
  const x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
  const t = reduce4(subDotQ5_K(p0, j, x0, x1, x2, x3), subDotQ5_K(p1, j, x0, x1, x2, x3), subDotQ5_K(p2, j, x0, x1, x2, x3), subDotQ5_K(p3, j, x0, x1, x2, x3));
  const scaled = f32x4.mul(f32x4.convert_i32x4_s(i32x4.mul(v128.load(rowScales + (<usize>j << 4)), t)), d);
  const offset = f32x4.mul(f32x4.convert_i32x4_s(i32x4.mul(v128.load(rowScales + (<usize>(j + 8) << 4)), i32x4.splat(load<i32>(s + (<usize>b << 2))))), dmin);
  return f32x4.add(acc, f32x4.mul(f32x4.sub(scaled, offset), v128.load32_splat(xs + (<usize>b << 2))));
}

/** out[r] = dot(W[r, :], x) for a Q5_K matrix [rows x cols] (cols a multiple of 256). */
export function matvecQ5_K(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const xq = quantizeXQ8(x, cols);
  matvecQ5_KQuantized(out, w, xq, blockSums(xq, cols >> 5), rows, cols);
}

/** matvecQ5_K on an x quantized by quantizeXQ8 with its block sums: four rows per pass as Q4_K's, the rest one by one; rows independent. */
export function matvecQ5_KQuantized(out: usize, w: usize, xq: usize, s: usize, rows: i32, cols: i32): void {
  matvecQx_KQuantized(out, w, xq, s, rows, cols, true);
}

/** Scalar reference for matvecQ5_K (same quantized x, same order). */
export function matvecQ5_KScalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const xq = quantizeXQ8(x, cols);
  const s = blockSums(xq, cols >> 5);
  const rowBytes = q5_KRowBytes(cols);
  for (let r = 0; r < rows; r++) store<f32>(out + (<usize>r << 2), dotRowQ5_K(w + <usize>r * rowBytes, cols / QK_K, xq, xq + (<usize>(cols >> 5) << 6), s, false));
}

/** Listed rows only (CATS's W_up), as matvecQ5_K per row. */
export function matvecRowsQ5_K(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  const xq = quantizeXQ8(x, cols);
  const s = blockSums(xq, cols >> 5);
  const rowBytes = q5_KRowBytes(cols);
  for (let k = 0; k < nRows; k++) {
    store<f32>(out + (<usize>k << 2), dotRowQ5_K(w + <usize>load<u32>(rowIdx + (<usize>k << 2)) * rowBytes, cols / QK_K, xq, xq + (<usize>(cols >> 5) << 6), s, true));
  }
}

/** Row r dequantized into out, as ggml's dequantize_row_q5_K: (d * sc) * q - (dmin * m). */
export function dequantRowQ5_K(out: usize, w: usize, r: i32, cols: i32): void {
  const nsb = cols / QK_K;
  const row = w + <usize>r * q5_KRowBytes(cols);
  for (let sb = 0; sb < nsb; sb++) {
    const p = row + <usize>sb * Q5K;
    const d = halfBitsToF32(load<u16>(p));
    const dmin = halfBitsToF32(load<u16>(p, 2));
    for (let j = 0; j < 8; j++) {
      const scale = d * <f32>q4KScale(p + 4, j);
      const offset = dmin * <f32>q4KMin(p + 4, j);
      const o = out + (<usize>(sb * QK_K + j * 32) << 2);
      for (let l = 0; l < 32; l++) store<f32>(o + (<usize>l << 2), scale * <f32>fiveBitQ(p, j, l) - offset);
    }
  }
}

// ---- Q2_K and Q3_K, row-major (DTYPE_Q2_K, DTYPE_Q3_K), one row per pass ----
// Q2_K, 84 bytes: u8 scales[16] (low 4 bits scale, high 4 bits min), qs[64], f16 d at 80, f16 dmin at 82.
// Q3_K, 110 bytes: hmask[32], qs[64] at 32, 12 bytes of 16 signed 6-bit scales at 96, f16 d at 108.
// In both, 32-block k (0..7) of a super-block is half h = k >> 2, shift j = k & 3: its 32 values'
// low two bits are (qs[32h + i] >> 2j) & 3, i = 0..31, values i < 16 under scale 8h + 2j and the rest
// under 8h + 2j + 1 (ggml's dequantize_row_q2_K / q3_K); Q3_K's third bit is bit 4h + j of hmask[i],
// q = low | bit << 2, minus 4. With T0, T1 the halves' sums of q * xq and S0, S1 their sums of xq:
//   Q2_K: acc = acc + (f32(sc0 T0 + sc1 T1) * d - f32(m0 S0 + m1 S1) * dmin) * xs[b]
//   Q3_K: acc = acc + f32(sc0 T0 + sc1 T1) * d * xs[b]   (left to right: (f32(.) * d) * xs[b])
// all integers far below 2^24: exact, SIMD == scalar bit for bit. The SIMD kernel takes Q3_K's q + 4
// unsigned and subtracts 4 S (the same integer).

const Q2K: usize = 84;
const Q3K: usize = 110;

// @ts-ignore: decorator
@inline export function q2_KRowBytes(n: i32): usize {
  return <usize>(n / QK_K) * Q2K;
}

// @ts-ignore: decorator
@inline export function q3_KRowBytes(n: i32): usize {
  return <usize>(n / QK_K) * Q3K;
}

/** Q3_K's signed scale i (0..15) from the 12 packed bytes at s: 4 low bits, then 2 high bits, minus 32. */
// @ts-ignore: decorator
@inline function q3KScale(s: usize, i: i32): i32 {
  const low = i < 8 ? <i32>load<u8>(s + <usize>i) & 15 : <i32>load<u8>(s + <usize>(i - 8)) >> 4;
  const high = (<i32>load<u8>(s + 8 + <usize>(i & 3)) >> ((i >> 2) << 1)) & 3;
  return (low | (high << 4)) - 32;
}

/** Sum of the 16 i16 activations in a and b. */
// @ts-ignore: decorator
@inline function sum16(a: v128, b: v128): i32 {
  return lanes(i32x4.add(i32x4.extadd_pairwise_i16x8_s(a), i32x4.extadd_pairwise_i16x8_s(b)));
}

/** Sum over 16 unsigned q (bytes of v, < 128) times the 16 i16 activations a, b. */
// @ts-ignore: decorator
@inline function dot16(v: v128, a: v128, b: v128): i32 {
  return lanes(i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(v), a), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(v), b)));
}

/** One Q2_K row (nsb super-blocks at w) against the quantized x; `simd` picks the integer kernels (a compile-time constant). */
// @ts-ignore: decorator
@inline function dotRowQ2_K(w: usize, nsb: i32, xq: usize, xs: usize, simd: bool): f32 {
  let acc: f32 = 0;
  for (let sb = 0; sb < nsb; sb++) {
    const p = w + <usize>sb * Q2K;
    const d = halfBitsToF32(load<u16>(p, 80));
    const dmin = halfBitsToF32(load<u16>(p, 82));
    for (let k = 0; k < 8; k++) {
      const b = (sb << 3) + k;
      const xb = xq + (<usize>b << 6);
      const h = k >> 2, j = k & 3;
      const qs = p + 16 + (<usize>h << 5);
      let t0: i32 = 0, t1: i32 = 0, s0: i32 = 0, s1: i32 = 0;
      if (simd) {
        const x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
        const three = i8x16.splat(3);
        t0 = dot16(v128.and(i8x16.shr_u(v128.load(qs), <u32>(j << 1)), three), x0, x1);
        t1 = dot16(v128.and(i8x16.shr_u(v128.load(qs, 16), <u32>(j << 1)), three), x2, x3);
        s0 = sum16(x0, x1);
        s1 = sum16(x2, x3);
      } else {
        for (let i = 0; i < 32; i++) {
          const xi = <i32>load<i16>(xb + (<usize>i << 1));
          const q = (<i32>load<u8>(qs + <usize>i) >> (j << 1)) & 3;
          if (i < 16) {
            t0 += q * xi;
            s0 += xi;
          } else {
            t1 += q * xi;
            s1 += xi;
          }
        }
      }
      const sc0 = <i32>load<u8>(p + <usize>(8 * h + 2 * j)), sc1 = <i32>load<u8>(p + <usize>(8 * h + 2 * j + 1));
      const term = <f32>((sc0 & 15) * t0 + (sc1 & 15) * t1) * d - <f32>((sc0 >> 4) * s0 + (sc1 >> 4) * s1) * dmin;
      acc += term * load<f32>(xs + (<usize>b << 2));
    }
  }
  return acc;
}

/** One Q3_K row (nsb super-blocks at w) against the quantized x; `simd` picks the integer kernels (a compile-time constant). */
// @ts-ignore: decorator
@inline function dotRowQ3_K(w: usize, nsb: i32, xq: usize, xs: usize, simd: bool): f32 {
  let acc: f32 = 0;
  for (let sb = 0; sb < nsb; sb++) {
    const p = w + <usize>sb * Q3K;
    const d = halfBitsToF32(load<u16>(p, 108));
    for (let k = 0; k < 8; k++) {
      const b = (sb << 3) + k;
      const xb = xq + (<usize>b << 6);
      const h = k >> 2, j = k & 3;
      const qs = p + 32 + (<usize>h << 5);
      const bit = 4 * h + j;
      let t0: i32 = 0, t1: i32 = 0;
      if (simd) {
        const x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
        const three = i8x16.splat(3), one = i8x16.splat(1);
        const q0 = v128.or(v128.and(i8x16.shr_u(v128.load(qs), <u32>(j << 1)), three), i8x16.shl(v128.and(i8x16.shr_u(v128.load(p), <u32>bit), one), 2));
        const q1 = v128.or(v128.and(i8x16.shr_u(v128.load(qs, 16), <u32>(j << 1)), three), i8x16.shl(v128.and(i8x16.shr_u(v128.load(p, 16), <u32>bit), one), 2));
        t0 = dot16(q0, x0, x1) - (sum16(x0, x1) << 2);
        t1 = dot16(q1, x2, x3) - (sum16(x2, x3) << 2);
      } else {
        for (let i = 0; i < 32; i++) {
          const q = ((<i32>load<u8>(qs + <usize>i) >> (j << 1)) & 3) - ((<i32>load<u8>(p + <usize>i) >> bit) & 1 ? 0 : 4);
          const v = q * <i32>load<i16>(xb + (<usize>i << 1));
          if (i < 16) t0 += v;
          else t1 += v;
        }
      }
      const sc0 = q3KScale(p + 96, 8 * h + 2 * j), sc1 = q3KScale(p + 96, 8 * h + 2 * j + 1);
      acc += <f32>(sc0 * t0 + sc1 * t1) * d * load<f32>(xs + (<usize>b << 2));
    }
  }
  return acc;
}

/** Q2_K (three = false) or Q3_K rows on an x quantized by quantizeXQ8; rows independent (the batched kernel's pieces). */
// @ts-ignore: decorator
@inline function matvecLowBits(out: usize, w: usize, three: bool, xq: usize, rows: i32, cols: i32, simd: bool): void {
  const nsb = cols / QK_K;
  const xs = xq + (<usize>(cols >> 5) << 6);
  const rowBytes = three ? q3_KRowBytes(cols) : q2_KRowBytes(cols);
  for (let r = 0; r < rows; r++) {
    const row = w + <usize>r * rowBytes;
    store<f32>(out + (<usize>r << 2), three ? dotRowQ3_K(row, nsb, xq, xs, simd) : dotRowQ2_K(row, nsb, xq, xs, simd));
  }
}

/** Listed rows only (CATS's W_up) of a Q2_K/Q3_K matrix. */
// @ts-ignore: decorator
@inline function matvecRowsLowBits(out: usize, w: usize, three: bool, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  const nsb = cols / QK_K;
  const xq = quantizeXQ8(x, cols);
  const xs = xq + (<usize>(cols >> 5) << 6);
  const rowBytes = three ? q3_KRowBytes(cols) : q2_KRowBytes(cols);
  for (let k = 0; k < nRows; k++) {
    const row = w + <usize>load<u32>(rowIdx + (<usize>k << 2)) * rowBytes;
    store<f32>(out + (<usize>k << 2), three ? dotRowQ3_K(row, nsb, xq, xs, true) : dotRowQ2_K(row, nsb, xq, xs, true));
  }
}

/** out[r] = dot(W[r, :], x) for a Q2_K matrix [rows x cols] (cols a multiple of 256). */
export function matvecQ2_K(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  matvecLowBits(out, w, false, quantizeXQ8(x, cols), rows, cols, true);
}
export function matvecQ2_KQuantized(out: usize, w: usize, xq: usize, rows: i32, cols: i32): void {
  matvecLowBits(out, w, false, xq, rows, cols, true);
}
export function matvecQ2_KScalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  matvecLowBits(out, w, false, quantizeXQ8(x, cols), rows, cols, false);
}
export function matvecRowsQ2_K(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  matvecRowsLowBits(out, w, false, x, rowIdx, nRows, cols);
}

/** out[r] = dot(W[r, :], x) for a Q3_K matrix [rows x cols] (cols a multiple of 256). */
export function matvecQ3_K(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  matvecLowBits(out, w, true, quantizeXQ8(x, cols), rows, cols, true);
}
export function matvecQ3_KQuantized(out: usize, w: usize, xq: usize, rows: i32, cols: i32): void {
  matvecLowBits(out, w, true, xq, rows, cols, true);
}
export function matvecQ3_KScalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  matvecLowBits(out, w, true, quantizeXQ8(x, cols), rows, cols, false);
}
export function matvecRowsQ3_K(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  matvecRowsLowBits(out, w, true, x, rowIdx, nRows, cols);
}

/** Row r dequantized into out, as ggml's dequantize_row_q2_K: (d * sc) * q - (dmin * m). */
export function dequantRowQ2_K(out: usize, w: usize, r: i32, cols: i32): void {
  const nsb = cols / QK_K;
  const row = w + <usize>r * q2_KRowBytes(cols);
  for (let sb = 0; sb < nsb; sb++) {
    const p = row + <usize>sb * Q2K;
    const d = halfBitsToF32(load<u16>(p, 80));
    const dmin = halfBitsToF32(load<u16>(p, 82));
    for (let v = 0; v < QK_K; v++) {
      const sc = <i32>load<u8>(p + <usize>(v >> 4));
      const h = v >> 7, j = (v >> 5) & 3;
      const q = (<i32>load<u8>(p + 16 + <usize>(32 * h + (v & 31))) >> (j << 1)) & 3;
      store<f32>(out + (<usize>(sb * QK_K + v) << 2), (d * <f32>(sc & 15)) * <f32>q - dmin * <f32>(sc >> 4));
    }
  }
}

/** Row r dequantized into out, as ggml's dequantize_row_q3_K: (d * sc) * (q - 4 or q). */
export function dequantRowQ3_K(out: usize, w: usize, r: i32, cols: i32): void {
  const nsb = cols / QK_K;
  const row = w + <usize>r * q3_KRowBytes(cols);
  for (let sb = 0; sb < nsb; sb++) {
    const p = row + <usize>sb * Q3K;
    const d = halfBitsToF32(load<u16>(p, 108));
    for (let v = 0; v < QK_K; v++) {
      const h = v >> 7, j = (v >> 5) & 3, i = v & 31;
      const q = ((<i32>load<u8>(p + 32 + <usize>(32 * h + i)) >> (j << 1)) & 3) - ((<i32>load<u8>(p + <usize>i) >> (4 * h + j)) & 1 ? 0 : 4);
      store<f32>(out + (<usize>(sb * QK_K + v) << 2), (d * <f32>q3KScale(p + 96, v >> 4)) * <f32>q);
    }
  }
}
