// acc + a*b on four f32 lanes: the one place the hot f32 kernels multiply-add.
// The default build rounds the product and the sum separately (f32x4.mul then f32x4.add), the same
// in every runtime and bit-identical to the scalar references. A build with relaxed SIMD enabled
// (`--target relaxed`, build/engine-relaxed.wasm) uses f32x4.relaxed_madd instead, which the
// runtime may lower to a fused multiply-add (one rounding) or to mul+add: faster on some machines,
// but results may differ between machines. ASC_FEATURE_RELAXED_SIMD is a compile-time constant,
// so each build contains only one of the two.

// @ts-ignore: decorator
@inline export function madd(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}
