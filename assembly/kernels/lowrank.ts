// The LoRA low-rank update on the kept inputs of a sparsified linear (DIP.md, "LoRA recovery"):
//
//   t   = (x*m) A                   A is [nIn x r] row-major: row j belongs to input j
//   out += (t * scale) B            B is [r x nOut] row-major, scale = alpha / r
//
// Only the kept inputs' rows of A are read, exactly as only their columns of the base weight are.
// Order: t accumulates the kept rows in idx order (one run of the gather kernel, gatherRunF32); out then adds the
// r rows of B one after another in order k = 0..r-1. The SIMD kernel takes four rows of B per pass
// but adds them in that same order (matvec-transposed.ts scaledRowsAddF32), so it is bit-identical
// to the scalar reference. With B = 0, out + 0*... = out: an untrained adapter leaves the output
// unchanged bit for bit.

import { gatherRunF32, gatherRunF32Scalar } from "./gather";
import { scaledRowsAddF32, scaledRowsAddF32Scalar } from "./matvec-transposed";

/** SIMD: t = (x*m) A into t (rank floats), then out += (t * scale) B. */
export function lowRankAddF32(out: usize, x: usize, idx: usize, nKept: i32, a: usize, b: usize, rank: i32, nOut: i32, scale: f32, t: usize): void {
  gatherRunF32(t, a, x, idx, nKept, rank);
  scaledRowsAddF32(out, b, t, scale, rank, nOut);
}

/** Scalar reference for lowRankAddF32. */
export function lowRankAddF32Scalar(out: usize, x: usize, idx: usize, nKept: i32, a: usize, b: usize, rank: i32, nOut: i32, scale: f32, t: usize): void {
  gatherRunF32Scalar(t, a, x, idx, nKept, rank);
  scaledRowsAddF32Scalar(out, b, t, scale, rank, nOut);
}
