// Byte accounting of a model in the engine: what it needs in wasm memory (refused up front when
// over wasm32's reach), what it stores, and what one dense token reads. Every size is the wasm's own
// formula for the dtype (host/abi.ts layoutBytes), the one its byte counters count with.

import type { LayerMatrixName, LoadedModel, Q8TileMatrix, QuantizedMatrix } from "./model.js";
import { headDim } from "./model.js";
import { inputMajorDtype, rowMajorDtype } from "./matrix-dtype.js";
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

/** The row-major and input-major byte formulas of one matrix of the model under `dtype`. */
function matrixLayout(wasm: EngineExports, dtype: WeightDtype, q: QuantizedMatrix | undefined, tiles?: Q8TileMatrix): { rowMajor: LayoutBytes; inputMajor: LayoutBytes } {
  return { rowMajor: layoutBytes(wasm, rowMajorDtype(dtype, q, tiles)), inputMajor: layoutBytes(wasm, inputMajorDtype(dtype, q)) };
}

/** Bytes of layer l's attention matrices (row-major, read whole by a dense matvec). */
function attentionMatrixBytes(wasm: EngineExports, model: LoadedModel, dtype: WeightDtype, l: number): number {
  const c = model.config;
  const hd = headDim(c);
  const q = model.weights.layers[l]?.quantized;
  const tiles = model.weights.layers[l]?.q8Tiles;
  const bytes = (name: LayerMatrixName, rows: number, cols: number) => matrixLayout(wasm, dtype, q?.[name], tiles?.[name]).rowMajor.matrix(rows, cols);
  return bytes("wq", c.nHeads * hd, c.dim) + bytes("wk", c.nKvHeads * hd, c.dim) + bytes("wv", c.nKvHeads * hd, c.dim) + bytes("wo", c.dim, c.nHeads * hd);
}

/** Bytes of layer l's input-major MLP matrices: as stored, or as a dense token reads them (all columns). */
function mlpBytes(wasm: EngineExports, model: LoadedModel, dtype: WeightDtype, l: number, read: boolean): number {
  const c = model.config;
  const q = model.weights.layers[l]?.quantized;
  const bytes = (name: LayerMatrixName, nIn: number, nOut: number) => {
    const b = matrixLayout(wasm, dtype, q?.[name]).inputMajor;
    return read ? b.allColumns(nIn, nOut) : b.inputMajor(nIn, nOut);
  };
  return bytes("wGate", c.dim, c.hiddenDim) + bytes("wUp", c.dim, c.hiddenDim) + bytes("wDown", c.hiddenDim, c.dim);
}

/** Sum of f over the layers. */
function overLayers(model: LoadedModel, f: (l: number) => number): number {
  let sum = 0;
  for (let l = 0; l < model.config.nLayers; l++) sum += f(l);
  return sum;
}

/** The embedding's and the LM head's row-major byte formulas (the LM head's is the embedding's when tied). */
function tableLayouts(wasm: EngineExports, model: LoadedModel, dtype: WeightDtype): { embedding: LayoutBytes; lmHead: LayoutBytes } {
  const q = model.weights.quantized;
  const tiles = model.weights.q8Tiles;
  const embedding = matrixLayout(wasm, dtype, q?.tokenEmbedding, tiles?.tokenEmbedding).rowMajor;
  return { embedding, lmHead: model.config.tiedEmbeddings ? embedding : matrixLayout(wasm, dtype, q?.lmHead, tiles?.lmHead).rowMajor };
}

/** Bytes of weights (in `dtype`) plus the f32 KV cache the engine needs in wasm memory; without the MLP when it is streamed. */
function requiredBytes(wasm: EngineExports, model: LoadedModel, dtype: WeightDtype, mlpStreamed = false): number {
  const c = model.config;
  const tables = tableLayouts(wasm, model, dtype);
  const perLayer = overLayers(model, (l) => 8 * c.dim + attentionMatrixBytes(wasm, model, dtype, l) + (mlpStreamed ? 0 : mlpBytes(wasm, model, dtype, l, false)));
  const kv = 4 * 2 * c.nLayers * c.seqLen * c.nKvHeads * headDim(c);
  return tables.embedding.matrix(c.vocabSize, c.dim) + (c.tiedEmbeddings ? 0 : tables.lmHead.matrix(c.vocabSize, c.dim)) + 4 * c.dim + perLayer + kv;
}

