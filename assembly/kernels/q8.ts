// q8 kernels: weights as int8 in blocks of 32 along a row, one f32 scale per block (q8_0 of GGUF
// with the scale widened to f32 and the blocks split into two arrays so quants stay 16-byte
// aligned). A row of n values has nb = ceil(n / 32) blocks; the last may be partial.
//
// Layout of one matrix of `rows` rows of n values at `w`:
//   quants  int8[rows * n]           row r at w + r*n
//   scales  f32[rows * nb]           at q8Scales(w, rows, n) (4-byte aligned after the quants)
// Row-major matrices (attention, LM head) have rows = outputs; input-major MLP matrices have
// rows = inputs, so a pruned input still skips one contiguous run of quants (and its scales).
//
// Summation order is shared by each SIMD kernel and its scalar reference (bit-identical):
// matvec: per block, eight 4-lane partial products summed in order into lanes, combined as
// (l0 + l1) + (l2 + l3); a partial tail block sums in element order; row += scale * blockSum.
// gather: each out[o] accumulates (x_j * scale) * q in kept-column order.

export const Q8_BLOCK: i32 = 32;

// @ts-ignore: decorator
@inline export function q8Blocks(n: i32): i32 {
  return (n + Q8_BLOCK - 1) / Q8_BLOCK;
}

/** Where the scales of a q8 matrix start. */
// @ts-ignore: decorator
@inline export function q8Scales(w: usize, rows: i32, n: i32): usize {
  return (w + <usize>rows * <usize>n + 3) & ~(<usize>3);
}

/** Bytes of a q8 matrix (quants, alignment, scales). */
export function q8Bytes(rows: i32, n: i32): usize {
  return ((<usize>rows * <usize>n + 3) & ~(<usize>3)) + <usize>rows * <usize>q8Blocks(n) * 4;
}

