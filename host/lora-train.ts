// Drives the engine's LoRA training (assembly/train/): windows in, losses and gradients out,
// AdamW steps. The math runs in wasm; the host picks windows and hyperparameters.
//
//   engine.setSparsity({ method: "dip", keep: 0.5 });
//   engine.initAdapters({ rank: 8, alpha: 16, seed: 1 });
//   const trainer = new LoraTrainer(engine, 256);
//   trainer.zeroGrads();
//   const loss = trainer.accumulate(tokens /* T + 1 ids */, "kd", 1 / 256);
//   trainer.step({ lr: 1e-3, step: 1 });

import type { Engine } from "./engine.js";
import { ERR_OUT_OF_MEMORY, LOSS_CE, LOSS_KD, type EngineExports } from "./abi.js";

export type LossKind = "ce" | "kd";
export const LOSS_KINDS: LossKind[] = ["ce", "kd"];
const LOSS_ID: Record<LossKind, number> = { ce: LOSS_CE, kd: LOSS_KD };

/** Methods whose masks the training forward reproduces (input top-k/threshold, hidden top-k/threshold). */
export const TRAINABLE_METHODS = ["dense", "glu", "dip", "dip-threshold"] as const;

export interface AdamWOptions {
  lr: number;
  /** optimizer step, counting from 1 (bias correction) */
  step: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** decoupled weight decay (AdamW), default 0 */
  weightDecay?: number;
  /** clip the gradient to this global norm first (default: no clipping) */
  clipNorm?: number;
}

export class LoraTrainer {
  private readonly w: EngineExports;

  /** Allocates the training state for windows of up to maxWindow tokens (after engine.initAdapters / setAdapters). */
  constructor(
    readonly engine: Engine,
    readonly maxWindow: number,
  ) {
    if (!engine.adapterSettings) throw new Error("LoraTrainer: the engine has no adapters; call engine.initAdapters() or setAdapters() first");
    if (engine.dtype !== "f32") throw new Error(`LoRA training needs f32 weights (the backward pass reads them as f32); got --dtype ${engine.dtype}`);
    if (engine.streamSetup) throw new Error("LoRA training needs the MLP weights resident; it is not available with --stream");
    const m = engine.sparsity.method;
    if (!(TRAINABLE_METHODS as readonly string[]).includes(m)) {
      throw new Error(`LoRA training supports ${TRAINABLE_METHODS.join(", ")}; ${m} is not trainable here (cats reads W_up by rows; dip-ca's masks depend on a live cache)`);
    }
    if (!Number.isInteger(maxWindow) || maxWindow < 1) throw new RangeError(`--window must be a positive integer, got ${maxWindow}`);
    if (maxWindow > engine.config.seqLen) throw new RangeError(`--window ${maxWindow} is longer than the model's context of ${engine.config.seqLen} tokens`);
    this.w = engine.exports;
    const rc = this.w.trainInit(maxWindow);
    if (rc === ERR_OUT_OF_MEMORY) throw new Error(`out of wasm memory allocating the training state for ${maxWindow}-token windows`);
    if (rc !== 0) throw new Error(`trainInit failed (${rc})`);
  }

  /** Number of trainable parameters (every A and B). */
  get parameterCount(): number {
    return this.w.loraParamFloats();
  }

  /** Live views of the parameters and their accumulated gradients (same layout; valid until memory grows). */
  params(): Float32Array {
    return new Float32Array(this.w.memory.buffer, this.w.loraParamsPtr() >>> 0, this.w.loraParamFloats());
  }

  grads(): Float32Array {
    return new Float32Array(this.w.memory.buffer, this.w.trainGradsPtr() >>> 0, this.w.loraParamFloats());
  }

  /** The student logits of the last window (T x vocab), a live view. */
  logits(T: number): Float32Array {
    return new Float32Array(this.w.memory.buffer, this.w.trainLogitsPtr() >>> 0, T * this.engine.config.vocabSize);
  }

  private putWindow(tokens: ArrayLike<number>): number {
    this.checkReady();
    const T = tokens.length - 1;
    if (T < 1 || T > this.maxWindow) throw new RangeError(`a training window needs 2..${this.maxWindow + 1} tokens (inputs and targets), got ${tokens.length}`);
    const V = this.engine.config.vocabSize;
    const buf = new Int32Array(this.w.memory.buffer, this.w.trainTokensPtr() >>> 0, T + 1);
    for (let i = 0; i <= T; i++) {
      const id = tokens[i];
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`token id ${id} is out of the vocabulary (0..${V - 1})`);
      buf[i] = id;
    }
    return T;
  }

  /** The loss summed over the window's T targets (tokens = T inputs + the last target), no gradients. */
  loss(tokens: ArrayLike<number>, kind: LossKind): number {
    return this.w.trainLoss(this.putWindow(tokens), LOSS_ID[kind]);
  }

  /** Forward + backward of one window; adds gradScale x d(loss sum) to the gradients. Returns the loss sum. */
  accumulate(tokens: ArrayLike<number>, kind: LossKind, gradScale: number): number {
    return this.w.trainWindow(this.putWindow(tokens), LOSS_ID[kind], gradScale);
  }

  /** Adapters of another shape laid out since (setAdapters / initAdapters) make this trainer stale. */
  private checkReady(): void {
    if (!this.w.trainReady()) throw new Error("LoraTrainer: the engine's adapters were replaced by ones of another shape; create a new trainer");
  }

  zeroGrads(): void {
    this.checkReady();
    this.w.trainZeroGrads();
  }

  gradNorm(): number {
    return this.w.trainGradNorm();
  }

  /** One AdamW step with the accumulated gradients (clipped first when clipNorm is set). Returns the gradient norm. */
  step(o: AdamWOptions): number {
    this.checkReady();
    const norm = this.w.trainGradNorm();
    const scale = o.clipNorm !== undefined && norm > o.clipNorm ? o.clipNorm / norm : 1;
    this.w.trainAdamw(o.lr, o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.eps ?? 1e-8, o.weightDecay ?? 0, o.step, scale);
    return norm;
  }

  resetOptimizer(): void {
    this.w.trainResetOptimizer();
  }

  /** Reuse the last window's masks instead of choosing new ones (finite-difference gradient checks). */
  freezeMasks(on: boolean): void {
    this.w.trainFreezeMasks(on ? 1 : 0);
  }
}
