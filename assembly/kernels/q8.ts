// q8 kernels: int8 weights with a scale per block of 32 values along the reduction (input)
// dimension, as GGUF's Q8_0, and integer dot products: the activations are quantized too, to
// int8 per block of 32 with one f32 scale (llama.cpp's q8_0 x q8_0), widened to i16 and
// multiplied with i32x4.dot_i16x8_s. Integer SIMD only (no relaxed SIMD), so results are the same
// on every engine. Integer sums are exact, so each SIMD kernel and its scalar reference agree bit
// for bit as long as the few f32 operations come in the same order (stated per kernel).
//
// Two layouts, both built at load time by host/quant.ts:
//
// Row-major (attention, LM head, the token embedding, CATS's W_up): `rows` rows of n values,
//   quants  int8[rows * n]           row r at w + r*n
//   scales  f32[rows * nb]           at q8Scales(w, rows, n) (4-byte aligned after the quants)
// with nb = ceil(n / 32) blocks per row (the last may be partial).
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

export const Q8_BLOCK: i32 = 32;

// @ts-ignore: decorator
@inline export function q8Blocks(n: i32): i32 {
  return (n + Q8_BLOCK - 1) / Q8_BLOCK;
}

/** Where the scales of a row-major q8 matrix start. */
// @ts-ignore: decorator
@inline export function q8Scales(w: usize, rows: i32, n: i32): usize {
  return (w + <usize>rows * <usize>n + 3) & ~(<usize>3);
}

/** Bytes of a row-major q8 matrix (quants, alignment, scales). */
export function q8Bytes(rows: i32, n: i32): usize {
  return ((<usize>rows * <usize>n + 3) & ~(<usize>3)) + <usize>rows * <usize>q8Blocks(n) * 4;
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

// ---- scratch for the quantized activations and the gather's i32 accumulators ----

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
// Order (SIMD and scalar): per full block, the 32 products go to four i32 lanes (lane l holds
// elements 8k + 2l and 8k + 2l + 1, k = 0..3: the layout of dot_i16x8_s), each lane is converted to
// f32 and accumulated as lane += f32(laneSum) * (wScale * xScale) over the blocks; the row is
// (l0 + l1) + (l2 + l3) + tail, tail = f32(i32 sum of the partial block) * (wScale * xScale).
// Bound: a lane sums 8 products of |q| <= 127 and |xq| <= 127, |sum| <= 129,032 < 2^24, exact
// in i32 and in f32; a tail block sums at most 31 products, < 2^19.

// @ts-ignore: decorator
@inline function blockDot(qb: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  // 32 int8 weights x 32 i16 activations -> i32x4 lane sums
  const a = v128.load(qb);
  const c = v128.load(qb, 16);
  const s0 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), x0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), x1));
  const s1 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(c), x2), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(c), x3));
  return i32x4.add(s0, s1);
}

// @ts-ignore: decorator
@inline function blockStep(acc: v128, qb: usize, scale: f32, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(blockDot(qb, x0, x1, x2, x3)), f32x4.splat(scale)));
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** The partial last block of a row (0 when n is a multiple of 32). */
// @ts-ignore: decorator
@inline function tailDot(q: usize, sc: usize, xq: usize, xs: usize, full: i32, n: i32): f32 {
  const start = full * Q8_BLOCK;
  if (start >= n) return 0;
  let t: i32 = 0;
  for (let i = start; i < n; i++) t += <i32>load<i8>(q + <usize>i) * <i32>load<i16>(xq + (<usize>i << 1));
  return <f32>t * (load<f32>(sc + (<usize>full << 2)) * load<f32>(xs + (<usize>full << 2)));
}

/** One row against the quantized x (SIMD). */
function dotRowQ8(q: usize, sc: usize, xq: usize, xs: usize, n: i32): f32 {
  const full = n / Q8_BLOCK;
  let acc = f32x4.splat(0);
  for (let b = 0; b < full; b++) {
    const xb = xq + (<usize>b << 6);
    const so = <usize>b << 2;
    acc = blockStep(acc, q + <usize>(b * Q8_BLOCK), load<f32>(sc + so) * load<f32>(xs + so), v128.load(xb), v128.load(xb, 16), v128.load(xb, 32), v128.load(xb, 48));
  }
  return hsum(acc) + tailDot(q, sc, xq, xs, full, n);
}

/**
 * out[r] = dot(W[r, :], x) for a row-major q8 matrix [rows x cols]. x is quantized once per call;
 * eight rows per pass share each block's x loads and keep eight weight streams in flight.
 */
