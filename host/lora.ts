// LoRA adapters for the MLP's sparsified linears (DIP.md, "LoRA recovery"), as the host holds
// them: PEFT orientation (lora_A [r x in], lora_B [out x r], row-major f32), so they map one to one
// onto adapter_model.safetensors tensors. The engine lays them out for its kernels
// (Engine.setAdapters) and applies  out += ((x*m) A^T) B^T * (alpha / r)  after each gather.

import { type ModelConfig, printable } from "./model.js";
import type { SparsitySpec } from "./sparsity.js";
import { LORA_DOWN, LORA_GATE, LORA_UP } from "./abi.js";

export const LORA_TARGETS = ["gate", "up", "down"] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

/** The wasm-side target ids (assembly/abi.ts). */
export const LORA_TARGET_ID: Record<LoraTarget, number> = { gate: LORA_GATE, up: LORA_UP, down: LORA_DOWN };

/** Hugging Face / PEFT module names of the targets. */
export const PEFT_MODULE: Record<LoraTarget, string> = { gate: "gate_proj", up: "up_proj", down: "down_proj" };

export interface LoraLinear {
  /** lora_A: (rank, inFeatures) row-major */
  a: Float32Array;
  /** lora_B: (outFeatures, rank) row-major */
  b: Float32Array;
  inFeatures: number;
  outFeatures: number;
}

export interface LoraAdapters {
  rank: number;
  /** lora_alpha: the update is scaled by alpha / rank */
  alpha: number;
  /** which MLP linears carry adapters (the same in every layer) */
  targets: LoraTarget[];
  /** per layer, one adapter per target */
  layers: Partial<Record<LoraTarget, LoraLinear>>[];
  /** the sparsity the adapters were trained under (recorded in the config; not enforced) */
  sparsity?: SparsitySpec;
  /** provenance carried into the config file (training settings, base model) */
  info?: Record<string, unknown>;
}

/** the largest finite f32 */
const MAX_F32 = 3.4028234663852886e38;

/** Adapters that do not fit the model, or a malformed adapter file: the message says which tensor and why. */
export class AdapterError extends Error {
  override name = "AdapterError";
  constructor(message: string) {
    super(printable(message));
  }
}

/** (in, out) features of a target's linear: gate/up map dim -> hiddenDim, down maps hiddenDim -> dim. */
export function loraLinearShape(c: Pick<ModelConfig, "dim" | "hiddenDim">, target: LoraTarget): { inFeatures: number; outFeatures: number } {
  return target === "down" ? { inFeatures: c.hiddenDim, outFeatures: c.dim } : { inFeatures: c.dim, outFeatures: c.hiddenDim };
}

/** Parses "gate,up,down" (PEFT names like gate_proj also accepted). */
export function parseLoraTargets(s: string | string[]): LoraTarget[] {
  const parts = (Array.isArray(s) ? s : s.split(",")).map((p) => p.trim()).filter((p) => p.length > 0);
  const out: LoraTarget[] = [];
  for (const p of parts) {
    const t = p.replace(/_proj$/, "") as LoraTarget;
    if (!LORA_TARGETS.includes(t)) throw new AdapterError(`unknown LoRA target "${p}"; supported: ${LORA_TARGETS.join(", ")} (or ${LORA_TARGETS.map((x) => PEFT_MODULE[x]).join(", ")})`);
    if (!out.includes(t)) out.push(t);
  }
  if (out.length === 0) throw new AdapterError("no LoRA targets given");
  return LORA_TARGETS.filter((t) => out.includes(t)); // canonical order
}

