// q8 kernels: int8 weights with a scale per block of 32 values along the reduction (input)
// dimension, as GGUF's Q8_0, and integer dot products: the activations are quantized too, to
// int8 per block of 32 with one f32 scale (llama.cpp's q8_0 x q8_0), widened to i16 and
// multiplied with i32x4.dot_i16x8_s. Integer SIMD only (no relaxed SIMD), so results are the same
// on every engine. Integer sums are exact, so each SIMD kernel and its scalar reference agree bit
// for bit as long as the few f32 operations come in the same order (stated per kernel).
//
// Two layouts, both built at load time by host/quant.ts:
//
// Row-major (attention, LM head, the token embedding, CATS's W_up): `rows` rows of n values in
// tiles of 8 rows x one block, so that a pass over 8 rows reads one sequential stream:
//   tile (g, b) at w + (g * nb + b) * 288: int8[8][32] quants (row 8g + i at + 32i), then f32[8]
//   scales (row 8g + i at + 256 + 4i)
// with nb = ceil(n / 32). Rows are padded to a multiple of 8 and each row to nb * 32 values with
// zeros (no model we load needs padding: their dimensions are multiples of 32).
//
// Input-major (the column-gathered MLP matrices W_gate, W_up, W_down): W is [nOut x nIn], stored
// so that input j's nOut weights (column j of W) are contiguous and a pruned input is never read:
//   quants  int8[nIn * nOut]         column j at wT + j*nOut
//   scales  f16[nbIn * nOut]         at q8InScales(wT, nIn, nOut): block jb's nOut scales together
// with nbIn = ceil(nIn / 32). The scale of W[o, j] is that of (o, block j/32): the same blocks as
// GGUF's Q8_0 of W (32 inputs of one output row), so all columns of a block share each output's
// scale and their products can be summed in i32 before one conversion per block. Scales are f16
// (as in GGUF), always normal (>= 2^-14, so the kernels decode them with two integer ops); reading
// a block's scales costs 2 bytes per output, i.e. 1/16 byte per weight when all its 32 columns are
// kept, the same as the f32-per-32 of the row-major layout.

import { Q8_BLOCK, Q8_TILE_BYTES } from "../abi";

// @ts-ignore: decorator
@inline export function q8Blocks(n: i32): i32 {
  return (n + Q8_BLOCK - 1) / Q8_BLOCK;
}

const TILE_BYTES = <usize>Q8_TILE_BYTES; // 8 rows x 32 quants + 8 f32 scales

/** Bytes of a row-major q8 matrix (whole tiles). */
export function q8Bytes(rows: i32, n: i32): usize {
  return <usize>((rows + 7) >> 3) * <usize>q8Blocks(n) * TILE_BYTES;
}

/** Where row r's quants of block b are (nb blocks per row). */
// @ts-ignore: decorator
@inline export function q8BlockAt(w: usize, nb: i32, r: i32, b: i32): usize {
  return w + (<usize>(r >> 3) * <usize>nb + <usize>b) * TILE_BYTES + (<usize>(r & 7) << 5);
}

/** Where row r's scale of block b is. */
// @ts-ignore: decorator
@inline export function q8ScaleAt(w: usize, nb: i32, r: i32, b: i32): usize {
  return w + (<usize>(r >> 3) * <usize>nb + <usize>b) * TILE_BYTES + 256 + (<usize>(r & 7) << 2);
}

/** Where the f16 scales of an input-major q8 matrix start. */
// @ts-ignore: decorator
@inline export function q8InScales(wT: usize, nIn: i32, nOut: i32): usize {
  return (wT + <usize>nIn * <usize>nOut + 3) & ~(<usize>3);
}

/** Bytes of an input-major q8 matrix (quants, alignment, f16 scales). */
export function q8InBytes(nIn: i32, nOut: i32): usize {
  return ((<usize>nIn * <usize>nOut + 3) & ~(<usize>3)) + <usize>q8Blocks(nIn) * <usize>nOut * 2;
}

// ---- scratch for the quantized activations and the gather's column lists ----

let scratch: usize = 0;
let scratchBytes: usize = 0;

