// Q4_0 kernels. Row-major (DTYPE_Q4_0 on attention, LM head, embedding): ggml's blocks exactly as a
// GGUF file stores them; input-major (DTYPE_Q4_0 on the MLP matrices, which DIP gathers by
// column): the same values transposed, layout and kernel in the second half of this file.
//
// Row-major: each
// row is cols / 32 blocks of 18 bytes, f16 d then 16 bytes qs, where value i of the block is
// d * ((qs[i] & 15) - 8) and value i + 16 is d * ((qs[i] >> 4) - 8) (ggml's dequantize_row_q4_0).
//
// Integer dot products as the q8 kernels (q8.ts): x is quantized to int8 per block of 32 with one
// f32 scale (quantizeXQ8, the same blocks as the weights'), and per row
//   acc = acc + f32(T[r, b]) * (d[r, b] * xScale[b]),  T = sum over the block of (q - 8) * xq (i32)
// over the blocks in order. |T| <= 32 * 8 * 127 = 32,512: exact, so the SIMD kernel and its scalar
// reference agree bit for bit. The SIMD kernel takes four rows per pass, a quarter of the matrix
// apart (four sequential streams the hardware prefetchers follow; four adjacent rows measured
// 25% slower cold for Q5_0 and Q6_K), their four T side by side with reduce4, one convert and
// one multiply-add for all four.

import { QK4_0, Q4_0_BLOCK_BYTES, Q5_0_BLOCK_BYTES } from "../abi";
import { halfBitsToF32, loadHalves4 } from "./half";
import { quantizeXQ8, reduce4 } from "./q8";

const BLOCK = <usize>Q4_0_BLOCK_BYTES;

// ---- the per-32-block sums of the quantized x (the Q4_0 and Q5_0 offsets, Q4_K's min term) ----

let sums: usize = 0;
let sumsBlocks: i32 = 0;

/** S[b] = sum of block b's 32 quantized activations (i32 each), for nb blocks, in a kept scratch (valid until the next call). */
export function blockSums(xq: usize, nb: i32): usize {
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

/** The four lanes of a four-stream pass (rows r, r + quarter, r + 2 quarter, r + 3 quarter) into out. */
// @ts-ignore: decorator
@inline export function storeQuarters(out: usize, r: i32, quarter: i32, acc: v128): void {
  const q = <usize>quarter << 2;
  const o = out + (<usize>r << 2);
  store<f32>(o, f32x4.extract_lane(acc, 0));
  store<f32>(o + q, f32x4.extract_lane(acc, 1));
  store<f32>(o + 2 * q, f32x4.extract_lane(acc, 2));
  store<f32>(o + 3 * q, f32x4.extract_lane(acc, 3));
}

/** Bytes of one row of n values (n a multiple of 32). */
// @ts-ignore: decorator
@inline export function q4_0RowBytes(n: i32): usize {
  return <usize>(n / QK4_0) * BLOCK;
}

/** T of one block at p: its 32 values q - 8 (low nibbles first) times the 32 i16 activations x0..x3. */
// @ts-ignore: decorator
@inline function blockDotQ4_0(p: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const qs = v128.load(p, 2);
  const eight = i8x16.splat(8);
  const lo = i8x16.sub(v128.and(qs, i8x16.splat(15)), eight);
  const hi = i8x16.sub(i8x16.shr_u(qs, 4), eight);
  const s0 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(lo), x0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(lo), x1));
  const s1 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(hi), x2), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(hi), x3));
  return i32x4.add(s0, s1);
}

/** One row at w (nb blocks) against the quantized x: SIMD per block, the f32 steps one by one. */
function dotRowQ4_0(w: usize, nb: i32, xq: usize, xs: usize): f32 {
  let acc: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const xb = xq + (<usize>b << 6);
    const p = w + <usize>b * BLOCK;
    const s = blockDotQ4_0(p, v128.load(xb), v128.load(xb, 16), v128.load(xb, 32), v128.load(xb, 48));
    const t = (i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1)) + (i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3));
    acc += <f32>t * (halfBitsToF32(load<u16>(p)) * load<f32>(xs + (<usize>b << 2)));
  }
  return acc;
}

/** T + 8 S of one block at p: its 32 nibbles q (unsigned, low nibbles first) times the 32 i16 activations x0..x3. */
// @ts-ignore: decorator
@inline function blockDotQ4_0Unsigned(p: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const qs = v128.load(p, 2);
  const lo = v128.and(qs, i8x16.splat(15));
  const hi = i8x16.shr_u(qs, 4);
  const s0 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(lo), x0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(lo), x1));
  const s1 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(hi), x2), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(hi), x3));
  return i32x4.add(s0, s1);
}

/** out[r] = dot(W[r, :], x) for a Q4_0 matrix [rows x cols] (cols a multiple of 32). */
export function matvecQ4_0(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const xq = quantizeXQ8(x, cols);
  matvecQ4_0Quantized(out, w, xq, blockSums(xq, cols >> 5), rows, cols);
}

/**
 * matvecQ4_0 on an x already quantized by quantizeXQ8, with its block sums S (blockSums). Four rows
 * per pass; T = sum of q * xq - 8 S[b] (the nibbles unsigned, one subtraction for four rows), the
 * same integer as the scalar reference's sum of (q - 8) * xq. Each row's result depends only on
 * its own blocks, so any range of rows can run alone (the batched kernel's pieces).
 */
