// The LoRA kernels against their scalar references (bit-identical by design) and against plain
// loops: the low-rank update on kept inputs, and the transposed product used by backprop.
import { lowRankAddF32, lowRankAddF32Scalar } from "../../assembly/kernels/lowrank";
import { matvecTransposedAddF32, matvecTransposedAddF32Scalar, axpyF32 } from "../../assembly/kernels/matvec-transposed";
import { applyRope, applyRopeTranspose, buildRopeTable, ROPE_HALF, ROPE_INTERLEAVED } from "../../assembly/kernels/rope";
import { seedRandom, rand, buf, fillRandom, f, bitsEqual } from "./buffers";

seedRandom(777);

describe("lowRankAddF32", () => {
  it("equals the scalar reference bit for bit on odd sizes, ranks and subsets", () => {
    for (let nIn = 1; nIn <= 9; nIn += 2) {
      for (let rank = 1; rank <= 9; rank += 2) {
        for (let nOut = 1; nOut <= 13; nOut += 3) {
          const a = buf(nIn * rank);
          const b = buf(rank * nOut);
          const x = buf(nIn);
          const idx = buf(nIn);
          const o1 = buf(nOut);
          const o2 = buf(nOut);
          const t1 = buf(rank);
          const t2 = buf(rank);
          fillRandom(a, nIn * rank);
          fillRandom(b, rank * nOut);
          fillRandom(x, nIn);
          fillRandom(o1, nOut);
          memory.copy(o2, o1, <usize>nOut << 2);
          let k = 0;
          for (let j = 0; j < nIn; j++) {
            if (j % 3 == 2) continue;
            store<u32>(idx + (<usize>k << 2), j);
            k++;
          }
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
    const a = buf(6);
    const b = buf(6);
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

describe("matvecTransposedAddF32", () => {
  it("equals the scalar reference bit for bit and W^T y by plain loops", () => {
    for (let rows = 1; rows <= 11; rows += 2) {
      for (let cols = 1; cols <= 13; cols += 3) {
        const w = buf(rows * cols);
        const y = buf(rows);
        const o1 = buf(cols);
        const o2 = buf(cols);
        fillRandom(w, rows * cols);
        fillRandom(y, rows);
        fillRandom(o1, cols);
        memory.copy(o2, o1, <usize>cols << 2);
        const start = buf(cols);
        memory.copy(start, o1, <usize>cols << 2);
        matvecTransposedAddF32(o1, w, y, rows, cols);
        matvecTransposedAddF32Scalar(o2, w, y, rows, cols);
        expect(bitsEqual(o1, o2, cols)).toBe(true);
        for (let c = 0; c < cols; c++) {
          let s: f64 = <f64>f(start, c);
          for (let r = 0; r < rows; r++) s += <f64>f(w, r * cols + c) * <f64>f(y, r);
          expect(Math.abs(<f64>f(o1, c) - s) < 1e-5).toBe(true);
        }
      }
    }
  });

  it("axpyF32 adds a * x over odd lengths", () => {
    const x = buf(7);
    const o = buf(7);
    for (let i = 0; i < 7; i++) {
      store<f32>(x + (<usize>i << 2), <f32>i);
      store<f32>(o + (<usize>i << 2), 1);
    }
    axpyF32(o, x, 0.5, 7);
    for (let i = 0; i < 7; i++) expect(f(o, i)).toBe(1 + 0.5 * <f32>i);
  });
});

describe("applyRopeTranspose", () => {
  it("undoes applyRope (the rotation is orthogonal) in both layouts", () => {
    const headDim = 8;
    const seqLen = 5;
    const inv = heap.alloc(<usize>(headDim / 2) * 8);
    for (let i = 0; i < headDim / 2; i++) store<f64>(inv + (<usize>i << 3), Math.pow(10000.0, -2.0 * <f64>i / <f64>headDim));
    const table = buf(seqLen * headDim);
    buildRopeTable(table, seqLen, headDim, inv);
    const layouts: i32[] = [ROPE_INTERLEAVED, ROPE_HALF];
    for (let k = 0; k < 2; k++) {
      const v = buf(2 * headDim);
      const orig = buf(2 * headDim);
      fillRandom(v, 2 * headDim);
      memory.copy(orig, v, <usize>(2 * headDim) << 2);
      applyRope(v, 2, headDim, 4, table, layouts[k]);
      applyRopeTranspose(v, 2, headDim, 4, table, layouts[k]);
      for (let i = 0; i < 2 * headDim; i++) expect(Mathf.abs(f(v, i) - f(orig, i)) < 1e-6).toBe(true);
    }
  });
});
