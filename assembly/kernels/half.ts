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

const TWO_POW_112: f32 = 5.192296858534828e33; // 2^112: f16 exponent bias 15 -> f32 bias 127

/**
 * halfBitsToF32 on four lanes (u32 lanes holding f16 bits in their low 16), for every f16 pattern,
 * with the same results: the magnitude's bits shifted into an f32 and scaled by 2^112 (exact for
 * zero, subnormal and normal values: a power-of-two scaling into the normal range); inf and NaN
 * (exponent 31) get the all-ones f32 exponent instead; the sign is moved to bit 31.
 */
// @ts-ignore: decorator
@inline export function halfBitsToF32x4(h: v128): v128 {
  const shifted = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  const finite = f32x4.mul(shifted, f32x4.splat(TWO_POW_112));
  const special = v128.or(shifted, i32x4.splat(0x7f800000));
  const isSpecial = i32x4.ge_u(shifted, i32x4.splat(0x7c00 << 13));
  return v128.or(v128.bitselect(special, finite, isSpecial), i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** The f16 at p0..p3 (one per row) as four f32 lanes, exactly as halfBitsToF32 of each. */
// @ts-ignore: decorator
@inline export function loadHalves4(p0: usize, p1: usize, p2: usize, p3: usize): v128 {
  let h = v128.load16_lane(p0, i32x4.splat(0), 0);
  h = v128.load16_lane(p1, h, 2);
  h = v128.load16_lane(p2, h, 4);
  h = v128.load16_lane(p3, h, 6);
  return halfBitsToF32x4(h);
}