export function matvecQ8(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const scales = q8Scales(w, rows, cols);
  const nb = q8Blocks(cols);
  const full = cols / Q8_BLOCK;
  const colsU = <usize>cols;
  const nbBytes = <usize>nb << 2;
  const xq = quantizeX(x, cols);
  const xs = xq + (<usize>nb << 6);
  let r = 0;
  for (; r + 8 <= rows; r += 8) {
    const q0 = w + <usize>r * colsU;
    const sc0 = scales + <usize>r * nbBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
    for (let b = 0; b < full; b++) {
      const xb = xq + (<usize>b << 6);
      const x0 = v128.load(xb);
      const x1 = v128.load(xb, 16);
      const x2 = v128.load(xb, 32);
      const x3 = v128.load(xb, 48);
      const so = <usize>b << 2;
      const xsb = load<f32>(xs + so);
      const s = sc0 + so;
      const qb = q0 + <usize>(b * Q8_BLOCK);
      a0 = blockStep(a0, qb, load<f32>(s) * xsb, x0, x1, x2, x3);
      a1 = blockStep(a1, qb + colsU, load<f32>(s + nbBytes) * xsb, x0, x1, x2, x3);
      a2 = blockStep(a2, qb + 2 * colsU, load<f32>(s + 2 * nbBytes) * xsb, x0, x1, x2, x3);
      a3 = blockStep(a3, qb + 3 * colsU, load<f32>(s + 3 * nbBytes) * xsb, x0, x1, x2, x3);
      a4 = blockStep(a4, qb + 4 * colsU, load<f32>(s + 4 * nbBytes) * xsb, x0, x1, x2, x3);
      a5 = blockStep(a5, qb + 5 * colsU, load<f32>(s + 5 * nbBytes) * xsb, x0, x1, x2, x3);
      a6 = blockStep(a6, qb + 6 * colsU, load<f32>(s + 6 * nbBytes) * xsb, x0, x1, x2, x3);
      a7 = blockStep(a7, qb + 7 * colsU, load<f32>(s + 7 * nbBytes) * xsb, x0, x1, x2, x3);
    }
    const o = out + (<usize>r << 2);
    store<f32>(o, hsum(a0) + tailDot(q0, sc0, xq, xs, full, cols), 0);
    store<f32>(o, hsum(a1) + tailDot(q0 + colsU, sc0 + nbBytes, xq, xs, full, cols), 4);
    store<f32>(o, hsum(a2) + tailDot(q0 + 2 * colsU, sc0 + 2 * nbBytes, xq, xs, full, cols), 8);
    store<f32>(o, hsum(a3) + tailDot(q0 + 3 * colsU, sc0 + 3 * nbBytes, xq, xs, full, cols), 12);
    store<f32>(o, hsum(a4) + tailDot(q0 + 4 * colsU, sc0 + 4 * nbBytes, xq, xs, full, cols), 16);
    store<f32>(o, hsum(a5) + tailDot(q0 + 5 * colsU, sc0 + 5 * nbBytes, xq, xs, full, cols), 20);
    store<f32>(o, hsum(a6) + tailDot(q0 + 6 * colsU, sc0 + 6 * nbBytes, xq, xs, full, cols), 24);
    store<f32>(o, hsum(a7) + tailDot(q0 + 7 * colsU, sc0 + 7 * nbBytes, xq, xs, full, cols), 28);
  }
  for (; r < rows; r++) {
    store<f32>(out + (<usize>r << 2), dotRowQ8(w + <usize>r * colsU, scales + <usize>r * nbBytes, xq, xs, cols));
  }
}

/** Scalar reference for matvecQ8 (same quantized x, same order). */
export function matvecQ8Scalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const scales = q8Scales(w, rows, cols);
  const nb = q8Blocks(cols);
  const full = cols / Q8_BLOCK;
  const xq = quantizeX(x, cols);
  const xs = xq + (<usize>nb << 6);
  for (let r = 0; r < rows; r++) {
    const q = w + <usize>r * <usize>cols;
    const sc = scales + (<usize>(r * nb) << 2);
    let l0: f32 = 0, l1: f32 = 0, l2: f32 = 0, l3: f32 = 0;
    for (let b = 0; b < full; b++) {
      let s0: i32 = 0, s1: i32 = 0, s2: i32 = 0, s3: i32 = 0;
      for (let i = b * Q8_BLOCK; i < (b + 1) * Q8_BLOCK; i++) {
        const p = <i32>load<i8>(q + <usize>i) * <i32>load<i16>(xq + (<usize>i << 1));
        const lane = (i & 7) >> 1;
        if (lane == 0) s0 += p;
        else if (lane == 1) s1 += p;
        else if (lane == 2) s2 += p;
        else s3 += p;
      }
      const s: f32 = load<f32>(sc + (<usize>b << 2)) * load<f32>(xs + (<usize>b << 2));
      l0 += <f32>s0 * s;
      l1 += <f32>s1 * s;
      l2 += <f32>s2 * s;
      l3 += <f32>s3 * s;
    }
    store<f32>(out + (<usize>r << 2), (l0 + l1) + (l2 + l3) + tailDot(q, sc, xq, xs, full, cols));
  }
}

