// The three things a forward step needs (after llama2.c run.c): the config (dims), the weights
// (pointers into the arena, laid out by the host) and the run state (activation buffers, KV cache),
// allocated once by engineInit. Nothing is allocated per token.

import { arenaAlloc } from "../arena";
import { buildRopeTable } from "../kernels/rope";
import { ERR_OUT_OF_MEMORY, LAYER_FIELDS } from "../abi";
import { masksConfigure } from "../sparsity/policy";

// The dense "mask" (u32 0, 1, 2, ...) lives with the mask policies' workspace.
export { allIndices } from "../sparsity/policy";

// ---- config ----
export let dim: i32 = 0; // D
export let hiddenDim: i32 = 0; // I
export let nLayers: i32 = 0;
export let nHeads: i32 = 0;
export let nKvHeads: i32 = 0;
export let headDim: i32 = 0;
export let qDim: i32 = 0; // nHeads * headDim (usually dim)
export let kvDim: i32 = 0; // nKvHeads * headDim
export let vocabSize: i32 = 0;
export let seqLen: i32 = 0;
export let rmsEps: f32 = 1e-5;
export let ropeLayout: i32 = 0;

// ---- weights ----
// Per layer, a row of LAYER_FIELDS pointers in layerTable and of their dtypes (../abi.ts DTYPE_*,
// one byte each) in layerDtypes; the field ids and shapes are in ../abi.ts. Norms and biases are f32.
export { ATTN_NORM, WQ, WK, WV, WO, BQ, BK, BV, FFN_NORM, W_GATE_T, W_UP, W_DOWN_T, LAYER_FIELDS } from "../abi";

export let layerTable: usize = 0;
export let layerDtypes: usize = 0;
export let tokenEmbedding: usize = 0; // (vocab, dim)
export let embeddingDtype: i32 = 0;
export let finalNorm: usize = 0; // (dim)
export let lmHead: usize = 0; // (vocab, dim); may equal tokenEmbedding (tied)
export let lmHeadDtype: i32 = 0;
// Rows of tokenEmbedding / lmHead held in wasm memory (the first ones). A streamed model whose
// static weights exceed its DRAM budget holds fewer than vocabSize and reads the rest from storage
// (assembly/stream/store.ts); otherwise both are vocabSize.
export let embeddingRows: i32 = 0;
export let lmHeadRows: i32 = 0;
/** the embedding is the LM head's matrix (its streamed rows are the LM head's) */
export let embeddingTied: bool = false;
/** W_up stored row-major (CATS reads kept rows of W_up); otherwise input-major like W_gate. */
export let upRowMajor: bool = false;

// ---- run state ----
export let x: usize = 0; // (dim) residual stream
export let xb: usize = 0; // (dim) normed input of the current sublayer
export let xb2: usize = 0; // (max(dim, qDim)) sublayer output / attention output before wo
export let q: usize = 0; // (qDim)
export let att: usize = 0; // (nHeads, seqLen) attention scores
export let gate: usize = 0; // (hiddenDim) W_gate x'
export let up: usize = 0; // (hiddenDim) W_up x'
export let h: usize = 0; // (hiddenDim) silu(gate) * up
export let gatherScratch: usize = 0; // (2 max(dim, hiddenDim)) an f32 gather's second part, then its list (kernels/gather.ts)
export let logits: usize = 0; // (vocab)
export let candidates: usize = 0; // (vocab) u32 token indices: the sampler's top-p scratch
export let keyCache: usize = 0; // (layer, seqLen, kvDim)
export let valueCache: usize = 0; // (layer, seqLen, kvDim)
export let ropeTable: usize = 0; // (seqLen, headDim/2, 2) cos, sin
export let inputKept: usize = 0; // (layer, dim) u32 kept MLP-input indices of the last token
export let inputKeptCount: usize = 0; // (layer) i32
export let hiddenKept: usize = 0; // (layer, hiddenDim) u32 kept hidden indices of the last token
export let hiddenKeptCount: usize = 0; // (layer) i32

// Weight bytes actually read, by group, since the last reset (f64: exact up to 2^53).
export const COUNTER_EMBEDDING = 0;
export const COUNTER_ATTENTION = 1;
export const COUNTER_MLP = 2;
export const COUNTER_LM_HEAD = 3;
export let bytesEmbedding: f64 = 0;
export let bytesAttention: f64 = 0;
export let bytesMlp: f64 = 0;
export let bytesLmHead: f64 = 0;

export function countBytes(group: i32, n: f64): void {
  if (group == COUNTER_EMBEDDING) bytesEmbedding += n;
  else if (group == COUNTER_ATTENTION) bytesAttention += n;
  else if (group == COUNTER_MLP) bytesMlp += n;
  else bytesLmHead += n;
}

export function resetByteCounters(): void {
  bytesEmbedding = bytesAttention = bytesMlp = bytesLmHead = 0;
}

