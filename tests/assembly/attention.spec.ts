// The attention kernel (assembly/kernels/attention.ts): the SIMD head against its scalar reference
// (bit-identical by design: one dot order, positions added in order) on odd sizes; a hand-worked
// head; and the grouped-query mapping (query head h reads kv head h / (nHeads / nKvHeads)).
import { attendHeadF32, attendHeadF32Scalar, attentionF32 } from "../../assembly/kernels/attention";
import { seedRandom, buf, randomBuf, f, setF, bitsEqual } from "./buffers";

seedRandom(2718);

describe("attendHeadF32", () => {
  it("equals the scalar reference bit for bit on odd head sizes, positions and row strides", () => {
    for (let headDim = 1; headDim <= 19; headDim += 3) {
      for (let n = 1; n <= 9; n += 2) {
        const rowFloats = headDim + 5; // rows of a wider kv row: strided, off the 4-lane grid
        const q = randomBuf(headDim);
        const keys = randomBuf(n * rowFloats);
        const values = randomBuf(n * rowFloats);
        const a = buf(headDim), b = buf(headDim);
        const pa = buf(n), pb = buf(n);
        attendHeadF32(a, q, keys + 8, values + 8, n, headDim, rowFloats, 0.37, pa);
        attendHeadF32Scalar(b, q, keys + 8, values + 8, n, headDim, rowFloats, 0.37, pb);
        const what = "headDim " + headDim.toString() + " n " + n.toString();
        expect(bitsEqual(pa, pb, n)).toBe(true, what);
        expect(bitsEqual(a, b, headDim)).toBe(true, what);
      }
    }
  });

  it("computes a hand-worked head: scores, softmax, weighted sum of values", () => {
    // q = [1, 0]; k_0 = [0, 5], k_1 = [ln 3, 7] -> scores (scale 1) [0, ln 3] -> p = [0.25, 0.75]
    // v_0 = [4, -8], v_1 = [8, 4] -> out = 0.25 v_0 + 0.75 v_1 = [7, 1]
    const q = buf(2);
    setF(q, 0, 1);
    setF(q, 1, 0);
    const keys = buf(4);
    setF(keys, 0, 0);
    setF(keys, 1, 5);
    setF(keys, 2, <f32>Math.log(3));
    setF(keys, 3, 7);
    const values = buf(4);
    setF(values, 0, 4);
    setF(values, 1, -8);
    setF(values, 2, 8);
    setF(values, 3, 4);
    const out = buf(2), p = buf(2);
    attendHeadF32(out, q, keys, values, 2, 2, 2, 1.0, p);
    expect(Mathf.abs(f(p, 0) - 0.25) < 1e-6).toBe(true);
    expect(Mathf.abs(f(p, 1) - 0.75) < 1e-6).toBe(true);
    expect(Mathf.abs(f(out, 0) - 7) < 1e-5).toBe(true);
    expect(Mathf.abs(f(out, 1) - 1) < 1e-5).toBe(true);
  });

  it("attends to exactly the one position there is (p = 1, out = v_0)", () => {
    const q = randomBuf(3);
    const k = randomBuf(3);
    const v = randomBuf(3);
    const out = buf(3);
    const p = buf(1);
    attendHeadF32(out, q, k, v, 1, 3, 3, 0.5, p);
    expect(f(p, 0)).toBe(1);
    expect(bitsEqual(out, v, 3)).toBe(true);
  });
});

describe("attentionF32", () => {
  it("maps query heads to kv heads (GQA) and scales by 1/sqrt(headDim)", () => {
    const nHeads = 6, nKvHeads = 2, headDim = 5, n = 4;
    const kvDim = nKvHeads * headDim;
    const q = randomBuf(nHeads * headDim);
    const keys = randomBuf(n * kvDim);
    const values = randomBuf(n * kvDim);
    const probsStride = 7; // each head's probabilities at its own offset (training keeps them)
    const probs = buf(nHeads * probsStride);
    const out = buf(nHeads * headDim);
    attentionF32(out, q, keys, values, n, nHeads, nKvHeads, headDim, kvDim, probs, probsStride);
    const want = buf(headDim);
    const p = buf(n);
    const scale: f32 = 1.0 / Mathf.sqrt(<f32>headDim);
    for (let h = 0; h < nHeads; h++) {
      const g = h / (nHeads / nKvHeads); // heads 0-2 read kv head 0, heads 3-5 kv head 1
      const kvOff = <usize>(g * headDim) << 2;
      attendHeadF32Scalar(want, q + (<usize>(h * headDim) << 2), keys + kvOff, values + kvOff, n, headDim, kvDim, scale, p);
      expect(bitsEqual(out + (<usize>(h * headDim) << 2), want, headDim)).toBe(true, "head " + h.toString());
      expect(bitsEqual(probs + (<usize>(h * probsStride) << 2), p, n)).toBe(true, "probs of head " + h.toString());
    }
  });
});
