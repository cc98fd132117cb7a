// The kernels on ggml's blocks as files store them (assembly/kernels/q4.ts, kquants.ts): each SIMD
// kernel against its scalar reference bit for bit; against the f32 product of the dequantized rows
// within the bound of the activation quantization (x is rounded by at most half its block's step
// max|x|/127 per value, so |error| <= sum |w| * step / 2, plus f32 rounding); and the dequantizers
// against hand-decoded values of hand-packed blocks.
import { matvecQ4_1, matvecQ4_1Scalar, matvecRowsQ4_1, dequantRowQ4_1, matvecQ5_1, matvecQ5_1Scalar, matvecRowsQ5_1, dequantRowQ5_1 } from "../../assembly/kernels/q4";
import { matvecQ5_K, matvecQ5_KScalar, matvecRowsQ5_K, dequantRowQ5_K, matvecQ2_K, matvecQ2_KScalar, matvecRowsQ2_K, dequantRowQ2_K, matvecQ3_K, matvecQ3_KScalar, matvecRowsQ3_K, dequantRowQ3_K } from "../../assembly/kernels/kquants";
import { matvecQ5_0, matvecQ5_0Scalar, matvecRowsQ5_0, dequantRowQ5_0, matvecQ4_0, matvecQ4_0Scalar, matvecRowsQ4_0, dequantRowQ4_0, gatherColumnsQ4_0, gatherColumnsQ4_0Scalar, gatherBytesQ4_0, q4_0InBytes, q4_0InColumnBytes, q4_0InScales } from "../../assembly/kernels/q4";
import { matvecQ4_K, matvecQ4_KScalar, matvecRowsQ4_K, dequantRowQ4_K, matvecQ6_K, matvecQ6_KScalar, matvecRowsQ6_K, dequantRowQ6_K, gatherColumnsQ4_K, gatherColumnsQ4_KScalar, gatherBytesQ4_K, q4_KInBytes, q4_KInColumnBytes, q4_KInScales, q4_KInSuper } from "../../assembly/kernels/kquants";
import { halfBitsToF32, halfBitsToF32x4 } from "../../assembly/kernels/half";
import { DTYPE_Q2_K, DTYPE_Q3_K, DTYPE_Q4_0, DTYPE_Q4_1, DTYPE_Q4_K, DTYPE_Q5_0, DTYPE_Q5_1, DTYPE_Q5_K, DTYPE_Q6_K } from "../../assembly/abi";
import { allColumnsBytesIn, inputMajorBytesIn, matrixBytesIn, rowBytesIn } from "../../assembly/model/linear";
import { seedRandom, rand, buf, randomBuf, f, u, bitsEqual } from "./buffers";

seedRandom(24681);

/** A random byte. */
function randomByte(): u8 {
  return <u8>(<i32>((rand() + 1.0) * 127.9));
}

/** f16 bits of a positive normal value in [2^-8, 2^-7), random mantissa (a typical block scale). */
function randomHalf(): u16 {
  return <u16>(0x1c00 + (<i32>((rand() + 1.0) * 511.0) & 0x3ff));
}

/** rows x blocks of `blockBytes` random bytes, with f16 scales of randomHalf() at the given offsets of each block. */
function randomBlocks(rows: i32, blocks: i32, blockBytes: i32, halfAt0: i32, halfAt1: i32): usize {
  const n = rows * blocks;
  const w = heap.alloc(<usize>(n * blockBytes));
  for (let i = 0; i < n * blockBytes; i++) store<u8>(w + <usize>i, randomByte());
  for (let i = 0; i < n; i++) {
    const p = w + <usize>(i * blockBytes);
    store<u16>(p + <usize>halfAt0, randomHalf());
    if (halfAt1 >= 0) store<u16>(p + <usize>halfAt1, randomHalf());
  }
  return w;
}

