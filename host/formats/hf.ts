// Hugging Face checkpoints: config.json + safetensors (one file, or shards listed in
// model.safetensors.index.json) -> LoadedModel, for Llama, Mistral, Qwen2 and Phi-3.
// The four share one decoder block (RMSNorm, GQA attention with RoPE, SwiGLU MLP); what differs is
// data: Qwen2's q/k/v biases and tied embeddings, Phi-3's fused qkv_proj and gate_up_proj.
// HF checkpoints keep q/k rows in the rotate-half layout: the engine is told (ropeLayout "half")
// instead of permuting weights.
import { type LayerWeights, type LoadedModel, type ModelConfig, type RopeScaling, ModelFormatError, headDim, validateConfig, validateWeights } from "../model.js";
import { LOADABLE_DTYPES, parseSafetensorsHeader, type SafetensorsTensor, safetensorsHeaderLength, tensorToF32 } from "./safetensors.js";

/** What an architecture changes in the shared decoder block. */
interface ArchSpec {
  /** q/k/v projections carry biases (Qwen2) */
  qkvBias: boolean;
  /** q, k, v stacked in one qkv_proj (Phi-3) */
  fusedQkv: boolean;
  /** gate and up stacked in one gate_up_proj (Phi-3: `gate, up = gate_up.chunk(2)`) */
  fusedGateUp: boolean;
}

const ARCHITECTURES: Record<string, ArchSpec> = {
  LlamaForCausalLM: { qkvBias: false, fusedQkv: false, fusedGateUp: false },
  MistralForCausalLM: { qkvBias: false, fusedQkv: false, fusedGateUp: false },
  Qwen2ForCausalLM: { qkvBias: true, fusedQkv: false, fusedGateUp: false },
  Phi3ForCausalLM: { qkvBias: false, fusedQkv: true, fusedGateUp: true },
};
export const SUPPORTED_HF_ARCHITECTURES = Object.keys(ARCHITECTURES);
export const SUPPORTED_ROPE_TYPES = ["default", "linear", "llama3"];

export const INDEX_FILE = "model.safetensors.index.json";

/** Reads one tensor's data as f32 (shapes and dtypes were checked before the first read). */
export interface TensorSource {
  tensors: Map<string, SafetensorsTensor>;
  read(t: SafetensorsTensor): Promise<Float32Array>;
}

export interface HfModelSpec {
  config: ModelConfig;
  arch: ArchSpec;
  architecture: string;
}

type Json = Record<string, unknown>;