export function matvecQ4_0Quantized(out: usize, w: usize, xq: usize, s: usize, rows: i32, cols: i32): void {
  matvecQx_0Quantized(out, w, xq, s, rows, cols, false);
}

/**
 * Q4_0 and Q5_0 rows four per pass, four streams a quarter of the matrix apart; `fiveBit` (a
 * constant at each call, so the inlined copy keeps one branch) picks Q5_0's blocks and offset.
 */
// @ts-ignore: decorator
@inline function matvecQx_0Quantized(out: usize, w: usize, xq: usize, s: usize, rows: i32, cols: i32, fiveBit: bool): void {
  const nb = cols / QK4_0;
  const xs = xq + (<usize>nb << 6);
  const rowBytes = fiveBit ? q5_0RowBytes(cols) : q4_0RowBytes(cols);
  const blockBytes = fiveBit ? BLOCK5 : BLOCK;
  // four streams a quarter of the matrix apart (each sequential for the prefetchers), then the rest
  const quarter = rows >> 2;
  const rows4 = quarter << 2;
  const streamGap = <usize>quarter * rowBytes;
  for (let r = 0; r < quarter; r++) {
    let p0 = w + <usize>r * rowBytes;
    let p1 = p0 + streamGap, p2 = p1 + streamGap, p3 = p2 + streamGap;
    let acc = f32x4.splat(0);
    for (let b = 0; b < nb; b++) {
      const xb = xq + (<usize>b << 6);
      const x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
      const sums = fiveBit
        ? reduce4(blockDotQ5_0Unsigned(p0, x0, x1, x2, x3), blockDotQ5_0Unsigned(p1, x0, x1, x2, x3), blockDotQ5_0Unsigned(p2, x0, x1, x2, x3), blockDotQ5_0Unsigned(p3, x0, x1, x2, x3))
        : reduce4(blockDotQ4_0Unsigned(p0, x0, x1, x2, x3), blockDotQ4_0Unsigned(p1, x0, x1, x2, x3), blockDotQ4_0Unsigned(p2, x0, x1, x2, x3), blockDotQ4_0Unsigned(p3, x0, x1, x2, x3));
      // the unsigned quants' offset (8, or 16 with the fifth bit) times the block's sum of xq
      const t = i32x4.sub(sums, i32x4.splat(load<i32>(s + (<usize>b << 2)) << (fiveBit ? 4 : 3)));
      const d = loadHalves4(p0, p1, p2, p3);
      acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(t), f32x4.mul(d, v128.load32_splat(xs + (<usize>b << 2)))));
      p0 += blockBytes;
      p1 += blockBytes;
      p2 += blockBytes;
      p3 += blockBytes;
    }
    storeQuarters(out, r, quarter, acc);
  }
  for (let r = rows4; r < rows; r++) store<f32>(out + (<usize>r << 2), fiveBit ? dotRowQ5_0(w + <usize>r * rowBytes, nb, xq, xs, true) : dotRowQ4_0(w + <usize>r * rowBytes, nb, xq, xs));
}

/** Scalar reference for matvecQ4_0 (same quantized x, same order). */
export function matvecQ4_0Scalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const xq = quantizeXQ8(x, cols);
  const xs = xq + (<usize>nb << 6);
  for (let r = 0; r < rows; r++) {
    let acc: f32 = 0;
    for (let b = 0; b < nb; b++) {
      const p = w + (<usize>r * <usize>nb + <usize>b) * BLOCK;
      const xb = xq + (<usize>b << 6);
      let t: i32 = 0;
      for (let i = 0; i < 16; i++) {
        const q = <i32>load<u8>(p + 2 + <usize>i);
        t += ((q & 15) - 8) * <i32>load<i16>(xb + (<usize>i << 1)) + ((q >> 4) - 8) * <i32>load<i16>(xb + (<usize>(i + 16) << 1));
      }
      acc += <f32>t * (halfBitsToF32(load<u16>(p)) * load<f32>(xs + (<usize>b << 2)));
    }
    store<f32>(out + (<usize>r << 2), acc);
  }
}

/** Listed rows only: out[k] = dot(W[rowIdx[k], :], x) (CATS reads kept rows of W_up); as matvecQ4_0 per row. */
export function matvecRowsQ4_0(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const xq = quantizeXQ8(x, cols);
  const xs = xq + (<usize>nb << 6);
  const rowBytes = q4_0RowBytes(cols);
  for (let k = 0; k < nRows; k++) {
    store<f32>(out + (<usize>k << 2), dotRowQ4_0(w + <usize>load<u32>(rowIdx + (<usize>k << 2)) * rowBytes, nb, xq, xs));
  }
}

/** Row r dequantized into out, exactly as ggml's dequantize_row_q4_0 (the embedding lookup). */
export function dequantRowQ4_0(out: usize, w: usize, r: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const row = w + <usize>r * q4_0RowBytes(cols);
  for (let b = 0; b < nb; b++) {
    const p = row + <usize>b * BLOCK;
    const d = halfBitsToF32(load<u16>(p));
    const o = out + (<usize>(b * QK4_0) << 2);
    for (let i = 0; i < 16; i++) {
      const q = <i32>load<u8>(p + 2 + <usize>i);
      store<f32>(o + (<usize>i << 2), <f32>((q & 15) - 8) * d);
      store<f32>(o + (<usize>(i + 16) << 2), <f32>((q >> 4) - 8) * d);
    }
  }
}

