// Rotary position embeddings. The cos/sin table is built once per model in f64 and rounded to f32,
// so large positions keep full accuracy (f32 pos*freq loses ~1e-4 rad at pos 512).
//
// Layouts (which elements of a head rotate together):
//   interleaved (GGUF, llama2.c): pairs (2i, 2i+1), frequency index i
//   half        (Hugging Face)  : pairs (i, i + headDim/2), frequency index i

import { ROPE_INTERLEAVED } from "../abi";
export { ROPE_INTERLEAVED, ROPE_HALF } from "../abi";

/**
 * Fills table[pos][i] = (cos, sin) of pos * invFreq[i] for pos < seqLen, i < headDim/2.
 * invFreq (f64) is theta^(-2i/headDim), possibly scaled; the host computes it (host/rope.ts).
 */
export function buildRopeTable(table: usize, seqLen: i32, headDim: i32, invFreq: usize): void {
  const half = headDim >> 1;
  for (let p = 0; p < seqLen; p++) {
    for (let i = 0; i < half; i++) {
      const angle = <f64>p * load<f64>(invFreq + (<usize>i << 3));
      const off = table + ((<usize>p * <usize>half + <usize>i) << 3);
      store<f32>(off, <f32>Math.cos(angle));
      store<f32>(off + 4, <f32>Math.sin(angle));
    }
  }
}

/** Rotates nHeads heads of vec (each headDim floats) to position pos. */
export function applyRope(vec: usize, nHeads: i32, headDim: i32, pos: i32, table: usize, layout: i32): void {
  rotate(vec, nHeads, headDim, pos, table, layout, 1.0);
}

/**
 * The transpose of applyRope (rotation by -angle): maps the gradient of a rotated vector back to
 * the gradient of the vector before rotation. Rotations are orthogonal, so this is also the inverse.
 */
export function applyRopeTranspose(vec: usize, nHeads: i32, headDim: i32, pos: i32, table: usize, layout: i32): void {
  rotate(vec, nHeads, headDim, pos, table, layout, -1.0);
}

/**
 * (a, b) -> (a cos - b sin, a sin + b cos) with sin negated for sinSign = -1 (the transpose). The
 * sign flip is exact, and x - (-y) == x + y, so both directions round as if written out alone.
 */
// @ts-ignore: decorator
@inline function rotate(vec: usize, nHeads: i32, headDim: i32, pos: i32, table: usize, layout: i32, sinSign: f32): void {
  const half = headDim >> 1;
  const row = table + ((<usize>pos * <usize>half) << 3);
  for (let h = 0; h < nHeads; h++) {
    const head = vec + (<usize>(h * headDim) << 2);
    for (let i = 0; i < half; i++) {
      const c = load<f32>(row + (<usize>i << 3));
      const s = load<f32>(row + (<usize>i << 3) + 4) * sinSign;
      const a = layout == ROPE_INTERLEAVED ? head + (<usize>(2 * i) << 2) : head + (<usize>i << 2);
      const b = layout == ROPE_INTERLEAVED ? a + 4 : head + (<usize>(i + half) << 2);
      const x0 = load<f32>(a);
      const x1 = load<f32>(b);
      store<f32>(a, x0 * c - x1 * s);
      store<f32>(b, x0 * s + x1 * c);
    }
  }
}
