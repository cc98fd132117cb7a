// The prompt's matrix-matrix kernels (assembly/kernels/matmat.ts): per token, bit for bit the
// one-token kernel they stand for (matvecF32, gatherColumnsF32, matvecQ8, gatherColumnsQ8) and the
// scalar references; odd sizes and token counts (SIMD tails, the odd token of a pair), strides
// wider than a row, and q8 matrices big enough to be cut into several cache-sized pieces.
import { matmatF32, matmatF32Scalar, gatherColumnsBatchF32, gatherColumnsBatchF32Scalar, matmatQ8, gatherColumnsBatchQ8 } from "../../assembly/kernels/matmat";
import { matvecF32 } from "../../assembly/kernels/matvec";
import { gatherColumnsF32 } from "../../assembly/kernels/gather";
import { matvecQ8, gatherColumnsQ8, q8Bytes, q8BlockAt, q8ScaleAt, q8Blocks, q8InBytes, q8InScales } from "../../assembly/kernels/q8";
import { matmatGgml, gatherColumnsBatchGgml } from "../../assembly/kernels/matmat";
import { matvecQ4_0, matvecQ4_1, matvecQ5_0, matvecQ5_1, gatherColumnsQ4_0, q4_0InBytes, q4_0InScales } from "../../assembly/kernels/q4";
import { matvecQ2_K, matvecQ3_K, matvecQ4_K, matvecQ5_K, matvecQ6_K, gatherColumnsQ4_K, q4_KInBytes, q4_KInSuper } from "../../assembly/kernels/kquants";
import { DTYPE_Q2_K, DTYPE_Q3_K, DTYPE_Q4_0, DTYPE_Q4_1, DTYPE_Q4_K, DTYPE_Q5_0, DTYPE_Q5_1, DTYPE_Q5_K, DTYPE_Q6_K } from "../../assembly/abi";
import { seedRandom, rand, buf, randomBuf, bitsEqual, keptIndices } from "./buffers";
import { randomQ8, randomHalf, randomQ8In } from "./q8-matrices";

seedRandom(12351);



/** Token b's row of a batch buffer (stride floats per token). */
function row(p: usize, b: i32, stride: i32): usize {
  return p + (<usize>(b * stride) << 2);
}

describe("matmatF32", () => {
  it("every token equals matvecF32 and the scalar reference bit for bit", () => {
    for (let rows = 1; rows <= 11; rows += 3) {
      for (let cols = 1; cols <= 19; cols += 6) {
        for (let nTok = 1; nTok <= 5; nTok++) {
          const xStride = cols + 3, outStride = rows + 2;
          const w = randomBuf(rows * cols);
          const x = randomBuf(nTok * xStride);
          const a = buf(nTok * outStride), s = buf(nTok * outStride), one = buf(rows);
          matmatF32(a, w, x, rows, cols, nTok, outStride, xStride);
          matmatF32Scalar(s, w, x, rows, cols, nTok, outStride, xStride);
          for (let b = 0; b < nTok; b++) {
            matvecF32(one, w, row(x, b, xStride), rows, cols);
            expect(bitsEqual(row(a, b, outStride), one, rows)).toBe(true);
            expect(bitsEqual(row(s, b, outStride), one, rows)).toBe(true);
          }
        }
      }
    }
  });
});

describe("gatherColumnsBatchF32", () => {
  it("every token equals gatherColumnsF32 and the scalar reference bit for bit, dense and on subsets", () => {
    for (let nIn = 1; nIn <= 23; nIn += 5) {
      for (let nOut = 1; nOut <= 18; nOut += 4) {
        for (let nTok = 1; nTok <= 4; nTok++) {
          for (let period = 1; period <= 3; period += 2) {
            const xStride = nIn + 1, outStride = nOut + 5;
            const wT = randomBuf(nIn * nOut);
            const x = randomBuf(nTok * xStride);
            const idx = buf(nIn);
            const k = period == 1 ? keptIndices(idx, nIn, nIn + 1, nIn) : keptIndices(idx, nIn, period, 1);
            const a = buf(nTok * outStride), s = buf(nTok * outStride), one = buf(nOut), second = buf(nOut + nIn);
            gatherColumnsBatchF32(a, wT, x, idx, k, nOut, nTok, outStride, xStride);
            gatherColumnsBatchF32Scalar(s, wT, x, idx, k, nOut, nTok, outStride, xStride);
            for (let b = 0; b < nTok; b++) {
              gatherColumnsF32(one, wT, row(x, b, xStride), idx, k, nOut, second);
              expect(bitsEqual(row(a, b, outStride), one, nOut)).toBe(true);
              expect(bitsEqual(row(s, b, outStride), one, nOut)).toBe(true);
            }
          }
        }
      }
    }
  });
});