/** config.json -> ModelConfig, refusing anything the engine would compute differently. */
export function parseHfConfig(json: unknown, file: string): HfModelSpec {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ModelFormatError(file, "expected a JSON object");
  const c = json as Json;
  const fail = (msg: string): never => {
    throw new ModelFormatError(file, msg);
  };
  const archs = c.architectures;
  const architecture = Array.isArray(archs) && typeof archs[0] === "string" ? archs[0] : undefined;
  if (architecture === undefined) fail(`missing "architectures"; supported: ${SUPPORTED_HF_ARCHITECTURES.join(", ")}`);
  const arch = ARCHITECTURES[architecture!];
  if (!arch) fail(`unsupported architecture ${architecture}; supported: ${SUPPORTED_HF_ARCHITECTURES.join(", ")}`);

  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (v === undefined) return fail(`missing ${key}`);
    if (!Number.isSafeInteger(v) || (v as number) <= 0) return fail(`${key} is ${JSON.stringify(v)}, expected a positive integer`);
    return v as number;
  };
  const num = (obj: Json, key: string, where: string, fallback?: number): number => {
    const v = obj[key] ?? fallback;
    if (v === undefined) return fail(`missing ${where}${key}`);
    if (typeof v !== "number" || !Number.isFinite(v)) return fail(`${where}${key} is ${JSON.stringify(v)}, expected a number`);
    return v;
  };

  const act = c.hidden_act ?? c.hidden_activation ?? "silu";
  if (act !== "silu") fail(`hidden_act ${JSON.stringify(act)} is not supported; supported: silu (SwiGLU MLP)`);
  if (c.quantization_config !== undefined && c.quantization_config !== null) {
    fail(`quantization_config is set (a pre-quantized checkpoint); supported: unquantized ${LOADABLE_DTYPES.join(", ")} weights`);
  }
  if (c.attention_bias === true && !arch.qkvBias) fail("attention_bias true is not supported (an o_proj bias); supported: attention_bias false");
  if (c.mlp_bias === true) fail("mlp_bias true is not supported; supported: mlp_bias false");

  const seqLen = int("max_position_embeddings");
  checkSlidingWindow(c, architecture!, seqLen, fail);

  const nHeads = int("num_attention_heads");
  const explicitHeadDim = c.head_dim === undefined || c.head_dim === null ? undefined : int("head_dim");
  const { ropeTheta, ropeScaling } = parseRope(c, num, fail);
  // A checkpoint saved in f16/bf16 runs in transformers with the model cast to that dtype, which
  // casts the rotary inv_freq buffer too: follow it, so logits match transformers (and the
  // fixtures' references) rather than an idealised f32 rotation.
  const savedDtype = c.dtype ?? c.torch_dtype;
  const ropeFreqDtype = savedDtype === "bfloat16" ? "bf16" : savedDtype === "float16" ? "f16" : undefined;
  const config: ModelConfig = {
    architecture: architecture!,
    dim: int("hidden_size"),
    hiddenDim: int("intermediate_size"),
    nLayers: int("num_hidden_layers"),
    nHeads,
    nKvHeads: int("num_key_value_heads", nHeads),
    ...(explicitHeadDim !== undefined ? { headDim: explicitHeadDim } : {}),
    vocabSize: int("vocab_size"),
    seqLen,
    ropeTheta,
    ...(ropeScaling ? { ropeScaling } : {}),
    ...(ropeFreqDtype ? { ropeFreqDtype } : {}),
    ropeLayout: "half",
    rmsEps: num(c, "rms_norm_eps", "", 1e-6),
    // the default of all four config classes (PretrainedConfig's own default is true)
    tiedEmbeddings: c.tie_word_embeddings === true,
  };
  if (c.tie_word_embeddings !== undefined && typeof c.tie_word_embeddings !== "boolean") fail(`tie_word_embeddings is ${JSON.stringify(c.tie_word_embeddings)}, expected true or false`);
  validateConfig(config, file);
  return { config, arch, architecture: architecture! };
}

/** A sliding window that can bite within the context changes attention: refuse it. */
function checkSlidingWindow(c: Json, architecture: string, seqLen: number, fail: (m: string) => never): void {
  const window = c.sliding_window;
  if (window === undefined || window === null) return;
  if (!Number.isSafeInteger(window) || (window as number) <= 0) fail(`sliding_window is ${JSON.stringify(window)}, expected a positive integer or null`);
  // Qwen2 only slides when use_sliding_window is set (and then on the layers layer_types marks)
  if (architecture === "Qwen2ForCausalLM") {
    if (c.use_sliding_window !== true) return;
    if (Array.isArray(c.layer_types) && !c.layer_types.includes("sliding_attention")) return;
  }
  if ((window as number) < seqLen) {
    fail(`sliding_window ${window} is smaller than max_position_embeddings ${seqLen}: sliding-window attention is not supported (supported: full attention, i.e. a window of at least the context)`);
  }
}

