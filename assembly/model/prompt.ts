// Prompt processing (prefill): the prompt's tokens go through the model in blocks of PROMPT_BLOCK,
// so each weight matrix is read from memory once per block instead of once per token
// (model/linear.ts's batched forms, kernels/matmat.ts). The prompt runs dense: every MLP column
// is read, whatever the sparsity method (the paper sparsifies decode; the method applies from the
// first generated token on). Each token's numbers are bit-identical to running forward() on it
// with the dense method, so a prompt run here leaves the same KV cache and the same last logits
// as the prompt fed token by token (tests/prompt.test.ts).
//
// Byte counters count what is read: per block, every weight matrix once (attention, MLP, each
// dense) and one embedding row per token; the LM head once, for the last token only (only its
// logits are computed). The kept lists of every layer are left as the dense masks.

import { arenaAlloc } from "../arena";
import { addInPlace, rmsnorm, swiglu } from "../kernels/elementwise";
import { applyRope } from "../kernels/rope";
import { gatherBytes, gatherColumnsBatch, linear, linearBatch, matrixBytesIn, rowBytesIn, tableRow } from "./linear";
import * as S from "./state";
import { attention, capturing, forward } from "./forward";
import { LORA_DOWN, LORA_GATE, LORA_UP, loraApply, loraApplyRows, loraOn } from "./adapters";
import { hiddenK, inputK, method, METHOD_DENSE, METHOD_PREDICTOR, setMethod } from "../sparsity/policy";
import { streamOn } from "../stream/store";
import { ERR_OUT_OF_MEMORY } from "../abi";

/** Tokens per block: each weight is read once per this many prompt tokens. */
export const PROMPT_BLOCK = 16;

// The block's activations, token b's row at b * (row length) floats; allocated on first use.
let blockX: usize = 0; // (PROMPT_BLOCK, dim) residual streams
let blockXb: usize = 0; // (PROMPT_BLOCK, dim) normed sublayer inputs
let blockXb2: usize = 0; // (PROMPT_BLOCK, max(dim, qDim)) attention outputs / MLP outputs
let blockQ: usize = 0; // (PROMPT_BLOCK, qDim)
let blockGate: usize = 0; // (PROMPT_BLOCK, hiddenDim)
let blockUp: usize = 0; // (PROMPT_BLOCK, hiddenDim)
let blockH: usize = 0; // (PROMPT_BLOCK, hiddenDim)

function allocateBlock(): bool {
  if (blockH) return true;
  const B = <usize>PROMPT_BLOCK * 4;
  blockX = arenaAlloc(B * <usize>S.dim);
  blockXb = arenaAlloc(B * <usize>S.dim);
  blockXb2 = arenaAlloc(B * <usize>max(S.dim, S.qDim));
  blockQ = arenaAlloc(B * <usize>S.qDim);
  blockGate = arenaAlloc(B * <usize>S.hiddenDim);
  blockUp = arenaAlloc(B * <usize>S.hiddenDim);
  blockH = arenaAlloc(B * <usize>S.hiddenDim);
  return blockX != 0 && blockXb != 0 && blockXb2 != 0 && blockQ != 0 && blockGate != 0 && blockUp != 0 && blockH != 0;
}

/**
 * Runs the n tokens at `tokens` (u32) at positions pos0 .. pos0 + n - 1, dense; the last one's
 * logits land in S.logits. The host checks ids and positions. Returns 0, or ERR_OUT_OF_MEMORY.
 * A streamed model, or one capturing activations, runs the same dense positions one forward() at
 * a time (the stream store and the capture work per token).
 */
export function forwardPrompt(tokens: usize, n: i32, pos0: i32): i32 {
  if (streamOn || capturing()) {
    denseOneByOne(tokens, n, pos0);
    return 0;
  }
  if (!allocateBlock()) return ERR_OUT_OF_MEMORY;
  for (let s = 0; s < n; s += PROMPT_BLOCK) promptBlock(tokens + (<usize>s << 2), min(PROMPT_BLOCK, n - s), pos0 + s, s + PROMPT_BLOCK >= n);
  for (let l = 0; l < S.nLayers; l++) {
    memory.copy(S.inputKept + <usize>l * <usize>S.dim * 4, S.allIndices, <usize>S.dim * 4);
    store<i32>(S.inputKeptCount + <usize>l * 4, S.dim);
    memory.copy(S.hiddenKept + <usize>l * <usize>S.hiddenDim * 4, S.allIndices, <usize>S.hiddenDim * 4);
    store<i32>(S.hiddenKeptCount + <usize>l * 4, S.hiddenDim);
  }
  return 0;
}