/** A scratch buffer of at least `bytes` (kept and grown; the kernels run one at a time). */
function scratchOf(bytes: usize): usize {
  if (bytes > scratchBytes) {
    if (scratch) heap.free(scratch);
    scratchBytes = (bytes + 4095) & ~(<usize>4095);
    scratch = heap.alloc(scratchBytes);
  }
  return scratch;
}

/** x (finite) * inv rounded to the nearest integer, ties to even; |x * inv| <= 127 by construction. */
// @ts-ignore: decorator
@inline function quant(x: f32, inv: f32): i32 {
  return <i32>nearest<f32>(x * inv);
}

/** Block scale of the activations: max |x| / 127 (0 for an all-zero block). */
// @ts-ignore: decorator
@inline function actScale(amax: f32): f32 {
  return amax / 127.0;
}

// @ts-ignore: decorator
@inline function invOf(d: f32): f32 {
  return d > 0 ? <f32>1.0 / d : 0;
}

/**
 * Quantizes x[0, n) per block of 32 for the row-major kernels: i16 quants at the returned pointer
 * (nb * 32 of them, the partial last block zero-padded), then the nb f32 block scales.
 */
function quantizeX(x: usize, n: i32): usize {
  const nb = q8Blocks(n);
  const xq = scratchOf(<usize>nb * 64 + <usize>nb * 4);
  const xs = xq + <usize>nb * 64;
  for (let b = 0; b < nb; b++) {
    const start = b * Q8_BLOCK;
    const end = min(n, start + Q8_BLOCK);
    let amax: f32 = 0;
    for (let i = start; i < end; i++) amax = max(amax, Mathf.abs(load<f32>(x + (<usize>i << 2))));
    const d = actScale(amax);
    const inv = invOf(d);
    for (let i = start; i < end; i++) store<i16>(xq + (<usize>i << 1), <i16>quant(load<f32>(x + (<usize>i << 2)), inv));
    for (let i = end; i < start + Q8_BLOCK; i++) store<i16>(xq + (<usize>i << 1), 0);
    store<f32>(xs + (<usize>b << 2), d);
  }
  return xq;
}

// ---- row-major: out[r] = W[r, :] . x ----
//
// Order (SIMD and scalar): row r's value is acc = sum over its nb blocks b, in order, of
//   acc = acc + f32(T[r, b]) * (wScale[r, b] * xScale[b]),  T[r, b] = sum of the block's q * xq (i32)
// (padding is zero in both). Bound: |T| <= 32 * 127 * 127 = 516,128 < 2^24, exact in i32 and in
// f32, so only the order of the f32 steps matters. The SIMD kernel gets T as four dot_i16x8_s lane
// sums added, then four rows' T side by side (reduce4): one convert and one multiply-add serve
// four rows, and their four scales are one load.

// @ts-ignore: decorator
@inline function blockDot(qb: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  // 32 int8 weights (each eight loaded and sign-extended to i16 in one op) x 32 i16 activations
  const s0 = i32x4.add(i32x4.dot_i16x8_s(v128.load8x8_s(qb), x0), i32x4.dot_i16x8_s(v128.load8x8_s(qb, 8), x1));
  const s1 = i32x4.add(i32x4.dot_i16x8_s(v128.load8x8_s(qb, 16), x2), i32x4.dot_i16x8_s(v128.load8x8_s(qb, 24), x3));
  return i32x4.add(s0, s1);
}

/** [sum of d0's lanes, d1's, d2's, d3's] (i32). */
// @ts-ignore: decorator
@inline export function reduce4(d0: v128, d1: v128, d2: v128, d3: v128): v128 {
  const a = i32x4.add(i8x16.shuffle(d0, d1, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), i8x16.shuffle(d0, d1, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31));
  const b = i32x4.add(i8x16.shuffle(d2, d3, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), i8x16.shuffle(d2, d3, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31));
  return i32x4.add(i8x16.shuffle(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27), i8x16.shuffle(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31));
}

/** Four rows' step: acc + f32(T) * (their four scales * xScale). */
// @ts-ignore: decorator
@inline function step4(acc: v128, t: v128, sc: usize, xsb: v128): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(t), f32x4.mul(v128.load(sc), xsb)));
}

