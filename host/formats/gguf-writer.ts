// LoadedModel -> GGUF v3 ("llama" architecture) as llama.cpp's converters and llama-quantize write
// it: the llama.* keys, tokenizer.ggml.* for a SentencePiece vocabulary, tensor data aligned to
// general.alignment (32). Weight matrices are f32, or quantized with ggml's reference quantizers
// (ggml-blocks.ts) in Q8_0, Q4_0 or the Q4_K_M mixture, each matrix's type chosen by
// llama-quant.cpp's rules (ggufTensorType); norms and biases stay f32.
//
// GGUF "llama" files rotate adjacent pairs (2i, 2i+1) of q and k; a Hugging Face model rotates
// i with i + headDim/2. Its q/k rows (and biases) are permuted as llama.cpp's convert_hf_to_gguf
// does (reshape (heads, 2, headDim/2, in) -> swap axes 1 and 2), so every GGUF reader gets the
// same model, and our reader reports ropeLayout "interleaved" again.
import { type LoadedModel, ModelFormatError, headDim } from "../model.js";
import { floatToHalfBits } from "../float16.js";
import { GGML_TYPE, ggmlBlock, ggmlRowBytes, ggmlTypeName, quantizeRow } from "./ggml-blocks.js";

/** Output tensor types of `dip convert --dtype`: "q8" is the older name of "q8_0". */
export const GGUF_OUTPUT_TYPES = ["f32", "q8_0", "q4_0", "q4_k_m", "q8"] as const;
export type GgufOutputType = (typeof GGUF_OUTPUT_TYPES)[number];

export const GGUF_ALIGNMENT = 32;
/** llama.cpp's llama_ftype: ALL_F32, MOSTLY_Q8_0, MOSTLY_Q4_0, MOSTLY_Q4_K_M */
const FILE_TYPE: Record<GgufOutputType, number> = { f32: 0, q8_0: 7, q8: 7, q4_0: 2, q4_k_m: 15 };
/** Each output type's default for weight matrices (llama-quantize's default_type). */
const DEFAULT_MATRIX_TYPE: Record<GgufOutputType, number> = {
  f32: GGML_TYPE.F32, q8_0: GGML_TYPE.Q8_0, q8: GGML_TYPE.Q8_0, q4_0: GGML_TYPE.Q4_0, q4_k_m: GGML_TYPE.Q4_K,
};
/** llama.cpp's llama_token_type */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

const enum ValueType {
  U32 = 4, I32 = 5, F32 = 6, String = 8, Array = 9,
}

type Meta =
  | { type: ValueType.U32 | ValueType.F32; value: number }
  | { type: ValueType.String; value: string }
  | { type: ValueType.Array; elemType: ValueType.String; value: string[] }
  | { type: ValueType.Array; elemType: ValueType.F32 | ValueType.I32; value: ArrayLike<number> };

export interface GgufTensorPlan {
  name: string;
  /** ggml order: ne[0] is the input (fastest) dimension */
  dims: number[];
  type: number;
  /** offset from the start of the data section */
  offset: number;
  byteLength: number;
  /** the f32 values, [out x in] row-major, already in GGUF's rope layout */
  values: Float32Array;
}

export interface GgufPlan {
  header: Uint8Array;
  tensors: GgufTensorPlan[];
  /** total file size */
  bytes: number;
  /** matrices whose rows do not split into their type's blocks, and the type they got instead */
  fallbacks: string[];
}

/** What a weight matrix is to llama-quantize's type rules (llama-quant.cpp's tensor_category). */
export type MatrixRole = "token_embd" | "output" | "attn_v" | "ffn_down" | "other";

