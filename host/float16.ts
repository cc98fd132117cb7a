// Rounding to the 16-bit float formats: IEEE binary16 (f16: GGUF's Q8_0 scales, f16 tensors) and
// bfloat16 (the top half of an f32). Both round to nearest, ties to even, from the f32 value, as
// PyTorch's and ggml's conversions do.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** x (rounded to f32 first) -> binary16 bits; overflow gives infinity, tiny values subnormals or zero. */
export function floatToHalfBits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // infinity or NaN
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e >= 1) {
    // normal: keep 10 of 23 mantissa bits; a carry out of the mantissa bumps the exponent, as it should
    let h = sign | (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
    return h;
  }
  // subnormal: the value in units of 2^-24, rounded
  const shift = 126 - exp; // full (24-bit significand) >> shift = units
  if (shift > 24) return sign;
  const full = mant | 0x800000;
  let units = full >>> shift;
  const rest = full - (units << shift);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (units & 1) === 1)) units++;
  return sign | units;
}

/** IEEE binary16 bits -> number (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** x rounded to binary16 and back. */
export function roundToHalf(x: number): number {
  return halfToFloat(floatToHalfBits(x));
}

/** x rounded to f32, then to bfloat16 (NaN stays NaN). */
export function roundToBf16(x: number): number {
  f32[0] = x;
  if (Number.isNaN(f32[0])) return NaN;
  const b = u32[0];
  u32[0] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) << 16;
  return f32[0];
}