/** One row (row r) against the quantized x (SIMD per block, scalar steps). */
function dotRowQ8(w: usize, nb: i32, r: i32, xq: usize, xs: usize): f32 {
  let acc: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const xb = xq + (<usize>b << 6);
    const d = blockDot(q8BlockAt(w, nb, r, b), v128.load(xb), v128.load(xb, 16), v128.load(xb, 32), v128.load(xb, 48));
    const t = (i32x4.extract_lane(d, 0) + i32x4.extract_lane(d, 1)) + (i32x4.extract_lane(d, 2) + i32x4.extract_lane(d, 3));
    acc += <f32>t * (load<f32>(q8ScaleAt(w, nb, r, b)) * load<f32>(xs + (<usize>b << 2)));
  }
  return acc;
}

/** Stores the 8 rows of tile row starting at row r (only the real ones in a padded last tile row). */
// @ts-ignore: decorator
@inline function storeTileRow(out: usize, r: i32, rows: i32, accA: v128, accB: v128): void {
  const o = out + (<usize>r << 2);
  if (r + 8 <= rows) {
    v128.store(o, accA);
    v128.store(o, accB, 16);
    return;
  }
  const n = rows - r;
  if (n > 0) store<f32>(o, f32x4.extract_lane(accA, 0));
  if (n > 1) store<f32>(o, f32x4.extract_lane(accA, 1), 4);
  if (n > 2) store<f32>(o, f32x4.extract_lane(accA, 2), 8);
  if (n > 3) store<f32>(o, f32x4.extract_lane(accA, 3), 12);
  if (n > 4) store<f32>(o, f32x4.extract_lane(accB, 0), 16);
  if (n > 5) store<f32>(o, f32x4.extract_lane(accB, 1), 20);
  if (n > 6) store<f32>(o, f32x4.extract_lane(accB, 2), 24);
}

/** One tile (8 rows x one block) into the two accumulators of its rows 0-3 and 4-7. */
// @ts-ignore: decorator
@inline function tileA(acc: v128, p: usize, xsb: v128, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  return step4(acc, reduce4(blockDot(p, x0, x1, x2, x3), blockDot(p + 32, x0, x1, x2, x3), blockDot(p + 64, x0, x1, x2, x3), blockDot(p + 96, x0, x1, x2, x3)), p + 256, xsb);
}
// @ts-ignore: decorator
@inline function tileB(acc: v128, p: usize, xsb: v128, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  return step4(acc, reduce4(blockDot(p + 128, x0, x1, x2, x3), blockDot(p + 160, x0, x1, x2, x3), blockDot(p + 192, x0, x1, x2, x3), blockDot(p + 224, x0, x1, x2, x3)), p + 272, xsb);
}

/**
 * out[r] = dot(W[r, :], x) for a row-major q8 matrix [rows x cols]. x is quantized once per call.
 * Four tile rows per pass, one from each quarter of the matrix: four sequential streams (one
 * stream alone reads ~30% slower here, see readSumF32 vs readSum4StreamsF32; measured cold, 4
 * streams beat 2 by ~18% and 2 beat 1 by ~20%), 32 rows sharing each block's x.
 */
export function matvecQ8(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  matvecQ8Quantized(out, w, quantizeX(x, cols), rows, cols);
}

/** x quantized for the row-major kernels (in the shared scratch: valid until the next q8 kernel call). */
export function quantizeXQ8(x: usize, n: i32): usize {
  return quantizeX(x, n);
}

/**
 * matvecQ8 on an x already quantized by quantizeXQ8. Each row's result depends only on its own
 * tiles, so rows [from, to) with from a multiple of 8 are this on (out + 4 from, q8BlockAt(w, nb,
 * from, 0), to - from): the threads build's share of one thread, bit-identical to the whole.
 */
