// The load-time weight check: every weight must be a finite number of sane magnitude. A NaN or an
// infinity in one tensor would otherwise load silently and give NaN (or, hidden by a sparsity
// mask, finite but wrong) logits; so would a corrupt exponent (1e30) once it overflows. A block's
// running max of |x| stays <= limit exactly when every |x| in it does (max propagates NaN), so
// only a block that fails is scanned for the index.

/** elements per SIMD block: one compare per block keeps the loop to a load, an abs and a max */
const BLOCK: i32 = 1024;

/** Index of the first of the n f32 at ptr that is NaN or has |x| > limit, or -1 (SIMD). */
export function firstAbsAboveF32(ptr: usize, n: i32, limit: f32): i32 {
  const whole = n - n % BLOCK;
  const bound = f32x4.splat(limit);
  for (let start = 0; start < whole; start += BLOCK) {
    let m = f32x4.splat(0);
    const base = ptr + (<usize>start << 2);
    for (let i = 0; i < BLOCK; i += 4) m = f32x4.max(m, f32x4.abs(v128.load(base + (<usize>i << 2))));
    if (i32x4.all_true(f32x4.le(m, bound))) continue;
    return start + firstAbsAboveF32Scalar(base, BLOCK, limit);
  }
  const tail = firstAbsAboveF32Scalar(ptr + (<usize>whole << 2), n - whole, limit);
  return tail < 0 ? -1 : whole + tail;
}

/** The scalar reference: index of the first NaN or |x| > limit of the n f32 at ptr, or -1. */
export function firstAbsAboveF32Scalar(ptr: usize, n: i32, limit: f32): i32 {
  for (let i = 0; i < n; i++) {
    if (!(Mathf.abs(load<f32>(ptr + (<usize>i << 2))) <= limit)) return i;
  }
  return -1;
}
