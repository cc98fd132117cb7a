// Load-time quantization to the engine's q8 layouts (assembly/kernels/q8.ts): int8 blocks of 32
// along the input dimension with one scale per block.
// Row-major matrices keep an f32 scale per (row, block) and are stored in tiles of 8 rows x 32
// values (quants, then the 8 scales); the input-major MLP matrices store column j contiguous and
// an f16 scale per (block of 32 inputs, output), GGUF's Q8_0 blocks transposed.
// Scale = max|x| / 127 per block (rounded to f16 for the input-major layout), q = round-half-away-
// from-zero(x / scale) clamped to [-127, 127], as llama.cpp's q8_0.
// Buffer sizes come from the wasm (host/abi.ts layoutBytes), which owns the layouts.

import { floatToHalfBits, halfToFloat } from "./float16.js";
import { Q4_0_BLOCK_BYTES, Q4_K_BLOCK_BYTES, Q8_BLOCK, Q8_TILE_BYTES, Q8_TILE_ROWS, QK_K } from "./abi.js";
import { dequantizeRow, GGML_TYPE, ggmlRowBytes, quantizeRow } from "./formats/ggml-blocks.js";
import type { QuantizedMatrix } from "./model.js";

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

/** Quantizes a row-major [rows x n] f32 matrix into `out` (layoutBytes(wasm, DTYPE_Q8).matrix(rows, n) bytes; padding 0). */
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
 * (layoutBytes(wasm, DTYPE_Q8).inputMajor(nIn, nOut) bytes): quants q[j * nOut + o], then f16 scales s[jb * nOut + o].
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

// ---- a GGUF file's ggml blocks (QuantizedMatrix) into the engine's layouts ----

/** Rows [from, from + n) of a quantized matrix as f32, exactly as ggml dequantizes them. */
export function dequantizeRows(q: QuantizedMatrix, from: number, n: number): Float32Array {
  const out = new Float32Array(n * q.cols);
  dequantizeRow(q.ggmlType, q.bytes, from * ggmlRowBytes(q.ggmlType, q.cols), n * q.cols, out);
  return out;
}

/** The whole matrix as f32 (what a quantized file's lazy f32 fields hold once read). */
export function dequantizeMatrix(q: QuantizedMatrix): Float32Array {
  return dequantizeRows(q, 0, q.rows);
}

/** Rows per chunk when a quantized matrix is re-encoded through f32 (a multiple of the tile's 8 rows). */
const REENCODE_ROWS = 1024;

/**
 * A quantized matrix into the row-major q8 layout (`out` as for quantizeQ8Into): Q8_0 exactly (the
 * same quants, each f16 block scale widened to f32), any other type re-encoded from its exact f32
 * values a chunk of rows at a time (never the whole matrix in f32).
 */
export function quantizedIntoQ8(out: Uint8Array, q: QuantizedMatrix): void {
  const nb = q8Blocks(q.cols);
  if (q.ggmlType !== GGML_TYPE.Q8_0) {
    for (let r = 0; r < q.rows; r += REENCODE_ROWS) {
      const n = Math.min(REENCODE_ROWS, q.rows - r);
      const tiles = out.subarray(tileAt(nb, r, 0), tileAt(nb, r + Math.ceil(n / Q8_TILE_ROWS) * Q8_TILE_ROWS, 0));
      quantizeQ8Into(tiles, dequantizeRows(q, r, n), n, q.cols);
    }
    return;
  }
  out.fill(0);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const src = new DataView(q.bytes.buffer, q.bytes.byteOffset, q.bytes.byteLength);
  for (let r = 0; r < q.rows; r++) {
    for (let b = 0; b < nb; b++) {
      const block = (r * nb + b) * 34;
      view.setFloat32(scaleAt(nb, r, b), halfToFloat(src.getUint16(block, true)), true);
      out.set(q.bytes.subarray(block + 2, block + 34), blockAt(nb, r, b));
    }
  }
}

/**
 * W, quantized [nOut x nIn] by the file, into the input-major q8 layout (`out` as for
 * quantizeQ8InputMajorInto). Q8_0 and Q4_0 keep their values exactly: the block's f16 d becomes
 * the (block, output) scale and the quants q (Q4_0: q - 8) stay, negated with d when d < 0; this
 * needs every d to be a normal f16 (the kernels' scale decode) and, when negated, no Q8_0 quant of
 * -128. Any other type, or a matrix failing that, is re-encoded from its exact f32 values.
 * Returns whether the values were kept exactly.
 */
