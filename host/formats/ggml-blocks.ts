// ggml's tensor types: block layouts, exact dequantization to f32, and the reference quantizers.
// Layouts follow llama.cpp's ggml-common.h block structs; dequantization follows ggml-quants.c's
// dequantize_row_* step by step in f32 (Math.fround after each operation ggml does in float), so
// every value equals what ggml (and gguf-py) produce, bit for bit. Quantizers follow ggml's
// quantize_row_*_ref (no importance matrix): what llama-quantize writes without --imatrix.
// This module is runtime-neutral and has no state beyond two lookup tables.
import { floatToHalfBits, halfToFloat } from "../float16.js";

/** ggml_type numbers (ggml.h) of the types this module reads. */
export const GGML_TYPE = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q2_K: 10,
  Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30,
} as const;

/** Every ggml_type name (ggml.h), so a type this module cannot read is still named in errors. */
export const GGML_TYPE_NAMES: Record<number, string> = {
  0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
  10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K",
  16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
  23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16",
  34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
};

export function ggmlTypeName(type: number): string {
  return GGML_TYPE_NAMES[type] ?? "unknown";
}

/** Values per super-block of the k-quants (ggml's QK_K). */
export const QK_K = 256;

/** Values per block and bytes per block of each readable type (ggml-common.h's block structs). */
const BLOCKS: Record<number, { name: string; blockElems: number; blockBytes: number }> = {
  [GGML_TYPE.F32]: { name: "F32", blockElems: 1, blockBytes: 4 },
  [GGML_TYPE.F16]: { name: "F16", blockElems: 1, blockBytes: 2 },
  [GGML_TYPE.BF16]: { name: "BF16", blockElems: 1, blockBytes: 2 },
  // d (f16), 16 bytes of nibbles
  [GGML_TYPE.Q4_0]: { name: "Q4_0", blockElems: 32, blockBytes: 18 },
  // d, m (f16), 16 bytes of nibbles
  [GGML_TYPE.Q4_1]: { name: "Q4_1", blockElems: 32, blockBytes: 20 },
  // d, qh (u32 of 5th bits), 16 bytes of nibbles
  [GGML_TYPE.Q5_0]: { name: "Q5_0", blockElems: 32, blockBytes: 22 },
  // d, m, qh, 16 bytes of nibbles
  [GGML_TYPE.Q5_1]: { name: "Q5_1", blockElems: 32, blockBytes: 24 },
  // d, 32 int8
  [GGML_TYPE.Q8_0]: { name: "Q8_0", blockElems: 32, blockBytes: 34 },
  // scales[16] (4-bit scale | 4-bit min), qs[64], d, dmin
  [GGML_TYPE.Q2_K]: { name: "Q2_K", blockElems: QK_K, blockBytes: 84 },
  // hmask[32], qs[64], scales[12] (16 x 6 bits), d
  [GGML_TYPE.Q3_K]: { name: "Q3_K", blockElems: QK_K, blockBytes: 110 },
  // d, dmin, scales[12] (8 x 6-bit scale and min), qs[128]
  [GGML_TYPE.Q4_K]: { name: "Q4_K", blockElems: QK_K, blockBytes: 144 },
  // d, dmin, scales[12], qh[32], qs[128]
  [GGML_TYPE.Q5_K]: { name: "Q5_K", blockElems: QK_K, blockBytes: 176 },
  // ql[128], qh[64], scales[16] (int8), d
  [GGML_TYPE.Q6_K]: { name: "Q6_K", blockElems: QK_K, blockBytes: 210 },
};

/** The block layout of a readable type, or undefined for any other (IQ*, TQ*, MXFP4, ...). */
export function ggmlBlock(type: number): { name: string; blockElems: number; blockBytes: number } | undefined {
  return BLOCKS[type];
}

