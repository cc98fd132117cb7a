// Rotary embeddings against cos/sin of pos * theta^(-2i/d) computed in f64 here, in both layouts;
// the transpose (used by backprop) against the identity it must give after the rotation.
import { applyRope, applyRopeTranspose, buildRopeTable, ROPE_HALF, ROPE_INTERLEAVED } from "../../assembly/kernels/rope";
import { seedRandom, buf, randomBuf, copyOf, f, setF } from "./buffers";

seedRandom(12348);

describe("rope", () => {
  it("rotates the pairs of each layout by pos * theta^(-2i/d)", () => {
    const d = 4;
    const table = buf(8 * d);
    const inv = heap.alloc(16);
    store<f64>(inv, 1.0);
    store<f64>(inv + 8, 0.01); // 10000^(-2/4)
    buildRopeTable(table, 8, d, inv);
    const v = buf(d);
    // interleaved: pair (0,1) uses freq 1, pair (2,3) uses freq 1/100
    for (let i = 0; i < d; i++) setF(v, i, <f32>(i == 0 || i == 2 ? 1 : 0));
    applyRope(v, 1, d, 3, table, ROPE_INTERLEAVED);
    expect(Mathf.abs(f(v, 0) - <f32>Math.cos(3)) < 1e-6).toBe(true);
    expect(Mathf.abs(f(v, 1) - <f32>Math.sin(3)) < 1e-6).toBe(true);
    expect(Mathf.abs(f(v, 2) - <f32>Math.cos(0.03)) < 1e-6).toBe(true);
    expect(Mathf.abs(f(v, 3) - <f32>Math.sin(0.03)) < 1e-6).toBe(true);
    // half: pair (0,2) uses freq 1, pair (1,3) uses freq 1/100
    for (let i = 0; i < d; i++) setF(v, i, <f32>(i < 2 ? 1 : 0));
    applyRope(v, 1, d, 3, table, ROPE_HALF);
    expect(Mathf.abs(f(v, 0) - <f32>Math.cos(3)) < 1e-6).toBe(true);
    expect(Mathf.abs(f(v, 2) - <f32>Math.sin(3)) < 1e-6).toBe(true);
    expect(Mathf.abs(f(v, 1) - <f32>Math.cos(0.03)) < 1e-6).toBe(true);
    expect(Mathf.abs(f(v, 3) - <f32>Math.sin(0.03)) < 1e-6).toBe(true);
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
      const v = randomBuf(2 * headDim), orig = copyOf(v, 2 * headDim);
      applyRope(v, 2, headDim, 4, table, layouts[k]);
      applyRopeTranspose(v, 2, headDim, 4, table, layouts[k]);
      for (let i = 0; i < 2 * headDim; i++) expect(Mathf.abs(f(v, i) - f(orig, i)) < 1e-6).toBe(true);
    }
  });
});
