// The .dipstream layout (docs/stream-format.md): a model stored so that every prunable MLP column
// is one contiguous block, for streaming from storage under a DRAM budget (host/stream/weights.ts).
//
//   "DIPSTRM1" | u32 header length | u32 CRC-32 of the header | header JSON | data (64-aligned)
//   data: static tensors (attention, norms, embedding, LM head), the column CRC table (u32 per
//   column), then per layer: input group (D blocks of W_gate column ++ W_up column, 2*I values
//   each), hidden group (I blocks of one W_down column, D values each).
// Version 1 is f32 throughout. Version 2 has a dtype: "q8" stores the static matrices in the
// engine's q8 tiles and each column part as a self-contained q8 stream column (host/quant.ts
// q8ColumnBytes: int8 quants, f16 scale per 32 outputs); "q4_0" stores the static matrices as
// ggml Q4_0 rows (the engine's row-major Q4_0 kernels run them as stored) and each column part as
// Q4_0 blocks along the column (q4ColumnBytes). Norms and biases stay f32.
// Little-endian throughout. This file only plans, encodes and parses: the Node adapter
// (host/node/stream-file.ts) does the file I/O, so the format works in any runtime.

import { headDim, type LayerWeights, type LoadedModel, type ModelConfig, type ModelWeights, ModelFormatError, type Q8TileMatrix, type QuantizedMatrix, quote, validateConfig, type Vocabulary, type HfTokenizerFiles } from "../model.js";
import { crc32 } from "../crc32.js";
import { dequantizeMatrix, dequantizeQ4Column, dequantizeQ8Column, dequantizeQ8Matrix, q4ColumnBytes, q8ColumnBytes, q8TileBytes, quantizeQ4ColumnInto, quantizeQ8ColumnInto, quantizeQ8Into } from "../quant.js";
import { GGML_TYPE, ggmlRowBytes, quantizeRow } from "../formats/ggml-blocks.js";

export const STREAM_MAGIC = "DIPSTRM1";
/** the version written for f32 (unchanged since the first) and for a quantized dtype */
export const STREAM_VERSION = 1;
export const STREAM_VERSION_QUANTIZED = 2;
/** Dtypes of a .dipstream: f32 (version 1), q8 or q4_0 (version 2). */
export type StreamDtype = "f32" | "q8" | "q4_0";
export const STREAM_DTYPES: readonly StreamDtype[] = ["f32", "q8", "q4_0"];
const VERSION_OF: Record<StreamDtype, number> = { f32: STREAM_VERSION, q8: STREAM_VERSION_QUANTIZED, q4_0: STREAM_VERSION_QUANTIZED };
/** The engine --dtype a stream runs in: its static matrices' layout (q4_0: ggml's Q4_0 rows as stored, the native layout). */
export const ENGINE_DTYPE_OF: Record<StreamDtype, "f32" | "q8" | "native"> = { f32: "f32", q8: "q8", q4_0: "native" };

/** How a quantized stream stores a static matrix [rows x cols] and each column part of n values. */
interface Codec {
  matrixBytes(rows: number, cols: number): number;
  encodeMatrix(a: Float32Array, rows: number, cols: number): Uint8Array;
  columnBytes(n: number): number;
  encodeColumn(out: Uint8Array, at: number, a: Float32Array, start: number, stride: number, n: number): void;
  decodeColumn(bytes: Uint8Array, at: number, n: number): Float32Array;
}
const CODECS: Record<"q8" | "q4_0", Codec> = {
  q8: {
    matrixBytes: q8TileBytes,
    encodeMatrix: (a, rows, cols) => {
      const out = new Uint8Array(q8TileBytes(rows, cols));
      quantizeQ8Into(out, a, rows, cols);
      return out;
    },
    columnBytes: q8ColumnBytes,
    encodeColumn: quantizeQ8ColumnInto,
    decodeColumn: dequantizeQ8Column,
  },
  q4_0: {
    matrixBytes: (rows, cols) => rows * ggmlRowBytes(GGML_TYPE.Q4_0, cols),
    encodeMatrix: (a, rows, cols) => {
      const rowBytes = ggmlRowBytes(GGML_TYPE.Q4_0, cols);
      const out = new Uint8Array(rows * rowBytes);
      for (let r = 0; r < rows; r++) quantizeRow(GGML_TYPE.Q4_0, a.subarray(r * cols, (r + 1) * cols), cols, out, r * rowBytes);
      return out;
    },
    columnBytes: q4ColumnBytes,
    encodeColumn: quantizeQ4ColumnInto,
    decodeColumn: dequantizeQ4Column,
  },
};
const ALIGN = 64;
/** magic + header length + header CRC */
export const STREAM_PREFIX_BYTES = 16;

