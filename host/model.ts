// The one in-memory description every model format is turned into.

// Formats (gguf, llama2.c .bin, safetensors + config.json) produce a LoadedModel; the Engine lays it out in
// wasm memory. Matrices are given in PyTorch's nn.Linear orientation: [out x in], row-major, f32.

/** How q and k rows pair up for rotary embeddings. */
export type RopeLayout =
  /** pairs (2i, 2i+1) rotate together: GGUF and llama2.c checkpoints */
  | "interleaved"
  /** i rotates with i + headDim/2: Hugging Face checkpoints */
  | "half";

/** Rope scaling variants found in configs (host/rope.ts applies them). "llama3" as in Llama 3.1's config.json. */
export type RopeScaling =
  | { type: "linear"; factor: number }
  | { type: "llama3"; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface ModelConfig {
  /** architecture family, e.g. "llama" */
  architecture: string;
  /** hidden size D */
  dim: number;
  /** MLP intermediate size I */
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  /** per-head size; default dim / nHeads (some configs set head_dim explicitly) */
  headDim?: number;
  vocabSize: number;
  /** maximum context length (KV cache positions) */
  seqLen: number;
  ropeTheta: number;
  /** optional frequency scaling (host/rope.ts) */
  ropeScaling?: RopeScaling;
  /**
   * Per-frequency divisors, headDim/2 of them, applied after ropeScaling: inv_freq[i] / factors[i]
   * (llama.cpp's rope_freqs.weight, which GGUF Llama 3.1/3.2 files carry for their scaling).
   */
  ropeFreqFactors?: number[];
  ropeLayout: RopeLayout;
  /**
   * Round the rotary inverse frequencies to this dtype (after computing them in f32). A PyTorch
   * model-wide `.to(torch.bfloat16)` casts the inv_freq buffer too, so a checkpoint run in its
   * saved f16/bf16 dtype rotates with rounded frequencies; the HF loader sets this from
   * config.json's dtype to match (GGUF and llama2.c models rotate exactly).
   */
  ropeFreqDtype?: "f16" | "bf16";
  rmsEps: number;
  /** lm_head shares the token embedding matrix */
  tiedEmbeddings: boolean;
}

/**
 * A weight matrix kept as a GGUF file stores it: ggml blocks of `ggmlType` (host/formats/
 * ggml-blocks.ts), `rows` rows of `cols` values, row-major, each row whole blocks. A quantized
 * model keeps these so the engine can run them natively (--dtype native) without ever holding
 * the matrix as f32.
 */
export interface QuantizedMatrix {
  ggmlType: number;
  rows: number;
  cols: number;
  bytes: Uint8Array;
}

/**
 * A row-major matrix already in the engine's q8 tiles (assembly/kernels/q8.ts: 8 rows x 32 values
 * of int8, then their 8 f32 scales): the static matrices of a q8 .dipstream, copied into wasm
 * memory as stored (host/stream/format.ts). Its f32 field dequantizes on first read.
 */
export interface Q8TileMatrix {
  rows: number;
  cols: number;
  bytes: Uint8Array;
}

/** The weight matrices of a layer, by their LayerWeights name. */
export type LayerMatrixName = "wq" | "wk" | "wv" | "wo" | "wGate" | "wUp" | "wDown";
export const LAYER_MATRIX_NAMES: readonly LayerMatrixName[] = ["wq", "wk", "wv", "wo", "wGate", "wUp", "wDown"];
/** How errors name them ("layer 3 w_gate"). */
export const LAYER_MATRIX_SHOWN: Record<LayerMatrixName, string> = { wq: "wq", wk: "wk", wv: "wv", wo: "wo", wGate: "w_gate", wUp: "w_up", wDown: "w_down" };

export interface LayerWeights {
  attnNorm: Float32Array; // (dim)
  wq: Float32Array; // (nHeads*headDim, dim)
  wk: Float32Array; // (nKvHeads*headDim, dim)
  wv: Float32Array; // (nKvHeads*headDim, dim)
  wo: Float32Array; // (dim, nHeads*headDim)
  bq?: Float32Array; // (nHeads*headDim) optional attention biases (Qwen2)
  bk?: Float32Array; // (nKvHeads*headDim)
  bv?: Float32Array; // (nKvHeads*headDim)
  ffnNorm: Float32Array; // (dim)
  wGate: Float32Array; // (hiddenDim, dim)
  wUp: Float32Array; // (hiddenDim, dim)
  wDown: Float32Array; // (dim, hiddenDim)
  /** the matrices a quantized file stores in ggml blocks, as stored (their f32 fields dequantize on first read: lazyMatrix) */
  quantized?: Partial<Record<LayerMatrixName, QuantizedMatrix>>;
  /** matrices stored in the engine's q8 tiles (a q8 .dipstream's attention matrices) */
  q8Tiles?: Partial<Record<LayerMatrixName, Q8TileMatrix>>;
}

export interface ModelWeights {
  tokenEmbedding: Float32Array; // (vocab, dim)
  layers: LayerWeights[];
  finalNorm: Float32Array; // (dim)
  /** (vocab, dim); absent when tiedEmbeddings */
  lmHead?: Float32Array;
  /** the embedding and LM head as a quantized file stores them (as LayerWeights.quantized) */
  quantized?: { tokenEmbedding?: QuantizedMatrix; lmHead?: QuantizedMatrix };
  /** the embedding and LM head in the engine's q8 tiles (a q8 .dipstream) */
  q8Tiles?: { tokenEmbedding?: Q8TileMatrix; lmHead?: Q8TileMatrix };
}

/**
 * Makes `target[key]` the f32 values of `q`, dequantized exactly (host/formats/ggml-blocks.ts
 * dequantizeRow) on first read and kept: code that works in f32 (LoRA training, calibration, the
 * stream writer, convert) reads the field as before, while an engine that runs the blocks natively
 * never reads it, so a large quantized file is never expanded in full unless something asks.
 */
export function lazyMatrix(target: object, key: string, q: QuantizedMatrix, dequantize: (q: QuantizedMatrix) => Float32Array): void {
  let values: Float32Array | undefined;
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get: () => (values ??= dequantize(q)),
    set: (v: Float32Array) => {
      values = v;
    },
  });
}

