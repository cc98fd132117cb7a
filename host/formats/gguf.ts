// GGUF (versions 1-3) -> LoadedModel, for the llama, qwen2 and phi3 architectures as llama.cpp names them.
// Like ggml's own loader, every count, size and offset is checked against the file before anything
// is allocated: a corrupt header must fail with a message, never with a 2^40-element allocation.
// Spec: https://github.com/ggerganov/ggml/blob/master/docs/gguf.md
import { dequantizeMatrix } from "../quant.js";
import { GGML_TYPE, dequantizeRow, ggmlBlock, ggmlRowBytes, ggmlTypeName } from "./ggml-blocks.js";
import { LAYER_MATRIX_NAMES, lazyMatrix, type LayerMatrixName, type ModelWeights, type QuantizedMatrix, type LayerWeights, type LoadedModel, type ModelConfig, type RopeLayout, type RopeScaling, ModelFormatError, headDim, quote, validateConfig, validateWeights } from "../model.js";
import { BinaryReader, f32Array } from "./binary.js";
import { type GgufValue, metaInt, metaNumber, metaString } from "./gguf-meta.js";
import { type GgufTokenizer, ggufTokenizer } from "./gguf-tokenizer.js";

export const GGUF_MAGIC = "GGUF";
const SUPPORTED_VERSIONS = [1, 2, 3];

/** What an architecture changes in the shared decoder block (llama.cpp's llama-model.cpp tensor lists). */
interface GgufArchitecture {
  /**
   * llama.cpp's converter permutes llama q/k rows into Meta's original layout, so "llama" files
   * rotate adjacent pairs (2i, 2i+1) (rope NORM); qwen2 and phi3 keep Hugging Face's rows and
   * rotate i with i + headDim/2 (rope NEOX).
   */
  ropeLayout: RopeLayout;
  /** q, k and v may come as one attn_qkv tensor, rows [q; k; v] (phi3) */
  fusedQkv: boolean;
  /** ffn_up holds gate then up, rows [gate; up], and there is no ffn_gate (phi3) */
  fusedGateUp: boolean;
}

const ARCHITECTURES: Record<string, GgufArchitecture> = {
  llama: { ropeLayout: "interleaved", fusedQkv: false, fusedGateUp: false },
  qwen2: { ropeLayout: "half", fusedQkv: false, fusedGateUp: false },
  phi3: { ropeLayout: "half", fusedQkv: true, fusedGateUp: true },
};
export const SUPPORTED_ARCHITECTURES = Object.keys(ARCHITECTURES);
/** llama.cpp's per-frequency rope divisors (Llama 3.1 / 3.2 scaling): theta_i / rope_freqs[i] */
const ROPE_FREQS_TENSOR = "rope_freqs.weight";
/** ggml's GGML_MAX_DIMS */
const MAX_DIMS = 4;
const DEFAULT_ALIGNMENT = 32;
const MAX_ARRAY_NESTING = 8;
/** weight tensors every llama layer has (norms, q/k/v/o, gate/up/down) */
const TENSORS_PER_LAYER = 9;

export { GGML_TYPE, ggmlTypeName };

/** Every tensor type this loader reads (and dequantizes to f32): ggml's block layouts. */
const isLoadable = (type: number): boolean => ggmlBlock(type) !== undefined;

export type { GgufValue } from "./gguf-meta.js";

/** GGUF metadata value types (gguf_type). */
const enum ValueType {
  U8 = 0, I8, U16, I16, U32, I32, F32, Bool, String, Array, U64, I64, F64,
}
const VALUE_TYPE_COUNT = 13;


export interface GgufTensorInfo {
  name: string;
  /** ne[0] first, the fastest-varying (input) dimension: an [out x in] matrix has dims [in, out] */
  dims: number[];
  /** ggml_type number */
  type: number;
  /** byte offset from the start of the data section */
  offset: number;
  /** element count (product of dims) */
  elements: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** absolute byte offset of the tensor data section (header end, rounded up to the alignment) */
  dataStart: number;
}

/**
 * Reads and checks the header, metadata and tensor directory. Each tensor of a loadable type is
 * checked to lie inside the file; nothing proportional to a count is allocated before the count
 * has been checked against the bytes that remain.
 */