export interface StreamTensor {
  name: string;
  offset: number;
  bytes: number;
  crc32: number;
  /** the stream's dtype for its matrices (version 2: "q8" tiles or "q4_0" rows); absent: f32 */
  dtype?: "q8" | "q4_0";
}

export interface StreamGroupInfo {
  name: string;
  parts: string[];
  /** columns (mask entries) per layer */
  entries: number;
  /** bytes of one column block (all parts) */
  entry_bytes: number;
}

export interface StreamHeader {
  format: "dipstream";
  version: number;
  name: string;
  dtype: StreamDtype;
  config: ModelConfig;
  vocab?: { pieces: string[]; scores: number[]; bosId: number; eosId: number };
  /** written by older versions as a path to a tokenizer.json; read, never opened */
  tokenizer_json?: string;
  /** a Hugging Face tokenizer carried in the file: tokenizer.json and the settings files beside it */
  hf_tokenizer?: HfTokenizerFiles;
  tensors: StreamTensor[];
  groups: StreamGroupInfo[];
  /** offset of column 0 of (layer, group), layer-major */
  column_offsets: number[];
  /** u32 CRC-32 per column, (layer, group, column) order */
  crc_table: { offset: number; bytes: number; crc32: number };
  file_bytes: number;
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** Static matrices a quantized stream stores in q8 tiles, with their shape [rows, cols]; other static tensors stay f32. */
function staticMatrixShape(name: string, c: ModelConfig): [number, number] | undefined {
  const hd = headDim(c);
  const leaf = name.replace(/^layers\.\d+\./, "");
  const shapes: Record<string, [number, number]> = {
    wq: [c.nHeads * hd, c.dim],
    wk: [c.nKvHeads * hd, c.dim],
    wv: [c.nKvHeads * hd, c.dim],
    wo: [c.dim, c.nHeads * hd],
    token_embedding: [c.vocabSize, c.dim],
    lm_head: [c.vocabSize, c.dim],
  };
  return shapes[leaf];
}

/** Bytes of a static tensor in the file: f32 values, or a quantized stream's encoding of its matrices. */
function tensorBytes(t: { name: string; data: Float32Array }, c: ModelConfig, dtype: StreamDtype): number {
  const shape = dtype !== "f32" ? staticMatrixShape(t.name, c) : undefined;
  return shape && dtype !== "f32" ? CODECS[dtype].matrixBytes(shape[0], shape[1]) : t.data.byteLength;
}

/** A static tensor's bytes as the file stores them. */
function encodeTensor(t: { name: string; data: Float32Array }, c: ModelConfig, dtype: StreamDtype): Uint8Array {
  const shape = dtype !== "f32" ? staticMatrixShape(t.name, c) : undefined;
  return shape && dtype !== "f32" ? CODECS[dtype].encodeMatrix(t.data, shape[0], shape[1]) : bytesOf(t.data);
}

function staticTensors(m: LoadedModel): { name: string; data: Float32Array }[] {
  const w = m.weights;
  const out: { name: string; data: Float32Array }[] = [];
  w.layers.forEach((l, i) => {
    const p = `layers.${i}.`;
    out.push({ name: p + "attn_norm", data: l.attnNorm }, { name: p + "wq", data: l.wq }, { name: p + "wk", data: l.wk }, { name: p + "wv", data: l.wv }, { name: p + "wo", data: l.wo });
    if (l.bq) out.push({ name: p + "bq", data: l.bq });
    if (l.bk) out.push({ name: p + "bk", data: l.bk });
    if (l.bv) out.push({ name: p + "bv", data: l.bv });
    out.push({ name: p + "ffn_norm", data: l.ffnNorm });
  });
  out.push({ name: "token_embedding", data: w.tokenEmbedding }, { name: "final_norm", data: w.finalNorm });
  if (!m.config.tiedEmbeddings) out.push({ name: "lm_head", data: w.lmHead! });
  return out;
}

/** Bytes of one column part of n values in `dtype`. */
export function columnPartBytes(n: number, dtype: StreamDtype): number {
  return dtype === "f32" ? 4 * n : CODECS[dtype].columnBytes(n);
}

export function streamGroups(c: ModelConfig, dtype: StreamDtype = "f32"): StreamGroupInfo[] {
  return [
    { name: "input", parts: ["w_gate", "w_up"], entries: c.dim, entry_bytes: 2 * columnPartBytes(c.hiddenDim, dtype) },
    { name: "hidden", parts: ["w_down"], entries: c.hiddenDim, entry_bytes: columnPartBytes(c.dim, dtype) },
  ];
}

/** Bytes of one row of the embedding / LM head as the stream reads it: f32, a Q4_0 row, or an eighth of a q8 tile row group (rows are read 8 at a time). */
export function streamRowBytes(c: ModelConfig, dtype: StreamDtype): number {
  return dtype === "f32" ? 4 * c.dim : CODECS[dtype].matrixBytes(8, c.dim) / 8;
}

/** Column blocks of one layer and group as the file stores them (layerColumnBlocks in `dtype`). */
export function layerColumnBytes(m: LoadedModel, layer: number, group: number, dtype: StreamDtype): Uint8Array {
  const f32 = layerColumnBlocks(m, layer, group);
  if (dtype === "f32") return bytesOf(f32);
  const c = m.config;
  const n = group === 0 ? c.hiddenDim : c.dim; // values per part
  const parts = f32.length / n;
  const codec = CODECS[dtype];
  const pb = codec.columnBytes(n);
  const out = new Uint8Array(parts * pb);
  for (let p = 0; p < parts; p++) codec.encodeColumn(out, p * pb, f32, p * n, 1, n);
  return out;
}

/** The f32 values of column blocks as stored (f32 as is; quantized parts dequantized): layerColumnBlocks' layout. */
export function decodeColumnBlocks(bytes: Uint8Array, n: number, dtype: StreamDtype): Float32Array {
  if (dtype === "f32") return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const codec = CODECS[dtype];
  const pb = codec.columnBytes(n);
  const parts = bytes.length / pb;
  const out = new Float32Array(parts * n);
  for (let p = 0; p < parts; p++) out.set(codec.decodeColumn(bytes, p * pb, n), p * n);
  return out;
}

/** Column blocks of one layer and group: group 0 column j = W_gate[:, j] ++ W_up[:, j]; group 1 column j = W_down[:, j]. */
export function layerColumnBlocks(m: LoadedModel, layer: number, group: number): Float32Array {
  const c = m.config;
  const l = m.weights.layers[layer];
  const D = c.dim;
  const I = c.hiddenDim;
  if (group === 0) {
    const wGate = l.wGate; // one read each: synthetic models regenerate a tensor on every access
    const wUp = l.wUp;
    const out = new Float32Array(D * 2 * I);
    for (let r = 0; r < I; r++) {
      for (let j = 0; j < D; j++) {
        out[j * 2 * I + r] = wGate[r * D + j];
        out[j * 2 * I + I + r] = wUp[r * D + j];
      }
    }
    return out;
  }
  const wDown = l.wDown;
  const out = new Float32Array(I * D);
  for (let r = 0; r < D; r++) for (let j = 0; j < I; j++) out[j * D + r] = wDown[r * I + j];
  return out;
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export interface StreamPlan {
  header: StreamHeader;
  /** prefix + header JSON, padded to the first data offset */
  head: Uint8Array;
  /** the data pieces in file order with their offsets (call in order; each made on demand) */
  pieces: { offset: number; bytes: () => Uint8Array }[];
}

/** Plans a .dipstream file of a model in `dtype` (f32: version 1; q8: version 2): every piece, its offset and every checksum. */
export function planStream(m: LoadedModel, crc: (bytes: Uint8Array) => number = crc32, dtype: StreamDtype = "f32"): StreamPlan {
  const c = m.config;
  // refused here too, so that no file is written that parseStreamHeader would refuse
  if (dtype === "q8" && c.vocabSize % 8 !== 0) throw new ModelFormatError(m.source, `vocabulary of ${c.vocabSize} tokens: a q8 stream needs a multiple of 8 (its embedding rows are read 8 at a time); convert with --dtype f32 or q4_0`);
  const tensors = staticTensors(m);
  const groups = streamGroups(c, dtype);
  // the header's size depends on the offsets it lists: reserve room, then fill in
  const layerBlocks = (l: number, g: number) => layerColumnBytes(m, l, g, dtype);
  const crcs = new Uint32Array(c.nLayers * (c.dim + c.hiddenDim));
  let k = 0;
  for (let l = 0; l < c.nLayers; l++) {
    for (let g = 0; g < 2; g++) {
      const b = layerBlocks(l, g);
      const eb = groups[g].entry_bytes;
      for (let j = 0; j < groups[g].entries; j++) crcs[k++] = crc(b.subarray(j * eb, (j + 1) * eb));
    }
  }
  const crcBytes = new Uint8Array(crcs.buffer);
  const tensorCrcs = tensors.map((t) => crc(encodeTensor(t, c, dtype)));
  const build = (dataStart: number) => {
    let at = dataStart;
    const tensorInfo: StreamTensor[] = tensors.map((t, i) => {
      const bytes = tensorBytes(t, c, dtype);
      const quantized = dtype !== "f32" && staticMatrixShape(t.name, c) !== undefined;
      const info: StreamTensor = { name: t.name, offset: at, bytes, crc32: tensorCrcs[i], ...(quantized ? { dtype } : {}) };
      at = align(at + bytes);
      return info;
    });
    const crcTable = { offset: at, bytes: crcBytes.byteLength, crc32: crc(crcBytes) };
    at = align(at + crcBytes.byteLength);
    const columnOffsets: number[] = [];
    for (let l = 0; l < c.nLayers; l++) {
      for (let g = 0; g < 2; g++) {
        columnOffsets.push(at);
        at += groups[g].entries * groups[g].entry_bytes;
      }
    }
    const v: Vocabulary | undefined = m.vocab;
    const header: StreamHeader = {
      format: "dipstream",
      version: VERSION_OF[dtype],
      name: m.name,
      dtype,
      config: c,
      ...(v ? { vocab: { pieces: v.pieces, scores: Array.from(v.scores), bosId: v.bosId, eosId: v.eosId } } : {}),
      ...(m.hfTokenizer ? { hf_tokenizer: m.hfTokenizer } : {}),
      tensors: tensorInfo,
      groups,
      column_offsets: columnOffsets,
      crc_table: crcTable,
      file_bytes: at,
    };
    return header;
  };
  let dataStart = ALIGN;
  let json: Uint8Array;
  let header: StreamHeader;
  for (;;) {
    header = build(dataStart);
    json = new TextEncoder().encode(JSON.stringify(header));
    const need = align(STREAM_PREFIX_BYTES + json.length);
    if (need <= dataStart) break;
    dataStart = need;
  }
  const head = new Uint8Array(dataStart).fill(0x20); // JSON padded with spaces
  head.set(new TextEncoder().encode(STREAM_MAGIC), 0);
  const dv = new DataView(head.buffer);
  dv.setUint32(8, json.length, true);
  dv.setUint32(12, crc32(json), true);
  head.set(json, STREAM_PREFIX_BYTES);
  const pieces: StreamPlan["pieces"] = tensors.map((t, i) => ({ offset: header.tensors[i].offset, bytes: () => encodeTensor(t, c, dtype) }));
  pieces.push({ offset: header.crc_table.offset, bytes: () => crcBytes });
  for (let l = 0; l < c.nLayers; l++) {
    for (let g = 0; g < 2; g++) pieces.push({ offset: header.column_offsets[l * 2 + g], bytes: () => layerBlocks(l, g) });
  }
  return { header, head, pieces };
}

/** True when the bytes start with the .dipstream magic. */
export function isStreamFile(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && new TextDecoder().decode(bytes.subarray(0, 8)) === STREAM_MAGIC;
}

/** Header length from the 16-byte prefix (checks the magic). */
export function streamHeaderLength(prefix: Uint8Array, file: string): number {
  if (!isStreamFile(prefix) || prefix.length < STREAM_PREFIX_BYTES) throw new ModelFormatError(file, `not a .dipstream file (magic "${STREAM_MAGIC}" missing)`);
  return new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getUint32(8, true);
}

/** Parses and checks the header: its CRC, version and that every section lies inside fileBytes. */
export function parseStreamHeader(prefixAndJson: Uint8Array, fileBytes: number, file: string): StreamHeader {
  const len = streamHeaderLength(prefixAndJson, file);
  const json = prefixAndJson.subarray(STREAM_PREFIX_BYTES, STREAM_PREFIX_BYTES + len);
  if (json.length !== len) throw new ModelFormatError(file, "truncated header");
  const stored = new DataView(prefixAndJson.buffer, prefixAndJson.byteOffset).getUint32(12, true);
  const actual = crc32(json);
  if (stored !== actual) throw new ModelFormatError(file, `header checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)}): the file is corrupt`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (e) {
    throw new ModelFormatError(file, `header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  const h = checkHeaderShape(parsed, file);
  if (h.format !== "dipstream" || (h.version !== STREAM_VERSION && h.version !== STREAM_VERSION_QUANTIZED)) {
    throw new ModelFormatError(file, `unsupported .dipstream version ${quote(h.version)} (this build reads ${STREAM_VERSION} and ${STREAM_VERSION_QUANTIZED})`);
  }
  if (!STREAM_DTYPES.includes(h.dtype) || VERSION_OF[h.dtype] !== h.version) {
    throw new ModelFormatError(file, `header field dtype is ${quote(h.dtype)}, expected ${STREAM_DTYPES.filter((d) => VERSION_OF[d] === h.version).map((d) => `"${d}"`).join(" or ")} for version ${h.version}`);
  }
  if (fileBytes !== h.file_bytes) {
    throw new ModelFormatError(file, `file is ${fileBytes} bytes, the header says ${h.file_bytes}: ${fileBytes < h.file_bytes ? "truncated" : "trailing data"}`);
  }
  const c = h.config;
  const expect = streamGroups(c, h.dtype);
  h.groups.forEach((g, i) => {
    if (g.entries !== expect[i].entries || g.entry_bytes !== expect[i].entry_bytes) {
      throw new ModelFormatError(file, `group ${g.name} has ${g.entries} columns of ${g.entry_bytes} bytes, expected ${expect[i].entries} of ${expect[i].entry_bytes} for the config in ${h.dtype}`);
    }
  });
  // every static tensor's size follows from the config (a matrix in q8 tiles when the dtype says so)
  h.tensors.forEach((t) => {
    const shape = staticMatrixShape(t.name, c);
    const want = h.dtype !== "f32" && shape !== undefined ? h.dtype : "f32";
    if ((t.dtype ?? "f32") !== want) throw new ModelFormatError(file, `tensor ${t.name} is stored as ${t.dtype ?? "f32"}, expected ${want} in a ${h.dtype} stream`);
    if (want !== "f32" && shape !== undefined) {
      if (want === "q4_0" && shape[1] % 32 !== 0) throw new ModelFormatError(file, `tensor ${t.name} has rows of ${shape[1]} values: q4_0 needs a multiple of 32`);
      const bytes = CODECS[want].matrixBytes(shape[0], shape[1]);
      if (t.bytes !== bytes) throw new ModelFormatError(file, `tensor ${t.name} has ${t.bytes} bytes, expected ${bytes} (${want} of ${shape[0]} x ${shape[1]})`);
    }
  });
  if (h.dtype === "q8" && c.vocabSize % 8 !== 0) throw new ModelFormatError(file, `vocabulary of ${c.vocabSize} tokens: a q8 stream needs a multiple of 8 (its embedding rows are read 8 at a time)`);
  const inside = (off: number, n: number, what: string) => {
    if (!(off >= 0 && off + n <= fileBytes)) throw new ModelFormatError(file, `${what} (${off}+${n}) lies outside the file`);
  };
  h.tensors.forEach((t) => inside(t.offset, t.bytes, `tensor ${t.name}`));
  inside(h.crc_table.offset, h.crc_table.bytes, "CRC table");
  if (h.crc_table.bytes !== 4 * c.nLayers * (c.dim + c.hiddenDim)) throw new ModelFormatError(file, "CRC table size does not match the config");
  h.column_offsets.forEach((o, i) => inside(o, h.groups[i % 2].entries * h.groups[i % 2].entry_bytes, `columns of layer ${i >> 1} group ${i % 2}`));
  return h;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * The header's fields have the types the reader relies on, and its config is valid like any model
 * config: a header with a valid CRC is still only as trustworthy as whatever wrote it.
 */
function checkHeaderShape(parsed: unknown, file: string): StreamHeader {
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new ModelFormatError(file, `header field ${field} is ${quote(got)}, expected ${expected}`);
  };
  if (!isObject(parsed)) return fail("(root)", "a JSON object", parsed);
  const h = parsed;
  if (typeof h.name !== "string") fail("name", "a string", h.name);
  if (!isObject(h.config)) return fail("config", "a model config object", h.config);
  const c = h.config;
  for (const k of ["dim", "hiddenDim", "nLayers", "nHeads", "nKvHeads", "vocabSize", "seqLen"]) if (!isCount(c[k])) fail(`config.${k}`, "a positive integer", c[k]);
  if (c.headDim !== undefined && !isCount(c.headDim)) fail("config.headDim", "a positive integer", c.headDim);
  for (const k of ["ropeTheta", "rmsEps"]) if (typeof c[k] !== "number" || !Number.isFinite(c[k])) fail(`config.${k}`, "a finite number", c[k]);
  if (c.ropeLayout !== "interleaved" && c.ropeLayout !== "half") fail("config.ropeLayout", `"interleaved" or "half"`, c.ropeLayout);
  if (typeof c.tiedEmbeddings !== "boolean") fail("config.tiedEmbeddings", "true or false", c.tiedEmbeddings);
  if (typeof c.architecture !== "string") fail("config.architecture", "a string", c.architecture);
  if (c.ropeFreqDtype !== undefined && c.ropeFreqDtype !== "f16" && c.ropeFreqDtype !== "bf16") fail("config.ropeFreqDtype", `"f16" or "bf16"`, c.ropeFreqDtype);
  if (c.ropeScaling !== undefined) checkRopeScaling(c.ropeScaling, fail);
  const config = c as unknown as ModelConfig;
  validateConfig(config, file);
  if (!Array.isArray(h.tensors)) return fail("tensors", "a list", h.tensors);
  h.tensors.forEach((t: unknown, i) => {
    const f32 = isObject(t) && t.dtype === undefined;
    if (!isObject(t) || typeof t.name !== "string" || !isCount(t.offset) || !isCount(t.bytes) || (f32 && t.bytes % 4 !== 0) || !isCount(t.crc32) || (t.dtype !== undefined && t.dtype !== "q8" && t.dtype !== "q4_0")) {
      fail(`tensors[${i}]`, `{name, offset, bytes (a multiple of 4 for f32), crc32, dtype ("q8", "q4_0" or absent: f32)}`, t);
    }
  });
  if (!Array.isArray(h.groups) || h.groups.length !== 2 || !h.groups.every((g) => isObject(g) && isCount(g.entries) && isCount(g.entry_bytes))) {
    fail("groups", "a list of 2 groups {name, parts, entries, entry_bytes}", h.groups);
  }
  if (!Array.isArray(h.column_offsets) || h.column_offsets.length !== 2 * config.nLayers || !h.column_offsets.every(isCount)) {
    fail("column_offsets", `${2 * config.nLayers} byte offsets (2 per layer)`, h.column_offsets);
  }
  if (!isObject(h.crc_table) || !isCount(h.crc_table.offset) || !isCount(h.crc_table.bytes) || !isCount(h.crc_table.crc32)) fail("crc_table", "{offset, bytes, crc32}", h.crc_table);
  if (!isCount(h.file_bytes)) fail("file_bytes", "a byte count", h.file_bytes);
  if (h.vocab !== undefined) checkVocab(h.vocab, config.vocabSize, fail);
  // A tokenizer comes only from inside the file; an older writer stored a path here, which is
  // never opened (a file must not make the reader open another file on disk).
  if (h.tokenizer_json !== undefined && typeof h.tokenizer_json !== "string") fail("tokenizer_json", "a string", h.tokenizer_json);
  // its contents are checked by HfTokenizer.fromFiles when the tokenizer is built
  if (h.hf_tokenizer !== undefined && !(isObject(h.hf_tokenizer) && isObject(h.hf_tokenizer.tokenizer))) fail("hf_tokenizer", "{tokenizer: a tokenizer.json object, ...}", h.hf_tokenizer);
  return h as unknown as StreamHeader;
}

function checkRopeScaling(r: unknown, fail: (field: string, expected: string, got: unknown) => never): void {
  const positive = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v > 0;
  if (!isObject(r) || (r.type !== "linear" && r.type !== "llama3") || !positive(r.factor)) fail("config.ropeScaling", "{type: linear or llama3, factor > 0}", r);
  const s = r as Record<string, unknown>;
  if (s.type === "llama3" && !(positive(s.lowFreqFactor) && positive(s.highFreqFactor) && positive(s.originalMaxPositions) && (s.highFreqFactor as number) > (s.lowFreqFactor as number))) {
    fail("config.ropeScaling", "llama3 factors > 0 with highFreqFactor > lowFreqFactor", r);
  }
}

function checkVocab(v: unknown, vocabSize: number, fail: (field: string, expected: string, got: unknown) => never): void {
  if (!isObject(v)) return fail("vocab", "an object", v);
  if (!Array.isArray(v.pieces) || v.pieces.length !== vocabSize || !v.pieces.every((p) => typeof p === "string")) fail("vocab.pieces", `${vocabSize} strings (config.vocabSize)`, v.pieces);
  if (!Array.isArray(v.scores) || v.scores.length !== vocabSize || !v.scores.every((x) => typeof x === "number" && Number.isFinite(x))) fail("vocab.scores", `${vocabSize} finite numbers`, v.scores);
  for (const k of ["bosId", "eosId"]) {
    const id = v[k];
    if (!isCount(id) || id >= vocabSize) fail(`vocab.${k}`, `a token id below ${vocabSize}`, id);
  }
}

/**
 * Builds the static part of a LoadedModel from checked tensors (`tensor` gives a tensor's bytes as
 * stored); MLP weights are empty (streamed). A q8 stream's matrices are kept as q8 tiles, a q4_0
 * stream's as ggml Q4_0 rows (`quantized`, as a GGUF's): the engine lays both out as stored; their
 * f32 fields dequantize on first read.
 */
export function streamModel(h: StreamHeader, tensor: (name: string) => Uint8Array, source: string): LoadedModel {
  const c = h.config;
  const has = new Set(h.tensors.map((t) => t.name));
  const f32 = (n: string) => {
    const b = tensor(n);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const opt = (n: string) => (has.has(n) ? f32(n) : undefined);
  const empty = new Float32Array(0);
  const dtype = h.dtype;
  /** a matrix's f32 field: the values, or for a quantized stream a lazy dequantization (only f32 consumers read it) */
  const matrix = (target: object, key: string, n: string, tiles: Record<string, Q8TileMatrix>, quantized: Record<string, QuantizedMatrix>) => {
    if (dtype === "f32") return Object.assign(target, { [key]: f32(n) });
    const [rows, cols] = staticMatrixShape(n, c)!;
    const bytes = tensor(n);
    let dequantize: () => Float32Array;
    if (dtype === "q8") {
      tiles[key] = { rows, cols, bytes };
      dequantize = () => dequantizeQ8Matrix(bytes, rows, cols);
    } else {
      const q = (quantized[key] = { ggmlType: GGML_TYPE.Q4_0, rows, cols, bytes });
      dequantize = () => dequantizeMatrix(q);
    }
    let values: Float32Array | undefined;
    Object.defineProperty(target, key, { enumerable: true, configurable: true, get: () => (values ??= dequantize()), set: (v: Float32Array) => (values = v) });
  };
  const layers = Array.from({ length: c.nLayers }, (_, i) => {
    const p = `layers.${i}.`;
    const layer = { attnNorm: f32(p + "attn_norm"), bq: opt(p + "bq"), bk: opt(p + "bk"), bv: opt(p + "bv"), ffnNorm: f32(p + "ffn_norm"), wGate: empty, wUp: empty, wDown: empty } as LayerWeights;
    const tiles: Record<string, Q8TileMatrix> = {};
    const quantized: Record<string, QuantizedMatrix> = {};
    for (const k of ["wq", "wk", "wv", "wo"]) matrix(layer, k, p + k, tiles, quantized);
    if (dtype === "q8") layer.q8Tiles = tiles;
    if (dtype === "q4_0") layer.quantized = quantized;
    return layer;
  });
  const v = h.vocab;
  const weights = { layers, finalNorm: f32("final_norm") } as unknown as ModelWeights;
  const tableTiles: Record<string, Q8TileMatrix> = {};
  const tableQuantized: Record<string, QuantizedMatrix> = {};
  matrix(weights, "tokenEmbedding", "token_embedding", tableTiles, tableQuantized);
  if (!c.tiedEmbeddings) matrix(weights, "lmHead", "lm_head", tableTiles, tableQuantized);
  if (dtype === "q8") weights.q8Tiles = tableTiles;
  if (dtype === "q4_0") weights.quantized = tableQuantized;
  return {
    name: h.name,
    source,
    format: "dipstream",
    config: c,
    // resident (loaded fully): the tiles as stored and the MLP's dequantized columns in f32, the
    // values and products a q8 stream computes (host/node/stream-file.ts loadStreamFileFully)
    ...(dtype !== "f32" ? { storedDtype: "native" as const } : {}),
    weights,
    ...(v ? { vocab: { pieces: v.pieces, scores: Float32Array.from(v.scores), bosId: v.bosId, eosId: v.eosId } } : {}),
    ...(h.hf_tokenizer ? { hfTokenizer: h.hf_tokenizer } : {}),
  };
}

/** Bytes of all MLP column blocks of the file (every layer, both groups), in its dtype. */
export function streamMlpBytes(h: StreamHeader): number {
  return h.config.nLayers * h.groups.reduce((s, g) => s + g.entries * g.entry_bytes, 0);
}

/** Bytes of every tensor the engine keeps resident when streaming (the file's static part). */
export function streamStaticBytes(h: StreamHeader): number {
  return h.tensors.reduce((s, t) => s + t.bytes, 0);
}

export { headDim };