export function quantizedIntoQ8InputMajor(out: Uint8Array, q: QuantizedMatrix): boolean {
  const nOut = q.rows, nIn = q.cols;
  const exact = q.ggmlType === GGML_TYPE.Q8_0 || q.ggmlType === GGML_TYPE.Q4_0;
  if (exact && transposeBlocksExactly(out, q)) return true;
  quantizeQ8InputMajorInto(out, dequantizeMatrix(q), nOut, nIn);
  return false;
}

/** The exact transposition of quantizedIntoQ8InputMajor; false (out partly written) when a block does not allow it. */
function transposeBlocksExactly(out: Uint8Array, q: QuantizedMatrix): boolean {
  const nOut = q.rows, nIn = q.cols, nb = nIn / Q8_BLOCK;
  const isQ8 = q.ggmlType === GGML_TYPE.Q8_0;
  const blockBytes = isQ8 ? 34 : 18;
  const quants = new Int8Array(out.buffer, out.byteOffset, nIn * nOut);
  const scales = new Uint16Array(out.buffer, out.byteOffset + inputMajorScalesAt(nIn, nOut), nb * nOut);
  const src = q.bytes;
  const value = new Int8Array(Q8_BLOCK);
  for (let o = 0; o < nOut; o++) {
    for (let b = 0; b < nb; b++) {
      const at = (o * nb + b) * blockBytes;
      const h = src[at] | (src[at + 1] << 8);
      const magnitude = h & 0x7fff;
      if (magnitude < HALF_MIN_NORMAL || magnitude >= 0x7c00) return false;
      const sign = h & 0x8000 ? -1 : 1;
      for (let i = 0; i < Q8_BLOCK; i++) {
        const v = isQ8 ? (src[at + 2 + i] << 24) >> 24 : i < 16 ? (src[at + 2 + i] & 15) - 8 : (src[at + 2 + i - 16] >> 4) - 8;
        if (sign * v > 127) return false; // -128 negated
        value[i] = sign * v;
      }
      scales[b * nOut + o] = magnitude;
      for (let i = 0; i < Q8_BLOCK; i++) quants[(b * Q8_BLOCK + i) * nOut + o] = value[i];
    }
  }
  return true;
}

/** Whether every block scale d of a Q4_0 matrix is zero or a finite normal f16 (what the input-major Q4_0 layout holds exactly). */
export function q4_0ScalesFitInputMajor(q: QuantizedMatrix): boolean {
  for (let at = 0; at < q.bytes.length; at += Q4_0_BLOCK_BYTES) {
    const magnitude = (q.bytes[at] | (q.bytes[at + 1] << 8)) & 0x7fff;
    if (magnitude !== 0 && (magnitude < HALF_MIN_NORMAL || magnitude >= 0x7c00)) return false;
  }
  return true;
}

/**
 * W, a Q4_0 matrix [nOut x nIn] whose scales pass q4_0ScalesFitInputMajor, into the input-major
 * Q4_0 layout (assembly/kernels/q4.ts: column j's nibbles in tiles of 32 outputs, then f16 d per
 * (block of 32 inputs, output)), every value kept exactly: a block with d = 0 (all values 0) gets
 * the smallest normal d and nibbles 8.
 */
export function q4_0IntoInputMajor(out: Uint8Array, q: QuantizedMatrix): void {
  const nOut = q.rows, nIn = q.cols, nb = nIn / Q8_BLOCK;
  const colBytes = Math.ceil(nOut / 32) * 16;
  out.fill(0x88, 0, nIn * colBytes); // padding outputs: q = 8, value 0
  const scales = new Uint16Array(out.buffer, out.byteOffset + Math.ceil((nIn * colBytes) / 4) * 4, nb * nOut);
  const src = q.bytes;
  for (let o = 0; o < nOut; o++) {
    const byteInColumn = (o >> 5) * 16 + (o & 15);
    const high = (o & 16) !== 0;
    for (let b = 0; b < nb; b++) {
      const at = (o * nb + b) * Q4_0_BLOCK_BYTES;
      const h = src[at] | (src[at + 1] << 8);
      const zero = (h & 0x7fff) === 0;
      scales[b * nOut + o] = zero ? HALF_MIN_NORMAL : h;
      for (let i = 0; i < Q8_BLOCK; i++) {
        const nibble = zero ? 8 : i < 16 ? src[at + 2 + i] & 15 : src[at + 2 + i - 16] >> 4;
        const p = (b * Q8_BLOCK + i) * colBytes + byteInColumn;
        out[p] = high ? (out[p] & 0x0f) | (nibble << 4) : (out[p] & 0xf0) | nibble;
      }
    }
  }
}

