// The accumulation step the column kernels share: out[o] += s * c[o] over n floats, for one column
// or four or eight at a time. The columns are added one after another in order (each add rounded
// on its own), so a kernel built from these is bit-identical to adding the columns singly, and to
// the scalar references. Inlined into the column gather, the streamed gather and the LoRA update.

import { madd } from "./madd";

/** out[o] = (((out[o] + c0[o]*s0) + c1[o]*s1) + c2[o]*s2) + c3[o]*s3, o < n. */
// @ts-ignore: decorator
@inline export function axpy4F32(out: usize, c0: usize, c1: usize, c2: usize, c3: usize, s0: f32, s1: f32, s2: f32, s3: f32, n: i32): void {
  const n4 = n & ~3;
  const v0 = f32x4.splat(s0);
  const v1 = f32x4.splat(s1);
  const v2 = f32x4.splat(s2);
  const v3 = f32x4.splat(s3);
  for (let o = 0; o < n4; o += 4) {
    const off = <usize>o << 2;
    let acc = v128.load(out + off);
    acc = madd(acc, v128.load(c0 + off), v0);
    acc = madd(acc, v128.load(c1 + off), v1);
    acc = madd(acc, v128.load(c2 + off), v2);
    acc = madd(acc, v128.load(c3 + off), v3);
    v128.store(out + off, acc);
  }
  for (let o = n4; o < n; o++) {
    const off = <usize>o << 2;
    let acc = load<f32>(out + off);
    acc += load<f32>(c0 + off) * s0;
    acc += load<f32>(c1 + off) * s1;
    acc += load<f32>(c2 + off) * s2;
    acc += load<f32>(c3 + off) * s3;
    store<f32>(out + off, acc);
  }
}

/**
 * out[o] = ((out[o] + c0[o]*s0) + c1[o]*s1) + ... + c7[o]*s7, o < n: one load and store of out per
 * eight columns, and eight weight streams in flight, which keeps the prefetchers busy when the
 * columns are short and scattered. A cache line of each column per loop pass, at immediate offsets
 * from one offset shared by the eight columns: fewer instructions per byte let the out-of-order
 * window reach further ahead into the eight streams. DIP's scattered W_gate/W_up gathers read cold
 * ~1.04-1.07x as fast that way as with one vector per pass (one engine, both loops alternating;
 * bench/README.md, issue #16). Every element gets the same multiplies and adds either way.
 */
// @ts-ignore: decorator
@inline export function axpy8F32(
  out: usize,
  c0: usize, c1: usize, c2: usize, c3: usize, c4: usize, c5: usize, c6: usize, c7: usize,
  s0: f32, s1: f32, s2: f32, s3: f32, s4: f32, s5: f32, s6: f32, s7: f32,
  n: i32,
): void {
  const v0 = f32x4.splat(s0);
  const v1 = f32x4.splat(s1);
  const v2 = f32x4.splat(s2);
  const v3 = f32x4.splat(s3);
  const v4 = f32x4.splat(s4);
  const v5 = f32x4.splat(s5);
  const v6 = f32x4.splat(s6);
  const v7 = f32x4.splat(s7);
  const lineEnd = <usize>(n & ~15) << 2;
  for (let off: usize = 0; off < lineEnd; off += 64) {
    const o = out + off;
    const p0 = c0 + off, p1 = c1 + off, p2 = c2 + off, p3 = c3 + off, p4 = c4 + off, p5 = c5 + off, p6 = c6 + off, p7 = c7 + off;
    v128.store(o, eightMadds(v128.load(o), p0, p1, p2, p3, p4, p5, p6, p7, v0, v1, v2, v3, v4, v5, v6, v7, 0));
    v128.store(o, eightMadds(v128.load(o, 16), p0, p1, p2, p3, p4, p5, p6, p7, v0, v1, v2, v3, v4, v5, v6, v7, 16), 16);
    v128.store(o, eightMadds(v128.load(o, 32), p0, p1, p2, p3, p4, p5, p6, p7, v0, v1, v2, v3, v4, v5, v6, v7, 32), 32);
    v128.store(o, eightMadds(v128.load(o, 48), p0, p1, p2, p3, p4, p5, p6, p7, v0, v1, v2, v3, v4, v5, v6, v7, 48), 48);
  }
  const vectorEnd = <usize>(n & ~3) << 2;
  for (let off = lineEnd; off < vectorEnd; off += 16) {
    v128.store(out + off, eightMadds(v128.load(out + off), c0 + off, c1 + off, c2 + off, c3 + off, c4 + off, c5 + off, c6 + off, c7 + off,
      v0, v1, v2, v3, v4, v5, v6, v7, 0));
  }
  for (let off = vectorEnd; off < (<usize>n << 2); off += 4) {
    let acc = load<f32>(out + off);
    acc += load<f32>(c0 + off) * s0;
    acc += load<f32>(c1 + off) * s1;
    acc += load<f32>(c2 + off) * s2;
    acc += load<f32>(c3 + off) * s3;
    acc += load<f32>(c4 + off) * s4;
    acc += load<f32>(c5 + off) * s5;
    acc += load<f32>(c6 + off) * s6;
    acc += load<f32>(c7 + off) * s7;
    store<f32>(out + off, acc);
  }
}

