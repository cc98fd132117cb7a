// Node adapter: reads a model file from disk and picks its format. The parsers themselves take
// bytes (host/formats/bytes.ts), so browsers and Deno can use them on fetched buffers.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import { type LoadedModel, ModelFormatError } from "../model.js";
import { isGguf, loadModelFromBytes } from "../formats/bytes.js";
import { parseGguf } from "../formats/gguf.js";
import { parseLlama2cCheckpoint, parseLlama2cTokenizer } from "../formats/llama2c.js";
import { loadHfDirectory, loadHfSafetensors } from "./hf.js";
import { loadStreamFileFully } from "./stream-file.js";

export interface LoadOptions {
  /** llama2.c tokenizer.bin; by default tokenizer.bin or tok<vocab>.bin beside the checkpoint */
  tokenizer?: string;
}

async function readFileOrExplain(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ModelFormatError(path, `${what} not found`);
    if (code === "EISDIR") throw new ModelFormatError(path, `${what} is a directory, expected a file`);
    throw e;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Loads a GGUF (detected by its magic), a llama2.c checkpoint (.bin) with its tokenizer, or a
 * Hugging Face model: a folder, or a .safetensors file with config.json beside it.
 */
export async function loadModelFile(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  if (await isDirectory(path)) return loadHfDirectory(path);
  if (extname(path).toLowerCase() === ".safetensors" || path.endsWith(".safetensors.index.json")) return loadHfSafetensors(path);
  if (extname(path).toLowerCase() === ".dipstream") return loadStreamFileFully(path); // every column, resident
  const bytes = await readFileOrExplain(path, "model file");
  if (isGguf(bytes)) return parseGguf(bytes, path);
  if (extname(path).toLowerCase() !== ".bin") {
    throw new ModelFormatError(path, 'unrecognized model format: expected a GGUF file (magic "GGUF"), a llama2.c checkpoint named *.bin, a *.safetensors file with config.json beside it, or a Hugging Face model folder');
  }
  const model = parseLlama2cCheckpoint(bytes, path);
  const tokenizerPath = opts.tokenizer ?? (await findLlama2cTokenizer(path, model.config.vocabSize));
  const tokenizerBytes = await readFileOrExplain(tokenizerPath, "tokenizer file");
  model.vocab = parseLlama2cTokenizer(tokenizerBytes, tokenizerPath, model.config.vocabSize);
  return model;
}

/** tokenizer.bin, else tok<vocab>.bin (llama2.c's name for custom vocabularies), beside the checkpoint. */
async function findLlama2cTokenizer(checkpoint: string, vocabSize: number): Promise<string> {
  const dir = dirname(checkpoint);
  const candidates = [join(dir, "tokenizer.bin"), join(dir, `tok${vocabSize}.bin`)];
  for (const c of candidates) if (await exists(c)) return c;
  throw new ModelFormatError(checkpoint, `no tokenizer found for this llama2.c checkpoint: tried ${candidates.join(" and ")}; pass one explicitly`);
}

/** Hex SHA-256 of a file, streamed (model files can be larger than we want to hold twice). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new ModelFormatError(path, "file not found");
    throw e;
  }
  return hash.digest("hex");
}

export { loadModelFromBytes };
