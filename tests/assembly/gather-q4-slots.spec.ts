// gatherSlotsQ4 (q4_0 stream columns reached through per-column pointers, accumulating; assembly/
// stream/gather-q4.ts) against the scalar reference of the resident f32 gather over the same
// columns dequantized (w = f16 d * (q - 8), exact in f32; d positive, negative or zero): equal bit
// for bit in one pass, split into chunks, for either part of a two-part block, and the scalar
// reference too.
import { gatherColumnsF32Scalar } from "../../assembly/kernels/gather";
import { gatherSlotsQ4, gatherSlotsQ4Scalar } from "../../assembly/stream/gather-q4";
import { seedRandom, rand, buf } from "./buffers";

seedRandom(4711);

/** f16 bits of a random d: normal of either sign (exponent 5..25), or zero one time in ten. */
function randomHalf(): u16 {
  if (rand() > 0.8) return 0;
  const e = <u32>(5 + <i32>((rand() + 1) * 10));
  const m = <u32>((rand() + 1) * 511) & 0x3ff;
  return <u16>((rand() < 0 ? 0x8000 : 0) | (e << 10) | m);
}
function halfValue(h: u16): f32 {
  const mag = <i32>(h & 0x7fff);
  if (mag == 0) return (h & 0x8000) != 0 ? -0.0 : 0.0;
  const v = <f32>Math.pow(2, (mag >> 10) - 15) * (1 + <f32>(mag & 0x3ff) / 1024);
  return (h & 0x8000) != 0 ? -v : v;
}

describe("gatherSlotsQ4", () => {
  test("equals the f32 gather of the dequantized columns bit for bit, whole, in chunks and per part", () => {
    const nIn: i32 = 27;
    const nOut: i32 = 77; // two whole blocks and a partial one (13 outputs)
    const blocks = (nOut + 31) >> 5;
    const partBytes = 18 * blocks;
    const slots = heap.alloc(<usize>(nIn * 2 * partBytes));
    const wT0 = buf(nIn * nOut);
    const wT1 = buf(nIn * nOut);
    for (let j = 0; j < nIn; j++) {
      for (let p = 0; p < 2; p++) {
        const c = slots + <usize>((nIn - 1 - j) * 2 * partBytes + p * partBytes); // slots in reverse order
        const wT = p == 0 ? wT0 : wT1;
        for (let b = 0; b < blocks; b++) {
          const block = c + <usize>(18 * b);
          store<u16>(block, randomHalf());
          for (let i = 0; i < 16; i++) store<u8>(block + 2 + <usize>i, <u8>(<i32>((rand() + 1) * 127.9)));
        }
        for (let o = 0; o < nOut; o++) {
          const block = c + <usize>(18 * (o >> 5));
          const i = o & 31;
          const byte = <i32>load<u8>(block + 2 + <usize>(i & 15));
          const q = (i < 16 ? byte & 15 : byte >> 4) - 8;
          store<f32>(wT + (<usize>(j * nOut + o) << 2), halfValue(load<u16>(block)) * <f32>q);
        }
      }
    }
    const x = buf(nIn);
    for (let i = 0; i < nIn; i++) store<f32>(x + (<usize>i << 2), rand());
    const idx = buf(nIn);
    const ptrs = buf(nIn);
    let n = 0;
    for (let j = 0; j < nIn; j++) {
      if (j % 5 == 3) continue;
      store<u32>(idx + (<usize>n << 2), <u32>j);
      store<u32>(ptrs + (<usize>n << 2), <u32>(slots + <usize>((nIn - 1 - j) * 2 * partBytes)));
      n++;
    }
    for (let p = 0; p < 2; p++) {
      const want = buf(nOut);
      gatherColumnsF32Scalar(want, p == 0 ? wT0 : wT1, x, idx, n, nOut);
      const off = <usize>(p * partBytes);
      const whole = buf(nOut);
      memory.fill(whole, 0, <usize>nOut * 4);
      gatherSlotsQ4(whole, ptrs, off, x, idx, n, nOut);
      const chunked = buf(nOut);
      memory.fill(chunked, 0, <usize>nOut * 4);
      for (let s = 0; s < n; s += 6) gatherSlotsQ4(chunked, ptrs + (<usize>s << 2), off, x, idx + (<usize>s << 2), min(6, n - s), nOut);
      const scalar = buf(nOut);
      memory.fill(scalar, 0, <usize>nOut * 4);
      gatherSlotsQ4Scalar(scalar, ptrs, off, x, idx, n, nOut);
      for (let o = 0; o < nOut; o++) {
        const w = load<u32>(want + (<usize>o << 2));
        expect(load<u32>(whole + (<usize>o << 2))).toBe(w);
        expect(load<u32>(chunked + (<usize>o << 2))).toBe(w);
        expect(load<u32>(scalar + (<usize>o << 2))).toBe(w);
      }
    }
  });
});