export function matvecQ8Quantized(out: usize, w: usize, xq: usize, rows: i32, cols: i32): void {
  const nb = q8Blocks(cols);
  const xs = xq + (<usize>nb << 6);
  const tiles = (rows + 7) >> 3;
  const part = (tiles + 3) >> 2;
  const tileRowBytes = <usize>nb * TILE_BYTES;
  for (let g = 0; g < part; g++) {
    let p0 = w + <usize>g * tileRowBytes;
    const n1 = g + part < tiles, n2 = g + 2 * part < tiles, n3 = g + 3 * part < tiles;
    let p1 = n1 ? p0 + <usize>part * tileRowBytes : p0;
    let p2 = n2 ? p0 + <usize>(2 * part) * tileRowBytes : p0;
    let p3 = n3 ? p0 + <usize>(3 * part) * tileRowBytes : p0;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), d0 = f32x4.splat(0), d1 = f32x4.splat(0);
    for (let b = 0; b < nb; b++) {
      const xb = xq + (<usize>b << 6);
      const x0 = v128.load(xb);
      const x1 = v128.load(xb, 16);
      const x2 = v128.load(xb, 32);
      const x3 = v128.load(xb, 48);
      const xsb = v128.load32_splat(xs + (<usize>b << 2));
      a0 = tileA(a0, p0, xsb, x0, x1, x2, x3);
      a1 = tileB(a1, p0, xsb, x0, x1, x2, x3);
      b0 = tileA(b0, p1, xsb, x0, x1, x2, x3);
      b1 = tileB(b1, p1, xsb, x0, x1, x2, x3);
      c0 = tileA(c0, p2, xsb, x0, x1, x2, x3);
      c1 = tileB(c1, p2, xsb, x0, x1, x2, x3);
      d0 = tileA(d0, p3, xsb, x0, x1, x2, x3);
      d1 = tileB(d1, p3, xsb, x0, x1, x2, x3);
      p0 += TILE_BYTES;
      p1 += TILE_BYTES;
      p2 += TILE_BYTES;
      p3 += TILE_BYTES;
    }
    storeTileRow(out, g << 3, rows, a0, a1);
    if (n1) storeTileRow(out, (g + part) << 3, rows, b0, b1);
    if (n2) storeTileRow(out, (g + 2 * part) << 3, rows, c0, c1);
    if (n3) storeTileRow(out, (g + 3 * part) << 3, rows, d0, d1);
  }
}

/** Scalar reference for matvecQ8 (same quantized x, same order). */
export function matvecQ8Scalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const nb = q8Blocks(cols);
  const xq = quantizeX(x, cols);
  const xs = xq + (<usize>nb << 6);
  for (let r = 0; r < rows; r++) {
    let acc: f32 = 0;
    for (let b = 0; b < nb; b++) {
      const q = q8BlockAt(w, nb, r, b);
      let t: i32 = 0;
      for (let i = 0; i < Q8_BLOCK; i++) t += <i32>load<i8>(q + <usize>i) * <i32>load<i16>(xq + (<usize>(b * Q8_BLOCK + i) << 1));
      acc += <f32>t * (load<f32>(q8ScaleAt(w, nb, r, b)) * load<f32>(xs + (<usize>b << 2)));
    }
    store<f32>(out + (<usize>r << 2), acc);
  }
}

/** Listed rows only: out[k] = dot(W[rows[k], :], x) (CATS reads kept rows of W_up); as matvecQ8 per row. */
export function matvecRowsQ8(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, totalRows: i32, cols: i32): void {
  const nb = q8Blocks(cols);
  const xq = quantizeX(x, cols);
  const xs = xq + (<usize>nb << 6);
  for (let k = 0; k < nRows; k++) {
    store<f32>(out + (<usize>k << 2), dotRowQ8(w, nb, <i32>load<u32>(rowIdx + (<usize>k << 2)), xq, xs));
  }
}

/** Dequantizes row r of a row-major q8 matrix into out (the embedding lookup of a q8 table). */
export function dequantRowQ8(out: usize, w: usize, r: i32, rows: i32, cols: i32): void {
  const nb = q8Blocks(cols);
  for (let i = 0; i < cols; i++) {
    const b = i / Q8_BLOCK;
    store<f32>(out + (<usize>i << 2), load<f32>(q8ScaleAt(w, nb, r, b)) * <f32>load<i8>(q8BlockAt(w, nb, r, b) + <usize>(i & 31)));
  }
}

