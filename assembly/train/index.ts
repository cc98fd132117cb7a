// LoRA training inside the engine (DIP.md, "LoRA recovery"): the exports the host's trainer
// (host/lora-train.ts) drives. One call per window of T tokens runs the forward with the chosen
// sparsity's masks, the loss and the backward, accumulating the adapters' gradients; the host
// decides the data order, accumulation, clipping and when to take an AdamW step.

import * as S from "../model/state";
import { loraParamCount, loraParams, loraRank } from "../model/adapters";
import { windowForward } from "./forward";
import { windowBackward } from "./backward";
import { crossEntropy, distillation, LOSS_KD } from "./loss";
import { adamwUpdate, normF32 } from "./adamw";
import * as W from "./state";
import { ERR_NO_ADAPTERS, ERR_WINDOW_TOO_LONG } from "../abi";

export { loraConfigure, loraEnable, loraSetScale, loraA, loraB, loraInit } from "../model/adapters";
export { predictorTrainInit, predictorTrainParamsPtr, predictorTrainGradsPtr, predictorTrainInputsPtr, predictorTrainTargetsPtr, predictorTrainResetOptimizer, predictorTrainLoss, predictorTrainAdamw, predictorTrainRecall } from "./predictor";

export function loraParamsPtr(): usize {
  return loraParams;
}

export function loraParamFloats(): i32 {
  return loraParamCount;
}

/**
 * Allocates the training state for windows of up to maxT tokens (after loraConfigure: the
 * gradients mirror the adapters). Returns 0, or an ERR_* code of ../abi.ts.
 */
export function trainInit(maxT: i32): i32 {
  if (loraParams == 0 || loraRank <= 0) return ERR_NO_ADAPTERS;
  if (maxT < 1 || maxT > S.seqLen) return ERR_WINDOW_TOO_LONG;
  return W.allocate(maxT);
}

/** Whether the training state still belongs to the current adapters (they may have been re-laid out since trainInit). */
export function trainReady(): bool {
  return W.grads != 0 && W.gradsFor == loraParams;
}

/** Where the host writes a window: T + 1 token ids (inputs 0..T-1, targets 1..T) as i32. */
export function trainTokensPtr(): usize {
  return W.tokens;
}

/** The student logits of the last window (T x vocab). */
export function trainLogitsPtr(): usize {
  return W.logitsAll;
}

/** Gradients of the adapters, laid out like loraParamsPtr(). */
export function trainGradsPtr(): usize {
  return W.grads;
}

/** Reuse the previous window's masks instead of choosing new ones (for finite-difference checks). */
export function trainFreezeMasks(on: bool): void {
  W.setFreezeMasks(on);
}

function forwardAndLoss(T: i32, lossKind: i32, gradScale: f32): f64 {
  if (lossKind == LOSS_KD) windowForward(T, true, W.teacherLogits);
  windowForward(T, false, W.logitsAll);
  const targets = W.tokens + 4;
  return lossKind == LOSS_KD
    ? distillation(W.logitsAll, W.teacherLogits, W.dLogits, T, gradScale)
    : crossEntropy(W.logitsAll, targets, W.dLogits, T, gradScale);
}

/** The loss (a sum over the T targets, f64) of the window in trainTokensPtr, without gradients. */
export function trainLoss(T: i32, lossKind: i32): f64 {
  return forwardAndLoss(T, lossKind, 1.0);
}

/**
 * Forward, loss and backward of the window in trainTokensPtr; the adapters' gradients of
 * (loss sum x gradScale) are added to trainGradsPtr. Returns the loss sum.
 */
export function trainWindow(T: i32, lossKind: i32, gradScale: f32): f64 {
  const loss = forwardAndLoss(T, lossKind, gradScale);
  windowBackward(T);
  return loss;
}

export function trainZeroGrads(): void {
  memory.fill(W.grads, 0, <usize>loraParamCount << 2);
}

/** Norm of the accumulated gradient (f64), for clipping. */
export function trainGradNorm(): f64 {
  return normF32(W.grads, loraParamCount);
}

/** One AdamW step (step counts from 1) on the adapters with the accumulated gradient times gradScale. */
export function trainAdamw(lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64, step: i32, gradScale: f64): void {
  adamwUpdate(loraParams, W.grads, W.adamM, W.adamV, loraParamCount, lr, beta1, beta2, eps, weightDecay, step, gradScale);
}

/** Clears the AdamW moments (a new run on the same adapters). */
export function trainResetOptimizer(): void {
  memory.fill(W.adamM, 0, <usize>loraParamCount << 2);
  memory.fill(W.adamV, 0, <usize>loraParamCount << 2);
}