describe("q8 batches", () => {
  it("matmatQ8: every token equals matvecQ8 bit for bit, small and cut into several pieces", () => {
    const shapes: i32[] = [5, 40, 131, 2048, 17, 70];
    for (let s = 0; s < shapes.length; s += 2) {
      const rows = shapes[s], cols = shapes[s + 1];
      const nTok = 3;
      const w = randomQ8(rows, cols);
      const x = randomBuf(nTok * cols);
      const a = buf(nTok * rows), one = buf(rows);
      matmatQ8(a, w, x, rows, cols, nTok, rows, cols);
      for (let b = 0; b < nTok; b++) {
        matvecQ8(one, w, row(x, b, cols), rows, cols);
        expect(bitsEqual(row(a, b, rows), one, rows)).toBe(true);
      }
    }
  });

  it("gatherColumnsBatchQ8: every token equals gatherColumnsQ8 bit for bit, small and cut into several pieces", () => {
    const shapes: i32[] = [40, 37, 2000, 300];
    for (let s = 0; s < shapes.length; s += 2) {
      const nIn = shapes[s], nOut = shapes[s + 1];
      const nTok = 3;
      const wT = randomQ8In(nIn, nOut);
      const x = randomBuf(nTok * nIn);
      const idx = buf(nIn);
      for (let period = 1; period <= 3; period += 2) {
        const k = period == 1 ? keptIndices(idx, nIn, nIn + 1, nIn) : keptIndices(idx, nIn, period, 1);
        const a = buf(nTok * nOut), one = buf(nOut);
        gatherColumnsBatchQ8(a, wT, x, idx, k, nIn, nOut, nTok, nOut, nIn);
        for (let b = 0; b < nTok; b++) {
          gatherColumnsQ8(one, wT, row(x, b, nIn), idx, k, nIn, nOut);
          expect(bitsEqual(row(a, b, nOut), one, nOut)).toBe(true);
        }
      }
    }
  });
});

/** rows x blocks ggml blocks of random bytes, with a random normal f16 scale at each offset listed (-1: none). */
function randomGgml(rows: i32, blocks: i32, blockBytes: i32, halfAt0: i32, halfAt1: i32): usize {
  const n = rows * blocks;
  const w = heap.alloc(<usize>(n * blockBytes));
  for (let i = 0; i < n * blockBytes; i++) store<u8>(w + <usize>i, <u8>(<i32>((rand() + 1.0) * 127.9)));
  for (let i = 0; i < n; i++) {
    store<u16>(w + <usize>(i * blockBytes + halfAt0), randomHalf());
    if (halfAt1 >= 0) store<u16>(w + <usize>(i * blockBytes + halfAt1), randomHalf());
  }
  return w;
}

/** The one-token kernel of a ggml-block dtype. */
function matvecGgml(dtype: i32, out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  if (dtype == DTYPE_Q4_0) matvecQ4_0(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q5_0) matvecQ5_0(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q4_K) matvecQ4_K(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q4_1) matvecQ4_1(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q5_1) matvecQ5_1(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q5_K) matvecQ5_K(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q2_K) matvecQ2_K(out, w, x, rows, cols);
  else if (dtype == DTYPE_Q3_K) matvecQ3_K(out, w, x, rows, cols);
  else matvecQ6_K(out, w, x, rows, cols);
}

