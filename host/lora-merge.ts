// Merging LoRA adapters into the MLP weights (issue #18, item 1): W' = W + (alpha / r) B A.
//
// Exact under every input-side mask: DIP keeps inputs of W_gate/W_up (the MLP input x) and of
// W_down (the hidden h), and the engine applies an adapter to the same kept inputs as its base
// weight (assembly/model/adapters.ts:  out += ((x*m) A^T) B^T * alpha/r), so
//   W (x*m) + (alpha/r) B A (x*m) = (W + (alpha/r) B A) (x*m).
// Both sides are in nn.Linear orientation [out x in] (host/model.ts; PEFT's lora_B [out x r],
// lora_A [r x in], host/lora.ts), so no transpose is needed. Each merged value is summed in f64
// and rounded to f32 once; the result differs from the unmerged forward by f32 rounding only.

import type { LayerWeights, LoadedModel } from "./model.js";
import { checkAdapters, type LoraAdapters, type LoraLinear, type LoraTarget } from "./lora.js";

/** The LayerWeights field each adapter target updates. */
const TARGET_WEIGHT: Record<LoraTarget, "wGate" | "wUp" | "wDown"> = { gate: "wGate", up: "wUp", down: "wDown" };

/** W + scale * B A for one linear, as a new [out x in] array (W is not modified). */
export function mergeLinear(w: Float32Array, adapter: LoraLinear, rank: number, scale: number): Float32Array {
  const { a, b, inFeatures, outFeatures } = adapter;
  const merged = new Float32Array(w.length);
  for (let o = 0; o < outFeatures; o++) {
    for (let i = 0; i < inFeatures; i++) {
      let delta = 0;
      for (let k = 0; k < rank; k++) delta += b[o * rank + k] * a[k * inFeatures + i];
      merged[o * inFeatures + i] = w[o * inFeatures + i] + scale * delta;
    }
  }
  return merged;
}

/**
 * The model with `adapters` merged into its gate/up/down weights: a new LoadedModel sharing every
 * untouched array with `model` (which is not modified). Throws AdapterError when they do not fit.
 */
export function mergeAdapters(model: LoadedModel, adapters: LoraAdapters, source = "adapters"): LoadedModel {
  checkAdapters(adapters, model.config, source);
  const scale = adapters.alpha / adapters.rank;
  const layers = model.weights.layers.map((layer, l): LayerWeights => {
    const merged: LayerWeights = { ...layer };
    for (const t of adapters.targets) {
      const field = TARGET_WEIGHT[t];
      merged[field] = mergeLinear(layer[field], adapters.layers[l][t]!, adapters.rank, scale);
    }
    return merged;
  });
  return { ...model, weights: { ...model.weights, layers } };
}