/**
 * The ggml type llama-quantize (no imatrix, no overrides) gives a weight matrix of `cols` values
 * per row, for the output types written here; layer/nLayers place attn_v and ffn_down for
 * use_more_bits. Returns the type and, when the row does not fit it, the fallback taken.
 * - output.weight (and token_embd when the embeddings are tied): Q6_K unless the type is Q8_0
 *   (Q8_0 when the row is not a multiple of the default type's block);
 * - Q4_K_M: attn_v and ffn_down Q6_K in the layers use_more_bits picks (the first and last
 *   eighth, and every third in between), everything else Q4_K;
 * - rows that are not a multiple of 256: Q4_K -> Q5_0, Q6_K -> Q8_0 (tensor_type_fallback); rows
 *   not a multiple of 32 either: F16, llama.cpp's last resort (llama-quantize has no fallback
 *   for Q4_0 and Q8_0 and stops; we write F16 there too, as the ../shared fixtures do).
 */
export function ggufTensorType(output: GgufOutputType, role: MatrixRole, cols: number, layer: number, nLayers: number, tied: boolean): { type: number; fallback?: string } {
  const base = DEFAULT_MATRIX_TYPE[output];
  if (base === GGML_TYPE.F32) return { type: base };
  const useMoreBits = layer < Math.trunc(nLayers / 8) || layer >= Math.trunc((7 * nLayers) / 8) || (layer - Math.trunc(nLayers / 8)) % 3 === 2;
  let type = base;
  if (role === "output" || (tied && role === "token_embd")) {
    if (cols % ggmlBlock(base)!.blockElems !== 0) type = GGML_TYPE.Q8_0;
    else if (base !== GGML_TYPE.Q8_0) type = GGML_TYPE.Q6_K;
  } else if (output === "q4_k_m" && (role === "attn_v" || role === "ffn_down") && useMoreBits) {
    type = GGML_TYPE.Q6_K;
  }
  if (cols % ggmlBlock(type)!.blockElems === 0) return { type };
  const wanted = type;
  if (type === GGML_TYPE.Q4_K) type = GGML_TYPE.Q5_0;
  else if (type === GGML_TYPE.Q6_K) type = GGML_TYPE.Q8_0;
  if (cols % ggmlBlock(type)!.blockElems !== 0) type = GGML_TYPE.F16;
  return { type, fallback: `${ggmlTypeName(wanted)} -> ${ggmlTypeName(type)} (${cols} values per row)` };
}

/**
 * Lays out the file: header bytes (metadata, tensor directory, padding) and each tensor's type,
 * offset and values. Tensor bytes come from tensorBytes(), one tensor at a time.
 */
