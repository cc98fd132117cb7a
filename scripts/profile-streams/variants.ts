// Experiment kernels for scripts/profile-streams.mjs (issue #16: why f32 decode reads below the read
// probe). Not engine code: variants of the weight-streaming loops that differ only in how many
// memory streams they read at once and in what order, timed against the read probes. The f32x4
// mul + add is the default build's madd (assembly/kernels/madd.ts), so the arithmetic per byte
// matches the engine's kernels.
import { matvecF32, matvecF32Rows4 } from "../../assembly/kernels/matvec";
import { eightColumnsF32, gatherColumnsF32, gatherRunF32, oneColumnPassesF32 } from "../../assembly/kernels/gather";
import { readSumF32, readSum4StreamsF32 } from "../../assembly/kernels/bandwidth";
import { axpyF32 } from "../../assembly/kernels/axpy";
export { matvecF32, matvecF32Rows4, gatherRunF32, readSumF32, readSum4StreamsF32 };
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
 * The previous matvecF32's eight rows per pass (matvecF32Before) on a layout where each 8-row
 * tile is stored interleaved (rows 8g..8g+7, floats i..i+3 of each, then i+4..i+7, ...), as q8's
 * tiles are: the same arithmetic in the same order, but one sequential stream instead of eight
 * streams a row apart. Timed on the same bytes (the values do not matter for speed).
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

let gatherScratch: usize = 0;
let gatherScratchBytes: usize = 0;
/** The engine's gatherColumnsF32 (two parts over gatherOrder's list), with the scratch it needs (nOut floats, then nKept u32s) kept here. */
export function engineGather(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  const bytes = <usize>(nOut + nKept) << 2;
  if (bytes > gatherScratchBytes) {
    gatherScratch = alloc(bytes);
    gatherScratchBytes = bytes;
  }
  gatherColumnsF32(out, wT, x, idx, nKept, nOut, gatherScratch);
}

// ---- Second round (issue #16): loop shape at a fixed summation order --------------------------
// Every variant below keeps matvecF32's order (each row one accumulator, its vectors added in
// column order; lanes combined (a0+a1)+(a2+a3); the tail in order) and gatherColumnsF32's (each
// out[o] adds the kept columns in idx order), so all of them give the engine's bits (checked by
// scripts/profile-streams.mjs before timing). They differ in rows or columns per pass, in how many
// consecutive 16-byte vectors of a row one pass reads (U, "unroll": v128.load's immediate offset
// 16/32/48 means one address add serves U loads), and in how the row addresses are formed:
//   ptr:   one pointer per row, each advanced once per pass (R live pointers);
//   chain: one column offset; row r's address is row r-1's plus the row length (few live registers);
// U is a compile-time constant after inlining, so the unused branches fold away.

// @ts-ignore: decorator
@inline function madd4(a: v128, w: v128, xv: v128): v128 { return f32x4.add(a, f32x4.mul(w, xv)); }

/** acc plus U consecutive vectors of a row at p times x0..x3 (U = 1, 2 or 4), in column order. */
// @ts-ignore: decorator
@inline function rowPass(acc: v128, p: usize, x0: v128, x1: v128, x2: v128, x3: v128, U: i32): v128 {
  acc = madd4(acc, v128.load(p), x0);
  if (U >= 2) acc = madd4(acc, v128.load(p, 16), x1);
  if (U >= 4) {
    acc = madd4(acc, v128.load(p, 32), x2);
    acc = madd4(acc, v128.load(p, 48), x3);
  }
  return acc;
}

/** The end of a row in the shared order: lane sum, then the scalar tail from float `from`. */
// @ts-ignore: decorator
@inline function finishRow(acc: v128, p: usize, x: usize, from: i32, cols: i32): f32 {
  let s = hsum(acc);
  for (let i = from; i < cols; i++) s += load<f32>(p + (<usize>i << 2)) * load<f32>(x + (<usize>i << 2));
  return s;
}

/**
 * R rows per pass (4, 6 or 8), U vectors per row per pass, ptr or chain addressing; leftover rows
 * one at a time. far: the R rows of a pass are rows/R apart (g, g + S, g + 2S, ..., S = rows / R)
 * instead of adjacent, so each of the R streams reads S consecutive rows: R long sequential
 * streams far apart, like readSum4StreamsF32, instead of R short ones a row apart.
 */