/**
 * W, a Q4_K matrix [nOut x nIn], into the input-major Q4_K layout (assembly/kernels/kquants.ts:
 * column j's nibbles in tiles of 32 outputs; u8 sc and m per (32 inputs, output); f32 d and dmin
 * per (256 inputs, output)), every value kept exactly (the f16 d and dmin widened to f32).
 */
export function q4_KIntoInputMajor(out: Uint8Array, q: QuantizedMatrix): void {
  const nOut = q.rows, nIn = q.cols, nb = nIn / Q8_BLOCK, nsb = nIn / QK_K;
  const colBytes = Math.ceil(nOut / 32) * 16;
  out.fill(0, 0, nIn * colBytes);
  const sc = out.subarray(nIn * colBytes, nIn * colBytes + nb * nOut);
  const mins = out.subarray(nIn * colBytes + nb * nOut, nIn * colBytes + 2 * nb * nOut);
  const superAt = Math.ceil((nIn * colBytes + 2 * nb * nOut) / 4) * 4;
  const d = new Float32Array(out.buffer, out.byteOffset + superAt, nsb * nOut);
  const dmin = new Float32Array(out.buffer, out.byteOffset + superAt + 4 * nsb * nOut, nsb * nOut);
  const src = q.bytes;
  for (let o = 0; o < nOut; o++) {
    const byteInColumn = (o >> 5) * 16 + (o & 15);
    const high = (o & 16) !== 0;
    for (let s = 0; s < nsb; s++) {
      const at = (o * nsb + s) * Q4_K_BLOCK_BYTES;
      d[s * nOut + o] = halfToFloat(src[at] | (src[at + 1] << 8));
      dmin[s * nOut + o] = halfToFloat(src[at + 2] | (src[at + 3] << 8));
      const packed = at + 4;
      for (let j = 0; j < 8; j++) {
        // ggml's get_scale_min_k4
        const scale = j < 4 ? src[packed + j] & 63 : (src[packed + j + 4] & 15) | ((src[packed + j - 4] >> 6) << 4);
        const min = j < 4 ? src[packed + j + 4] & 63 : (src[packed + j + 4] >> 4) | ((src[packed + j] >> 6) << 4);
        sc[(s * 8 + j) * nOut + o] = scale;
        mins[(s * 8 + j) * nOut + o] = min;
        const qs = at + 16 + 32 * (j >> 1);
        const shift = 4 * (j & 1);
        for (let i = 0; i < 32; i++) {
          const nibble = (src[qs + i] >> shift) & 15;
          const p = (s * QK_K + 32 * j + i) * colBytes + byteInColumn;
          out[p] = high ? (out[p] & 0x0f) | (nibble << 4) : (out[p] & 0xf0) | nibble;
        }
      }
    }
  }
}

// ---- q8 stream columns (a q8 .dipstream's MLP column blocks, docs/stream-format.md) ----
// One column of n outputs is self-contained: int8 quants q[0, n), then one f16 scale per block of
// 32 outputs (the last block may be shorter), the part padded to 4 bytes. w[o] = scale[o / 32] *
// q[o]; the product is exact in f32 (an 11-bit scale times an 8-bit integer), so the stream's
// gather (assembly/stream/gather-q8.ts) adds the same f32 values as an f32 gather of the
// dequantized column would.

/** Bytes of one q8 stream column of n outputs: quants, f16 scales per 32, padded to 4. */
export function q8ColumnBytes(n: number): number {
  return Math.ceil((n + 2 * q8Blocks(n)) / 4) * 4;
}

/** Bytes of a row-major q8 matrix in the engine's tiles (whole tiles of 8 rows x 32 values; q8Bytes in the wasm). */
export function q8TileBytes(rows: number, n: number): number {
  return Math.ceil(rows / Q8_TILE_ROWS) * q8Blocks(n) * Q8_TILE_BYTES;
}

