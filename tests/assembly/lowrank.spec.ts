// The LoRA low-rank update on kept inputs (assembly/kernels/lowrank.ts) against its scalar
// reference (bit-identical by design) and against a hand-computed case.
import { lowRankAddF32, lowRankAddF32Scalar } from "../../assembly/kernels/lowrank";
import { seedRandom, buf, randomBuf, copyOf, f, bitsEqual, keptIndices } from "./buffers";

seedRandom(777);

describe("lowRankAddF32", () => {
  it("equals the scalar reference bit for bit on odd sizes, ranks and subsets", () => {
    for (let nIn = 1; nIn <= 9; nIn += 2) {
      for (let rank = 1; rank <= 9; rank += 2) {
        for (let nOut = 1; nOut <= 13; nOut += 3) {
          const a = randomBuf(nIn * rank);
          const b = randomBuf(rank * nOut);
          const x = randomBuf(nIn);
          const idx = buf(nIn);
          const o1 = randomBuf(nOut), o2 = copyOf(o1, nOut);
          const t1 = buf(rank), t2 = buf(rank);
          const k = keptIndices(idx, nIn, 3, 2);
          lowRankAddF32(o1, x, idx, k, a, b, rank, nOut, 0.75, t1);
          lowRankAddF32Scalar(o2, x, idx, k, a, b, rank, nOut, 0.75, t2);
          expect(bitsEqual(o1, o2, nOut)).toBe(true);
          expect(bitsEqual(t1, t2, rank)).toBe(true);
        }
      }
    }
  });

  it("adds ((x*m) A) B * scale, reading only kept inputs", () => {
    // A = [[1, 2], [3, 4], [5, 6]] (3 inputs, rank 2), B = [[1, 0, -1], [0.5, 1, 0]] (rank 2, 3 outputs)
    const a = buf(6), b = buf(6);
    for (let i = 0; i < 6; i++) store<f32>(a + (<usize>i << 2), <f32>(i + 1));
    const bv: f32[] = [1, 0, -1, 0.5, 1, 0];
    for (let i = 0; i < 6; i++) store<f32>(b + (<usize>i << 2), bv[i]);
    const x = buf(3);
    store<f32>(x, 1);
    store<f32>(x + 4, 100); // pruned: must not contribute
    store<f32>(x + 8, -1);
    const idx = buf(2);
    store<u32>(idx, 0);
    store<u32>(idx + 4, 2);
    const out = buf(3);
    store<f32>(out, 10);
    store<f32>(out + 4, 20);
    store<f32>(out + 8, 30);
    const t = buf(2);
    // t = 1*[1, 2] - 1*[5, 6] = [-4, -4]; scaled by 2: [-8, -8]; t B = [-8 - 4, -8, 8] = [-12, -8, 8]
    lowRankAddF32(out, x, idx, 2, a, b, 2, 3, 2.0, t);
    expect(f(t, 0)).toBe(-4);
    expect(f(t, 1)).toBe(-4);
    expect(f(out, 0)).toBe(-2);
    expect(f(out, 1)).toBe(12);
    expect(f(out, 2)).toBe(38);
  });
});
