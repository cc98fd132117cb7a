// Model formats: the stories260K files, and tiny GGUF / llama2.c files built byte by byte here so
// every expected value is known independently of the parser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LoadedModel, ModelFormatError } from "../host/model.js";
import { modelsDir } from "../host/node/paths.js";
import { parseGguf, readGgufHeader } from "../host/formats/gguf.js";
import { GGML_TYPE } from "../host/formats/ggml-blocks.js";
import { halfToFloat } from "../host/float16.js";
import { parseLlama2cCheckpoint, parseLlama2cTokenizer } from "../host/formats/llama2c.js";
import { loadModelFile, sha256File } from "../host/node/load.js";
import { seededRandom } from "../host/prng.js";

const storiesDir = () => join(modelsDir(), "stories260K");

// ---------------------------------------------------------------------------------------------
// A GGUF writer (versions 1-3), independent of the parser.

const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 } as const;

type Kv = { key: string; type: number; value: unknown; elemType?: number };
interface GgufTensorSpec {
  name: string;
  dims: number[];
  type: number;
  data: Uint8Array;
  /** overrides the computed offset */
  offset?: number;
}
interface GgufSpec {
  version: number;
  kvs: Kv[];
  tensors: GgufTensorSpec[];
  alignment?: number;
  magic?: string;
  /** overrides the tensor count written in the header */
  tensorCount?: number;
}