export function readGgufHeader(bytes: Uint8Array, file: string): GgufHeader {
  const r = new BinaryReader(bytes, file);
  r.need(4, "the magic");
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== GGUF_MAGIC) {
    const hex = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new ModelFormatError(file, `not a GGUF file: magic is ${hex} (${JSON.stringify(magic)}), expected "GGUF"`);
  }
  r.skip(4);
  const version = r.u32("the version");
  if (!SUPPORTED_VERSIONS.includes(version)) {
    const hint = version > 0xffff ? " (a big-endian GGUF? only little-endian files are supported)" : "";
    throw new ModelFormatError(file, `unsupported GGUF version ${version}${hint}; supported: ${SUPPORTED_VERSIONS.join(", ")}`);
  }
  // GGUF v1 wrote string lengths, array lengths, counts and dims as u32; v2 widened them to u64.
  const v1 = version === 1;
  const lenBytes = v1 ? 4 : 8;
  const readLen = (what: string): number => (v1 ? r.u32(what) : r.u64(what));

  const tensorCount = readLen("the tensor count");
  const kvCount = readLen("the metadata count");
  // Smallest possible entries: a key/name length, a type, one value byte / n_dims, type, offset.
  const minKvBytes = lenBytes + 4 + 1;
  const minTensorBytes = lenBytes + 4 + 4 + 8;
  if (kvCount * minKvBytes + tensorCount * minTensorBytes > r.remaining) {
    throw new ModelFormatError(
      file,
      `header claims ${tensorCount} tensors and ${kvCount} metadata entries, which cannot fit: file has only ${r.length} bytes`,
    );
  }

  const minValueBytes = (type: number): number => {
    const sizes = [1, 1, 2, 2, 4, 4, 4, 1, lenBytes, 4 + lenBytes, 8, 8, 8];
    return sizes[type] ?? 1;
  };
  const readString = (what: string): string => r.utf8(readLen(`the length of ${what}`), what);
  const readValue = (type: number, what: string, depth = 0): GgufValue => {
    switch (type) {
      case ValueType.U8: return r.u8(what);
      case ValueType.I8: return r.i8(what);
      case ValueType.U16: return r.u16(what);
      case ValueType.I16: return r.i16(what);
      case ValueType.U32: return r.u32(what);
      case ValueType.I32: return r.i32(what);
      case ValueType.F32: return r.f32(what);
      case ValueType.U64: return r.u64(what);
      case ValueType.I64: return r.i64(what);
      case ValueType.F64: return r.f64(what);
      case ValueType.Bool: {
        const at = r.offset;
        const b = r.u8(what);
        if (b > 1) throw new ModelFormatError(file, `${what} at byte offset ${at}: expected a bool (0 or 1), found ${b}`);
        return b === 1;
      }
      case ValueType.String: return readString(what);
      case ValueType.Array: {
        const at = r.offset;
        const elemType = r.u32(`the element type of ${what}`);
        // The spec allows arrays of arrays; a bound keeps a crafted file from exhausting the stack.
        if (elemType === ValueType.Array && depth >= MAX_ARRAY_NESTING) throw new ModelFormatError(file, `${what} at byte offset ${at}: arrays nested deeper than ${MAX_ARRAY_NESTING}`);
        if (elemType >= VALUE_TYPE_COUNT) throw new ModelFormatError(file, `${what} at byte offset ${at}: unknown array element type ${elemType}`);
        const n = readLen(`the length of ${what}`);
        if (n * minValueBytes(elemType) > r.remaining) {
          throw new ModelFormatError(file, `${what} at byte offset ${at} claims ${n} elements, which cannot fit: file has only ${r.length} bytes`);
        }
        const out: GgufValue[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = readValue(elemType, what, depth + 1);
        return out;
      }
      default:
        throw new ModelFormatError(file, `${what} at byte offset ${r.offset - 4}: unknown metadata value type ${type}`);
    }
  };

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = readString(`metadata key ${i}`);
    const keyShown = shownName(key);
    if (metadata.has(key)) throw new ModelFormatError(file, `duplicate metadata key ${keyShown}`);
    const type = r.u32(`the type of metadata ${keyShown}`);
    metadata.set(key, readValue(type, `metadata ${keyShown}`));
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = readString(`the name of tensor ${i}`);
    const shown = shownName(name);
    if (names.has(name)) throw new ModelFormatError(file, `duplicate tensor ${shown}`);
    names.add(name);
    const nDims = r.u32(`the dimension count of tensor ${shown}`);
    if (nDims < 1 || nDims > MAX_DIMS) throw new ModelFormatError(file, `tensor ${shown} has ${nDims} dimensions, expected 1 to ${MAX_DIMS}`);
    const dims: number[] = [];
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      const ne = readLen(`dimension ${d} of tensor ${shown}`);
      dims.push(ne);
      elements *= ne;
    }
    if (!Number.isSafeInteger(elements)) throw new ModelFormatError(file, `tensor ${shown} has dims [${dims.join(", ")}], too many elements`);
    const type = r.u32(`the type of tensor ${shown}`);
    const offset = r.u64(`the data offset of tensor ${shown}`);
    tensors.push({ name, dims, type, offset, elements });
  }

  const alignmentValue = metadata.get("general.alignment") ?? DEFAULT_ALIGNMENT;
  if (typeof alignmentValue !== "number" || !Number.isInteger(alignmentValue) || alignmentValue <= 0 || (alignmentValue & (alignmentValue - 1)) !== 0) {
    throw new ModelFormatError(file, `general.alignment is ${JSON.stringify(alignmentValue)}, expected a power of two`);
  }
  const alignment = alignmentValue;
  const dataStart = Math.ceil(r.offset / alignment) * alignment;
  if (tensors.length > 0 && dataStart > r.length) {
    throw new ModelFormatError(file, `tensor data should start at byte offset ${dataStart} (header end ${r.offset} aligned to ${alignment}), file has only ${r.length} bytes`);
  }
  for (const t of tensors) {
    if (t.offset % alignment !== 0) throw new ModelFormatError(file, `tensor ${t.name} has data offset ${t.offset}, expected a multiple of the alignment ${alignment}`);
    if (!isLoadable(t.type)) continue; // sized (and rejected) only if the model needs it
    const end = dataStart + t.offset + tensorBytes(t, file);
    if (end > r.length) {
      throw new ModelFormatError(
        file,
        `tensor ${t.name} (${ggmlTypeName(t.type)} [${t.dims.join(", ")}]) at byte offset ${dataStart + t.offset}: expected data up to byte ${end}, file has only ${r.length} bytes`,
      );
    }
  }
  refuseOverlaps(tensors, file);
  return { version, metadata, tensors, alignment, dataStart };
}