/** The fallback: forward() per token under the dense method. */
function denseOneByOne(tokens: usize, n: i32, pos0: i32): void {
  for (let t = 0; t < n; t++) forwardDenseStep(<i32>load<u32>(tokens + (<usize>t << 2)), pos0 + t);
}

/**
 * One prompt token through forward() under the dense method (CATS's row-major W_up keeps CATS).
 * A streamed model's host calls this per token: it takes no memory, so the DRAM budget holds.
 */
export function forwardDenseStep(token: i32, pos: i32): void {
  const saved = method;
  if (!S.upRowMajor) setMethod(METHOD_DENSE, inputK, hiddenK);
  forward(token, pos);
  setMethod(saved, inputK, hiddenK);
}

/** nb tokens at positions pos .. pos + nb - 1 through every layer; the LM head if `last`. */
function promptBlock(tokens: usize, nb: i32, pos: i32, last: bool): void {
  const D = S.dim;
  const kvDim = S.kvDim;
  const xb2Row = max(D, S.qDim);
  const f4 = <usize>4;

  for (let b = 0; b < nb; b++) tableRow(S.embeddingDtype, blockX + <usize>(b * D) * f4, S.tokenEmbedding, <i32>load<u32>(tokens + (<usize>b << 2)), S.vocabSize, D);
  S.countBytes(S.COUNTER_EMBEDDING, <f64>nb * rowBytesIn(S.embeddingDtype, D));

  for (let l = 0; l < S.nLayers; l++) {
    // ---- attention (forward.ts): q, k, v of the whole block, then each token over 0..its position ----
    for (let b = 0; b < nb; b++) rmsnorm(blockXb + <usize>(b * D) * f4, blockX + <usize>(b * D) * f4, S.layerWeight(l, S.ATTN_NORM), D, S.rmsEps);
    const layerK = S.keyCache + (<usize>l * <usize>S.seqLen * <usize>kvDim) * f4;
    const layerV = S.valueCache + (<usize>l * <usize>S.seqLen * <usize>kvDim) * f4;
    const kRows = layerK + <usize>pos * <usize>kvDim * f4;
    const vRows = layerV + <usize>pos * <usize>kvDim * f4;
    linearBatch(S.layerDtype(l, S.WQ), blockQ, S.layerWeight(l, S.WQ), blockXb, S.qDim, D, nb, S.qDim, D);
    linearBatch(S.layerDtype(l, S.WK), kRows, S.layerWeight(l, S.WK), blockXb, kvDim, D, nb, kvDim, D);
    linearBatch(S.layerDtype(l, S.WV), vRows, S.layerWeight(l, S.WV), blockXb, kvDim, D, nb, kvDim, D);
    const bq = S.layerWeight(l, S.BQ);
    const bk = S.layerWeight(l, S.BK);
    const bv = S.layerWeight(l, S.BV);
    for (let b = 0; b < nb; b++) {
      const q = blockQ + <usize>(b * S.qDim) * f4;
      const k = kRows + <usize>(b * kvDim) * f4;
      const v = vRows + <usize>(b * kvDim) * f4;
      if (bq) addInPlace(q, bq, S.qDim);
      if (bk) addInPlace(k, bk, kvDim);
      if (bv) addInPlace(v, bv, kvDim);
      applyRope(q, S.nHeads, S.headDim, pos + b, S.ropeTable, S.ropeLayout);
      applyRope(k, S.nKvHeads, S.headDim, pos + b, S.ropeTable, S.ropeLayout);
    }
    for (let b = 0; b < nb; b++) {
      attention(blockXb2 + <usize>(b * xb2Row) * f4, blockQ + <usize>(b * S.qDim) * f4, layerK, layerV, pos + b + 1);
    }
    linearBatch(S.layerDtype(l, S.WO), blockXb, S.layerWeight(l, S.WO), blockXb2, D, S.qDim, nb, D, xb2Row);
    for (let b = 0; b < nb; b++) addInPlace(blockX + <usize>(b * D) * f4, blockXb + <usize>(b * D) * f4, D);
    S.countBytes(S.COUNTER_ATTENTION, matrixBytesIn(S.layerDtype(l, S.WQ), S.qDim, D) + matrixBytesIn(S.layerDtype(l, S.WK), kvDim, D) + matrixBytesIn(S.layerDtype(l, S.WV), kvDim, D) + matrixBytesIn(S.layerDtype(l, S.WO), D, S.qDim));

    // ---- MLP, dense: x += W_down(silu(W_gate xb) * W_up xb) ----
    for (let b = 0; b < nb; b++) rmsnorm(blockXb + <usize>(b * D) * f4, blockX + <usize>(b * D) * f4, S.layerWeight(l, S.FFN_NORM), D, S.rmsEps);
    promptMlp(l, nb);
    for (let b = 0; b < nb; b++) addInPlace(blockX + <usize>(b * D) * f4, blockXb2 + <usize>(b * xb2Row) * f4, D);
  }
  if (!last) return;
  // logits = lm_head(rmsnorm(x)) of the block's last token (forward.ts)
  const xLast = blockX + <usize>((nb - 1) * D) * f4;
  rmsnorm(xLast, xLast, S.finalNorm, D, S.rmsEps);
  linear(S.lmHeadDtype, S.logits, S.lmHead, xLast, S.vocabSize, D);
  S.countBytes(S.COUNTER_LM_HEAD, matrixBytesIn(S.lmHeadDtype, S.vocabSize, D));
}