/** acc + p0[offset]*v0 + ... + p7[offset]*v7 on four lanes, added one column after another (axpy8F32's step). */
// @ts-ignore: decorator
@inline function eightMadds(
  acc: v128, p0: usize, p1: usize, p2: usize, p3: usize, p4: usize, p5: usize, p6: usize, p7: usize,
  v0: v128, v1: v128, v2: v128, v3: v128, v4: v128, v5: v128, v6: v128, v7: v128, offset: usize,
): v128 {
  acc = madd(acc, v128.load(p0 + offset), v0);
  acc = madd(acc, v128.load(p1 + offset), v1);
  acc = madd(acc, v128.load(p2 + offset), v2);
  acc = madd(acc, v128.load(p3 + offset), v3);
  acc = madd(acc, v128.load(p4 + offset), v4);
  acc = madd(acc, v128.load(p5 + offset), v5);
  acc = madd(acc, v128.load(p6 + offset), v6);
  acc = madd(acc, v128.load(p7 + offset), v7);
  return acc;
}

/**
 * out[o] += x[o] * a, o < n. Four vectors (a cache line) per loop pass on bumped pointers, the
 * loads and stores at immediate offsets: the loop is then a quarter of the address arithmetic and
 * branches, which read a one-column-per-pass gather (gather.ts) at 38-46 GB/s from L3 against
 * 29-32 for a vector per pass, and cold 110M-shape columns at 27 GB/s against 21-25 (bench/README.md,
 * issue #16). Every element gets the same multiply and add either way.
 */
// @ts-ignore: decorator
@inline export function axpyF32(out: usize, x: usize, a: f32, n: i32): void {
  const n4 = n & ~3;
  const v = f32x4.splat(a);
  const lineEnd = out + (<usize>(n & ~15) << 2);
  let po = out;
  let px = x;
  for (; po < lineEnd; po += 64, px += 64) {
    v128.store(po, madd(v128.load(po), v128.load(px), v));
    v128.store(po, madd(v128.load(po, 16), v128.load(px, 16), v), 16);
    v128.store(po, madd(v128.load(po, 32), v128.load(px, 32), v), 32);
    v128.store(po, madd(v128.load(po, 48), v128.load(px, 48), v), 48);
  }
  for (let i = n & ~15; i < n4; i += 4) {
    const off = <usize>i << 2;
    v128.store(out + off, madd(v128.load(out + off), v128.load(x + off), v));
  }
  for (let i = n4; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, load<f32>(out + off) + load<f32>(x + off) * a);
  }
}

/** Scalar reference for axpyF32. */
// @ts-ignore: decorator
@inline export function axpyF32Scalar(out: usize, x: usize, a: f32, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, load<f32>(out + off) + load<f32>(x + off) * a);
  }
}
