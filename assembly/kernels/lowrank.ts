// The LoRA low-rank update on the kept inputs of a sparsified linear (DIP.md, "LoRA recovery"):
//
//   t   = (x*m) A                   A is [nIn x r] row-major: row j belongs to input j
//   out += (t * scale) B            B is [r x nOut] row-major, scale = alpha / r
//
// Only the kept inputs' rows of A are read, exactly as only their columns of the base weight are.
// Order: t accumulates the kept rows in idx order (the gather kernel's order); out then adds the
// r rows of B one after another in order k = 0..r-1. The SIMD kernel takes four rows of B per pass
// but adds them in that same order, so it is bit-identical to the scalar reference. With B = 0,
// out + 0*... = out: an untrained adapter leaves the output unchanged bit for bit.

import { gatherColumnsF32, gatherColumnsF32Scalar } from "./gather";
import { axpy4F32, axpyF32 } from "./axpy";

/** SIMD: t = (x*m) A into t (rank floats), then out += (t * scale) B. */
export function lowRankAddF32(out: usize, x: usize, idx: usize, nKept: i32, a: usize, b: usize, rank: i32, nOut: i32, scale: f32, t: usize): void {
  gatherColumnsF32(t, a, x, idx, nKept, rank);
  const rowBytes = <usize>nOut << 2;
  let k = 0;
  for (; k + 4 <= rank; k += 4) {
    const bk = b + <usize>k * rowBytes;
    axpy4F32(
      out,
      bk,
      bk + rowBytes,
      bk + 2 * rowBytes,
      bk + 3 * rowBytes,
      load<f32>(t + (<usize>k << 2)) * scale,
      load<f32>(t + (<usize>(k + 1) << 2)) * scale,
      load<f32>(t + (<usize>(k + 2) << 2)) * scale,
      load<f32>(t + (<usize>(k + 3) << 2)) * scale,
      nOut,
    );
  }
  for (; k < rank; k++) axpyF32(out, b + <usize>k * rowBytes, load<f32>(t + (<usize>k << 2)) * scale, nOut);
}

/** Scalar reference for lowRankAddF32. */
export function lowRankAddF32Scalar(out: usize, x: usize, idx: usize, nKept: i32, a: usize, b: usize, rank: i32, nOut: i32, scale: f32, t: usize): void {
  gatherColumnsF32Scalar(t, a, x, idx, nKept, rank);
  const rowBytes = <usize>nOut << 2;
  for (let k = 0; k < rank; k++) {
    const s = load<f32>(t + (<usize>k << 2)) * scale;
    const bk = b + <usize>k * rowBytes;
    for (let o = 0; o < nOut; o++) {
      const off = <usize>o << 2;
      store<f32>(out + off, load<f32>(out + off) + load<f32>(bk + off) * s);
    }
  }
}