/** What the model needs in wasm memory, for the cap a webview puts on it (host/memory-cap.ts). */
export function memoryNeed(wasm: EngineExports, model: LoadedModel, dtype: WeightDtype, streamDramBytes?: number): MemoryNeed {
  const bytesIn = Object.fromEntries(WEIGHT_DTYPES.map((d) => [d, requiredBytes(wasm, model, d)])) as Record<WeightDtype, number>;
  const mlpF32 = overLayers(model, (l) => mlpBytes(wasm, model, "f32", l, false));
  return { bytes: bytesIn[dtype], dtype, bytesIn, streamDramBytes, residentOutsideMlpF32: bytesIn.f32 - mlpF32 };
}

/** A model (as its file describes it: dims, context) too large for wasm32: a clear refusal of that input. */
export class ModelTooLargeError extends RangeError {
  override name = "ModelTooLargeError";
}

/**
 * Refuses a model that does not fit wasm32 in `dtype`, naming its size, the dtypes that would fit
 * and, when none does, streaming (--dram-budget) as the way past it.
 */
export function checkFitsWasm32(wasm: EngineExports, model: LoadedModel, dtype: WeightDtype, mlpStreamed: boolean): void {
  const c = model.config;
  // streamed MLP columns are not resident (their cache is bounded by the DRAM budget instead)
  const need = requiredBytes(wasm, model, dtype, mlpStreamed);
  if (need <= WASM32_USABLE_BYTES) return;
  const fits = WEIGHT_DTYPES.filter((d) => requiredBytes(wasm, model, d) <= WASM32_USABLE_BYTES);
  throw new ModelTooLargeError(
    `${model.name} needs ${(need / 1e9).toFixed(2)} GB of wasm memory in ${dtype} (weights + KV cache for ${c.seqLen} positions), ` +
      `over the ${(WASM32_USABLE_BYTES / 1e9).toFixed(2)} GB that wasm32 can address; ` +
      (fits.length ? `it fits with --dtype ${fits.join(" or ")}` : "no dtype fits: convert it to a .dipstream (dip convert --stream-layout --dtype q8 or q4_0: attention and tables quantized too) and stream its MLP from storage (--stream --dram BYTES)"),
  );
}

/** Weight bytes one dense token reads, by group, counted as the engine's byte counter counts. */
export function denseBytesPerToken(wasm: EngineExports, model: LoadedModel, dtype: WeightDtype): WeightBytes {
  const c = model.config;
  const tables = tableLayouts(wasm, model, dtype);
  return {
    embedding: tables.embedding.row(c.dim),
    attention: overLayers(model, (l) => attentionMatrixBytes(wasm, model, dtype, l)),
    mlp: overLayers(model, (l) => mlpBytes(wasm, model, dtype, l, true)),
    lm_head: tables.lmHead.matrix(c.vocabSize, c.dim),
  };
}

/** Weight bytes of the model by group as stored in wasm memory (norms and biases are f32). */
export function storedWeightBytes(wasm: EngineExports, model: LoadedModel, dtype: WeightDtype): WeightBytes {
  const c = model.config;
  const tables = tableLayouts(wasm, model, dtype);
  const bias = model.weights.layers[0]?.bq ? 4 * (c.nHeads + 2 * c.nKvHeads) * headDim(c) : 0;
  return {
    embedding: tables.embedding.matrix(c.vocabSize, c.dim),
    attention: overLayers(model, (l) => 8 * c.dim + bias + attentionMatrixBytes(wasm, model, dtype, l)),
    mlp: overLayers(model, (l) => mlpBytes(wasm, model, dtype, l, true)),
    lm_head: c.tiedEmbeddings ? 0 : tables.lmHead.matrix(c.vocabSize, c.dim),
  };
}