/** Listed rows only: out[k] = dot(W[rows[k], :], x) (CATS reads kept rows of W_up); as matvecQ8 per row. */
export function matvecRowsQ8(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, totalRows: i32, cols: i32): void {
  const scales = q8Scales(w, totalRows, cols);
  const nb = q8Blocks(cols);
  const xq = quantizeX(x, cols);
  const xs = xq + (<usize>nb << 6);
  for (let k = 0; k < nRows; k++) {
    const r = <i32>load<u32>(rowIdx + (<usize>k << 2));
    store<f32>(out + (<usize>k << 2), dotRowQ8(w + <usize>r * <usize>cols, scales + (<usize>(r * nb) << 2), xq, xs, cols));
  }
}

/** Dequantizes row r of a row-major q8 matrix into out (the embedding lookup of a q8 table). */
export function dequantRowQ8(out: usize, w: usize, r: i32, rows: i32, cols: i32): void {
  const q = w + <usize>r * <usize>cols;
  const sc = q8Scales(w, rows, cols) + (<usize>(r * q8Blocks(cols)) << 2);
  for (let i = 0; i < cols; i++) {
    store<f32>(out + (<usize>i << 2), load<f32>(sc + (<usize>(i / Q8_BLOCK) << 2)) * <f32>load<i8>(q + <usize>i));
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

/** The i16 pair (xa, xb) in every i32 lane: dot_i16x8_s against an interleaved pair gives xa*a + xb*b. */
// @ts-ignore: decorator
@inline function xPair(xa: i32, xb: i32): v128 {
  return i32x4.splat((xb << 16) | (xa & 0xffff));
}

/** acc[o, o + 16) += xa * a[o..] + xb * b[o..] + xc * c[o..] + xd * d[o..] (two interleaved pairs). */
// @ts-ignore: decorator
@inline function twoPairs16(accp: usize, ca: usize, cb: usize, cc: usize, cd: usize, p0: v128, p1: v128): void {
  const a = v128.load(ca);
  const b = v128.load(cb);
  const c = v128.load(cc);
  const d = v128.load(cd);
  const ab0 = pairLo(a, b);
  const ab1 = pairHi(a, b);
  const cd0 = pairLo(c, d);
  const cd1 = pairHi(c, d);
  const s0 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(ab0), p0), i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(cd0), p1));
  const s1 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(ab0), p0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(cd0), p1));
  const s2 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(ab1), p0), i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(cd1), p1));
  const s3 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(ab1), p0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(cd1), p1));
  v128.store(accp, i32x4.add(v128.load(accp), s0));
  v128.store(accp, i32x4.add(v128.load(accp, 16), s1), 16);
  v128.store(accp, i32x4.add(v128.load(accp, 32), s2), 32);
  v128.store(accp, i32x4.add(v128.load(accp, 48), s3), 48);
}

/** acc[o, o + 16) += xa * a[o..] + xb * b[o..] (one interleaved pair). */
// @ts-ignore: decorator
@inline function onePair16(accp: usize, ca: usize, cb: usize, p: v128): void {
  const a = v128.load(ca);
  const b = v128.load(cb);
  const ab0 = pairLo(a, b);
  const ab1 = pairHi(a, b);
  v128.store(accp, i32x4.add(v128.load(accp), i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(ab0), p)));
  v128.store(accp, i32x4.add(v128.load(accp, 16), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(ab0), p)), 16);
  v128.store(accp, i32x4.add(v128.load(accp, 32), i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(ab1), p)), 32);
  v128.store(accp, i32x4.add(v128.load(accp, 48), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(ab1), p)), 48);
}

/**
 * Column gather on an input-major q8 matrix [nIn x nOut] (layout above): out[o] = sum over the
 * kept inputs j (idx[0, nKept), ascending for one run per block) of x[j] * W[o, j], with x quantized
 * per run. Within a run, four kept columns per pass over the outputs (two interleaved pairs, then
 * one pair, then one column paired with a zero weight in x), accumulating in i32.
 */
