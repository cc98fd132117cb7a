// LoRA recovery training (DIP.md): adapters on the sparsified MLP linears trained with the base
// weights frozen, under the engine's current sparsity, so they learn to make up for what the masks
// drop. Runtime-neutral: token streams in, adapters out through callbacks.
//
// Data: the training stream is cut into windows of `window` tokens (+1 target) at stride `window`;
// each epoch visits them in an order shuffled by a seeded PRNG. One optimizer step accumulates the
// gradients of `accum` windows (the loss is averaged over their tokens). Learning rate: linear
// warm-up, then cosine decay to a tenth. Validation: perplexity (host/eval.ts, adapters applied)
// on a separate stream every `evalEvery` steps and at the end; training stops early after
// `patience` evaluations without a new best, and the best adapters are kept (and reported).

import type { Engine } from "./engine.js";
import { perplexity } from "./eval.js";
import type { LoraAdapters } from "./lora.js";
import { LoraTrainer, type LossKind } from "./lora-train.js";
import { seededRandom } from "./prng.js";

export interface FinetuneOptions {
  /** training token stream (stories concatenated, each with BOS) */
  train: number[];
  /** validation token stream (stories never trained on) */
  val: number[];
  /** tokens per training window */
  window: number;
  /** windows per optimizer step (gradient accumulation) */
  accum: number;
  /** optimizer steps at most */
  steps: number;
  lr: number;
  loss: LossKind;
  /** steps of linear warm-up (default: a tenth of the steps, at most 20) */
  warmupSteps?: number;
  weightDecay?: number;
  /** clip the gradient to this global norm (default 1) */
  clipNorm?: number;
  /** validate every this many steps */
  evalEvery: number;
  /** stop after this many validations without a new best */
  patience: number;
  /** data order */
  seed: number;
  /** validation window (default: the model's context, as `dip eval`) */
  evalWindow?: number;
  onStep?: (s: StepReport) => void;
  onEval?: (e: EvalReport) => void;
  /** called with a copy of the adapters whenever validation perplexity reaches a new best */
  onBest?: (adapters: LoraAdapters, e: EvalReport) => Promise<void> | void;
}

export interface StepReport {
  step: number;
  steps: number;
  /** mean loss per target token over this step's windows */
  loss: number;
  lr: number;
  gradNorm: number;
  /** training tokens processed so far */
  tokens: number;
  /** training tokens per second of training time (validation excluded) */
  tokPerSec: number;
}

export interface EvalReport {
  step: number;
  ppl: number;
  best: { step: number; ppl: number };
  improved: boolean;
}

export interface FinetuneResult {
  steps: number;
  stoppedEarly: boolean;
  /** validation perplexity before training (adapters with B = 0 change nothing) */
  baselinePpl: number;
  best: { step: number; ppl: number };
  evals: { step: number; ppl: number; loss: number }[];
  trainTokens: number;
  trainSeconds: number;
  tokPerSec: number;
  parameters: number;
}

/** The learning rate at step (1-based): linear warm-up, then cosine from lr to lr / 10. */
export function learningRate(step: number, steps: number, lr: number, warmup: number): number {
  if (step <= warmup) return (lr * step) / Math.max(1, warmup);
  const progress = (step - warmup) / Math.max(1, steps - warmup);
  return lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
}

/**
 * Trains the engine's adapters (engine.initAdapters or setAdapters first) under its current
 * sparsity. On return the engine holds the best adapters found.
 */
export async function finetune(engine: Engine, o: FinetuneOptions): Promise<FinetuneResult> {
  for (const [k, v] of [["window", o.window], ["accum", o.accum], ["steps", o.steps], ["evalEvery", o.evalEvery], ["patience", o.patience]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  }
  if (!(o.lr > 0)) throw new RangeError(`lr must be > 0, got ${o.lr}`);
  const nWindows = Math.floor((o.train.length - 1) / o.window);
  if (nWindows < 1) throw new RangeError(`the training text has ${o.train.length} tokens, fewer than one window of ${o.window} + 1`);
  if (o.val.length < 2) throw new RangeError("the validation text has no tokens to predict");
  const trainer = new LoraTrainer(engine, o.window);
  const warmup = o.warmupSteps ?? Math.min(20, Math.floor(o.steps / 10));
  const clipNorm = o.clipNorm ?? 1;

  const random = seededRandom(o.seed);
  let order: number[] = [];
  let cursor = 0;
  const nextWindow = (): number[] => {
    if (cursor >= order.length) {
      order = Array.from({ length: nWindows }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      cursor = 0;
    }
    const start = order[cursor++] * o.window;
    return o.train.slice(start, start + o.window + 1);
  };

  const validate = () => perplexity(engine, o.val, { window: o.evalWindow }).ppl;
  const baselinePpl = validate();
  let best = { step: 0, ppl: baselinePpl };
  let bestAdapters = engine.getAdapters()!;
  const evals = [{ step: 0, ppl: baselinePpl, loss: NaN }];
  const report = async (step: number, ppl: number, loss: number) => {
    const improved = ppl < best.ppl;
    if (improved) {
      best = { step, ppl };
      bestAdapters = engine.getAdapters()!;
    }
    evals.push({ step, ppl, loss });
    const e: EvalReport = { step, ppl, best, improved };
    o.onEval?.(e);
    if (improved) await o.onBest?.(bestAdapters, e);
    return improved;
  };
  o.onEval?.({ step: 0, ppl: baselinePpl, best, improved: false });
  await o.onBest?.(bestAdapters, { step: 0, ppl: baselinePpl, best, improved: false });

  let trainMs = 0;
  let tokens = 0;
  let sinceBest = 0;
  let step = 0;
  let stoppedEarly = false;
  let lastLoss = NaN;
  const tokensPerStep = o.window * o.accum;
  while (step < o.steps) {
    step++;
    const t0 = performance.now();
    trainer.zeroGrads();
    let lossSum = 0;
    for (let k = 0; k < o.accum; k++) lossSum += trainer.accumulate(nextWindow(), o.loss, 1 / tokensPerStep);
    const lr = learningRate(step, o.steps, o.lr, warmup);
    const gradNorm = trainer.step({ lr, step, weightDecay: o.weightDecay ?? 0, clipNorm });
    trainMs += performance.now() - t0;
    tokens += tokensPerStep;
    lastLoss = lossSum / tokensPerStep;
    o.onStep?.({ step, steps: o.steps, loss: lastLoss, lr, gradNorm, tokens, tokPerSec: tokens / (trainMs / 1000) });
    if (step % o.evalEvery === 0 || step === o.steps) {
      if (await report(step, validate(), lastLoss)) sinceBest = 0;
      else if (++sinceBest >= o.patience) {
        stoppedEarly = step < o.steps;
        break;
      }
    }
  }
  engine.setAdapters(bestAdapters);
  return {
    steps: step,
    stoppedEarly,
    baselinePpl,
    best,
    evals,
    trainTokens: tokens,
    trainSeconds: trainMs / 1000,
    tokPerSec: tokens / Math.max(1e-9, trainMs / 1000),
    parameters: trainer.parameterCount,
  };
}
