// Column gather over q4_0 stream columns scattered in memory (a q4_0 .dipstream's column slots
// and staging, assembly/stream/store.ts).
//
// A column part of nOut outputs is ggml Q4_0 blocks along the column (host/quant.ts
// q4ColumnBytes): per 32 outputs 18 bytes, an f16 d (positive, negative or zero; never subnormal:
// the writer stores such a block as zeros) then 16 bytes whose byte i holds output i (low nibble)
// and i + 16 (high nibble) as q in [0, 15]. w[o] = d * (q - 8), exact in f32. Then, per output, in
// k order:
//
//   out[o] = out[o] + x[idx[k]] * w_k[o]          (f32 multiply, then add: no fused multiply-add)
//
// the same adds in the same order as gatherSlotsF32 over the dequantized columns, so a streamed
// q4_0 gather equals an f32 gather of the same values bit for bit; it accumulates without
// zeroing, so chunked gathers give the same result as one gather.

const BLOCK_BYTES: usize = 18;
const HALF_REBIAS: u32 = (127 - 15) << 23;

/** f16 bits of d (sign, a normal magnitude or zero) -> f32, exactly, by integer ops. */
// @ts-ignore: decorator
@inline function halfToF32(h: u32): f32 {
  const mag = h & 0x7fff;
  return reinterpret<f32>(((h & 0x8000) << 16) | (mag == 0 ? 0 : (mag << 13) + HALF_REBIAS));
}

/** q - 8 of output o (within its block) in the block at c. */
// @ts-ignore: decorator
@inline function quantOf(c: usize, o: i32): i32 {
  const i = o & 31;
  const byte = <i32>load<u8>(c + 2 + <usize>(i & 15));
  return (i < 16 ? byte & 15 : byte >> 4) - 8;
}

// @ts-ignore: decorator
@inline function addScaled(acc: v128, q: v128, dv: v128, xv: v128): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(q), dv), xv));
}

/**
 * SIMD: out[o] += sum over k of x[idx[k]] * w_k[o], where w_k is the q4_0 column part at
 * ptrs[k] + partOffset. Whole blocks of 32 outputs with their 32 sums in eight registers while the
 * kept columns are added one after another; a partial last block one output at a time.
 */
export function gatherSlotsQ4(out: usize, ptrs: usize, partOffset: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  const full = nOut >> 5;
  const low4 = i8x16.splat(15);
  const eight = i8x16.splat(8);
  for (let b = 0; b < full; b++) {
    const op = out + (<usize>b << 7);
    let a0 = v128.load(op), a1 = v128.load(op, 16), a2 = v128.load(op, 32), a3 = v128.load(op, 48);
    let a4 = v128.load(op, 64), a5 = v128.load(op, 80), a6 = v128.load(op, 96), a7 = v128.load(op, 112);
    for (let k = 0; k < nKept; k++) {
      const c = <usize>load<u32>(ptrs + (<usize>k << 2)) + partOffset + <usize>b * BLOCK_BYTES;
      const xv = f32x4.splat(load<f32>(x + (<usize>load<u32>(idx + (<usize>k << 2)) << 2)));
      const dv = f32x4.splat(halfToF32(<u32>load<u16>(c)));
      const qs = v128.load(c + 2);
      const lo = i8x16.sub(v128.and(qs, low4), eight); // outputs 0..15 of the block, q - 8
      const hi = i8x16.sub(i8x16.shr_u(qs, 4), eight); // outputs 16..31
      const lo0 = i16x8.extend_low_i8x16_s(lo), lo1 = i16x8.extend_high_i8x16_s(lo);
      const hi0 = i16x8.extend_low_i8x16_s(hi), hi1 = i16x8.extend_high_i8x16_s(hi);
      a0 = addScaled(a0, i32x4.extend_low_i16x8_s(lo0), dv, xv);
      a1 = addScaled(a1, i32x4.extend_high_i16x8_s(lo0), dv, xv);
      a2 = addScaled(a2, i32x4.extend_low_i16x8_s(lo1), dv, xv);
      a3 = addScaled(a3, i32x4.extend_high_i16x8_s(lo1), dv, xv);
      a4 = addScaled(a4, i32x4.extend_low_i16x8_s(hi0), dv, xv);
      a5 = addScaled(a5, i32x4.extend_high_i16x8_s(hi0), dv, xv);
      a6 = addScaled(a6, i32x4.extend_low_i16x8_s(hi1), dv, xv);
      a7 = addScaled(a7, i32x4.extend_high_i16x8_s(hi1), dv, xv);
    }
    v128.store(op, a0);
    v128.store(op, a1, 16);
    v128.store(op, a2, 32);
    v128.store(op, a3, 48);
    v128.store(op, a4, 64);
    v128.store(op, a5, 80);
    v128.store(op, a6, 96);
    v128.store(op, a7, 112);
  }
  for (let o = full << 5; o < nOut; o++) gatherOneOutput(out, ptrs, partOffset, x, idx, nKept, o);
}

// @ts-ignore: decorator
@inline function gatherOneOutput(out: usize, ptrs: usize, partOffset: usize, x: usize, idx: usize, nKept: i32, o: i32): void {
  const op = out + (<usize>o << 2);
  let acc = load<f32>(op);
  for (let k = 0; k < nKept; k++) {
    const c = <usize>load<u32>(ptrs + (<usize>k << 2)) + partOffset + <usize>(o >> 5) * BLOCK_BYTES;
    const w = <f32>quantOf(c, o) * halfToF32(<u32>load<u16>(c));
    acc = acc + load<f32>(x + (<usize>load<u32>(idx + (<usize>k << 2)) << 2)) * w;
  }
  store<f32>(op, acc);
}

/** Scalar reference for gatherSlotsQ4: every output one by one, same operations in the same order. */
export function gatherSlotsQ4Scalar(out: usize, ptrs: usize, partOffset: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  for (let o = 0; o < nOut; o++) gatherOneOutput(out, ptrs, partOffset, x, idx, nKept, o);
}