/** Rope theta and scaling from transformers 5's rope_parameters, or the older rope_theta / rope_scaling keys. */
function parseRope(
  c: Json,
  num: (obj: Json, key: string, where: string, fallback?: number) => number,
  fail: (m: string) => never,
): { ropeTheta: number; ropeScaling?: RopeScaling } {
  const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
  let params: Json;
  let where: string;
  if (c.rope_parameters !== undefined && c.rope_parameters !== null) {
    if (!isObject(c.rope_parameters)) return fail(`rope_parameters is ${JSON.stringify(c.rope_parameters)}, expected an object`);
    params = c.rope_parameters;
    where = "rope_parameters.";
    if (params.rope_type === undefined && params.type === undefined && Object.values(params).some(isObject)) {
      fail(`rope_parameters per layer type (${Object.keys(params).join(", ")}) are not supported; supported: one set for all layers`);
    }
  } else if (c.rope_scaling !== undefined && c.rope_scaling !== null) {
    if (!isObject(c.rope_scaling)) return fail(`rope_scaling is ${JSON.stringify(c.rope_scaling)}, expected an object or null`);
    params = c.rope_scaling;
    where = "rope_scaling.";
  } else {
    params = {};
    where = "";
  }
  const ropeTheta = params.rope_theta !== undefined ? num(params, "rope_theta", where) : num(c, "rope_theta", "", 10000);
  const partial = params.partial_rotary_factor ?? c.partial_rotary_factor ?? 1;
  if (partial !== 1) fail(`partial_rotary_factor ${JSON.stringify(partial)} is not supported; supported: 1 (rotary embeddings on the whole head)`);
  const type = params.rope_type ?? params.type ?? "default";
  const factor = (): number => {
    const f = num(params, "factor", where);
    if (!(f > 0)) fail(`${where}factor is ${f}, expected > 0`);
    return f;
  };
  switch (type) {
    case "default":
      return { ropeTheta };
    case "linear":
      return { ropeTheta, ropeScaling: { type: "linear", factor: factor() } };
    case "llama3": {
      const ropeScaling: RopeScaling = {
        type: "llama3",
        factor: factor(),
        lowFreqFactor: num(params, "low_freq_factor", where),
        highFreqFactor: num(params, "high_freq_factor", where),
        originalMaxPositions: num(params, "original_max_position_embeddings", where),
      };
      if (!(ropeScaling.highFreqFactor > ropeScaling.lowFreqFactor)) fail(`${where}high_freq_factor must be greater than low_freq_factor`);
      return { ropeTheta, ropeScaling };
    }
    default:
      return fail(`rope type ${JSON.stringify(type)} is not supported; supported: ${SUPPORTED_ROPE_TYPES.join(", ")}`);
  }
}

/**
 * Checks every tensor the config implies (name, loadable dtype, shape) and that no tensor is left
 * over, then reads them. Nothing is read before everything has been checked.
 */
