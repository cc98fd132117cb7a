// The backward pass of train/forward.ts: from d loss / d logits (W.dLogits) back through the LM
// head, the final norm and every layer (MLP with its masks held constant, RMSNorm, attention with
// RoPE and grouped-query heads, residuals) down to the embeddings. The base weights are frozen, so
// the only gradients kept are the adapters' (accumulated into W.grads); the rest are passed through.
//
// For a linear y = W x the input gradient is W^T dy: for the input-major MLP matrices that is one
// contiguous dot per kept input (dx_j = WT[j, :] . dy), for row-major ones a sum of scaled rows
// (kernels/matvec-transposed.ts). Order is fixed (tokens ascending, layers descending), so the same
// window gives the same gradients bit for bit.

import { dotF32 } from "../kernels/matvec";
import { expF32 } from "../kernels/exp";
import { axpyF32, matvecTransposedAddF32 } from "../kernels/matvec-transposed";
import { applyRopeTranspose } from "../kernels/rope";
import { attentionBackwardF32 } from "../kernels/attention";
import * as S from "../model/state";
import { LORA_DOWN, LORA_GATE, LORA_UP, loraA, loraB, loraOn, loraOutputs, loraRank, loraScale } from "../model/adapters";
import * as W from "./state";
import { probRow } from "./forward";

/** Accumulates the adapters' gradients of the window whose d loss / d logits are in W.dLogits. */
export function windowBackward(T: i32): void {
  const D = S.dim;
  const f4 = <usize>4;
  memory.fill(W.dRes, 0, <usize>T * <usize>D * f4);
  // logits = lm_head(rmsnorm(x) * w): dx_normed = lm_head^T dlogits
  for (let t = 0; t < T; t++) {
    memory.fill(W.vecD, 0, <usize>D * f4);
    matvecTransposedAddF32(W.vecD, S.lmHead, W.tokenRow(W.dLogits, t, S.vocabSize), S.vocabSize, D);
    rmsnormBackward(W.tokenRow(W.dRes, t, D), W.tokenRow(W.resFinal, t, D), S.finalNorm, load<f32>(W.rmsFinal + (<usize>t << 2)), W.vecD, D);
  }
  for (let l = S.nLayers - 1; l >= 0; l--) {
    // the residual stream's gradient flows past each sublayer unchanged, plus through it
    mlpBackward(l, T);
    attentionBackward(l, T);
  }
}

/**
 * y = w * (s * x), s = 1/sqrt(mean(x^2) + eps):  dx += s * w * dy - (s^3 / n) * x * sum_j(w_j dy_j x_j).
 * Accumulates into dx (the residual's gradient).
 */
export function rmsnormBackward(dx: usize, x: usize, w: usize, s: f32, dy: usize, n: i32): void {
  let dot: f32 = 0;
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    dot += load<f32>(w + off) * load<f32>(dy + off) * load<f32>(x + off);
  }
  const c: f32 = (s * s * s / <f32>n) * dot;
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(dx + off, load<f32>(dx + off) + s * load<f32>(w + off) * load<f32>(dy + off) - c * load<f32>(x + off));
  }
}

/**
 * Gradients of out += ((x*m) A) B * scale for one token, given dy = d loss / d out and the kept
 * t = (x*m) A of the forward:  dB += (t * scale) dy^T,  dt = scale * B dy,  dA[j, :] += x_j dt for
 * kept j. Leaves dt (r floats) for the input gradient x_j += A[j, :] . dt.
 */
