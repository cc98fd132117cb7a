// Memory-bandwidth probes for bench/: the ceiling the weight-streaming kernels are compared with.
// Not used by the forward pass.

/**
 * Sum of n f32 at ptr (ptr 16-byte aligned, n a multiple of 16): one sequential stream, four
 * independent v128 accumulators (64 bytes per pass) so the loop is bound by loads, not add latency.
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

/**
 * As readSumF32, but the buffer is cut into four equal parts read side by side, 16 bytes from each
 * per pass: four concurrent streams, like matvecF32's four rows. Hardware prefetchers track
 * streams separately, so on some machines this reads faster than one stream (n a multiple of 16).
 */
export function readSum4StreamsF32(ptr: usize, n: i32): f32 {
  const part = <usize>(n >> 2) << 2; // bytes per stream (n/4 floats, a multiple of 16 bytes)
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  const p1 = ptr + part;
  const p2 = p1 + part;
  const p3 = p2 + part;
  for (let o: usize = 0; o < part; o += 16) {
    a0 = f32x4.add(a0, v128.load(ptr + o));
    a1 = f32x4.add(a1, v128.load(p1 + o));
    a2 = f32x4.add(a2, v128.load(p2 + o));
    a3 = f32x4.add(a3, v128.load(p3 + o));
  }
  const s = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
  return (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
}

/** memory.copy of `bytes` from src to dst (the runtime's bulk copy). */
export function copyBytes(dst: usize, src: usize, bytes: usize): void {
  memory.copy(dst, src, bytes);
}