// ---- input-major: out = sum over kept j of x[j] * W[:, j] ----
//
// The kept list is cut into runs of consecutive entries in the same block of 32 inputs (an
// ascending list, as every mask is, gives one run per touched block). Per run: x's kept entries
// are quantized with their own scale d = max |x| / 127 over the run, then for every output
//   acc[o] = sum over the run of xq[j] * q[j, o]                  (i32, exact, any order)
//   out[o] = out[o] + f32(acc[o]) * (f16scale[block, o] * d)     (f32, runs in list order)
// Bound: a run has at most 32 entries and |xq * q| <= 127 * 127 (|q| <= 128 would still do), so
// |acc| <= 32 * 16,256 = 520,192 < 2^24: exact in i32 and in its f32 conversion.
// Bytes read: the kept columns' quants and, per run, the block's nOut f16 scales (gatherBytesQ8).

/** f16 bits of a positive normal scale -> f32, exactly, by integer ops (exponent rebias 15 -> 127). */
// @ts-ignore: decorator
@inline function halfToF32(h: u32): f32 {
  return reinterpret<f32>((h << 13) + HALF_REBIAS);
}
const HALF_REBIAS: u32 = (127 - 15) << 23;

/** Quantizes the kept x of entries [k, e) into xq (i32 per entry); returns the run's scale. */
// @ts-ignore: decorator
@inline function quantizeRun(xq: usize, x: usize, idx: usize, k: i32, e: i32): f32 {
  let amax: f32 = 0;
  for (let i = k; i < e; i++) amax = max(amax, Mathf.abs(load<f32>(x + (<usize>load<u32>(idx + (<usize>i << 2)) << 2))));
  const d = actScale(amax);
  const inv = invOf(d);
  for (let i = k; i < e; i++) store<i32>(xq + (<usize>i << 2), quant(load<f32>(x + (<usize>load<u32>(idx + (<usize>i << 2)) << 2)), inv));
  return d;
}

/** End of the run that starts at entry k (entries in the block of idx[k]). */
// @ts-ignore: decorator
@inline function runEnd(idx: usize, k: i32, nKept: i32): i32 {
  const block = load<u32>(idx + (<usize>k << 2)) >> 5;
  let e = k + 1;
  while (e < nKept && load<u32>(idx + (<usize>e << 2)) >> 5 == block) e++;
  return e;
}

/** Weight bytes gatherColumnsQ8 reads for this kept list: the kept columns plus each run's f16 scales. */
export function gatherBytesQ8(idx: usize, nKept: i32, nOut: i32): f64 {
  let runs = 0;
  for (let k = 0; k < nKept; k = runEnd(idx, k, nKept)) runs++;
  return <f64>nKept * <f64>nOut + 2.0 * <f64>runs * <f64>nOut;
}

// two columns interleaved byte by byte (a0 b0 a1 b1 ...) for outputs [0, 8) and [8, 16) of 16
// @ts-ignore: decorator
@inline function pairLo(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}
// @ts-ignore: decorator
@inline function pairHi(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
}

// Columns shorter than this (bytes) are touched ahead in bursts (gatherSweepQ8); the bytes those
// loads read are kept here so that they are not optimized away (they are of kept columns, read
// right after anyway).
const SHORT_COLUMN: usize = 4096;
/** Bytes of short columns one burst touches: the lines of the next runs up to this much. */
const TOUCH_BURST_BYTES: usize = 8192;
let touchSink: u32 = 0;

/** f32 scales of 4 outputs: their f16 bits (u32 lanes) decoded as halfToF32, times d. */
// @ts-ignore: decorator
@inline function scale4(h: v128, dv: v128): v128 {
  return f32x4.mul(i32x4.add(i32x4.shl(h, 13), i32x4.splat(HALF_REBIAS)), dv);
}

