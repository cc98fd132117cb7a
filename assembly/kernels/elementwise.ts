// Small per-vector kernels: RMSNorm, softmax, SiLU-gating, residual add, in a fixed order. They
// touch D or I floats per call, so they are not where the bytes go; softmax and SwiGLU are SIMD
// because their exponentials are (attention at long context: one per cached position and head).
import { expF32, expF32x4 } from "./exp";

/** out = x / sqrt(mean(x^2) + eps) * weight */
export function rmsnorm(out: usize, x: usize, weight: usize, n: i32, eps: f32): void {
  let ss: f32 = 0;
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    ss += v * v;
  }
  const scale: f32 = 1.0 / Mathf.sqrt(ss / <f32>n + eps);
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, load<f32>(weight + off) * (scale * load<f32>(x + off)));
  }
}

/**
 * In-place softmax over n entries (max-subtracted). SIMD: the max (exact in any order), e^(x - max)
 * four at a time (exp.ts; the tail by its scalar twin, the same bits), the sum as four lane sums
 * then (s0 + s1) + (s2 + s3) then the tail in order, and the scaling by 1 / sum. At position 2048
 * of Qwen2.5-0.5B this is 14 x 2048 exponentials per layer per token.
 */
export function softmax(x: usize, n: i32): void {
  const n4 = n & ~3;
  let max = load<f32>(x);
  if (n4 > 0) {
    let m4 = v128.load(x);
    for (let i = 4; i < n4; i += 4) m4 = f32x4.pmax(m4, v128.load(x + (<usize>i << 2))); // a NaN makes every output NaN anyway
    max = Mathf.max(Mathf.max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), Mathf.max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
  }
  for (let i = n4; i < n; i++) max = Mathf.max(max, load<f32>(x + (<usize>i << 2)));
  const max4 = f32x4.splat(max);
  let sum4 = f32x4.splat(0);
  for (let i = 0; i < n4; i += 4) {
    const off = <usize>i << 2;
    const e = expF32x4(f32x4.sub(v128.load(x + off), max4));
    v128.store(x + off, e);
    sum4 = f32x4.add(sum4, e);
  }
  let sum: f32 = (f32x4.extract_lane(sum4, 0) + f32x4.extract_lane(sum4, 1)) + (f32x4.extract_lane(sum4, 2) + f32x4.extract_lane(sum4, 3));
  for (let i = n4; i < n; i++) {
    const off = <usize>i << 2;
    const e = expF32(load<f32>(x + off) - max);
    store<f32>(x + off, e);
    sum += e;
  }
  const inv: f32 = 1.0 / sum;
  const inv4 = f32x4.splat(inv);
  for (let i = 0; i < n4; i += 4) {
    const off = <usize>i << 2;
    v128.store(x + off, f32x4.mul(v128.load(x + off), inv4));
  }
  for (let i = n4; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(x + off, load<f32>(x + off) * inv);
  }
}

/** v * sigmoid(v): one lane of swiglu's SIMD loop. */
// @ts-ignore: decorator
@inline export function silu(v: f32): f32 {
  return v / (1.0 + expF32(-v));
}

/** h = silu(g) * u, elementwise over n (SwiGLU); four at a time, the tail by silu (the same bits). */
export function swiglu(h: usize, g: usize, u: usize, n: i32): void {
  const n4 = n & ~3;
  const one = f32x4.splat(1.0);
  for (let i = 0; i < n4; i += 4) {
    const off = <usize>i << 2;
    const gv = v128.load(g + off);
    const s = f32x4.div(gv, f32x4.add(one, expF32x4(f32x4.neg(gv))));
    v128.store(h + off, f32x4.mul(s, v128.load(u + off)));
  }
  for (let i = n4; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(h + off, silu(load<f32>(g + off)) * load<f32>(u + off));
  }
}

/** x += y over n floats. */
export function addInPlace(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(x + off, load<f32>(x + off) + load<f32>(y + off));
  }
}