/** max |x| / 127 over the 32-block of value i. */
function stepAt(x: usize, i: i32, cols: i32): f64 {
  const start = (i >> 5) << 5;
  let m: f64 = 0;
  for (let k = start; k < min(cols, start + 32); k++) m = Math.max(m, Math.abs(<f64>f(x, k)));
  return m / 127.0;
}

/** Checks a kernel triple: SIMD == scalar bit for bit, each row within the quantization bound of the dequantized dot, listed rows exact. */
function checkKernel(dtype: i32, rows: i32, cols: i32, w: usize): void {
  const x = randomBuf(cols);
  const a = buf(rows), b = buf(rows);
  if (dtype == DTYPE_Q4_0) {
    matvecQ4_0(a, w, x, rows, cols);
    matvecQ4_0Scalar(b, w, x, rows, cols);
  } else if (dtype == DTYPE_Q5_0) {
    matvecQ5_0(a, w, x, rows, cols);
    matvecQ5_0Scalar(b, w, x, rows, cols);
  } else if (dtype == DTYPE_Q4_K) {
    matvecQ4_K(a, w, x, rows, cols);
    matvecQ4_KScalar(b, w, x, rows, cols);
  } else if (dtype == DTYPE_Q4_1) {
    matvecQ4_1(a, w, x, rows, cols);
    matvecQ4_1Scalar(b, w, x, rows, cols);
  } else if (dtype == DTYPE_Q5_1) {
    matvecQ5_1(a, w, x, rows, cols);
    matvecQ5_1Scalar(b, w, x, rows, cols);
  } else if (dtype == DTYPE_Q5_K) {
    matvecQ5_K(a, w, x, rows, cols);
    matvecQ5_KScalar(b, w, x, rows, cols);
  } else if (dtype == DTYPE_Q2_K) {
    matvecQ2_K(a, w, x, rows, cols);
    matvecQ2_KScalar(b, w, x, rows, cols);
  } else if (dtype == DTYPE_Q3_K) {
    matvecQ3_K(a, w, x, rows, cols);
    matvecQ3_KScalar(b, w, x, rows, cols);
  } else {
    matvecQ6_K(a, w, x, rows, cols);
    matvecQ6_KScalar(b, w, x, rows, cols);
  }
  expect(bitsEqual(a, b, rows)).toBe(true, "dtype " + dtype.toString() + " rows " + rows.toString() + " cols " + cols.toString());
  const deq = buf(cols);
  for (let r = 0; r < rows; r++) {
    if (dtype == DTYPE_Q4_0) dequantRowQ4_0(deq, w, r, cols);
    else if (dtype == DTYPE_Q5_0) dequantRowQ5_0(deq, w, r, cols);
    else if (dtype == DTYPE_Q4_K) dequantRowQ4_K(deq, w, r, cols);
    else if (dtype == DTYPE_Q4_1) dequantRowQ4_1(deq, w, r, cols);
    else if (dtype == DTYPE_Q5_1) dequantRowQ5_1(deq, w, r, cols);
    else if (dtype == DTYPE_Q5_K) dequantRowQ5_K(deq, w, r, cols);
    else if (dtype == DTYPE_Q2_K) dequantRowQ2_K(deq, w, r, cols);
    else if (dtype == DTYPE_Q3_K) dequantRowQ3_K(deq, w, r, cols);
    else dequantRowQ6_K(deq, w, r, cols);
    let ref: f64 = 0;
    let bound: f64 = 0;
    let mass: f64 = 0;
    for (let i = 0; i < cols; i++) {
      ref += <f64>f(deq, i) * <f64>f(x, i);
      bound += Math.abs(<f64>f(deq, i)) * 0.5 * stepAt(x, i, cols);
      mass += Math.abs(<f64>f(deq, i) * <f64>f(x, i));
    }
    bound += mass * 1e-6; // f32 accumulation
    expect(Math.abs(<f64>f(a, r) - ref) <= bound).toBe(true, "row " + r.toString());
  }
  const rowIdx = buf(3);
  store<u32>(rowIdx, rows - 1);
  store<u32>(rowIdx, 0, 4);
  store<u32>(rowIdx, rows / 2, 8);
  const c = buf(3);
  if (dtype == DTYPE_Q4_0) matvecRowsQ4_0(c, w, x, rowIdx, 3, cols);
  else if (dtype == DTYPE_Q5_0) matvecRowsQ5_0(c, w, x, rowIdx, 3, cols);
  else if (dtype == DTYPE_Q4_K) matvecRowsQ4_K(c, w, x, rowIdx, 3, cols);
  else if (dtype == DTYPE_Q4_1) matvecRowsQ4_1(c, w, x, rowIdx, 3, cols);
  else if (dtype == DTYPE_Q5_1) matvecRowsQ5_1(c, w, x, rowIdx, 3, cols);
  else if (dtype == DTYPE_Q5_K) matvecRowsQ5_K(c, w, x, rowIdx, 3, cols);
  else if (dtype == DTYPE_Q2_K) matvecRowsQ2_K(c, w, x, rowIdx, 3, cols);
  else if (dtype == DTYPE_Q3_K) matvecRowsQ3_K(c, w, x, rowIdx, 3, cols);
  else matvecRowsQ6_K(c, w, x, rowIdx, 3, cols);
  expect(u(c, 0) == u(a, rows - 1) && u(c, 1) == u(a, 0) && u(c, 2) == u(a, rows / 2)).toBe(true, "listed rows");
}

