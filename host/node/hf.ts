// Node adapter: Hugging Face checkpoints on disk (config.json, safetensors files read tensor by
// tensor through file handles, sharded indexes). The parsing and checks are in host/formats/hf.ts.
import { open, readdir, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ModelFormatError, type LoadedModel } from "../model.js";
import { buildHfModel, INDEX_FILE, parseHfConfig, type TensorSource } from "../formats/hf.js";
import { parseSafetensorsHeader, type SafetensorsTensor, safetensorsHeaderLength, tensorToF32 } from "../formats/safetensors.js";

type Json = Record<string, unknown>;
const SINGLE_FILE = "model.safetensors";

async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new ModelFormatError(path, `${what} not found`);
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(path, `not valid JSON: ${(e as Error).message}`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Opens safetensors files, reading only their headers; tensors are read one at a time later. */
class SafetensorsFiles implements TensorSource {
  tensors = new Map<string, SafetensorsTensor>();
  private handles = new Map<string, Awaited<ReturnType<typeof open>>>();

  /** Adds the tensors of one file (all of them, or only those `keep` names). */
  async add(path: string, keep?: (name: string) => boolean): Promise<Map<string, SafetensorsTensor>> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(path, "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new ModelFormatError(path, "safetensors file not found");
      throw e;
    }
    this.handles.set(path, fh);
    const size = (await fh.stat()).size;
    const first8 = new Uint8Array(8);
    await fh.read(first8, 0, Math.min(8, size), 0);
    const n = safetensorsHeaderLength(first8, size, path);
    const json = new Uint8Array(n);
    await fh.read(json, 0, n, 8);
    const header = parseSafetensorsHeader(json, size, path);
    for (const [name, t] of header.tensors) {
      if (keep && !keep(name)) continue;
      const other = this.tensors.get(name);
      if (other) throw new ModelFormatError(path, `tensor ${name} is also in ${other.file}`);
      this.tensors.set(name, t);
    }
    return header.tensors;
  }

  async read(t: SafetensorsTensor): Promise<Float32Array> {
    const fh = this.handles.get(t.file)!;
    const raw = new Uint8Array(t.byteLength);
    let done = 0;
    while (done < raw.length) {
      const { bytesRead } = await fh.read(raw, done, raw.length - done, t.offset + done);
      if (bytesRead === 0) throw new ModelFormatError(t.file, `tensor ${t.name}: file ended while reading (was it truncated after opening?)`);
      done += bytesRead;
    }
    return tensorToF32(raw, t);
  }

  async close(): Promise<void> {
    for (const fh of this.handles.values()) await fh.close();
    this.handles.clear();
  }
}

/** model.safetensors.index.json: every shard it names must exist and hold the tensors mapped to it. */
async function addShards(files: SafetensorsFiles, indexPath: string): Promise<void> {
  const index = await readJsonFile(indexPath, "index file");
  const map = (index as Json | null)?.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map) || Object.values(map).some((v) => typeof v !== "string")) {
    throw new ModelFormatError(indexPath, 'expected "weight_map": {tensor name: shard file name}');
  }
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(map as Record<string, string>)) {
    if (shard.includes("/") || shard.includes("\\")) throw new ModelFormatError(indexPath, `shard name ${shard} must be a file name in the same folder`);
    byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
  }
  const dir = dirname(indexPath);
  const missing: string[] = [];
  for (const shard of byShard.keys()) if (!(await exists(join(dir, shard)))) missing.push(shard);
  if (missing.length > 0) throw new ModelFormatError(indexPath, `missing shard${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (listed in weight_map, not found in ${dir})`);
  for (const [shard, names] of byShard) {
    const wanted = new Set(names);
    const found = await files.add(join(dir, shard), (n) => wanted.has(n));
    const absent = names.filter((n) => !found.has(n));
    if (absent.length > 0) throw new ModelFormatError(join(dir, shard), `tensor ${absent[0]} is mapped to this shard by ${INDEX_FILE}, but the shard does not hold it`);
  }
}

/** A Hugging Face model folder: config.json, model.safetensors or a sharded index, tokenizer.json. */
export async function loadHfDirectory(dir: string): Promise<LoadedModel> {
  const index = join(dir, INDEX_FILE);
  const single = join(dir, SINGLE_FILE);
  if (await exists(index)) return loadHf(dir, index);
  if (await exists(single)) return loadHf(dir, single);
  const hint = (await exists(join(dir, "pytorch_model.bin"))) ? " (PyTorch .bin checkpoints are not supported: save with safe_serialization=True)" : "";
  // a folder holding a .gguf or a llama2.c .bin: name the files --model could take instead
  const models = (await readdir(dir).catch(() => [] as string[])).filter((f) => /\.(gguf|bin|safetensors|dipstream)$/i.test(f) && f !== "pytorch_model.bin" && !/^tok.*\.bin$/.test(f));
  const found = models.length > 0 ? `; model files here: ${models.sort().join(", ")} (pass one as --model)` : "";
  throw new ModelFormatError(dir, `no ${SINGLE_FILE} or ${INDEX_FILE} in this folder${hint}${found}`);
}

/** One .safetensors file (or an index .json) with config.json beside it. */
export async function loadHfSafetensors(path: string): Promise<LoadedModel> {
  return loadHf(dirname(path), path);
}

async function loadHf(dir: string, weights: string): Promise<LoadedModel> {
  const configPath = join(dir, "config.json");
  const spec = parseHfConfig(await readJsonFile(configPath, "config.json (needed beside the safetensors weights)"), configPath);
  const files = new SafetensorsFiles();
  try {
    if (weights.endsWith(".json")) await addShards(files, weights);
    else await files.add(weights);
    const model = await buildHfModel(spec, files, weights.endsWith(SINGLE_FILE) || weights.endsWith(".json") ? dir : weights);
    const tokenizer = join(dir, "tokenizer.json");
    if (await exists(tokenizer)) model.tokenizerJson = tokenizer;
    return model;
  } finally {
    await files.close();
  }
}
