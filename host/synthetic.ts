// Synthetic models: real architectures' shapes filled with seeded random weights, for throughput
// benchmarks that need no downloaded checkpoint (bench/README.md). The numbers they produce are
// meaningless as language; the bytes they move are exactly a real model's.
//
// Weights are generated on access: every tensor is a getter that fills a fresh Float32Array from a
// PRNG seeded by (model seed, tensor name), so nothing is held on the host side. Engine.create
// copies each tensor into wasm memory once and drops it, which keeps the peak at about one copy of
// the model (the 0.5B shape is ~2 GB of f32) instead of two. The price is that every access
// regenerates the tensor (validateWeights reads each one too): cache the array yourself if you
// need it twice.

import type { LayerWeights, LoadedModel, ModelConfig, ModelWeights, Vocabulary } from "./model.js";
import { headDim, validateConfig } from "./model.js";

export const SYNTHETIC_SHAPES = ["stories110m", "qwen2.5-0.5b", "stories260k-shape"] as const;
export type SyntheticShape = (typeof SYNTHETIC_SHAPES)[number];

const llama = { architecture: "llama", ropeTheta: 10000, ropeLayout: "interleaved", rmsEps: 1e-5, tiedEmbeddings: false } as const;

const CONFIGS: Record<SyntheticShape, ModelConfig> = {
  // karpathy/tinyllamas stories110M.bin
  stories110m: { ...llama, dim: 768, hiddenDim: 2048, nLayers: 12, nHeads: 12, nKvHeads: 12, vocabSize: 32000, seqLen: 1024 },
  // Qwen/Qwen2.5-0.5B config.json; context cut to 512 positions to keep the KV cache small
  "qwen2.5-0.5b": {
    architecture: "qwen2",
    dim: 896,
    hiddenDim: 4864,
    nLayers: 24,
    nHeads: 14,
    nKvHeads: 2,
    vocabSize: 151936,
    seqLen: 512,
    ropeTheta: 1e6,
    ropeLayout: "half",
    rmsEps: 1e-6,
    tiedEmbeddings: true,
  },
  // the bundled stories260K checkpoint's dims (tests)
  "stories260k-shape": { ...llama, dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 },
};

/** Weights are uniform in [-a, a] with a = 0.02 * sqrt(3): standard deviation 0.02, like a fresh init. */
export const SYNTHETIC_WEIGHT_STD = 0.02;

export function isSyntheticShape(s: string): s is SyntheticShape {
  return (SYNTHETIC_SHAPES as readonly string[]).includes(s);
}

/** The config of a synthetic shape (a copy). */
export function syntheticConfig(shape: SyntheticShape): ModelConfig {
  const c = CONFIGS[shape];
  if (!c) throw new RangeError(`unknown synthetic shape "${shape}"; supported: ${SYNTHETIC_SHAPES.join(", ")}`);
  return { ...c };
}

/** 32-bit FNV-1a of a string: turns a tensor name into a seed offset. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Fills `out` with uniform values in [-scale, scale) from a xorshift32 stream seeded by `seed`
 * (mixed first, so nearby seeds give unrelated streams). Deterministic on every runtime.
 */
export function fillUniform(out: Float32Array, seed: number, scale: number): Float32Array {
  // splitmix32-style mix of the seed; xorshift32 must not start at 0
  let s = (seed >>> 0) + 0x9e3779b9;
  s = Math.imul(s ^ (s >>> 16), 0x85ebca6b);
  s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35);
  s = (s ^ (s >>> 16)) | 0;
  if (s === 0) s = 0x6d2b79f5;
  const k = (2 * scale) / 4294967296;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) * k - scale;
  }
  return out;
}

/**
 * A LoadedModel of the given shape with seeded random weights (norm weights 1). Same shape and
 * seed, same weights, bit for bit. `seqLen` overrides the context length (KV cache size), `config`
 * any other fields of the shape (tests use odd sizes).
 */
export function syntheticModel(shape: SyntheticShape, seed = 1, opts: { seqLen?: number; config?: Partial<ModelConfig> } = {}): LoadedModel {
  const config = { ...syntheticConfig(shape), ...opts.config };
  if (opts.seqLen !== undefined) config.seqLen = opts.seqLen;
  validateConfig(config, `synthetic:${shape}`);
  const c = config;
  const hd = headDim(c);
  const qDim = c.nHeads * hd;
  const kvDim = c.nKvHeads * hd;
  const a = SYNTHETIC_WEIGHT_STD * Math.sqrt(3);
  const random = (name: string, n: number) => () => fillUniform(new Float32Array(n), (seed ^ hashName(name)) >>> 0, a);
  const ones = (n: number) => () => new Float32Array(n).fill(1);
  const lazy = <T extends object>(fields: Record<string, () => Float32Array>): T => {
    const o = {};
    for (const [k, make] of Object.entries(fields)) Object.defineProperty(o, k, { get: make, enumerable: true });
    return o as T;
  };
  const biases = c.architecture === "qwen2"; // Qwen2 has q/k/v biases
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `layers.${l}.`;
    layers.push(
      lazy<LayerWeights>({
        attnNorm: ones(c.dim),
        wq: random(p + "wq", qDim * c.dim),
        wk: random(p + "wk", kvDim * c.dim),
        wv: random(p + "wv", kvDim * c.dim),
        wo: random(p + "wo", c.dim * qDim),
        ...(biases ? { bq: random(p + "bq", qDim), bk: random(p + "bk", kvDim), bv: random(p + "bv", kvDim) } : {}),
        ffnNorm: ones(c.dim),
        wGate: random(p + "w_gate", c.hiddenDim * c.dim),
        wUp: random(p + "w_up", c.hiddenDim * c.dim),
        wDown: random(p + "w_down", c.dim * c.hiddenDim),
      }),
    );
  }
  const weights = lazy<ModelWeights>({
    tokenEmbedding: random("token_embedding", c.vocabSize * c.dim),
    finalNorm: ones(c.dim),
    ...(c.tiedEmbeddings ? {} : { lmHead: random("lm_head", c.vocabSize * c.dim) }),
  });
  weights.layers = layers; // defineProperty getters live beside a plain field
  return { name: `synthetic-${shape}-seed${seed}`, source: `synthetic:${shape}:${seed}`, format: "synthetic", config, weights };
}

/**
 * A stand-in SentencePiece vocabulary of `size` pieces for writing a synthetic model to GGUF
 * (`dip convert --synthetic`), so that tokenizers that require one (llama.cpp) accept the file:
 * <unk>, <s>, </s>, the 256 byte pieces <0x00>..<0xFF>, then filler pieces that no text matches.
 * Text therefore tokenizes to its UTF-8 bytes in every engine alike.
 */
export function syntheticVocab(size: number): Vocabulary {
  if (size < 259) throw new RangeError(`a synthetic vocabulary needs >= 259 pieces, got ${size}`);
  const pieces = ["<unk>", "<s>", "</s>"];
  for (let b = 0; b < 256; b++) pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  for (let i = pieces.length; i < size; i++) pieces.push(`<filler${i}>`);
  return { pieces, scores: new Float32Array(size), bosId: 1, eosId: 2 };
}