// @ts-ignore: decorator
@inline function toF32x4(q: v128, quarter: i32): v128 {
  // int8 lanes [4*quarter, 4*quarter + 4) of q as f32x4
  let h: v128;
  if (quarter < 2) h = i16x8.extend_low_i8x16_s(q);
  else h = i16x8.extend_high_i8x16_s(q);
  let i: v128;
  if ((quarter & 1) == 0) i = i32x4.extend_low_i16x8_s(h);
  else i = i32x4.extend_high_i16x8_s(h);
  return f32x4.convert_i32x4_s(i);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** One row's dot product with x (SIMD). */
export function dotQ8(q: usize, scales: usize, x: usize, n: i32): f32 {
  const full = n / Q8_BLOCK;
  let acc: f32 = 0;
  for (let b = 0; b < full; b++) {
    const qb = q + <usize>(b * Q8_BLOCK);
    const xb = x + (<usize>(b * Q8_BLOCK) << 2);
    const q0 = v128.load(qb);
    const q1 = v128.load(qb + 16);
    let s = f32x4.mul(toF32x4(q0, 0), v128.load(xb));
    s = f32x4.add(s, f32x4.mul(toF32x4(q0, 1), v128.load(xb + 16)));
    s = f32x4.add(s, f32x4.mul(toF32x4(q0, 2), v128.load(xb + 32)));
    s = f32x4.add(s, f32x4.mul(toF32x4(q0, 3), v128.load(xb + 48)));
    s = f32x4.add(s, f32x4.mul(toF32x4(q1, 0), v128.load(xb + 64)));
    s = f32x4.add(s, f32x4.mul(toF32x4(q1, 1), v128.load(xb + 80)));
    s = f32x4.add(s, f32x4.mul(toF32x4(q1, 2), v128.load(xb + 96)));
    s = f32x4.add(s, f32x4.mul(toF32x4(q1, 3), v128.load(xb + 112)));
    acc += load<f32>(scales + (<usize>b << 2)) * hsum(s);
  }
  return acc + tailDot(q, scales, x, full, n);
}

// @ts-ignore: decorator
@inline function tailDot(q: usize, scales: usize, x: usize, full: i32, n: i32): f32 {
  const start = full * Q8_BLOCK;
  if (start >= n) return 0;
  let t: f32 = 0;
  for (let i = start; i < n; i++) t += <f32>load<i8>(q + <usize>i) * load<f32>(x + (<usize>i << 2));
  return load<f32>(scales + (<usize>full << 2)) * t;
}

// @ts-ignore: decorator
@inline function blockSum(qb: usize, x0: v128, x1: v128, x2: v128, x3: v128, x4: v128, x5: v128, x6: v128, x7: v128): f32 {
  const q0 = v128.load(qb);
  const q1 = v128.load(qb, 16);
  let s = f32x4.mul(toF32x4(q0, 0), x0);
  s = f32x4.add(s, f32x4.mul(toF32x4(q0, 1), x1));
  s = f32x4.add(s, f32x4.mul(toF32x4(q0, 2), x2));
  s = f32x4.add(s, f32x4.mul(toF32x4(q0, 3), x3));
  s = f32x4.add(s, f32x4.mul(toF32x4(q1, 0), x4));
  s = f32x4.add(s, f32x4.mul(toF32x4(q1, 1), x5));
  s = f32x4.add(s, f32x4.mul(toF32x4(q1, 2), x6));
  s = f32x4.add(s, f32x4.mul(toF32x4(q1, 3), x7));
  return hsum(s);
}

/**
 * out[r] = dot(W[r, :], x) for a row-major q8 matrix [rows x cols]. Eight rows per pass (then
 * four, then one) share each block's eight x loads and keep eight weight streams in flight; every
 * row keeps the shared order (bit-identical to the scalar reference).
 */
export function matvecQ8(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const scales = q8Scales(w, rows, cols);
  const nb = q8Blocks(cols);
  const full = cols / Q8_BLOCK;
  const colsU = <usize>cols;
  const nbBytes = <usize>nb << 2;
  let r = 0;
  for (; r + 8 <= rows; r += 8) {
    const q0 = w + <usize>r * colsU;
    const sc0 = scales + <usize>r * nbBytes;
    let acc0: f32 = 0, acc1: f32 = 0, acc2: f32 = 0, acc3: f32 = 0, acc4: f32 = 0, acc5: f32 = 0, acc6: f32 = 0, acc7: f32 = 0;
    for (let b = 0; b < full; b++) {
      const qo = <usize>(b * Q8_BLOCK);
      const xb = x + (qo << 2);
      const x0 = v128.load(xb);
      const x1 = v128.load(xb, 16);
      const x2 = v128.load(xb, 32);
      const x3 = v128.load(xb, 48);
      const x4 = v128.load(xb, 64);
      const x5 = v128.load(xb, 80);
      const x6 = v128.load(xb, 96);
      const x7 = v128.load(xb, 112);
      const so = sc0 + (<usize>b << 2);
      const qb = q0 + qo;
      acc0 += load<f32>(so + 0 * nbBytes) * blockSum(qb + 0 * colsU, x0, x1, x2, x3, x4, x5, x6, x7);
      acc1 += load<f32>(so + 1 * nbBytes) * blockSum(qb + 1 * colsU, x0, x1, x2, x3, x4, x5, x6, x7);
      acc2 += load<f32>(so + 2 * nbBytes) * blockSum(qb + 2 * colsU, x0, x1, x2, x3, x4, x5, x6, x7);
      acc3 += load<f32>(so + 3 * nbBytes) * blockSum(qb + 3 * colsU, x0, x1, x2, x3, x4, x5, x6, x7);
      acc4 += load<f32>(so + 4 * nbBytes) * blockSum(qb + 4 * colsU, x0, x1, x2, x3, x4, x5, x6, x7);
      acc5 += load<f32>(so + 5 * nbBytes) * blockSum(qb + 5 * colsU, x0, x1, x2, x3, x4, x5, x6, x7);
      acc6 += load<f32>(so + 6 * nbBytes) * blockSum(qb + 6 * colsU, x0, x1, x2, x3, x4, x5, x6, x7);
      acc7 += load<f32>(so + 7 * nbBytes) * blockSum(qb + 7 * colsU, x0, x1, x2, x3, x4, x5, x6, x7);
    }
    const o = out + (<usize>r << 2);
    store<f32>(o, acc0 + tailDot(q0 + 0 * colsU, sc0 + 0 * nbBytes, x, full, cols), 0);
    store<f32>(o, acc1 + tailDot(q0 + 1 * colsU, sc0 + 1 * nbBytes, x, full, cols), 4);
    store<f32>(o, acc2 + tailDot(q0 + 2 * colsU, sc0 + 2 * nbBytes, x, full, cols), 8);
    store<f32>(o, acc3 + tailDot(q0 + 3 * colsU, sc0 + 3 * nbBytes, x, full, cols), 12);
    store<f32>(o, acc4 + tailDot(q0 + 4 * colsU, sc0 + 4 * nbBytes, x, full, cols), 16);
    store<f32>(o, acc5 + tailDot(q0 + 5 * colsU, sc0 + 5 * nbBytes, x, full, cols), 20);
    store<f32>(o, acc6 + tailDot(q0 + 6 * colsU, sc0 + 6 * nbBytes, x, full, cols), 24);
    store<f32>(o, acc7 + tailDot(q0 + 7 * colsU, sc0 + 7 * nbBytes, x, full, cols), 28);
  }
  for (; r + 4 <= rows; r += 4) {
    const q0 = w + <usize>r * colsU;
    const q1 = q0 + colsU;
    const q2 = q1 + colsU;
    const q3 = q2 + colsU;
    const sc0 = scales + <usize>r * nbBytes;
    const sc1 = sc0 + nbBytes;
    const sc2 = sc1 + nbBytes;
    const sc3 = sc2 + nbBytes;
    let acc0: f32 = 0, acc1: f32 = 0, acc2: f32 = 0, acc3: f32 = 0;
    for (let b = 0; b < full; b++) {
      const qo = <usize>(b * Q8_BLOCK);
      const xb = x + (qo << 2);
      const x0 = v128.load(xb);
      const x1 = v128.load(xb, 16);
      const x2 = v128.load(xb, 32);
      const x3 = v128.load(xb, 48);
      const x4 = v128.load(xb, 64);
      const x5 = v128.load(xb, 80);
      const x6 = v128.load(xb, 96);
      const x7 = v128.load(xb, 112);
      const so = <usize>b << 2;
      acc0 += load<f32>(sc0 + so) * blockSum(q0 + qo, x0, x1, x2, x3, x4, x5, x6, x7);
      acc1 += load<f32>(sc1 + so) * blockSum(q1 + qo, x0, x1, x2, x3, x4, x5, x6, x7);
      acc2 += load<f32>(sc2 + so) * blockSum(q2 + qo, x0, x1, x2, x3, x4, x5, x6, x7);
      acc3 += load<f32>(sc3 + so) * blockSum(q3 + qo, x0, x1, x2, x3, x4, x5, x6, x7);
    }
    const o = out + (<usize>r << 2);
    store<f32>(o, acc0 + tailDot(q0, sc0, x, full, cols));
    store<f32>(o, acc1 + tailDot(q1, sc1, x, full, cols), 4);
    store<f32>(o, acc2 + tailDot(q2, sc2, x, full, cols), 8);
    store<f32>(o, acc3 + tailDot(q3, sc3, x, full, cols), 12);
  }
  for (; r < rows; r++) {
    store<f32>(out + (<usize>r << 2), dotQ8(w + <usize>r * colsU, scales + <usize>r * nbBytes, x, cols));
  }
}

/** Scalar reference for matvecQ8 (same order). */
export function matvecQ8Scalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const scales = q8Scales(w, rows, cols);
  const nb = q8Blocks(cols);
  const full = cols / Q8_BLOCK;
  for (let r = 0; r < rows; r++) {
    const q = w + <usize>r * <usize>cols;
    const sc = scales + (<usize>(r * nb) << 2);
    let acc: f32 = 0;
    for (let b = 0; b < full; b++) {
      let l0: f32 = 0, l1: f32 = 0, l2: f32 = 0, l3: f32 = 0;
      for (let k = 0; k < 8; k++) {
        const i = b * Q8_BLOCK + 4 * k;
        l0 += <f32>load<i8>(q + <usize>i) * load<f32>(x + (<usize>i << 2));
        l1 += <f32>load<i8>(q + <usize>(i + 1)) * load<f32>(x + (<usize>(i + 1) << 2));
        l2 += <f32>load<i8>(q + <usize>(i + 2)) * load<f32>(x + (<usize>(i + 2) << 2));
        l3 += <f32>load<i8>(q + <usize>(i + 3)) * load<f32>(x + (<usize>(i + 3) << 2));
      }
      acc += load<f32>(sc + (<usize>b << 2)) * ((l0 + l1) + (l2 + l3));
    }
    store<f32>(out + (<usize>r << 2), acc + tailDot(q, sc, x, full, cols));
  }
}