function adapterBackward(l: i32, target: i32, t: i32, dy: usize, x: usize, idx: usize, nKept: i32, dt: usize): void {
  const a = loraA(l, target);
  const b = loraB(l, target);
  const r = loraRank;
  const nOut = loraOutputs(target);
  const tt = W.loraRow(l, target, t);
  const gA = W.gradOf(a);
  const gB = W.gradOf(b);
  const rowBytes = <usize>nOut << 2;
  for (let k = 0; k < r; k++) {
    const bk = b + <usize>k * rowBytes;
    axpyF32(gB + <usize>k * rowBytes, dy, load<f32>(tt + (<usize>k << 2)) * loraScale, nOut);
    store<f32>(dt + (<usize>k << 2), dotF32(bk, dy, nOut) * loraScale);
  }
  for (let m = 0; m < nKept; m++) {
    const j = <usize>load<u32>(idx + (<usize>m << 2));
    axpyF32(gA + j * <usize>r * 4, dt, load<f32>(x + (j << 2)), r);
  }
}

// @ts-ignore: decorator
@inline function adapted(l: i32, target: i32): bool {
  return loraOn && loraA(l, target) != 0;
}

function mlpBackward(l: i32, T: i32): void {
  const D = S.dim;
  const I = S.hiddenDim;
  const r = loraRank;
  const wGateT = S.layerWeight(l, S.W_GATE_T);
  const wUpT = S.layerWeight(l, S.W_UP);
  const wDownT = S.layerWeight(l, S.W_DOWN_T);
  const dtGate = W.dT;
  const dtUp = W.dT + (<usize>max(r, 1) << 2);
  const dtDown = W.dT + (<usize>(2 * max(r, 1)) << 2);
  const hasGate = adapted(l, LORA_GATE);
  const hasUp = adapted(l, LORA_UP);
  const hasDown = adapted(l, LORA_DOWN);
  const aGate = loraA(l, LORA_GATE);
  const aUp = loraA(l, LORA_UP);
  const aDown = loraA(l, LORA_DOWN);
  const rBytes = <usize>r << 2;
  for (let t = 0; t < T; t++) {
    const dy = W.tokenRow(W.dRes, t, D); // y is added to the residual: dy = d residual
    const x = W.row(W.xMlp, l, t, D);
    const idx = W.row(W.inIdx, l, t, D);
    const nIn = load<i32>(W.row(W.inCnt, l, t, 1));
    const hidx = W.row(W.hidIdx, l, t, I);
    const nHidden = load<i32>(W.row(W.hidCnt, l, t, 1));
    const g = W.row(W.gateAll, l, t, I);
    const u = W.row(W.upAll, l, t, I);
    const h = W.row(W.hAll, l, t, I);

    // y = W_down (h * m_h) [+ LoRA]: dh_j = m_h[j] * (WdownT[j, :] . dy [+ A[j, :] . dt])
    if (hasDown) adapterBackward(l, LORA_DOWN, t, dy, h, hidx, nHidden, dtDown);
    memory.fill(W.dH, 0, <usize>I << 2);
    for (let m = 0; m < nHidden; m++) {
      const j = <usize>load<u32>(hidx + (<usize>m << 2));
      let v = dotF32(wDownT + j * (<usize>D << 2), dy, D);
      if (hasDown) v += dotF32(aDown + j * rBytes, dtDown, r);
      store<f32>(W.dH + (j << 2), v);
    }

    // h = silu(g) * u:  dg = dh * u * silu'(g),  du = dh * silu(g),  silu' = sig * (1 + g (1 - sig))
    for (let i = 0; i < I; i++) {
      const off = <usize>i << 2;
      const gi = load<f32>(g + off);
      const sig: f32 = 1.0 / (1.0 + expF32(-gi)); // the forward's exponential (kernels/exp.ts)
      const dh = load<f32>(W.dH + off);
      store<f32>(W.dG + off, dh * load<f32>(u + off) * (sig * (1.0 + gi * (1.0 - sig))));
      store<f32>(W.dU + off, dh * (gi * sig));
    }

    // g = W_gate x', u = W_up x' [+ LoRA]: dx_j = m_in[j] * (WgateT[j, :] . dg + WupT[j, :] . du [+ ...])
    if (hasGate) adapterBackward(l, LORA_GATE, t, W.dG, x, idx, nIn, dtGate);
    if (hasUp) adapterBackward(l, LORA_UP, t, W.dU, x, idx, nIn, dtUp);
    memory.fill(W.vecD, 0, <usize>D << 2);
    const colBytes = <usize>I << 2;
    for (let m = 0; m < nIn; m++) {
      const j = <usize>load<u32>(idx + (<usize>m << 2));
      let v = dotF32(wGateT + j * colBytes, W.dG, I) + dotF32(wUpT + j * colBytes, W.dU, I);
      if (hasGate) v += dotF32(aGate + j * rBytes, dtGate, r);
      if (hasUp) v += dotF32(aUp + j * rBytes, dtUp, r);
      store<f32>(W.vecD + (j << 2), v);
    }
    // x = rmsnorm(resMlp) * w_ffn_norm
    rmsnormBackward(dy, W.row(W.resMlp, l, t, D), S.layerWeight(l, S.FFN_NORM), load<f32>(W.row(W.rmsMlp, l, t, 1)), W.vecD, D);
  }
}

