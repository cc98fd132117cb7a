// The prompt's matrix-matrix kernels (assembly/kernels/matmat.ts): per token, bit for bit the
// one-token kernel they stand for (matvecF32, gatherColumnsF32, matvecQ8, gatherColumnsQ8) and the
// scalar references; odd sizes and token counts (SIMD tails, the odd token of a pair), strides
// wider than a row, and q8 matrices big enough to be cut into several cache-sized pieces.
import { matmatF32, matmatF32Scalar, gatherColumnsBatchF32, gatherColumnsBatchF32Scalar, matmatQ8, gatherColumnsBatchQ8 } from "../../assembly/kernels/matmat";
import { matvecF32 } from "../../assembly/kernels/matvec";
import { gatherColumnsF32 } from "../../assembly/kernels/gather";
import { matvecQ8, gatherColumnsQ8, q8Bytes, q8BlockAt, q8ScaleAt, q8Blocks, q8InBytes, q8InScales } from "../../assembly/kernels/q8";
import { seedRandom, rand, buf, randomBuf, bitsEqual, keptIndices } from "./buffers";

seedRandom(12351);

/** A random row-major q8 matrix of rows x n: quants in [-127, 127], scales in (0, 0.02], padding 0. */
function randomQ8(rows: i32, n: i32): usize {
  const bytes = q8Bytes(rows, n);
  const w = heap.alloc(bytes);
  memory.fill(w, 0, bytes);
  const nb = q8Blocks(n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) store<i8>(q8BlockAt(w, nb, r, i / 32) + <usize>(i % 32), <i8>(<i32>(rand() * 127.0)));
    for (let b = 0; b < nb; b++) store<f32>(q8ScaleAt(w, nb, r, b), 0.01 + 0.01 * rand());
  }
  return w;
}

/** f16 bits of a positive normal scale in [2^-7, 2^-6) (about 0.008-0.016), random mantissa. */
function randomHalf(): u16 {
  return <u16>(0x2000 + (<i32>((rand() + 1.0) * 511.0) & 0x3ff));
}

/** A random input-major q8 matrix [nIn x nOut]: quants in [-127, 127], f16 scales. */
function randomQ8In(nIn: i32, nOut: i32): usize {
  const w = heap.alloc(q8InBytes(nIn, nOut));
  for (let i = 0; i < nIn * nOut; i++) store<i8>(w + <usize>i, <i8>(<i32>(rand() * 127.0)));
  const sc = q8InScales(w, nIn, nOut);
  for (let i = 0; i < q8Blocks(nIn) * nOut; i++) store<u16>(sc + (<usize>i << 1), randomHalf());
  return w;
}


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
            const a = buf(nTok * outStride), s = buf(nTok * outStride), one = buf(nOut);
            gatherColumnsBatchF32(a, wT, x, idx, k, nOut, nTok, outStride, xStride);
            gatherColumnsBatchF32Scalar(s, wT, x, idx, k, nOut, nTok, outStride, xStride);
            for (let b = 0; b < nTok; b++) {
              gatherColumnsF32(one, wT, row(x, b, xStride), idx, k, nOut);
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