class ByteWriter {
  private chunks: number[] = [];
  constructor(private readonly version: number) {}
  get length(): number {
    return this.chunks.length;
  }
  bytes(b: ArrayLike<number>): void {
    for (let i = 0; i < b.length; i++) this.chunks.push(b[i]);
  }
  private typed(a: ArrayBufferView): void {
    this.bytes(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  u8(v: number): void { this.chunks.push(v & 255); }
  u16(v: number): void { this.typed(new Uint16Array([v])); }
  u32(v: number): void { this.typed(new Uint32Array([v])); }
  i32(v: number): void { this.typed(new Int32Array([v])); }
  u64(v: number): void { this.typed(new BigUint64Array([BigInt(v)])); }
  f32(v: number): void { this.typed(new Float32Array([v])); }
  f64(v: number): void { this.typed(new Float64Array([v])); }
  /** a GGUF length: u32 in v1, u64 later */
  len(n: number): void { if (this.version === 1) this.u32(n); else this.u64(n); }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.len(b.length);
    this.bytes(b);
  }
  value(type: number, v: unknown, elemType?: number): void {
    switch (type) {
      case T.U8: case T.BOOL: return this.u8(Number(v));
      case T.I8: return this.typed(new Int8Array([v as number]));
      case T.U16: return this.u16(v as number);
      case T.I16: return this.typed(new Int16Array([v as number]));
      case T.U32: return this.u32(v as number);
      case T.I32: return this.i32(v as number);
      case T.F32: return this.f32(v as number);
      case T.U64: return this.u64(v as number);
      case T.I64: return this.typed(new BigInt64Array([BigInt(v as number)]));
      case T.F64: return this.f64(v as number);
      case T.STRING: return this.str(v as string);
      case T.ARRAY: {
        const a = v as unknown[];
        this.u32(elemType!);
        this.len(a.length);
        for (const x of a) this.value(elemType!, x);
        return;
      }
      default: return this.u8(Number(v)); // an invalid type, for error tests: one payload byte
    }
  }
  padTo(alignment: number): void {
    while (this.chunks.length % alignment !== 0) this.u8(0);
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

function buildGguf(spec: GgufSpec): Uint8Array {
  const w = new ByteWriter(spec.version);
  const alignment = spec.alignment ?? 32;
  w.bytes(new TextEncoder().encode(spec.magic ?? "GGUF"));
  w.u32(spec.version);
  w.len(spec.tensorCount ?? spec.tensors.length);
  w.len(spec.kvs.length);
  for (const kv of spec.kvs) {
    w.str(kv.key);
    w.u32(kv.type);
    w.value(kv.type, kv.value, kv.elemType);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of spec.tensors) {
    offsets.push(offset);
    offset += Math.ceil(t.data.length / alignment) * alignment;
  }
  spec.tensors.forEach((t, i) => {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.len(d);
    w.u32(t.type);
    w.u64(t.offset ?? offsets[i]);
  });
  w.padTo(alignment);
  for (const t of spec.tensors) {
    w.bytes(t.data);
    w.padTo(alignment);
  }
  return w.finish();
}

/** Deterministic pseudo-random f32 values in [-1, 1), so weights differ per tensor. */
function values(n: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: n }, () => random() * 2 - 1);
}

const f32Bytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

// A tiny llama: dim 32 (so Q8_0 blocks of 32 fit the input dimension), 4 heads of 8, 2 kv heads.
const TINY = { dim: 32, hidden: 64, layers: 2, heads: 4, kvHeads: 2, vocab: 16, ctx: 64 };
const TINY_PIECES = ["<unk>", "<s>", "</s>", "<0x0A>", "\u2581", "a", "b", "\u2581a", "\u2581b", "ab", "\u2581ab", "ba", "c", "\u2581c", "é", "\u2581é"];

/** GGUF dims (input first) of every tensor in TINY, by name. */
function tinyTensorDims(tied: boolean): [string, number[]][] {
  const { dim, hidden, layers, vocab } = TINY;
  const kvDim = (dim / TINY.heads) * TINY.kvHeads;
  const list: [string, number[]][] = [["token_embd.weight", [dim, vocab]]];
  for (let l = 0; l < layers; l++) {
    list.push(
      [`blk.${l}.attn_norm.weight`, [dim]],
      [`blk.${l}.attn_q.weight`, [dim, dim]],
      [`blk.${l}.attn_k.weight`, [dim, kvDim]],
      [`blk.${l}.attn_v.weight`, [dim, kvDim]],
      [`blk.${l}.attn_output.weight`, [dim, dim]],
      [`blk.${l}.ffn_norm.weight`, [dim]],
      [`blk.${l}.ffn_gate.weight`, [dim, hidden]],
      [`blk.${l}.ffn_up.weight`, [dim, hidden]],
      [`blk.${l}.ffn_down.weight`, [hidden, dim]],
    );
  }
  list.push(["output_norm.weight", [dim]]);
  if (!tied) list.push(["output.weight", [dim, vocab]]);
  return list;
}

function tinyKvs(overrides: Partial<Record<string, Kv>> = {}): Kv[] {
  const base: Kv[] = [
    { key: "general.architecture", type: T.STRING, value: "llama" },
    { key: "general.name", type: T.STRING, value: "tiny" },
    { key: "llama.context_length", type: T.U32, value: TINY.ctx },
    { key: "llama.embedding_length", type: T.U32, value: TINY.dim },
    { key: "llama.block_count", type: T.U32, value: TINY.layers },
    { key: "llama.feed_forward_length", type: T.U32, value: TINY.hidden },
    { key: "llama.attention.head_count", type: T.U32, value: TINY.heads },
    { key: "llama.attention.head_count_kv", type: T.U32, value: TINY.kvHeads },
    { key: "llama.rope.freq_base", type: T.F32, value: 500000 },
    { key: "llama.attention.layer_norm_rms_epsilon", type: T.F32, value: 1e-6 },
    { key: "tokenizer.ggml.model", type: T.STRING, value: "llama" },
    { key: "tokenizer.ggml.tokens", type: T.ARRAY, elemType: T.STRING, value: TINY_PIECES },
    { key: "tokenizer.ggml.scores", type: T.ARRAY, elemType: T.F32, value: TINY_PIECES.map((_, i) => -i) },
    { key: "tokenizer.ggml.token_type", type: T.ARRAY, elemType: T.I32, value: TINY_PIECES.map(() => 1) },
    { key: "tokenizer.ggml.bos_token_id", type: T.U32, value: 1 },
    { key: "tokenizer.ggml.eos_token_id", type: T.U32, value: 2 },
  ];
  const out = base.map((kv) => (kv.key in overrides ? overrides[kv.key] : kv)).filter((kv): kv is Kv => kv !== undefined);
  for (const [key, kv] of Object.entries(overrides)) if (kv && !base.some((b) => b.key === key)) out.push(kv);
  return out;
}

interface TinyGguf {
  bytes: Uint8Array;
  /** the f32 values each tensor was written from (row-major [out x in]) */
  expected: Map<string, Float32Array>;
}

function tinyGguf(opts: { version?: number; tied?: boolean; tensors?: (t: GgufTensorSpec) => GgufTensorSpec; kvs?: Kv[] } = {}): TinyGguf {
  const expected = new Map<string, Float32Array>();
  const tensors = tinyTensorDims(opts.tied ?? false).map(([name, dims], i): GgufTensorSpec => {
    const v = values(dims.reduce((a, b) => a * b, 1), i + 1);
    expected.set(name, v);
    const spec = { name, dims, type: GGML_TYPE.F32, data: f32Bytes(v) };
    return opts.tensors ? opts.tensors(spec) : spec;
  });
  return { bytes: buildGguf({ version: opts.version ?? 3, kvs: opts.kvs ?? tinyKvs(), tensors }), expected };
}

function assertModelFormatError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, `expected a ModelFormatError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// GGUF

test("gguf v1, v2 and v3 tiny models load with every tensor in [out x in] row-major order", () => {
  for (const version of [1, 2, 3]) {
    const { bytes, expected } = tinyGguf({ version });
    const m = parseGguf(bytes, "tiny.gguf");
    assert.equal(m.format, "gguf");
    assert.deepEqual(m.config, {
      architecture: "llama", dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 16, seqLen: 64,
      ropeTheta: 500000, ropeLayout: "interleaved", rmsEps: Math.fround(1e-6), tiedEmbeddings: false,
    });
    // GGUF element (i along ne[0], o along ne[1]) sits at i + o * ne[0]: row o, column i of [out x in].
    const w = m.weights;
    assert.deepEqual(w.tokenEmbedding, expected.get("token_embd.weight"));
    assert.deepEqual(w.lmHead, expected.get("output.weight"));
    assert.deepEqual(w.finalNorm, expected.get("output_norm.weight"));
    w.layers.forEach((l, i) => {
      assert.deepEqual(l.wq, expected.get(`blk.${i}.attn_q.weight`));
      assert.deepEqual(l.wk, expected.get(`blk.${i}.attn_k.weight`));
      assert.deepEqual(l.wv, expected.get(`blk.${i}.attn_v.weight`));
      assert.deepEqual(l.wo, expected.get(`blk.${i}.attn_output.weight`));
      assert.deepEqual(l.wGate, expected.get(`blk.${i}.ffn_gate.weight`));
      assert.deepEqual(l.wUp, expected.get(`blk.${i}.ffn_up.weight`));
      assert.deepEqual(l.wDown, expected.get(`blk.${i}.ffn_down.weight`));
      assert.deepEqual(l.attnNorm, expected.get(`blk.${i}.attn_norm.weight`));
      assert.deepEqual(l.ffnNorm, expected.get(`blk.${i}.ffn_norm.weight`));
    });
    assert.deepEqual(m.vocab?.pieces, TINY_PIECES.map((p) => p.replaceAll("\u2581", " ")));
    assert.deepEqual(Array.from(m.vocab!.scores), TINY_PIECES.map((_, i) => -i));
    assert.equal(m.vocab?.bosId, 1);
    assert.equal(m.vocab?.eosId, 2);
  }
});

test("gguf: missing output.weight means tied embeddings; defaults apply to absent keys", () => {
  const kvs = tinyKvs({
    "llama.attention.head_count_kv": undefined,
    "llama.rope.freq_base": undefined,
    "llama.attention.layer_norm_rms_epsilon": undefined,
    "tokenizer.ggml.bos_token_id": undefined,
    "tokenizer.ggml.eos_token_id": undefined,
    "general.alignment": { key: "general.alignment", type: T.U32, value: 64 },
  });
  const tensors = tinyTensorDims(true).map(([name, dims]) => {
    // with head_count_kv defaulting to head_count, k and v are [dim, dim]
    const d = /attn_[kv]\./.test(name) ? [TINY.dim, TINY.dim] : dims;
    return { name, dims: d, type: GGML_TYPE.F32, data: f32Bytes(values(d[0] * (d[1] ?? 1), 7)) };
  });
  const bytes = buildGguf({ version: 2, kvs, tensors, alignment: 64 });
  const m = parseGguf(bytes, "tied.gguf");
  assert.equal(m.config.tiedEmbeddings, true);
  assert.equal(m.weights.lmHead, undefined);
  assert.equal(m.config.nKvHeads, TINY.heads);
  assert.equal(m.config.ropeTheta, 10000);
  assert.equal(m.config.rmsEps, 1e-5);
  assert.equal(m.vocab?.bosId, 1);
  assert.equal(m.vocab?.eosId, 2);
  assert.equal(readGgufHeader(bytes, "tied.gguf").dataStart % 64, 0);
});

test("halfToFloat: normal, subnormal, signed zero, infinities, NaN", () => {
  const cases: [number, number][] = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x3800, 0.5],
    [0x3555, 0.333251953125],
    [0x7bff, 65504], // largest finite
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x8001, -(2 ** -24)],
    [0x0000, 0],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  for (const [h, v] of cases) assert.equal(halfToFloat(h), v, `0x${h.toString(16)}`);
  assert.ok(Object.is(halfToFloat(0x8000), -0));
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
});

test("gguf: F16 and Q8_0 tensors are dequantized to f32 at load", () => {
  // token_embd as F16 (32 x 16 = 512 halves) cycling through hand-picked bit patterns.
  const halves = [0x3c00, 0x0001, 0x03ff, 0x8000, 0xc000, 0x7bff, 0x3555, 0x0400];
  const halfValues = [1, 2 ** -24, 1023 * 2 ** -24, -0, -2, 65504, 0.333251953125, 2 ** -14];
  // ffn_gate as Q8_0: 64 rows of one 32-wide block; scales cycle, q_j = j - 16 (block b adds b).
  const scales = [0x3800, 0x3c00, 0x0001, 0xb400];
  const scaleValues = [0.5, 1, 2 ** -24, -0.25];
  const q8Block = (b: number): Uint8Array => {
    const out = new Uint8Array(34);
    new DataView(out.buffer).setUint16(0, scales[b % 4], true);
    for (let j = 0; j < 32; j++) out[2 + j] = (j - 16 + (b % 100)) & 255;
    return out;
  };
  const { bytes } = tinyGguf({
    tensors: (t) => {
      if (t.name === "token_embd.weight") {
        const data = new Uint8Array(512 * 2);
        const view = new DataView(data.buffer);
        for (let i = 0; i < 512; i++) view.setUint16(2 * i, halves[i % halves.length], true);
        return { ...t, type: GGML_TYPE.F16, data };
      }
      if (t.name === "blk.1.ffn_gate.weight") {
        const data = new Uint8Array(64 * 34);
        for (let b = 0; b < 64; b++) data.set(q8Block(b), b * 34);
        return { ...t, type: GGML_TYPE.Q8_0, data };
      }
      return t;
    },
  });
  const m = parseGguf(bytes, "quant.gguf");
  const emb = m.weights.tokenEmbedding;
  for (let i = 0; i < 512; i++) assert.ok(Object.is(emb[i], halfValues[i % halfValues.length]), `embedding ${i}: ${emb[i]}`);
  const gate = m.weights.layers[1].wGate;
  assert.equal(gate.length, 64 * 32);
  for (let b = 0; b < 64; b++) {
    for (let j = 0; j < 32; j++) {
      const q = ((j - 16 + (b % 100)) << 24) >> 24; // the int8 the block holds
      assert.equal(gate[b * 32 + j], Math.fround(scaleValues[b % 4] * q), `block ${b} element ${j}`);
    }
  }
  assert.equal(gate[0], 0.5 * -16); // block 0 (scale 0.5) starts at q = -16
});

test("gguf: Q8_0 tensor whose input dimension is not a multiple of 32 is rejected", () => {
  const { bytes } = tinyGguf({
    tensors: (t) => (t.name === "blk.0.attn_norm.weight" ? { ...t, dims: [32], type: GGML_TYPE.Q8_0, data: new Uint8Array(34) } : t),
  });
  // 32 is fine; a 1-D tensor of 16 is not
  assert.ok(parseGguf(bytes, "ok.gguf"));
  const bad = tinyGguf({
    tensors: (t) => (t.name === "output_norm.weight" ? { ...t, dims: [16], type: GGML_TYPE.Q8_0, data: new Uint8Array(34) } : t),
  }).bytes;
  assertModelFormatError(() => parseGguf(bad, "bad.gguf"), /output_norm\.weight: 16 values per row is not a multiple of Q8_0's 32 \(its block size\)/);
});

test("gguf errors: truncated file at any point", () => {
  const { bytes } = tinyGguf({ version: 1 });
  const header = readGgufHeader(bytes, "t.gguf");
  const cuts = [0, 3, 6, 10, 40, 200, header.dataStart - 10, header.dataStart + 100, bytes.length - 1];
  for (const cut of cuts) {
    assertModelFormatError(() => parseGguf(bytes.subarray(0, cut), "cut.gguf"), new RegExp(`cut\\.gguf: .*file has only ${cut} bytes`));
  }
  assertModelFormatError(() => parseGguf(bytes.subarray(0, 10), "cut.gguf"), /truncated at byte offset 8: expected 4 bytes for the tensor count, file has only 10 bytes/);
});

test("gguf errors: wrong magic, unsupported version", () => {
  const { bytes } = tinyGguf();
  const wrong = bytes.slice();
  wrong.set(new TextEncoder().encode("GGML"), 0);
  assertModelFormatError(() => parseGguf(wrong, "m.gguf"), /not a GGUF file: magic is 47 47 4d 4c \("GGML"\), expected "GGUF"/);
  const v4 = bytes.slice();
  new DataView(v4.buffer).setUint32(4, 4, true);
  assertModelFormatError(() => parseGguf(v4, "v.gguf"), /unsupported GGUF version 4; supported: 1, 2, 3/);
  const bigEndian = bytes.slice();
  new DataView(bigEndian.buffer).setUint32(4, 3, false);
  assertModelFormatError(() => parseGguf(bigEndian, "be.gguf"), /big-endian/);
});

test("gguf errors: tensor offset or size past the end of the file", () => {
  const far = tinyGguf({ tensors: (t) => (t.name === "blk.1.attn_q.weight" ? { ...t, offset: 1 << 20 } : t) }).bytes;
  assertModelFormatError(() => parseGguf(far, "o.gguf"), new RegExp(`tensor blk\\.1\\.attn_q\\.weight \\(F32 \\[32, 32\\]\\) at byte offset \\d+: expected data up to byte \\d+, file has only ${far.length} bytes`));
  // the last tensor's data cut short by the file end
  const { bytes } = tinyGguf();
  assertModelFormatError(() => parseGguf(bytes.subarray(0, bytes.length - 64), "s.gguf"), /tensor output\.weight .*expected data up to byte/);
  const misaligned = tinyGguf({ tensors: (t) => (t.name === "output_norm.weight" ? { ...t, offset: 4 } : t) }).bytes;
  assertModelFormatError(() => parseGguf(misaligned, "a.gguf"), /tensor output_norm\.weight has data offset 4, expected a multiple of the alignment 32/);
});

test("gguf errors: tensor dims not matching the config, missing tensor", () => {
  const wrongDims = tinyGguf({
    tensors: (t) => (t.name === "blk.0.ffn_gate.weight" ? { ...t, dims: [32, 60], data: t.data.subarray(0, 32 * 60 * 4) } : t),
  }).bytes;
  assertModelFormatError(() => parseGguf(wrongDims, "d.gguf"), /tensor blk\.0\.ffn_gate\.weight has dims \[32, 60\], expected \[32, 64\] from the config/);
  // a transposed matrix has the right element count but the wrong dims
  const transposed = tinyGguf({ tensors: (t) => (t.name === "blk.1.ffn_down.weight" ? { ...t, dims: [32, 64] } : t) }).bytes;
  assertModelFormatError(() => parseGguf(transposed, "t.gguf"), /blk\.1\.ffn_down\.weight has dims \[32, 64\], expected \[64, 32\]/);
  const kvs = tinyKvs({ "llama.block_count": { key: "llama.block_count", type: T.U32, value: 3 } });
  assertModelFormatError(() => parseGguf(tinyGguf({ kvs }).bytes, "l.gguf"), /missing tensor blk\.2\.attn_norm\.weight/);
});

test("gguf errors: unsupported tensor type names the tensor and the type", () => {
  for (const [type, name] of [[16, "IQ2_XXS"], [23, "IQ4_XS"], [34, "TQ1_0"], [39, "MXFP4"]] as const) {
    const bytes = tinyGguf({ tensors: (t) => (t.name === "blk.0.attn_v.weight" ? { ...t, type, data: new Uint8Array(144) } : t) }).bytes;
    assertModelFormatError(() => parseGguf(bytes, "q.gguf"), new RegExp(`tensor blk\\.0\\.attn_v\\.weight has type ${type} \\(${name}\\), which this engine cannot read; supported: F32 \\(0\\), F16 \\(1\\), Q4_0 \\(2\\), .*Q6_K \\(14\\), BF16 \\(30\\)`));
  }
  const unknown = tinyGguf({ tensors: (t) => (t.name === "output.weight" ? { ...t, type: 99 } : t) }).bytes;
  assertModelFormatError(() => parseGguf(unknown, "u.gguf"), /tensor output\.weight has type 99 \(unknown\)/);
});

test("gguf errors: a k-quant row that is not a whole number of 256-value blocks, and a truncated block", () => {
  // TINY's rows have 32 values: fine for Q4_0, not for Q4_K
  const q4k = tinyGguf({ tensors: (t) => (t.name === "blk.0.attn_v.weight" ? { ...t, type: GGML_TYPE.Q4_K, data: new Uint8Array(144) } : t) }).bytes;
  assertModelFormatError(() => parseGguf(q4k, "q.gguf"), /q\.gguf: tensor blk\.0\.attn_v\.weight: 32 values per row is not a multiple of Q4_K's 256 \(its block size\)/);
  // output.weight last, as Q4_0: 16 rows of one 18-byte block; the file ends 5 bytes into its last block
  const q40 = tinyGguf({ tensors: (t) => (t.name === "output.weight" ? { ...t, type: GGML_TYPE.Q4_0, data: new Uint8Array(16 * 18) } : t) }).bytes;
  const header = readGgufHeader(q40, "ok.gguf");
  const out = header.tensors.find((t) => t.name === "output.weight")!;
  const end = header.dataStart + out.offset + 16 * 18;
  assert.ok(parseGguf(q40.subarray(0, end), "whole.gguf"));
  assertModelFormatError(() => parseGguf(q40.subarray(0, end - 13), "cut.gguf"), new RegExp(`tensor output\\.weight \\(Q4_0 \\[32, 16\\]\\) at byte offset ${header.dataStart + out.offset}: expected data up to byte ${end}, file has only ${end - 13} bytes`));
});

test("gguf errors: a tensor count one short (the data start shifts) is refused, not read shifted", () => {
  // output.weight last in the directory: one short, the model would silently turn tied
  const tensors = tinyTensorDims(false)
    .map(([name, dims], i): GgufTensorSpec => ({ name, dims, type: GGML_TYPE.F32, data: f32Bytes(values(dims.reduce((a, b) => a * b, 1), i + 1)) }))
    .sort((a, b) => Number(a.name === "output.weight") - Number(b.name === "output.weight"));
  parseGguf(buildGguf({ version: 3, kvs: tinyKvs(), tensors }), "ok.gguf");
  const short = buildGguf({ version: 3, kvs: tinyKvs(), tensors, tensorCount: tensors.length - 1 });
  assertModelFormatError(() => parseGguf(short, "short.gguf"), /the data section .* expected no bytes beyond the last tensor/);
});

test("gguf errors: absurd counts fail fast, without allocating", () => {
  const { bytes } = tinyGguf({ version: 3 });
  const start = performance.now();
  const tensors = bytes.slice();
  new DataView(tensors.buffer).setBigUint64(8, 2n ** 40n, true);
  assertModelFormatError(() => parseGguf(tensors, "n.gguf"), /header claims 1099511627776 tensors and 16 metadata entries, which cannot fit: file has only \d+ bytes/);
  const kvs = bytes.slice();
  new DataView(kvs.buffer).setBigUint64(16, 2n ** 40n, true);
  assertModelFormatError(() => parseGguf(kvs, "k.gguf"), /1099511627776 metadata entries, which cannot fit/);
  const huge = bytes.slice();
  new DataView(huge.buffer).setBigUint64(8, 2n ** 60n, true);
  assertModelFormatError(() => parseGguf(huge, "h.gguf"), /the tensor count at byte offset 8 is 1152921504606846976, expected a value below 2\^53/);
  // an array length: the tokens array claims 2^40 strings
  const arr = buildGguf({
    version: 2,
    kvs: [{ key: "tokenizer.ggml.tokens", type: T.ARRAY, elemType: T.STRING, value: ["a", "b"] }],
    tensors: [],
  });
  const countAt = 4 + 4 + 8 + 8 + (8 + "tokenizer.ggml.tokens".length) + 4 + 4; // header, key, value type, element type
  new DataView(arr.buffer).setBigUint64(countAt, 2n ** 40n, true);
  assertModelFormatError(() => readGgufHeader(arr, "a.gguf"), /metadata tokenizer\.ggml\.tokens at byte offset \d+ claims 1099511627776 elements, which cannot fit/);
  // a string length
  const str = buildGguf({ version: 3, kvs: [{ key: "general.name", type: T.STRING, value: "x" }], tensors: [] });
  new DataView(str.buffer).setBigUint64(4 + 4 + 8 + 8 + (8 + "general.name".length) + 4, 2n ** 40n, true);
  assertModelFormatError(() => readGgufHeader(str, "s.gguf"), /expected 1099511627776 bytes for metadata general\.name/);
  assert.ok(performance.now() - start < 1000, "absurd counts must be rejected without work proportional to them");
});

test("gguf rope scaling keys as llama.cpp reads them: linear by factor or the older scale_linear, yarn and longrope refused by name", () => {
  const scaling = (extra: Kv[]) => parseGguf(tinyGguf({ kvs: [...tinyKvs(), ...extra] }).bytes, "s.gguf").config.ropeScaling;
  const str = (key: string, value: string): Kv => ({ key, type: T.STRING, value });
  const f32 = (key: string, value: number): Kv => ({ key, type: T.F32, value });
  assert.deepEqual(scaling([str("llama.rope.scaling.type", "linear"), f32("llama.rope.scaling.factor", 4)]), { type: "linear", factor: 4 });
  // no type: llama.cpp's default is linear; the factor may come under the older key
  assert.deepEqual(scaling([f32("llama.rope.scale_linear", 2)]), { type: "linear", factor: 2 });
  assert.equal(scaling([str("llama.rope.scaling.type", "none"), f32("llama.rope.scaling.factor", 4)]), undefined);
  assert.equal(scaling([f32("llama.rope.scaling.factor", 1)]), undefined);
  for (const type of ["yarn", "longrope"]) {
    assertModelFormatError(() => scaling([str("llama.rope.scaling.type", type), f32("llama.rope.scaling.factor", 4)]), new RegExp(`llama\\.rope\\.scaling\\.type "${type}" is not supported; supported: none, linear`));
  }
  assertModelFormatError(() => scaling([f32("llama.rope.scaling.factor", -2)]), /llama\.rope\.scaling\.factor is -2, expected > 0/);
});

test("gguf errors: unknown architecture lists the supported ones; bad metadata types are named", () => {
  const kvs = tinyKvs({ "general.architecture": { key: "general.architecture", type: T.STRING, value: "gpt2" } });
  assertModelFormatError(() => parseGguf(tinyGguf({ kvs }).bytes, "g.gguf"), /unsupported architecture "gpt2"; supported: llama/);
  const wrongType = tinyKvs({ "llama.block_count": { key: "llama.block_count", type: T.STRING, value: "2" } });
  assertModelFormatError(() => parseGguf(tinyGguf({ kvs: wrongType }).bytes, "w.gguf"), /metadata llama\.block_count is string "2", expected a number/);
  const missing = tinyKvs({ "llama.embedding_length": undefined });
  assertModelFormatError(() => parseGguf(tinyGguf({ kvs: missing }).bytes, "m.gguf"), /missing metadata llama\.embedding_length/);
  const badValueType = buildGguf({ version: 3, kvs: [{ key: "x", type: 13, value: 0 }], tensors: [] });
  assertModelFormatError(() => readGgufHeader(badValueType, "t.gguf"), /metadata x at byte offset \d+: unknown metadata value type 13/);
});

test("gguf errors: a vocabulary that does not match the embedding", () => {
  const kvs = tinyKvs({ "tokenizer.ggml.tokens": { key: "tokenizer.ggml.tokens", type: T.ARRAY, elemType: T.STRING, value: TINY_PIECES.slice(0, 15) } });
  assertModelFormatError(() => parseGguf(tinyGguf({ kvs }).bytes, "v.gguf"), /tokenizer\.ggml\.tokens has 15 pieces, but token_embd\.weight has 16 rows/);
});

test("gguf: all metadata value types round-trip", () => {
  const kvs: Kv[] = [
    { key: "u8", type: T.U8, value: 250 },
    { key: "i8", type: T.I8, value: -5 },
    { key: "u16", type: T.U16, value: 65000 },
    { key: "i16", type: T.I16, value: -300 },
    { key: "u32", type: T.U32, value: 4000000000 },
    { key: "i32", type: T.I32, value: -2000000000 },
    { key: "f32", type: T.F32, value: 0.25 },
    { key: "bool", type: T.BOOL, value: true },
    { key: "str", type: T.STRING, value: "héllo \u2581" },
    { key: "arr", type: T.ARRAY, elemType: T.I32, value: [1, -2, 3] },
    { key: "u64", type: T.U64, value: 2 ** 40 + 3 },
    { key: "i64", type: T.I64, value: -(2 ** 40) },
    { key: "f64", type: T.F64, value: 1e-300 },
  ];
  for (const version of [1, 2, 3]) {
    const h = readGgufHeader(buildGguf({ version, kvs, tensors: [] }), "kv.gguf");
    assert.equal(h.version, version);
    for (const kv of kvs) assert.deepEqual(h.metadata.get(kv.key), kv.value, kv.key);
  }
});

// ---------------------------------------------------------------------------------------------
// llama2.c

/** A llama2.c checkpoint whose every float encodes (section, index), so order mistakes show. */
function tinyLlama2c(opts: { shared: boolean; extraBytes?: number } = { shared: true }): Uint8Array {
  const { dim, hidden, layers, heads, kvHeads, vocab, ctx } = TINY;
  const hs = dim / heads;
  const sections = [
    vocab * dim, // 0 token_embedding_table
    layers * dim, // 1 rms_att_weight
    layers * dim * dim, // 2 wq
    layers * dim * kvHeads * hs, // 3 wk
    layers * dim * kvHeads * hs, // 4 wv
    layers * dim * dim, // 5 wo
    layers * dim, // 6 rms_ffn_weight
    layers * dim * hidden, // 7 w1
    layers * hidden * dim, // 8 w2
    layers * dim * hidden, // 9 w3
    dim, // 10 rms_final_weight
    (ctx * hs) / 2, // 11 freq_cis_real
    (ctx * hs) / 2, // 12 freq_cis_imag
    ...(opts.shared ? [] : [vocab * dim]), // 13 wcls
  ];
  const floats = sections.reduce((a, b) => a + b, 0);
  const out = new Uint8Array(28 + floats * 4 + (opts.extraBytes ?? 0));
  const view = new DataView(out.buffer);
  [dim, hidden, layers, heads, kvHeads, opts.shared ? vocab : -vocab, ctx].forEach((v, i) => view.setInt32(i * 4, v, true));
  let at = 28;
  sections.forEach((n, s) => {
    for (let i = 0; i < n; i++, at += 4) view.setFloat32(at, s * 100000 + i, true);
  });
  return out;
}

test("llama2.c: header, tensor order and per-layer slices follow run.c", () => {
  for (const shared of [true, false]) {
    const m = parseLlama2cCheckpoint(tinyLlama2c({ shared }), "tiny.bin");
    assert.deepEqual(m.config, {
      architecture: "llama", dim: 32, hiddenDim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 16, seqLen: 64,
      ropeTheta: 10000, ropeLayout: "interleaved", rmsEps: 1e-5, tiedEmbeddings: shared,
    });
    const w = m.weights;
    const at = (a: Float32Array, i: number): [number, number] => [Math.floor(a[i] / 100000), a[i] % 100000];
    assert.deepEqual(at(w.tokenEmbedding, 5), [0, 5]);
    const l1 = w.layers[1];
    assert.deepEqual(at(l1.attnNorm, 0), [1, 32]);
    assert.deepEqual(at(l1.wq, 0), [2, 32 * 32]);
    assert.deepEqual(at(l1.wk, 3), [3, 32 * 16 + 3]);
    assert.deepEqual(at(l1.wv, 0), [4, 32 * 16]);
    assert.deepEqual(at(l1.wo, 0), [5, 32 * 32]);
    assert.deepEqual(at(l1.ffnNorm, 0), [6, 32]);
    assert.deepEqual(at(l1.wGate, 0), [7, 32 * 64]); // w1
    assert.deepEqual(at(l1.wDown, 0), [8, 64 * 32]); // w2
    assert.deepEqual(at(l1.wUp, 0), [9, 32 * 64]); // w3
    assert.deepEqual(at(w.finalNorm, 31), [10, 31]);
    if (shared) assert.equal(w.lmHead, undefined);
    else assert.deepEqual(at(w.lmHead!, 7), [13, 7]); // after the skipped RoPE tables
  }
});

test("llama2.c errors: trailing or missing bytes give both sizes", () => {
  const good = tinyLlama2c({ shared: true });
  assertModelFormatError(
    () => parseLlama2cCheckpoint(tinyLlama2c({ shared: true, extraBytes: 4 }), "x.bin"),
    new RegExp(`x\\.bin: header \\(dim 32, .*vocab_size 16, seq_len 64\\) implies ${good.length} bytes, file has ${good.length + 4} bytes \\(4 trailing bytes\\)`),
  );
  assertModelFormatError(
    () => parseLlama2cCheckpoint(good.subarray(0, good.length - 8), "x.bin"),
    new RegExp(`implies ${good.length} bytes, file has ${good.length - 8} bytes \\(truncated: 8 bytes missing\\)`),
  );
  // an unshared header on a shared file: the classifier is missing
  const flipped = good.slice();
  new DataView(flipped.buffer).setInt32(20, -16, true);
  assertModelFormatError(() => parseLlama2cCheckpoint(flipped, "x.bin"), /truncated: 2048 bytes missing/);
  assertModelFormatError(() => parseLlama2cCheckpoint(good.subarray(0, 10), "x.bin"), /truncated at byte offset 8: expected 4 bytes for header n_layers, file has only 10 bytes/);
  const zero = good.slice();
  new DataView(zero.buffer).setInt32(12, 0, true);
  assertModelFormatError(() => parseLlama2cCheckpoint(zero, "x.bin"), /header field n_heads is 0, expected a positive integer/);
});

function tokenizerBin(pieces: string[], scores: number[]): Uint8Array {
  const enc = pieces.map((p) => new TextEncoder().encode(p));
  const max = Math.max(...enc.map((e) => e.length));
  const out = new Uint8Array(4 + enc.reduce((a, e) => a + 8 + e.length, 0));
  const view = new DataView(out.buffer);
  view.setInt32(0, max, true);
  let at = 4;
  enc.forEach((e, i) => {
    view.setFloat32(at, scores[i], true);
    view.setInt32(at + 4, e.length, true);
    out.set(e, at + 8);
    at += 8 + e.length;
  });
  return out;
}

test("llama2.c tokenizer: pieces and scores; trailing and missing bytes are errors", () => {
  const pieces = ["<unk>", "\n<s>\n", "\n</s>\n", " a", "é", ""];
  const bytes = tokenizerBin(pieces, [0, 0, 0, -1.5, -2, -3]);
  const v = parseLlama2cTokenizer(bytes, "tok.bin", 6);
  assert.deepEqual(v.pieces, pieces);
  assert.deepEqual(Array.from(v.scores), [0, 0, 0, -1.5, -2, -3]);
  assert.equal(v.bosId, 1);
  assert.equal(v.eosId, 2);
  assertModelFormatError(() => parseLlama2cTokenizer(bytes, "tok.bin", 5), /8 trailing bytes after 5 tokens/);
  assertModelFormatError(() => parseLlama2cTokenizer(bytes, "tok.bin", 7), /truncated at byte offset \d+: expected 4 bytes for the score of token 6/);
  assertModelFormatError(() => parseLlama2cTokenizer(bytes.subarray(0, bytes.length - 9), "tok.bin", 6), /expected 2 bytes for the bytes of token 4/);
});

// ---------------------------------------------------------------------------------------------
// stories260K: the same model in both formats

let ggufModel: LoadedModel | undefined;
let binModel: LoadedModel | undefined;
async function stories(): Promise<[LoadedModel, LoadedModel]> {
  ggufModel ??= await loadModelFile(join(storiesDir(), "stories260K-f32.gguf"));
  binModel ??= await loadModelFile(join(storiesDir(), "stories260K.bin"));
  return [ggufModel, binModel];
}

test("stories260K: GGUF and llama2.c give the same config", async () => {
  const [g, b] = await stories();
  assert.equal(g.format, "gguf");
  assert.equal(b.format, "llama2c");
  const expected = { architecture: "llama", dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, ropeTheta: 10000, ropeLayout: "interleaved" };
  for (const m of [g, b]) {
    const { rmsEps, tiedEmbeddings, ...rest } = m.config;
    assert.deepEqual(rest, expected);
    // the GGUF stores run.c's 1e-5f as an f32
    assert.equal(Math.fround(rmsEps), Math.fround(1e-5));
    void tiedEmbeddings;
  }
  // the GGUF keeps a separate (equal) copy of the classifier; the .bin shares the embedding
  assert.equal(g.config.tiedEmbeddings, false);
  assert.equal(b.config.tiedEmbeddings, true);
});

test("stories260K: GGUF and llama2.c load to identical weights", async () => {
  const [g, b] = await stories();
  const same = (x: Float32Array | undefined, y: Float32Array | undefined, what: string) => {
    assert.ok(x && y, what);
    assert.equal(x.length, y.length, what);
    assert.ok(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength)), `${what} differs`);
  };
  same(g.weights.tokenEmbedding, b.weights.tokenEmbedding, "token embedding");
  same(g.weights.lmHead, b.weights.tokenEmbedding, "GGUF output.weight vs shared embedding");
  same(g.weights.finalNorm, b.weights.finalNorm, "final norm");
  const names = ["attnNorm", "wq", "wk", "wv", "wo", "ffnNorm", "wGate", "wUp", "wDown"] as const;
  for (let l = 0; l < 5; l++) for (const n of names) same(g.weights.layers[l][n], b.weights.layers[l][n], `layer ${l} ${n}`);
  // a norm weight is not all zeros: the files were really read
  assert.ok(g.weights.finalNorm.some((v) => v !== 0));
});

test("stories260K: both vocabularies agree (apart from llama2.c's '\\n<s>\\n' spelling of BOS/EOS)", async () => {
  const [g, b] = await stories();
  assert.ok(g.vocab && b.vocab);
  assert.equal(g.vocab.pieces.length, 512);
  assert.deepEqual(g.vocab.pieces.slice(3), b.vocab.pieces.slice(3));
  assert.deepEqual(g.vocab.scores, b.vocab.scores);
  assert.equal(g.vocab.pieces[1], "<s>");
  assert.equal(b.vocab.pieces[1], "\n<s>\n");
  assert.ok(!g.vocab.pieces.some((p) => p.includes("\u2581")));
});

test("load: missing files and tokenizers are clear errors with the path", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dip-formats-"));
  try {
    const missing = join(dir, "nope.gguf");
    await assert.rejects(loadModelFile(missing), (e: unknown) => e instanceof ModelFormatError && e.message === `${missing}: model file not found`);
    // a checkpoint alone in a directory: no tokenizer.bin, no tok512.bin
    const ckpt = join(dir, "model.bin");
    await copyFile(join(storiesDir(), "stories260K.bin"), ckpt);
    await assert.rejects(loadModelFile(ckpt), (e: unknown) => {
      assert.ok(e instanceof ModelFormatError);
      assert.match(e.message, /no tokenizer found for this llama2\.c checkpoint: tried .*tokenizer\.bin and .*tok512\.bin/);
      return true;
    });
    const explicit = join(dir, "custom-tok.bin");
    await assert.rejects(loadModelFile(ckpt, { tokenizer: explicit }), (e: unknown) => e instanceof ModelFormatError && e.message === `${explicit}: tokenizer file not found`);
    // found by the default name
    await copyFile(join(storiesDir(), "tok512.bin"), join(dir, "tokenizer.bin"));
    const m = await loadModelFile(ckpt);
    assert.equal(m.vocab?.pieces.length, 512);
    // neither GGUF magic nor .bin
    const other = join(dir, "model.safetensor");
    await writeFile(other, new Uint8Array(16));
    await assert.rejects(loadModelFile(other), /unrecognized model format/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("sha256File matches a one-shot hash", async () => {
  const path = join(storiesDir(), "tok512.bin");
  const expected = createHash("sha256").update(await readFile(path)).digest("hex");
  assert.equal(await sha256File(path), expected);
  await assert.rejects(sha256File(join(storiesDir(), "missing")), ModelFormatError);
});
