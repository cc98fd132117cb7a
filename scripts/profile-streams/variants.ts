// Experiment kernels for scripts/profile-streams.mjs (issue #16: why f32 decode reads below the read
// probe). Not engine code: variants of the weight-streaming loops that differ only in how many
// memory streams they read at once and in what order, timed against the read probes. The f32x4
// mul + add is the default build's madd (assembly/kernels/madd.ts), so the arithmetic per byte
// matches the engine's kernels.
import { matvecF32, matvecF32Rows4 } from "../../assembly/kernels/matvec";
import { gatherColumnsF32 } from "../../assembly/kernels/gather";
import { readSumF32, readSum4StreamsF32 } from "../../assembly/kernels/bandwidth";
import { axpyF32 } from "../../assembly/kernels/axpy";
export { matvecF32, matvecF32Rows4, gatherColumnsF32, readSumF32, readSum4StreamsF32 };
// @ts-ignore
@inline function hsum(v: v128): f32 { return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3)); }
/** Two rows per pass: two streams, two accumulator chains (add latency bound). */
export function matvecRows2(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const rb = <usize>cols << 2;
  for (let r = 0; r < rows; r += 2) {
    const w0 = w + <usize>r * rb, w1 = w0 + rb;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
    for (let i = 0; i < cols; i += 4) {
      const off = <usize>i << 2; const xv = v128.load(x + off);
      a0 = f32x4.add(a0, f32x4.mul(v128.load(w0 + off), xv));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(w1 + off), xv));
    }
    store<f32>(out + (<usize>r << 2), hsum(a0)); store<f32>(out + (<usize>r << 2) + 4, hsum(a1));
  }
}
/**
 * matvecF32's eight rows per pass on a layout where each 8-row tile is stored interleaved (rows
 * 8g..8g+7, floats i..i+3 of each, then i+4..i+7, ...), as q8's tiles are: the same arithmetic
 * in the same order, but one sequential stream instead of eight streams a row apart. Timed on the
 * same bytes (the values do not matter for speed).
 */
export function matvecTiled8(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  let p = w;
  for (let r = 0; r < rows; r += 8) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
    for (let i = 0; i < cols; i += 4) {
      const xv = v128.load(x + (<usize>i << 2));
      a0 = f32x4.add(a0, f32x4.mul(v128.load(p), xv));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(p, 16), xv));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(p, 32), xv));
      a3 = f32x4.add(a3, f32x4.mul(v128.load(p, 48), xv));
      a4 = f32x4.add(a4, f32x4.mul(v128.load(p, 64), xv));
      a5 = f32x4.add(a5, f32x4.mul(v128.load(p, 80), xv));
      a6 = f32x4.add(a6, f32x4.mul(v128.load(p, 96), xv));
      a7 = f32x4.add(a7, f32x4.mul(v128.load(p, 112), xv));
      p += 128;
    }
    const o = out + (<usize>r << 2);
    store<f32>(o, hsum(a0)); store<f32>(o, hsum(a1), 4); store<f32>(o, hsum(a2), 8); store<f32>(o, hsum(a3), 12);
    store<f32>(o, hsum(a4), 16); store<f32>(o, hsum(a5), 20); store<f32>(o, hsum(a6), 24); store<f32>(o, hsum(a7), 28);
  }
}
/** The dense column gather one column per pass: one weight stream; out is read and written from L1 per column. */
export function gather1(out: usize, wT: usize, x: usize, nIn: i32, nOut: i32): void {
  memory.fill(out, 0, <usize>nOut << 2);
  const cb = <usize>nOut << 2;
  for (let j = 0; j < nIn; j++) axpyF32(out, wT + <usize>j * cb, load<f32>(x + (<usize>j << 2)), nOut);
}
/** The same, two columns per pass. */
export function gather2(out: usize, wT: usize, x: usize, nIn: i32, nOut: i32): void {
  memory.fill(out, 0, <usize>nOut << 2);
  const cb = <usize>nOut << 2;
  for (let j = 0; j < nIn; j += 2) {
    const c0 = wT + <usize>j * cb, c1 = c0 + cb;
    const v0 = f32x4.splat(load<f32>(x + (<usize>j << 2))), v1 = f32x4.splat(load<f32>(x + (<usize>j << 2) + 4));
    for (let o = 0; o < nOut; o += 4) {
      const off = <usize>o << 2;
      let acc = v128.load(out + off);
      acc = f32x4.add(acc, f32x4.mul(v128.load(c0 + off), v0));
      acc = f32x4.add(acc, f32x4.mul(v128.load(c1 + off), v1));
      v128.store(out + off, acc);
    }
  }
}
/** A 64-byte aligned block (the stub runtime never frees). */
export function alloc(bytes: usize): usize { const p = heap.alloc(bytes + 64); return (p + 63) & ~(<usize>63); }
