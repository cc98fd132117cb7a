// A small safetensors writer (the reader is safetensors.ts): an 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets}} plus an optional __metadata__
// string map, then the tensors' raw little-endian bytes back to back. The header is padded with
// spaces to a multiple of 8 bytes so every tensor starts 8-byte aligned, as the reference
// implementation does. Spec: https://github.com/huggingface/safetensors (README, "Format").

export interface SafetensorsEntry {
  name: string;
  /** PyTorch order, e.g. [out, in] for an nn.Linear weight */
  shape: number[];
  data: Float32Array;
}

/** Encodes f32 tensors (in the given order) and string metadata as one safetensors file. */
export function encodeSafetensors(tensors: SafetensorsEntry[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (t.name === "__metadata__" || names.has(t.name)) throw new Error(`safetensors: duplicate or reserved tensor name ${t.name}`);
    names.add(t.name);
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) throw new Error(`safetensors: tensor ${t.name} has ${t.data.length} values, shape [${t.shape.join(", ")}] needs ${elements}`);
    header[t.name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * elements] };
    offset += 4 * elements;
  }
  let json = JSON.stringify(header);
  const jsonBytes = () => new TextEncoder().encode(json);
  let jb = jsonBytes();
  if (jb.length % 8 !== 0) {
    json += " ".repeat(8 - (jb.length % 8));
    jb = jsonBytes();
  }
  const out = new Uint8Array(8 + jb.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, jb.length, true);
  view.setUint32(4, 0, true);
  out.set(jb, 8);
  let at = 8 + jb.length;
  for (const t of tensors) {
    // Float32Array is little-endian on every platform wasm runs on (see binary.ts)
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
