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
 * columns are short and scattered.
 */
// @ts-ignore: decorator
@inline export function axpy8F32(
  out: usize,
  c0: usize, c1: usize, c2: usize, c3: usize, c4: usize, c5: usize, c6: usize, c7: usize,
  s0: f32, s1: f32, s2: f32, s3: f32, s4: f32, s5: f32, s6: f32, s7: f32,
  n: i32,
): void {
  const n4 = n & ~3;
  const v0 = f32x4.splat(s0);
  const v1 = f32x4.splat(s1);
  const v2 = f32x4.splat(s2);
  const v3 = f32x4.splat(s3);
  const v4 = f32x4.splat(s4);
  const v5 = f32x4.splat(s5);
  const v6 = f32x4.splat(s6);
  const v7 = f32x4.splat(s7);
  for (let o = 0; o < n4; o += 4) {
    const off = <usize>o << 2;
    let acc = v128.load(out + off);
    acc = madd(acc, v128.load(c0 + off), v0);
    acc = madd(acc, v128.load(c1 + off), v1);
    acc = madd(acc, v128.load(c2 + off), v2);
    acc = madd(acc, v128.load(c3 + off), v3);
    acc = madd(acc, v128.load(c4 + off), v4);
    acc = madd(acc, v128.load(c5 + off), v5);
    acc = madd(acc, v128.load(c6 + off), v6);
    acc = madd(acc, v128.load(c7 + off), v7);
    v128.store(out + off, acc);
  }
  for (let o = n4; o < n; o++) {
    const off = <usize>o << 2;
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
