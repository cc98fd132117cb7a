// Column-gather ("sparse input") matrix-vector product on input-major weights.
//
// The MLP matrices are stored transposed: WT is [nIn x nOut] row-major, so the column of W that
// multiplies input j is the contiguous run WT[j, :] (ARCHITECTURE.md). Pruning input j then skips
// nOut*4 contiguous bytes: the weights of pruned inputs are never read.
//
//   out[o] = sum over k of x[idx[k]] * WT[idx[k], o]      (idx ascending, nKept entries)
//
// Order: each out[o] accumulates the kept columns one after another in idx order, starting from 0.
// The SIMD kernel takes eight (then four, then one) columns per pass but adds them in that same order, so it is
// bit-identical to the scalar reference.

import { axpy4F32, axpy8F32, axpyF32 } from "./axpy";

/**
 * SIMD: eight kept columns per pass (one load/store of out per eight weight columns; eight weight
 * streams in flight keep the prefetchers busy when kept columns are short and scattered), then
 * four, then one at a time.
 */
export function gatherColumnsF32(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  gatherColumnsStridedF32(out, wT, x, idx, nKept, nOut, <usize>nOut << 2);
}

/**
 * Outputs [from, to) of gatherColumnsF32 (the share of one thread, assembly/threads/): every
 * out[o] gets the same adds in the same order as in the whole product, so a split product is
 * bit-identical to an unsplit one.
 */
export function gatherColumnsRangeF32(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32, from: i32, to: i32): void {
  const skip = <usize>from << 2;
  gatherColumnsStridedF32(out + skip, wT + skip, x, idx, nKept, to - from, <usize>nOut << 2);
}

/** The kernel: nOut outputs from columns colBytes apart (colBytes = 4 * nOut for a whole product). */
// @ts-ignore: decorator
@inline function gatherColumnsStridedF32(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32, colBytes: usize): void {
  memory.fill(out, 0, <usize>nOut << 2);
  let k = 0;
  for (; k + 8 <= nKept; k += 8) {
    const ik = idx + (<usize>k << 2);
    const j0 = load<u32>(ik);
    const j1 = load<u32>(ik, 4);
    const j2 = load<u32>(ik, 8);
    const j3 = load<u32>(ik, 12);
    const j4 = load<u32>(ik, 16);
    const j5 = load<u32>(ik, 20);
    const j6 = load<u32>(ik, 24);
    const j7 = load<u32>(ik, 28);
    axpy8F32(
      out,
      wT + <usize>j0 * colBytes, wT + <usize>j1 * colBytes, wT + <usize>j2 * colBytes, wT + <usize>j3 * colBytes,
      wT + <usize>j4 * colBytes, wT + <usize>j5 * colBytes, wT + <usize>j6 * colBytes, wT + <usize>j7 * colBytes,
      load<f32>(x + (<usize>j0 << 2)), load<f32>(x + (<usize>j1 << 2)), load<f32>(x + (<usize>j2 << 2)), load<f32>(x + (<usize>j3 << 2)),
      load<f32>(x + (<usize>j4 << 2)), load<f32>(x + (<usize>j5 << 2)), load<f32>(x + (<usize>j6 << 2)), load<f32>(x + (<usize>j7 << 2)),
      nOut,
    );
  }
  for (; k + 4 <= nKept; k += 4) {
    const j0 = load<u32>(idx + (<usize>k << 2));
    const j1 = load<u32>(idx + (<usize>(k + 1) << 2));
    const j2 = load<u32>(idx + (<usize>(k + 2) << 2));
    const j3 = load<u32>(idx + (<usize>(k + 3) << 2));
    axpy4F32(
      out,
      wT + <usize>j0 * colBytes,
      wT + <usize>j1 * colBytes,
      wT + <usize>j2 * colBytes,
      wT + <usize>j3 * colBytes,
      load<f32>(x + (<usize>j0 << 2)),
      load<f32>(x + (<usize>j1 << 2)),
      load<f32>(x + (<usize>j2 << 2)),
      load<f32>(x + (<usize>j3 << 2)),
      nOut,
    );
  }
  for (; k < nKept; k++) {
    const j = load<u32>(idx + (<usize>k << 2));
    axpyF32(out, wT + <usize>j * colBytes, load<f32>(x + (<usize>j << 2)), nOut);
  }
}

/** Scalar reference for gatherColumnsF32. */
export function gatherColumnsF32Scalar(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  const colBytes = <usize>nOut << 2;
  memory.fill(out, 0, colBytes);
  for (let k = 0; k < nKept; k++) {
    const j = load<u32>(idx + (<usize>k << 2));
    const c = wT + <usize>j * colBytes;
    const s = load<f32>(x + (<usize>j << 2));
    for (let o = 0; o < nOut; o++) {
      const off = <usize>o << 2;
      store<f32>(out + off, load<f32>(out + off) + load<f32>(c + off) * s);
    }
  }
}
