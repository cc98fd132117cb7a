// Raw-buffer helpers shared by the specs: f32/u32 buffers from the test heap (random, copied or
// empty), a seeded xorshift for reproducible data, kept-index lists, and a bit-for-bit comparison
// (SIMD kernels must equal their scalar references exactly).

let seed: u32 = 12345;

/** Restarts the data stream (each spec picks its own seed). */
export function seedRandom(s: u32): void {
  seed = s;
}

/** Uniform-ish in [-1, 1], 4-decimal steps. */
export function rand(): f32 {
  seed ^= seed << 13;
  seed ^= seed >> 17;
  seed ^= seed << 5;
  return <f32>(seed % 20001) / 10000.0 - 1.0;
}

/** Room for n f32 or u32 values (at least one). */
export function buf(n: i32): usize {
  return heap.alloc(<usize>max(n, 1) * 4);
}

export function fillRandom(p: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), rand());
}

/** A copy of n floats at src. */
export function copyOf(src: usize, n: i32): usize {
  const p = buf(n);
  memory.copy(p, src, <usize>n << 2);
  return p;
}

/** n f32 values from rand(). */
export function randomBuf(n: i32): usize {
  const p = buf(n);
  fillRandom(p, n);
  return p;
}

export function f(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

export function u(p: usize, i: i32): u32 {
  return load<u32>(p + (<usize>i << 2));
}

export function setF(p: usize, i: i32, v: f32): void {
  store<f32>(p + (<usize>i << 2), v);
}

export function bitsEqual(a: usize, b: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (load<u32>(a + (<usize>i << 2)) != load<u32>(b + (<usize>i << 2))) return false;
  return true;
}

/** Writes the ascending indices j < n with j % period != dropped into idx; returns their count. */
export function keptIndices(idx: usize, n: i32, period: i32, dropped: i32): i32 {
  let k = 0;
  for (let j = 0; j < n; j++) {
    if (j % period == dropped) continue;
    store<u32>(idx + (<usize>k << 2), j);
    k++;
  }
  return k;
}