/**
 * A key or tensor name for an error message: as it is when it looks like one (short printable
 * ASCII), else a short escaped excerpt, so a misread header cannot print kilobytes of itself.
 */
function shownName(name: string): string {
  return /^[\x21-\x7e]{1,80}$/.test(name) ? name : quote(name);
}

/** Two tensors sharing bytes would be two names for (part of) one weight: ggml never writes that. */
function refuseOverlaps(tensors: GgufTensorInfo[], file: string): void {
  const sized = tensors.filter((t) => isLoadable(t.type) && t.elements > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sized.length; i++) {
    const a = sized[i - 1];
    const b = sized[i];
    const aEnd = a.offset + tensorBytes(a, file);
    if (b.offset < aEnd) {
      throw new ModelFormatError(file, `tensors ${a.name} (data bytes ${a.offset} to ${aEnd}) and ${b.name} (from ${b.offset}) overlap; expected each tensor's data to have its own bytes`);
    }
  }
}

/**
 * The data section must end with the last tensor (padded to the alignment at most): a header
 * whose tensor count is one short ends early, which moves the data start and would read every
 * weight shifted. Called once every tensor is known to be loadable (and so to have a size).
 */
function checkDataSectionEnd(header: GgufHeader, fileBytes: number, file: string): void {
  let end = 0;
  for (const t of header.tensors) end = Math.max(end, t.offset + tensorBytes(t, file));
  const dataBytes = fileBytes - header.dataStart;
  const padded = Math.ceil(end / header.alignment) * header.alignment;
  if (dataBytes < end || dataBytes > padded) {
    throw new ModelFormatError(
      file,
      `the data section (from byte ${header.dataStart}) has ${dataBytes} bytes, but the ${header.tensors.length} tensors the header lists end at ${end} (${padded} padded): ` +
        `expected no bytes beyond the last tensor (a wrong tensor or metadata count?)`,
    );
  }
}

