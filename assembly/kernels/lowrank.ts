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

/** SIMD: t = (x*m) A into t (rank floats), then out += (t * scale) B. */
export function lowRankAddF32(out: usize, x: usize, idx: usize, nKept: i32, a: usize, b: usize, rank: i32, nOut: i32, scale: f32, t: usize): void {
  gatherColumnsF32(t, a, x, idx, nKept, rank);
  const n4 = nOut & ~3;
  const rowBytes = <usize>nOut << 2;
  let k = 0;
  for (; k + 4 <= rank; k += 4) {
    const s0 = load<f32>(t + (<usize>k << 2)) * scale;
    const s1 = load<f32>(t + (<usize>(k + 1) << 2)) * scale;
    const s2 = load<f32>(t + (<usize>(k + 2) << 2)) * scale;
    const s3 = load<f32>(t + (<usize>(k + 3) << 2)) * scale;
    const b0 = b + <usize>k * rowBytes;
    const b1 = b0 + rowBytes;
    const b2 = b1 + rowBytes;
    const b3 = b2 + rowBytes;
    const v0 = f32x4.splat(s0);
    const v1 = f32x4.splat(s1);
    const v2 = f32x4.splat(s2);
    const v3 = f32x4.splat(s3);
    for (let o = 0; o < n4; o += 4) {
      const off = <usize>o << 2;
      let acc = v128.load(out + off);
      acc = f32x4.add(acc, f32x4.mul(v128.load(b0 + off), v0));
      acc = f32x4.add(acc, f32x4.mul(v128.load(b1 + off), v1));
      acc = f32x4.add(acc, f32x4.mul(v128.load(b2 + off), v2));
      acc = f32x4.add(acc, f32x4.mul(v128.load(b3 + off), v3));
      v128.store(out + off, acc);
    }
    for (let o = n4; o < nOut; o++) {
      const off = <usize>o << 2;
      let acc = load<f32>(out + off);
      acc += load<f32>(b0 + off) * s0;
      acc += load<f32>(b1 + off) * s1;
      acc += load<f32>(b2 + off) * s2;
      acc += load<f32>(b3 + off) * s3;
      store<f32>(out + off, acc);
    }
  }
  for (; k < rank; k++) {
    const s = load<f32>(t + (<usize>k << 2)) * scale;
    const bk = b + <usize>k * rowBytes;
    const v = f32x4.splat(s);
    for (let o = 0; o < n4; o += 4) {
      const off = <usize>o << 2;
      v128.store(out + off, f32x4.add(v128.load(out + off), f32x4.mul(v128.load(bk + off), v)));
    }
    for (let o = n4; o < nOut; o++) {
      const off = <usize>o << 2;
      store<f32>(out + off, load<f32>(out + off) + load<f32>(bk + off) * s);
    }
  }
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
