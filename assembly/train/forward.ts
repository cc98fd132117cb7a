// The forward pass over a whole window of T tokens (positions 0..T-1, a fresh sequence), keeping
// what the backward pass needs (train/state.ts). It is the single-token forward of
// model/forward.ts run layer by layer instead of token by token: the same kernels in the same
// order on the same values, so its logits equal engine.step's bit for bit and the masks it picks
// are exactly the ones inference would pick (sparsity/policy.ts inputMask / hiddenMask).
// Masks are chosen here and are constants for the backward pass.

import { attentionF32 } from "../kernels/attention";
import { rmsnorm, swiglu, addInPlace } from "../kernels/elementwise";
import { lowRankAddF32 } from "../kernels/lowrank";
import { gatherColumns, linear, tableRow } from "../model/linear";
import * as S from "../model/state";
import { queryKeyValue } from "../model/forward";
import { LORA_DOWN, LORA_GATE, LORA_UP, loraA, loraB, loraOn, loraOutputs, loraRank, loraScale } from "../model/adapters";
import { hiddenMask, inputMask } from "../sparsity/policy";
import * as W from "./state";

/** 1 / sqrt(mean(x^2) + eps), computed exactly as kernels/elementwise.ts rmsnorm does. */
export function rmsScale(x: usize, n: i32): f32 {
  let ss: f32 = 0;
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    ss += v * v;
  }
  return 1.0 / Mathf.sqrt(ss / <f32>n + S.rmsEps);
}

/**
 * Runs tokens W.tokens[0..T) and writes T rows of logits to outLogits. `teacher`: the dense base
 * model (every input and hidden unit kept, adapters off) whose masks are not recorded.
 */
export function windowForward(T: i32, teacher: bool, outLogits: usize): void {
  const D = S.dim;
  for (let t = 0; t < T; t++) {
    tableRow(S.embeddingDtype, W.tokenRow(W.resid, t, D), S.tokenEmbedding, load<i32>(W.tokens + (<usize>t << 2)), S.vocabSize, D);
  }
  for (let l = 0; l < S.nLayers; l++) {
    attentionForward(l, T);
    mlpForward(l, T, teacher);
  }
  // logits = lm_head(rmsnorm(x))
  for (let t = 0; t < T; t++) {
    const r = W.tokenRow(W.resid, t, D);
    memory.copy(W.tokenRow(W.resFinal, t, D), r, <usize>D << 2);
    store<f32>(W.rmsFinal + (<usize>t << 2), rmsScale(r, D));
    rmsnorm(W.vecD, r, S.finalNorm, D, S.rmsEps);
    linear(S.lmHeadDtype, W.tokenRow(outLogits, t, S.vocabSize), S.lmHead, W.vecD, S.vocabSize, D);
  }
}

function attentionForward(l: i32, T: i32): void {
  const D = S.dim;
  const qDim = S.qDim;
  const kvDim = S.kvDim;
  // q, k, v of every token (keys and values of the whole window before any attention row)
  for (let t = 0; t < T; t++) {
    const r = W.tokenRow(W.resid, t, D);
    memory.copy(W.row(W.resAttn, l, t, D), r, <usize>D << 2);
    store<f32>(W.row(W.rmsAttn, l, t, 1), rmsScale(r, D));
    rmsnorm(W.vecD, r, S.layerWeight(l, S.ATTN_NORM), D, S.rmsEps);
    queryKeyValue(l, t, W.vecD, W.row(W.qAll, l, t, qDim), W.row(W.kAll, l, t, kvDim), W.row(W.vAll, l, t, kvDim));
  }
  // causal attention over positions 0..t, the kernel inference uses (kernels/attention.ts)
  const kBase = W.row(W.kAll, l, 0, kvDim);
  const vBase = W.row(W.vAll, l, 0, kvDim);
  for (let t = 0; t < T; t++) {
    attentionF32(W.vecD2, W.row(W.qAll, l, t, qDim), kBase, vBase, t + 1, S.nHeads, S.nKvHeads, S.headDim, kvDim, probRow(l, 0, t), W.maxT * W.maxT);
    linear(S.layerDtype(l, S.WO), W.vecD, S.layerWeight(l, S.WO), W.vecD2, D, qDim);
    addInPlace(W.tokenRow(W.resid, t, D), W.vecD, D);
  }
}

