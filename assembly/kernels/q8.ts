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

/** out[r] = dot(W[r, :], x) for a row-major q8 matrix [rows x cols]. */
export function matvecQ8(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const scales = q8Scales(w, rows, cols);
  const nb = q8Blocks(cols);
  for (let r = 0; r < rows; r++) {
    store<f32>(out + (<usize>r << 2), dotQ8(w + <usize>r * <usize>cols, scales + (<usize>(r * nb) << 2), x, cols));
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
  memory.fill(out, 0, <usize>nOut << 2);
  for (let k = 0; k < nKept; k++) {
    const j = <i32>load<u32>(idx + (<usize>k << 2));
    const xj = load<f32>(x + (<usize>j << 2));
    const q = wT + <usize>j * <usize>nOut;
    const sc = scales + (<usize>(j * nb) << 2);
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
