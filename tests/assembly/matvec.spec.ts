// matvecF32 and dotF32 against their scalar references (bit-identical by design: one stated
// summation order, assembly/kernels/matvec.ts) and against a hand-worked product. Sizes are odd on
// purpose: the SIMD tails must be right.
import { dotF32, dotF32Scalar, matvecF32, matvecF32Rows4, matvecF32Scalar, matvecRowsF32 } from "../../assembly/kernels/matvec";
import { seedRandom, buf, randomBuf, f, setF, bitsEqual } from "./buffers";

seedRandom(12345);

describe("matvecF32", () => {
  it("equals the scalar reference bit for bit on odd sizes", () => {
    for (let rows = 1; rows <= 13; rows++) {
      for (let cols = 1; cols <= 19; cols += 3) {
        const w = randomBuf(rows * cols);
        const x = randomBuf(cols);
        const a = buf(rows), b = buf(rows);
        matvecF32(a, w, x, rows, cols);
        matvecF32Scalar(b, w, x, rows, cols);
        expect(bitsEqual(a, b, rows)).toBe(true, "rows " + rows.toString() + " cols " + cols.toString());
      }
    }
  });

  it("reads rows a quarter apart per pass without changing a bit (rows 4q + 0..3, cols % 8 = 0..7)", () => {
    // matvecF32 pairs rows r, r + q, r + 2q, r + 3q; matvecF32Rows4 pairs adjacent rows: both must
    // give every row the scalar reference's bits, whatever the quarter and the leftover rows.
    for (let rows = 17; rows <= 83; rows += 11) {
      for (let cols = 24; cols <= 31; cols++) {
        const w = randomBuf(rows * cols);
        const x = randomBuf(cols);
        const a = buf(rows), b = buf(rows), c = buf(rows);
        matvecF32(a, w, x, rows, cols);
        matvecF32Rows4(b, w, x, rows, cols);
        matvecF32Scalar(c, w, x, rows, cols);
        const at = "rows " + rows.toString() + " cols " + cols.toString();
        expect(bitsEqual(a, c, rows)).toBe(true, at);
        expect(bitsEqual(b, c, rows)).toBe(true, at);
      }
    }
  });

  it("dotF32 equals dotF32Scalar bit for bit on odd lengths", () => {
    for (let n = 1; n <= 41; n += 2) {
      const w = randomBuf(n);
      const x = randomBuf(n);
      expect(reinterpret<u32>(dotF32(w, x, n))).toBe(reinterpret<u32>(dotF32Scalar(w, x, n)), "n " + n.toString());
    }
  });

  it("computes a hand-worked 2x3 product", () => {
    // [1 2 3; 4 5 6] . [1, 0.5, -1] = [1 + 1 - 3, 4 + 2.5 - 6] = [-1, 0.5]
    const w = buf(6);
    const x = buf(3);
    const out = buf(2);
    for (let i = 0; i < 6; i++) setF(w, i, <f32>(i + 1));
    setF(x, 0, 1);
    setF(x, 1, 0.5);
    setF(x, 2, -1);
    matvecF32(out, w, x, 2, 3);
    expect(f(out, 0)).toBe(-1);
    expect(f(out, 1)).toBe(0.5);
  });

  it("matvecRowsF32 computes only the listed rows", () => {
    const rows = 7, cols = 13;
    const w = randomBuf(rows * cols);
    const x = randomBuf(cols);
    const all = buf(rows);
    const some = buf(3), idx = buf(3);
    matvecF32(all, w, x, rows, cols);
    store<u32>(idx, 1);
    store<u32>(idx + 4, 4);
    store<u32>(idx + 8, 6);
    matvecRowsF32(some, w, x, idx, 3, cols);
    expect(f(some, 0)).toBe(f(all, 1));
    expect(f(some, 1)).toBe(f(all, 4));
    expect(f(some, 2)).toBe(f(all, 6));
  });
});