// @ts-ignore: decorator
@inline function matvecShape(out: usize, w: usize, x: usize, rows: i32, cols: i32, R: i32, U: i32, chain: bool, far: bool = false): void {
  const rb = <usize>cols << 2;
  const cols4 = cols & ~3;
  const colsU = cols & ~(4 * U - 1);
  const groups = rows / R;
  const rowStep = far ? <usize>groups : 1; // rows between the streams of a pass
  const sb = rowStep * rb;
  for (let g = 0; g < groups; g++) {
    const r = far ? g : g * R;
    const w0 = w + <usize>r * rb;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
    let i = 0;
    if (chain) {
      for (; i < colsU; i += 4 * U) {
        const off = <usize>i << 2;
        const px = x + off;
        const x0 = v128.load(px);
        const x1 = U >= 2 ? v128.load(px, 16) : x0;
        const x2 = U >= 4 ? v128.load(px, 32) : x0;
        const x3 = U >= 4 ? v128.load(px, 48) : x0;
        let p = w0 + off;
        a0 = rowPass(a0, p, x0, x1, x2, x3, U); p += sb;
        a1 = rowPass(a1, p, x0, x1, x2, x3, U); p += sb;
        a2 = rowPass(a2, p, x0, x1, x2, x3, U); p += sb;
        a3 = rowPass(a3, p, x0, x1, x2, x3, U);
        if (R >= 6) {
          p += sb; a4 = rowPass(a4, p, x0, x1, x2, x3, U);
          p += sb; a5 = rowPass(a5, p, x0, x1, x2, x3, U);
        }
        if (R >= 8) {
          p += sb; a6 = rowPass(a6, p, x0, x1, x2, x3, U);
          p += sb; a7 = rowPass(a7, p, x0, x1, x2, x3, U);
        }
      }
    } else {
      let p0 = w0, p1 = p0 + sb, p2 = p1 + sb, p3 = p2 + sb, p4 = p3 + sb, p5 = p4 + sb, p6 = p5 + sb, p7 = p6 + sb;
      let px = x;
      const step = <usize>(16 * U);
      for (; i < colsU; i += 4 * U) {
        const x0 = v128.load(px);
        const x1 = U >= 2 ? v128.load(px, 16) : x0;
        const x2 = U >= 4 ? v128.load(px, 32) : x0;
        const x3 = U >= 4 ? v128.load(px, 48) : x0;
        a0 = rowPass(a0, p0, x0, x1, x2, x3, U); p0 += step;
        a1 = rowPass(a1, p1, x0, x1, x2, x3, U); p1 += step;
        a2 = rowPass(a2, p2, x0, x1, x2, x3, U); p2 += step;
        a3 = rowPass(a3, p3, x0, x1, x2, x3, U); p3 += step;
        if (R >= 6) {
          a4 = rowPass(a4, p4, x0, x1, x2, x3, U); p4 += step;
          a5 = rowPass(a5, p5, x0, x1, x2, x3, U); p5 += step;
        }
        if (R >= 8) {
          a6 = rowPass(a6, p6, x0, x1, x2, x3, U); p6 += step;
          a7 = rowPass(a7, p7, x0, x1, x2, x3, U); p7 += step;
        }
        px += step;
      }
    }
    // the vectors after the unrolled part, one per row per pass (same accumulators, same order)
    for (; i < cols4; i += 4) {
      const off = <usize>i << 2;
      const x0 = v128.load(x + off);
      let p = w0 + off;
      a0 = madd4(a0, v128.load(p), x0); p += sb;
      a1 = madd4(a1, v128.load(p), x0); p += sb;
      a2 = madd4(a2, v128.load(p), x0); p += sb;
      a3 = madd4(a3, v128.load(p), x0);
      if (R >= 6) { p += sb; a4 = madd4(a4, v128.load(p), x0); p += sb; a5 = madd4(a5, v128.load(p), x0); }
      if (R >= 8) { p += sb; a6 = madd4(a6, v128.load(p), x0); p += sb; a7 = madd4(a7, v128.load(p), x0); }
    }
    const o = out + (<usize>r << 2);
    const ob = rowStep << 2;
    store<f32>(o, finishRow(a0, w0, x, cols4, cols));
    store<f32>(o + ob, finishRow(a1, w0 + sb, x, cols4, cols));
    store<f32>(o + 2 * ob, finishRow(a2, w0 + 2 * sb, x, cols4, cols));
    store<f32>(o + 3 * ob, finishRow(a3, w0 + 3 * sb, x, cols4, cols));
    if (R >= 6) {
      store<f32>(o + 4 * ob, finishRow(a4, w0 + 4 * sb, x, cols4, cols));
      store<f32>(o + 5 * ob, finishRow(a5, w0 + 5 * sb, x, cols4, cols));
    }
    if (R >= 8) {
      store<f32>(o + 6 * ob, finishRow(a6, w0 + 6 * sb, x, cols4, cols));
      store<f32>(o + 7 * ob, finishRow(a7, w0 + 7 * sb, x, cols4, cols));
    }
  }
  for (let r = groups * R; r < rows; r++) {
    const p = w + <usize>r * rb;
    let a = f32x4.splat(0);
    for (let i = 0; i < cols4; i += 4) a = madd4(a, v128.load(p + (<usize>i << 2)), v128.load(x + (<usize>i << 2)));
    store<f32>(out + (<usize>r << 2), finishRow(a, p, x, cols4, cols));
  }
}
export function mvR4U1ptr(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 4, 1, false); }
export function mvR4U2ptr(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 4, 2, false); }
export function mvR4U4ptr(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 4, 4, false); }
export function mvR4U4chain(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 4, 4, true); }
export function mvR6U2ptr(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 6, 2, false); }
export function mvR6U4chain(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 6, 4, true); }
export function mvR8U1ptr(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 8, 1, false); }
export function mvR8U2ptr(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 8, 2, false); }
export function mvR8U4ptr(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 8, 4, false); }
export function mvR8U1chain(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 8, 1, true); }
export function mvR8U2chain(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 8, 2, true); }
export function mvR8U4chain(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 8, 4, true); }
export function mvR4U4ptrFar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 4, 4, false, true); }
export function mvR4U1ptrFar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 4, 1, false, true); }
export function mvR4U2ptrFar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 4, 2, false, true); }
export function mvR4U4chainFar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 4, 4, true, true); }
export function mvR6U2ptrFar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 6, 2, false, true); }
export function mvR8U2ptrFar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 8, 2, false, true); }
export function mvR8U1ptrFar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 8, 1, false, true); }
export function mvR8U2chainFar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 8, 2, true, true); }
export function mvR8U4chainFar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void { matvecShape(out, w, x, rows, cols, 8, 4, true, true); }