describe("ggml block kernels (Q4_0, Q4_K, Q6_K as stored)", () => {
  it("halfBitsToF32 decodes zero, subnormal, normal, negative and infinite f16", () => {
    expect(halfBitsToF32(0)).toBe(0);
    expect(halfBitsToF32(0x0001)).toBe(<f32>Math.pow(2, -24));
    expect(halfBitsToF32(0x03ff)).toBe(<f32>(1023.0 * Math.pow(2, -24)));
    expect(halfBitsToF32(0x3c00)).toBe(1);
    expect(halfBitsToF32(0xc000)).toBe(-2);
    expect(halfBitsToF32(0x7bff)).toBe(65504);
    expect(halfBitsToF32(0x7c00)).toBe(Infinity);
  });

  it("halfBitsToF32x4 equals halfBitsToF32 on every f16 bit pattern", () => {
    let mismatches = 0;
    for (let h: u32 = 0; h < 65536; h += 4) {
      const v = halfBitsToF32x4(i32x4(h, h + 1, h + 2, h + 3));
      for (let k: u32 = 0; k < 4; k++) {
        const lane = k == 0 ? i32x4.extract_lane(v, 0) : k == 1 ? i32x4.extract_lane(v, 1) : k == 2 ? i32x4.extract_lane(v, 2) : i32x4.extract_lane(v, 3);
        if (<u32>lane != reinterpret<u32>(halfBitsToF32(h + k))) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });

  it("Q4_0 SIMD == scalar, and the dequantized product within the quantization bound", () => {
    const rowsList: i32[] = [1, 4, 7, 9];
    const colsList: i32[] = [32, 64, 96, 288];
    for (let i = 0; i < rowsList.length; i++) {
      const rows = rowsList[i], cols = colsList[i];
      checkKernel(DTYPE_Q4_0, rows, cols, randomBlocks(rows, cols / 32, 18, 0, -1));
    }
  });

  it("Q5_0 SIMD == scalar, and the dequantized product within the quantization bound", () => {
    const rowsList: i32[] = [1, 5, 8, 4, 11];
    const colsList: i32[] = [32, 96, 256, 64, 160];
    for (let i = 0; i < rowsList.length; i++) {
      const rows = rowsList[i], cols = colsList[i];
      checkKernel(DTYPE_Q5_0, rows, cols, randomBlocks(rows, cols / 32, 22, 0, -1));
    }
  });

  it("Q4_K SIMD == scalar, and the dequantized product within the quantization bound", () => {
    checkKernel(DTYPE_Q4_K, 5, 256, randomBlocks(5, 1, 144, 0, 2));
    checkKernel(DTYPE_Q4_K, 3, 768, randomBlocks(3, 3, 144, 0, 2));
    checkKernel(DTYPE_Q4_K, 4, 256, randomBlocks(4, 1, 144, 0, 2)); // one four-row pass
    checkKernel(DTYPE_Q4_K, 9, 512, randomBlocks(9, 2, 144, 0, 2)); // two passes and a row alone
  });

  it("Q6_K SIMD == scalar, and the dequantized product within the quantization bound", () => {
    checkKernel(DTYPE_Q6_K, 5, 256, randomBlocks(5, 1, 210, 208, -1));
    checkKernel(DTYPE_Q6_K, 2, 512, randomBlocks(2, 2, 210, 208, -1));
    checkKernel(DTYPE_Q6_K, 4, 256, randomBlocks(4, 1, 210, 208, -1));
    checkKernel(DTYPE_Q6_K, 11, 768, randomBlocks(11, 3, 210, 208, -1));
  });

  it("Q4_1, Q5_1 SIMD == scalar, and the dequantized product within the quantization bound", () => {
    const rowsList: i32[] = [1, 4, 7, 9];
    const colsList: i32[] = [32, 64, 96, 288];
    for (let i = 0; i < rowsList.length; i++) {
      const rows = rowsList[i], cols = colsList[i];
      checkKernel(DTYPE_Q4_1, rows, cols, randomBlocks(rows, cols / 32, 20, 0, 2));
      checkKernel(DTYPE_Q5_1, rows, cols, randomBlocks(rows, cols / 32, 24, 0, 2));
    }
  });

  it("Q5_K SIMD == scalar, and the dequantized product within the quantization bound", () => {
    checkKernel(DTYPE_Q5_K, 5, 256, randomBlocks(5, 1, 176, 0, 2));
    checkKernel(DTYPE_Q5_K, 4, 256, randomBlocks(4, 1, 176, 0, 2));
    checkKernel(DTYPE_Q5_K, 9, 768, randomBlocks(9, 3, 176, 0, 2));
  });

  it("Q2_K, Q3_K SIMD == scalar, and the dequantized product within the quantization bound", () => {
    checkKernel(DTYPE_Q2_K, 5, 256, randomBlocks(5, 1, 84, 80, 82));
    checkKernel(DTYPE_Q2_K, 3, 768, randomBlocks(3, 3, 84, 80, 82));
    checkKernel(DTYPE_Q3_K, 5, 256, randomBlocks(5, 1, 110, 108, -1));
    checkKernel(DTYPE_Q3_K, 3, 768, randomBlocks(3, 3, 110, 108, -1));
  });

  it("dequantizes hand-packed blocks to the hand-decoded values", () => {
    // Q4_0: d = 0.5; qs[0] = 0x1f -> value 0 = (15 - 8) * 0.5, value 16 = (1 - 8) * 0.5
    const q40 = heap.alloc(18);
    memory.fill(q40, 0x88, 18); // every other value (8 - 8) * d = 0
    store<u16>(q40, 0x3800);
    store<u8>(q40 + 2, 0x1f);
    const out = buf(256);
    dequantRowQ4_0(out, q40, 0, 32);
    expect(f(out, 0)).toBe(3.5);
    expect(f(out, 16)).toBe(-3.5);
    expect(f(out, 1)).toBe(0);

    // Q5_0: d = 0.25; qh bit 0 set, bit 17 set; qs[0] = 0x2c, qs[1] = 0x70 -> value 0 = (12 | 16) - 16
    // = 12 -> 3, value 16 = (2 | 0) - 16 = -14 -> -3.5, value 17 = (7 | 16) - 16 = 7 -> 1.75
    const q50 = heap.alloc(22);
    memory.fill(q50, 0, 22);
    store<u16>(q50, 0x3400);
    store<u32>(q50 + 2, 0x00020001);
    store<u8>(q50 + 6, 0x2c);
    store<u8>(q50 + 7, 0x70);
    dequantRowQ5_0(out, q50, 0, 32);
    expect(f(out, 0)).toBe(3);
    expect(f(out, 16)).toBe(-3.5);
    expect(f(out, 17)).toBe(1.75);
    expect(f(out, 1)).toBe(-4); // (0 | 0) - 16 = -16 -> -4

    // Q4_K: d = 1, dmin = 0.5. Sub-block 0: sc = s[0] & 63 = 2, m = s[4] & 63 = 3; value 0 is the low
    // nibble of qs[0] = 5 -> 1 * 2 * 5 - 0.5 * 3 = 8.5. Sub-block 5: sc = (s[9] & 15) | ((s[1] >> 6) << 4)
    // = 7 | 16 = 23, m = (s[9] >> 4) | ((s[5] >> 6) << 4) = 1 | 32 = 33; value 5 * 32 + 3 is the high
    // nibble of qs[64 + 3] = 9 -> 23 * 9 - 0.5 * 33 = 190.5
    const q4k = heap.alloc(144);
    memory.fill(q4k, 0, 144);
    store<u16>(q4k, 0x3c00);
    store<u16>(q4k, 0x3800, 2);
    store<u8>(q4k + 4, 2);
    store<u8>(q4k + 4 + 4, 3);
    store<u8>(q4k + 4 + 9, 0x17);
    store<u8>(q4k + 4 + 1, 0x40);
    store<u8>(q4k + 4 + 5, 0x80);
    store<u8>(q4k + 16, 5);
    store<u8>(q4k + 16 + 64 + 3, 0x90);
    dequantRowQ4_K(out, q4k, 0, 256);
    expect(f(out, 0)).toBe(8.5);
    expect(f(out, 5 * 32 + 3)).toBe(190.5);

    // Q6_K: d = 0.25. Value 200 (half 1, 32-block 2, l = 8): high nibble of ql[64 + 8] = 10, bits 4-5
    // of qh[32 + 8] = 2 -> q = 42 - 32 = 10, scale scales[8 + 4] = -3 -> 0.25 * -3 * 10 = -7.5.
    // Value 0: low nibble of ql[0] = 3, bits 0-1 of qh[0] = 1 -> 19 - 32 = -13, scale scales[0] = 2 -> -6.5
    const q6k = heap.alloc(210);
    memory.fill(q6k, 0, 210);
    store<u16>(q6k + 208, 0x3400);
    store<u8>(q6k + 72, 0xa0);
    store<u8>(q6k + 128 + 40, 0x20);
    store<i8>(q6k + 192 + 12, -3);
    store<u8>(q6k, 0x03);
    store<u8>(q6k + 128, 0x01);
    store<i8>(q6k + 192, 2);
    dequantRowQ6_K(out, q6k, 0, 256);
    expect(f(out, 200)).toBe(-7.5);
    expect(f(out, 0)).toBe(-6.5);
  });

  it("input-major Q4_0 gather: SIMD == scalar on odd sizes and subsets, within the quantization bound of the hand-decoded product, bytes by hand", () => {
    const outs: i32[] = [5, 32, 64, 80, 172];
    const ins: i32[] = [32, 96];
    for (let s = 0; s < outs.length; s++) {
      for (let t = 0; t < ins.length; t++) {
        const nOut = outs[s], nIn = ins[t];
        const bytes = q4_0InBytes(nIn, nOut);
        const wT = heap.alloc(bytes);
        for (let i = 0; i < <i32>bytes; i++) store<u8>(wT + <usize>i, randomByte());
        const sc = q4_0InScales(wT, nIn, nOut);
        for (let i = 0; i < (nIn / 32) * nOut; i++) store<u16>(sc + (<usize>i << 1), randomHalf() | (i % 3 == 1 ? 0x8000 : 0)); // some negative, as ggml's
        const x = randomBuf(nIn);
        const idx = buf(nIn);
        for (let pattern = 0; pattern < 4; pattern++) {
          // all; every third dropped; the second block pruned; one column
          let k = 0;
          for (let j = 0; j < nIn; j++) {
            if (pattern == 1 && j % 3 == 1) continue;
            if (pattern == 2 && j >= 32 && j < 64) continue;
            if (pattern == 3 && j != nIn - 2) continue;
            store<u32>(idx + (<usize>k << 2), j);
            k++;
          }
          const a = buf(nOut), b = buf(nOut);
          gatherColumnsQ4_0(a, wT, x, idx, k, nIn, nOut);
          gatherColumnsQ4_0Scalar(b, wT, x, idx, k, nIn, nOut);
          expect(bitsEqual(a, b, nOut)).toBe(true, "nIn " + nIn.toString() + " nOut " + nOut.toString() + " pattern " + pattern.toString());
          const colBytes = <i32>q4_0InColumnBytes(nOut);
          for (let o = 0; o < nOut; o++) {
            let ref: f64 = 0, bound: f64 = 1e-5;
            for (let i = 0; i < k; i++) {
              const j = <i32>u(idx, i);
              // hand decode: output o's nibble of column j (low nibble for o mod 32 < 16), minus 8, times d
              const byte = <i32>load<u8>(wT + <usize>(j * colBytes + (o >> 5) * 16 + (o & 15)));
              const nib = (o & 16) != 0 ? byte >> 4 : byte & 15;
              const wv = <f64>halfBitsToF32(load<u16>(sc + (<usize>((j / 32) * nOut + o) << 1))) * <f64>(nib - 8);
              ref += wv * <f64>f(x, j);
              let m: f64 = 0;
              for (let i2 = 0; i2 < k; i2++) if (<i32>u(idx, i2) / 32 == j / 32) m = Math.max(m, Math.abs(<f64>f(x, <i32>u(idx, i2))));
              bound += Math.abs(wv) * 0.5 * m / 127.0;
            }
            expect(Math.abs(<f64>f(a, o) - ref) <= bound).toBe(true, "o " + o.toString());
          }
          // bytes: ceil(nOut / 32) * 16 per kept column, 2 * nOut per touched block
          const blocks = pattern == 3 ? 1 : pattern == 2 ? nIn / 32 - (nIn > 32 ? 1 : 0) : nIn / 32;
          expect(gatherBytesQ4_0(idx, k, nOut)).toBe(<f64>(k * ((nOut + 31) / 32) * 16 + 2 * blocks * nOut));
        }
      }
    }
    // a dense read of 4.5 bits per weight when nOut is a multiple of 32
    expect(allColumnsBytesIn(DTYPE_Q4_0, 64, 128)).toBe(<f64>(64 * 64 + 2 * 2 * 128));
    expect(inputMajorBytesIn(DTYPE_Q4_0, 64, 128)).toBe(<f64>(64 * 64 + 2 * 2 * 128));
  });

  it("input-major Q4_K gather: SIMD == scalar on odd sizes and subsets, within the quantization bound of the hand-decoded product, bytes by hand", () => {
    const outs: i32[] = [7, 32, 96, 172];
    const nIn = 512;
    for (let s = 0; s < outs.length; s++) {
      const nOut = outs[s];
      const bytes = q4_KInBytes(nIn, nOut);
      const wT = heap.alloc(bytes);
      for (let i = 0; i < <i32>bytes; i++) store<u8>(wT + <usize>i, randomByte());
      const sc = q4_KInScales(wT, nIn, nOut);
      for (let i = 0; i < 2 * (nIn / 32) * nOut; i++) store<u8>(sc + <usize>i, <u8>(randomByte() & 63));
      const sup = q4_KInSuper(wT, nIn, nOut);
      for (let i = 0; i < 2 * (nIn / 256) * nOut; i++) store<f32>(sup + (<usize>i << 2), <f32>0.001 + <f32>0.0005 * rand());
      const x = randomBuf(nIn);
      const idx = buf(nIn);
      for (let pattern = 0; pattern < 4; pattern++) {
        // all; every third dropped; the second super-block pruned; one column
        let k = 0;
        for (let j = 0; j < nIn; j++) {
          if (pattern == 1 && j % 3 == 1) continue;
          if (pattern == 2 && j >= 256) continue;
          if (pattern == 3 && j != 300) continue;
          store<u32>(idx + (<usize>k << 2), j);
          k++;
        }
        const a = buf(nOut), b = buf(nOut);
        gatherColumnsQ4_K(a, wT, x, idx, k, nIn, nOut);
        gatherColumnsQ4_KScalar(b, wT, x, idx, k, nIn, nOut);
        expect(bitsEqual(a, b, nOut)).toBe(true, "nOut " + nOut.toString() + " pattern " + pattern.toString());
        const colBytes = <i32>q4_KInColumnBytes(nOut);
        const nb = nIn / 32, nsb = nIn / 256;
        for (let o = 0; o < nOut; o++) {
          let ref: f64 = 0, bound: f64 = 1e-5;
          for (let i = 0; i < k; i++) {
            const j = <i32>u(idx, i);
            // hand decode: nibble q of output o in column j, w = d * sc * q - dmin * m
            const byte = <i32>load<u8>(wT + <usize>(j * colBytes + (o >> 5) * 16 + (o & 15)));
            const q = (o & 16) != 0 ? byte >> 4 : byte & 15;
            const scv = <f64>load<u8>(sc + <usize>((j >> 5) * nOut + o));
            const mv = <f64>load<u8>(sc + <usize>(nb * nOut + (j >> 5) * nOut + o));
            const d = <f64>load<f32>(sup + (<usize>((j >> 8) * nOut + o) << 2));
            const dmin = <f64>load<f32>(sup + (<usize>(nsb * nOut + (j >> 8) * nOut + o) << 2));
            const wv = d * scv * <f64>q - dmin * mv;
            ref += wv * <f64>f(x, j);
            let m: f64 = 0;
            for (let i2 = 0; i2 < k; i2++) if (<i32>u(idx, i2) / 32 == j / 32) m = Math.max(m, Math.abs(<f64>f(x, <i32>u(idx, i2))));
            bound += Math.abs(wv) * 0.5 * m / 127.0 + 1e-6 * Math.abs(wv * <f64>f(x, j));
          }
          expect(Math.abs(<f64>f(a, o) - ref) <= bound).toBe(true, "o " + o.toString() + " pattern " + pattern.toString());
        }
        // bytes: colBytes per kept column, 2 * nOut per touched 32-block, 8 * nOut per touched 256-block
        const blocks = pattern == 3 ? 1 : pattern == 2 ? 8 : 16;
        const supers = pattern == 0 || pattern == 1 ? 2 : 1;
        expect(gatherBytesQ4_K(idx, k, nOut)).toBe(<f64>(k * colBytes + 2 * blocks * nOut + 8 * supers * nOut));
      }
    }
    // 4.75 bits per weight read whole when nOut is a multiple of 32
    expect(allColumnsBytesIn(DTYPE_Q4_K, 256, 64)).toBe(<f64>(256 * 32 + 2 * 8 * 64 + 8 * 64));
  });

  it("byte formulas: whole blocks as stored", () => {
    expect(rowBytesIn(DTYPE_Q4_0, 64)).toBe(36);
    expect(matrixBytesIn(DTYPE_Q4_0, 3, 64)).toBe(108);
    expect(rowBytesIn(DTYPE_Q4_K, 512)).toBe(288);
    expect(matrixBytesIn(DTYPE_Q6_K, 2, 256)).toBe(420);
  });
});