export function gatherColumnsQ8(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32): void {
  const scales = q8InScales(wT, nIn, nOut);
  const nOutU = <usize>nOut;
  const v16 = nOut & ~15; // outputs done 16 at a time; the rest one by one
  const accBytes = (nOutU << 2) + 64;
  const acc = scratchOf(accBytes + (<usize>nKept << 2));
  const xq = acc + accBytes;
  memory.fill(out, 0, nOutU << 2);
  let k = 0;
  while (k < nKept) {
    const e = runEnd(idx, k, nKept);
    const d = quantizeRun(xq, x, idx, k, e);
    memory.fill(acc, 0, nOutU << 2);
    let i = k;
    for (; i + 4 <= e; i += 4) {
      const ik = idx + (<usize>i << 2);
      const ca = wT + <usize>load<u32>(ik) * nOutU;
      const cb = wT + <usize>load<u32>(ik, 4) * nOutU;
      const cc = wT + <usize>load<u32>(ik, 8) * nOutU;
      const cd = wT + <usize>load<u32>(ik, 12) * nOutU;
      const xi = xq + (<usize>i << 2);
      const xa = load<i32>(xi), xb = load<i32>(xi, 4), xc = load<i32>(xi, 8), xd = load<i32>(xi, 12);
      const p0 = xPair(xa, xb);
      const p1 = xPair(xc, xd);
      for (let o = 0; o < v16; o += 16) {
        const ou = <usize>o;
        twoPairs16(acc + (ou << 2), ca + ou, cb + ou, cc + ou, cd + ou, p0, p1);
      }
      for (let o = v16; o < nOut; o++) {
        const ou = <usize>o;
        const p = acc + (ou << 2);
        store<i32>(p, load<i32>(p) + xa * <i32>load<i8>(ca + ou) + xb * <i32>load<i8>(cb + ou) + xc * <i32>load<i8>(cc + ou) + xd * <i32>load<i8>(cd + ou));
      }
    }
    for (; i < e; i += 2) {
      // a pair, or the last column with itself and x = (xa, 0)
      const ik = idx + (<usize>i << 2);
      const ca = wT + <usize>load<u32>(ik) * nOutU;
      const two = i + 1 < e;
      const cb = two ? wT + <usize>load<u32>(ik, 4) * nOutU : ca;
      const xa = load<i32>(xq + (<usize>i << 2));
      const xb = two ? load<i32>(xq + (<usize>i << 2), 4) : 0;
      const p = xPair(xa, xb);
      for (let o = 0; o < v16; o += 16) {
        const ou = <usize>o;
        onePair16(acc + (ou << 2), ca + ou, cb + ou, p);
      }
      for (let o = v16; o < nOut; o++) {
        const ou = <usize>o;
        const pa = acc + (ou << 2);
        store<i32>(pa, load<i32>(pa) + xa * <i32>load<i8>(ca + ou) + xb * <i32>load<i8>(cb + ou));
      }
    }
    // flush: out += f32(acc) * (scale * d), eight outputs at a time
    const sc = scales + ((<usize>(load<u32>(idx + (<usize>k << 2)) >> 5) * nOutU) << 1);
    const dv = f32x4.splat(d);
    const rebias = i32x4.splat(HALF_REBIAS);
    const v8 = nOut & ~7;
    for (let o = 0; o < v8; o += 8) {
      const ou = <usize>o;
      const h = v128.load(sc + (ou << 1));
      const s0 = f32x4.mul(i32x4.add(i32x4.shl(i32x4.extend_low_i16x8_u(h), 13), rebias), dv);
      const s1 = f32x4.mul(i32x4.add(i32x4.shl(i32x4.extend_high_i16x8_u(h), 13), rebias), dv);
      const op = out + (ou << 2);
      const ap = acc + (ou << 2);
      v128.store(op, f32x4.add(v128.load(op), f32x4.mul(f32x4.convert_i32x4_s(v128.load(ap)), s0)));
      v128.store(op, f32x4.add(v128.load(op, 16), f32x4.mul(f32x4.convert_i32x4_s(v128.load(ap, 16)), s1)), 16);
    }
    for (let o = v8; o < nOut; o++) {
      const ou = <usize>o;
      const op = out + (ou << 2);
      store<f32>(op, load<f32>(op) + <f32>load<i32>(acc + (ou << 2)) * (halfToF32(<u32>load<u16>(sc + (ou << 1))) * d));
    }
    k = e;
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
