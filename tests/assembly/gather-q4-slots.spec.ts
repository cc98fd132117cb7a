// gatherSlotsQ4 (q4_0 stream columns reached through per-column pointers, accumulating; assembly/
// stream/gather-q4.ts) against the scalar reference of the resident f32 gather over the same
// columns dequantized (w = f16 d * (q - 8), exact in f32; d positive, negative or zero): equal bit
// for bit in one pass, split into chunks, for either part of a two-part block, and the scalar
// reference too.
import { gatherSlotsQ4, gatherSlotsQ4Scalar } from "../../assembly/stream/gather-q4";
import { seedRandom, rand, buf } from "./buffers";
import { expectSlotGatherExact, halfValue } from "./slot-gather";

seedRandom(4711);

/** f16 bits of a random d: normal of either sign (exponent 5..25), or zero one time in ten. */
function randomHalf(): u16 {
  if (rand() > 0.8) return 0;
  const e = <u32>(5 + <i32>((rand() + 1) * 10));
  const m = <u32>((rand() + 1) * 511) & 0x3ff;
  return <u16>((rand() < 0 ? 0x8000 : 0) | (e << 10) | m);
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
    expectSlotGatherExact(gatherSlotsQ4, gatherSlotsQ4Scalar, slots, partBytes, wT0, wT1, nIn, nOut, 5, 3, 6);
  });
});