/** Bytes of n values of `type` (n a multiple of its block size). */
export function ggmlRowBytes(type: number, n: number): number {
  const b = BLOCKS[type];
  if (!b) throw new RangeError(`ggml type ${type} (${ggmlTypeName(type)}) has no block layout here`);
  return (n / b.blockElems) * b.blockBytes;
}

let halfTable: Float32Array | undefined;

/** All 65536 f16 bit patterns as f32 (exact: every f16 is an f32). */
function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

const fround = Math.fround;

/**
 * Dequantizes n values of `type` (n a multiple of its block size) from `src` at byte `srcOffset`
 * into `out` from index `outOffset`, exactly as ggml's dequantize_row_* does in f32.
 */
export function dequantizeRow(type: number, src: Uint8Array, srcOffset: number, n: number, out: Float32Array, outOffset = 0): void {
  const block = BLOCKS[type];
  if (!block) throw new RangeError(`cannot dequantize ggml type ${type} (${ggmlTypeName(type)})`);
  if (n % block.blockElems !== 0) throw new RangeError(`${block.name}: ${n} values is not a multiple of the block size ${block.blockElems}`);
  const nb = n / block.blockElems;
  if (srcOffset < 0 || srcOffset + nb * block.blockBytes > src.length) {
    throw new RangeError(`${block.name}: ${n} values need bytes ${srcOffset} to ${srcOffset + nb * block.blockBytes}, source has ${src.length}`);
  }
  if (outOffset < 0 || outOffset + n > out.length) throw new RangeError(`${block.name}: output holds ${out.length} values, ${outOffset + n} needed`);
  const half = halfToFloatTable();
  const u16 = (at: number): number => src[at] | (src[at + 1] << 8);
  const f16 = (at: number): number => half[src[at] | (src[at + 1] << 8)];
  let y = outOffset;
  switch (type) {
    case GGML_TYPE.F32: {
      const view = new DataView(src.buffer, src.byteOffset + srcOffset, n * 4);
      for (let i = 0; i < n; i++) out[y + i] = view.getFloat32(i * 4, true);
      return;
    }
    case GGML_TYPE.F16:
      for (let i = 0; i < n; i++) out[y + i] = f16(srcOffset + 2 * i);
      return;
    case GGML_TYPE.BF16: {
      // bf16 is the top half of an f32
      const bits = new Uint32Array(1);
      const asFloat = new Float32Array(bits.buffer);
      for (let i = 0; i < n; i++) {
        bits[0] = u16(srcOffset + 2 * i) << 16;
        out[y + i] = asFloat[0];
      }
      return;
    }
    case GGML_TYPE.Q4_0:
      for (let b = 0, at = srcOffset; b < nb; b++, at += 18, y += 32) {
        const d = f16(at);
        for (let j = 0; j < 16; j++) {
          const q = src[at + 2 + j];
          out[y + j] = ((q & 0x0f) - 8) * d;
          out[y + j + 16] = ((q >> 4) - 8) * d;
        }
      }
      return;
    case GGML_TYPE.Q4_1:
      for (let b = 0, at = srcOffset; b < nb; b++, at += 20, y += 32) {
        const d = f16(at);
        const m = f16(at + 2);
        for (let j = 0; j < 16; j++) {
          const q = src[at + 4 + j];
          out[y + j] = fround((q & 0x0f) * d) + m;
          out[y + j + 16] = fround((q >> 4) * d) + m;
        }
      }
      return;
    case GGML_TYPE.Q5_0:
      for (let b = 0, at = srcOffset; b < nb; b++, at += 22, y += 32) {
        const d = f16(at);
        const qh = readU32(src, at + 2);
        for (let j = 0; j < 16; j++) {
          const q = src[at + 6 + j];
          out[y + j] = (((q & 0x0f) | (((qh >>> j) & 1) << 4)) - 16) * d;
          out[y + j + 16] = (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
        }
      }
      return;
    case GGML_TYPE.Q5_1:
      for (let b = 0, at = srcOffset; b < nb; b++, at += 24, y += 32) {
        const d = f16(at);
        const m = f16(at + 2);
        const qh = readU32(src, at + 4);
        for (let j = 0; j < 16; j++) {
          const q = src[at + 8 + j];
          out[y + j] = fround(((q & 0x0f) | (((qh >>> j) & 1) << 4)) * d) + m;
          out[y + j + 16] = fround(((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d) + m;
        }
      }
      return;
    case GGML_TYPE.Q8_0:
      for (let b = 0, at = srcOffset; b < nb; b++, at += 34, y += 32) {
        const d = f16(at);
        for (let j = 0; j < 32; j++) out[y + j] = ((src[at + 2 + j] << 24) >> 24) * d;
      }
      return;
    case GGML_TYPE.Q2_K:
      for (let b = 0, at = srcOffset; b < nb; b++, at += 84, y += QK_K) {
        const d = f16(at + 80);
        const dmin = f16(at + 82);
        // 2 halves of 128: 4 shifts of 2 bits over the same 32 bytes, 16 values per scale
        for (let h = 0; h < 2; h++) {
          const qs = at + 16 + 32 * h;
          for (let j = 0; j < 4; j++) {
            for (let s = 0; s < 2; s++) {
              const sc = src[at + 8 * h + 2 * j + s];
              const dl = fround(d * (sc & 0x0f));
              const ml = fround(dmin * (sc >> 4));
              const base = y + 128 * h + 32 * j + 16 * s;
              for (let l = 0; l < 16; l++) out[base + l] = fround(dl * ((src[qs + 16 * s + l] >> (2 * j)) & 3)) - ml;
            }
          }
        }
      }
      return;
    case GGML_TYPE.Q3_K: {
      const scales = new Int32Array(16);
      for (let b = 0, at = srcOffset; b < nb; b++, at += 110, y += QK_K) {
        const d = f16(at + 108);
        q3kScales(src, at + 96, scales);
        for (let h = 0; h < 2; h++) {
          const qs = at + 32 + 32 * h;
          for (let j = 0; j < 4; j++) {
            const highBit = 1 << (4 * h + j);
            for (let s = 0; s < 2; s++) {
              const dl = fround(d * scales[8 * h + 2 * j + s]);
              const base = y + 128 * h + 32 * j + 16 * s;
              for (let l = 0; l < 16; l++) {
                const i = 16 * s + l;
                // the high bit set means q in 0..3, clear means q - 4
                const q = ((src[qs + i] >> (2 * j)) & 3) - (src[at + i] & highBit ? 0 : 4);
                out[base + l] = dl * q;
              }
            }
          }
        }
      }
      return;
    }
    case GGML_TYPE.Q4_K:
    case GGML_TYPE.Q5_K: {
      const five = type === GGML_TYPE.Q5_K;
      const bytes = five ? 176 : 144;
      const sm = new Uint8Array(2);
      for (let b = 0, at = srcOffset; b < nb; b++, at += bytes, y += QK_K) {
        const d = f16(at);
        const dmin = f16(at + 2);
        const qh = at + 16;
        const qs = at + (five ? 48 : 16);
        // 4 groups of 64: low nibbles (scale 2g), then high nibbles (scale 2g + 1) of 32 bytes
        for (let g = 0; g < 4; g++) {
          for (let s = 0; s < 2; s++) {
            scaleMinK4(src, at + 4, 2 * g + s, sm);
            const d1 = fround(d * sm[0]);
            const m1 = fround(dmin * sm[1]);
            const shift = 4 * s;
            const highBit = 1 << (2 * g + s);
            const base = y + 64 * g + 32 * s;
            for (let l = 0; l < 32; l++) {
              let q = (src[qs + 32 * g + l] >> shift) & 0x0f;
              if (five && src[qh + l] & highBit) q += 16;
              out[base + l] = fround(d1 * q) - m1;
            }
          }
        }
      }
      return;
    }
    case GGML_TYPE.Q6_K:
      for (let b = 0, at = srcOffset; b < nb; b++, at += 210, y += QK_K) {
        const d = f16(at + 208);
        for (let h = 0; h < 2; h++) {
          const ql = at + 64 * h;
          const qh = at + 128 + 32 * h;
          const sc = at + 192 + 8 * h;
          const base = y + 128 * h;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const hb = src[qh + l];
            const q1 = ((src[ql + l] & 0x0f) | ((hb & 3) << 4)) - 32;
            const q2 = ((src[ql + l + 32] & 0x0f) | (((hb >> 2) & 3) << 4)) - 32;
            const q3 = ((src[ql + l] >> 4) | (((hb >> 4) & 3) << 4)) - 32;
            const q4 = ((src[ql + l + 32] >> 4) | (((hb >> 6) & 3) << 4)) - 32;
            out[base + l] = fround(d * int8(src[sc + is])) * q1;
            out[base + l + 32] = fround(d * int8(src[sc + is + 2])) * q2;
            out[base + l + 64] = fround(d * int8(src[sc + is + 4])) * q3;
            out[base + l + 96] = fround(d * int8(src[sc + is + 6])) * q4;
          }
        }
      }
      return;
  }
}

const int8 = (b: number): number => (b << 24) >> 24;

function readU32(src: Uint8Array, at: number): number {
  return (src[at] | (src[at + 1] << 8) | (src[at + 2] << 16) | (src[at + 3] << 24)) >>> 0;
}

/** Q4_K/Q5_K's 6-bit scale and min of sub-block j from the 12 packed bytes at `at` (get_scale_min_k4). */
function scaleMinK4(src: Uint8Array, at: number, j: number, out: Uint8Array): void {
  if (j < 4) {
    out[0] = src[at + j] & 63;
    out[1] = src[at + j + 4] & 63;
  } else {
    out[0] = (src[at + j + 4] & 0x0f) | ((src[at + j - 4] >> 6) << 4);
    out[1] = (src[at + j + 4] >> 4) | ((src[at + j] >> 6) << 4);
  }
}

/** Q3_K's 16 signed 6-bit scales from the 12 packed bytes at `at`: low 4 bits, then 2 high bits. */
function q3kScales(src: Uint8Array, at: number, out: Int32Array): void {
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? src[at + j] & 0x0f : src[at + j - 8] >> 4;
    const high = (src[at + 8 + (j % 4)] >> (2 * (j >> 2))) & 3;
    out[j] = (low | (high << 4)) - 32;
  }
}

// ---------------------------------------------------------------------------------------------
// Quantizers: ggml's quantize_row_*_ref, f32 arithmetic emulated step by step.

/** The types quantizeRow writes. */
export const QUANTIZABLE_TYPES: readonly number[] = [
  GGML_TYPE.Q4_0, GGML_TYPE.Q4_1, GGML_TYPE.Q5_0, GGML_TYPE.Q5_1, GGML_TYPE.Q8_0,
  GGML_TYPE.Q4_K, GGML_TYPE.Q5_K, GGML_TYPE.Q6_K,
];

/** ggml's GROUP_MAX_EPS: a group whose largest |x| is below it quantizes to zeros. */
const GROUP_MAX_EPS = fround(1e-15);

/**
 * Quantizes x[0..n) (n a multiple of the block size) into `out` from byte `outOffset`, as ggml's
 * quantize_row_*_ref. An importance matrix (llama-quantize --imatrix) is not supported.
 */
export function quantizeRow(type: number, x: Float32Array, n: number, out: Uint8Array, outOffset = 0, importance?: Float32Array): void {
  const block = BLOCKS[type];
  if (!block || !QUANTIZABLE_TYPES.includes(type)) {
    throw new RangeError(`cannot quantize to ggml type ${type} (${ggmlTypeName(type)}); supported: ${QUANTIZABLE_TYPES.map(ggmlTypeName).join(", ")}`);
  }
  if (importance !== undefined) throw new RangeError("quantizeRow: importance weights (imatrix) are not supported; ggml's reference quantizers use none");
  if (n % block.blockElems !== 0) throw new RangeError(`${block.name}: ${n} values is not a multiple of the block size ${block.blockElems}`);
  if (n > x.length) throw new RangeError(`${block.name}: ${n} values asked, input has ${x.length}`);
  const nb = n / block.blockElems;
  if (outOffset < 0 || outOffset + nb * block.blockBytes > out.length) throw new RangeError(`${block.name}: output needs bytes ${outOffset} to ${outOffset + nb * block.blockBytes}, has ${out.length}`);
  for (let b = 0; b < nb; b++) {
    const xb = x.subarray(b * block.blockElems, (b + 1) * block.blockElems);
    const at = outOffset + b * block.blockBytes;
    out.fill(0, at, at + block.blockBytes);
    switch (type) {
      case GGML_TYPE.Q4_0: quantizeQ4_0(xb, out, at); break;
      case GGML_TYPE.Q4_1: quantizeQ4_1(xb, out, at); break;
      case GGML_TYPE.Q5_0: quantizeQ5_0(xb, out, at); break;
      case GGML_TYPE.Q5_1: quantizeQ5_1(xb, out, at); break;
      case GGML_TYPE.Q8_0: quantizeQ8_0(xb, out, at); break;
      case GGML_TYPE.Q4_K: quantizeQ45K(xb, out, at, false); break;
      case GGML_TYPE.Q5_K: quantizeQ45K(xb, out, at, true); break;
      case GGML_TYPE.Q6_K: quantizeQ6K(xb, out, at); break;
    }
  }
}

function writeHalf(out: Uint8Array, at: number, v: number): void {
  const h = floatToHalfBits(v);
  out[at] = h & 0xff;
  out[at + 1] = h >> 8;
}

function writeU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v & 0xff;
  out[at + 1] = (v >>> 8) & 0xff;
  out[at + 2] = (v >>> 16) & 0xff;
  out[at + 3] = (v >>> 24) & 0xff;
}