/** Listed rows only: out[k] = dot(W[rows[k], :], x) (CATS reads kept rows of W_up). */
export function matvecRowsQ8(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, totalRows: i32, cols: i32): void {
  const scales = q8Scales(w, totalRows, cols);
  const nb = q8Blocks(cols);
  for (let k = 0; k < nRows; k++) {
    const r = <i32>load<u32>(rowIdx + (<usize>k << 2));
    store<f32>(out + (<usize>k << 2), dotQ8(w + <usize>r * <usize>cols, scales + (<usize>(r * nb) << 2), x, cols));
  }
}

/** Dequantizes row r of a q8 matrix into out (the embedding lookup of a q8 table). */
export function dequantRowQ8(out: usize, w: usize, r: i32, rows: i32, cols: i32): void {
  const q = w + <usize>r * <usize>cols;
  const sc = q8Scales(w, rows, cols) + (<usize>(r * q8Blocks(cols)) << 2);
  for (let i = 0; i < cols; i++) {
    store<f32>(out + (<usize>i << 2), load<f32>(sc + (<usize>(i / Q8_BLOCK) << 2)) * <f32>load<i8>(q + <usize>i));
  }
}

/**
 * Column gather on an input-major q8 matrix (nIn rows of nOut quants):
 *   out[o] = sum over kept j, in order, of (x[j] * scale[j, o/32]) * q[j, o]
 */
