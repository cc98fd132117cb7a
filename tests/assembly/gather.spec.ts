// The column gather against its scalar reference (bit-identical by design: each of its two parts
// adds columns in idx order, assembly/kernels/gather.ts), against W x with every column kept, as
// the sum of its two parts, and its runs' thread-share ranges against the whole run. Sizes are odd
// on purpose: the SIMD tails must be right.
import { GATHER_STREAMS, gatherBlock, gatherColumnsF32, gatherColumnsF32Scalar, gatherColumnsRangeF32, gatherHalf, gatherOrder, gatherRunF32, gatherRunF32Scalar } from "../../assembly/kernels/gather";
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
        const a = buf(nOut), b = buf(nOut), second = buf(nOut + nIn); // scratch: a part, then the list
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
    gatherColumnsF32(a, wT, x, idx, nIn, nOut, buf(nOut + nIn));
    matvecF32Scalar(b, w, x, nOut, nIn);
    for (let o = 0; o < nOut; o++) expect(Mathf.abs(f(a, o) - f(b, o)) < 1e-5).toBe(true);
  });

  it("is its first part plus its second: runs over kept entries [0, h) and [h, k), h = gatherHalf(k) a multiple of 8", () => {
    const nIn = 61, nOut = 13;
    const wT = randomBuf(nIn * nOut);
    const x = randomBuf(nIn);
    const idx = buf(nIn);
    const got = buf(nOut), first = buf(nOut), second = buf(nOut), scratch = buf(nOut + nIn);
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

  it("gatherOrder: each block of consecutive columns (256 on narrow outputs, 128 where 64 columns pass 640 KiB) as 4 streams (position 4t + s holds entry perStream * s + t), other blocks and the tail as they are", () => {
    expect(GATHER_STREAMS).toBe(4);
    expect(gatherBlock(2560)).toBe(256); // 64 columns of 10 KiB: 640 KiB, the most a stream reads
    expect(gatherBlock(2561)).toBe(128);
    const widths: i32[] = [768, 4864];
    for (let w = 0; w < widths.length; w++) {
      const block = gatherBlock(widths[w]);
      const perStream = block / 4;
      const n = 2 * block + 45; // two blocks and a tail
      const idx = buf(n), ordered = buf(n);
      // block 0: columns 3..(3 + block) (consecutive); block 1: consecutive but for one gap; tail after it
      const gapAt = block + 72;
      for (let i = 0; i < block; i++) store<u32>(idx + (<usize>i << 2), 3 + i);
      for (let i = block; i < n; i++) store<u32>(idx + (<usize>i << 2), 3 + i + (i >= gapAt ? 1 : 0));
      expect(gatherOrder(ordered, idx, n, widths[w])).toBe(ordered);
      for (let t = 0; t < perStream; t++) {
        for (let s = 0; s < 4; s++) expect(load<u32>(ordered + (<usize>(4 * t + s) << 2))).toBe(<u32>(3 + perStream * s + t), "block 0");
      }
      for (let i = block; i < n; i++) expect(load<u32>(ordered + (<usize>i << 2))).toBe(load<u32>(idx + (<usize>i << 2)), "gapped block and tail");
      // the gap closed: block 1 is consecutive too and is interleaved in the same way
      for (let i = block; i < n; i++) store<u32>(idx + (<usize>i << 2), 3 + i);
      gatherOrder(ordered, idx, n, widths[w]);
      for (let t = 0; t < perStream; t++) {
        for (let s = 0; s < 4; s++) expect(load<u32>(ordered + (<usize>(block + 4 * t + s) << 2))).toBe(<u32>(3 + block + perStream * s + t), "block 1");
      }
      for (let i = 2 * block; i < n; i++) expect(load<u32>(ordered + (<usize>i << 2))).toBe(<u32>(3 + i), "tail");
    }
  });

  it("with interleaved blocks equals the scalar reference bit for bit, and the float64 sum closely; dense, sparse and with the cut inside a block, on outputs below and above RUN_OUT_BYTES_MAX", () => {
    const nIn = 2 * 256 + 37;
    const outs: i32[] = [33, 768, 4097, 4103]; // blocks of 256, 256, 128, 128
    for (let q = 0; q < outs.length; q++) {
      const nOut = outs[q];
      const wT = randomBuf(nIn * nOut);
      const x = randomBuf(nIn);
      const idx = buf(nIn);
      const a = buf(nOut), b = buf(nOut), scratch = buf(nOut + nIn);
      for (let m = 0; m < 3; m++) {
        // dense (cut 272: inside block 1 of 256, block 2 of 128), all but the first input (blocks still consecutive, shifted), every third
        let k = 0;
        for (let j = 0; j < nIn; j++) {
          if (m == 0 || (m == 1 && j > 0) || (m == 2 && j % 3 == 0)) {
            store<u32>(idx + (<usize>k << 2), j);
            k++;
          }
        }
        gatherColumnsF32(a, wT, x, idx, k, nOut, scratch);
        gatherColumnsF32Scalar(b, wT, x, idx, k, nOut, scratch);
        const at = "mask " + m.toString() + " nOut " + nOut.toString();
        expect(bitsEqual(a, b, nOut)).toBe(true, at);
        // and it is the two runs over gatherOrder's list (the dense mask: whole blocks interleaved, the cut inside one)
        const list = gatherOrder(buf(nIn), idx, k, nOut);
        const perStream = gatherBlock(nOut) / 4;
        expect(load<u32>(list + 4) == load<u32>(idx + (<usize>perStream << 2))).toBe(m < 2, at); // position 1 holds entry perStream when interleaved
        const h = gatherHalf(k);
        gatherRunF32Scalar(b, wT, x, list, h, nOut);
        gatherRunF32Scalar(scratch, wT, x, list + (<usize>h << 2), k - h, nOut);
        for (let o = 0; o < nOut; o++) expect(reinterpret<u32>(f(a, o))).toBe(reinterpret<u32>(f(b, o) + f(scratch, o)), at);
        for (let o = 0; o < nOut; o += 97) {
          let sum: f64 = 0, mag: f64 = 0;
          for (let i = 0; i < k; i++) {
            const j = <i32>load<u32>(idx + (<usize>i << 2));
            const term = <f64>f(x, j) * <f64>f(wT, j * nOut + o);
            sum += term;
            mag += Math.abs(term);
          }
          expect(Math.abs(<f64>f(a, o) - sum) <= 1e-5 * mag + 1e-30).toBe(true, at);
        }
      }
      heap.free(wT);
    }
  });

  it("reads nothing for an empty mask (output is zero)", () => {
    const out = buf(5);
    for (let o = 0; o < 5; o++) setF(out, o, 7);
    gatherColumnsF32(out, 0, 0, 0, 0, 5, buf(5));
    for (let o = 0; o < 5; o++) expect(f(out, o)).toBe(0);
  });
});
