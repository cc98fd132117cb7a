// LoRA adapter files, PEFT style: adapter_model.safetensors with tensors named
//   base_model.model.model.layers.{i}.mlp.{gate,up,down}_proj.lora_{A,B}.weight
// (lora_A [r x in], lora_B [out x r]) and an adapter_config.json (r, lora_alpha, target_modules,
// ...). We also carry the config inside the safetensors header (__metadata__.adapter_config), so
// one file is enough, and record the sparsity the adapters were trained for under "dip_sparsity".
// Runtime-neutral: bytes in, bytes out (file I/O is host/node/adapters-file.ts).

import { AdapterError, LORA_TARGETS, PEFT_MODULE, parseLoraTargets, type LoraAdapters, type LoraTarget } from "../lora.js";
import type { SparsitySpec } from "../sparsity.js";
import { readSafetensorsHeader, tensorToF32 } from "./safetensors.js";
import { encodeSafetensors, type SafetensorsEntry } from "./safetensors-writer.js";

/** The tensor name of one adapter matrix (as PEFT saves a LlamaForCausalLM adapter). */
export function peftTensorName(layer: number, target: LoraTarget, which: "A" | "B"): string {
  return `base_model.model.model.layers.${layer}.mlp.${PEFT_MODULE[target]}.lora_${which}.weight`;
}

// Accepts PEFT's prefix (or none) and an adapter name PEFT may leave in (".default").
const TENSOR_NAME = /^(?:.*\.)?layers\.(\d+)\.mlp\.([a-z_]+)\.lora_([AB])(?:\.default)?\.weight$/;

export interface AdapterConfig {
  peft_type: "LORA";
  task_type: "CAUSAL_LM";
  r: number;
  lora_alpha: number;
  target_modules: string[];
  lora_dropout: number;
  bias: "none";
  fan_in_fan_out: false;
  base_model_name_or_path?: string;
  /** the sparsity the adapters were trained under (this engine's addition) */
  dip_sparsity?: SparsitySpec;
  /** how they were trained (this engine's addition) */
  dip_training?: Record<string, unknown>;
}

export function adapterConfig(ad: LoraAdapters, baseModel?: string): AdapterConfig {
  return {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    r: ad.rank,
    lora_alpha: ad.alpha,
    target_modules: ad.targets.map((t) => PEFT_MODULE[t]),
    lora_dropout: 0,
    bias: "none",
    fan_in_fan_out: false,
    ...(baseModel ? { base_model_name_or_path: baseModel } : {}),
    ...(ad.sparsity ? { dip_sparsity: ad.sparsity } : {}),
    ...(ad.info ? { dip_training: ad.info } : {}),
  };
}

/** The safetensors bytes (config in its metadata too) and the adapter_config.json text. */
export function encodeAdapters(ad: LoraAdapters, baseModel?: string): { safetensors: Uint8Array; config: string } {
  const config = JSON.stringify(adapterConfig(ad, baseModel), null, 2) + "\n";
  const tensors: SafetensorsEntry[] = [];
  ad.layers.forEach((layer, l) => {
    for (const t of ad.targets) {
      const m = layer[t];
      if (!m) throw new AdapterError(`adapters: layer ${l} has no ${PEFT_MODULE[t]} adapter`);
      tensors.push({ name: peftTensorName(l, t, "A"), shape: [ad.rank, m.inFeatures], data: m.a });
      tensors.push({ name: peftTensorName(l, t, "B"), shape: [m.outFeatures, ad.rank], data: m.b });
    }
  });
  return { safetensors: encodeSafetensors(tensors, { format: "pt", adapter_config: JSON.stringify(adapterConfig(ad, baseModel)) }), config };
}

function parseConfig(text: string, where: string): AdapterConfig {
  let c: Partial<AdapterConfig> & Record<string, unknown>;
  try {
    c = JSON.parse(text);
  } catch (e) {
    throw new AdapterError(`${where}: adapter config is not valid JSON (${(e as Error).message})`);
  }
  if (typeof c !== "object" || c === null) throw new AdapterError(`${where}: adapter config is not a JSON object`);
  if (c.peft_type !== undefined && c.peft_type !== "LORA") throw new AdapterError(`${where}: peft_type is ${JSON.stringify(c.peft_type)}; only LORA adapters are supported`);
  if (!Number.isInteger(c.r) || (c.r as number) < 1) throw new AdapterError(`${where}: adapter config r must be a positive integer, got ${JSON.stringify(c.r)}`);
  const alpha = c.lora_alpha ?? 8; // PEFT's default
  if (typeof alpha !== "number" || !(alpha > 0)) throw new AdapterError(`${where}: lora_alpha must be a number > 0, got ${JSON.stringify(c.lora_alpha)}`);
  const modules = typeof c.target_modules === "string" ? [c.target_modules] : c.target_modules;
  if (!Array.isArray(modules) || modules.some((m) => typeof m !== "string")) {
    throw new AdapterError(`${where}: target_modules must be a list of module names, got ${JSON.stringify(c.target_modules)}`);
  }
  const unsupported = modules.filter((m) => !LORA_TARGETS.some((t) => PEFT_MODULE[t] === m || t === m));
  if (unsupported.length) {
    throw new AdapterError(`${where}: target_modules lists ${unsupported.join(", ")}; this engine applies adapters to ${LORA_TARGETS.map((t) => PEFT_MODULE[t]).join(", ")} only`);
  }
  if (c.use_dora) throw new AdapterError(`${where}: DoRA adapters (use_dora) are not supported`);
  return { ...(c as AdapterConfig), lora_alpha: alpha, target_modules: modules };
}