export function gatherColumnsQ8(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32): void {
  const scales = q8Scales(wT, nIn, nOut);
  const nb = q8Blocks(nOut);
  const full = nOut / Q8_BLOCK;
  const nOutU = <usize>nOut;
  const nbBytes = <usize>nb << 2;
  memory.fill(out, 0, nOutU << 2);
  let k = 0;
  // four kept columns per pass: one load/store of out per four columns, same order per element
  for (; k + 4 <= nKept; k += 4) {
    const ik = idx + (<usize>k << 2);
    const j0 = <usize>load<u32>(ik);
    const j1 = <usize>load<u32>(ik, 4);
    const j2 = <usize>load<u32>(ik, 8);
    const j3 = <usize>load<u32>(ik, 12);
    const xj0 = load<f32>(x + (j0 << 2));
    const xj1 = load<f32>(x + (j1 << 2));
    const xj2 = load<f32>(x + (j2 << 2));
    const xj3 = load<f32>(x + (j3 << 2));
    const c0 = wT + j0 * nOutU;
    const c1 = wT + j1 * nOutU;
    const c2 = wT + j2 * nOutU;
    const c3 = wT + j3 * nOutU;
    const sc0 = scales + j0 * nbBytes;
    const sc1 = scales + j1 * nbBytes;
    const sc2 = scales + j2 * nbBytes;
    const sc3 = scales + j3 * nbBytes;
    for (let b = 0; b < full; b++) {
      const so = <usize>b << 2;
      const s0 = f32x4.splat(xj0 * load<f32>(sc0 + so));
      const s1 = f32x4.splat(xj1 * load<f32>(sc1 + so));
      const s2 = f32x4.splat(xj2 * load<f32>(sc2 + so));
      const s3 = f32x4.splat(xj3 * load<f32>(sc3 + so));
      const qo = <usize>(b * Q8_BLOCK);
      const ob = out + (qo << 2);
      const a0 = v128.load(c0 + qo);
      const a1 = v128.load(c0 + qo, 16);
      const b0 = v128.load(c1 + qo);
      const b1 = v128.load(c1 + qo, 16);
      const d0 = v128.load(c2 + qo);
      const d1 = v128.load(c2 + qo, 16);
      const e0 = v128.load(c3 + qo);
      const e1 = v128.load(c3 + qo, 16);
      let p0 = v128.load(ob, 0);
      p0 = f32x4.add(p0, f32x4.mul(s0, toF32x4(a0, 0)));
      p0 = f32x4.add(p0, f32x4.mul(s1, toF32x4(b0, 0)));
      p0 = f32x4.add(p0, f32x4.mul(s2, toF32x4(d0, 0)));
      p0 = f32x4.add(p0, f32x4.mul(s3, toF32x4(e0, 0)));
      v128.store(ob, p0, 0);
      let p1 = v128.load(ob, 16);
      p1 = f32x4.add(p1, f32x4.mul(s0, toF32x4(a0, 1)));
      p1 = f32x4.add(p1, f32x4.mul(s1, toF32x4(b0, 1)));
      p1 = f32x4.add(p1, f32x4.mul(s2, toF32x4(d0, 1)));
      p1 = f32x4.add(p1, f32x4.mul(s3, toF32x4(e0, 1)));
      v128.store(ob, p1, 16);
      let p2 = v128.load(ob, 32);
      p2 = f32x4.add(p2, f32x4.mul(s0, toF32x4(a0, 2)));
      p2 = f32x4.add(p2, f32x4.mul(s1, toF32x4(b0, 2)));
      p2 = f32x4.add(p2, f32x4.mul(s2, toF32x4(d0, 2)));
      p2 = f32x4.add(p2, f32x4.mul(s3, toF32x4(e0, 2)));
      v128.store(ob, p2, 32);
      let p3 = v128.load(ob, 48);
      p3 = f32x4.add(p3, f32x4.mul(s0, toF32x4(a0, 3)));
      p3 = f32x4.add(p3, f32x4.mul(s1, toF32x4(b0, 3)));
      p3 = f32x4.add(p3, f32x4.mul(s2, toF32x4(d0, 3)));
      p3 = f32x4.add(p3, f32x4.mul(s3, toF32x4(e0, 3)));
      v128.store(ob, p3, 48);
      let p4 = v128.load(ob, 64);
      p4 = f32x4.add(p4, f32x4.mul(s0, toF32x4(a1, 0)));
      p4 = f32x4.add(p4, f32x4.mul(s1, toF32x4(b1, 0)));
      p4 = f32x4.add(p4, f32x4.mul(s2, toF32x4(d1, 0)));
      p4 = f32x4.add(p4, f32x4.mul(s3, toF32x4(e1, 0)));
      v128.store(ob, p4, 64);
      let p5 = v128.load(ob, 80);
      p5 = f32x4.add(p5, f32x4.mul(s0, toF32x4(a1, 1)));
      p5 = f32x4.add(p5, f32x4.mul(s1, toF32x4(b1, 1)));
      p5 = f32x4.add(p5, f32x4.mul(s2, toF32x4(d1, 1)));
      p5 = f32x4.add(p5, f32x4.mul(s3, toF32x4(e1, 1)));
      v128.store(ob, p5, 80);
      let p6 = v128.load(ob, 96);
      p6 = f32x4.add(p6, f32x4.mul(s0, toF32x4(a1, 2)));
      p6 = f32x4.add(p6, f32x4.mul(s1, toF32x4(b1, 2)));
      p6 = f32x4.add(p6, f32x4.mul(s2, toF32x4(d1, 2)));
      p6 = f32x4.add(p6, f32x4.mul(s3, toF32x4(e1, 2)));
      v128.store(ob, p6, 96);
      let p7 = v128.load(ob, 112);
      p7 = f32x4.add(p7, f32x4.mul(s0, toF32x4(a1, 3)));
      p7 = f32x4.add(p7, f32x4.mul(s1, toF32x4(b1, 3)));
      p7 = f32x4.add(p7, f32x4.mul(s2, toF32x4(d1, 3)));
      p7 = f32x4.add(p7, f32x4.mul(s3, toF32x4(e1, 3)));
      v128.store(ob, p7, 112);
    }
    if (full < nb) {
      const so = <usize>full << 2;
      const s0: f32 = xj0 * load<f32>(sc0 + so);
      const s1: f32 = xj1 * load<f32>(sc1 + so);
      const s2: f32 = xj2 * load<f32>(sc2 + so);
      const s3: f32 = xj3 * load<f32>(sc3 + so);
      for (let o = full * Q8_BLOCK; o < nOut; o++) {
        const p = out + (<usize>o << 2);
        let acc = load<f32>(p);
        acc += s0 * <f32>load<i8>(c0 + <usize>o);
        acc += s1 * <f32>load<i8>(c1 + <usize>o);
        acc += s2 * <f32>load<i8>(c2 + <usize>o);
        acc += s3 * <f32>load<i8>(c3 + <usize>o);
        store<f32>(p, acc);
      }
    }
  }
  for (; k < nKept; k++) {
    const j = <i32>load<u32>(idx + (<usize>k << 2));
    const xj = load<f32>(x + (<usize>j << 2));
    const q = wT + <usize>j * nOutU;
    const sc = scales + <usize>j * nbBytes;
    for (let b = 0; b < full; b++) {
      const s = f32x4.splat(xj * load<f32>(sc + (<usize>b << 2)));
      const qb = q + <usize>(b * Q8_BLOCK);
      const ob = out + (<usize>(b * Q8_BLOCK) << 2);
      const q0 = v128.load(qb);
      const q1 = v128.load(qb + 16);
      v128.store(ob, f32x4.add(v128.load(ob), f32x4.mul(s, toF32x4(q0, 0))));
      v128.store(ob + 16, f32x4.add(v128.load(ob + 16), f32x4.mul(s, toF32x4(q0, 1))));
      v128.store(ob + 32, f32x4.add(v128.load(ob + 32), f32x4.mul(s, toF32x4(q0, 2))));
      v128.store(ob + 48, f32x4.add(v128.load(ob + 48), f32x4.mul(s, toF32x4(q0, 3))));
      v128.store(ob + 64, f32x4.add(v128.load(ob + 64), f32x4.mul(s, toF32x4(q1, 0))));
      v128.store(ob + 80, f32x4.add(v128.load(ob + 80), f32x4.mul(s, toF32x4(q1, 1))));
      v128.store(ob + 96, f32x4.add(v128.load(ob + 96), f32x4.mul(s, toF32x4(q1, 2))));
      v128.store(ob + 112, f32x4.add(v128.load(ob + 112), f32x4.mul(s, toF32x4(q1, 3))));
    }
    if (full < nb) {
      const s: f32 = xj * load<f32>(sc + (<usize>full << 2));
      for (let o = full * Q8_BLOCK; o < nOut; o++) {
        const p = out + (<usize>o << 2);
        store<f32>(p, load<f32>(p) + s * <f32>load<i8>(q + <usize>o));
      }
    }
  }
}

/** Scalar reference for gatherColumnsQ8. */
export function gatherColumnsQ8Scalar(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nIn: i32, nOut: i32): void {
  const scales = q8Scales(wT, nIn, nOut);
  const nb = q8Blocks(nOut);
  memory.fill(out, 0, <usize>nOut << 2);
  for (let k = 0; k < nKept; k++) {
    const j = <i32>load<u32>(idx + (<usize>k << 2));
    const xj = load<f32>(x + (<usize>j << 2));
    const q = wT + <usize>j * <usize>nOut;
    const sc = scales + (<usize>(j * nb) << 2);
    for (let o = 0; o < nOut; o++) {
      const s: f32 = xj * load<f32>(sc + (<usize>(o / Q8_BLOCK) << 2));
      const p = out + (<usize>o << 2);
      store<f32>(p, load<f32>(p) + s * <f32>load<i8>(q + <usize>o));
    }
  }
}