/** Checks that adapters fit a model: layer count, every target present in every layer, shapes, rank. */
export function checkAdapters(ad: LoraAdapters, c: ModelConfig, source = "adapters"): void {
  if (!Number.isInteger(ad.rank) || ad.rank < 1) throw new AdapterError(`${source}: rank must be a positive integer, got ${ad.rank}`);
  if (!Number.isFinite(ad.alpha) || ad.alpha <= 0) throw new AdapterError(`${source}: lora_alpha must be > 0, got ${ad.alpha}`);
  // the wasm scales the update by alpha / rank in f32: it must stay a finite f32
  if (!Number.isFinite(Math.fround(ad.alpha / ad.rank))) throw new AdapterError(`${source}: lora_alpha ${ad.alpha} / r ${ad.rank} overflows f32; expected a scale below ${MAX_F32}`);
  if (ad.targets.length === 0) throw new AdapterError(`${source}: no target modules`);
  if (ad.layers.length !== c.nLayers) {
    throw new AdapterError(`${source}: adapters have ${ad.layers.length} layers, the model has ${c.nLayers}`);
  }
  ad.layers.forEach((layer, l) => {
    for (const t of ad.targets) {
      const m = layer[t];
      const name = `layer ${l} ${PEFT_MODULE[t]}`;
      if (!m) throw new AdapterError(`${source}: missing the ${name} adapter (target_modules lists ${PEFT_MODULE[t]})`);
      const want = loraLinearShape(c, t);
      if (m.inFeatures !== want.inFeatures || m.outFeatures !== want.outFeatures) {
        throw new AdapterError(
          `${source}: ${name} adapter maps ${m.inFeatures} -> ${m.outFeatures} features, but this model's ${PEFT_MODULE[t]} maps ${want.inFeatures} -> ${want.outFeatures} ` +
            `(dim ${c.dim}, hidden ${c.hiddenDim}): adapters for a different model?`,
        );
      }
      if (m.a.length !== ad.rank * m.inFeatures) throw new AdapterError(`${source}: ${name} lora_A has ${m.a.length} values, expected rank ${ad.rank} x ${m.inFeatures}`);
      if (m.b.length !== m.outFeatures * ad.rank) throw new AdapterError(`${source}: ${name} lora_B has ${m.b.length} values, expected ${m.outFeatures} x rank ${ad.rank}`);
      for (const [which, values] of [["lora_A", m.a], ["lora_B", m.b]] as const) {
        const at = values.findIndex((v) => !Number.isFinite(v));
        if (at >= 0) throw new AdapterError(`${source}: ${name} ${which} holds ${values[at]} at element ${at}; expected finite weights`);
      }
    }
    for (const t of LORA_TARGETS) {
      if (layer[t] && !ad.targets.includes(t)) throw new AdapterError(`${source}: layer ${l} has a ${PEFT_MODULE[t]} adapter that target_modules does not list`);
    }
  });
}

/** f32 bytes of all A and B matrices: what the adapters add to resident memory. */
export function adaptersByteSize(ad: LoraAdapters): number {
  let n = 0;
  for (const layer of ad.layers) for (const t of ad.targets) if (layer[t]) n += layer[t]!.a.length + layer[t]!.b.length;
  return 4 * n;
}

/** Adapters of the given shape filled by `fill` (default zeros): for tests and examples. */
export function makeAdapters(
  c: ModelConfig,
  rank: number,
  alpha: number,
  targets: readonly LoraTarget[] = LORA_TARGETS,
  fill: (layer: number, target: LoraTarget, which: "A" | "B", a: Float32Array) => void = () => {},
): LoraAdapters {
  const layers: Partial<Record<LoraTarget, LoraLinear>>[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const layer: Partial<Record<LoraTarget, LoraLinear>> = {};
    for (const t of targets) {
      const s = loraLinearShape(c, t);
      const a = new Float32Array(rank * s.inFeatures);
      const b = new Float32Array(s.outFeatures * rank);
      fill(l, t, "A", a);
      fill(l, t, "B", b);
      layer[t] = { a, b, ...s };
    }
    layers.push(layer);
  }
  return { rank, alpha, targets: LORA_TARGETS.filter((t) => targets.includes(t)), layers };
}
