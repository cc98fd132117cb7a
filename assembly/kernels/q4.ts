// Q4_0 kernels on ggml's blocks exactly as a GGUF file stores them (DTYPE_Q4_0, row-major): each
// row is cols / 32 blocks of 18 bytes, f16 d then 16 bytes qs, where value i of the block is
// d * ((qs[i] & 15) - 8) and value i + 16 is d * ((qs[i] >> 4) - 8) (ggml's dequantize_row_q4_0).
//
// Integer dot products as the q8 kernels (q8.ts): x is quantized to int8 per block of 32 with one
// f32 scale (quantizeXQ8, the same blocks as the weights'), and per row
//   acc = acc + f32(T[r, b]) * (d[r, b] * xScale[b]),  T = sum over the block of (q - 8) * xq (i32)
// over the blocks in order. |T| <= 32 * 8 * 127 = 32,512: exact, so the SIMD kernel and its scalar
// reference agree bit for bit. The SIMD kernel takes four rows per pass (four sequential streams,
// their four T side by side with reduce4, one convert and one multiply-add for all four).

import { QK4_0, Q4_0_BLOCK_BYTES } from "../abi";
import { halfBitsToF32 } from "./half";
import { quantizeXQ8, reduce4 } from "./q8";

const BLOCK = <usize>Q4_0_BLOCK_BYTES;

/** Bytes of one row of n values (n a multiple of 32). */
// @ts-ignore: decorator
@inline export function q4_0RowBytes(n: i32): usize {
  return <usize>(n / QK4_0) * BLOCK;
}

/** T of one block at p: its 32 values q - 8 (low nibbles first) times the 32 i16 activations x0..x3. */
// @ts-ignore: decorator
@inline function blockDotQ4_0(p: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const qs = v128.load(p, 2);
  const eight = i8x16.splat(8);
  const lo = i8x16.sub(v128.and(qs, i8x16.splat(15)), eight);
  const hi = i8x16.sub(i8x16.shr_u(qs, 4), eight);
  const s0 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(lo), x0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(lo), x1));
  const s1 = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(hi), x2), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(hi), x3));
  return i32x4.add(s0, s1);
}

/** One row at w (nb blocks) against the quantized x: SIMD per block, the f32 steps one by one. */
function dotRowQ4_0(w: usize, nb: i32, xq: usize, xs: usize): f32 {
  let acc: f32 = 0;
  for (let b = 0; b < nb; b++) {
    const xb = xq + (<usize>b << 6);
    const p = w + <usize>b * BLOCK;
    const s = blockDotQ4_0(p, v128.load(xb), v128.load(xb, 16), v128.load(xb, 32), v128.load(xb, 48));
    const t = (i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1)) + (i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3));
    acc += <f32>t * (halfBitsToF32(load<u16>(p)) * load<f32>(xs + (<usize>b << 2)));
  }
  return acc;
}

/** out[r] = dot(W[r, :], x) for a Q4_0 matrix [rows x cols] (cols a multiple of 32). */
export function matvecQ4_0(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const xq = quantizeXQ8(x, cols);
  const xs = xq + (<usize>nb << 6);
  const rowBytes = q4_0RowBytes(cols);
  const rows4 = rows & ~3;
  for (let r = 0; r < rows4; r += 4) {
    let p0 = w + <usize>r * rowBytes;
    let p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
    let acc = f32x4.splat(0);
    for (let b = 0; b < nb; b++) {
      const xb = xq + (<usize>b << 6);
      const x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
      const t = reduce4(blockDotQ4_0(p0, x0, x1, x2, x3), blockDotQ4_0(p1, x0, x1, x2, x3), blockDotQ4_0(p2, x0, x1, x2, x3), blockDotQ4_0(p3, x0, x1, x2, x3));
      let d = f32x4.splat(halfBitsToF32(load<u16>(p0)));
      d = f32x4.replace_lane(d, 1, halfBitsToF32(load<u16>(p1)));
      d = f32x4.replace_lane(d, 2, halfBitsToF32(load<u16>(p2)));
      d = f32x4.replace_lane(d, 3, halfBitsToF32(load<u16>(p3)));
      acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(t), f32x4.mul(d, v128.load32_splat(xs + (<usize>b << 2)))));
      p0 += BLOCK;
      p1 += BLOCK;
      p2 += BLOCK;
      p3 += BLOCK;
    }
    v128.store(out + (<usize>r << 2), acc);
  }
  for (let r = rows4; r < rows; r++) store<f32>(out + (<usize>r << 2), dotRowQ4_0(w + <usize>r * rowBytes, nb, xq, xs));
}

/** Scalar reference for matvecQ4_0 (same quantized x, same order). */
export function matvecQ4_0Scalar(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const xq = quantizeXQ8(x, cols);
  const xs = xq + (<usize>nb << 6);
  for (let r = 0; r < rows; r++) {
    let acc: f32 = 0;
    for (let b = 0; b < nb; b++) {
      const p = w + (<usize>r * <usize>nb + <usize>b) * BLOCK;
      const xb = xq + (<usize>b << 6);
      let t: i32 = 0;
      for (let i = 0; i < 16; i++) {
        const q = <i32>load<u8>(p + 2 + <usize>i);
        t += ((q & 15) - 8) * <i32>load<i16>(xb + (<usize>i << 1)) + ((q >> 4) - 8) * <i32>load<i16>(xb + (<usize>(i + 16) << 1));
      }
      acc += <f32>t * (halfBitsToF32(load<u16>(p)) * load<f32>(xs + (<usize>b << 2)));
    }
    store<f32>(out + (<usize>r << 2), acc);
  }
}

/** Listed rows only: out[k] = dot(W[rowIdx[k], :], x) (CATS reads kept rows of W_up); as matvecQ4_0 per row. */
export function matvecRowsQ4_0(out: usize, w: usize, x: usize, rowIdx: usize, nRows: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const xq = quantizeXQ8(x, cols);
  const xs = xq + (<usize>nb << 6);
  const rowBytes = q4_0RowBytes(cols);
  for (let k = 0; k < nRows; k++) {
    store<f32>(out + (<usize>k << 2), dotRowQ4_0(w + <usize>load<u32>(rowIdx + (<usize>k << 2)) * rowBytes, nb, xq, xs));
  }
}

/** Row r dequantized into out, exactly as ggml's dequantize_row_q4_0 (the embedding lookup). */
export function dequantRowQ4_0(out: usize, w: usize, r: i32, cols: i32): void {
  const nb = cols / QK4_0;
  const row = w + <usize>r * q4_0RowBytes(cols);
  for (let b = 0; b < nb; b++) {
    const p = row + <usize>b * BLOCK;
    const d = halfBitsToF32(load<u16>(p));
    const o = out + (<usize>(b * QK4_0) << 2);
    for (let i = 0; i < 16; i++) {
      const q = <i32>load<u8>(p + 2 + <usize>i);
      store<f32>(o + (<usize>i << 2), <f32>((q & 15) - 8) * d);
      store<f32>(o + (<usize>(i + 16) << 2), <f32>((q >> 4) - 8) * d);
    }
  }
}