export function planGguf(model: LoadedModel, type: GgufOutputType): GgufPlan {
  const c = model.config;
  const file = model.source;
  if (c.ropeScaling?.type === "llama3") {
    throw new ModelFormatError(file, "llama3 rope scaling cannot be written to GGUF yet (llama.cpp stores it as a rope_freqs.weight tensor); supported: none, linear");
  }
  // ropeFreqDtype (f16/bf16-rounded rotary frequencies) has no GGUF key: the GGUF rotates with
  // exact frequencies, as llama.cpp does for the same checkpoint.
  const hd = headDim(c);
  const qDim = c.nHeads * hd;
  const kvDim = c.nKvHeads * hd;
  const half = c.ropeLayout === "half";
  const toInterleaved = (w: Float32Array, heads: number, cols: number) => (half ? permuteHalfToInterleaved(w, heads, hd, cols) : w);

  const tensors: GgufTensorPlan[] = [];
  const fallbacks: string[] = [];
  let offset = 0;
  const push = (name: string, dims: number[], ggmlType: number, values: Float32Array) => {
    const byteLength = ggmlRowBytes(ggmlType, values.length);
    tensors.push({ name, dims, type: ggmlType, offset, byteLength, values });
    offset += alignUp(byteLength);
  };
  /** a norm or bias: f32 in every output type */
  const vector = (name: string, values: Float32Array) => push(name, [values.length], GGML_TYPE.F32, values);
  const matrix = (name: string, values: Float32Array, rows: number, cols: number, role: MatrixRole, layer = 0) => {
    const chosen = ggufTensorType(type, role, cols, layer, c.nLayers, c.tiedEmbeddings);
    if (chosen.fallback) fallbacks.push(`${name}: ${chosen.fallback}`);
    push(name, [cols, rows], chosen.type, values);
  };
  const w = model.weights;
  matrix("token_embd.weight", w.tokenEmbedding, c.vocabSize, c.dim, "token_embd");
  vector("output_norm.weight", w.finalNorm);
  if (!c.tiedEmbeddings) matrix("output.weight", w.lmHead!, c.vocabSize, c.dim, "output");
  if (c.ropeFreqFactors) vector("rope_freqs.weight", Float32Array.from(c.ropeFreqFactors));
  w.layers.forEach((l, i) => {
    const p = `blk.${i}.`;
    vector(`${p}attn_norm.weight`, l.attnNorm);
    matrix(`${p}attn_q.weight`, toInterleaved(l.wq, c.nHeads, c.dim), qDim, c.dim, "other", i);
    matrix(`${p}attn_k.weight`, toInterleaved(l.wk, c.nKvHeads, c.dim), kvDim, c.dim, "other", i);
    matrix(`${p}attn_v.weight`, l.wv, kvDim, c.dim, "attn_v", i);
    if (l.bq) vector(`${p}attn_q.bias`, toInterleaved(l.bq, c.nHeads, 1));
    if (l.bk) vector(`${p}attn_k.bias`, toInterleaved(l.bk, c.nKvHeads, 1));
    if (l.bv) vector(`${p}attn_v.bias`, l.bv);
    matrix(`${p}attn_output.weight`, l.wo, c.dim, qDim, "other", i);
    vector(`${p}ffn_norm.weight`, l.ffnNorm);
    matrix(`${p}ffn_gate.weight`, l.wGate, c.hiddenDim, c.dim, "other", i);
    matrix(`${p}ffn_up.weight`, l.wUp, c.hiddenDim, c.dim, "other", i);
    matrix(`${p}ffn_down.weight`, l.wDown, c.dim, c.hiddenDim, "ffn_down", i);
  });

  const meta = new Map<string, Meta>();
  const u32 = (key: string, value: number) => meta.set(key, { type: ValueType.U32, value });
  const f32 = (key: string, value: number) => meta.set(key, { type: ValueType.F32, value });
  const str = (key: string, value: string) => meta.set(key, { type: ValueType.String, value });
  str("general.architecture", "llama");
  str("general.name", model.name);
  u32("general.alignment", GGUF_ALIGNMENT);
  u32("general.file_type", FILE_TYPE[type]);
  u32("llama.vocab_size", c.vocabSize);
  u32("llama.context_length", c.seqLen);
  u32("llama.embedding_length", c.dim);
  u32("llama.block_count", c.nLayers);
  u32("llama.feed_forward_length", c.hiddenDim);
  u32("llama.rope.dimension_count", hd);
  u32("llama.attention.head_count", c.nHeads);
  u32("llama.attention.head_count_kv", c.nKvHeads);
  u32("llama.attention.key_length", hd);
  u32("llama.attention.value_length", hd);
  f32("llama.attention.layer_norm_rms_epsilon", c.rmsEps);
  f32("llama.rope.freq_base", c.ropeTheta);
  if (c.ropeScaling?.type === "linear") {
    str("llama.rope.scaling.type", "linear");
    f32("llama.rope.scaling.factor", c.ropeScaling.factor);
  }
  const v = model.vocab;
  if (v) {
    const unknown = v.pieces.indexOf("<unk>");
    const types = new Int32Array(v.pieces.length).map((_, id) => {
      if (id === v.bosId || id === v.eosId) return TOKEN_TYPE.control;
      if (id === unknown) return TOKEN_TYPE.unknown;
      return /^<0x[0-9A-Fa-f]{2}>$/.test(v.pieces[id]) ? TOKEN_TYPE.byte : TOKEN_TYPE.normal;
    });
    str("tokenizer.ggml.model", "llama");
    // SentencePiece writes spaces as U+2581; our Vocabulary holds them as ' '
    meta.set("tokenizer.ggml.tokens", { type: ValueType.Array, elemType: ValueType.String, value: v.pieces.map((p) => p.replaceAll(" ", "\u2581")) });
    meta.set("tokenizer.ggml.scores", { type: ValueType.Array, elemType: ValueType.F32, value: v.scores });
    meta.set("tokenizer.ggml.token_type", { type: ValueType.Array, elemType: ValueType.I32, value: types });
    u32("tokenizer.ggml.bos_token_id", v.bosId);
    u32("tokenizer.ggml.eos_token_id", v.eosId);
    if (unknown >= 0) u32("tokenizer.ggml.unknown_token_id", unknown);
  }

  const header = encodeHeader(meta, tensors);
  return { header, tensors, bytes: header.length + offset, fallbacks };
}

