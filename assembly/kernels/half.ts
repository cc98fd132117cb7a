// binary16 -> f32 for any f16 bit pattern (zero, subnormal, normal, inf, NaN), exactly. The ggml
// block scales (Q4_0's d, Q4_K's d and dmin, Q6_K's d) are arbitrary f16 values as a file stores
// them; q8.ts's halfToF32 covers only the normal scales its own quantizer writes.

// @ts-ignore: decorator
@inline export function halfBitsToF32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent == 0) return reinterpret<f32>(sign | reinterpret<u32>(<f32>mantissa * <f32>5.9604644775390625e-8)); // m * 2^-24
  if (exponent == 31) return reinterpret<f32>(sign | 0x7f800000 | (mantissa << 13));
  return reinterpret<f32>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}
