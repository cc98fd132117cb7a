// Memory-bandwidth probes for bench/: the ceiling the weight-streaming kernels are compared with.
// Not used by the forward pass.

/**
 * Sum of n f32 at ptr (ptr 16-byte aligned, n a multiple of 16). Four independent v128
 * accumulators, 64 bytes per pass, so the loop is bound by loads, not by add latency.
 */
export function readSumF32(ptr: usize, n: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  const end = ptr + (<usize>(n & ~15) << 2);
  for (let p = ptr; p < end; p += 64) {
    a0 = f32x4.add(a0, v128.load(p));
    a1 = f32x4.add(a1, v128.load(p, 16));
    a2 = f32x4.add(a2, v128.load(p, 32));
    a3 = f32x4.add(a3, v128.load(p, 48));
  }
  const s = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
  return (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
}

/** memory.copy of `bytes` from src to dst (the runtime's bulk copy). */
export function copyBytes(dst: usize, src: usize, bytes: usize): void {
  memory.copy(dst, src, bytes);
}
