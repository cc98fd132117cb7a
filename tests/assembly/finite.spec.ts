// The load-time finite check against its scalar reference and a plain loop: every position of a
// NaN, +Inf or -Inf (inside a SIMD block, in a block boundary, in the scalar tail) is found.
import { firstNonFiniteF32, firstNonFiniteF32Scalar } from "../../assembly/kernels/finite";
import { seedRandom, buf, fillRandom, setF } from "./buffers";

seedRandom(4242);

describe("firstNonFiniteF32", () => {
  it("returns -1 on finite data of every length around the block size", () => {
    for (let n = 0; n <= 2100; n += 97) {
      const p = buf(n);
      fillRandom(p, n);
      expect(firstNonFiniteF32(p, n)).toBe(-1);
      expect(firstNonFiniteF32Scalar(p, n)).toBe(-1);
    }
    // the largest finite values are finite
    const p = buf(8);
    for (let i = 0; i < 8; i++) setF(p, i, i % 2 ? f32.MAX_VALUE : -f32.MAX_VALUE);
    expect(firstNonFiniteF32(p, 8)).toBe(-1);
  });

  it("finds the first NaN or infinity wherever it is, like the scalar reference", () => {
    const n = 2 * 1024 + 37;
    const p = buf(n);
    const bad: f32[] = [NaN, Infinity, -Infinity];
    const positions: i32[] = [0, 3, 1023, 1024, 1500, 2047, 2048, n - 1];
    for (let b = 0; b < bad.length; b++) {
      for (let k = 0; k < positions.length; k++) {
        fillRandom(p, n);
        const at = positions[k];
        setF(p, at, bad[b]);
        if (at + 5 < n) setF(p, at + 5, NaN); // a later one must not win
        expect(firstNonFiniteF32(p, n)).toBe(at);
        expect(firstNonFiniteF32Scalar(p, n)).toBe(at);
      }
    }
  });
});
