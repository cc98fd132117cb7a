// The machine's memory read bandwidth as the engine sees it: SIMD read-sums
// (assembly/kernels/bandwidth.ts) over a span of wasm memory, timed on the host.

import type { EngineExports } from "./abi.js";

/**
 * GB/s (powers of 10) of reading [start, end) of wasm memory: the better of one sequential stream
 * and four side by side (as bench/kernels.bench.ts), median of `passes`. The span must be real
 * memory (written before), or the probe measures zero pages.
 */
export function measureReadBandwidth(wasm: EngineExports, span: { start: number; end: number }, passes: number): { gbps: number; bytes: number } {
  const start = Math.ceil(span.start / 64) * 64;
  const floats = Math.floor((span.end - start) / 64) * 16;
  if (floats <= 0) return { gbps: 0, bytes: 0 };
  // a small model's weights are read several times per sample, so the clock sees >= 64 MB
  const reps = Math.ceil(64e6 / (floats * 4));
  const median = (probe: (p: number, n: number) => number) => {
    const ms: number[] = [];
    for (let i = 0; i < passes; i++) {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) probe(start, floats);
      ms.push(performance.now() - t0);
    }
    return ms.sort((a, b) => a - b)[Math.floor(passes / 2)];
  };
  const best = Math.min(median((p, n) => wasm.readSumF32(p, n)), median((p, n) => wasm.readSum4StreamsF32(p, n)));
  return { gbps: (reps * floats * 4) / (best / 1e3) / 1e9, bytes: floats * 4 };
}
