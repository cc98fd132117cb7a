// Node adapter: a Hugging Face tokenizer.json from disk, with the JSON files beside it that carry
// its settings (tokenizer_config.json; the eos_token_id of generation_config.json or config.json).
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { HfTokenizer } from "../tokenizer/hf.js";
import { ModelFormatError, type HfTokenizerFiles } from "../model.js";

export async function loadHfTokenizerFile(path: string): Promise<HfTokenizer> {
  return HfTokenizer.fromFiles(await readHfTokenizerFiles(path), path);
}

/** tokenizer.json at `path` and the settings files beside it, parsed (what a .dipstream embeds). */
export async function readHfTokenizerFiles(path: string): Promise<HfTokenizerFiles> {
  const dir = dirname(path);
  return {
    tokenizer: await readJson(path, true),
    tokenizerConfig: await readJson(join(dir, "tokenizer_config.json"), false),
    generationConfig: await readJson(join(dir, "generation_config.json"), false),
    config: await readJson(join(dir, "config.json"), false),
  };
}

async function readJson(path: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && !required) return undefined;
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new ModelFormatError(path, "tokenizer file not found");
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(path, `not valid JSON: ${(e as Error).message}`);
  }
}
