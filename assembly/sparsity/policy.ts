// Mask policies (DIP.md). The MLP asks for two masks per token and layer:
//   input mask  m_in over the D inputs of W_gate/W_up (shared by both),
//   hidden mask m_h  over the I inputs of W_down.
// A mask is an ascending list of kept indices (u32) plus its count. Policies never read files
// or print; thresholds and keeps are set by the host.

import { arenaAlloc } from "../arena";
import { absInto, selectAbove, selectTopK } from "../kernels/topk";
import { silu } from "../kernels/elementwise";
import { matvecF32 } from "../kernels/matvec";

import { ERR_OUT_OF_MEMORY, METHOD_CATS, METHOD_DENSE, METHOD_DIP, METHOD_DIP_CA, METHOD_DIP_THRESHOLD, METHOD_GLU, METHOD_PREDICTOR } from "../abi";
export { METHOD_DENSE, METHOD_GLU, METHOD_DIP, METHOD_CATS, METHOD_DIP_THRESHOLD, METHOD_DIP_CA, METHOD_PREDICTOR } from "../abi";

export let method: i32 = METHOD_DENSE;
export let inputK: i32 = 0; // k of the input top-k (dip, dip-ca)
export let hiddenK: i32 = 0; // k of the hidden top-k (glu, dip, dip-ca)
let inputThreshold: usize = 0; // (layer) f32: dip-threshold |x| threshold
let hiddenThreshold: usize = 0; // (layer) f32: dip-threshold |h| threshold, cats |silu(gate)| threshold

// The dims the policies need and their shared workspace, set while the model lays out its run state
// (model/state.ts engineConfigure calls masksConfigure): this layer never reads the model's state.
let nLayers: i32 = 0;
let dim: i32 = 0; // D: the inputs of W_gate / W_up
let hiddenDim: i32 = 0; // I: the inputs of W_down
let scores: usize = 0; // (max(dim, hiddenDim)) mask scores
let scratch: usize = 0; // (max(dim, hiddenDim)) top-k workspace
export let allIndices: usize = 0; // (max(dim, hiddenDim)) u32 0, 1, 2, ... (the dense "mask")

// DIP-CA: the cache state the simulator left after the previous token.
let cacheGamma: f64 = 1;
let cacheWarmup: bool = false;
let cacheFixedTopN: i32 = 0;
let cacheAwareHidden: bool = false;
let inputCachedFlags: usize = 0; // (layer) pointers to u8 flags (dim), 0 = nothing cached
let hiddenCachedFlags: usize = 0; // (layer) pointers to u8 flags (hiddenDim)
let fixedIdx: usize = 0; // (max(dim, hiddenDim)) u32 workspace for fixed_top_n

// Predictor (Deja Vu style): per layer scores = B (A x), A (rank, dim) and B (hiddenDim, rank)
// row-major f32 whatever the model's dtype; the host places them (Engine.setPredictor).
export let predictorRank: i32 = 0;
let predictorA: usize = 0; // (layer) pointers to A
let predictorB: usize = 0; // (layer) pointers to B
let predictorZ: usize = 0; // (rank) A x

/** Sets the dims and lays out the mask workspace (part of the run state, allocated once). */
export function masksConfigure(nLayers_: i32, dim_: i32, hiddenDim_: i32): void {
  nLayers = nLayers_;
  dim = dim_;
  hiddenDim = hiddenDim_;
  const wide = <usize>max(dim, hiddenDim);
  scores = arenaAlloc(wide * 4);
  scratch = arenaAlloc(wide * 4);
  allIndices = arenaAlloc(wide * 4);
  if (allIndices != 0) for (let i: usize = 0; i < wide; i++) store<u32>(allIndices + (i << 2), <u32>i);
}

/** The per-layer tables and workspace of the mask policies (once; the host calls it while laying
 *  out the run state, so a DRAM budget counts them). Returns 0, or -1 when out of wasm memory. */
export function sparsityAllocate(): i32 {
  ensureTables();
  return fixedIdx == 0 ? ERR_OUT_OF_MEMORY : 0;
}

