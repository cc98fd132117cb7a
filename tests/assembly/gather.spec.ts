// The column gather against its scalar reference (bit-identical by design: each of its two parts
// adds columns in idx order, assembly/kernels/gather.ts), against W x with every column kept, as
// the sum of its two parts, and its runs' thread-share ranges against the whole run. Sizes are odd
// on purpose: the SIMD tails must be right.
import { gatherColumnsF32, gatherColumnsF32Scalar, gatherColumnsRangeF32, gatherHalf, gatherRunF32, gatherRunF32Scalar } from "../../assembly/kernels/gather";
import { matvecF32Scalar } from "../../assembly/kernels/matvec";
import { seedRandom, buf, randomBuf, f, setF, bitsEqual, keptIndices } from "./buffers";

seedRandom(12346);

describe("gatherColumnsF32", () => {
  it("equals the scalar reference bit for bit on odd sizes and subsets", () => {
    for (let nIn = 1; nIn <= 27; nIn += 2) {
      for (let nOut = 1; nOut <= 17; nOut += 4) {
        const wT = randomBuf(nIn * nOut);
        const x = randomBuf(nIn);
        const idx = buf(nIn);
        const a = buf(nOut), b = buf(nOut), second = buf(nOut);
        const k = keptIndices(idx, nIn, 3, 1);
        gatherColumnsF32(a, wT, x, idx, k, nOut, second);
        gatherColumnsF32Scalar(b, wT, x, idx, k, nOut, second);
        expect(bitsEqual(a, b, nOut)).toBe(true);
        gatherRunF32(a, wT, x, idx, k, nOut);
        gatherRunF32Scalar(b, wT, x, idx, k, nOut);
        expect(bitsEqual(a, b, nOut)).toBe(true);
      }
    }
  });

  it("reads runs of consecutive columns one per pass without changing a bit (dense and gapped masks, out below and above RUN_OUT_BYTES_MAX)", () => {
    // keptIndices(idx, nIn, period, period) drops nothing: the dense mask, all groups consecutive.
    // Period 11 dropping 10 leaves runs of ten: groups of eight that are and are not consecutive.
    // 4096 floats = 16 KiB is the largest out read as one stream; 4099 and 4101 take eight per pass.
    const nIn = 43;
    const outs: i32[] = [5, 19, 768, 4096, 4099, 4101];
    for (let m = 0; m < 3; m++) {
      for (let q = 0; q < outs.length; q++) {
        const nOut = outs[q];
        const wT = randomBuf(nIn * nOut);
        const x = randomBuf(nIn);
        const idx = buf(nIn);
        const k = m == 0 ? keptIndices(idx, nIn, nIn + 1, nIn + 1) : m == 1 ? keptIndices(idx, nIn, 11, 10) : keptIndices(idx, nIn, 3, 1);
        const a = buf(nOut), b = buf(nOut), parts = buf(nOut);
        gatherRunF32(a, wT, x, idx, k, nOut);
        gatherRunF32Scalar(b, wT, x, idx, k, nOut);
        const at = "mask " + m.toString() + " nOut " + nOut.toString();
        expect(bitsEqual(a, b, nOut)).toBe(true, at);
        const half = nOut >> 1; // two thread shares: each below the threshold on its own when nOut is above
        gatherColumnsRangeF32(parts, wT, x, idx, k, nOut, 0, half);
        gatherColumnsRangeF32(parts, wT, x, idx, k, nOut, half, nOut);
        expect(bitsEqual(parts, b, nOut)).toBe(true, at + " in two shares");
        heap.free(wT);
      }
    }
  });

  it("with all columns kept equals W x (W = transpose of the stored matrix)", () => {
    const nIn = 37, nOut = 6; // 37 kept: parts of 16 and 21 columns
    const wT = randomBuf(nIn * nOut);
    const w = buf(nIn * nOut);
    const x = randomBuf(nIn);
    const idx = buf(nIn);
    const a = buf(nOut), b = buf(nOut);
    for (let j = 0; j < nIn; j++) {
      store<u32>(idx + (<usize>j << 2), j);
      for (let o = 0; o < nOut; o++) setF(w, o * nIn + j, f(wT, j * nOut + o));
    }
    gatherColumnsF32(a, wT, x, idx, nIn, nOut, buf(nOut));
    matvecF32Scalar(b, w, x, nOut, nIn);
    for (let o = 0; o < nOut; o++) expect(Mathf.abs(f(a, o) - f(b, o)) < 1e-5).toBe(true);
  });

  it("is its first part plus its second: runs over kept entries [0, h) and [h, k), h = gatherHalf(k) a multiple of 8", () => {
    const nIn = 61, nOut = 13;
    const wT = randomBuf(nIn * nOut);
    const x = randomBuf(nIn);
    const idx = buf(nIn);
    const got = buf(nOut), first = buf(nOut), second = buf(nOut), scratch = buf(nOut);
    for (let period = 1; period <= 4; period++) {
      const k = period == 1 ? keptIndices(idx, nIn, nIn + 1, nIn + 1) : keptIndices(idx, nIn, period, 1);
      const h = gatherHalf(k);
      expect(h % 8).toBe(0);
      expect(h <= k - h).toBe(true);
      expect(k - h - h < 16).toBe(true);
      gatherColumnsF32(got, wT, x, idx, k, nOut, scratch);
      gatherRunF32Scalar(first, wT, x, idx, h, nOut);
      gatherRunF32Scalar(second, wT, x, idx + (<usize>h << 2), k - h, nOut);
      for (let o = 0; o < nOut; o++) expect(reinterpret<u32>(f(got, o))).toBe(reinterpret<u32>(f(first, o) + f(second, o)));
    }
  });

  it("run output ranges (thread shares) equal the whole run bit for bit and write nothing else", () => {
    const nIn = 23, nOut = 37; // odd: ranges start and end off the 4-lane grid
    const wT = randomBuf(nIn * nOut);
    const x = randomBuf(nIn);
    const idx = buf(nIn);
    const whole = buf(nOut), parts = buf(nOut);
    const k = keptIndices(idx, nIn, 2, 1); // the even inputs
    gatherRunF32(whole, wT, x, idx, k, nOut);
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
    gatherColumnsF32(out, 0, 0, 0, 0, 5, buf(5));
    for (let o = 0; o < 5; o++) expect(f(out, o)).toBe(0);
  });
});