/** Quantizes a[start + i * stride] for i in [0, n) into one q8 stream column at out[at, at + q8ColumnBytes(n)). */
export function quantizeQ8ColumnInto(out: Uint8Array, at: number, a: Float32Array, start: number, stride: number, n: number): void {
  const quants = new Int8Array(out.buffer, out.byteOffset + at, n);
  const view = new DataView(out.buffer, out.byteOffset + at, q8ColumnBytes(n));
  for (let b = 0; b * Q8_BLOCK < n; b++) {
    const end = Math.min(n, (b + 1) * Q8_BLOCK);
    let amax = 0;
    for (let o = b * Q8_BLOCK; o < end; o++) amax = Math.max(amax, Math.abs(a[start + o * stride]));
    // a normal f16, at least 2^-14, as the input-major layout's scales (the gather decodes them by integer ops)
    const h = Math.max(HALF_MIN_NORMAL, floatToHalfBits(amax / 127));
    if (h >= 0x7c00) throw new RangeError(`q8: weight magnitude ${amax} is beyond the f16 block scale (max |w| ${(65504 * 127).toExponential(3)})`);
    const inv = 1 / halfToFloat(h);
    view.setUint16(n + 2 * b, h, true);
    for (let o = b * Q8_BLOCK; o < end; o++) quants[o] = roundQ8(a[start + o * stride] * inv);
  }
}

/** The n f32 values of a q8 stream column at bytes[at, ...). */
export function dequantizeQ8Column(bytes: Uint8Array, at: number, n: number): Float32Array {
  const quants = new Int8Array(bytes.buffer, bytes.byteOffset + at, n);
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, q8ColumnBytes(n));
  const out = new Float32Array(n);
  for (let o = 0; o < n; o++) out[o] = halfToFloat(view.getUint16(n + 2 * Math.floor(o / Q8_BLOCK), true)) * quants[o];
  return out;
}

// ---- q4_0 stream columns (a q4_0 .dipstream's MLP column blocks) ----
// One column of n outputs is ggml Q4_0 blocks along the column, ceil(n / 32) of 18 bytes: f16 d,
// then 16 bytes holding outputs i (low nibble) and i + 16 (high nibble) of the block as q in
// [0, 15], w = d * (q - 8) (exact in f32). Quantized by ggml's reference Q4_0 quantizer; a
// partial last block is zero-padded; a block whose d would be a subnormal f16 (all |w| below
// ~5e-4) is stored as zeros (d = 0), which the gather's f16 decode (sign, normal or zero) needs.

/** Bytes of one q4_0 stream column of n outputs (4.5 bits per weight when n is a multiple of 32). */
export function q4ColumnBytes(n: number): number {
  return Q4_0_BLOCK_BYTES * Math.ceil(n / Q8_BLOCK);
}

/** Quantizes a[start + i * stride] for i in [0, n) into one q4_0 stream column at out[at, at + q4ColumnBytes(n)). */
export function quantizeQ4ColumnInto(out: Uint8Array, at: number, a: Float32Array, start: number, stride: number, n: number): void {
  const padded = new Float32Array(Math.ceil(n / Q8_BLOCK) * Q8_BLOCK);
  for (let o = 0; o < n; o++) padded[o] = a[start + o * stride];
  quantizeRow(GGML_TYPE.Q4_0, padded, padded.length, out, at);
  for (let b = at; b < at + q4ColumnBytes(n); b += Q4_0_BLOCK_BYTES) {
    const h = out[b] | (out[b + 1] << 8);
    if ((h & 0x7c00) === 0 && (h & 0x3ff) !== 0) out.fill(0, b, b + 2).fill(0x88, b + 2, b + Q4_0_BLOCK_BYTES); // subnormal d: zeros
    if ((h & 0x7c00) === 0x7c00) throw new RangeError(`q4_0: a weight block's scale is not finite (max |w| ${(65504 * 8).toExponential(3)})`);
  }
}

/** The n f32 values of a q4_0 stream column at bytes[at, ...). */
export function dequantizeQ4Column(bytes: Uint8Array, at: number, n: number): Float32Array {
  const padded = new Float32Array(Math.ceil(n / Q8_BLOCK) * Q8_BLOCK);
  dequantizeRow(GGML_TYPE.Q4_0, bytes, at, padded.length, padded);
  return padded.subarray(0, n);
}