/**
 * Column gather on an input-major q8 matrix [nIn x nOut] (layout above): out[o] = sum over the
 * kept inputs j (idx[0, nKept), ascending for one run per block) of x[j] * W[o, j], with x quantized
 * per run. Per run, the kept columns are paired (an odd last column with itself and xb = 0), and
 * the outputs are swept in tiles of 16: a tile reads 16 bytes of every kept column of the run,
 * byte-interleaves each pair and multiplies it by its (xa, xb) i16 pair with dot_i16x8_s into four
 * i32x4 accumulators held in registers, then flushes them to out. So all of a run's columns (up
 * to 32) are read side by side, each a sequential stream, and the i32 sums never go through
 * memory. Columns shorter than a page (W_down's are 896 B, 14 lines) end before the hardware
 * prefetcher has ramped up on them, so for those the sweep first touches every line of the next
 * runs' columns (about TOUCH_BURST_BYTES of them) in one tight loop of loads, and then computes
 * those runs from cache. Spread among the tiles' arithmetic (the earlier touch-ahead: a few lines
 * per tile), only ~2 tiles' worth of loads fit the CPU's reorder window and the misses ran a few
 * at a time; in a burst many are in flight at once. Cold, Qwen2.5-0.5B's W_down: 3.3 -> 7.0 GB/s at
 * keep 0.35, 9 -> 12.8 dense (bench/README.md, issue #16). On long columns (W_gate/W_up's 4.8 KiB)
 * the runs with most of their 32 columns kept are swept in segments of outputs, each touched a
 * segment ahead in a burst (cold dense 896x4864: ~7 -> ~9 GB/s); sparser runs are not (bursts
 * measured 15-20% slower on DIP's keep-0.57 runs, whose columns the prefetcher follows better).
 * (Before: four columns per pass over all outputs, i32 sums in a scratch array, touch-ahead of the
 * next four columns: measured 13-17% slower cold on W_gate/up, 0-9% on W_down; bench/README.md.)
 */
export function gatherColumnsQ8(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32): void {
  gatherSweepQ8(out, gatherPlanQ8(wT, x, idx, nKept, nIn, nOut), nOut, 0, nOut);
}

// A gather's plan (in the shared scratch, valid until the next q8 kernel call): i32 runs, then per
// run 16 bytes (i32 first pair, i32 end pair, f32 d, u32 address of the block's f16 scales), then
// per pair the addresses of columns a and b (8 bytes) and (xb << 16) | xa (4 bytes).
const PLAN_RUNS: usize = 16;

// @ts-ignore: decorator
@inline function planPairs(plan: usize, nKept: i32): usize {
  return plan + PLAN_RUNS + (<usize>nKept << 4);
}

/** Bytes of a gather's plan for nKept entries (runs, column pairs, paired x; not its temporary). */
export function gatherPlanBytesQ8(nKept: i32): usize {
  return PLAN_RUNS + <usize>nKept * 28;
}

/**
 * Quantizes x per run and pairs the kept columns of gatherColumnsQ8 (returns the plan). The
 * threads build makes the plan once on the main instance and sweeps output ranges of it on every
 * thread (the workers have no scratch of their own).
 */
export function gatherPlanQ8(wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32): usize {
  const scales = q8InScales(wT, nIn, nOut);
  const nOutU = <usize>nOut;
  // at most nKept runs and nKept pairs; then the quantized x (i32 per entry) as a temporary
  const plan = scratchOf(PLAN_RUNS + (<usize>nKept << 4) + <usize>nKept * 12 + (<usize>nKept << 2));
  const cols = planPairs(plan, nKept);
  const pairs = cols + (<usize>nKept << 3);
  const xq = pairs + (<usize>nKept << 2);
  let runs = 0;
  let np = 0;
  let k = 0;
  while (k < nKept) {
    const e = runEnd(idx, k, nKept);
    const d = quantizeRun(xq, x, idx, k, e);
    const run = plan + PLAN_RUNS + (<usize>runs << 4);
    store<i32>(run, np);
    for (let i = k; i < e; i += 2) {
      const ik = idx + (<usize>i << 2);
      const xi = xq + (<usize>i << 2);
      const two = i + 1 < e;
      const ca = wT + <usize>load<u32>(ik) * nOutU;
      const pc = cols + (<usize>np << 3);
      store<usize>(pc, ca);
      store<usize>(pc, two ? wT + <usize>load<u32>(ik, 4) * nOutU : ca, 4);
      store<i32>(pairs + (<usize>np << 2), ((two ? load<i32>(xi, 4) : 0) << 16) | (load<i32>(xi) & 0xffff));
      np++;
    }
    store<i32>(run, np, 4);
    store<f32>(run, d, 8);
    store<usize>(run, scales + ((<usize>(load<u32>(idx + (<usize>k << 2)) >> 5) * nOutU) << 1), 12);
    runs++;
    k = e;
  }
  store<i32>(plan, runs);
  store<i32>(plan, nKept, 4);
  return plan;
}

