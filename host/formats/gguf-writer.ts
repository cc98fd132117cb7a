// LoadedModel -> GGUF v3 ("llama" architecture), f32 or Q8_0, as llama.cpp's converters write it:
// the llama.* keys, tokenizer.ggml.* for a SentencePiece vocabulary, tensor data aligned to
// general.alignment (32). Q8_0 covers 2-D weight matrices whose rows split into 32-value blocks;
// norms, biases and matrices with other row lengths stay f32.
//
// GGUF "llama" files rotate adjacent pairs (2i, 2i+1) of q and k; a Hugging Face model rotates
// i with i + headDim/2. Its q/k rows (and biases) are permuted as llama.cpp's convert_hf_to_gguf
// does (reshape (heads, 2, headDim/2, in) -> swap axes 1 and 2), so every GGUF reader gets the
// same model, and our reader reports ropeLayout "interleaved" again.
import { type LoadedModel, ModelFormatError, headDim } from "../model.js";
import { floatToHalfBits } from "../float16.js";
import { GGML_TYPE_F32, GGML_TYPE_Q8_0, halfToFloat } from "./gguf.js";

export type GgufOutputType = "f32" | "q8";

export const GGUF_ALIGNMENT = 32;
const QK8_0 = 32;
const Q8_0_BLOCK_BYTES = 2 + QK8_0;
/** llama.cpp's llama_ftype: LLAMA_FTYPE_ALL_F32, LLAMA_FTYPE_MOSTLY_Q8_0 */
const FILE_TYPE = { f32: 0, q8: 7 } as const;
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
  /** 2-D matrices left f32 in a q8 file because their rows do not split into 32-value blocks */
  keptF32: string[];
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
  const keptF32: string[] = [];
  let offset = 0;
  const add = (name: string, values: Float32Array, rows: number, cols: number | undefined) => {
    const dims = cols === undefined ? [rows] : [cols, rows];
    let ggmlType = GGML_TYPE_F32;
    if (type === "q8" && cols !== undefined) {
      if (cols % QK8_0 === 0) ggmlType = GGML_TYPE_Q8_0;
      else keptF32.push(name);
    }
    const byteLength = ggmlType === GGML_TYPE_Q8_0 ? (values.length / QK8_0) * Q8_0_BLOCK_BYTES : values.length * 4;
    tensors.push({ name, dims, type: ggmlType, offset, byteLength, values });
    offset += alignUp(byteLength);
  };
  const w = model.weights;
  add("token_embd.weight", w.tokenEmbedding, c.vocabSize, c.dim);
  add("output_norm.weight", w.finalNorm, c.dim, undefined);
  if (!c.tiedEmbeddings) add("output.weight", w.lmHead!, c.vocabSize, c.dim);
  if (c.ropeFreqFactors) add("rope_freqs.weight", Float32Array.from(c.ropeFreqFactors), hd / 2, undefined);
  w.layers.forEach((l, i) => {
    const p = `blk.${i}.`;
    add(`${p}attn_norm.weight`, l.attnNorm, c.dim, undefined);
    add(`${p}attn_q.weight`, toInterleaved(l.wq, c.nHeads, c.dim), qDim, c.dim);
    add(`${p}attn_k.weight`, toInterleaved(l.wk, c.nKvHeads, c.dim), kvDim, c.dim);
    add(`${p}attn_v.weight`, l.wv, kvDim, c.dim);
    if (l.bq) add(`${p}attn_q.bias`, toInterleaved(l.bq, c.nHeads, 1), qDim, undefined);
    if (l.bk) add(`${p}attn_k.bias`, toInterleaved(l.bk, c.nKvHeads, 1), kvDim, undefined);
    if (l.bv) add(`${p}attn_v.bias`, l.bv, kvDim, undefined);
    add(`${p}attn_output.weight`, l.wo, c.dim, qDim);
    add(`${p}ffn_norm.weight`, l.ffnNorm, c.dim, undefined);
    add(`${p}ffn_gate.weight`, l.wGate, c.hiddenDim, c.dim);
    add(`${p}ffn_up.weight`, l.wUp, c.hiddenDim, c.dim);
    add(`${p}ffn_down.weight`, l.wDown, c.dim, c.hiddenDim);
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
  return { header, tensors, bytes: header.length + offset, keptF32 };
}

/** The data of one planned tensor, padded to the alignment. */
export function tensorBytes(t: GgufTensorPlan): Uint8Array {
  const out = new Uint8Array(alignUp(t.byteLength));
  if (t.type === GGML_TYPE_Q8_0) out.set(quantizeQ8_0(t.values));
  else new Float32Array(out.buffer, 0, t.values.length).set(t.values);
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
 * Q8_0 blocks of 32 values: the f16 scale d = max|x| / 127, then q = round(x / d) (to nearest,
 * ties to even) as int8. q is computed against d as stored (rounded to f16), so d*q is within
 * half a step d/2 of x; ggml's reference divides by the unrounded d, which differs in rare last steps.
 */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  if (x.length % QK8_0 !== 0) throw new RangeError(`Q8_0 needs a multiple of ${QK8_0} values, got ${x.length}`);
  const blocks = x.length / QK8_0;
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  const q = new Int8Array(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * QK8_0;
    let amax = 0;
    for (let j = 0; j < QK8_0; j++) amax = Math.max(amax, Math.abs(x[base + j]));
    const dBits = floatToHalfBits(Math.fround(amax / 127));
    const d = halfToFloat(dBits);
    const inv = d > 0 ? 1 / d : 0;
    view.setUint16(b * Q8_0_BLOCK_BYTES, dBits, true);
    const q0 = b * Q8_0_BLOCK_BYTES + 2;
    for (let j = 0; j < QK8_0; j++) q[q0 + j] = Math.max(-127, Math.min(127, roundHalfEven(x[base + j] * inv)));
  }
  return out;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v); // ties toward +infinity
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
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
