// Model shapes the simulator knows by name, and weight footprints by group (SIMULATOR.md
// "Footprints"). Presets are facts from the models' config.json files.

/** The dimensions the simulator needs; field names match ModelConfig so a loaded config fits. */
export interface ModelDims {
  /** L */
  nLayers: number;
  /** V */
  vocabSize: number;
  /** H, the hidden size (D in DIP.md) */
  dim: number;
  /** I, the MLP intermediate size */
  hiddenDim: number;
  nHeads: number;
  nKvHeads: number;
  /** context length: KV cache positions */
  seqLen: number;
  /** SwiGLU MLP (W_gate, W_up, W_down); false = two matrices. Default true. */
  gated?: boolean;
}

export const PRESET_NAMES = ["phi-3-medium", "phi-3-mini", "llama-3-8b", "mistral-7b"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export const PRESETS: Record<PresetName, ModelDims> = {
  "phi-3-medium": { nLayers: 40, vocabSize: 32064, dim: 5120, hiddenDim: 17920, nHeads: 40, nKvHeads: 10, seqLen: 4096, gated: true },
  "phi-3-mini": { nLayers: 32, vocabSize: 32064, dim: 3072, hiddenDim: 8192, nHeads: 32, nKvHeads: 32, seqLen: 4096, gated: true },
  "llama-3-8b": { nLayers: 32, vocabSize: 128256, dim: 4096, hiddenDim: 14336, nHeads: 32, nKvHeads: 8, seqLen: 8192, gated: true },
  "mistral-7b": { nLayers: 32, vocabSize: 32000, dim: 4096, hiddenDim: 14336, nHeads: 32, nKvHeads: 8, seqLen: 32768, gated: true },
};

/** Bits per weight of each group (the kv cache's are bits per cached element). */
export interface Precision {
  embedding: number;
  lm_head: number;
  attention: number;
  mlp: number;
  kv_cache: number;
}
export const PRECISION_GROUPS = ["embedding", "lm_head", "attention", "mlp", "kv_cache"] as const;
export type WeightGroup = (typeof PRECISION_GROUPS)[number];

/** The paper's setting: 8-bit embeddings, head and KV cache, 4-bit attention and MLP. */
export const DEFAULT_BITS: Readonly<Precision> = { embedding: 8, lm_head: 8, attention: 4, mlp: 4, kv_cache: 8 };

/** Bytes per group. Every field is bytes; total is their sum. */
export interface Footprint {
  embedding: number;
  lm_head: number;
  attention: number;
  mlp: number;
  kv_cache: number;
  total: number;
}

export class PresetError extends Error {
  override name = "PresetError";
}

export function presetByName(name: string): ModelDims {
  if (!(PRESET_NAMES as readonly string[]).includes(name)) {
    throw new PresetError(`unknown preset "${name}"; known presets: ${PRESET_NAMES.join(", ")}`);
  }
  return PRESETS[name as PresetName];
}

/** Checks every dimension is a positive integer and heads divide evenly; throws naming the field. */
export function validateDims(d: ModelDims, where = "model dims"): void {
  for (const k of ["nLayers", "vocabSize", "dim", "hiddenDim", "nHeads", "nKvHeads", "seqLen"] as const) {
    const v = d[k];
    if (!Number.isSafeInteger(v) || v <= 0) throw new PresetError(`${where}: ${k} must be a positive integer, got ${v}`);
  }
  if (d.nHeads % d.nKvHeads !== 0) throw new PresetError(`${where}: nHeads ${d.nHeads} is not a multiple of nKvHeads ${d.nKvHeads}`);
}

/** Bytes per weight (or per KV element) of a group. */
export const bytesPerWeight = (bits: Precision, group: WeightGroup): number => bits[group] / 8;

/** The KV-sharing ratio g = kv_heads / heads. */
export const kvRatio = (d: ModelDims): number => d.nKvHeads / d.nHeads;

/** KV cache bytes at `positions` cached tokens: p * seq * H * 2 * L * g. */
export function kvCacheBytes(d: ModelDims, bits: Precision, positions: number): number {
  return bytesPerWeight(bits, "kv_cache") * positions * d.dim * 2 * d.nLayers * kvRatio(d);
}

/**
 * Weight bytes per group (SIMULATOR.md):
 *   lm_head, embedding : p * H * V
 *   mlp                : p * H * I * (3 if gated else 2) * L
 *   attention          : p * H^2 * (2 + 2g) * L       (q and o are H x H, k and v are H x gH)
 *   kv_cache(seq)      : p * seq * H * 2 * L * g
 * A tied lm_head is still counted on its own, as the formulas do.
 */
export function footprint(d: ModelDims, bits: Precision, seqLen: number): Footprint {
  validateDims(d);
  if (!Number.isFinite(seqLen) || seqLen < 0) throw new PresetError(`sequence length must be >= 0, got ${seqLen}`);
  const H = d.dim;
  const L = d.nLayers;
  const fp = {
    embedding: bytesPerWeight(bits, "embedding") * H * d.vocabSize,
    lm_head: bytesPerWeight(bits, "lm_head") * H * d.vocabSize,
    attention: bytesPerWeight(bits, "attention") * H * H * (2 + 2 * kvRatio(d)) * L,
    mlp: bytesPerWeight(bits, "mlp") * H * d.hiddenDim * (d.gated === false ? 2 : 3) * L,
    kv_cache: kvCacheBytes(d, bits, seqLen),
  };
  return { ...fp, total: fp.embedding + fp.lm_head + fp.attention + fp.mlp + fp.kv_cache };
}

/** Footprint of a loaded model's config (any object with ModelDims' fields, e.g. ModelConfig).
 *  Bits default to DEFAULT_BITS per missing group, seqLen to the config's context length. */
export function footprintFromConfig(config: ModelDims, bits: Partial<Precision> = {}, seqLen?: number): Footprint {
  return footprint(config, { ...DEFAULT_BITS, ...bits }, seqLen ?? config.seqLen);
}