function ensureTables(): void {
  if (inputThreshold != 0) return;
  inputThreshold = arenaAlloc(<usize>nLayers * 4);
  hiddenThreshold = arenaAlloc(<usize>nLayers * 4);
  inputCachedFlags = arenaAlloc(<usize>nLayers * 4);
  hiddenCachedFlags = arenaAlloc(<usize>nLayers * 4);
  fixedIdx = arenaAlloc(<usize>max(dim, hiddenDim) * 4);
}

/** Selects the method and its top-k sizes (k = floor(keep * n), computed by the host). */
export function setMethod(method_: i32, inputK_: i32, hiddenK_: i32): void {
  ensureTables();
  method = method_;
  inputK = min(max(inputK_, 0), dim);
  hiddenK = min(max(hiddenK_, 0), hiddenDim);
}

/** Per-layer calibrated thresholds (dip-threshold: input and hidden; cats: hidden only). */
export function setLayerThresholds(layer: i32, input: f32, hidden: f32): void {
  ensureTables();
  store<f32>(inputThreshold + (<usize>layer << 2), input);
  store<f32>(hiddenThreshold + (<usize>layer << 2), hidden);
}

/** DIP-CA settings (DIP.md): gamma in (0, 1], optional warm-up, fixed_top_n, re-weight the down mask too. */
export function setCacheAware(gamma: f64, warmup: bool, fixedTopN: i32, hiddenToo: bool): void {
  ensureTables();
  cacheGamma = gamma;
  cacheWarmup = warmup;
  cacheFixedTopN = fixedTopN;
  cacheAwareHidden = hiddenToo;
}

/** Points DIP-CA at the simulator's "is cached" flags (u8 per column) for a layer's two masks. */
export function setCachedFlags(layer: i32, inputFlags: usize, hiddenFlags: usize): void {
  ensureTables();
  store<u32>(inputCachedFlags + (<usize>layer << 2), <u32>inputFlags);
  store<u32>(hiddenCachedFlags + (<usize>layer << 2), <u32>hiddenFlags);
}

/** Sets the predictor's rank and lays out its tables (once per rank). Returns 0, or -1 when out of wasm memory. */
export function predictorConfigure(rank: i32): i32 {
  if (rank != predictorRank || predictorA == 0) {
    predictorA = arenaAlloc(<usize>nLayers * 4);
    predictorB = arenaAlloc(<usize>nLayers * 4);
    predictorZ = arenaAlloc(<usize>max(rank, 1) * 4);
    predictorRank = rank;
  }
  return predictorZ == 0 ? ERR_OUT_OF_MEMORY : 0;
}

/** Points the predictor of `layer` at its A (rank, dim) and B (hiddenDim, rank) matrices. */
export function setPredictorLayer(layer: i32, a: usize, b: usize): void {
  store<u32>(predictorA + (<usize>layer << 2), <u32>a);
  store<u32>(predictorB + (<usize>layer << 2), <u32>b);
}

/** Weights the predictor reads per layer and token (f32): A and B whole. */
export function predictorWeights(): i32 {
  return predictorRank * (dim + hiddenDim);
}

/**
 * The predictor's hidden mask of `layer` for MLP input xIn: the hiddenK units with the largest
 * scores B (A x) (the logits of "unit is active"; ties to the lower index), ascending, into outIdx.
 */
export function predictorMask(layer: i32, xIn: usize, outIdx: usize): i32 {
  const a = <usize>load<u32>(predictorA + (<usize>layer << 2));
  const b = <usize>load<u32>(predictorB + (<usize>layer << 2));
  matvecF32(predictorZ, a, xIn, predictorRank, dim);
  matvecF32(scores, b, predictorZ, hiddenDim, predictorRank);
  return selectTopK(scores, hiddenDim, hiddenK, outIdx, scratch);
}

/** Whether the MLP input is pruned (so W_gate/W_up columns are gathered) under the current method. */
export function prunesInput(): bool {
  return method == METHOD_DIP || method == METHOD_DIP_THRESHOLD || method == METHOD_DIP_CA;
}

