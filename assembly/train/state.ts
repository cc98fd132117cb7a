// What one training window keeps for backprop, and the optimizer state. Everything is allocated
// once by trainInit for the longest window (maxT tokens); rows are indexed with stride maxT, so a
// shorter window uses a prefix of each (layer, token) table. Nothing is allocated per window.

import { arenaAlloc } from "../arena";
import * as S from "../model/state";
import { LORA_TARGETS, loraParamCount, loraParams, loraRank } from "../model/adapters";
import { ERR_OUT_OF_MEMORY } from "../abi";

export let maxT: i32 = 0;
/** Freeze the masks: reuse the last window's masks instead of recomputing them (finite-difference checks). */
export let freezeMasks: bool = false;

export function setFreezeMasks(on: bool): void {
  freezeMasks = on;
}

// ---- inputs ----
export let tokens: usize = 0; // (maxT + 1) i32: inputs tokens[0..T), targets tokens[1..T]

// ---- activations, per layer and token ----
export let resid: usize = 0; // (maxT, dim) the residual stream, updated in place layer by layer
export let resAttn: usize = 0; // (layer, maxT, dim) residual entering attention
export let rmsAttn: usize = 0; // (layer, maxT) its 1/rms
export let qAll: usize = 0; // (layer, maxT, qDim) queries after RoPE
export let kAll: usize = 0; // (layer, maxT, kvDim) keys after RoPE
export let vAll: usize = 0; // (layer, maxT, kvDim) values
export let probs: usize = 0; // (layer, nHeads, maxT, maxT) attention probabilities, row t holds t+1
export let resMlp: usize = 0; // (layer, maxT, dim) residual entering the MLP
export let rmsMlp: usize = 0; // (layer, maxT) its 1/rms
export let xMlp: usize = 0; // (layer, maxT, dim) MLP input x = rmsnorm(resMlp) * w_ffn_norm
export let inIdx: usize = 0; // (layer, maxT, dim) u32 kept inputs (m_in), ascending
export let inCnt: usize = 0; // (layer, maxT) i32
export let hidIdx: usize = 0; // (layer, maxT, hiddenDim) u32 kept hidden units (m_h), ascending
export let hidCnt: usize = 0; // (layer, maxT) i32
export let gateAll: usize = 0; // (layer, maxT, hiddenDim) g = W_gate x' (+ LoRA)
export let upAll: usize = 0; // (layer, maxT, hiddenDim) u = W_up x' (+ LoRA)
export let hAll: usize = 0; // (layer, maxT, hiddenDim) h = silu(g) * u, before m_h
export let loraT: usize = 0; // (layer, target, maxT, r) t = (x*m) A of each adapted linear
export let resFinal: usize = 0; // (maxT, dim) residual entering the final norm
export let rmsFinal: usize = 0; // (maxT) its 1/rms
export let logitsAll: usize = 0; // (maxT, vocab) student logits
export let teacherLogits: usize = 0; // (maxT, vocab) dense-model logits (distillation)
export let dLogits: usize = 0; // (maxT, vocab) d loss / d logits

// ---- backward scratch ----
export let dRes: usize = 0; // (maxT, dim) gradient of the residual stream
export let dAttn: usize = 0; // (maxT, qDim) gradient of the attention output (before wo)
export let dQ: usize = 0; // (maxT, qDim)
export let dK: usize = 0; // (maxT, kvDim)
export let dV: usize = 0; // (maxT, kvDim)
export let dP: usize = 0; // (maxT) gradient of one attention row
export let vecD: usize = 0; // (max(dim, qDim)) per-token scratch
export let vecD2: usize = 0; // (max(dim, qDim)) per-token scratch
export let dH: usize = 0; // (hiddenDim)
export let dG: usize = 0; // (hiddenDim)
export let dU: usize = 0; // (hiddenDim)
export let dT: usize = 0; // (target, r) gradient of t per adapted linear