// ---- input-major: out = sum over kept j of x[j] * W[:, j], W a Q4_0 matrix [nOut x nIn] ----
//
// The file's Q4_0 blocks (32 inputs of one output row, one f16 d) transposed so that input j's
// nOut values are contiguous and a pruned input is never read, values kept exactly:
//   quants  u8[nIn * colBytes]   column j at wT + j * colBytes, colBytes = ceil(nOut / 32) * 16:
//           per tile of 32 outputs 16 bytes, output 32t + i in byte i's low nibble and output
//           32t + 16 + i in its high nibble (padding outputs 8, i.e. value 0); the nibble is q as
//           stored, the value d * (q - 8)
//   scales  f16[nbIn * nOut]     at q4_0InScales: block jb's nOut scales d together, as the q8
//           input-major layout's; normal f16 of either sign (ggml's Q4_0 d is max / -8, so about
//           half are negative), decoded with three integer ops. The host writes a zero d as the
//           smallest normal with every value's nibble 8 (value 0), and keeps the q8 layout for a
//           matrix with a subnormal or non-finite d.
// Bytes read for a kept list: colBytes per kept column, 2 * nOut per run (one touched block):
// 4.5 bits per weight when a block's 32 columns are all kept, as the file's Q4_0.
//
// The gather runs as gatherColumnsQ8: runs of kept entries in one 32-input block, x quantized
// per run (int8, scale xd = max|x| / 127 over the run), and per output
//   out[o] = out[o] + f32(T[o]) * (d[o, block] * xd),  T[o] = sum over the run of (q - 8) * xq (i32)
// over the runs in list order; |T| <= 32 * 8 * 127, exact. The SIMD kernel takes the columns in
// pairs (an odd last one with xb = 0), unpacks 32 outputs' nibbles (unsigned: its sums start at
// -8 S, S the run's sum of xq, the same integer T) and byte-interleaves the pair for
// dot_i16x8_s, holding 8 i32x4 sums (32 outputs) in registers.

/** Bytes of one column of an input-major Q4_0 matrix with nOut outputs (whole tiles of 32). */
// @ts-ignore: decorator
@inline export function q4_0InColumnBytes(nOut: i32): usize {
  return <usize>((nOut + 31) >> 5) << 4;
}

/** Where the f16 scales of an input-major Q4_0 matrix start (after the quants, 4-byte aligned). */
// @ts-ignore: decorator
@inline export function q4_0InScales(wT: usize, nIn: i32, nOut: i32): usize {
  return (wT + <usize>nIn * q4_0InColumnBytes(nOut) + 3) & ~(<usize>3);
}

/** Bytes of an input-major Q4_0 matrix (quants, alignment, f16 scales). */
export function q4_0InBytes(nIn: i32, nOut: i32): usize {
  return ((<usize>nIn * q4_0InColumnBytes(nOut) + 3) & ~(<usize>3)) + <usize>((nIn + 31) >> 5) * <usize>nOut * 2;
}

/** Weight bytes gatherColumnsQ4_0 reads for this kept list: the kept columns plus each run's f16 scales. */
export function gatherBytesQ4_0(idx: usize, nKept: i32, nOut: i32): f64 {
  let runs = 0;
  for (let k = 0; k < nKept; k = runEndQ4(idx, k, nKept)) runs++;
  return <f64>nKept * <f64>q4_0InColumnBytes(nOut) + 2.0 * <f64>runs * <f64>nOut;
}

// ---- the gather plan (input-major Q4_0 and Q4_K): x quantized per run, once per token ----
// For entries [0, nKept): at plan + 4 i the quantized x of entry i (i32); for the run starting at
// entry k, its scale xd (f32) at plan + 4 (nKept + k) and the sum S of its quantized x (i32) at
// plan + 4 (2 nKept + k). A gather is its plan, then sweeps over ranges of outputs (the one-token
// kernel sweeps every output; the batched kernel each cache-sized piece for every token).

/** Bytes of a gather plan for nKept entries. */
// @ts-ignore: decorator
@inline export function gatherPlanBytesQ4(nKept: i32): usize {
  return <usize>nKept * 12;
}

let planScratch: usize = 0;
let planScratchBytes: usize = 0;

/** A scratch for one gather plan of nKept entries (kept and grown; valid until the next gather). */
export function gatherPlanScratchQ4(nKept: i32): usize {
  const bytes = gatherPlanBytesQ4(nKept);
  if (bytes > planScratchBytes) {
    if (planScratch) heap.free(planScratch);
    planScratchBytes = (bytes + 255) & ~(<usize>255);
    planScratch = heap.alloc(planScratchBytes);
  }
  return planScratch;
}