/**
 * Parses an adapter safetensors file. The config comes from its __metadata__.adapter_config, else
 * from `configText` (an adapter_config.json). Checks names, shapes and rank against the config and
 * that every layer has A and B for every target; fitting a particular model is checkAdapters'
 * job (Engine.setAdapters runs it).
 */
export function decodeAdapters(bytes: Uint8Array, file: string, configText?: string): LoraAdapters {
  const header = readSafetensorsHeader(bytes, file);
  const embedded = header.metadata.adapter_config;
  const text = typeof embedded === "string" ? embedded : configText;
  if (text === undefined) {
    throw new AdapterError(`${file}: no adapter config (neither __metadata__.adapter_config in the file nor an adapter_config.json beside it)`);
  }
  const config = parseConfig(text, file);
  const targets = parseLoraTargets(config.target_modules);
  const r = config.r;
  const partial = new Map<string, { a?: Float32Array; b?: Float32Array; inF?: number; outF?: number }>();
  let nLayers = 0;
  for (const t of header.tensors.values()) {
    const m = TENSOR_NAME.exec(t.name);
    if (!m) throw new AdapterError(`${file}: tensor ${t.name} is not an MLP LoRA weight (expected names like ${peftTensorName(0, "gate", "A")})`);
    const layer = Number(m[1]);
    const target = LORA_TARGETS.find((x) => PEFT_MODULE[x] === m[2]);
    if (!target) throw new AdapterError(`${file}: tensor ${t.name} adapts ${m[2]}; this engine applies adapters to ${LORA_TARGETS.map((x) => PEFT_MODULE[x]).join(", ")} only`);
    if (!targets.includes(target)) throw new AdapterError(`${file}: tensor ${t.name} adapts ${m[2]}, which target_modules does not list`);
    if (t.shape.length !== 2) throw new AdapterError(`${file}: tensor ${t.name} has shape [${t.shape.join(", ")}], expected a matrix`);
    const which = m[3];
    const rankDim = which === "A" ? t.shape[0] : t.shape[1];
    if (rankDim !== r) {
      throw new AdapterError(`${file}: rank mismatch: the adapter config says r = ${r}, but ${t.name} has shape [${t.shape.join(", ")}] (rank ${rankDim})`);
    }
    const key = `${layer}.${target}`;
    const p = partial.get(key) ?? {};
    const data = tensorToF32(bytes.subarray(t.offset, t.offset + t.byteLength), t).slice(); // own copy, aligned
    if (which === "A") {
      p.a = data;
      p.inF = t.shape[1];
    } else {
      p.b = data;
      p.outF = t.shape[0];
    }
    partial.set(key, p);
    nLayers = Math.max(nLayers, layer + 1);
  }
  if (nLayers === 0) throw new AdapterError(`${file}: no LoRA tensors in the file`);
  const layers: LoraAdapters["layers"] = [];
  for (let l = 0; l < nLayers; l++) {
    const layer: LoraAdapters["layers"][number] = {};
    for (const t of targets) {
      const p = partial.get(`${l}.${t}`);
      if (!p?.a) throw new AdapterError(`${file}: missing tensor ${peftTensorName(l, t, "A")}`);
      if (!p.b) throw new AdapterError(`${file}: missing tensor ${peftTensorName(l, t, "B")}`);
      layer[t] = { a: p.a, b: p.b, inFeatures: p.inF!, outFeatures: p.outF! };
    }
    layers.push(layer);
  }
  return {
    rank: r,
    alpha: config.lora_alpha,
    targets,
    layers,
    ...(config.dip_sparsity ? { sparsity: config.dip_sparsity } : {}),
    ...(config.dip_training ? { info: config.dip_training } : {}),
  };
}