/** C's roundf: to nearest, halves away from zero. */
const roundAway = (v: number): number => (v < 0 ? -Math.round(-v) : Math.round(v));

/** The value of largest magnitude (the first of equals), as ggml's "amax < fabsf(v)" scan. */
function signedMax(x: Float32Array): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < x.length; j++) {
    if (amax < Math.abs(x[j])) {
      amax = Math.abs(x[j]);
      max = x[j];
    }
  }
  return max;
}

function minMax(x: Float32Array): [number, number] {
  let min = Infinity; // ggml starts from +-FLT_MAX; the same for finite input
  let max = -Infinity;
  for (let j = 0; j < x.length; j++) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  return [min, max];
}

function quantizeQ4_0(x: Float32Array, out: Uint8Array, at: number): void {
  const d = fround(signedMax(x) / -8);
  const id = d ? fround(1 / d) : 0;
  writeHalf(out, at, d);
  for (let j = 0; j < 16; j++) {
    // (int8_t)(v + 8.5f) truncates toward zero
    const x0 = Math.min(15, Math.trunc(fround(fround(x[j] * id) + 8.5)));
    const x1 = Math.min(15, Math.trunc(fround(fround(x[j + 16] * id) + 8.5)));
    out[at + 2 + j] = x0 | (x1 << 4);
  }
}

