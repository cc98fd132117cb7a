// Load-time quantization to the engine's q8 layout (assembly/kernels/q8.ts): int8 blocks of 32
// along each row with one f32 scale per block, quants first, scales after (4-byte aligned).
// Scale = max|x| / 127 per block, q = round-half-away-from-zero(x / scale), as llama.cpp's q8_0
// (whose scale is f16; ours stays f32, which only removes error).

export const Q8_BLOCK = 32;

export const q8Blocks = (n: number): number => Math.ceil(n / Q8_BLOCK);

/** Bytes of a q8 matrix of `rows` rows of n values. */
export function q8MatrixBytes(rows: number, n: number): number {
  return Math.ceil((rows * n) / 4) * 4 + rows * q8Blocks(n) * 4;
}

/** Quantizes a row-major [rows x n] f32 matrix into `out` (q8MatrixBytes(rows, n) bytes). */
export function quantizeQ8Into(out: Uint8Array, a: Float32Array, rows: number, n: number): void {
  if (a.length !== rows * n) throw new Error(`quantizeQ8: ${a.length} values for ${rows} x ${n}`);
  const quants = new Int8Array(out.buffer, out.byteOffset, rows * n);
  const scalesOffset = Math.ceil((rows * n) / 4) * 4;
  const nb = q8Blocks(n);
  const scales = new Float32Array(out.buffer, out.byteOffset + scalesOffset, rows * nb);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const start = r * n + b * Q8_BLOCK;
      const end = r * n + Math.min(n, (b + 1) * Q8_BLOCK);
      let amax = 0;
      for (let i = start; i < end; i++) amax = Math.max(amax, Math.abs(a[i]));
      const d = Math.fround(amax / 127);
      const inv = d > 0 ? 1 / d : 0;
      scales[r * nb + b] = d;
      for (let i = start; i < end; i++) {
        const v = a[i] * inv;
        quants[i] = Math.sign(v) * Math.min(127, Math.round(Math.abs(v)));
      }
    }
  }
}

/** Dequantizes a q8 matrix back to f32 (tests, reports). */
export function dequantizeQ8Matrix(bytes: Uint8Array, rows: number, n: number): Float32Array {
  const quants = new Int8Array(bytes.buffer, bytes.byteOffset, rows * n);
  const nb = q8Blocks(n);
  const scales = new Float32Array(bytes.buffer, bytes.byteOffset + Math.ceil((rows * n) / 4) * 4, rows * nb);
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) out[r * n + i] = scales[r * nb + Math.floor(i / Q8_BLOCK)] * quants[r * n + i];
  return out;
}