/** Writes the plan of x for the kept list at plan: per run (kept entries in one 32-input block) xd = max|x| / 127, xq = nearest(x / xd). */
export function gatherPlanQ4(plan: usize, x: usize, idx: usize, nKept: i32): void {
  let k = 0;
  while (k < nKept) {
    const e = runEndQ4(idx, k, nKept);
    let amax: f32 = 0;
    for (let i = k; i < e; i++) amax = max(amax, Mathf.abs(load<f32>(x + (<usize>load<u32>(idx + (<usize>i << 2)) << 2))));
    const d = amax / 127.0;
    const inv: f32 = d > 0 ? <f32>1.0 / d : 0;
    let s: i32 = 0;
    for (let i = k; i < e; i++) {
      const q = <i32>nearest<f32>(load<f32>(x + (<usize>load<u32>(idx + (<usize>i << 2)) << 2)) * inv);
      store<i32>(plan + (<usize>i << 2), q);
      s += q;
    }
    store<f32>(plan + (<usize>(nKept + k) << 2), d);
    store<i32>(plan + (<usize>(2 * nKept + k) << 2), s);
    k = e;
  }
}

/** End of the run (entries in one block of 32 inputs) that starts at entry k (q4.ts's and kquants.ts's gathers). */
// @ts-ignore: decorator
@inline export function runEndQ4(idx: usize, k: i32, nKept: i32): i32 {
  const block = load<u32>(idx + (<usize>k << 2)) >> 5;
  let e = k + 1;
  while (e < nKept && load<u32>(idx + (<usize>e << 2)) >> 5 == block) e++;
  return e;
}

/** 16 nibbles of a tile (low or high half of its 16 bytes), unsigned (the 8 comes off through the run's S). */
// @ts-ignore: decorator
@inline function nibblesLo(v: v128): v128 {
  return v128.and(v, i8x16.splat(15));
}
// @ts-ignore: decorator
@inline function nibblesHi(v: v128): v128 {
  return i8x16.shr_u(v, 4);
}

/** acc + the pair's (xa, xb) times 8 outputs of the byte-interleaved pair ab (low or high 8 bytes of each). */
// @ts-ignore: decorator
@inline function pairDot(acc: v128, ab: v128, low: bool, xp: v128): v128 {
  return i32x4.add(acc, i32x4.dot_i16x8_s(low ? i16x8.extend_low_i8x16_s(ab) : i16x8.extend_high_i8x16_s(ab), xp));
}

const HALF_REBIAS: u32 = (127 - 15) << 23;

/** f32 of the f16 bits of a normal scale of either sign: magnitude rebiased, sign moved to bit 31. */
// @ts-ignore: decorator
@inline function halfNormal(h: u32): f32 {
  return reinterpret<f32>((((h & 0x7fff) << 13) + HALF_REBIAS) | ((h & 0x8000) << 16));
}

/** out[o..o+4) += f32(t) * (scale * xd), the four scales' f16 bits widened from u16 lanes (halfNormal in SIMD). */
// @ts-ignore: decorator
@inline function flush4(out: usize, o: usize, t: v128, h: v128, dv: v128): void {
  const magnitude = i32x4.add(i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13), i32x4.splat(HALF_REBIAS));
  const scale = f32x4.mul(v128.or(magnitude, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16)), dv);
  const p = out + (o << 2);
  v128.store(p, f32x4.add(v128.load(p), f32x4.mul(f32x4.convert_i32x4_s(t), scale)));
}

/** Scalar T of output o over the run's entries [k, e) (the tail of the SIMD kernel and the reference's). */
// @ts-ignore: decorator
@inline function runDotQ4(wT: usize, colBytes: usize, idx: usize, plan: usize, k: i32, e: i32, o: i32): i32 {
  const byte = <usize>((o >> 5) << 4) + <usize>(o & 15);
  const shift = (o & 16) >> 2; // 0 for the low nibble, 4 for the high
  let t: i32 = 0;
  for (let i = k; i < e; i++) {
    const col = wT + <usize>load<u32>(idx + (<usize>i << 2)) * colBytes;
    t += (((<i32>load<u8>(col + byte) >> shift) & 15) - 8) * load<i32>(plan + (<usize>i << 2));
  }
  return t;
}

/**
 * Column gather on an input-major Q4_0 matrix [nIn x nOut] (layout above): out[o] = sum over the
 * kept inputs j (idx[0, nKept), ascending) of x[j] * W[o, j], x quantized per run.
 */
export function gatherColumnsQ4_0(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32): void {
  const plan = gatherPlanScratchQ4(nKept);
  gatherPlanQ4(plan, x, idx, nKept);
  memory.fill(out, 0, <usize>nOut << 2);
  gatherSweepQ4_0(out, wT, plan, idx, nKept, nIn, nOut, 0, nOut);
}

/**
 * Adds outputs [from, to) (from a multiple of 32) of the gather planned at plan to out: per run in
 * list order, per output f32(T) * (d * xd). The SIMD tiles of 32 outputs, the rest scalar.
 */