/** Sets the dims. Returns 0, or a negative code when the run state cannot be allocated. */
export function engineConfigure(
  dim_: i32,
  hiddenDim_: i32,
  nLayers_: i32,
  nHeads_: i32,
  nKvHeads_: i32,
  headDim_: i32,
  vocabSize_: i32,
  seqLen_: i32,
  rmsEps_: f32,
  ropeLayout_: i32,
): i32 {
  dim = dim_;
  hiddenDim = hiddenDim_;
  nLayers = nLayers_;
  nHeads = nHeads_;
  nKvHeads = nKvHeads_;
  headDim = headDim_;
  qDim = nHeads_ * headDim;
  kvDim = nKvHeads_ * headDim;
  vocabSize = vocabSize_;
  embeddingRows = vocabSize_;
  lmHeadRows = vocabSize_;
  seqLen = seqLen_;
  rmsEps = rmsEps_;
  ropeLayout = ropeLayout_;

  const f = <usize>4;
  layerTable = arenaAlloc(<usize>nLayers * LAYER_FIELDS * 4);
  layerDtypes = arenaAlloc(<usize>nLayers * LAYER_FIELDS);
  x = arenaAlloc(<usize>dim * f);
  xb = arenaAlloc(<usize>dim * f);
  xb2 = arenaAlloc(<usize>max(dim, qDim) * f);
  q = arenaAlloc(<usize>qDim * f);
  att = arenaAlloc(<usize>nHeads * <usize>seqLen * f);
  gate = arenaAlloc(<usize>hiddenDim * f);
  up = arenaAlloc(<usize>hiddenDim * f);
  h = arenaAlloc(<usize>hiddenDim * f);
  gatherScratch = arenaAlloc(<usize>max(dim, hiddenDim) * 2 * f);
  logits = arenaAlloc(<usize>vocabSize * f);
  // the sampler's top-p scratch, laid out with the run state so a DRAM budget counts it
  candidates = arenaAlloc(<usize>vocabSize * 4);
  keyCache = arenaAlloc(<usize>nLayers * <usize>seqLen * <usize>kvDim * f);
  valueCache = arenaAlloc(<usize>nLayers * <usize>seqLen * <usize>kvDim * f);
  ropeTable = arenaAlloc(<usize>seqLen * <usize>headDim * f);
  masksConfigure(nLayers, dim, hiddenDim); // mask scores, top-k workspace, the dense mask
  inputKept = arenaAlloc(<usize>nLayers * <usize>dim * 4);
  inputKeptCount = arenaAlloc(<usize>nLayers * 4);
  hiddenKept = arenaAlloc(<usize>nLayers * <usize>hiddenDim * 4);
  hiddenKeptCount = arenaAlloc(<usize>nLayers * 4);
  if (hiddenKeptCount == 0 || gatherScratch == 0 || layerDtypes == 0 || candidates == 0 || keyCache == 0 || valueCache == 0) return ERR_OUT_OF_MEMORY;
  return 0;
}

/** Builds the rotary table from the host's inverse frequencies (headDim/2 f64 at invFreq). */
export function setRopeFrequencies(invFreq: usize): void {
  buildRopeTable(ropeTable, seqLen, headDim, invFreq);
}

/** Layer `layer`'s weight `field` is at ptr, in `dtype` (f32 for norms and biases). */
export function setLayerWeight(layer: i32, field: i32, ptr: usize, dtype: i32): void {
  store<u32>(layerTable + ((<usize>layer * LAYER_FIELDS + <usize>field) << 2), <u32>ptr);
  store<u8>(layerDtypes + <usize>layer * LAYER_FIELDS + <usize>field, <u8>dtype);
}

// @ts-ignore: decorator
@inline export function layerWeight(layer: i32, field: i32): usize {
  return <usize>load<u32>(layerTable + ((<usize>layer * LAYER_FIELDS + <usize>field) << 2));
}

// @ts-ignore: decorator
@inline export function layerDtype(layer: i32, field: i32): i32 {
  return <i32>load<u8>(layerDtypes + <usize>layer * LAYER_FIELDS + <usize>field);
}

/** Rows of the embedding and the LM head held in wasm memory (streamed models; default all). */
export function setResidentRows(embeddingRows_: i32, lmHeadRows_: i32, tied: bool): void {
  embeddingRows = embeddingRows_;
  lmHeadRows = lmHeadRows_;
  embeddingTied = tied;
}

export function setGlobalWeights(tokenEmbedding_: usize, embeddingDtype_: i32, finalNorm_: usize, lmHead_: usize, lmHeadDtype_: i32, upRowMajor_: bool): void {
  tokenEmbedding = tokenEmbedding_;
  embeddingDtype = embeddingDtype_;
  finalNorm = finalNorm_;
  lmHead = lmHead_;
  lmHeadDtype = lmHeadDtype_;
  upRowMajor = upRowMajor_;
}

export function setUpRowMajor(rowMajor: bool): void {
  upRowMajor = rowMajor;
}
