// The load-time check that every weight is a finite number: a NaN or an infinity in one tensor
// would otherwise load silently and give NaN (or, hidden by a sparsity mask, finite but wrong)
// logits. x - x is 0 for every finite x and NaN for NaN and +-Inf, so summing x - x over a block
// stays 0 exactly when the block is all finite; only a block that fails is scanned for the index.

/** elements per SIMD block: one compare per block keeps the loop to a load, a sub and an add */
const BLOCK: i32 = 1024;

/** Index of the first non-finite f32 of the n at ptr, or -1 when all are finite (SIMD). */
export function firstNonFiniteF32(ptr: usize, n: i32): i32 {
  const whole = n - n % BLOCK;
  for (let start = 0; start < whole; start += BLOCK) {
    let acc = f32x4.splat(0);
    const base = ptr + (<usize>start << 2);
    for (let i = 0; i < BLOCK; i += 4) {
      const x = v128.load(base + (<usize>i << 2));
      acc = f32x4.add(acc, f32x4.sub(x, x));
    }
    // acc is all zero unless some lane saw a NaN
    if (!v128.any_true(f32x4.ne(acc, acc))) continue;
    return start + firstNonFiniteF32Scalar(base, BLOCK);
  }
  const tail = firstNonFiniteF32Scalar(ptr + (<usize>whole << 2), n - whole);
  return tail < 0 ? -1 : whole + tail;
}

/** The scalar reference: index of the first non-finite f32 of the n at ptr, or -1. */
export function firstNonFiniteF32Scalar(ptr: usize, n: i32): i32 {
  for (let i = 0; i < n; i++) {
    const x = load<f32>(ptr + (<usize>i << 2));
    if (x - x != 0) return i;
  }
  return -1;
}