function attentionBackward(l: i32, T: i32): void {
  const D = S.dim;
  const qDim = S.qDim;
  const kvDim = S.kvDim;
  const hd = S.headDim;
  const f4 = <usize>4;
  memory.fill(W.dQ, 0, <usize>T * <usize>qDim * f4);
  memory.fill(W.dK, 0, <usize>T * <usize>kvDim * f4);
  memory.fill(W.dV, 0, <usize>T * <usize>kvDim * f4);
  // x += wo(attn): d attn = wo^T dx
  memory.fill(W.dAttn, 0, <usize>T * <usize>qDim * f4);
  const wo = S.layerWeight(l, S.WO);
  for (let t = 0; t < T; t++) matvecTransposedAddF32(W.tokenRow(W.dAttn, t, qDim), wo, W.tokenRow(W.dRes, t, D), D, qDim);

  // attention over positions 0..t (kernels/attention.ts): dq, and dk, dv of every position it read
  const kBase = W.row(W.kAll, l, 0, kvDim);
  const vBase = W.row(W.vAll, l, 0, kvDim);
  for (let t = 0; t < T; t++) {
    attentionBackwardF32(
      W.tokenRow(W.dQ, t, qDim), W.dK, W.dV, W.tokenRow(W.dAttn, t, qDim), W.row(W.qAll, l, t, qDim), kBase, vBase, t + 1,
      S.nHeads, S.nKvHeads, hd, kvDim, probRow(l, 0, t), W.maxT * W.maxT, W.dP,
    );
  }

  // q = rope(wq xa), k = rope(wk xa), v = wv xa, xa = rmsnorm(resAttn) * w_attn_norm
  const wq = S.layerWeight(l, S.WQ);
  const wk = S.layerWeight(l, S.WK);
  const wv = S.layerWeight(l, S.WV);
  for (let t = 0; t < T; t++) {
    const dq = W.tokenRow(W.dQ, t, qDim);
    const dk = W.tokenRow(W.dK, t, kvDim);
    applyRopeTranspose(dq, S.nHeads, hd, t, S.ropeTable, S.ropeLayout);
    applyRopeTranspose(dk, S.nKvHeads, hd, t, S.ropeTable, S.ropeLayout);
    memory.fill(W.vecD, 0, <usize>D * f4);
    matvecTransposedAddF32(W.vecD, wq, dq, qDim, D);
    matvecTransposedAddF32(W.vecD, wk, dk, kvDim, D);
    matvecTransposedAddF32(W.vecD, wv, W.tokenRow(W.dV, t, kvDim), kvDim, D);
    rmsnormBackward(W.tokenRow(W.dRes, t, D), W.row(W.resAttn, l, t, D), S.layerWeight(l, S.ATTN_NORM), load<f32>(W.row(W.rmsAttn, l, t, 1)), W.vecD, D);
  }
}
