// The trained-predictor baseline (Deja Vu, Liu et al. 2023; docs/predictor.md): per layer a
// low-rank network scores = B (A x) over the MLP's hidden units, trained on the dense model's
// activations to say which units matter (target: unit in the dense top-k of |h|). At inference the
// top-(keep * hiddenDim) scores form the hidden mask, decided before any MLP weight is read.
// Runtime-neutral: the codec (bytes in, bytes out), the model check and the trainer (in wasm).
//
// File: safetensors (host/formats/safetensors-writer.ts) with tensors
//   layers.{l}.predictor.a  F32 [rank, dim]
//   layers.{l}.predictor.b  F32 [hidden_dim, rank]
// and __metadata__ { format: "dip-predictor", version: "1", rank, dim, hidden_dim, n_layers,
// target_keep, base_model, training (JSON) }.

import type { Engine } from "./engine.js";
import type { ModelConfig } from "./model.js";
import { seededRandom } from "./prng.js";
import { readSafetensorsHeader, tensorToF32 } from "./formats/safetensors.js";
import { encodeSafetensors, type SafetensorsEntry } from "./formats/safetensors-writer.js";
import { f32At } from "./engine-layout.js";

export interface Predictor {
  rank: number;
  dim: number;
  hiddenDim: number;
  /** per layer: A [rank x dim] and B [hiddenDim x rank], row-major */
  layers: { a: Float32Array; b: Float32Array }[];
  /** the fraction of hidden units the training target marked active (the dense top-k of |h|) */
  targetKeep: number;
  /** the model it was trained on (a name, for messages) */
  baseModel?: string;
  /** how it was trained (echoed from the file) */
  training?: Record<string, unknown>;
}

export class PredictorError extends Error {
  override name = "PredictorError";
}

const FORMAT = "dip-predictor";
const VERSION = "1";
const tensorName = (layer: number, which: "a" | "b") => `layers.${layer}.predictor.${which}`;

/** f32 bytes the predictor's weights take (and every token reads, per layer, all of them). */
export function predictorByteSize(p: Predictor): number {
  return p.layers.reduce((s, l) => s + 4 * (l.a.length + l.b.length), 0);
}

export function encodePredictor(p: Predictor): Uint8Array {
  const tensors: SafetensorsEntry[] = [];
  p.layers.forEach((l, i) => {
    tensors.push({ name: tensorName(i, "a"), shape: [p.rank, p.dim], data: l.a });
    tensors.push({ name: tensorName(i, "b"), shape: [p.hiddenDim, p.rank], data: l.b });
  });
  return encodeSafetensors(tensors, {
    format: FORMAT,
    version: VERSION,
    rank: String(p.rank),
    dim: String(p.dim),
    hidden_dim: String(p.hiddenDim),
    n_layers: String(p.layers.length),
    target_keep: String(p.targetKeep),
    ...(p.baseModel ? { base_model: p.baseModel } : {}),
    ...(p.training ? { training: JSON.stringify(p.training) } : {}),
  });
}

/** Parses a predictor file; every field is checked (errors name the file and the field). */
export function decodePredictor(bytes: Uint8Array, file: string): Predictor {
  const header = readSafetensorsHeader(bytes, file);
  const meta = header.metadata;
  if (meta.format !== FORMAT) throw new PredictorError(`${file}: not a predictor file (__metadata__.format is ${JSON.stringify(meta.format)}, expected "${FORMAT}"; write one with dip train-predictor)`);
  if (meta.version !== VERSION) throw new PredictorError(`${file}: predictor version ${JSON.stringify(meta.version)}, expected "${VERSION}"`);
  const int = (key: string) => {
    const v = Number(meta[key]);
    if (!Number.isSafeInteger(v) || v < 1 || v > 1 << 24) throw new PredictorError(`${file}: __metadata__.${key} must be a positive integer, got ${JSON.stringify(meta[key])}`);
    return v;
  };
  const rank = int("rank");
  const dim = int("dim");
  const hiddenDim = int("hidden_dim");
  const nLayers = int("n_layers");
  const targetKeep = Number(meta.target_keep);
  if (!(targetKeep > 0 && targetKeep <= 1)) throw new PredictorError(`${file}: __metadata__.target_keep must be in (0, 1], got ${JSON.stringify(meta.target_keep)}`);
  if (header.tensors.size !== 2 * nLayers) throw new PredictorError(`${file}: ${header.tensors.size} tensors, expected ${2 * nLayers} (A and B for each of ${nLayers} layers)`);
  const layers: Predictor["layers"] = [];
  for (let l = 0; l < nLayers; l++) {
    const get = (which: "a" | "b", shape: number[]) => {
      const t = header.tensors.get(tensorName(l, which));
      if (!t) throw new PredictorError(`${file}: tensor ${tensorName(l, which)} is missing`);
      if (t.dtype !== "F32") throw new PredictorError(`${file}: tensor ${t.name} has dtype ${t.dtype}, expected F32`);
      if (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
        throw new PredictorError(`${file}: tensor ${t.name} has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`);
      }
      const v = tensorToF32(bytes.subarray(t.offset, t.offset + t.byteLength), t).slice();
      const bad = v.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new PredictorError(`${file}: tensor ${t.name} holds ${v[bad]} at element ${bad}; expected finite weights`);
      return v;
    };
    layers.push({ a: get("a", [rank, dim]), b: get("b", [hiddenDim, rank]) });
  }
  let training: Record<string, unknown> | undefined;
  if (meta.training !== undefined) {
    try {
      training = JSON.parse(meta.training);
    } catch {
      throw new PredictorError(`${file}: __metadata__.training is not valid JSON`);
    }
  }
  return { rank, dim, hiddenDim, layers, targetKeep, baseModel: meta.base_model, training };
}

/** Throws unless the predictor was made for this model's shape. */
export function checkPredictor(p: Predictor, c: ModelConfig, source = "predictor"): void {
  const want = `${c.nLayers} layers, dim ${c.dim}, hidden ${c.hiddenDim}`;
  const got = `${p.layers.length} layers, dim ${p.dim}, hidden ${p.hiddenDim}`;
  if (p.layers.length !== c.nLayers || p.dim !== c.dim || p.hiddenDim !== c.hiddenDim) {
    throw new PredictorError(`${source}: made for a model of ${got}${p.baseModel ? ` (${p.baseModel})` : ""}, this model has ${want}`);
  }
}

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