/** Row t of head hq's attention probabilities in layer l (t + 1 entries). */
// @ts-ignore: decorator
@inline export function probRow(l: i32, hq: i32, t: i32): usize {
  const T = <usize>W.maxT;
  return W.probs + (((<usize>l * <usize>S.nHeads + <usize>hq) * T + <usize>t) * T << 2);
}

function mlpForward(l: i32, T: i32, teacher: bool): void {
  const D = S.dim;
  const I = S.hiddenDim;
  const wGateT = S.layerWeight(l, S.W_GATE_T);
  const wUp = S.layerWeight(l, S.W_UP);
  const wDownT = S.layerWeight(l, S.W_DOWN_T);
  const adapted = loraOn && !teacher;
  for (let t = 0; t < T; t++) {
    const r = W.tokenRow(W.resid, t, D);
    memory.copy(W.row(W.resMlp, l, t, D), r, <usize>D << 2);
    store<f32>(W.row(W.rmsMlp, l, t, 1), rmsScale(r, D));
    const x = W.row(W.xMlp, l, t, D);
    rmsnorm(x, r, S.layerWeight(l, S.FFN_NORM), D, S.rmsEps);

    // m_in (x' = x * m_in: the gather reads only kept inputs)
    const idx = teacher ? S.allIndices : W.row(W.inIdx, l, t, D);
    const nIn = teacher ? D : studentMask(false, l, t, x, idx, W.row(W.inCnt, l, t, 1));
    const g = W.row(W.gateAll, l, t, I);
    const u = W.row(W.upAll, l, t, I);
    const h = W.row(W.hAll, l, t, I);
    gatherColumns(S.layerDtype(l, S.W_GATE_T), g, wGateT, x, idx, nIn, D, I);
    if (adapted) applyAdapter(l, LORA_GATE, t, g, x, idx, nIn);
    gatherColumns(S.layerDtype(l, S.W_UP), u, wUp, x, idx, nIn, D, I);
    if (adapted) applyAdapter(l, LORA_UP, t, u, x, idx, nIn);
    swiglu(h, g, u, I);

    // m_h, then y = W_down (h * m_h)
    const hidx = teacher ? S.allIndices : W.row(W.hidIdx, l, t, I);
    const nHidden = teacher ? I : studentMask(true, l, t, h, hidx, W.row(W.hidCnt, l, t, 1));
    gatherColumns(S.layerDtype(l, S.W_DOWN_T), W.vecD, wDownT, h, hidx, nHidden, I, D);
    if (adapted) applyAdapter(l, LORA_DOWN, t, W.vecD, h, hidx, nHidden);
    addInPlace(r, W.vecD, D);
  }
}

/**
 * The input (or hidden) mask of token t over v into idx, as inference picks it; frozen, the last
 * window's. Its count is recorded at cnt for the backward pass (the teacher records none).
 */
function studentMask(hidden: bool, l: i32, t: i32, v: usize, idx: usize, cnt: usize): i32 {
  const n = W.freezeMasks ? load<i32>(cnt) : hidden ? hiddenMask(l, v, t, idx) : inputMask(l, v, t, idx);
  store<i32>(cnt, n);
  return n;
}

/** out += ((x*m) A) B * alpha/r, keeping t = (x*m) A for the backward pass. */
function applyAdapter(l: i32, target: i32, t: i32, out: usize, x: usize, idx: usize, nKept: i32): void {
  const a = loraA(l, target);
  if (a == 0) return;
  lowRankAddF32(out, x, idx, nKept, a, loraB(l, target), loraRank, loraOutputs(target), loraScale, W.loraRow(l, target, t));
}
