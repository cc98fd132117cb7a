// Load-time quantization to the engine's q8 layouts (assembly/kernels/q8.ts): int8 blocks of 32
// along the input dimension with one scale per block.
// Row-major matrices keep an f32 scale per (row, block) and are stored in tiles of 8 rows x 32
// values (quants, then the 8 scales); the input-major MLP matrices store column j contiguous and
// an f16 scale per (block of 32 inputs, output), GGUF's Q8_0 blocks transposed.
// Scale = max|x| / 127 per block (rounded to f16 for the input-major layout), q = round-half-away-
// from-zero(x / scale) clamped to [-127, 127], as llama.cpp's q8_0.
// Buffer sizes come from the wasm (host/abi.ts layoutBytes), which owns the layouts.

import { floatToHalfBits, halfToFloat } from "./float16.js";
import { Q8_BLOCK, Q8_TILE_BYTES, Q8_TILE_ROWS } from "./abi.js";

const q8Blocks = (n: number): number => Math.ceil(n / Q8_BLOCK);

/** Byte offsets of row r's quants of block b and of its scale (nb blocks per row): a tile holds int8[8][32] quants, then f32[8] scales. */
const tileAt = (nb: number, r: number, b: number) => (Math.floor(r / Q8_TILE_ROWS) * nb + b) * Q8_TILE_BYTES;
const blockAt = (nb: number, r: number, b: number) => tileAt(nb, r, b) + (r % Q8_TILE_ROWS) * Q8_BLOCK;
const scaleAt = (nb: number, r: number, b: number) => tileAt(nb, r, b) + Q8_TILE_ROWS * Q8_BLOCK + (r % Q8_TILE_ROWS) * 4;

/** Where the f16 scales of an input-major matrix start: after the quants, 4-byte aligned (q8InScales). */
const inputMajorScalesAt = (nIn: number, nOut: number) => Math.ceil((nIn * nOut) / 4) * 4;

/** max |a[i]| over [start, end): a block's range. */
function absMax(a: Float32Array, start: number, end: number): number {
  let m = 0;
  for (let i = start; i < end; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** v in scale steps to an int8 quant: round half away from zero, clamped to [-127, 127]. */
const roundQ8 = (v: number): number => Math.sign(v) * Math.min(127, Math.round(Math.abs(v)));

/** Quantizes a row-major [rows x n] f32 matrix into `out` (layoutBytes(wasm, "q8").matrix(rows, n) bytes; padding 0). */
export function quantizeQ8Into(out: Uint8Array, a: Float32Array, rows: number, n: number): void {
  if (a.length !== rows * n) throw new Error(`quantizeQ8: ${a.length} values for ${rows} x ${n}`);
  out.fill(0);
  const quants = new Int8Array(out.buffer, out.byteOffset, out.byteLength);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const nb = q8Blocks(n);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const start = r * n + b * Q8_BLOCK;
      const end = r * n + Math.min(n, (b + 1) * Q8_BLOCK);
      const d = Math.fround(absMax(a, start, end) / 127);
      const inv = d > 0 ? 1 / d : 0;
      view.setFloat32(scaleAt(nb, r, b), d, true);
      const q = blockAt(nb, r, b);
      for (let i = start; i < end; i++) quants[q + i - start] = roundQ8(a[i] * inv);
    }
  }
}

const HALF_MIN_NORMAL = 0x0400; // 2^-14

/**
 * Quantizes W, a row-major [nOut x nIn] f32 matrix, into the input-major q8 layout in `out`
 * (layoutBytes(wasm, "q8").inputMajor(nIn, nOut) bytes): quants q[j * nOut + o], then f16 scales s[jb * nOut + o].
 */
export function quantizeQ8InputMajorInto(out: Uint8Array, a: Float32Array, nOut: number, nIn: number): void {
  if (a.length !== nOut * nIn) throw new Error(`quantizeQ8InputMajor: ${a.length} values for ${nOut} x ${nIn}`);
  const quants = new Int8Array(out.buffer, out.byteOffset, nIn * nOut);
  const nb = q8Blocks(nIn);
  const scales = new Uint16Array(out.buffer, out.byteOffset + inputMajorScalesAt(nIn, nOut), nb * nOut);
  for (let o = 0; o < nOut; o++) {
    for (let b = 0; b < nb; b++) {
      const start = o * nIn + b * Q8_BLOCK;
      const end = o * nIn + Math.min(nIn, (b + 1) * Q8_BLOCK);
      const amax = absMax(a, start, end);
      // a normal f16 (the kernels' integer decode), at least 2^-14: an all-zero or tiny block gets
      // that step (its quants are 0 or its values within 2^-15 anyway)
      const h = Math.max(HALF_MIN_NORMAL, floatToHalfBits(amax / 127));
      if (h >= 0x7c00) throw new RangeError(`q8: weight magnitude ${amax} is beyond the f16 block scale (max |w| ${(65504 * 127).toExponential(3)})`);
      const d = halfToFloat(h);
      const inv = d > 0 ? 1 / d : 0;
      scales[b * nOut + o] = h;
      for (let i = start; i < end; i++) quants[(i - o * nIn) * nOut + o] = roundQ8(a[i] * inv);
    }
  }
}

/** Dequantizes an input-major q8 matrix back to W, row-major [nOut x nIn] f32 (tests). */
export function dequantizeQ8InputMajor(bytes: Uint8Array, nOut: number, nIn: number): Float32Array {
  const quants = new Int8Array(bytes.buffer, bytes.byteOffset, nIn * nOut);
  const scales = new Uint16Array(bytes.buffer, bytes.byteOffset + inputMajorScalesAt(nIn, nOut), q8Blocks(nIn) * nOut);
  const out = new Float32Array(nOut * nIn);
  for (let o = 0; o < nOut; o++) {
    for (let j = 0; j < nIn; j++) out[o * nIn + j] = halfToFloat(scales[Math.floor(j / Q8_BLOCK) * nOut + o]) * quants[j * nOut + o];
  }
  return out;
}

/** Dequantizes a row-major q8 matrix back to f32 (tests, reports). */
export function dequantizeQ8Matrix(bytes: Uint8Array, rows: number, n: number): Float32Array {
  const quants = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nb = q8Blocks(n);
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) {
      const b = Math.floor(i / Q8_BLOCK);
      out[r * n + i] = view.getFloat32(scaleAt(nb, r, b), true) * quants[blockAt(nb, r, b) + (i % Q8_BLOCK)];
    }
  }
  return out;
}
