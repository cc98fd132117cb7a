// Byte accounting of a model in the engine: what it needs in wasm memory (refused up front when
// over wasm32's reach), what it stores, and what one dense token reads. Every size is the wasm's own
// formula for the dtype (host/abi.ts layoutBytes), the one its byte counters count with.

import type { LoadedModel, ModelConfig } from "./model.js";
import { headDim } from "./model.js";
import { layoutBytes, WEIGHT_DTYPES, type EngineExports, type LayoutBytes, type WeightDtype } from "./abi.js";
import type { MemoryNeed } from "./memory-cap.js";

/** wasm32 addresses 4 GiB; a model may use all but headroom for the runtime and activations. */
export const WASM32_USABLE_BYTES = 4 * 1024 ** 3 - 64 * 1024 ** 2;

export interface WeightBytes {
  embedding: number;
  attention: number;
  mlp: number;
  lm_head: number;
}

/** Bytes of one layer's attention matrices (row-major, read whole by a dense matvec). */
function attentionMatrixBytes(bytes: LayoutBytes, c: ModelConfig): number {
  const hd = headDim(c);
  return bytes.matrix(c.nHeads * hd, c.dim) + 2 * bytes.matrix(c.nKvHeads * hd, c.dim) + bytes.matrix(c.dim, c.nHeads * hd);
}

/** Bytes of one layer's input-major MLP matrices as stored. */
function mlpStoredBytes(bytes: LayoutBytes, c: ModelConfig): number {
  return 2 * bytes.inputMajor(c.dim, c.hiddenDim) + bytes.inputMajor(c.hiddenDim, c.dim);
}

/** Bytes of one layer's MLP matrices as a dense token reads them. */
function mlpReadBytes(bytes: LayoutBytes, c: ModelConfig): number {
  return 2 * bytes.allColumns(c.dim, c.hiddenDim) + bytes.allColumns(c.hiddenDim, c.dim);
}

/** Bytes of weights (in `dtype`) plus the f32 KV cache the engine needs in wasm memory. */
function requiredBytes(wasm: EngineExports, c: ModelConfig, dtype: WeightDtype): number {
  const bytes = layoutBytes(wasm, dtype);
  const perLayer = 8 * c.dim + attentionMatrixBytes(bytes, c) + mlpStoredBytes(bytes, c);
  const kv = 4 * 2 * c.nLayers * c.seqLen * c.nKvHeads * headDim(c);
  return bytes.matrix(c.vocabSize, c.dim) * (c.tiedEmbeddings ? 1 : 2) + 4 * c.dim + c.nLayers * perLayer + kv;
}

/** What the model needs in wasm memory, for the cap a webview puts on it (host/memory-cap.ts). */
export function memoryNeed(wasm: EngineExports, model: LoadedModel, dtype: WeightDtype, streamDramBytes?: number): MemoryNeed {
  const c = model.config;
  const bytesIn = Object.fromEntries(WEIGHT_DTYPES.map((d) => [d, requiredBytes(wasm, c, d)])) as Record<WeightDtype, number>;
  const mlpF32 = c.nLayers * mlpStoredBytes(layoutBytes(wasm, "f32"), c);
  return { bytes: bytesIn[dtype], dtype, bytesIn, streamDramBytes, residentOutsideMlpF32: bytesIn.f32 - mlpF32 };
}

/** A model (as its file describes it: dims, context) too large for wasm32: a clear refusal of that input. */
export class ModelTooLargeError extends RangeError {
  override name = "ModelTooLargeError";
}

/** Refuses a model that does not fit wasm32 in `dtype`, naming its size and the dtype that would fit. */
export function checkFitsWasm32(wasm: EngineExports, model: LoadedModel, dtype: WeightDtype, mlpStreamed: boolean): void {
  const c = model.config;
  // streamed MLP columns are not resident (their cache is bounded by the DRAM budget instead)
  const need = requiredBytes(wasm, c, dtype) - (mlpStreamed ? c.nLayers * mlpStoredBytes(layoutBytes(wasm, dtype), c) : 0);
  if (need <= WASM32_USABLE_BYTES) return;
  const fits = WEIGHT_DTYPES.filter((d) => requiredBytes(wasm, c, d) <= WASM32_USABLE_BYTES);
  throw new ModelTooLargeError(
    `${model.name} needs ${(need / 1e9).toFixed(2)} GB of wasm memory in ${dtype} (weights + KV cache for ${c.seqLen} positions), ` +
      `over the ${(WASM32_USABLE_BYTES / 1e9).toFixed(2)} GB that wasm32 can address; ` +
      (fits.length ? `it fits with --dtype ${fits.join(" or ")}` : "no supported dtype fits"),
  );
}

/** Weight bytes one dense token reads, by group, counted as the engine's byte counter counts. */
export function denseBytesPerToken(wasm: EngineExports, c: ModelConfig, dtype: WeightDtype): WeightBytes {
  const bytes = layoutBytes(wasm, dtype);
  return {
    embedding: bytes.row(c.dim),
    attention: c.nLayers * attentionMatrixBytes(bytes, c),
    mlp: c.nLayers * mlpReadBytes(bytes, c),
    lm_head: bytes.matrix(c.vocabSize, c.dim),
  };
}

/** Weight bytes of the model by group as stored in wasm memory (norms and biases are f32). */
export function storedWeightBytes(wasm: EngineExports, model: LoadedModel, dtype: WeightDtype): WeightBytes {
  const c = model.config;
  const bytes = layoutBytes(wasm, dtype);
  const bias = model.weights.layers[0]?.bq ? 4 * (c.nHeads + 2 * c.nKvHeads) * headDim(c) : 0;
  return {
    embedding: bytes.matrix(c.vocabSize, c.dim),
    attention: c.nLayers * (8 * c.dim + bias + attentionMatrixBytes(bytes, c)),
    mlp: c.nLayers * mlpReadBytes(bytes, c),
    lm_head: c.tiedEmbeddings ? 0 : bytes.matrix(c.vocabSize, c.dim),
  };
}