// ---- parameters' gradients and AdamW moments, laid out like loraParams ----
export let grads: usize = 0;
export let gradsFor: usize = 0; // the loraParams block the gradients were allocated for
export let adamM: usize = 0;
export let adamV: usize = 0;

/** Allocates everything for windows of up to maxT_ tokens. Returns 0, or ERR_OUT_OF_MEMORY. */
export function allocate(maxT_: i32): i32 {
  maxT = maxT_;
  const f = <usize>4;
  const L = <usize>S.nLayers;
  const T = <usize>maxT_;
  const D = <usize>S.dim;
  const I = <usize>S.hiddenDim;
  const Q = <usize>S.qDim;
  const KV = <usize>S.kvDim;
  const V = <usize>S.vocabSize;
  const wide = <usize>max(S.dim, S.qDim);
  const r = <usize>max(loraRank, 1);
  tokens = arenaAlloc((T + 1) * f);
  resid = arenaAlloc(T * D * f);
  resAttn = arenaAlloc(L * T * D * f);
  rmsAttn = arenaAlloc(L * T * f);
  qAll = arenaAlloc(L * T * Q * f);
  kAll = arenaAlloc(L * T * KV * f);
  vAll = arenaAlloc(L * T * KV * f);
  probs = arenaAlloc(L * <usize>S.nHeads * T * T * f);
  resMlp = arenaAlloc(L * T * D * f);
  rmsMlp = arenaAlloc(L * T * f);
  xMlp = arenaAlloc(L * T * D * f);
  inIdx = arenaAlloc(L * T * D * 4);
  inCnt = arenaAlloc(L * T * 4);
  hidIdx = arenaAlloc(L * T * I * 4);
  hidCnt = arenaAlloc(L * T * 4);
  gateAll = arenaAlloc(L * T * I * f);
  upAll = arenaAlloc(L * T * I * f);
  hAll = arenaAlloc(L * T * I * f);
  loraT = arenaAlloc(L * <usize>LORA_TARGETS * T * r * f);
  resFinal = arenaAlloc(T * D * f);
  rmsFinal = arenaAlloc(T * f);
  logitsAll = arenaAlloc(T * V * f);
  teacherLogits = arenaAlloc(T * V * f);
  dLogits = arenaAlloc(T * V * f);
  dRes = arenaAlloc(T * D * f);
  dAttn = arenaAlloc(T * Q * f);
  dQ = arenaAlloc(T * Q * f);
  dK = arenaAlloc(T * KV * f);
  dV = arenaAlloc(T * KV * f);
  dP = arenaAlloc(T * f);
  vecD = arenaAlloc(wide * f);
  vecD2 = arenaAlloc(wide * f);
  dH = arenaAlloc(I * f);
  dG = arenaAlloc(I * f);
  dU = arenaAlloc(I * f);
  dT = arenaAlloc(<usize>LORA_TARGETS * r * f);
  const n = <usize>loraParamCount;
  grads = arenaAlloc(n * f);
  gradsFor = loraParams;
  adamM = arenaAlloc(n * f);
  adamV = arenaAlloc(n * f);
  if (tokens == 0 || probs == 0 || dLogits == 0 || adamV == 0 || dT == 0) return ERR_OUT_OF_MEMORY;
  return 0;
}

/** The gradient slot of a parameter pointer (grads mirrors loraParams). */
// @ts-ignore: decorator
@inline export function gradOf(param: usize): usize {
  return grads + (param - loraParams);
}

// @ts-ignore: decorator
@inline export function row(base: usize, l: i32, t: i32, n: i32): usize {
  return base + ((<usize>l * <usize>maxT + <usize>t) * <usize>n << 2);
}

// @ts-ignore: decorator
@inline export function tokenRow(base: usize, t: i32, n: i32): usize {
  return base + (<usize>t * <usize>n << 2);
}

// @ts-ignore: decorator
@inline export function loraRow(l: i32, target: i32, t: i32): usize {
  return loraT + (((<usize>l * <usize>LORA_TARGETS + <usize>target) * <usize>maxT + <usize>t) * <usize>max(loraRank, 1) << 2);
}
