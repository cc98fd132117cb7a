// Model shapes the simulator knows by name, and weight footprints by group (SIMULATOR.md
// "Footprints"). Presets are facts from the models' config.json files. The footprint formulas run
// in wasm (assembly/sim/footprint.ts), on the engine instance given or a fresh default one.
import type { EngineExports } from "../wasm.js";
import { simWasm, type SimLayout, type SimWasm } from "./wasm-sim.js";

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

/** Hands the model and its bits to the wasm cost model (every footprint and partition call starts here). */
export function describeModel(sim: SimWasm, d: ModelDims, bits: Precision): void {
  validateDims(d);
  sim.simSetModel(d.nLayers, d.vocabSize, d.dim, d.hiddenDim, d.nHeads, d.nKvHeads, d.gated === false ? 0 : 1);
  sim.simSetBits(bits.embedding, bits.lm_head, bits.attention, bits.mlp, bits.kv_cache);
}

/** KV cache bytes at `positions` cached tokens: p * seq * H * 2 * L * g. */
export function kvCacheBytes(exports: EngineExports, d: ModelDims, bits: Precision, positions: number): number {
  const sim = simWasm(exports);
  describeModel(sim, d, bits);
  return sim.simKvCacheBytes(positions);
}

/** Weight bytes per group (SIMULATOR.md "Footprints"); a tied lm_head is still counted on its own,
 *  as the formulas do. */
export function footprint(exports: EngineExports, d: ModelDims, bits: Precision, seqLen: number): Footprint {
  const sim = simWasm(exports);
  describeModel(sim, d, bits);
  if (!Number.isFinite(seqLen) || seqLen < 0) throw new PresetError(`sequence length must be >= 0, got ${seqLen}`);
  const r = sim.record(sim.simFootprint(seqLen), sim.layout.FOOTPRINT_TOTAL + 1);
  const bytes = (field: keyof SimLayout) => r[sim.layout[field]];
  return { embedding: bytes("WEIGHT_EMBEDDING"), lm_head: bytes("WEIGHT_LM_HEAD"), attention: bytes("WEIGHT_ATTENTION"), mlp: bytes("WEIGHT_MLP"), kv_cache: bytes("WEIGHT_KV_CACHE"), total: bytes("FOOTPRINT_TOTAL") };
}

/** Footprint of a loaded model's config (any object with ModelDims' fields, e.g. ModelConfig).
 *  Bits default to DEFAULT_BITS per missing group, seqLen to the config's context length. */
export function footprintFromConfig(exports: EngineExports, config: ModelDims, bits: Partial<Precision> = {}, seqLen?: number): Footprint {
  return footprint(exports, config, { ...DEFAULT_BITS, ...bits }, seqLen ?? config.seqLen);
}
