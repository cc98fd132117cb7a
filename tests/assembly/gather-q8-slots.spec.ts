// gatherSlotsQ8 (q8 stream columns reached through per-column pointers, accumulating; assembly/
// stream/gather-q8.ts) against the scalar reference of the resident f32 gather over the same
// columns dequantized (w = f16 scale * int8 quant, exact in f32): equal bit for bit in one pass,
// split into chunks, for either part of a two-part block, and the scalar reference too.
import { gatherSlotsQ8, gatherSlotsQ8Scalar } from "../../assembly/stream/gather-q8";
import { seedRandom, rand, buf } from "./buffers";
import { expectSlotGatherExact, halfValue } from "./slot-gather";

seedRandom(777);

/** f16 bits of a positive normal value (exponent 5..25, any mantissa), and its f32 value. */
function randomHalf(): u16 {
  const e = <u32>(5 + <i32>((rand() + 1) * 10)); // 5..25
  const m = <u32>((rand() + 1) * 511) & 0x3ff;
  return <u16>((e << 10) | m);
}

describe("gatherSlotsQ8", () => {
  test("equals the f32 gather of the dequantized columns bit for bit, whole, in chunks and per part", () => {
    const nIn: i32 = 29;
    const nOut: i32 = 53; // two whole scale blocks and a partial one; SIMD tail of 5
    const blocks = (nOut + 31) >> 5;
    const partBytes = (nOut + 2 * blocks + 3) & ~3;
    // each input: two parts (as a W_gate ++ W_up block), in a slot; wT0 / wT1 hold their f32 values
    const slots = heap.alloc(<usize>(nIn * 2 * partBytes));
    const wT0 = buf(nIn * nOut);
    const wT1 = buf(nIn * nOut);
    for (let j = 0; j < nIn; j++) {
      for (let p = 0; p < 2; p++) {
        const c = slots + <usize>((nIn - 1 - j) * 2 * partBytes + p * partBytes); // slots in reverse order
        const wT = p == 0 ? wT0 : wT1;
        for (let b = 0; b < blocks; b++) store<u16>(c + <usize>(nOut + 2 * b), randomHalf());
        for (let o = 0; o < nOut; o++) {
          const q = <i8>(<i32>(rand() * 127));
          store<i8>(c + <usize>o, q);
          store<f32>(wT + (<usize>(j * nOut + o) << 2), halfValue(load<u16>(c + <usize>(nOut + 2 * (o >> 5)))) * <f32>q);
        }
      }
    }
    expectSlotGatherExact(gatherSlotsQ8, gatherSlotsQ8Scalar, slots, partBytes, wT0, wT1, nIn, nOut, 4, 2, 5);
  });
});
