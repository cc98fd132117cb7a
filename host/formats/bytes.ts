// Models from bytes, for any runtime: picks the format from the contents (GGUF by its magic) or the
// name (a llama2.c checkpoint, *.bin, which has no magic), and says plainly when a file is neither.
import { type LoadedModel, ModelFormatError } from "../model.js";
import { GGUF_MAGIC, parseGguf } from "./gguf.js";
import { parseLlama2cCheckpoint, parseLlama2cTokenizer } from "./llama2c.js";

export interface BytesLoadOptions {
  /** a llama2.c tokenizer (tokenizer.bin / tok<vocab>.bin) for a llama2.c checkpoint */
  tokenizerBytes?: Uint8Array;
  /** its name, for error messages */
  tokenizerName?: string;
}

export function isGguf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && String.fromCharCode(...bytes.subarray(0, 4)) === GGUF_MAGIC;
}

/** A GGUF (any name) or a llama2.c checkpoint named *.bin; `name` labels the model and its errors. */
export function loadModelFromBytes(bytes: Uint8Array | ArrayBuffer, name: string, opts: BytesLoadOptions = {}): LoadedModel {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (isGguf(u8)) return parseGguf(u8, name);
  if (!name.toLowerCase().endsWith(".bin")) {
    const first = u8.subarray(0, 4);
    const hex = Array.from(first, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const text = Array.from(first, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    throw new ModelFormatError(
      name,
      `not a model this engine reads: a GGUF file starts with "GGUF", this one (${u8.length} bytes) starts with ${u8.length ? `${hex} ("${text}")` : "nothing"}; ` +
        `a llama2.c checkpoint must be named *.bin; Hugging Face folders load from disk (Node, Deno)`,
    );
  }
  const model = parseLlama2cCheckpoint(u8, name);
  if (opts.tokenizerBytes) model.vocab = parseLlama2cTokenizer(opts.tokenizerBytes, opts.tokenizerName ?? "tokenizer.bin", model.config.vocabSize);
  return model;
}

/** Reports bytes received so far and the total when known (Content-Length, Blob.size), else undefined. */
export type ProgressCallback = (loaded: number, total: number | undefined) => void;

/** Reads a stream to one buffer, calling onProgress as chunks arrive. */
export async function readStream(stream: ReadableStream<Uint8Array>, total: number | undefined, onProgress?: ProgressCallback): Promise<Uint8Array<ArrayBuffer>> {
  const reader = stream.getReader();
  let buf = new Uint8Array(total && total > 0 ? total : 1 << 20);
  let loaded = 0;
  onProgress?.(0, total);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > buf.length) {
      const bigger = new Uint8Array(Math.max(buf.length * 2, loaded + value.length));
      bigger.set(buf.subarray(0, loaded));
      buf = bigger;
    }
    buf.set(value, loaded);
    loaded += value.length;
    onProgress?.(loaded, total);
  }
  return loaded === buf.length ? buf : buf.slice(0, loaded);
}

/** The bytes of a Blob or File (browsers' file pickers, drag and drop), with progress. */
export async function readBlob(blob: Blob, onProgress?: ProgressCallback): Promise<Uint8Array<ArrayBuffer>> {
  return readStream(blob.stream() as ReadableStream<Uint8Array>, blob.size, onProgress);
}

/** Fetches bytes with progress; throws a readable error on HTTP failures. */
export async function fetchBytes(url: string | URL, onProgress?: ProgressCallback, init?: RequestInit): Promise<Uint8Array<ArrayBuffer>> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${String(url)}: HTTP ${res.status} ${res.statusText}`.trim());
  const length = Number(res.headers.get("content-length"));
  const total = Number.isFinite(length) && length > 0 && !res.headers.get("content-encoding") ? length : undefined;
  if (!res.body) {
    const b = new Uint8Array(await res.arrayBuffer());
    onProgress?.(b.length, b.length);
    return b;
  }
  return readStream(res.body, total, onProgress);
}

/** The file name at the end of a URL or path ("model" if there is none). */
export function nameOf(url: string | URL): string {
  const path = typeof url === "string" ? url.split(/[?#]/)[0] : url.pathname;
  const name = decodeURIComponent(path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1));
  return name || "model";
}

/** Loads a model from an ArrayBuffer, typed array, Blob or File (a File's own name is used). */
export async function loadModel(source: ArrayBuffer | Uint8Array | Blob, name?: string, onProgress?: ProgressCallback): Promise<LoadedModel> {
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    const fileName = (source as Blob & { name?: string }).name;
    return loadModelFromBytes(await readBlob(source, onProgress), name ?? fileName ?? "model");
  }
  const bytes = source instanceof Uint8Array ? source : new Uint8Array(source as ArrayBuffer);
  onProgress?.(bytes.length, bytes.length);
  return loadModelFromBytes(bytes, name ?? "model");
}