export async function buildHfModel(spec: HfModelSpec, source: TensorSource, file: string): Promise<LoadedModel> {
  const { config, arch } = spec;
  const hd = headDim(config);
  const { dim, hiddenDim, vocabSize, nLayers } = config;
  const qDim = config.nHeads * hd;
  const kvDim = config.nKvHeads * hd;
  const why = {
    q: `num_attention_heads ${config.nHeads} x head_dim ${hd}`,
    kv: `num_key_value_heads ${config.nKvHeads} x head_dim ${hd}`,
  };
  // Bound the layer count by the tensors present before anything per layer is built (a near
  // miss falls through to "missing tensor", which names the first one absent).
  if (nLayers > source.tensors.size) {
    throw new ModelFormatError(file, `num_hidden_layers is ${nLayers}, but the checkpoint has only ${source.tensors.size} tensors; expected several per layer`);
  }
  const expected = new Map<string, { shape: number[]; from: string }>();
  const want = (name: string, shape: number[], from: string) => expected.set(name, { shape, from });
  want("model.embed_tokens.weight", [vocabSize, dim], `vocab_size, hidden_size`);
  want("model.norm.weight", [dim], "hidden_size");
  if (!config.tiedEmbeddings) want("lm_head.weight", [vocabSize, dim], "vocab_size, hidden_size (tie_word_embeddings is false)");
  for (let l = 0; l < nLayers; l++) {
    const p = `model.layers.${l}.`;
    want(`${p}input_layernorm.weight`, [dim], "hidden_size");
    want(`${p}post_attention_layernorm.weight`, [dim], "hidden_size");
    if (arch.fusedQkv) {
      want(`${p}self_attn.qkv_proj.weight`, [qDim + 2 * kvDim, dim], `${why.q} + 2 x ${why.kv}, hidden_size`);
    } else {
      want(`${p}self_attn.q_proj.weight`, [qDim, dim], `${why.q}, hidden_size`);
      want(`${p}self_attn.k_proj.weight`, [kvDim, dim], `${why.kv}, hidden_size`);
      want(`${p}self_attn.v_proj.weight`, [kvDim, dim], `${why.kv}, hidden_size`);
    }
    if (arch.qkvBias) {
      want(`${p}self_attn.q_proj.bias`, [qDim], why.q);
      want(`${p}self_attn.k_proj.bias`, [kvDim], why.kv);
      want(`${p}self_attn.v_proj.bias`, [kvDim], why.kv);
    }
    want(`${p}self_attn.o_proj.weight`, [dim, qDim], `hidden_size, ${why.q}`);
    if (arch.fusedGateUp) {
      want(`${p}mlp.gate_up_proj.weight`, [2 * hiddenDim, dim], "2 x intermediate_size, hidden_size");
    } else {
      want(`${p}mlp.gate_proj.weight`, [hiddenDim, dim], "intermediate_size, hidden_size");
      want(`${p}mlp.up_proj.weight`, [hiddenDim, dim], "intermediate_size, hidden_size");
    }
    want(`${p}mlp.down_proj.weight`, [dim, hiddenDim], "hidden_size, intermediate_size");
  }

  for (const [name, { shape, from }] of expected) {
    const t = source.tensors.get(name);
    if (!t) throw new ModelFormatError(file, `missing tensor ${name} (${spec.architecture})`);
    if (!LOADABLE_DTYPES.includes(t.dtype)) {
      throw new ModelFormatError(t.file, `tensor ${name} has dtype ${t.dtype}; supported: ${LOADABLE_DTYPES.join(", ")}`);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ModelFormatError(t.file, `tensor ${name} has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}] from config.json (${from})`);
    }
  }
  // Left-over tensors would be silently ignored weights: refuse them, except ones that carry nothing.
  const ignorable = (name: string) => name.endsWith("rotary_emb.inv_freq") || (config.tiedEmbeddings && name === "lm_head.weight");
  const extra = [...source.tensors.keys()].filter((n) => !expected.has(n) && !ignorable(n));
  if (extra.length > 0) {
    const shown = extra.slice(0, 5).join(", ") + (extra.length > 5 ? `, ... (${extra.length} in all)` : "");
    throw new ModelFormatError(file, `unexpected tensors for ${spec.architecture} as config.json describes it: ${shown}`);
  }

  const read = (name: string) => source.read(source.tensors.get(name)!);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < nLayers; l++) {
    const p = `model.layers.${l}.`;
    let wq: Float32Array, wk: Float32Array, wv: Float32Array;
    if (arch.fusedQkv) {
      // Phi3Attention: q = qkv[:qDim], k = qkv[qDim:qDim+kvDim], v = the rest (rows of [out x in])
      const qkv = await read(`${p}self_attn.qkv_proj.weight`);
      wq = qkv.subarray(0, qDim * dim);
      wk = qkv.subarray(qDim * dim, (qDim + kvDim) * dim);
      wv = qkv.subarray((qDim + kvDim) * dim);
    } else {
      wq = await read(`${p}self_attn.q_proj.weight`);
      wk = await read(`${p}self_attn.k_proj.weight`);
      wv = await read(`${p}self_attn.v_proj.weight`);
    }
    let wGate: Float32Array, wUp: Float32Array;
    if (arch.fusedGateUp) {
      // Phi3MLP: gate, up = gate_up_proj(x).chunk(2, dim=-1): gate is the first half of the rows
      const gateUp = await read(`${p}mlp.gate_up_proj.weight`);
      wGate = gateUp.subarray(0, hiddenDim * dim);
      wUp = gateUp.subarray(hiddenDim * dim);
    } else {
      wGate = await read(`${p}mlp.gate_proj.weight`);
      wUp = await read(`${p}mlp.up_proj.weight`);
    }
    const layer: LayerWeights = {
      attnNorm: await read(`${p}input_layernorm.weight`),
      wq,
      wk,
      wv,
      wo: await read(`${p}self_attn.o_proj.weight`),
      ffnNorm: await read(`${p}post_attention_layernorm.weight`),
      wGate,
      wUp,
      wDown: await read(`${p}mlp.down_proj.weight`),
    };
    if (arch.qkvBias) {
      layer.bq = await read(`${p}self_attn.q_proj.bias`);
      layer.bk = await read(`${p}self_attn.k_proj.bias`);
      layer.bv = await read(`${p}self_attn.v_proj.bias`);
    }
    layers.push(layer);
  }
  const model: LoadedModel = {
    name: baseName(file),
    source: file,
    format: "safetensors",
    config,
    weights: {
      tokenEmbedding: await read("model.embed_tokens.weight"),
      layers,
      finalNorm: await read("model.norm.weight"),
      ...(config.tiedEmbeddings ? {} : { lmHead: await read("lm_head.weight") }),
    },
  };
  validateWeights(model);
  return model;
}

/** The last path component (either separator), without importing a path module. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  return trimmed.slice(Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\")) + 1) || trimmed;
}