/** A SentencePiece-style vocabulary (llama2.c tokenizer.bin, or tokenizer.ggml.* inside a GGUF). */
export interface Vocabulary {
  /** pieces with spaces as ' ' (GGUF's U+2581 already replaced) */
  pieces: string[];
  scores: Float32Array;
  bosId: number;
  eosId: number;
  /** encode() prepends BOS (GGUF tokenizer.ggml.add_bos_token; default true, as llama.cpp for SentencePiece) */
  addBos?: boolean;
  /** encode() appends EOS (tokenizer.ggml.add_eos_token) */
  addEos?: boolean;
  /** ids besides eosId that end generation: end-of-turn tokens (eot/eom ids, <|end|>, <|im_end|>, ...) */
  endIds?: number[];
  /** control tokens: skipped when decoding; with encode's `special`, their text becomes the token itself */
  controlIds?: number[];
}

export interface LoadedModel {
  /** a short name for reports, e.g. the file's basename */
  name: string;
  /** the path or URL it came from */
  source: string;
  format: "gguf" | "llama2c" | "synthetic" | "safetensors" | "dipstream";
  /** the default --dtype for this file: "native" for a GGUF with quantized matrices or a q8 .dipstream (host/matrix-dtype.ts) */
  storedDtype?: "native";
  config: ModelConfig;
  weights: ModelWeights;
  vocab?: Vocabulary;
  /** a Hugging Face tokenizer.json for this model (HF folders), used instead of `vocab` */
  tokenizerJson?: string;
  /** a Hugging Face tokenizer carried inside the model file (a .dipstream, a GGUF "gpt2" vocabulary), as parsed JSON */
  hfTokenizer?: HfTokenizerFiles;
  /** the model's chat template (Jinja), e.g. a GGUF's tokenizer.chat_template */
  chatTemplate?: string;
}

/** The JSON files a Hugging Face tokenizer is built from (host/tokenizer/hf.ts HfTokenizer.fromFiles). */
export interface HfTokenizerFiles {
  tokenizer: unknown;
  tokenizerConfig?: unknown;
  generationConfig?: unknown;
  config?: unknown;
}

/** The longest error message a reader prints: a corrupt file must not print kilobytes of itself. */
const MAX_MESSAGE_CHARS = 600;

/**
 * Text fit for one printable line: control characters, line separators, lone surrogates and
 * U+FFFD are escaped, and anything past `max` characters is cut with an ellipsis. Every reader's
 * error goes through it (ModelFormatError, and the other input errors), so bytes from a corrupt
 * file cannot reach the terminal raw.
 */
export function printable(text: string, max = MAX_MESSAGE_CHARS): string {
  let out = "";
  for (const ch of text) {
    if (out.length >= max) return out + "...";
    const cp = ch.codePointAt(0)!;
    const unsafe = cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp === 0x2028 || cp === 0x2029 || cp === 0xfffd || (cp >= 0xd800 && cp < 0xe000);
    out += unsafe ? `\\u{${cp.toString(16)}}` : ch;
  }
  return out;
}

/**
 * A value from a file, for an error message: a string as a short escaped excerpt in quotes
 * ("abc..."), anything else as short JSON (null, -1, [1,2...]), at most `max` characters.
 */
export function quote(value: unknown, max = 40): string {
  if (typeof value === "string") return `"${printable(value, max)}"`;
  return printable(JSON.stringify(value) ?? String(value), max);
}

