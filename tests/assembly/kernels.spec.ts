// Kernels against their scalar references (bit-identical by design: shared summation order) and
// against hand-computed cases. Sizes are odd on purpose: the SIMD tails must be right.
import { matvecF32, matvecF32Scalar, matvecRowsF32 } from "../../assembly/kernels/matvec";
import { gatherColumnsF32, gatherColumnsF32Scalar, gatherColumnsRangeF32 } from "../../assembly/kernels/gather";
import { selectTopK, selectAbove, kthLargest } from "../../assembly/kernels/topk";
import { rmsnorm, softmax } from "../../assembly/kernels/elementwise";
import { buildRopeTable, applyRope, ROPE_INTERLEAVED, ROPE_HALF } from "../../assembly/kernels/rope";
import { seedRandom, rand, buf, fillRandom, f, u, setF, bitsEqual } from "./buffers";

seedRandom(12345);

describe("matvecF32", () => {
  it("equals the scalar reference bit for bit on odd sizes", () => {
    for (let rows = 1; rows <= 13; rows++) {
      for (let cols = 1; cols <= 19; cols += 3) {
        const w = buf(rows * cols);
        const x = buf(cols);
        const a = buf(rows);
        const b = buf(rows);
        fillRandom(w, rows * cols);
        fillRandom(x, cols);
        matvecF32(a, w, x, rows, cols);
        matvecF32Scalar(b, w, x, rows, cols);
        expect(bitsEqual(a, b, rows)).toBe(true, "rows " + rows.toString() + " cols " + cols.toString());
      }
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
    const w = buf(rows * cols);
    const x = buf(cols);
    const all = buf(rows);
    const some = buf(3);
    const idx = buf(3);
    fillRandom(w, rows * cols);
    fillRandom(x, cols);
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

describe("gatherColumnsF32", () => {
  it("equals the scalar reference bit for bit on odd sizes and subsets", () => {
    for (let nIn = 1; nIn <= 27; nIn += 2) {
      for (let nOut = 1; nOut <= 17; nOut += 4) {
        const wT = buf(nIn * nOut);
        const x = buf(nIn);
        const idx = buf(nIn);
        const a = buf(nOut);
        const b = buf(nOut);
        fillRandom(wT, nIn * nOut);
        fillRandom(x, nIn);
        let k = 0;
        for (let j = 0; j < nIn; j++) {
          if (j % 3 == 1) continue;
          store<u32>(idx + (<usize>k << 2), j);
          k++;
        }
        gatherColumnsF32(a, wT, x, idx, k, nOut);
        gatherColumnsF32Scalar(b, wT, x, idx, k, nOut);
        expect(bitsEqual(a, b, nOut)).toBe(true);
      }
    }
  });

  it("with all columns kept equals W x (W = transpose of the stored matrix)", () => {
    const nIn = 9, nOut = 6;
    const wT = buf(nIn * nOut);
    const w = buf(nIn * nOut);
    const x = buf(nIn);
    const idx = buf(nIn);
    const a = buf(nOut);
    const b = buf(nOut);
    fillRandom(wT, nIn * nOut);
    fillRandom(x, nIn);
    for (let j = 0; j < nIn; j++) {
      store<u32>(idx + (<usize>j << 2), j);
      for (let o = 0; o < nOut; o++) setF(w, o * nIn + j, f(wT, j * nOut + o));
    }
    gatherColumnsF32(a, wT, x, idx, nIn, nOut);
    matvecF32Scalar(b, w, x, nOut, nIn);
    for (let o = 0; o < nOut; o++) expect(Mathf.abs(f(a, o) - f(b, o)) < 1e-5).toBe(true);
  });

  it("output ranges (thread shares) equal the whole product bit for bit and write nothing else", () => {
    const nIn = 23, nOut = 37; // odd: ranges start and end off the 4-lane grid
    const wT = buf(nIn * nOut);
    const x = buf(nIn);
    const idx = buf(nIn);
    const whole = buf(nOut);
    const parts = buf(nOut);
    fillRandom(wT, nIn * nOut);
    fillRandom(x, nIn);
    let k = 0;
    for (let j = 0; j < nIn; j += 2) {
      store<u32>(idx + (<usize>k << 2), j);
      k++;
    }
    gatherColumnsF32(whole, wT, x, idx, k, nOut);
    for (let o = 0; o < nOut; o++) setF(parts, o, 99);
    const cuts: i32[] = [0, 3, 4, 17, 18, 33, 37];
    for (let c = 0; c + 1 < cuts.length; c++) {
      gatherColumnsRangeF32(parts, wT, x, idx, k, nOut, cuts[c], cuts[c + 1]);
      for (let o = cuts[c + 1]; o < nOut; o++) expect(f(parts, o)).toBe(99); // untouched past the range
    }
    expect(bitsEqual(whole, parts, nOut)).toBe(true);
  });

  it("reads nothing for an empty mask (output is zero)", () => {
    const out = buf(5);
    for (let o = 0; o < 5; o++) setF(out, o, 7);
    gatherColumnsF32(out, 0, 0, 0, 0, 5);
    for (let o = 0; o < 5; o++) expect(f(out, o)).toBe(0);
  });
});

describe("selectTopK", () => {
  it("keeps the k largest, ascending, ties to the lower index", () => {
    // scores: [1, 3, 3, 2, 3, 0]; k = 2 -> the two 3s with the lowest indices: 1, 2
    const s = buf(6);
    const idx = buf(6);
    const scratch = buf(6);
    const vals: f32[] = [1, 3, 3, 2, 3, 0];
    for (let i = 0; i < 6; i++) setF(s, i, vals[i]);
    expect(selectTopK(s, 6, 2, idx, scratch)).toBe(2);
    expect(u(idx, 0)).toBe(1);
    expect(u(idx, 1)).toBe(2);
    // k = 4 -> all three 3s and the 2: 1, 2, 3, 4
    expect(selectTopK(s, 6, 4, idx, scratch)).toBe(4);
    expect(u(idx, 0)).toBe(1);
    expect(u(idx, 1)).toBe(2);
    expect(u(idx, 2)).toBe(3);
    expect(u(idx, 3)).toBe(4);
    expect(selectTopK(s, 6, 0, idx, scratch)).toBe(0);
    expect(selectTopK(s, 6, 9, idx, scratch)).toBe(6);
  });

  it("agrees with a brute-force selection on random scores", () => {
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + (trial * 7) % 53;
      const k = (trial * 5) % (n + 1);
      const s = buf(n);
      const idx = buf(n);
      const scratch = buf(n);
      // few distinct values, so ties are common
      for (let i = 0; i < n; i++) setF(s, i, <f32>(<i32>((rand() + 1.0) * 4.0)));
      const m = selectTopK(s, n, k, idx, scratch);
      expect(m).toBe(k);
      // brute force: entry i is kept iff fewer than k entries beat it in (score desc, index asc)
      let j = 0;
      for (let i = 0; i < n; i++) {
        let better = 0;
        for (let o = 0; o < n; o++) if (f(s, o) > f(s, i) || (f(s, o) == f(s, i) && o < i)) better++;
        if (better < k) {
          expect(u(idx, j)).toBe(i);
          j++;
        }
      }
      expect(j).toBe(k);
    }
  });

  it("kthLargest finds order statistics", () => {
    const s = buf(5);
    const scratch = buf(5);
    const vals: f32[] = [5, 1, 4, 2, 3];
    for (let i = 0; i < 5; i++) setF(s, i, vals[i]);
    for (let k = 1; k <= 5; k++) expect(kthLargest(s, 5, k, scratch)).toBe(<f32>(<i32>6 - k));
  });

  it("selectAbove keeps strictly greater scores", () => {
    const s = buf(4);
    const idx = buf(4);
    const vals: f32[] = [0.5, 0.2, 0.7, 0.5];
    for (let i = 0; i < 4; i++) setF(s, i, vals[i]);
    expect(selectAbove(s, 4, 0.5, idx)).toBe(1);
    expect(u(idx, 0)).toBe(2);
  });
});

describe("elementwise", () => {
  it("rmsnorm of [3, 4] with weight [1, 2]", () => {
    // mean square = 12.5, 1/sqrt(12.5) = 0.28284..: [0.848528, 2.262742]
    const x = buf(2);
    const w = buf(2);
    const out = buf(2);
    setF(x, 0, 3);
    setF(x, 1, 4);
    setF(w, 0, 1);
    setF(w, 1, 2);
    rmsnorm(out, x, w, 2, 0);
    expect(Mathf.abs(f(out, 0) - 0.8485281) < 1e-6).toBe(true);
    expect(Mathf.abs(f(out, 1) - 2.2627417) < 1e-6).toBe(true);
  });

  it("softmax of [0, ln 3] is [0.25, 0.75]", () => {
    const x = buf(2);
    setF(x, 0, 0);
    setF(x, 1, <f32>Math.log(3));
    softmax(x, 2);
    expect(Mathf.abs(f(x, 0) - 0.25) < 1e-6).toBe(true);
    expect(Mathf.abs(f(x, 1) - 0.75) < 1e-6).toBe(true);
  });
});

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

import { matvecQ8, matvecQ8Scalar, matvecRowsQ8, gatherColumnsQ8, gatherColumnsQ8Scalar, gatherPlanQ8, gatherSweepQ8, matvecQ8Quantized, quantizeXQ8, gatherBytesQ8, q8Bytes, q8BlockAt, q8ScaleAt, q8Blocks, q8InBytes, q8InScales, dequantRowQ8 } from "../../assembly/kernels/q8";

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

/** binary16 bits of a positive normal value -> f64 (the test's own decoder, independent of the kernel's). */
function halfValue(h: u16): f64 {
  return (1.0 + <f64>(<i32>h & 0x3ff) / 1024.0) * Math.pow(2, <f64>(((<i32>h >> 10) & 0x1f) - 15));
}

/** max |x| / 127 over x[start, end): the activation quantization step of one block. */
function stepOf(x: usize, start: i32, end: i32): f64 {
  let m: f64 = 0;
  for (let i = start; i < end; i++) m = Math.max(m, Math.abs(<f64>f(x, i)));
  return m / 127.0;
}

describe("q8 kernels (integer dot products)", () => {
  it("matvecQ8 equals its scalar reference bit for bit, and the f32 product within the quantization bound", () => {
    const sizes: i32[] = [1, 7, 32, 33, 64, 95, 172];
    for (let s = 0; s < sizes.length; s++) {
      const cols = sizes[s];
      const rows = s % 2 == 0 ? 15 : 16; // a full tile row, then a padded one (or two full ones)
      const w = randomQ8(rows, cols);
      const x = buf(cols);
      fillRandom(x, cols);
      const a = buf(rows);
      const b = buf(rows);
      matvecQ8(a, w, x, rows, cols);
      matvecQ8Scalar(b, w, x, rows, cols);
      expect(bitsEqual(a, b, rows)).toBe(true, "cols " + cols.toString());
      // against W dequantized row by row: x is rounded to half a step of its block at most
      const deq = buf(cols);
      for (let r = 0; r < rows; r++) {
        dequantRowQ8(deq, w, r, rows, cols);
        let ref: f64 = 0;
        let bound: f64 = 1e-4;
        for (let i = 0; i < cols; i++) {
          ref += <f64>f(deq, i) * <f64>f(x, i);
          const blk = i / 32;
          bound += Math.abs(<f64>f(deq, i)) * 0.5 * stepOf(x, blk * 32, min(cols, blk * 32 + 32));
        }
        expect(Math.abs(<f64>f(a, r) - ref) <= bound).toBe(true, "row " + r.toString());
      }
      // listed rows (CATS) give each row's matvec value exactly
      const rowIdx = buf(3);
      store<u32>(rowIdx, 14);
      store<u32>(rowIdx, 0, 4);
      store<u32>(rowIdx, 9, 8);
      const c = buf(3);
      matvecRowsQ8(c, w, x, rowIdx, 3, rows, cols);
      expect(u(c, 0) == u(a, 14) && u(c, 1) == u(a, 0) && u(c, 2) == u(a, 9)).toBe(true);
    }
  });

  it("gatherColumnsQ8 equals its scalar reference bit for bit on odd sizes and subsets", () => {
    const outs: i32[] = [3, 16, 32, 40, 172];
    const ins: i32[] = [13, 70];
    for (let s = 0; s < outs.length; s++) {
      for (let t = 0; t < ins.length; t++) {
        const nOut = outs[s];
        const nIn = ins[t];
        const wT = randomQ8In(nIn, nOut);
        const x = buf(nIn);
        fillRandom(x, nIn);
        const idx = buf(nIn);
        for (let pattern = 0; pattern < 4; pattern++) {
          // all; every fourth dropped (runs of 3, 1, ... columns); block 1 pruned entirely; one column
          let k = 0;
          for (let j = 0; j < nIn; j++) {
            if (pattern == 1 && j % 4 == 2) continue;
            if (pattern == 2 && j >= 32 && j < 64) continue;
            if (pattern == 3 && j != nIn - 1) continue;
            store<u32>(idx + (<usize>k << 2), j);
            k++;
          }
          const a = buf(nOut);
          const b = buf(nOut);
          gatherColumnsQ8(a, wT, x, idx, k, nIn, nOut);
          gatherColumnsQ8Scalar(b, wT, x, idx, k, nIn, nOut);
          expect(bitsEqual(a, b, nOut)).toBe(true, "nIn " + nIn.toString() + " nOut " + nOut.toString() + " pattern " + pattern.toString());
          // against the dequantized product over the kept inputs, within the quantization bound of x
          const sc = q8InScales(wT, nIn, nOut);
          for (let o = 0; o < nOut; o++) {
            let ref: f64 = 0;
            let bound: f64 = 1e-4;
            for (let i = 0; i < k; i++) {
              const j = <i32>u(idx, i);
              const wv = halfValue(load<u16>(sc + (<usize>((j / 32) * nOut + o) << 1))) * <f64>load<i8>(wT + <usize>(j * nOut + o));
              ref += wv * <f64>f(x, j);
              // the run's step: max |x| over the kept entries of j's block
              let m: f64 = 0;
              for (let i2 = 0; i2 < k; i2++) if (<i32>u(idx, i2) / 32 == j / 32) m = Math.max(m, Math.abs(<f64>f(x, <i32>u(idx, i2))));
              bound += Math.abs(wv) * 0.5 * m / 127.0;
            }
            expect(Math.abs(<f64>f(a, o) - ref) <= bound).toBe(true, "o " + o.toString());
          }
          // bytes: the kept quants plus nOut f16 scales per touched block
          const blocks = pattern == 3 ? 1 : pattern == 2 ? q8Blocks(nIn) - (nIn > 32 ? 1 : 0) : q8Blocks(nIn);
          expect(gatherBytesQ8(idx, k, nOut)).toBe(<f64>(k * nOut + 2 * blocks * nOut));
        }
      }
    }
  });

  it("q8 range forms (the threads build's shares) are bit-identical to the whole product", () => {
    // gather: W_gate-like 70 inputs x 172 outputs (a partial last block, a scalar tail), every
    // third input pruned, swept in ranges [0, 32), [32, 160), [160, 172)
    const nIn = 70, nOut = 172;
    const wT = randomQ8In(nIn, nOut);
    const x = buf(nIn);
    fillRandom(x, nIn);
    const idx = buf(nIn);
    let k = 0;
    for (let j = 0; j < nIn; j++) if (j % 3 != 1) store<u32>(idx + (<usize>(k++) << 2), j);
    const whole = buf(nOut);
    const parts = buf(nOut);
    gatherColumnsQ8(whole, wT, x, idx, k, nIn, nOut);
    const plan = gatherPlanQ8(wT, x, idx, k, nIn, nOut);
    gatherSweepQ8(parts, plan, nOut, 160, 172);
    gatherSweepQ8(parts, plan, nOut, 0, 32);
    gatherSweepQ8(parts, plan, nOut, 32, 160);
    expect(bitsEqual(whole, parts, nOut)).toBe(true);
    // matvec: 45 rows (a padded last tile) x 70, rows [0, 32) and [32, 45) from one quantized x
    const rows = 45, cols = 70;
    const w = heap.alloc(q8Bytes(rows, cols));
    for (let i = 0; i < <i32>q8Bytes(rows, cols); i++) store<i8>(w + <usize>i, <i8>((i * 37) % 251 - 125));
    const nb = q8Blocks(cols);
    for (let r = 0; r < rows; r++) for (let b = 0; b < nb; b++) store<f32>(q8ScaleAt(w, nb, r, b), <f32>0.001 * <f32>((r + b) % 7 + 1));
    const mWhole = buf(rows);
    const mParts = buf(rows);
    matvecQ8(mWhole, w, x, rows, cols);
    const xq = quantizeXQ8(x, cols);
    matvecQ8Quantized(mParts, w, xq, 32, cols);
    matvecQ8Quantized(mParts + 32 * 4, q8BlockAt(w, nb, 32, 0), xq, rows - 32, cols);
    expect(bitsEqual(mWhole, mParts, rows)).toBe(true);
  });

  it("gatherColumnsQ8: a hand-computed case, f16 scales decoded exactly, pruned columns not read", () => {
    // W = [nOut 2 x nIn 3] input-major: column 0 = (10, 1), column 1 = (-20, 2), column 2 = (5, 3)
    const wT = heap.alloc(q8InBytes(3, 2));
    const qs: i32[] = [10, 1, -20, 2, 5, 3];
    for (let i = 0; i < 6; i++) store<i8>(wT + <usize>i, <i8>qs[i]);
    const sc = q8InScales(wT, 3, 2);
    store<u16>(sc, 0x3800); // output 0: 0.5
    store<u16>(sc, 0x0400, 2); // output 1: 2^-14, the smallest normal (the smallest scale the quantizer writes)
    const x = buf(3);
    setF(x, 0, 1.27);
    setF(x, 1, -0.5);
    setF(x, 2, 100.0); // pruned: would set the block's scale if it were read
    const idx = buf(2);
    store<u32>(idx, 0);
    store<u32>(idx, 1, 4);
    const out = buf(2);
    gatherColumnsQ8(out, wT, x, idx, 2, 3, 2);
    // d = 1.27 / 127 = 0.01: xq = (127, -50); acc = (127*10 + 50*20, 127*1 - 50*2) = (2270, 27)
    const d: f32 = <f32>1.27 / 127.0;
    expect(f(out, 0)).toBe(<f32>2270 * (<f32>0.5 * d));
    expect(f(out, 1)).toBe(<f32>27 * (<f32>6.103515625e-5 * d));
    // changing the pruned column's weights changes nothing
    store<i8>(wT + 4, -127);
    store<i8>(wT + 5, 127);
    const again = buf(2);
    gatherColumnsQ8(again, wT, x, idx, 2, 3, 2);
    expect(bitsEqual(out, again, 2)).toBe(true);
    // the largest f16 scale, 65504, with x = 127 (d = 1, xq = 127) and q = 1: exactly 127 * 65504
    store<u16>(sc, 0x7bff);
    store<i8>(wT, 1);
    setF(x, 0, 127.0);
    gatherColumnsQ8(out, wT, x, idx, 1, 3, 2);
    expect(f(out, 0)).toBe(<f32>(127 * 65504));
  });
});
