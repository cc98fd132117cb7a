// The load-time weight check against its scalar reference: every position of a NaN, an infinity or
// a value beyond the limit (inside a SIMD block, at a block boundary, in the scalar tail) is found.
import { firstAbsAboveF32, firstAbsAboveF32Scalar } from "../../assembly/kernels/finite";
import { seedRandom, buf, fillRandom, setF } from "./buffers";

seedRandom(4242);

const LIMIT: f32 = 1e6;

describe("firstAbsAboveF32", () => {
  it("returns -1 on finite data of every length around the block size", () => {
    for (let n = 0; n <= 2100; n += 97) {
      const p = buf(n);
      fillRandom(p, n);
      expect(firstAbsAboveF32(p, n, LIMIT)).toBe(-1);
      expect(firstAbsAboveF32Scalar(p, n, LIMIT)).toBe(-1);
    }
    // the limit itself passes; the largest finite values pass a limit of f32.MAX_VALUE
    const p = buf(8);
    for (let i = 0; i < 8; i++) setF(p, i, i % 2 ? LIMIT : -LIMIT);
    expect(firstAbsAboveF32(p, 8, LIMIT)).toBe(-1);
    for (let i = 0; i < 8; i++) setF(p, i, i % 2 ? f32.MAX_VALUE : -f32.MAX_VALUE);
    expect(firstAbsAboveF32(p, 8, f32.MAX_VALUE)).toBe(-1);
  });

  it("finds the first NaN or infinity wherever it is, like the scalar reference", () => {
    const n = 2 * 1024 + 37;
    const p = buf(n);
    const bad: f32[] = [NaN, Infinity, -Infinity, 1.5e6, -2e30];
    const positions: i32[] = [0, 3, 1023, 1024, 1500, 2047, 2048, n - 1];
    for (let b = 0; b < bad.length; b++) {
      for (let k = 0; k < positions.length; k++) {
        fillRandom(p, n);
        const at = positions[k];
        setF(p, at, bad[b]);
        if (at + 5 < n) setF(p, at + 5, NaN); // a later one must not win
        expect(firstAbsAboveF32(p, n, LIMIT)).toBe(at);
        expect(firstAbsAboveF32Scalar(p, n, LIMIT)).toBe(at);
      }
    }
  });
});
