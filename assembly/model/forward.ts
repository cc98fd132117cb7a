// One forward step of a Llama-family decoder: token in, logits out, KV cache updated.
// Reads top to bottom like the PyTorch module (see llama2.c run.c); architecture differences
// (biases, rope layout, tied embeddings, GQA) are data in state.ts, not copies of this code.

import { attentionF32 } from "../kernels/attention";
import { MIN_PARALLEL_WEIGHTS, parallelAttention, poolThreads } from "../threads/pool";
import { gatherBytes, gatherColumns, linear, linearRows, matrixBytesIn, rowBytesIn, tableRow } from "./linear";
import { rmsnorm, swiglu, addInPlace, silu } from "../kernels/elementwise";
import { applyRope } from "../kernels/rope";
import * as S from "./state";
import { catsMask, hiddenMask, inputMask, method, METHOD_CATS, METHOD_PREDICTOR, predictorMask, predictorWeights, prunesInput } from "../sparsity/policy";
import { LORA_DOWN, LORA_GATE, LORA_UP, loraApply, loraApplyRows, loraOn } from "./adapters";
import { ROWS_EMBEDDING, ROWS_LM_HEAD, streamEntryBytes, streamGather, streamLinearRows, streamOn, streamTableRow } from "../stream/store";

// Optional capture of the dense activations for calibration (per layer, last token).
let captureInput: usize = 0; // (layer, dim) MLP input x after ffn_norm
let captureHidden: usize = 0; // (layer, hiddenDim) h = silu(gate) * up
let captureGate: usize = 0; // (layer, hiddenDim) silu(gate)

export function setCapture(inputBuf: usize, hiddenBuf: usize, gateBuf: usize): void {
  captureInput = inputBuf;
  captureHidden = hiddenBuf;
  captureGate = gateBuf;
}

/** Whether activations are being captured (calibration works one token at a time). */
export function capturing(): bool {
  return captureInput != 0;
}

/**
 * out = attention of the query heads q over positions 0..n-1 of a layer's keys and values
 * (kernels/attention.ts; scores left in S.att). The threads build shares the heads among its
 * threads once there are enough positions to pay for waking them (the same bits).
 */
export function attention(out: usize, q: usize, keys: usize, values: usize, n: i32): void {
  if (ASC_FEATURE_THREADS && poolThreads > 1 && <i64>n * S.qDim >= MIN_PARALLEL_WEIGHTS) {
    parallelAttention(out, q, keys, values, n, S.nHeads, S.nKvHeads, S.headDim, S.kvDim, S.att, S.seqLen);
  } else attentionF32(out, q, keys, values, n, S.nHeads, S.nKvHeads, S.headDim, S.kvDim, S.att, S.seqLen);
}

/** Runs token `token` at position `pos`; logits land in S.logits. The host checks both ranges. */
export function forward(token: i32, pos: i32): void {
  const D = S.dim;
  const kvDim = S.kvDim;
  const f4 = <usize>4;

  // x = token_embedding[token] (a row a streamed model does not hold is read from storage)
  if (token < S.embeddingRows) tableRow(S.embeddingDtype, S.x, S.tokenEmbedding, token, S.vocabSize, D);
  else streamTableRow(S.x, token, S.embeddingTied ? ROWS_LM_HEAD : ROWS_EMBEDDING, D);
  S.countBytes(S.COUNTER_EMBEDDING, rowBytesIn(S.embeddingDtype, D));

  for (let l = 0; l < S.nLayers; l++) {
    // ---- attention: x += wo(attn(rope(wq xb), rope(wk xb), wv xb)), xb = rmsnorm(x) ----
    rmsnorm(S.xb, S.x, S.layerWeight(l, S.ATTN_NORM), D, S.rmsEps);
    const kRow = S.keyCache + ((<usize>l * <usize>S.seqLen + <usize>pos) * <usize>kvDim) * f4;
    const vRow = S.valueCache + ((<usize>l * <usize>S.seqLen + <usize>pos) * <usize>kvDim) * f4;
    queryKeyValue(l, pos, S.xb, S.q, kRow, vRow);
    S.countBytes(
      S.COUNTER_ATTENTION,
      matrixBytesIn(S.layerDtype(l, S.WQ), S.qDim, D) + matrixBytesIn(S.layerDtype(l, S.WK), kvDim, D) + matrixBytesIn(S.layerDtype(l, S.WV), kvDim, D) + matrixBytesIn(S.layerDtype(l, S.WO), D, S.qDim),
    );

    // xb2 = attention of q over the cached positions 0..pos (grouped-query, kernels/attention.ts)
    const layerK = S.keyCache + (<usize>l * <usize>S.seqLen * <usize>kvDim) * f4;
    const layerV = S.valueCache + (<usize>l * <usize>S.seqLen * <usize>kvDim) * f4;
    attention(S.xb2, S.q, layerK, layerV, pos + 1);
    linear(S.layerDtype(l, S.WO), S.xb, S.layerWeight(l, S.WO), S.xb2, D, S.qDim);
    addInPlace(S.x, S.xb, D);

    // ---- MLP: x += w_down(silu(w_gate xb') * w_up xb'), xb = rmsnorm(x), masks per method ----
    rmsnorm(S.xb, S.x, S.layerWeight(l, S.FFN_NORM), D, S.rmsEps);
    mlp(l, pos);
    addInPlace(S.x, S.xb2, D);
  }

  // logits = lm_head(rmsnorm(x))
  rmsnorm(S.x, S.x, S.finalNorm, D, S.rmsEps);
  if (S.lmHeadRows == S.vocabSize) linear(S.lmHeadDtype, S.logits, S.lmHead, S.x, S.vocabSize, D);
  else streamLinearRows(S.logits, S.lmHead, S.x, S.lmHeadRows, S.vocabSize, D, lmHeadProduct); // streamed rows in the LM head's dtype
  S.countBytes(S.COUNTER_LM_HEAD, matrixBytesIn(S.lmHeadDtype, S.vocabSize, D));
}

