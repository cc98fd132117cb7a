// The host's one seeded PRNG, for shuffles and test data that must repeat on every runtime (the
// engine's sampler has its own, inside the wasm: assembly/model/sampler.ts).

/** mulberry32: uniform in [0, 1) from 32-bit integer-only state (same sequence on every runtime). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