describe("ggml-block batches (Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)", () => {
  it("matmatGgml: every token equals the one-token kernel bit for bit, small and cut into several pieces", () => {
    // dtype, rows, cols, block bytes, f16 offsets; 2048 columns make rows of 1-2 KB, so a few hundred rows are several pieces
    const cases: i32[] = [
      DTYPE_Q4_0, 7, 64, 18, 0, -1,
      DTYPE_Q4_0, 500, 2048, 18, 0, -1,
      DTYPE_Q5_0, 9, 96, 22, 0, -1,
      DTYPE_Q5_0, 400, 2048, 22, 0, -1,
      DTYPE_Q4_K, 6, 256, 144, 0, 2,
      DTYPE_Q4_K, 500, 2048, 144, 0, 2,
      DTYPE_Q6_K, 5, 512, 210, 208, -1,
      DTYPE_Q6_K, 330, 2048, 210, 208, -1,
      DTYPE_Q4_1, 6, 64, 20, 0, 2,
      DTYPE_Q4_1, 450, 2048, 20, 0, 2,
      DTYPE_Q5_1, 5, 96, 24, 0, 2,
      DTYPE_Q5_1, 400, 2048, 24, 0, 2,
      DTYPE_Q5_K, 7, 256, 176, 0, 2,
      DTYPE_Q5_K, 400, 2048, 176, 0, 2,
      DTYPE_Q2_K, 3, 512, 84, 80, 82,
      DTYPE_Q3_K, 3, 512, 110, 108, -1,
    ];
    for (let c = 0; c < cases.length; c += 6) {
      const dtype = cases[c], rows = cases[c + 1], cols = cases[c + 2];
      const blocks = cols / (dtype == DTYPE_Q4_K || dtype == DTYPE_Q5_K || dtype == DTYPE_Q6_K || dtype == DTYPE_Q2_K || dtype == DTYPE_Q3_K ? 256 : 32);
      const w = randomGgml(rows, blocks, cases[c + 3], cases[c + 4], cases[c + 5]);
      const nTok = 3, xStride = cols + 5, outStride = rows + 3;
      const x = randomBuf(nTok * xStride);
      const a = buf(nTok * outStride), one = buf(rows);
      matmatGgml(dtype, a, w, x, rows, cols, nTok, outStride, xStride);
      for (let b = 0; b < nTok; b++) {
        matvecGgml(dtype, one, w, row(x, b, xStride), rows, cols);
        expect(bitsEqual(row(a, b, outStride), one, rows)).toBe(true, "dtype " + dtype.toString() + " rows " + rows.toString() + " token " + b.toString());
      }
    }
  });

  it("gatherColumnsBatchGgml: every token equals the one-token gather bit for bit (input-major Q4_0 and Q4_K), dense and on subsets, several pieces", () => {
    const shapes: i32[] = [DTYPE_Q4_0, 64, 45, DTYPE_Q4_0, 2016, 300, DTYPE_Q4_K, 256, 37, DTYPE_Q4_K, 2048, 300];
    for (let s = 0; s < shapes.length; s += 3) {
      const dtype = shapes[s], nIn = shapes[s + 1], nOut = shapes[s + 2];
      let wT: usize;
      if (dtype == DTYPE_Q4_0) {
        const bytes = q4_0InBytes(nIn, nOut);
        wT = heap.alloc(bytes);
        for (let i: usize = 0; i < bytes; i++) store<u8>(wT + i, <u8>(<i32>((rand() + 1.0) * 127.9)));
        const sc = q4_0InScales(wT, nIn, nOut);
        for (let i = 0; i < ((nIn + 31) >> 5) * nOut; i++) store<u16>(sc + (<usize>i << 1), randomHalf());
      } else {
        const bytes = q4_KInBytes(nIn, nOut);
        wT = heap.alloc(bytes);
        for (let i: usize = 0; i < bytes; i++) store<u8>(wT + i, <u8>(<i32>((rand() + 1.0) * 127.9)) & 63);
        const d = q4_KInSuper(wT, nIn, nOut);
        for (let i = 0; i < 2 * (nIn >> 8) * nOut; i++) store<f32>(d + (<usize>i << 2), 0.01 * rand());
      }
      const nTok = 3, xStride = nIn + 1, outStride = nOut + 2;
      const x = randomBuf(nTok * xStride);
      const idx = buf(nIn);
      for (let period = 1; period <= 3; period += 2) {
        const k = period == 1 ? keptIndices(idx, nIn, nIn + 1, nIn) : keptIndices(idx, nIn, period, 1);
        const a = buf(nTok * outStride), one = buf(nOut);
        gatherColumnsBatchGgml(dtype, a, wT, x, idx, k, nIn, nOut, nTok, outStride, xStride);
        for (let b = 0; b < nTok; b++) {
          if (dtype == DTYPE_Q4_0) gatherColumnsQ4_0(one, wT, row(x, b, xStride), idx, k, nIn, nOut);
          else gatherColumnsQ4_K(one, wT, row(x, b, xStride), idx, k, nIn, nOut);
          expect(bitsEqual(row(a, b, outStride), one, nOut)).toBe(true, "dtype " + dtype.toString() + " nIn " + nIn.toString() + " token " + b.toString());
        }
      }
    }
  });
});