/** The dense SwiGLU MLP of layer l for the block: reads blockXb, writes blockXb2 (forward.ts's mlp). */
function promptMlp(l: i32, nb: i32): void {
  const D = S.dim;
  const I = S.hiddenDim;
  const xb2Row = max(D, S.qDim);
  const f4 = <usize>4;
  const all = S.allIndices;
  const gateDtype = S.layerDtype(l, S.W_GATE_T);
  const upDtype = S.layerDtype(l, S.W_UP);
  const downDtype = S.layerDtype(l, S.W_DOWN_T);
  // CATS stores W_up row-major, the predictor W_gate and W_up (the host's engine-layout
  // useRowMajor): their dense products are the row-major ones, as keeping every row
  const gateRowMajor = method == METHOD_PREDICTOR;
  if (gateRowMajor) linearBatch(gateDtype, blockGate, S.layerWeight(l, S.W_GATE_T), blockXb, I, D, nb, I, D);
  else gatherColumnsBatch(gateDtype, blockGate, S.layerWeight(l, S.W_GATE_T), blockXb, all, D, D, I, nb, I, D);
  if (S.upRowMajor) linearBatch(upDtype, blockUp, S.layerWeight(l, S.W_UP), blockXb, I, D, nb, I, D);
  else gatherColumnsBatch(upDtype, blockUp, S.layerWeight(l, S.W_UP), blockXb, all, D, D, I, nb, I, D);
  for (let b = 0; b < nb; b++) {
    const xb = blockXb + <usize>(b * D) * f4;
    const gate = blockGate + <usize>(b * I) * f4;
    const up = blockUp + <usize>(b * I) * f4;
    if (loraOn) {
      if (gateRowMajor) loraApplyRows(l, LORA_GATE, gate, xb, all, I);
      else loraApply(l, LORA_GATE, gate, xb, all, D);
      if (S.upRowMajor) loraApplyRows(l, LORA_UP, up, xb, all, I);
      else loraApply(l, LORA_UP, up, xb, all, D);
    }
    swiglu(blockH + <usize>(b * I) * f4, gate, up, I);
  }
  gatherColumnsBatch(downDtype, blockXb2, S.layerWeight(l, S.W_DOWN_T), blockH, all, I, I, D, nb, xb2Row, I);
  if (loraOn) {
    for (let b = 0; b < nb; b++) loraApply(l, LORA_DOWN, blockXb2 + <usize>(b * xb2Row) * f4, blockH + <usize>(b * I) * f4, all, I);
  }
  const gateBytes = gateRowMajor ? <f64>I * rowBytesIn(gateDtype, D) : gatherBytes(gateDtype, all, D, I);
  const upBytes = S.upRowMajor ? <f64>I * rowBytesIn(upDtype, D) : gatherBytes(upDtype, all, D, I);
  S.countBytes(S.COUNTER_MLP, gateBytes + upBytes + gatherBytes(downDtype, all, I, D));
}