export function gatherSweepQ4_0(out: usize, wT: usize, plan: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32, from: i32, to: i32): void {
  const colBytes = q4_0InColumnBytes(nOut);
  const scales = q4_0InScales(wT, nIn, nOut);
  const full = min(to, nOut & ~31);
  let k = 0;
  while (k < nKept) {
    const e = runEndQ4(idx, k, nKept);
    const xd = load<f32>(plan + (<usize>(nKept + k) << 2));
    const dv = f32x4.splat(xd);
    const sc = scales + ((<usize>(load<u32>(idx + (<usize>k << 2)) >> 5) * <usize>nOut) << 1);
    // T = sum of q * xq - 8 S: the sums start at -8 S and take the nibbles unsigned (the same integer)
    const start = i32x4.splat(-(load<i32>(plan + (<usize>(2 * nKept + k) << 2)) << 3));
    for (let o = from; o < full; o += 32) {
      const tile = <usize>(o >> 5) << 4;
      let a0 = start, a1 = start, a2 = start, a3 = start;
      let a4 = start, a5 = start, a6 = start, a7 = start;
      for (let i = k; i < e; i += 2) {
        const two = i + 1 < e;
        const ca = wT + <usize>load<u32>(idx + (<usize>i << 2)) * colBytes + tile;
        const cb = two ? wT + <usize>load<u32>(idx + (<usize>(i + 1) << 2)) * colBytes + tile : ca;
        const xa = load<i32>(plan + (<usize>i << 2));
        const xb = two ? load<i32>(plan + (<usize>(i + 1) << 2)) : 0;
        const xp = i32x4.splat((xb << 16) | (xa & 0xffff));
        const va = v128.load(ca), vb = v128.load(cb);
        const la = nibblesLo(va), lb = nibblesLo(vb); // outputs o .. o+15
        const ha = nibblesHi(va), hb = nibblesHi(vb); // outputs o+16 .. o+31
        const l0 = i8x16.shuffle(la, lb, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const l1 = i8x16.shuffle(la, lb, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        const h0 = i8x16.shuffle(ha, hb, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const h1 = i8x16.shuffle(ha, hb, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        a0 = pairDot(a0, l0, true, xp);
        a1 = pairDot(a1, l0, false, xp);
        a2 = pairDot(a2, l1, true, xp);
        a3 = pairDot(a3, l1, false, xp);
        a4 = pairDot(a4, h0, true, xp);
        a5 = pairDot(a5, h0, false, xp);
        a6 = pairDot(a6, h1, true, xp);
        a7 = pairDot(a7, h1, false, xp);
      }
      const ou = <usize>o;
      const hs0 = v128.load(sc + (ou << 1)), hs1 = v128.load(sc + (ou << 1), 16);
      const hs2 = v128.load(sc + (ou << 1), 32), hs3 = v128.load(sc + (ou << 1), 48);
      flush4(out, ou, a0, i32x4.extend_low_i16x8_u(hs0), dv);
      flush4(out, ou + 4, a1, i32x4.extend_high_i16x8_u(hs0), dv);
      flush4(out, ou + 8, a2, i32x4.extend_low_i16x8_u(hs1), dv);
      flush4(out, ou + 12, a3, i32x4.extend_high_i16x8_u(hs1), dv);
      flush4(out, ou + 16, a4, i32x4.extend_low_i16x8_u(hs2), dv);
      flush4(out, ou + 20, a5, i32x4.extend_high_i16x8_u(hs2), dv);
      flush4(out, ou + 24, a6, i32x4.extend_low_i16x8_u(hs3), dv);
      flush4(out, ou + 28, a7, i32x4.extend_high_i16x8_u(hs3), dv);
    }
    for (let o = max(from, full); o < to; o++) {
      const p = out + (<usize>o << 2);
      store<f32>(p, load<f32>(p) + <f32>runDotQ4(wT, colBytes, idx, plan, k, e, o) * (halfNormal(<u32>load<u16>(sc + (<usize>o << 1))) * xd));
    }
    k = e;
  }
}

/** Scalar reference for gatherColumnsQ4_0 (same runs, same quantized x, same f32 order). */
export function gatherColumnsQ4_0Scalar(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32): void {
  const colBytes = q4_0InColumnBytes(nOut);
  const scales = q4_0InScales(wT, nIn, nOut);
  const plan = gatherPlanScratchQ4(nKept);
  gatherPlanQ4(plan, x, idx, nKept);
  memory.fill(out, 0, <usize>nOut << 2);
  let k = 0;
  while (k < nKept) {
    const e = runEndQ4(idx, k, nKept);
    const xd = load<f32>(plan + (<usize>(nKept + k) << 2));
    const sc = scales + ((<usize>(load<u32>(idx + (<usize>k << 2)) >> 5) * <usize>nOut) << 1);
    for (let o = 0; o < nOut; o++) {
      const p = out + (<usize>o << 2);
      store<f32>(p, load<f32>(p) + <f32>runDotQ4(wT, colBytes, idx, plan, k, e, o) * (halfNormal(<u32>load<u16>(sc + (<usize>o << 1))) * xd));
    }
    k = e;
  }
}

// ---- Q5_0, row-major (DTYPE_Q5_0): ggml's blocks as stored, the Q4_0 kernels' scheme ----
// Block (22 bytes): f16 d, u32 qh, 16 bytes qs; value i of the block is d * (q_i - 16) with
// q_i = (qs[i] & 15 | bit i of qh << 4) for i < 16 and (qs[i - 16] >> 4 | bit i of qh << 4) after
// (ggml's dequantize_row_q5_0). |T| <= 32 * 16 * 127: exact.

const BLOCK5 = <usize>Q5_0_BLOCK_BYTES;

// @ts-ignore: decorator
@inline export function q5_0RowBytes(n: i32): usize {
  return <usize>(n / QK4_0) * BLOCK5;
}

/** The 5th bits of 16 values as 0 or 16 per byte: bytes b0, b1 of qh (splatted in v) give values 16k .. 16k + 15. */
// @ts-ignore: decorator
@inline function fifthBits(qh: v128, high: bool): v128 {
  const bytes = high
    ? i8x16.swizzle(qh, i8x16(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3))
    : i8x16.swizzle(qh, i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const bit = v128.and(bytes, i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128));
  return v128.and(i8x16.ne(bit, i8x16.splat(0)), i8x16.splat(16));
}

/** T of one Q5_0 block at p against the 32 i16 activations x0..x3. */
// @ts-ignore: decorator
@inline function blockDotQ5_0(p: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const qh = v128.load32_splat(p, 2);
  const qs = v128.load(p, 6);
  const sixteen = i8x16.splat(16);
  const lo = i8x16.sub(v128.or(v128.and(qs, i8x16.splat(15)), fifthBits(qh, false)), sixteen);
  const hi = i8x16.sub(v128.or(i8x16.shr_u(qs, 4), fifthBits(qh, true)), sixteen);
  const s0 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(lo), x0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(lo), x1));
  const s1 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(hi), x2), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(hi), x3));
  return i32x4.add(s0, s1);
}

