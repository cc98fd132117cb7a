// The check both stream-column gather specs (gather-q4-slots, gather-q8-slots) run: a quantized
// gather over columns reached through per-column slot pointers, against the scalar f32 run (gatherRunF32Scalar) of
// the same columns dequantized. Equal bit for bit in one pass, in chunks, for either part of a
// two-part block (as a W_gate ++ W_up slot), and the quantized scalar reference too.
import { gatherRunF32Scalar } from "../../assembly/kernels/gather";
import { buf, rand } from "./buffers";

/** A stream gather: out += the kept columns' parts at partOffset in their slots, times x. */
export type SlotGather = (out: usize, ptrs: usize, partOffset: usize, x: usize, idx: usize, nKept: i32, nOut: i32) => void;

/** The f32 value of f16 bits (normal numbers and zeros of either sign; what the specs write). */
export function halfValue(h: u16): f32 {
  const mag = <i32>(h & 0x7fff);
  if (mag == 0) return (h & 0x8000) != 0 ? -0.0 : 0.0;
  const v = <f32>Math.pow(2, (mag >> 10) - 15) * (1 + <f32>(mag & 0x3ff) / 1024);
  return (h & 0x8000) != 0 ? -v : v;
}

/**
 * slots: nIn slots of two parts of partBytes, input j's in slot nIn - 1 - j (reverse order);
 * wT0 / wT1: the parts' dequantized values, input-major [nIn x nOut]. Inputs j with
 * j % dropPeriod == dropAt are not kept; the chunked run takes `chunk` kept columns a call.
 */
export function expectSlotGatherExact(gather: SlotGather, scalar: SlotGather, slots: usize, partBytes: i32, wT0: usize, wT1: usize, nIn: i32, nOut: i32, dropPeriod: i32, dropAt: i32, chunk: i32): void {
  const x = buf(nIn);
  for (let i = 0; i < nIn; i++) store<f32>(x + (<usize>i << 2), rand());
  const idx = buf(nIn);
  const ptrs = buf(nIn);
  let n = 0;
  for (let j = 0; j < nIn; j++) {
    if (j % dropPeriod == dropAt) continue;
    store<u32>(idx + (<usize>n << 2), <u32>j);
    store<u32>(ptrs + (<usize>n << 2), <u32>(slots + <usize>((nIn - 1 - j) * 2 * partBytes)));
    n++;
  }
  for (let p = 0; p < 2; p++) {
    const want = buf(nOut);
    gatherRunF32Scalar(want, p == 0 ? wT0 : wT1, x, idx, n, nOut);
    const off = <usize>(p * partBytes);
    const whole = buf(nOut);
    memory.fill(whole, 0, <usize>nOut * 4);
    gather(whole, ptrs, off, x, idx, n, nOut);
    const chunked = buf(nOut);
    memory.fill(chunked, 0, <usize>nOut * 4);
    for (let s = 0; s < n; s += chunk) gather(chunked, ptrs + (<usize>s << 2), off, x, idx + (<usize>s << 2), min(chunk, n - s), nOut);
    const reference = buf(nOut);
    memory.fill(reference, 0, <usize>nOut * 4);
    scalar(reference, ptrs, off, x, idx, n, nOut);
    for (let o = 0; o < nOut; o++) {
      const w = load<u32>(want + (<usize>o << 2));
      expect(load<u32>(whole + (<usize>o << 2))).toBe(w);
      expect(load<u32>(chunked + (<usize>o << 2))).toBe(w);
      expect(load<u32>(reference + (<usize>o << 2))).toBe(w);
    }
  }
}
