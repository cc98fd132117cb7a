// The trained-predictor baseline (Deja Vu, Liu et al. 2023; docs/predictor.md): per layer a
// low-rank network scores = B (A x) over the MLP's hidden units, trained on the dense model's
// activations to say which units matter (target: unit in the dense top-k of |h|). At inference the
// top-(keep * hiddenDim) scores form the hidden mask, decided before any MLP weight is read.
// Runtime-neutral: the codec (bytes in, bytes out) and the model check; the trainer is
// host/predictor-train.ts.
//
// File: safetensors (host/formats/safetensors-writer.ts) with tensors
//   layers.{l}.predictor.a  F32 [rank, dim]
//   layers.{l}.predictor.b  F32 [hidden_dim, rank]
// and __metadata__ { format: "dip-predictor", version: "1", rank, dim, hidden_dim, n_layers,
// target_keep, base_model, training (JSON) }.

import type { ModelConfig } from "./model.js";
import { readSafetensorsHeader, tensorToF32 } from "./formats/safetensors.js";
import { encodeSafetensors, type SafetensorsEntry } from "./formats/safetensors-writer.js";

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
