// safetensors: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name
// to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the byte after the header),
// then the raw little-endian data.
// Like the GGUF reader, the whole header is checked against the file size before any tensor is
// read or allocated: a header claiming terabytes fails with a message, not an allocation.
// Spec: https://github.com/huggingface/safetensors (README, "Format")
import { ModelFormatError } from "../model.js";
import { GGML_TYPE, dequantizeRow } from "./ggml-blocks.js";
import { f32Array } from "./binary.js";

/** The reference implementation refuses headers over 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of every dtype the format defines (only F32, F16 and BF16 can be loaded). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};
export const LOADABLE_DTYPES = ["F32", "F16", "BF16"];

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  /** PyTorch order: an nn.Linear weight is [out, in] */
  shape: number[];
  elements: number;
  /** absolute byte offset of the data in the file */
  offset: number;
  byteLength: number;
  /** the file it lives in (a shard of a sharded model) */
  file: string;
}

export interface SafetensorsHeader {
  /** absolute byte offset of the data section (8 + header length) */
  dataStart: number;
  tensors: Map<string, SafetensorsTensor>;
  /** the optional __metadata__ string map */
  metadata: Record<string, string>;
}

/** The header length from the first 8 bytes, checked against the file size. */
export function safetensorsHeaderLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || first8.length < 8) throw new ModelFormatError(file, `not a safetensors file: ${fileSize} bytes, expected at least the 8-byte header length`);
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (n > fileSize - 8) throw new ModelFormatError(file, `header length is ${n} bytes, but the file has only ${fileSize} bytes (truncated, or not a safetensors file)`);
  if (n > MAX_HEADER_BYTES) throw new ModelFormatError(file, `header length is ${n} bytes, more than the ${MAX_HEADER_BYTES} bytes the format allows`);
  if (n < 2) throw new ModelFormatError(file, `header length is ${n} bytes, too short for a JSON object`);
  return n;
}

/**
 * Parses and checks the JSON header: every entry's dtype is known, its shape is a list of
 * non-negative integers whose product does not overflow, its data_offsets lie in order inside the
 * file's data section, span exactly elements x dtype size bytes, and overlap no other tensor.
 */
export function parseSafetensorsHeader(json: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const dataStart = 8 + json.length;
  const dataBytes = fileSize - dataStart;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (e) {
    throw new ModelFormatError(file, `header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new ModelFormatError(file, "header is not a JSON object");
  const tensors = new Map<string, SafetensorsTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new ModelFormatError(file, "__metadata__ is not a JSON object");
      metadata = entry as Record<string, string>;
      continue;
    }
    tensors.set(name, tensorEntry(name, entry, dataStart, dataBytes, file));
  }
  // The format requires the tensors to tile the data section: sorted by offset, each starts where
  // the previous ends, the first at 0 and the last at the end of the file. A gap or an overlap
  // means a wrong header length or offsets (a header one byte short reads every tensor shifted).
  const sorted = [...tensors.values()].sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  const span = (t: SafetensorsTensor) => `data_offsets [${t.offset - dataStart}, ${t.offset - dataStart + t.byteLength}]`;
  let covered = 0;
  let previous: SafetensorsTensor | undefined;
  for (const t of sorted) {
    const begin = t.offset - dataStart;
    if (begin < covered) throw new ModelFormatError(file, `tensors ${previous!.name} (${span(previous!)}) and ${t.name} (${span(t)}) overlap`);
    if (begin > covered) {
      throw new ModelFormatError(file, `tensor ${t.name} (${span(t)}) leaves a gap of ${begin - covered} bytes after ${previous ? `tensor ${previous.name}` : "the start of the data section"}; expected the tensors to tile the data section`);
    }
    covered = begin + t.byteLength;
    previous = t;
  }
  if (covered !== dataBytes) {
    throw new ModelFormatError(file, `the tensors cover ${covered} bytes of the ${dataBytes}-byte data section (from byte ${dataStart}); expected exactly all of it (a wrong header length?)`);
  }
  return { dataStart, tensors, metadata };
}

function tensorEntry(name: string, entry: unknown, dataStart: number, dataBytes: number, file: string): SafetensorsTensor {
  const where = `tensor ${name}`;
  if (typeof entry !== "object" || entry === null) throw new ModelFormatError(file, `${where}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== "string") throw new ModelFormatError(file, `${where}: dtype is ${JSON.stringify(dtype)}, expected a string`);
  const size = DTYPE_BYTES[dtype];
  if (size === undefined) throw new ModelFormatError(file, `${where}: unknown dtype ${dtype}; the format defines ${Object.keys(DTYPE_BYTES).join(", ")}`);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new ModelFormatError(file, `${where}: shape is ${JSON.stringify(shape)}, expected a list of non-negative integers`);
  }
  let elements = 1;
  for (const d of shape as number[]) elements *= d;
  const byteLength = elements * size;
  if (!Number.isSafeInteger(byteLength)) throw new ModelFormatError(file, `${where}: shape [${shape.join(", ")}] of ${dtype} is too large (${byteLength} bytes)`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || o < 0)) {
    throw new ModelFormatError(file, `${where}: data_offsets is ${JSON.stringify(offsets)}, expected [begin, end] as non-negative integers`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end) throw new ModelFormatError(file, `${where}: data_offsets [${begin}, ${end}] are out of order (begin after end)`);
  if (end > dataBytes) {
    throw new ModelFormatError(file, `${where}: data_offsets [${begin}, ${end}] run past the end of the file (its data section has ${dataBytes} bytes, starting at byte ${dataStart})`);
  }
  if (end - begin !== byteLength) {
    throw new ModelFormatError(file, `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${dtype} [${shape.join(", ")}] needs ${byteLength}`);
  }
  return { name, dtype, shape: shape as number[], elements, offset: dataStart + begin, byteLength, file };
}

/** Header of a safetensors file held in memory. */
export function readSafetensorsHeader(bytes: Uint8Array, file: string): SafetensorsHeader {
  const n = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.length, file);
  return parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length, file);
}

/** A tensor's raw bytes (exactly t.byteLength of them) -> f32. F32 may come back as a view of `raw`. */
export function tensorToF32(raw: Uint8Array, t: SafetensorsTensor): Float32Array {
  if (raw.length !== t.byteLength) throw new Error(`tensor ${t.name}: got ${raw.length} bytes, expected ${t.byteLength}`);
  switch (t.dtype) {
    case "F32": return f32Array(raw, 0, t.elements);
    case "F16": return widen(GGML_TYPE.F16, raw, t.elements);
    case "BF16": return widen(GGML_TYPE.BF16, raw, t.elements);
    default:
      throw new ModelFormatError(t.file, `tensor ${t.name} has dtype ${t.dtype}; supported: ${LOADABLE_DTYPES.join(", ")}`);
  }
}

/** F16 or BF16 bytes -> f32, as GGUF's tensors of the same types. */
function widen(type: number, raw: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  dequantizeRow(type, raw, 0, n, out);
  return out;
}