/**
 * Touches bytes [from, to) of the columns of runs r, r + 1, ... (as listed in their pairs: an odd
 * run's last column twice), a load per line, until about TOUCH_BURST_BYTES; returns the run after
 * the last one touched.
 */
function touchRuns(plan: usize, cols: usize, r: i32, runs: i32, from: usize, to: usize): i32 {
  const s0 = load<i32>(plan + PLAN_RUNS + (<usize>r << 4)) << 1;
  let e = r;
  let bytes: usize = 0;
  while (e < runs && bytes < TOUCH_BURST_BYTES) {
    const run = plan + PLAN_RUNS + (<usize>e << 4);
    bytes += <usize>(load<i32>(run, 4) - load<i32>(run)) * 2 * (to - from);
    e++;
  }
  const s1 = load<i32>(plan + PLAN_RUNS + (<usize>(e - 1) << 4), 4) << 1;
  let touched: u32 = 0;
  for (let slot = s0; slot < s1; slot++) {
    const c = load<usize>(cols + (<usize>slot << 2));
    for (let off = from; off < to; off += 64) touched |= load<u8>(c + off);
    touched |= load<u8>(c + to - 1); // the last line when the column does not start on one
  }
  touchSink |= touched;
  return e;
}

/** Tiles of 16 outputs [a, b) of one run (pairs [p0, p1), its scales at sc, its d in dv): gatherSweepQ8's loop. */
// @ts-ignore: decorator
@inline function sweepTiles(out: usize, cols: usize, pairs: usize, sc: usize, dv: v128, p0: i32, p1: i32, a: i32, b: i32): void {
  for (let o = a; o < b; o += 16) {
    const ou = <usize>o;
    let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
    for (let p = p0; p < p1; p++) {
      const pc = cols + (<usize>p << 3);
      const a = v128.load(load<usize>(pc) + ou);
      const b = v128.load(load<usize>(pc, 4) + ou);
      const xp = v128.load32_splat(pairs + (<usize>p << 2));
      const ab0 = pairLo(a, b);
      const ab1 = pairHi(a, b);
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(ab0), xp));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(ab0), xp));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(ab1), xp));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(ab1), xp));
    }
    // flush: out += f32(acc) * (scale * d)
    const h0 = v128.load(sc + (ou << 1));
    const h1 = v128.load(sc + (ou << 1), 16);
    const op = out + (ou << 2);
    v128.store(op, f32x4.add(v128.load(op), f32x4.mul(f32x4.convert_i32x4_s(a0), scale4(i32x4.extend_low_i16x8_u(h0), dv))));
    v128.store(op, f32x4.add(v128.load(op, 16), f32x4.mul(f32x4.convert_i32x4_s(a1), scale4(i32x4.extend_high_i16x8_u(h0), dv))), 16);
    v128.store(op, f32x4.add(v128.load(op, 32), f32x4.mul(f32x4.convert_i32x4_s(a2), scale4(i32x4.extend_low_i16x8_u(h1), dv))), 32);
    v128.store(op, f32x4.add(v128.load(op, 48), f32x4.mul(f32x4.convert_i32x4_s(a3), scale4(i32x4.extend_high_i16x8_u(h1), dv))), 48);
  }
}

/**
 * Long columns: a run with at least MIN_BURST_PAIRS pairs (24 of its 32 columns kept: the dense
 * products, not DIP's sparse ones) is swept in segments of LONG_SEGMENT outputs, and before each
 * segment its columns' lines of the next one are touched in one burst (touchSegment).
 */
const LONG_SEGMENT: usize = 256;
const MIN_BURST_PAIRS: i32 = 12;