function quantizeQ4_1(x: Float32Array, out: Uint8Array, at: number): void {
  const [min, max] = minMax(x);
  const d = fround(fround(max - min) / 15);
  const id = d ? fround(1 / d) : 0;
  writeHalf(out, at, d);
  writeHalf(out, at + 2, min);
  for (let j = 0; j < 16; j++) {
    const x0 = Math.min(15, Math.trunc(fround(fround(fround(x[j] - min) * id) + 0.5)));
    const x1 = Math.min(15, Math.trunc(fround(fround(fround(x[j + 16] - min) * id) + 0.5)));
    out[at + 4 + j] = x0 | (x1 << 4);
  }
}

function quantizeQ5_0(x: Float32Array, out: Uint8Array, at: number): void {
  const d = fround(signedMax(x) / -16);
  const id = d ? fround(1 / d) : 0;
  writeHalf(out, at, d);
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const x0 = Math.min(31, Math.trunc(fround(fround(x[j] * id) + 16.5)));
    const x1 = Math.min(31, Math.trunc(fround(fround(x[j + 16] * id) + 16.5)));
    out[at + 6 + j] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
    qh |= ((x0 >> 4) & 1) << j;
    qh |= ((x1 >> 4) & 1) << (j + 16);
  }
  writeU32(out, at + 2, qh);
}