/** Byte size of a tensor of a loadable type (the caller has checked the type): whole blocks per row. */
function tensorBytes(t: GgufTensorInfo, file: string): number {
  const { name, blockElems, blockBytes } = ggmlBlock(t.type)!;
  if (t.dims[0] % blockElems !== 0) {
    throw new ModelFormatError(file, `tensor ${t.name}: ${t.dims[0]} values per row is not a multiple of ${name}'s ${blockElems} (its block size)`);
  }
  return (t.elements / blockElems) * blockBytes;
}

/** One tensor's values as f32 (a view into `bytes` for aligned F32 data), dequantized exactly as ggml does. */
function tensorData(bytes: Uint8Array, header: GgufHeader, t: GgufTensorInfo): Float32Array {
  const at = header.dataStart + t.offset;
  if (t.type === GGML_TYPE.F32) return f32Array(bytes, at, t.elements);
  const out = new Float32Array(t.elements);
  dequantizeRow(t.type, bytes, at, t.elements, out);
  return out;
}

function basename(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}


/** Rope scaling from `{arch}.rope.scaling.*` as llama.cpp reads it (the type defaults to linear; `rope.scale_linear` is the older factor key). */
function ropeScalingOf(meta: Map<string, GgufValue>, arch: string, file: string): RopeScaling | undefined {
  const type = metaString(meta, `${arch}.rope.scaling.type`, file) ?? "linear";
  if (type === "none") return undefined;
  if (type !== "linear") throw new ModelFormatError(file, `${arch}.rope.scaling.type "${type}" is not supported; supported: none, linear`);
  const key = meta.has(`${arch}.rope.scaling.factor`) ? `${arch}.rope.scaling.factor` : `${arch}.rope.scale_linear`;
  const factor = metaNumber(meta, key, file, 0);
  // llama.cpp: a factor of 0 (or none) means no scaling
  if (factor === 0 || factor === 1) return undefined;
  if (!(factor > 0) || !Number.isFinite(factor)) throw new ModelFormatError(file, `${key} is ${factor}, expected > 0`);
  return { type: "linear", factor };
}

/** Types whose values the engine holds in f32 (read exactly); every other type is quantized blocks. */
const UNQUANTIZED_TYPES = new Set<number>([GGML_TYPE.F32, GGML_TYPE.F16, GGML_TYPE.BF16]);

/** Tensor t as stored, when it is a matrix of a quantized type (a view of the file's bytes). */
function keptQuantized(bytes: Uint8Array, header: GgufHeader, t: GgufTensorInfo): QuantizedMatrix | undefined {
  if (t.dims.length !== 2 || UNQUANTIZED_TYPES.has(t.type)) return undefined;
  const at = header.dataStart + t.offset;
  return { ggmlType: t.type, rows: t.dims[1], cols: t.dims[0], bytes: bytes.subarray(at, at + ggmlRowBytes(t.type, t.dims[0]) * t.dims[1]) };
}

const SUPPORTED_TYPE_LIST = Object.entries(GGML_TYPE).map(([name, id]) => `${name} (${id})`).join(", ");

