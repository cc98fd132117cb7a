// The transposed product used by backprop (assembly/kernels/matvec-transposed.ts) against its
// scalar reference (bit for bit) and against W^T y summed in f64 by plain loops.
import { matvecTransposedAddF32, matvecTransposedAddF32Scalar, axpyF32 } from "../../assembly/kernels/matvec-transposed";
import { seedRandom, buf, randomBuf, copyOf, f, bitsEqual } from "./buffers";

seedRandom(778);

describe("matvecTransposedAddF32", () => {
  it("equals the scalar reference bit for bit and W^T y by plain loops", () => {
    for (let rows = 1; rows <= 11; rows += 2) {
      for (let cols = 1; cols <= 13; cols += 3) {
        const w = randomBuf(rows * cols), y = randomBuf(rows); // W, and y = d loss / d (W x)
        const o1 = randomBuf(cols);
        const o2 = copyOf(o1, cols), start = copyOf(o1, cols);
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
    const x = buf(7), o = buf(7);
    for (let i = 0; i < 7; i++) {
      store<f32>(x + (<usize>i << 2), <f32>i);
      store<f32>(o + (<usize>i << 2), 1);
    }
    axpyF32(o, x, 0.5, 7);
    for (let i = 0; i < 7; i++) expect(f(o, i)).toBe(1 + 0.5 * <f32>i);
  });
});