/** gamma_t of DIP.md: 1 - (1 - gamma)(1 - gamma^(t/4)) with warm-up, else gamma. */
function gammaAt(position: i32): f32 {
  if (!cacheWarmup) return <f32>cacheGamma;
  return <f32>(1.0 - (1.0 - cacheGamma) * (1.0 - Math.pow(cacheGamma, <f64>position / 4.0)));
}

/**
 * Cache-aware top-k: s_i = |v_i| * w_i with w_i = 1 if column i is cached or among the fixed_top_n
 * largest |v_i|, else gamma_t. The kept values stay the real v (only the choice is biased).
 */
function cacheAwareTopK(v: usize, n: i32, k: i32, flags: usize, position: i32, outIdx: usize): i32 {
  absInto(scores, v, n);
  const g = gammaAt(position);
  if (g == 1.0) return selectTopK(scores, n, k, outIdx, scratch); // gamma = 1 is plain DIP, exactly
  let nFixed = 0;
  if (cacheFixedTopN > 0) nFixed = selectTopK(scores, n, cacheFixedTopN, fixedIdx, scratch);
  let f = 0; // walks the ascending fixed list alongside i
  for (let i = 0; i < n; i++) {
    let exempt = flags != 0 && load<u8>(flags + <usize>i) != 0;
    if (f < nFixed && <i32>load<u32>(fixedIdx + (<usize>f << 2)) == i) {
      exempt = true;
      f++;
    }
    if (!exempt) store<f32>(scores + (<usize>i << 2), load<f32>(scores + (<usize>i << 2)) * g);
  }
  return selectTopK(scores, n, k, outIdx, scratch);
}

/** The input mask of `layer` for MLP input xIn (dim floats) into outIdx; returns the kept count. */
export function inputMask(layer: i32, xIn: usize, position: i32, outIdx: usize): i32 {
  const cacheAware = method == METHOD_DIP_CA;
  return maskOf(layer, xIn, dim, inputK, method == METHOD_DIP, cacheAware, inputCachedFlags, inputThreshold, position, outIdx);
}

/** The hidden mask of `layer` over h (hiddenDim floats) into outIdx; returns the kept count. */
export function hiddenMask(layer: i32, hv: usize, position: i32, outIdx: usize): i32 {
  const cacheAware = method == METHOD_DIP_CA && cacheAwareHidden;
  const topK = method == METHOD_GLU || method == METHOD_DIP || (method == METHOD_DIP_CA && !cacheAwareHidden);
  return maskOf(layer, hv, hiddenDim, hiddenK, topK, cacheAware, hiddenCachedFlags, hiddenThreshold, position, outIdx);
}

/**
 * One mask over v (n floats): top-k of |v|, the cache-aware top-k, |v| above the layer's threshold
 * (dip-threshold), or every index (dense). flagsTable and thresholdTable are the mask's per-layer tables.
 */
function maskOf(layer: i32, v: usize, n: i32, k: i32, topK: bool, cacheAware: bool, flagsTable: usize, thresholdTable: usize, position: i32, outIdx: usize): i32 {
  if (cacheAware) return cacheAwareTopK(v, n, k, <usize>load<u32>(flagsTable + (<usize>layer << 2)), position, outIdx);
  if (topK) {
    absInto(scores, v, n);
    return selectTopK(scores, n, k, outIdx, scratch);
  }
  if (method == METHOD_DIP_THRESHOLD) {
    absInto(scores, v, n);
    return selectAbove(scores, n, load<f32>(thresholdTable + (<usize>layer << 2)), outIdx);
  }
  memory.copy(outIdx, allIndices, <usize>n << 2);
  return n;
}

/** CATS: rows with |silu(gate_i)| above the layer's threshold (W_up rows and W_down columns kept). */
export function catsMask(layer: i32, gateV: usize, outIdx: usize): i32 {
  for (let i = 0; i < hiddenDim; i++) {
    store<f32>(scores + (<usize>i << 2), Mathf.abs(silu(load<f32>(gateV + (<usize>i << 2)))));
  }
  return selectAbove(scores, hiddenDim, load<f32>(hiddenThreshold + (<usize>layer << 2)), outIdx);
}