/** acc_u plus the C columns' vectors at byte offset off + 16u (C = 1, 2, 4 or 8), in column order. */
// @ts-ignore: decorator
@inline function colsPass(acc: v128, off: usize, c0: usize, c1: usize, c2: usize, c3: usize, c4: usize, c5: usize, c6: usize, c7: usize,
  v0: v128, v1: v128, v2: v128, v3: v128, v4: v128, v5: v128, v6: v128, v7: v128, C: i32): v128 {
  acc = madd4(acc, v128.load(c0 + off), v0);
  if (C >= 2) acc = madd4(acc, v128.load(c1 + off), v1);
  if (C >= 4) {
    acc = madd4(acc, v128.load(c2 + off), v2);
    acc = madd4(acc, v128.load(c3 + off), v3);
  }
  if (C >= 8) {
    acc = madd4(acc, v128.load(c4 + off), v4);
    acc = madd4(acc, v128.load(c5 + off), v5);
    acc = madd4(acc, v128.load(c6 + off), v6);
    acc = madd4(acc, v128.load(c7 + off), v7);
  }
  return acc;
}

/**
 * The column gather with C kept columns per pass (1, 2, 4 or 8) and U output vectors per pass (1, 2 or
 * 4: U loads/stores of out and 16*U bytes of each column between address adds, via immediate
 * offsets); leftover columns one at a time.
 */
