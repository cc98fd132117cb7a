// Column gather over q8 stream columns scattered in memory (a q8 .dipstream's column slots and
// staging, assembly/stream/store.ts).
//
// A column part of nOut outputs is self-contained (host/quant.ts q8ColumnBytes): int8 q[0, nOut),
// then an f16 scale per block of 32 outputs at +nOut (always a positive normal f16, as the
// writer makes them), so w[o] = scale[o >> 5] * q[o], exact in f32 (11-bit mantissa times an
// 8-bit integer). Then, per output, in k order:
//
//   out[o] = out[o] + x[idx[k]] * w_k[o]          (f32 multiply, then add: no fused multiply-add)
//
// the same adds in the same order as gatherSlotsF32 over the dequantized columns, so a streamed
// q8 gather equals an f32 gather of the same values bit for bit, and (as gatherSlotsF32) it
// accumulates without zeroing: chunked gathers give the same result as one gather.

/** f16 bits of a positive normal scale -> f32, exactly, by integer ops (exponent rebias 15 -> 127). */
// @ts-ignore: decorator
@inline function halfToF32(h: u32): f32 {
  return reinterpret<f32>((h << 13) + HALF_REBIAS);
}
const HALF_REBIAS: u32 = (127 - 15) << 23;

/** Scale of output o's block in the column part at c (nOut outputs). */
// @ts-ignore: decorator
@inline function scaleOf(c: usize, nOut: i32, o: i32): f32 {
  return halfToF32(<u32>load<u16>(c + <usize>nOut + (<usize>(o >> 5) << 1)));
}

/**
 * SIMD: out[o] += sum over k of x[idx[k]] * w_k[o], where w_k is the q8 column part at
 * ptrs[k] + partOffset. Outputs in tiles of 16 (one scale block each, 16 dividing 32), the tile's
 * 16 sums held in registers while the kept columns are added one after another; the tail one by one.
 */
export function gatherSlotsQ8(out: usize, ptrs: usize, partOffset: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  const v16 = nOut & ~15;
  for (let o = 0; o < v16; o += 16) {
    const op = out + (<usize>o << 2);
    let a0 = v128.load(op), a1 = v128.load(op, 16), a2 = v128.load(op, 32), a3 = v128.load(op, 48);
    for (let k = 0; k < nKept; k++) {
      const c = <usize>load<u32>(ptrs + (<usize>k << 2)) + partOffset;
      const xv = f32x4.splat(load<f32>(x + (<usize>load<u32>(idx + (<usize>k << 2)) << 2)));
      const sv = f32x4.splat(scaleOf(c, nOut, o));
      const q = v128.load(c + <usize>o);
      const lo = i16x8.extend_low_i8x16_s(q);
      const hi = i16x8.extend_high_i8x16_s(q);
      // w = f32(q) * scale (exact), then out + x * w
      a0 = f32x4.add(a0, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), sv), xv));
      a1 = f32x4.add(a1, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), sv), xv));
      a2 = f32x4.add(a2, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), sv), xv));
      a3 = f32x4.add(a3, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), sv), xv));
    }
    v128.store(op, a0);
    v128.store(op, a1, 16);
    v128.store(op, a2, 32);
    v128.store(op, a3, 48);
  }
  for (let o = v16; o < nOut; o++) gatherOneOutput(out, ptrs, partOffset, x, idx, nKept, nOut, o);
}

// @ts-ignore: decorator
@inline function gatherOneOutput(out: usize, ptrs: usize, partOffset: usize, x: usize, idx: usize, nKept: i32, nOut: i32, o: i32): void {
  const op = out + (<usize>o << 2);
  let acc = load<f32>(op);
  for (let k = 0; k < nKept; k++) {
    const c = <usize>load<u32>(ptrs + (<usize>k << 2)) + partOffset;
    const w = <f32>load<i8>(c + <usize>o) * scaleOf(c, nOut, o);
    acc = acc + load<f32>(x + (<usize>load<u32>(idx + (<usize>k << 2)) << 2)) * w;
  }
  store<f32>(op, acc);
}

/** Scalar reference for gatherSlotsQ8: every output one by one, same operations in the same order. */
export function gatherSlotsQ8Scalar(out: usize, ptrs: usize, partOffset: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  for (let o = 0; o < nOut; o++) gatherOneOutput(out, ptrs, partOffset, x, idx, nKept, nOut, o);
}
