// gatherSlotsF32 (columns reached through per-column pointers, accumulating) against the scalar
// reference of the resident gather: equal bit for bit in one pass and when split into chunks.
import { gatherRunF32Scalar } from "../../assembly/kernels/gather";
import { gatherSlotsF32 } from "../../assembly/kernels/gather-slots";
import { seedRandom, rand, buf } from "./buffers";

seedRandom(4242);

describe("gatherSlotsF32", () => {
  test("matches the resident gather bit for bit, whole and in chunks", () => {
    const nIn: i32 = 37;
    const nOut: i32 = 23; // odd: SIMD tail
    const wT = buf(nIn * nOut);
    for (let i = 0; i < nIn * nOut; i++) store<f32>(wT + (<usize>i << 2), rand());
    const x = buf(nIn);
    for (let i = 0; i < nIn; i++) store<f32>(x + (<usize>i << 2), rand());
    // kept inputs 0, 2, 3, 5, ... (ascending), copied to scattered "slots" in reverse order
    const idx = buf(nIn);
    let n = 0;
    for (let j = 0; j < nIn; j++) if (j % 3 != 1) store<u32>(idx + (<usize>(n++) << 2), <u32>j);
    const slots = buf(n * nOut);
    const ptrs = buf(n);
    for (let k = 0; k < n; k++) {
      const j = load<u32>(idx + (<usize>k << 2));
      const dst = slots + <usize>(n - 1 - k) * <usize>nOut * 4;
      memory.copy(dst, wT + <usize>j * <usize>nOut * 4, <usize>nOut * 4);
      store<u32>(ptrs + (<usize>k << 2), <u32>dst);
    }
    const want = buf(nOut);
    gatherRunF32Scalar(want, wT, x, idx, n, nOut);
    const whole = buf(nOut);
    memory.fill(whole, 0, <usize>nOut * 4);
    gatherSlotsF32(whole, ptrs, 0, x, idx, n, nOut);
    const chunked = buf(nOut);
    memory.fill(chunked, 0, <usize>nOut * 4);
    for (let s = 0; s < n; s += 7) {
      const c = min(7, n - s);
      gatherSlotsF32(chunked, ptrs + (<usize>s << 2), 0, x, idx + (<usize>s << 2), c, nOut);
    }
    for (let o = 0; o < nOut; o++) {
      const w = load<u32>(want + (<usize>o << 2));
      expect(load<u32>(whole + (<usize>o << 2))).toBe(w);
      expect(load<u32>(chunked + (<usize>o << 2))).toBe(w);
    }
  });
});