/** q_i - 16 of value i of the Q5_0 block at p (scalar). */
// @ts-ignore: decorator
@inline function q5Value(p: usize, i: i32): i32 {
  const low = i < 16 ? <i32>load<u8>(p + 6 + <usize>i) & 15 : <i32>load<u8>(p + 6 + <usize>(i - 16)) >> 4;
  return (low | (((<i32>load<u32>(p + 2) >>> i) & 1) << 4)) - 16;
}

/** One Q5_0 row (nb blocks at w) against the quantized x; `simd` picks the T kernel (a compile-time constant). */
// @ts-ignore: decorator
@inline function dotRowQ5_0(w: usize, nb: i32, xq: usize, xs: usize, simd: bool): f32 {
  let acc: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const xb = xq + (<usize>b << 6);
    const p = w + <usize>b * BLOCK5;
    let t: i32 = 0;
    if (simd) {
      const s = blockDotQ5_0(p, v128.load(xb), v128.load(xb, 16), v128.load(xb, 32), v128.load(xb, 48));
      t = (i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1)) + (i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3));
    } else {
      for (let i = 0; i < 32; i++) t += q5Value(p, i) * <i32>load<i16>(xb + (<usize>i << 1));
    }
    acc += <f32>t * (halfBitsToF32(load<u16>(p)) * load<f32>(xs + (<usize>b << 2)));
  }
  return acc;
}

/** T + 16 S of one Q5_0 block at p: its 32 unsigned 5-bit q times the 32 i16 activations x0..x3. */
// @ts-ignore: decorator
@inline function blockDotQ5_0Unsigned(p: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const qh = v128.load32_splat(p, 2);
  const qs = v128.load(p, 6);
  const lo = v128.or(v128.and(qs, i8x16.splat(15)), fifthBits(qh, false));
  const hi = v128.or(i8x16.shr_u(qs, 4), fifthBits(qh, true));
  const s0 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(lo), x0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(lo), x1));
  const s1 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(hi), x2), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(hi), x3));
  return i32x4.add(s0, s1);
}

/** out[r] = dot(W[r, :], x) for a Q5_0 matrix [rows x cols] (cols a multiple of 32). */
export function matvecQ5_0(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const xq = quantizeXQ8(x, cols);
  matvecQ5_0Quantized(out, w, xq, blockSums(xq, cols >> 5), rows, cols);
}

/**
 * matvecQ5_0 on an x already quantized by quantizeXQ8, with its block sums S: four rows per pass as
 * matvecQ4_0Quantized, T = sum of q * xq - 16 S[b] (the scalar reference's sum of (q - 16) * xq).
 */
export function matvecQ5_0Quantized(out: usize, w: usize, xq: usize, s: usize, rows: i32, cols: i32): void {
  matvecQx_0Quantized(out, w, xq, s, rows, cols, true);
}

/** Scalar reference for matvecQ5_0 (same quantized x, same order). */
export function matvecQ5_0Scalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const xq = quantizeXQ8(x, cols);
  const rowBytes = q5_0RowBytes(cols);
  for (let r = 0; r < rows; r++) store<f32>(out + (<usize>r << 2), dotRowQ5_0(w + <usize>r * rowBytes, nb, xq, xq + (<usize>nb << 6), false));
}

/** Listed rows only (CATS's W_up), as matvecQ5_0 per row. */
export function matvecRowsQ5_0(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const xq = quantizeXQ8(x, cols);
  const rowBytes = q5_0RowBytes(cols);
  for (let k = 0; k < nRows; k++) {
    store<f32>(out + (<usize>k << 2), dotRowQ5_0(w + <usize>load<u32>(rowIdx + (<usize>k << 2)) * rowBytes, nb, xq, xq + (<usize>nb << 6), true));
  }
}