/** Touches bytes [a, b) of the columns in slots [s0, s1), a load per line. */
// @ts-ignore: decorator
@inline function touchSegment(cols: usize, s0: i32, s1: i32, a: usize, b: usize): void {
  let acc: u32 = 0;
  for (let slot = s0; slot < s1; slot++) {
    const c = load<usize>(cols + (<usize>slot << 2));
    for (let off = a; off < b; off += 64) acc |= load<u8>(c + off);
  }
  touchSink |= acc;
}

/**
 * Outputs [from, to) of gatherColumnsQ8 from its plan (from a multiple of 16; the whole product is
 * [0, nOut)). Every output gets the same operations in the same order whatever the range, so a
 * product split by ranges is bit-identical to the whole.
 */
export function gatherSweepQ8(out: usize, plan: usize, nOut: i32, from: i32, to: i32): void {
  const runs = load<i32>(plan);
  const nKept = load<i32>(plan, 4);
  const cols = planPairs(plan, nKept);
  const pairs = cols + (<usize>nKept << 3);
  const short = <usize>nOut < SHORT_COLUMN;
  const fromU = <usize>from, toU = <usize>to;
  memory.fill(out + (fromU << 2), 0, (toU - fromU) << 2);
  const v16 = from + ((to - from) & ~15);
  let touchedTo = 0; // runs [0, touchedTo) have been touched (short columns)
  for (let r = 0; r < runs; r++) {
    const run = plan + PLAN_RUNS + (<usize>r << 4);
    const p0 = load<i32>(run), p1 = load<i32>(run, 4);
    const d = load<f32>(run, 8);
    const sc = load<usize>(run, 12);
    const dv = f32x4.splat(d);
    if (short && r >= touchedTo) touchedTo = touchRuns(plan, cols, r, runs, fromU, toU);
    if (!short && p1 - p0 >= MIN_BURST_PAIRS) {
      touchSegment(cols, p0 << 1, p1 << 1, fromU, min(<usize>v16, fromU + LONG_SEGMENT));
      for (let segment = from; segment < v16; segment += <i32>LONG_SEGMENT) {
        const e = min(v16, segment + <i32>LONG_SEGMENT);
        if (e < v16) touchSegment(cols, p0 << 1, p1 << 1, <usize>e, min(<usize>v16, <usize>e + LONG_SEGMENT));
        sweepTiles(out, cols, pairs, sc, dv, p0, p1, segment, e);
      }
    } else sweepTiles(out, cols, pairs, sc, dv, p0, p1, from, v16);
    for (let o = v16; o < to; o++) {
      const ou = <usize>o;
      let t: i32 = 0;
      for (let p = p0; p < p1; p++) {
        const pc = cols + (<usize>p << 3);
        const xp = load<i32>(pairs + (<usize>p << 2));
        t += (xp << 16 >> 16) * <i32>load<i8>(load<usize>(pc) + ou) + (xp >> 16) * <i32>load<i8>(load<usize>(pc, 4) + ou);
      }
      const op = out + (ou << 2);
      store<f32>(op, load<f32>(op) + <f32>t * (halfToF32(<u32>load<u16>(sc + (ou << 1))) * d));
    }
  }
}

/** Scalar reference for gatherColumnsQ8 (same runs, same quantized x, same f32 order). */
export function gatherColumnsQ8Scalar(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32): void {
  const scales = q8InScales(wT, nIn, nOut);
  const nOutU = <usize>nOut;
  const xq = scratchOf((<usize>nKept << 2) + 4);
  memory.fill(out, 0, nOutU << 2);
  let k = 0;
  while (k < nKept) {
    const e = runEnd(idx, k, nKept);
    const d = quantizeRun(xq, x, idx, k, e);
    const sc = scales + ((<usize>(load<u32>(idx + (<usize>k << 2)) >> 5) * nOutU) << 1);
    for (let o = 0; o < nOut; o++) {
      let acc: i32 = 0;
      for (let i = k; i < e; i++) {
        const j = <usize>load<u32>(idx + (<usize>i << 2));
        acc += load<i32>(xq + (<usize>i << 2)) * <i32>load<i8>(wT + j * nOutU + <usize>o);
      }
      const op = out + (<usize>o << 2);
      store<f32>(op, load<f32>(op) + <f32>acc * (halfToF32(<u32>load<u16>(sc + (<usize>o << 1))) * d));
    }
    k = e;
  }
}