function quantizeQ5_1(x: Float32Array, out: Uint8Array, at: number): void {
  const [min, max] = minMax(x);
  const d = fround(fround(max - min) / 31);
  const id = d ? fround(1 / d) : 0;
  writeHalf(out, at, d);
  writeHalf(out, at + 2, min);
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    // (uint8_t) of a value in [0, 31.5]: truncation, no clamp in ggml
    const x0 = Math.trunc(fround(fround(fround(x[j] - min) * id) + 0.5)) & 0xff;
    const x1 = Math.trunc(fround(fround(fround(x[j + 16] - min) * id) + 0.5)) & 0xff;
    out[at + 8 + j] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
    qh |= ((x0 >> 4) & 1) << j;
    qh |= ((x1 >> 4) & 1) << (j + 16);
  }
  writeU32(out, at + 4, qh);
}

function quantizeQ8_0(x: Float32Array, out: Uint8Array, at: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[j]));
  // the quants divide by the unrounded scale; the file stores it rounded to f16
  const d = fround(amax / 127);
  const id = d ? fround(1 / d) : 0;
  writeHalf(out, at, d);
  for (let j = 0; j < 32; j++) out[at + 2 + j] = roundAway(fround(x[j] * id)) & 0xff;
}

const nearestBits = new Float32Array(1);
const nearestInt32 = new Int32Array(nearestBits.buffer);