/** Row r dequantized into out, exactly as ggml's dequantize_row_q5_0: (q - 16) * d. */
export function dequantRowQ5_0(out: usize, w: usize, r: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const row = w + <usize>r * q5_0RowBytes(cols);
  for (let b = 0; b < nb; b++) {
    const p = row + <usize>b * BLOCK5;
    const d = halfBitsToF32(load<u16>(p));
    for (let i = 0; i < 32; i++) store<f32>(out + (<usize>(b * 32 + i) << 2), <f32>q5Value(p, i) * d);
  }
}

// ---- Q4_1 and Q5_1, row-major (DTYPE_Q4_1, DTYPE_Q5_1): blocks with a min, as stored ----
// Q4_1 (20 bytes): f16 d, f16 m, 16 bytes qs; value i = d * q_i + m, q_i the low nibble of qs[i]
// for i < 16 and the high nibble of qs[i - 16] after (ggml's dequantize_row_q4_1).
// Q5_1 (24 bytes): f16 d, f16 m, u32 qh, 16 bytes qs; q_i as Q5_0's (5th bit i of qh), value d * q_i + m.
// With x quantized per 32-block (xq, scale xs, S = sum of xq, the Q8_1-style sum), per row and block
//   acc = acc + (f32(T) * d + f32(S) * m) * xs[b],  T = sum of q * xq (i32)
// over the blocks in order; |T| <= 32 * 31 * 127 and |S| <= 32 * 127: exact, SIMD == scalar bit for bit.

const BLOCK4_1: usize = 20;
const BLOCK5_1: usize = 24;

// @ts-ignore: decorator
@inline export function q4_1RowBytes(n: i32): usize {
  return <usize>(n / QK4_0) * BLOCK4_1;
}

// @ts-ignore: decorator
@inline export function q5_1RowBytes(n: i32): usize {
  return <usize>(n / QK4_0) * BLOCK5_1;
}

/** T of the Q4_1 (five = false) or Q5_1 block at p against x0..x3 (partial sums in 4 lanes). */
// @ts-ignore: decorator
@inline function blockDotMin(p: usize, five: bool, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  let lo: v128, hi: v128;
  if (five) {
    const qh = v128.load32_splat(p, 4);
    const qs = v128.load(p, 8);
    lo = v128.or(v128.and(qs, i8x16.splat(15)), fifthBits(qh, false));
    hi = v128.or(i8x16.shr_u(qs, 4), fifthBits(qh, true));
  } else {
    const qs = v128.load(p, 4);
    lo = v128.and(qs, i8x16.splat(15));
    hi = i8x16.shr_u(qs, 4);
  }
  const s0 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(lo), x0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(lo), x1));
  const s1 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(hi), x2), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(hi), x3));
  return i32x4.add(s0, s1);
}

/** q_i (unsigned) of value i of the Q4_1 or Q5_1 block at p (scalar). */
// @ts-ignore: decorator
@inline function minQValue(p: usize, five: bool, i: i32): i32 {
  const qs = p + (five ? 8 : 4);
  const low = i < 16 ? <i32>load<u8>(qs + <usize>i) & 15 : <i32>load<u8>(qs + <usize>(i - 16)) >> 4;
  return five ? low | (((<i32>load<u32>(p + 4) >>> i) & 1) << 4) : low;
}

/** One Q4_1/Q5_1 row (nb blocks at w) against the quantized x; `simd` picks the T kernel (a compile-time constant). */
// @ts-ignore: decorator
@inline function dotRowMin(w: usize, five: bool, nb: i32, xq: usize, xs: usize, s: usize, simd: bool): f32 {
  const block = five ? BLOCK5_1 : BLOCK4_1;
  let acc: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const xb = xq + (<usize>b << 6);
    const p = w + <usize>b * block;
    let t: i32 = 0;
    if (simd) {
      const v = blockDotMin(p, five, v128.load(xb), v128.load(xb, 16), v128.load(xb, 32), v128.load(xb, 48));
      t = (i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1)) + (i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3));
    } else {
      for (let i = 0; i < 32; i++) t += minQValue(p, five, i) * <i32>load<i16>(xb + (<usize>i << 1));
    }
    const term = <f32>t * halfBitsToF32(load<u16>(p)) + <f32>load<i32>(s + (<usize>b << 2)) * halfBitsToF32(load<u16>(p, 2));
    acc += term * load<f32>(xs + (<usize>b << 2));
  }
  return acc;
}

