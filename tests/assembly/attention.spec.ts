// The attention kernel (assembly/kernels/attention.ts): the SIMD head and its gradient against their
// scalar references (bit-identical by design: one dot order, positions added in order) on odd
// sizes; a hand-worked head; the gradient against central finite differences of the forward; and
// the grouped-query mapping (query head h reads kv head h / (nHeads / nKvHeads)).
import {
  attendHeadF32, attendHeadF32Scalar, attentionF32, attentionHeadsF32, attendHeadBackwardF32, attendHeadBackwardF32Scalar, attentionBackwardF32,
} from "../../assembly/kernels/attention";
import { seedRandom, buf, randomBuf, copyOf, f, setF, bitsEqual } from "./buffers";

seedRandom(2718);

describe("attendHeadF32", () => {
  it("equals the scalar reference bit for bit on odd head sizes, positions and row strides", () => {
    for (let headDim = 1; headDim <= 19; headDim += 3) {
      for (let n = 1; n <= 13; n += 2) {
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
  it("maps query heads to kv heads (GQA) and scales by 1/sqrt(headDim); one head at a time bit for bit, across its blocks of 64 positions", () => {
    const lengths: i32[] = [4, 64, 67, 150]; // one block, exactly one, a partial second, three
    // headDims 8 and 20 take the two-heads-at-once kernels (three heads a kv head: a pair, then one
    // alone; 20 = a 16-output tile and a 4-output one), headDim 5 one head at a time
    const headDims: i32[] = [5, 8, 20];
    for (let c = 0; c < headDims.length * lengths.length; c++) {
      const n = lengths[c % lengths.length];
      const nHeads = 6, nKvHeads = 2, headDim = headDims[c / lengths.length];
      const kvDim = nKvHeads * headDim;
      const q = randomBuf(nHeads * headDim);
      const keys = randomBuf(n * kvDim);
      const values = randomBuf(n * kvDim);
      const probsStride = n + 3; // each head's probabilities at its own offset (training keeps them)
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
        const at = "n " + n.toString() + " headDim " + headDim.toString() + " head " + h.toString();
        expect(bitsEqual(out + (<usize>(h * headDim) << 2), want, headDim)).toBe(true, at);
        expect(bitsEqual(probs + (<usize>(h * probsStride) << 2), p, n)).toBe(true, "probs of " + at);
      }
    }
  });
});

describe("attentionHeadsF32", () => {
  it("gives each head the bits of the whole when the heads are split at any point (threads), pairs cut or not", () => {
    const n = 70, nHeads = 8, nKvHeads = 2, headDim = 20; // four query heads a kv head
    const kvDim = nKvHeads * headDim;
    const q = randomBuf(nHeads * headDim), keys = randomBuf(n * kvDim), values = randomBuf(n * kvDim);
    const whole = buf(nHeads * headDim), wholeProbs = buf(nHeads * n);
    attentionF32(whole, q, keys, values, n, nHeads, nKvHeads, headDim, kvDim, wholeProbs, n);
    for (let cut = 1; cut < nHeads; cut++) {
      const out = buf(nHeads * headDim), probs = buf(nHeads * n);
      attentionHeadsF32(out, q, keys, values, n, nHeads, nKvHeads, headDim, kvDim, probs, n, 0, cut);
      attentionHeadsF32(out, q, keys, values, n, nHeads, nKvHeads, headDim, kvDim, probs, n, cut, nHeads);
      expect(bitsEqual(out, whole, nHeads * headDim)).toBe(true, "cut at head " + cut.toString());
      expect(bitsEqual(probs, wholeProbs, nHeads * n)).toBe(true, "probs, cut at head " + cut.toString());
    }
  });
});

/** sum_i g_i * out_i of one head (f64), the scalar forward: the loss the gradient is checked on. */
function headLoss(g: usize, q: usize, keys: usize, values: usize, n: i32, headDim: i32): f64 {
  const out = buf(headDim), p = buf(n);
  attendHeadF32Scalar(out, q, keys, values, n, headDim, headDim, 0.6, p);
  let loss: f64 = 0;
  for (let i = 0; i < headDim; i++) loss += <f64>f(g, i) * <f64>f(out, i);
  return loss;
}

/** d loss / d v[i] by central differences (step 1e-2 on values of order 1). */
function numericGradient(v: usize, i: i32, g: usize, q: usize, keys: usize, values: usize, n: i32, headDim: i32): f64 {
  const h: f32 = 1e-2;
  const v0 = f(v, i);
  setF(v, i, v0 + h);
  const up = headLoss(g, q, keys, values, n, headDim);
  setF(v, i, v0 - h);
  const down = headLoss(g, q, keys, values, n, headDim);
  setF(v, i, v0);
  return (up - down) / (2.0 * <f64>h);
}

describe("attendHeadBackwardF32", () => {
  it("equals the scalar reference bit for bit on odd sizes", () => {
    for (let headDim = 1; headDim <= 19; headDim += 3) {
      for (let n = 1; n <= 9; n += 2) {
        const rowFloats = headDim + 5;
        const q = randomBuf(headDim), dOut = randomBuf(headDim);
        const keys = randomBuf(n * rowFloats), values = randomBuf(n * rowFloats);
        const p = buf(n), scratch = buf(headDim);
        attendHeadF32Scalar(scratch, q, keys, values, n, headDim, rowFloats, 0.37, p);
        // dk, dv accumulate: start both runs from the same nonzero rows
        const dk1 = randomBuf(n * rowFloats), dv1 = randomBuf(n * rowFloats);
        const dk2 = copyOf(dk1, n * rowFloats), dv2 = copyOf(dv1, n * rowFloats);
        const dq1 = buf(headDim), dq2 = buf(headDim), dP1 = buf(n), dP2 = buf(n);
        attendHeadBackwardF32(dq1, dk1, dv1, dOut, q, keys, values, n, headDim, rowFloats, 0.37, p, dP1);
        attendHeadBackwardF32Scalar(dq2, dk2, dv2, dOut, q, keys, values, n, headDim, rowFloats, 0.37, p, dP2);
        const what = "headDim " + headDim.toString() + " n " + n.toString();
        expect(bitsEqual(dq1, dq2, headDim)).toBe(true, what);
        expect(bitsEqual(dk1, dk2, n * rowFloats)).toBe(true, what);
        expect(bitsEqual(dv1, dv2, n * rowFloats)).toBe(true, what);
      }
    }
  });

  it("matches central finite differences of the forward for q, every key and every value", () => {
    const headDim = 3, n = 4;
    const q = randomBuf(headDim), g = randomBuf(headDim);
    const keys = randomBuf(n * headDim), values = randomBuf(n * headDim);
    const p = buf(n), out = buf(headDim);
    attendHeadF32Scalar(out, q, keys, values, n, headDim, headDim, 0.6, p);
    const dq = buf(headDim), dk = buf(n * headDim), dv = buf(n * headDim), dP = buf(n);
    memory.fill(dk, 0, <usize>(n * headDim) << 2);
    memory.fill(dv, 0, <usize>(n * headDim) << 2);
    attendHeadBackwardF32(dq, dk, dv, g, q, keys, values, n, headDim, headDim, 0.6, p, dP);
    for (let i = 0; i < headDim; i++) {
      expect(Math.abs(<f64>f(dq, i) - numericGradient(q, i, g, q, keys, values, n, headDim)) < 1e-3).toBe(true, "dq " + i.toString());
    }
    for (let i = 0; i < n * headDim; i++) {
      expect(Math.abs(<f64>f(dk, i) - numericGradient(keys, i, g, q, keys, values, n, headDim)) < 1e-3).toBe(true, "dk " + i.toString());
      expect(Math.abs(<f64>f(dv, i) - numericGradient(values, i, g, q, keys, values, n, headDim)) < 1e-3).toBe(true, "dv " + i.toString());
    }
  });
});

describe("attentionBackwardF32", () => {
  it("maps query heads to kv heads (GQA): kv heads sum the gradients of their query heads, in order", () => {
    const nHeads = 4, nKvHeads = 2, headDim = 5, n = 3;
    const kvDim = nKvHeads * headDim;
    const q = randomBuf(nHeads * headDim), dOut = randomBuf(nHeads * headDim);
    const keys = randomBuf(n * kvDim), values = randomBuf(n * kvDim);
    const probsStride = 4;
    const probs = buf(nHeads * probsStride), out = buf(nHeads * headDim);
    attentionF32(out, q, keys, values, n, nHeads, nKvHeads, headDim, kvDim, probs, probsStride);
    const dq = buf(nHeads * headDim), dk = buf(n * kvDim), dv = buf(n * kvDim), dP = buf(n);
    memory.fill(dk, 0, <usize>(n * kvDim) << 2);
    memory.fill(dv, 0, <usize>(n * kvDim) << 2);
    attentionBackwardF32(dq, dk, dv, dOut, q, keys, values, n, nHeads, nKvHeads, headDim, kvDim, probs, probsStride, dP);
    // the same by single heads: heads 0, 1 into kv head 0, heads 2, 3 into kv head 1
    const wantDq = buf(nHeads * headDim), wantDk = buf(n * kvDim), wantDv = buf(n * kvDim);
    memory.fill(wantDk, 0, <usize>(n * kvDim) << 2);
    memory.fill(wantDv, 0, <usize>(n * kvDim) << 2);
    const scale: f32 = 1.0 / Mathf.sqrt(<f32>headDim);
    for (let h = 0; h < nHeads; h++) {
      const headOff = <usize>(h * headDim) << 2;
      const kvOff = <usize>((h / 2) * headDim) << 2;
      attendHeadBackwardF32Scalar(
        wantDq + headOff, wantDk + kvOff, wantDv + kvOff, dOut + headOff, q + headOff, keys + kvOff, values + kvOff,
        n, headDim, kvDim, scale, probs + (<usize>(h * probsStride) << 2), dP,
      );
    }
    expect(bitsEqual(dq, wantDq, nHeads * headDim)).toBe(true);
    expect(bitsEqual(dk, wantDk, n * kvDim)).toBe(true);
    expect(bitsEqual(dv, wantDv, n * kvDim)).toBe(true);
  });
});