/** The data of one planned tensor, padded to the alignment. */
export function tensorBytes(t: GgufTensorPlan): Uint8Array {
  const out = new Uint8Array(alignUp(t.byteLength));
  if (t.type === GGML_TYPE.F32) new Float32Array(out.buffer, 0, t.values.length).set(t.values);
  else if (t.type === GGML_TYPE.F16) {
    const halves = new Uint16Array(out.buffer, 0, t.values.length);
    for (let i = 0; i < t.values.length; i++) halves[i] = floatToHalfBits(t.values[i]);
  } else quantizeRow(t.type, t.values, t.values.length, out);
  return out;
}

/** A whole GGUF file in memory (small models and tests; the CLI streams tensor by tensor). */
export function encodeGguf(model: LoadedModel, type: GgufOutputType): Uint8Array {
  const plan = planGguf(model, type);
  const out = new Uint8Array(plan.bytes);
  out.set(plan.header);
  for (const t of plan.tensors) out.set(tensorBytes(t), plan.header.length + t.offset);
  return out;
}

/**
 * Rows of a rotate-half q or k projection (heads x headDim rows of `cols` values) in GGUF's
 * interleaved order: row h*hd + 2i + s takes row h*hd + s*hd/2 + i (llama.cpp's permute).
 */
export function permuteHalfToInterleaved(w: Float32Array, heads: number, hd: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const halfHd = hd / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < halfHd; i++) {
      for (let s = 0; s < 2; s++) {
        const from = (h * hd + s * halfHd + i) * cols;
        const to = (h * hd + 2 * i + s) * cols;
        out.set(w.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

function alignUp(n: number): number {
  return Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
}

/** Magic, version 3, counts, metadata, tensor directory, zero padding up to the alignment. */
function encodeHeader(meta: Map<string, Meta>, tensors: GgufTensorPlan[]): Uint8Array {
  const w = new ByteSink();
  w.raw(new TextEncoder().encode("GGUF"));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(meta.size);
  for (const [key, m] of meta) {
    w.str(key);
    w.u32(m.type);
    switch (m.type) {
      case ValueType.U32: w.u32(m.value); break;
      case ValueType.F32: w.f32(m.value); break;
      case ValueType.String: w.str(m.value); break;
      case ValueType.Array:
        w.u32(m.elemType);
        w.u64(m.value.length);
        if (m.elemType === ValueType.String) for (const s of m.value as string[]) w.str(s);
        else if (m.elemType === ValueType.F32) for (let i = 0; i < m.value.length; i++) w.f32((m.value as ArrayLike<number>)[i]);
        else for (let i = 0; i < m.value.length; i++) w.i32((m.value as ArrayLike<number>)[i]);
        break;
    }
  }
  for (const t of tensors) {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(t.offset);
  }
  w.raw(new Uint8Array(alignUp(w.length) - w.length));
  return w.finish();
}

/** A growable little-endian byte buffer. */
class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }

  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }

  f32(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }

  u64(v: number): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }

  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.raw(b);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
