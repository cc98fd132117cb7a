// e^x in f32, four lanes at a time (softmax over the attention scores, SwiGLU's sigmoid), with a
// scalar twin doing the same operations in the same order, so a vector's tail and the scalar
// callers (the sparse SwiGLU paths, training) get the bits a lane would.
//
// Cephes' expf: n = round(x log2 e), r = x - n ln 2 (ln 2 in two parts, the first exact in few
// bits), e^r by a degree-6 polynomial on |r| <= ln2 / 2, times 2^n built in the exponent bits.
// Within 2 ulp of e^x on [-87.3, 88.3] (tests/assembly/exp.spec.ts against f64 Math.exp);
// below that range it returns 0 (e^x < 1.2e-38, under the smallest normal float), above it +inf,
// and NaN stays NaN. The default build is the same on every runtime (no fused multiply-add).

/** Below this, e^x is under the smallest normal f32: the result is 0. */
const EXP_MIN: f32 = -87.33654;
/** Above this, 2^round(x log2 e) would not be a normal f32: the result is +inf. */
const EXP_MAX: f32 = 88.37626;
const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
/** 1.5 * 2^23: adding it rounds to an integer (ties to even) held in the low mantissa bits. */
const ROUND_MAGIC: f32 = 12582912.0;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

/** e^x on four lanes. */
// @ts-ignore: decorator
@inline export function expF32x4(x: v128): v128 {
  // lanes outside [EXP_MIN, EXP_MAX] compute garbage here and are replaced at the end
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND_MAGIC));
  const n = f32x4.sub(t, f32x4.splat(ROUND_MAGIC));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  const z = f32x4.mul(r, r);
  let y = f32x4.add(f32x4.mul(f32x4.splat(P0), r), f32x4.splat(P1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(P2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(P3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(P4));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(P5));
  y = f32x4.add(f32x4.add(f32x4.mul(y, z), r), f32x4.splat(1.0));
  const pow2 = i32x4.shl(i32x4.add(i32x4.sub(t, f32x4.splat(ROUND_MAGIC)), i32x4.splat(127)), 23);
  const e = f32x4.mul(y, pow2);
  const under = f32x4.lt(x, f32x4.splat(EXP_MIN));
  const over = f32x4.gt(x, f32x4.splat(EXP_MAX));
  return v128.bitselect(f32x4.splat(Infinity), v128.andnot(e, under), over);
}

/** e^x, the same operations as one lane of expF32x4. */
// @ts-ignore: decorator
@inline export function expF32(x: f32): f32 {
  if (x < EXP_MIN) return 0;
  if (x > EXP_MAX) return Infinity;
  const t = x * LOG2E + ROUND_MAGIC;
  const n = t - ROUND_MAGIC;
  let r = x - n * LN2_HI;
  r = r - n * LN2_LO;
  const z = r * r;
  let y = P0 * r + P1;
  y = y * r + P2;
  y = y * r + P3;
  y = y * r + P4;
  y = y * r + P5;
  y = (y * z + r) + 1.0;
  const pow2 = reinterpret<f32>((reinterpret<i32>(t) - reinterpret<i32>(ROUND_MAGIC) + 127) << 23);
  return y * pow2;
}