/** An error in something the user gave us: names the file, the field and what was expected, on one printable line. */
export class ModelFormatError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(printable(`${file}: ${message}`));
    this.name = "ModelFormatError";
  }
}

export function headDim(c: ModelConfig): number {
  return c.headDim ?? c.dim / c.nHeads;
}

/** Checks the config's internal consistency; throws ModelFormatError naming the field. */
export function validateConfig(c: ModelConfig, file: string): void {
  const positive: (keyof ModelConfig)[] = ["dim", "hiddenDim", "nLayers", "nHeads", "nKvHeads", "vocabSize", "seqLen"];
  for (const k of positive) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v <= 0) throw new ModelFormatError(file, `config field ${k} must be a positive integer, got ${v}`);
  }
  if (c.headDim === undefined && c.dim % c.nHeads !== 0) throw new ModelFormatError(file, `dim ${c.dim} is not divisible by n_heads ${c.nHeads}`);
  if (c.nHeads % c.nKvHeads !== 0) throw new ModelFormatError(file, `n_heads ${c.nHeads} is not a multiple of n_kv_heads ${c.nKvHeads}`);
  const hd = headDim(c);
  if (!Number.isInteger(hd) || hd <= 0 || hd % 2 !== 0) throw new ModelFormatError(file, `head dimension ${hd} must be a positive even integer for rotary embeddings`);
  if (!(c.ropeTheta > 0)) throw new ModelFormatError(file, `rope theta must be > 0, got ${c.ropeTheta}`);
  if (!(c.rmsEps > 0)) throw new ModelFormatError(file, `rms norm epsilon must be > 0, got ${c.rmsEps}`);
  const f = c.ropeFreqFactors as unknown;
  if (f !== undefined && !(Array.isArray(f) && f.length === hd / 2 && f.every((x) => typeof x === "number" && x > 0 && Number.isFinite(x)))) {
    throw new ModelFormatError(file, `rope frequency factors are ${quote(f)}, expected ${hd / 2} finite numbers > 0 (one per rotary frequency)`);
  }
}

/** Checks every weight array has the element count the config implies. */
export function validateWeights(m: LoadedModel, opts: { mlpStreamed?: boolean } = {}): void {
  const c = m.config;
  const hd = headDim(c);
  // a matrix kept quantized is checked by its shape (reading its f32 field would expand it)
  const expect = (name: string, a: Float32Array | undefined, n: number, q?: { rows: number; cols: number }) => {
    const count = q ? q.rows * q.cols : a?.length;
    if (count === undefined) throw new ModelFormatError(m.source, `missing tensor ${name}`);
    if (count !== n) throw new ModelFormatError(m.source, `tensor ${name} has ${count} elements, expected ${n} from the config`);
  };
  const w = m.weights;
  const embeddingKept = w.quantized?.tokenEmbedding ?? w.q8Tiles?.tokenEmbedding;
  const lmHeadKept = w.quantized?.lmHead ?? w.q8Tiles?.lmHead;
  expect("token embedding", embeddingKept ? undefined : w.tokenEmbedding, c.vocabSize * c.dim, embeddingKept);
  expect("final norm", w.finalNorm, c.dim);
  if (!c.tiedEmbeddings) expect("lm_head", lmHeadKept ? undefined : w.lmHead, c.vocabSize * c.dim, lmHeadKept);
  if (w.layers.length !== c.nLayers) throw new ModelFormatError(m.source, `found ${w.layers.length} layers, config says ${c.nLayers}`);
  w.layers.forEach((l, i) => {
    const matrix = (name: LayerMatrixName, n: number) => {
      const kept = l.quantized?.[name] ?? l.q8Tiles?.[name];
      expect(`layer ${i} ${LAYER_MATRIX_SHOWN[name]}`, kept ? undefined : l[name], n, kept);
    };
    expect(`layer ${i} attn_norm`, l.attnNorm, c.dim);
    matrix("wq", c.nHeads * hd * c.dim);
    matrix("wk", c.nKvHeads * hd * c.dim);
    matrix("wv", c.nKvHeads * hd * c.dim);
    matrix("wo", c.dim * c.nHeads * hd);
    if (l.bq) expect(`layer ${i} bq`, l.bq, c.nHeads * hd);
    if (l.bk) expect(`layer ${i} bk`, l.bk, c.nKvHeads * hd);
    if (l.bv) expect(`layer ${i} bv`, l.bv, c.nKvHeads * hd);
    expect(`layer ${i} ffn_norm`, l.ffnNorm, c.dim);
    if (opts.mlpStreamed) return; // MLP columns come from the weight stream (host/stream/weights.ts)
    matrix("wGate", c.hiddenDim * c.dim);
    matrix("wUp", c.hiddenDim * c.dim);
    matrix("wDown", c.dim * c.hiddenDim);
  });
}