/** Parses a GGUF file of a supported architecture: f32 norms; weight matrices in f32, or kept as the file's quantized blocks (QuantizedMatrix) with lazily dequantized f32 fields. */
export function parseGguf(bytes: Uint8Array, file: string): LoadedModel {
  const header = readGgufHeader(bytes, file);
  const meta = header.metadata;
  const arch = metaString(meta, "general.architecture", file);
  if (arch === undefined) throw new ModelFormatError(file, `missing metadata general.architecture; supported: ${SUPPORTED_ARCHITECTURES.join(", ")}`);
  const archSpec = Object.hasOwn(ARCHITECTURES, arch) ? ARCHITECTURES[arch] : undefined;
  if (!archSpec) throw new ModelFormatError(file, `unsupported architecture ${quote(arch)}; supported: ${SUPPORTED_ARCHITECTURES.join(", ")}`);
  const ropeScaling = ropeScalingOf(meta, arch, file);

  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  // Phi-3.5's LongRoPE: per-frequency factors chosen by context length plus an attention scale
  for (const name of ["rope_factors_long.weight", "rope_factors_short.weight"]) {
    if (byName.has(name)) throw new ModelFormatError(file, `tensor ${name} (LongRoPE scaling) is not supported; supported rope scaling: none, linear, ${ROPE_FREQS_TENSOR} (Llama 3)`);
  }
  const embedding = byName.get("token_embd.weight");
  if (!embedding) throw new ModelFormatError(file, "missing tensor token_embd.weight");
  if (embedding.dims.length !== 2) throw new ModelFormatError(file, `tensor token_embd.weight has dims [${embedding.dims.join(", ")}], expected [dim, vocab]`);

  const nHeads = metaInt(meta, `${arch}.attention.head_count`, file);
  const dimValue = metaInt(meta, `${arch}.embedding_length`, file);
  // llama.cpp's head size: attention.key_length, by default embedding_length / head_count
  const keyLength = meta.has(`${arch}.attention.key_length`) ? metaInt(meta, `${arch}.attention.key_length`, file) : undefined;
  const valueLength = meta.has(`${arch}.attention.value_length`) ? metaInt(meta, `${arch}.attention.value_length`, file) : keyLength;
  if (keyLength !== valueLength) throw new ModelFormatError(file, `${arch}.attention.key_length ${keyLength} differs from value_length ${valueLength}; supported: equal key and value head sizes`);
  let seqLen = metaInt(meta, `${arch}.context_length`, file);
  // A sliding window shorter than the context: attention is exact up to the window, so the
  // context is cut to it (Phi-3-mini-4k's 2047) rather than computing something else past it.
  const window = metaInt(meta, `${arch}.attention.sliding_window`, file, 0);
  if (window < 0) throw new ModelFormatError(file, `${arch}.attention.sliding_window is ${window}, expected >= 0`);
  if (window > 0 && window < seqLen) seqLen = window;
  const config: ModelConfig = {
    architecture: arch,
    dim: dimValue,
    hiddenDim: metaInt(meta, `${arch}.feed_forward_length`, file),
    nLayers: metaInt(meta, `${arch}.block_count`, file),
    nHeads,
    nKvHeads: metaInt(meta, `${arch}.attention.head_count_kv`, file, nHeads),
    ...(keyLength !== undefined && keyLength * nHeads !== dimValue ? { headDim: keyLength } : {}),
    vocabSize: embedding.dims[1],
    seqLen,
    ropeTheta: metaNumber(meta, `${arch}.rope.freq_base`, file, 10000),
    ...(ropeScaling ? { ropeScaling } : {}),
    ropeLayout: archSpec.ropeLayout,
    rmsEps: metaNumber(meta, `${arch}.attention.layer_norm_rms_epsilon`, file, 1e-5),
    tiedEmbeddings: !byName.has("output.weight"),
  };
  validateConfig(config, file);
  // Bound the layer count by what the file holds before anything per layer is built (a near
  // miss falls through to "missing tensor", which names the first one absent).
  const tensorsPerLayer = TENSORS_PER_LAYER - (archSpec.fusedQkv ? 2 : 0) - (archSpec.fusedGateUp ? 1 : 0);
  if (config.nLayers > header.tensors.length) {
    throw new ModelFormatError(file, `${arch}.block_count is ${config.nLayers}, but the file has only ${header.tensors.length} tensors; expected ${tensorsPerLayer} per layer`);
  }
  const hd = headDim(config);
  const ropeDims = metaInt(meta, `${arch}.rope.dimension_count`, file, hd);
  if (ropeDims !== hd) throw new ModelFormatError(file, `${arch}.rope.dimension_count is ${ropeDims}, expected the head dimension ${hd} (partial rotary embeddings are not supported)`);

  // Every tensor the model needs, with its GGUF dims (ne[0] = input), checked before any is loaded.
  const { dim, hiddenDim, vocabSize } = config;
  const qDim = config.nHeads * hd;
  const kvDim = config.nKvHeads * hd;
  const expected = new Map<string, number[]>([
    ["token_embd.weight", [dim, vocabSize]],
    ["output_norm.weight", [dim]],
  ]);
  if (!config.tiedEmbeddings) expected.set("output.weight", [dim, vocabSize]);
  if (byName.has(ROPE_FREQS_TENSOR)) expected.set(ROPE_FREQS_TENSOR, [hd / 2]);
  const optional = new Map<string, number[]>();
  // phi3 files may also carry q, k and v apart (llama.cpp accepts either)
  const fusedQkv = (l: number) => archSpec.fusedQkv && byName.has(`blk.${l}.attn_qkv.weight`);
  for (let l = 0; l < config.nLayers; l++) {
    const p = `blk.${l}.`;
    expected.set(`${p}attn_norm.weight`, [dim]);
    if (fusedQkv(l)) {
      expected.set(`${p}attn_qkv.weight`, [dim, qDim + 2 * kvDim]);
    } else {
      expected.set(`${p}attn_q.weight`, [dim, qDim]);
      expected.set(`${p}attn_k.weight`, [dim, kvDim]);
      expected.set(`${p}attn_v.weight`, [dim, kvDim]);
      optional.set(`${p}attn_q.bias`, [qDim]);
      optional.set(`${p}attn_k.bias`, [kvDim]);
      optional.set(`${p}attn_v.bias`, [kvDim]);
    }
    expected.set(`${p}attn_output.weight`, [qDim, dim]);
    expected.set(`${p}ffn_norm.weight`, [dim]);
    if (archSpec.fusedGateUp) {
      expected.set(`${p}ffn_up.weight`, [dim, 2 * hiddenDim]);
    } else {
      expected.set(`${p}ffn_gate.weight`, [dim, hiddenDim]);
      expected.set(`${p}ffn_up.weight`, [dim, hiddenDim]);
    }
    expected.set(`${p}ffn_down.weight`, [hiddenDim, dim]);
  }
  const check = (name: string, dims: number[]): void => {
    const t = byName.get(name);
    if (!t) throw new ModelFormatError(file, `missing tensor ${name}`);
    if (!isLoadable(t.type)) {
      throw new ModelFormatError(file, `tensor ${name} has type ${t.type} (${ggmlTypeName(t.type)}), which this engine cannot read; supported: ${SUPPORTED_TYPE_LIST}`);
    }
    if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])) {
      throw new ModelFormatError(file, `tensor ${name} has dims [${t.dims.join(", ")}], expected [${dims.join(", ")}] from the config (GGUF lists the input dimension first)`);
    }
  };
  for (const [name, dims] of expected) check(name, dims);
  for (const [name, dims] of optional) if (byName.has(name)) check(name, dims);
  // As llama.cpp: a tensor no layer uses means the file is not what its metadata says (a block
  // count too low, a misnamed tensor); refuse it rather than ignore weights.
  const unused = header.tensors.filter((t) => !expected.has(t.name) && !optional.has(t.name)).map((t) => t.name);
  if (unused.length > 0) {
    const shown = unused.slice(0, 5).join(", ") + (unused.length > 5 ? `, ... (${unused.length} in all)` : "");
    throw new ModelFormatError(file, `tensors that no layer of the ${config.nLayers} in ${arch}.block_count uses: ${shown}`);
  }
  checkDataSectionEnd(header, bytes.length, file);
  const tokenizer = ggufTokenizer(meta, vocabSize, file);

  const load = (name: string): Float32Array => tensorData(bytes, header, byName.get(name)!);
  const loadOptional = (name: string): Float32Array | undefined => (byName.has(name) ? load(name) : undefined);
  // A matrix the file stores in quantized blocks is kept as stored, for the engine's native
  // kernels (--dtype native); its f32 field dequantizes on first read (model.ts lazyMatrix).
  // rows [from, to) of a tensor: phi3's fused tensors hold several matrices one after another
  const setMatrix = (target: object, key: string, name: string, from = 0, to?: number): void => {
    const t = byName.get(name)!;
    const q = keptQuantized(bytes, header, t);
    if (q) {
      const rowBytes = ggmlRowBytes(q.ggmlType, q.cols);
      const end = to ?? q.rows;
      const part: QuantizedMatrix = { ...q, rows: end - from, bytes: q.bytes.subarray(from * rowBytes, end * rowBytes) };
      const owner = target as { quantized?: Record<string, QuantizedMatrix> };
      (owner.quantized ??= {})[key] = part;
      lazyMatrix(target, key, part, dequantizeMatrix);
    } else {
      const values = load(name);
      const cols = t.dims[0];
      Object.assign(target, { [key]: values.subarray(from * cols, to === undefined ? values.length : to * cols) });
    }
  };
  if (byName.has(ROPE_FREQS_TENSOR)) {
    const factors = Array.from(load(ROPE_FREQS_TENSOR));
    if (!factors.every((f) => f > 0 && Number.isFinite(f))) throw new ModelFormatError(file, `tensor ${ROPE_FREQS_TENSOR} holds ${quote(factors.find((f) => !(f > 0 && Number.isFinite(f))))}, expected finite divisors > 0`);
    config.ropeFreqFactors = factors;
  }
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    const p = `blk.${l}.`;
    const layer = { attnNorm: load(`${p}attn_norm.weight`), ffnNorm: load(`${p}ffn_norm.weight`) } as LayerWeights;
    const tensorOf: Record<LayerMatrixName, string> = {
      wq: "attn_q", wk: "attn_k", wv: "attn_v", wo: "attn_output", wGate: "ffn_gate", wUp: "ffn_up", wDown: "ffn_down",
    };
    const separate = LAYER_MATRIX_NAMES.filter((key) => !(fusedQkv(l) && (key === "wq" || key === "wk" || key === "wv")) && !(archSpec.fusedGateUp && (key === "wGate" || key === "wUp")));
    for (const key of separate) setMatrix(layer, key, `${p}${tensorOf[key]}.weight`);
    if (fusedQkv(l)) {
      // rows of the [out x in] matrix: q, then k, then v (llama.cpp's phi3 views of wqkv)
      setMatrix(layer, "wq", `${p}attn_qkv.weight`, 0, qDim);
      setMatrix(layer, "wk", `${p}attn_qkv.weight`, qDim, qDim + kvDim);
      setMatrix(layer, "wv", `${p}attn_qkv.weight`, qDim + kvDim, qDim + 2 * kvDim);
    }
    if (archSpec.fusedGateUp) {
      // llama.cpp's phi3 FFN: gate = first hiddenDim rows of ffn_up, up = the rest (LLM_FFN_SWIGLU on the split)
      setMatrix(layer, "wGate", `${p}ffn_up.weight`, 0, hiddenDim);
      setMatrix(layer, "wUp", `${p}ffn_up.weight`, hiddenDim, 2 * hiddenDim);
    }
    const bq = loadOptional(`${p}attn_q.bias`);
    const bk = loadOptional(`${p}attn_k.bias`);
    const bv = loadOptional(`${p}attn_v.bias`);
    if (bq) layer.bq = bq;
    if (bk) layer.bk = bk;
    if (bv) layer.bv = bv;
    layers.push(layer);
  }
  const model: LoadedModel = {
    name: basename(file),
    source: file,
    format: "gguf",
    config,
    weights: { layers, finalNorm: load("output_norm.weight") } as ModelWeights,
    ...tokenizer,
    // a GGUF with quantized weight matrices runs them as stored unless the user asks otherwise
    ...(header.tensors.some((t) => t.dims.length === 2 && !UNQUANTIZED_TYPES.has(t.type)) ? { storedDtype: "native" as const } : {}),
  };
  setMatrix(model.weights, "tokenEmbedding", "token_embd.weight");
  if (!config.tiedEmbeddings) setMatrix(model.weights, "lmHead", "output.weight");
  validateWeights(model);
  return model;
}

/**
 * Only the tokenizer and chat template of a GGUF, from its header (no weight is read or
 * decoded): what `dip encode` and `dip template` need, whatever the tensor types.
 */
export function parseGgufTokenizer(bytes: Uint8Array, file: string): GgufTokenizer {
  const header = readGgufHeader(bytes, file);
  const embedding = header.tensors.find((t) => t.name === "token_embd.weight");
  if (!embedding) throw new ModelFormatError(file, "missing tensor token_embd.weight");
  if (embedding.dims.length !== 2) throw new ModelFormatError(file, `tensor token_embd.weight has dims [${embedding.dims.join(", ")}], expected [dim, vocab]`);
  return ggufTokenizer(header.metadata, embedding.dims[1], file);
}