/** Q4_1 (five = false) or Q5_1 rows on an x quantized by quantizeXQ8 with its block sums: four rows per pass, the rest one by one; rows independent. */
// @ts-ignore: decorator
@inline function matvecMinQuantized(out: usize, w: usize, five: bool, xq: usize, s: usize, rows: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const xs = xq + (<usize>nb << 6);
  const block = five ? BLOCK5_1 : BLOCK4_1;
  const rowBytes = <usize>nb * block;
  // four streams a quarter of the matrix apart (each sequential for the prefetchers), then the rest
  const quarter = rows >> 2;
  const rows4 = quarter << 2;
  const streamGap = <usize>quarter * rowBytes;
  for (let r = 0; r < quarter; r++) {
    let p0 = w + <usize>r * rowBytes;
    let p1 = p0 + streamGap, p2 = p1 + streamGap, p3 = p2 + streamGap;
    let acc = f32x4.splat(0);
    for (let b = 0; b < nb; b++) {
      const xb = xq + (<usize>b << 6);
      const x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
      const t = reduce4(blockDotMin(p0, five, x0, x1, x2, x3), blockDotMin(p1, five, x0, x1, x2, x3), blockDotMin(p2, five, x0, x1, x2, x3), blockDotMin(p3, five, x0, x1, x2, x3));
      const scaled = f32x4.mul(f32x4.convert_i32x4_s(t), loadHalves4(p0, p1, p2, p3));
      const offset = f32x4.mul(f32x4.convert_i32x4_s(i32x4.splat(load<i32>(s + (<usize>b << 2)))), loadHalves4(p0 + 2, p1 + 2, p2 + 2, p3 + 2));
      acc = f32x4.add(acc, f32x4.mul(f32x4.add(scaled, offset), v128.load32_splat(xs + (<usize>b << 2))));
      p0 += block;
      p1 += block;
      p2 += block;
      p3 += block;
    }
    storeQuarters(out, r, quarter, acc);
  }
  for (let r = rows4; r < rows; r++) store<f32>(out + (<usize>r << 2), dotRowMin(w + <usize>r * rowBytes, five, nb, xq, xs, s, true));
}

/** Scalar reference for the Q4_1/Q5_1 matvecs (same quantized x, same order). */
// @ts-ignore: decorator
@inline function matvecMinScalar(out: usize, w: usize, five: bool, x: usize, rows: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const xq = quantizeXQ8(x, cols);
  const s = blockSums(xq, nb);
  const rowBytes = <usize>nb * (five ? BLOCK5_1 : BLOCK4_1);
  for (let r = 0; r < rows; r++) store<f32>(out + (<usize>r << 2), dotRowMin(w + <usize>r * rowBytes, five, nb, xq, xq + (<usize>nb << 6), s, false));
}

/** Listed rows only (CATS's W_up) of a Q4_1/Q5_1 matrix, one by one. */
// @ts-ignore: decorator
@inline function matvecRowsMin(out: usize, w: usize, five: bool, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const xq = quantizeXQ8(x, cols);
  const s = blockSums(xq, nb);
  const rowBytes = <usize>nb * (five ? BLOCK5_1 : BLOCK4_1);
  for (let k = 0; k < nRows; k++) {
    store<f32>(out + (<usize>k << 2), dotRowMin(w + <usize>load<u32>(rowIdx + (<usize>k << 2)) * rowBytes, five, nb, xq, xq + (<usize>nb << 6), s, true));
  }
}

/** Row r dequantized into out, exactly as ggml's dequantize_row_q4_1 / q5_1: d * q + m. */
// @ts-ignore: decorator
@inline function dequantRowMin(out: usize, w: usize, five: bool, r: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const block = five ? BLOCK5_1 : BLOCK4_1;
  const row = w + <usize>r * <usize>nb * block;
  for (let b = 0; b < nb; b++) {
    const p = row + <usize>b * block;
    const d = halfBitsToF32(load<u16>(p));
    const m = halfBitsToF32(load<u16>(p, 2));
    for (let i = 0; i < 32; i++) store<f32>(out + (<usize>(b * 32 + i) << 2), <f32>minQValue(p, five, i) * d + m);
  }
}

/** out[r] = dot(W[r, :], x) for a Q4_1 matrix [rows x cols] (cols a multiple of 32). */
export function matvecQ4_1(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const xq = quantizeXQ8(x, cols);
  matvecMinQuantized(out, w, false, xq, blockSums(xq, cols >> 5), rows, cols);
}
/** matvecQ4_1 on an x quantized by quantizeXQ8 with its block sums (the batched kernel's pieces). */
export function matvecQ4_1Quantized(out: usize, w: usize, xq: usize, s: usize, rows: i32, cols: i32): void {
  matvecMinQuantized(out, w, false, xq, s, rows, cols);
}
export function matvecQ4_1Scalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  matvecMinScalar(out, w, false, x, rows, cols);
}
export function matvecRowsQ4_1(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  matvecRowsMin(out, w, false, x, rowIdx, nRows, cols);
}
export function dequantRowQ4_1(out: usize, w: usize, r: i32, cols: i32): void {
  dequantRowMin(out, w, false, r, cols);
}

/** out[r] = dot(W[r, :], x) for a Q5_1 matrix [rows x cols] (cols a multiple of 32). */
export function matvecQ5_1(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const xq = quantizeXQ8(x, cols);
  matvecMinQuantized(out, w, true, xq, blockSums(xq, cols >> 5), rows, cols);
}
/** matvecQ5_1 on an x quantized by quantizeXQ8 with its block sums (the batched kernel's pieces). */
export function matvecQ5_1Quantized(out: usize, w: usize, xq: usize, s: usize, rows: i32, cols: i32): void {
  matvecMinQuantized(out, w, true, xq, s, rows, cols);
}
export function matvecQ5_1Scalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  matvecMinScalar(out, w, true, x, rows, cols);
}
export function matvecRowsQ5_1(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  matvecRowsMin(out, w, true, x, rowIdx, nRows, cols);
}
export function dequantRowQ5_1(out: usize, w: usize, r: i32, cols: i32): void {
  dequantRowMin(out, w, true, r, cols);
}