/**
 * q = rope(wq xb + bq), k = rope(wk xb + bk), v = wv xb + bv for layer l at position pos; the
 * training forward (train/forward.ts) projects its window with this same function.
 */
export function queryKeyValue(l: i32, pos: i32, xb: usize, q: usize, k: usize, v: usize): void {
  const D = S.dim;
  const kvDim = S.kvDim;
  linear(S.layerDtype(l, S.WQ), q, S.layerWeight(l, S.WQ), xb, S.qDim, D);
  linear(S.layerDtype(l, S.WK), k, S.layerWeight(l, S.WK), xb, kvDim, D);
  linear(S.layerDtype(l, S.WV), v, S.layerWeight(l, S.WV), xb, kvDim, D);
  const bq = S.layerWeight(l, S.BQ);
  if (bq) addInPlace(q, bq, S.qDim);
  const bk = S.layerWeight(l, S.BK);
  if (bk) addInPlace(k, bk, kvDim);
  const bv = S.layerWeight(l, S.BV);
  if (bv) addInPlace(v, bv, kvDim);
  applyRope(q, S.nHeads, S.headDim, pos, S.ropeTable, S.ropeLayout);
  applyRope(k, S.nKvHeads, S.headDim, pos, S.ropeTable, S.ropeLayout);
}

