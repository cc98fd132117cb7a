// Which engine dtype (assembly/abi.ts DTYPE_*) each weight matrix is laid out in under a --dtype:
//   f32    every matrix expanded to f32 (a quantized file's values exactly: the exactness check)
//   q8     every matrix quantized to the engine's q8 layouts at load
//   native a quantized GGUF's matrices as close to the file as the engine's kernels go:
//          - row-major (attention, embedding, LM head): Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K,
//            Q5_K, Q6_K blocks as stored; Q8_0 into the q8 tiles exactly (its f16 scales widened
//            to f32, 36 bytes per 32 values instead of 34)
//          - input-major (the MLP, which DIP gathers by column): Q4_0 transposed into the input-major
//            Q4_0 layout (4.5 bits per weight, exact) when its scales are zero or normal f16;
//            Q4_K into the input-major Q4_K layout (4.75 bits, exact); otherwise the q8
//            input-major layout, exact for Q8_0 and Q4_0 (f16 block scales kept, quant values
//            unchanged) and re-encoded from the exact f32 values for the other types (Q6_K,
//            Q5_K, ...: bench/README.md has the cost)
//          - matrices the file stores as F32/F16/BF16: f32, exactly
//          - a q8 .dipstream's static matrices (stored in the engine's q8 tiles): q8, as stored
//            (under q8 too; only f32 expands them)
// The layout (host/engine-layout.ts) and the byte accounting (host/engine-bytes.ts) both ask here.

import { DTYPE_F32, DTYPE_Q2_K, DTYPE_Q3_K, DTYPE_Q4_0, DTYPE_Q4_1, DTYPE_Q4_K, DTYPE_Q5_0, DTYPE_Q5_1, DTYPE_Q5_K, DTYPE_Q6_K, DTYPE_Q8, type WeightDtype } from "./abi.js";
import { GGML_TYPE } from "./formats/ggml-blocks.js";
import type { Q8TileMatrix, QuantizedMatrix } from "./model.js";
import { q4_0ScalesFitInputMajor } from "./quant.js";

/** ggml types whose blocks the engine's row-major kernels run as stored. */
const STORED_ROW_MAJOR: Record<number, number> = {
  [GGML_TYPE.Q4_0]: DTYPE_Q4_0, [GGML_TYPE.Q4_1]: DTYPE_Q4_1, [GGML_TYPE.Q5_0]: DTYPE_Q5_0, [GGML_TYPE.Q5_1]: DTYPE_Q5_1,
  [GGML_TYPE.Q2_K]: DTYPE_Q2_K, [GGML_TYPE.Q3_K]: DTYPE_Q3_K, [GGML_TYPE.Q4_K]: DTYPE_Q4_K, [GGML_TYPE.Q5_K]: DTYPE_Q5_K, [GGML_TYPE.Q6_K]: DTYPE_Q6_K,
};

/** The dtype a row-major matrix (quantized by the file as `q`, or stored in q8 tiles, or neither) is laid out in. */
export function rowMajorDtype(dtype: WeightDtype, q: QuantizedMatrix | undefined, tiles?: Q8TileMatrix): number {
  if (dtype === "f32") return DTYPE_F32;
  if (dtype === "q8" || tiles) return DTYPE_Q8;
  if (!q) return DTYPE_F32;
  return STORED_ROW_MAJOR[q.ggmlType] ?? DTYPE_Q8;
}

/** The dtype an input-major (MLP) matrix is laid out in. */
export function inputMajorDtype(dtype: WeightDtype, q: QuantizedMatrix | undefined): number {
  if (dtype === "f32") return DTYPE_F32;
  if (dtype === "q8") return DTYPE_Q8;
  if (!q) return DTYPE_F32;
  if (q.ggmlType === GGML_TYPE.Q4_K) return DTYPE_Q4_K;
  return q.ggmlType === GGML_TYPE.Q4_0 && q4_0ScalesFitInputMajor(q) ? DTYPE_Q4_0 : DTYPE_Q8;
}
