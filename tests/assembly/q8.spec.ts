// The q8 kernels (assembly/kernels/q8.ts) against their scalar references (bit for bit), against
// the dequantized f32 product within the quantization bound, their thread-share forms against the
// whole product, and a hand-computed case with exactly decoded f16 scales.
import { matvecQ8, matvecQ8Scalar, matvecRowsQ8, gatherColumnsQ8, gatherColumnsQ8Scalar, gatherPlanQ8, gatherSweepQ8, matvecQ8Quantized, quantizeXQ8, gatherBytesQ8, q8Bytes, q8BlockAt, q8ScaleAt, q8Blocks, q8InBytes, q8InScales, dequantRowQ8 } from "../../assembly/kernels/q8";
import { seedRandom, rand, buf, randomBuf, f, u, setF, bitsEqual } from "./buffers";
import { randomQ8, randomHalf, randomQ8In } from "./q8-matrices";

seedRandom(12349);


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
      const x = randomBuf(cols);
      const a = buf(rows), b = buf(rows);
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
    // 4100 >= 4096 outputs: long columns, whose runs with 24+ of 32 columns kept (patterns 0 and 1)
    // are swept in segments of 256 outputs (16 of them, then a 4-output scalar tail)
    const outs: i32[] = [3, 16, 32, 40, 172, 4100];
    const ins: i32[] = [13, 70];
    for (let s = 0; s < outs.length; s++) {
      for (let t = 0; t < ins.length; t++) {
        const nOut = outs[s];
        const nIn = ins[t];
        const wT = randomQ8In(nIn, nOut);
        const x = randomBuf(nIn);
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
          const a = buf(nOut), b = buf(nOut);
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
    // gather: W_gate-like 70 inputs (a partial last block) swept in ranges [0, 32), [32, 160),
    // [160, nOut): 172 outputs (a scalar tail) with every third input pruned; 4100 outputs (long
    // columns) with every fourth pruned, 24 of 32 kept, so its runs are swept in segments
    const nIn = 70;
    const x = randomBuf(nIn);
    const idx = buf(nIn);
    const outs: i32[] = [172, 4100];
    for (let s = 0; s < outs.length; s++) {
      const nOut = outs[s];
      const dropEvery = s == 0 ? 3 : 4;
      const wT = randomQ8In(nIn, nOut);
      let k = 0;
      for (let j = 0; j < nIn; j++) if (j % dropEvery != 1) store<u32>(idx + (<usize>(k++) << 2), j);
      const whole = buf(nOut), parts = buf(nOut);
      gatherColumnsQ8(whole, wT, x, idx, k, nIn, nOut);
      const plan = gatherPlanQ8(wT, x, idx, k, nIn, nOut);
      gatherSweepQ8(parts, plan, nOut, 160, nOut);
      gatherSweepQ8(parts, plan, nOut, 0, 32);
      gatherSweepQ8(parts, plan, nOut, 32, 160);
      expect(bitsEqual(whole, parts, nOut)).toBe(true, "nOut " + nOut.toString());
    }
    // matvec: 45 rows (a padded last tile) x 70, rows [0, 32) and [32, 45) from one quantized x
    const rows = 45, cols = 70;
    const w = heap.alloc(q8Bytes(rows, cols));
    for (let i = 0; i < <i32>q8Bytes(rows, cols); i++) store<i8>(w + <usize>i, <i8>((i * 37) % 251 - 125));
    const nb = q8Blocks(cols);
    for (let r = 0; r < rows; r++) for (let b = 0; b < nb; b++) store<f32>(q8ScaleAt(w, nb, r, b), <f32>0.001 * <f32>((r + b) % 7 + 1));
    const mWhole = buf(rows), mParts = buf(rows);
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