/** ggml's nearest_int: f32 round to nearest even by adding 1.5 * 2^23 and reading the mantissa bits. */
function nearestInt(v: number): number {
  nearestBits[0] = fround(v) + 12582912;
  return (nearestInt32[0] & 0x007fffff) - 0x00400000;
}

/**
 * ggml's make_qkx2_quants: an asymmetric (scale, min) fit of x to levels 0..nmax by weighted
 * least squares over nstep+1 trial scales. Writes the levels to L, returns [scale, -min].
 */
function makeQkx2Quants(x: Float32Array, nmax: number, weights: Float32Array, L: Uint8Array, Laux: Uint8Array, rmin: number, rdelta: number, nstep: number): [number, number] {
  const n = x.length;
  let min = x[0];
  let max = x[0];
  let sumW = weights[0];
  let sumX = fround(sumW * x[0]);
  for (let i = 1; i < n; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const w = weights[i];
    sumW = fround(sumW + w);
    sumX = fround(sumX + fround(w * x[i]));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, 0, n);
    return [0, -min];
  }
  let iscale = fround(nmax / fround(max - min));
  let scale = fround(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = nearestInt(fround(iscale * fround(x[i] - min)));
    L[i] = Math.max(0, Math.min(nmax, l));
    const diff = fround(fround(fround(scale * L[i]) + min) - x[i]);
    bestError = fround(bestError + fround(weights[i] * fround(diff * diff)));
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = fround(fround(fround(rmin + fround(rdelta * is)) + nmax) / fround(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(fround(iscale * fround(x[i] - min)))));
      Laux[i] = l;
      const wl = fround(weights[i] * l);
      sumL = fround(sumL + wl);
      sumL2 = fround(sumL2 + fround(wl * l));
      sumXL = fround(sumXL + fround(wl * x[i]));
    }
    const D = fround(fround(sumW * sumL2) - fround(sumL * sumL));
    if (D > 0) {
      let thisScale = fround(fround(fround(sumW * sumXL) - fround(sumX * sumL)) / D);
      let thisMin = fround(fround(fround(sumL2 * sumX) - fround(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = fround(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        const diff = fround(fround(fround(thisScale * Laux[i]) + thisMin) - x[i]);
        curError = fround(curError + fround(weights[i] * fround(diff * diff)));
      }
      if (curError < bestError) {
        L.set(Laux.subarray(0, n));
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return [scale, -min];
}

/**
 * ggml's make_qx_quants with rmse_type 1 and no importance: a symmetric fit of x to levels
 * -nmax..nmax-1 (stored + nmax in L), weights x^2, over 19 trial scales. Returns the scale.
 */
function makeQxQuants(x: Float32Array, nmax: number, L: Int8Array): number {
  const n = x.length;
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, 0, n);
    return 0;
  }
  let iscale = fround(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  const accumulate = (i: number, l: number): void => {
    const w = fround(x[i] * x[i]);
    sumlx = fround(sumlx + fround(fround(w * x[i]) * l));
    suml2 = fround(suml2 + fround(fround(w * l) * l));
  };
  for (let i = 0; i < n; i++) {
    const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(fround(iscale * x[i]))));
    L[i] = l + nmax;
    accumulate(i, l);
  }
  let scale = suml2 ? fround(sumlx / suml2) : 0;
  let best = fround(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fround(-fround(nmax + fround(fround(0.1) * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) accumulate(i, Math.max(-nmax, Math.min(nmax - 1, nearestInt(fround(iscale * x[i])))));
    if (suml2 > 0 && fround(sumlx * sumlx) > fround(best * suml2)) {
      for (let i = 0; i < n; i++) L[i] = nmax + Math.max(-nmax, Math.min(nmax - 1, nearestInt(fround(iscale * x[i]))));
      scale = fround(sumlx / suml2);
      best = fround(scale * sumlx);
    }
  }
  return scale;
}

/** quantize_row_q4_K_ref / quantize_row_q5_K_ref: 8 sub-blocks of 32, 6-bit scales and mins. */
function quantizeQ45K(x: Float32Array, out: Uint8Array, at: number, five: boolean): void {
  const nmax = five ? 31 : 15;
  const L = new Uint8Array(QK_K);
  const Laux = new Uint8Array(32);
  const weights = new Float32Array(32);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const xs = x.subarray(32 * j, 32 * j + 32);
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = fround(sumX2 + fround(xs[l] * xs[l]));
    const avX = fround(Math.sqrt(fround(sumX2 / 32)));
    for (let l = 0; l < 32; l++) weights[l] = fround(avX + Math.abs(xs[l]));
    const [scale, min] = five
      ? makeQkx2Quants(xs, nmax, weights, L.subarray(32 * j, 32 * j + 32), Laux, fround(-0.5), fround(0.1), 15)
      : makeQkx2Quants(xs, nmax, weights, L.subarray(32 * j, 32 * j + 32), Laux, -1, fround(0.1), 20);
    scales[j] = scale;
    mins[j] = min;
    if (scale > maxScale) maxScale = scale;
    if (min > maxMin) maxMin = min;
  }
  const invScale = maxScale > 0 ? fround(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? fround(63 / maxMin) : 0;
  const sc = at + 4;
  for (let j = 0; j < 8; j++) {
    // (uint8_t) of the int, then MIN(63, .)
    const ls = Math.min(63, nearestInt(fround(invScale * scales[j])) & 0xff);
    const lm = Math.min(63, nearestInt(fround(invMin * mins[j])) & 0xff);
    if (j < 4) {
      out[sc + j] = ls;
      out[sc + j + 4] = lm;
    } else {
      out[sc + j + 4] = (ls & 0x0f) | ((lm & 0x0f) << 4);
      out[sc + j - 4] |= (ls >> 4) << 6;
      out[sc + j] |= (lm >> 4) << 6;
    }
  }
  writeHalf(out, at, fround(maxScale / 63));
  writeHalf(out, at + 2, fround(maxMin / 63));
  const half = halfToFloatTable();
  const dAll = half[out[at] | (out[at + 1] << 8)];
  const dminAll = half[out[at + 2] | (out[at + 3] << 8)];
  const sm = new Uint8Array(2);
  for (let j = 0; j < 8; j++) {
    scaleMinK4(out, sc, j, sm);
    const d = fround(dAll * sm[0]);
    if (!d) continue;
    const dm = fround(dminAll * sm[1]);
    for (let i = 0; i < 32; i++) {
      L[32 * j + i] = Math.max(0, Math.min(nmax, nearestInt(fround(fround(x[32 * j + i] + dm) / d))));
    }
  }
  if (!five) {
    const qs = at + 16;
    for (let g = 0; g < 4; g++) for (let l = 0; l < 32; l++) out[qs + 32 * g + l] = L[64 * g + l] | (L[64 * g + l + 32] << 4);
    return;
  }
  const qh = at + 16;
  const qs = at + 48;
  for (let g = 0; g < 4; g++) {
    for (let l = 0; l < 32; l++) {
      let l1 = L[64 * g + l];
      let l2 = L[64 * g + l + 32];
      if (l1 > 15) {
        l1 -= 16;
        out[qh + l] |= 1 << (2 * g);
      }
      if (l2 > 15) {
        l2 -= 16;
        out[qh + l] |= 2 << (2 * g);
      }
      out[qs + 32 * g + l] = l1 | (l2 << 4);
    }
  }
}

/** quantize_row_q6_K_ref: 16 sub-blocks of 16, int8 scales, 6-bit quants. */
function quantizeQ6K(x: Float32Array, out: Uint8Array, at: number): void {
  const L = new Int8Array(QK_K);
  const scales = new Float32Array(16);
  let maxScale = 0;
  let maxAbsScale = 0;
  for (let ib = 0; ib < 16; ib++) {
    const scale = makeQxQuants(x.subarray(16 * ib, 16 * ib + 16), 32, L.subarray(16 * ib, 16 * ib + 16));
    scales[ib] = scale;
    if (Math.abs(scale) > maxAbsScale) {
      maxAbsScale = Math.abs(scale);
      maxScale = scale;
    }
  }
  if (maxAbsScale < GROUP_MAX_EPS) return; // an all-zero block (already zero-filled, d = 0)
  const iscale = fround(-128 / maxScale);
  writeHalf(out, at + 208, fround(1 / iscale));
  const sc = at + 192;
  for (let ib = 0; ib < 16; ib++) out[sc + ib] = Math.min(127, nearestInt(fround(iscale * scales[ib]))) & 0xff;
  const dAll = halfToFloatTable()[out[at + 208] | (out[at + 209] << 8)];
  for (let j = 0; j < 16; j++) {
    const d = fround(dAll * int8(out[sc + j]));
    if (!d) continue;
    for (let i = 0; i < 16; i++) L[16 * j + i] = Math.max(-32, Math.min(31, nearestInt(fround(x[16 * j + i] / d)))) + 32;
  }
  for (let h = 0; h < 2; h++) {
    const ql = at + 64 * h;
    const qh = at + 128 + 32 * h;
    const base = 128 * h;
    for (let l = 0; l < 32; l++) {
      const q1 = L[base + l];
      const q2 = L[base + l + 32];
      const q3 = L[base + l + 64];
      const q4 = L[base + l + 96];
      out[ql + l] = (q1 & 0x0f) | ((q3 & 0x0f) << 4);
      out[ql + l + 32] = (q2 & 0x0f) | ((q4 & 0x0f) << 4);
      out[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
    }
  }
}