/** The sparse SwiGLU MLP of layer l: reads S.xb, writes S.xb2. Only kept columns are read. */
function mlp(l: i32, pos: i32): void {
  const D = S.dim;
  const I = S.hiddenDim;
  const f4 = <usize>4;
  const inIdx = S.inputKept + <usize>l * <usize>D * 4;
  const hidIdx = S.hiddenKept + <usize>l * <usize>I * 4;
  const wGateT = S.layerWeight(l, S.W_GATE_T);
  const wUp = S.layerWeight(l, S.W_UP);
  const wDownT = S.layerWeight(l, S.W_DOWN_T);
  const gateDtype = S.layerDtype(l, S.W_GATE_T);
  const upDtype = S.layerDtype(l, S.W_UP);
  const downDtype = S.layerDtype(l, S.W_DOWN_T);

  if (captureInput) memory.copy(captureInput + <usize>l * <usize>D * f4, S.xb, <usize>D * f4);

  if (method == METHOD_PREDICTOR) {
    predictedMlp(l, hidIdx, gateDtype, wGateT, upDtype, wUp, downDtype, wDownT);
    return;
  }

  // m_in; x' = x * m_in is implicit: the gather reads only kept inputs
  const nIn = inputMask(l, S.xb, pos, inIdx);
  store<i32>(S.inputKeptCount + <usize>l * 4, nIn);
  // streamed (assembly/stream/): W_gate and W_up columns come from cache slots, one fetch for both
  if (streamOn) streamGather(l, 0, inIdx, nIn, S.xb, S.gate, S.up, I);
  else gatherColumns(gateDtype, S.gate, wGateT, S.xb, inIdx, nIn, D, I);
  if (loraOn) loraApply(l, LORA_GATE, S.gate, S.xb, inIdx, nIn); // += ((x*m) A) B * alpha/r

  let nHidden: i32;
  if (method == METHOD_CATS) {
    // gate read dense; only rows of W_up with |silu(gate)| above the threshold are computed
    nHidden = catsMask(l, S.gate, hidIdx);
    linearRows(upDtype, S.up, wUp, S.xb, hidIdx, nHidden, I, D);
    if (loraOn) loraApplyRows(l, LORA_UP, S.up, S.xb, hidIdx, nHidden);
    memory.fill(S.h, 0, <usize>I * f4);
    for (let k = 0; k < nHidden; k++) {
      const i = <usize>load<u32>(hidIdx + (<usize>k << 2));
      store<f32>(S.h + i * f4, silu(load<f32>(S.gate + i * f4)) * load<f32>(S.up + (<usize>k << 2)));
    }
    S.countBytes(S.COUNTER_MLP, gatherBytes(gateDtype, inIdx, nIn, I) + <f64>nHidden * rowBytesIn(upDtype, D));
  } else {
    if (!streamOn) gatherColumns(upDtype, S.up, wUp, S.xb, inIdx, nIn, D, I);
    if (loraOn) loraApply(l, LORA_UP, S.up, S.xb, inIdx, nIn);
    swiglu(S.h, S.gate, S.up, I);
    if (captureHidden) memory.copy(captureHidden + <usize>l * <usize>I * f4, S.h, <usize>I * f4);
    if (captureGate) {
      const dst = captureGate + <usize>l * <usize>I * f4;
      for (let i = 0; i < I; i++) store<f32>(dst + <usize>i * f4, silu(load<f32>(S.gate + <usize>i * f4)));
    }
    nHidden = hiddenMask(l, S.h, pos, hidIdx);
    // a streamed gather reads whole column blocks as stored (f32 or q8 with its scales)
    S.countBytes(S.COUNTER_MLP, streamOn ? streamEntryBytes(0, nIn) : gatherBytes(gateDtype, inIdx, nIn, I) + gatherBytes(upDtype, inIdx, nIn, I));
  }
  store<i32>(S.hiddenKeptCount + <usize>l * 4, nHidden);

  // y = W_down (h * m_h): gather only kept columns of W_down
  if (streamOn) streamGather(l, 1, hidIdx, nHidden, S.h, S.xb2, 0, D);
  else gatherColumns(downDtype, S.xb2, wDownT, S.h, hidIdx, nHidden, I, D);
  if (loraOn) loraApply(l, LORA_DOWN, S.xb2, S.h, hidIdx, nHidden);
  S.countBytes(S.COUNTER_MLP, streamOn ? streamEntryBytes(1, nHidden) : gatherBytes(downDtype, hidIdx, nHidden, D));
}

/** The streamed LM head's product over a chunk of rows, in the LM head's dtype (a RowsProduct for streamLinearRows). */
function lmHeadProduct(out: usize, w: usize, x: usize, rows: i32, cols: i32): void {
  linear(S.lmHeadDtype, out, w, x, rows, cols);
}

/**
 * The MLP under a trained predictor (Deja Vu): the predictor's top-k picks the hidden units before
 * anything else is read; only their rows of W_gate and W_up (both row-major for this method; the
 * host swaps the layout) and their columns of W_down are read. No input column is gathered.
 */
function predictedMlp(l: i32, hidIdx: usize, gateDtype: i32, wGate: usize, upDtype: i32, wUp: usize, downDtype: i32, wDownT: usize): void {
  const D = S.dim;
  const I = S.hiddenDim;
  const f4 = <usize>4;
  store<i32>(S.inputKeptCount + <usize>l * 4, 0);
  const nHidden = predictorMask(l, S.xb, hidIdx);
  linearRows(gateDtype, S.gate, wGate, S.xb, hidIdx, nHidden, I, D);
  linearRows(upDtype, S.up, wUp, S.xb, hidIdx, nHidden, I, D);
  memory.fill(S.h, 0, <usize>I * f4);
  for (let k = 0; k < nHidden; k++) {
    const off = <usize>k << 2;
    store<f32>(S.h + <usize>load<u32>(hidIdx + off) * f4, silu(load<f32>(S.gate + off)) * load<f32>(S.up + off));
  }
  store<i32>(S.hiddenKeptCount + <usize>l * 4, nHidden);
  gatherColumns(downDtype, S.xb2, wDownT, S.h, hidIdx, nHidden, I, D);
  // the predictor's own weights are f32 and read whole every token
  S.countBytes(S.COUNTER_MLP, <f64>nHidden * (rowBytesIn(gateDtype, D) + rowBytesIn(upDtype, D)) + gatherBytes(downDtype, hidIdx, nHidden, D) + 4.0 * <f64>predictorWeights());
}

export { prunesInput };
