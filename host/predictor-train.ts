// Training the predictor (host/predictor.ts, docs/predictor.md) in wasm
// (assembly/train/predictor.ts): the dense model runs over the training stories, its MLP inputs
// and the dense top-k of |h| become samples and 0/1 targets, and each layer's A and B are fitted
// by AdamW on the mean binary cross-entropy.

import type { Engine } from "./engine.js";
import { f32At } from "./engine-layout.js";
import { seededRandom } from "./prng.js";
import { PredictorError, type Predictor } from "./predictor.js";

/** Top-k of |h| as 0/1 targets: ties to the lower index, as the engine's top-k. */
export function topKTargets(h: Float32Array, k: number, out: Float32Array | Uint8Array): void {
  const order = Array.from(h, (v, i) => i).sort((i, j) => Math.abs(h[j]) - Math.abs(h[i]) || i - j);
  out.fill(0);
  for (let n = 0; n < k; n++) out[order[n]] = 1;
}

export interface PredictorTrainOptions {
  /** token sequences (each a story with BOS, cut to the context) the dense model runs over */
  sequences: number[][];
  /** held-out sequences for the reported loss and recall */
  validation: number[][];
  rank: number;
  /** target: the dense top-(targetKeep * hiddenDim) units of |h| */
  targetKeep: number;
  /** AdamW steps per layer */
  steps: number;
  /** samples (tokens) per step */
  batch: number;
  lr: number;
  seed: number;
  onLayer?: (r: PredictorLayerReport) => void;
}

export interface PredictorLayerReport {
  layer: number;
  /** mean BCE on the validation tokens before and after training */
  valLossBefore: number;
  valLossAfter: number;
  /** fraction of the dense top-k the predictor's top-k finds, on the validation tokens */
  valRecallBefore: number;
  valRecallAfter: number;
}

/** Dense activations of every token: per layer, the MLP inputs and the 0/1 targets, token-major. */
function collect(engine: Engine, sequences: number[][], k: number): { inputs: Float32Array[]; targets: Uint8Array[]; n: number } {
  const c = engine.config;
  const n = sequences.reduce((s, q) => s + q.length, 0);
  const inputs = Array.from({ length: c.nLayers }, () => new Float32Array(n * c.dim));
  const targets = Array.from({ length: c.nLayers }, () => new Uint8Array(n * c.hiddenDim));
  engine.setSparsity({ method: "dense" }); // and left dense
  const capture = engine.enableCapture();
  let t = 0;
  try {
    for (const seq of sequences) {
      engine.reset();
      for (const token of seq) {
        engine.step(token);
        const x = capture.input();
        const h = capture.hidden();
        for (let l = 0; l < c.nLayers; l++) {
          inputs[l].set(x.subarray(l * c.dim, (l + 1) * c.dim), t * c.dim);
          topKTargets(h.subarray(l * c.hiddenDim, (l + 1) * c.hiddenDim), k, targets[l].subarray(t * c.hiddenDim, (t + 1) * c.hiddenDim));
        }
        t++;
      }
    }
  } finally {
    engine.disableCapture();
  }
  return { inputs, targets, n };
}

/**
 * Trains one predictor per layer in wasm (assembly/train/predictor.ts): AdamW on the mean binary
 * cross-entropy, batches drawn by a seeded PRNG from the training tokens. Returns the predictor
 * and per-layer validation loss and recall before and after.
 */
export function trainPredictor(engine: Engine, o: PredictorTrainOptions): { predictor: Predictor; layers: PredictorLayerReport[] } {
  const c = engine.config;
  const x = engine.exports;
  if (!Number.isInteger(o.rank) || o.rank < 1 || o.rank > c.hiddenDim) throw new PredictorError(`--rank must be an integer in [1, ${c.hiddenDim}], got ${o.rank}`);
  if (!(o.targetKeep > 0 && o.targetKeep <= 1)) throw new PredictorError(`--target-keep must be in (0, 1], got ${o.targetKeep}`);
  if (!Number.isInteger(o.steps) || o.steps < 0) throw new PredictorError(`--steps must be a non-negative integer, got ${o.steps}`);
  if (!Number.isInteger(o.batch) || o.batch < 1) throw new PredictorError(`--batch must be a positive integer, got ${o.batch}`);
  const k = Math.max(1, Math.floor(o.targetKeep * c.hiddenDim));
  const train = collect(engine, o.sequences, k);
  const val = collect(engine, o.validation, k);
  if (train.n === 0 || val.n === 0) throw new PredictorError("no training or validation tokens");
  const maxBatch = Math.max(o.batch, val.n);
  if (x.predictorTrainInit(o.rank, c.dim, c.hiddenDim, maxBatch) !== 0) throw new PredictorError(`out of wasm memory for a predictor batch of ${maxBatch} tokens`);
  const nA = o.rank * c.dim;
  const nB = c.hiddenDim * o.rank;
  const random = seededRandom(o.seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const load = (src: { inputs: Float32Array[]; targets: Uint8Array[] }, l: number, rows: number[]) => {
    const xs = f32At(x, x.predictorTrainInputsPtr() >>> 0, maxBatch * c.dim);
    const ys = f32At(x, x.predictorTrainTargetsPtr() >>> 0, maxBatch * c.hiddenDim);
    rows.forEach((r, i) => {
      xs.set(src.inputs[l].subarray(r * c.dim, (r + 1) * c.dim), i * c.dim);
      ys.set(src.targets[l].subarray(r * c.hiddenDim, (r + 1) * c.hiddenDim), i * c.hiddenDim);
    });
  };
  const valRows = Array.from({ length: val.n }, (_, i) => i);
  const layers: Predictor["layers"] = [];
  const reports: PredictorLayerReport[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    // A ~ N(0, 1/dim), B ~ N(0, 1/rank): scores start at unit scale
    const params = f32At(x, x.predictorTrainParamsPtr() >>> 0, nA + nB);
    for (let i = 0; i < nA; i++) params[i] = gaussian() / Math.sqrt(c.dim);
    for (let i = nA; i < nA + nB; i++) params[i] = gaussian() / Math.sqrt(o.rank);
    x.predictorTrainResetOptimizer();
    load(val, l, valRows);
    const valLossBefore = x.predictorTrainLoss(val.n, 0);
    const valRecallBefore = x.predictorTrainRecall(val.n);
    for (let step = 1; step <= o.steps; step++) {
      const rows = Array.from({ length: o.batch }, () => Math.floor(random() * train.n));
      load(train, l, rows);
      x.predictorTrainLoss(o.batch, 1);
      x.predictorTrainAdamw(o.lr, 0.9, 0.999, 1e-8, 0, step);
    }
    load(val, l, valRows);
    const report = { layer: l, valLossBefore, valLossAfter: x.predictorTrainLoss(val.n, 0), valRecallBefore, valRecallAfter: x.predictorTrainRecall(val.n) };
    reports.push(report);
    o.onLayer?.(report);
    const trained = f32At(x, x.predictorTrainParamsPtr() >>> 0, nA + nB);
    layers.push({ a: trained.slice(0, nA), b: trained.slice(nA) });
  }
  return { predictor: { rank: o.rank, dim: c.dim, hiddenDim: c.hiddenDim, layers, targetKeep: o.targetKeep }, layers: reports };
}