// @ts-ignore: decorator
@inline function gatherShape(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32, C: i32, U: i32): void {
  const cb = <usize>nOut << 2;
  memory.fill(out, 0, cb);
  const n4 = nOut & ~3;
  const nU = nOut & ~(4 * U - 1);
  let k = 0;
  for (; k + C <= nKept; k += C) {
    const ik = idx + (<usize>k << 2);
    const j0 = load<u32>(ik);
    const j2 = C >= 4 ? load<u32>(ik, 8) : j0, j3 = C >= 4 ? load<u32>(ik, 12) : j0;
    const j1 = C >= 2 ? load<u32>(ik, 4) : j0;
    const j4 = C >= 8 ? load<u32>(ik, 16) : j0, j5 = C >= 8 ? load<u32>(ik, 20) : j0;
    const j6 = C >= 8 ? load<u32>(ik, 24) : j0, j7 = C >= 8 ? load<u32>(ik, 28) : j0;
    const c0 = wT + <usize>j0 * cb, c1 = wT + <usize>j1 * cb, c2 = wT + <usize>j2 * cb, c3 = wT + <usize>j3 * cb;
    const c4 = wT + <usize>j4 * cb, c5 = wT + <usize>j5 * cb, c6 = wT + <usize>j6 * cb, c7 = wT + <usize>j7 * cb;
    const s0 = load<f32>(x + (<usize>j0 << 2)), s1 = load<f32>(x + (<usize>j1 << 2)), s2 = load<f32>(x + (<usize>j2 << 2)), s3 = load<f32>(x + (<usize>j3 << 2));
    const s4 = load<f32>(x + (<usize>j4 << 2)), s5 = load<f32>(x + (<usize>j5 << 2)), s6 = load<f32>(x + (<usize>j6 << 2)), s7 = load<f32>(x + (<usize>j7 << 2));
    const v0 = f32x4.splat(s0), v1 = f32x4.splat(s1), v2 = f32x4.splat(s2), v3 = f32x4.splat(s3);
    const v4 = f32x4.splat(s4), v5 = f32x4.splat(s5), v6 = f32x4.splat(s6), v7 = f32x4.splat(s7);
    let o = 0;
    for (; o < nU; o += 4 * U) {
      const off = <usize>o << 2;
      const po = out + off;
      v128.store(po, colsPass(v128.load(po), off, c0, c1, c2, c3, c4, c5, c6, c7, v0, v1, v2, v3, v4, v5, v6, v7, C));
      if (U >= 2) v128.store(po, colsPass(v128.load(po, 16), off + 16, c0, c1, c2, c3, c4, c5, c6, c7, v0, v1, v2, v3, v4, v5, v6, v7, C), 16);
      if (U >= 4) {
        v128.store(po, colsPass(v128.load(po, 32), off + 32, c0, c1, c2, c3, c4, c5, c6, c7, v0, v1, v2, v3, v4, v5, v6, v7, C), 32);
        v128.store(po, colsPass(v128.load(po, 48), off + 48, c0, c1, c2, c3, c4, c5, c6, c7, v0, v1, v2, v3, v4, v5, v6, v7, C), 48);
      }
    }
    for (; o < n4; o += 4) {
      const off = <usize>o << 2;
      v128.store(out + off, colsPass(v128.load(out + off), off, c0, c1, c2, c3, c4, c5, c6, c7, v0, v1, v2, v3, v4, v5, v6, v7, C));
    }
    for (; o < nOut; o++) {
      const off = <usize>o << 2;
      let a = load<f32>(out + off);
      a += load<f32>(c0 + off) * s0;
      if (C >= 2) a += load<f32>(c1 + off) * s1;
      if (C >= 4) { a += load<f32>(c2 + off) * s2; a += load<f32>(c3 + off) * s3; }
      if (C >= 8) { a += load<f32>(c4 + off) * s4; a += load<f32>(c5 + off) * s5; a += load<f32>(c6 + off) * s6; a += load<f32>(c7 + off) * s7; }
      store<f32>(out + off, a);
    }
  }
  for (; k < nKept; k++) {
    const j = load<u32>(idx + (<usize>k << 2));
    axpyF32(out, wT + <usize>j * cb, load<f32>(x + (<usize>j << 2)), nOut);
  }
}
export function gC1U2(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void { gatherShape(out, wT, x, idx, nKept, nOut, 1, 2); }
export function gC1U4(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void { gatherShape(out, wT, x, idx, nKept, nOut, 1, 4); }
export function gC2U2(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void { gatherShape(out, wT, x, idx, nKept, nOut, 2, 2); }
export function gC2U4(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void { gatherShape(out, wT, x, idx, nKept, nOut, 2, 4); }
export function gC4U1(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void { gatherShape(out, wT, x, idx, nKept, nOut, 4, 1); }
export function gC4U2(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void { gatherShape(out, wT, x, idx, nKept, nOut, 4, 2); }
export function gC4U4(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void { gatherShape(out, wT, x, idx, nKept, nOut, 4, 4); }
export function gC8U1(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void { gatherShape(out, wT, x, idx, nKept, nOut, 8, 1); }
export function gC8U2(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void { gatherShape(out, wT, x, idx, nKept, nOut, 8, 2); }
export function gC8U4(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void { gatherShape(out, wT, x, idx, nKept, nOut, 8, 4); }

/**
 * gatherColumnsF32 with one change: a group of eight kept columns that are consecutive (j7 = j0 + 7,
 * e.g. every group of the dense mask) is one contiguous block of memory, read one column per pass
 * (one sequential stream, out read and written per column); other groups as before, eight
 * scattered columns per pass. Same adds in the same order.
 */
export function gRuns(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  const cb = <usize>nOut << 2;
  memory.fill(out, 0, cb);
  let k = 0;
  for (; k + 8 <= nKept; k += 8) {
    const ik = idx + (<usize>k << 2);
    if (load<u32>(ik, 28) == load<u32>(ik) + 7) oneColumnPassesF32(out, wT, x, ik, nOut, cb);
    else eightColumnsF32(out, wT, x, ik, nOut, cb);
  }
  for (; k < nKept; k++) {
    const j = load<u32>(idx + (<usize>k << 2));
    axpyF32(out, wT + <usize>j * cb, load<f32>(x + (<usize>j << 2)), nOut);
  }
}

const colScratch = memory.data(64);
const xScratch = memory.data(64);
// @ts-ignore: decorator
@inline function colStep(acc: v128, t: i32, off: usize): v128 {
  return madd4(acc, v128.load(<usize>load<u32>(colScratch + (<usize>t << 2)) + off), v128.load32_splat(xScratch + (<usize>t << 2)));
}
/** Sixteen kept columns per pass (their addresses and x values from a scratch table in L1; more streams in flight than registers). */
export function gC16(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  const cb = <usize>nOut << 2;
  memory.fill(out, 0, cb);
  const n4 = nOut & ~3;
  let k = 0;
  for (; k + 16 <= nKept; k += 16) {
    for (let t = 0; t < 16; t++) {
      const j = load<u32>(idx + (<usize>(k + t) << 2));
      store<u32>(colScratch + (<usize>t << 2), <u32>(wT + <usize>j * cb));
      store<f32>(xScratch + (<usize>t << 2), load<f32>(x + (<usize>j << 2)));
    }
    for (let o = 0; o < n4; o += 4) {
      const off = <usize>o << 2;
      let acc = v128.load(out + off);
      acc = colStep(acc, 0, off); acc = colStep(acc, 1, off); acc = colStep(acc, 2, off); acc = colStep(acc, 3, off);
      acc = colStep(acc, 4, off); acc = colStep(acc, 5, off); acc = colStep(acc, 6, off); acc = colStep(acc, 7, off);
      acc = colStep(acc, 8, off); acc = colStep(acc, 9, off); acc = colStep(acc, 10, off); acc = colStep(acc, 11, off);
      acc = colStep(acc, 12, off); acc = colStep(acc, 13, off); acc = colStep(acc, 14, off); acc = colStep(acc, 15, off);
      v128.store(out + off, acc);
    }
    for (let o = n4; o < nOut; o++) {
      const off = <usize>o << 2;
      let a = load<f32>(out + off);
      for (let t = 0; t < 16; t++) a += load<f32>(<usize>load<u32>(colScratch + (<usize>t << 2)) + off) * load<f32>(xScratch + (<usize>t << 2));
      store<f32>(out + off, a);
    }
  }
  for (; k < nKept; k++) {
    const j = load<u32>(idx + (<usize>k << 2));
    axpyF32(out, wT + <usize>j * cb, load<f32>(x + (<usize>j << 2)), nOut);
  }
}

// ---- The kernels before this round, copied for the A/B (same code, local names) ---------------
/** One row (matvec.ts's dotF32 before). */
// @ts-ignore: decorator
@inline function dotBefore(w: usize, x: usize, cols: i32): f32 {
  const cols4 = cols & ~3;
  let a = f32x4.splat(0);
  for (let i = 0; i < cols4; i += 4) a = madd4(a, v128.load(w + (<usize>i << 2)), v128.load(x + (<usize>i << 2)));
  return finishRow(a, w, x, cols4, cols);
}
/** Rows r.. of out = W x: four rows per pass, then one at a time (the tail of both kernels below). */
// @ts-ignore: decorator
@inline function fourRowsThenOneBefore(out: usize, w: usize, x: usize, r: i32, rows: i32, cols: i32): void {
  const cols4 = cols & ~3;
  const rowBytes = <usize>cols << 2;
  for (; r + 4 <= rows; r += 4) {
    const w0 = w + <usize>r * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (let i = 0; i < cols4; i += 4) {
      const off = <usize>i << 2;
      const xv = v128.load(x + off);
      a0 = madd4(a0, v128.load(w0 + off), xv);
      a1 = madd4(a1, v128.load(w1 + off), xv);
      a2 = madd4(a2, v128.load(w2 + off), xv);
      a3 = madd4(a3, v128.load(w3 + off), xv);
    }
    store<f32>(out + (<usize>r << 2), finishRow(a0, w0, x, cols4, cols));
    store<f32>(out + (<usize>(r + 1) << 2), finishRow(a1, w1, x, cols4, cols));
    store<f32>(out + (<usize>(r + 2) << 2), finishRow(a2, w2, x, cols4, cols));
    store<f32>(out + (<usize>(r + 3) << 2), finishRow(a3, w3, x, cols4, cols));
  }
  for (; r < rows; r++) {
    store<f32>(out + (<usize>r << 2), dotBefore(w + <usize>r * rowBytes, x, cols));
  }
}

/**
 * SIMD: eight rows per pass so each x load feeds eight weight streams, then four, then one.
 * Each row still sums in the shared order, so the row grouping does not change any bit.
 */
export function matvecF32Before(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const cols4 = cols & ~3;
  const rowBytes = <usize>cols << 2;
  let r = 0;
  for (; r + 8 <= rows; r += 8) {
    const w0 = w + <usize>r * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    const w4 = w3 + rowBytes;
    const w5 = w4 + rowBytes;
    const w6 = w5 + rowBytes;
    const w7 = w6 + rowBytes;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let a4 = f32x4.splat(0);
    let a5 = f32x4.splat(0);
    let a6 = f32x4.splat(0);
    let a7 = f32x4.splat(0);
    for (let i = 0; i < cols4; i += 4) {
      const off = <usize>i << 2;
      const xv = v128.load(x + off);
      a0 = madd4(a0, v128.load(w0 + off), xv);
      a1 = madd4(a1, v128.load(w1 + off), xv);
      a2 = madd4(a2, v128.load(w2 + off), xv);
      a3 = madd4(a3, v128.load(w3 + off), xv);
      a4 = madd4(a4, v128.load(w4 + off), xv);
      a5 = madd4(a5, v128.load(w5 + off), xv);
      a6 = madd4(a6, v128.load(w6 + off), xv);
      a7 = madd4(a7, v128.load(w7 + off), xv);
    }
    const o = out + (<usize>r << 2);
    store<f32>(o, finishRow(a0, w0, x, cols4, cols));
    store<f32>(o, finishRow(a1, w1, x, cols4, cols), 4);
    store<f32>(o, finishRow(a2, w2, x, cols4, cols), 8);
    store<f32>(o, finishRow(a3, w3, x, cols4, cols), 12);
    store<f32>(o, finishRow(a4, w4, x, cols4, cols), 16);
    store<f32>(o, finishRow(a5, w5, x, cols4, cols), 20);
    store<f32>(o, finishRow(a6, w6, x, cols4, cols), 24);
    store<f32>(o, finishRow(a7, w7, x, cols4, cols), 28);
  }
  fourRowsThenOneBefore(out, w, x, r, rows, cols);
}
