// Node adapter: LoRA adapter files (the codec is host/formats/lora.ts).
//   write: X.safetensors (config inside its header) and X.adapter_config.json (the same config as
//          PEFT's adapter_config.json), each written to a temporary name and renamed, so a reader
//          never sees a half-written file and an interrupted run keeps the previous best.
//   read:  a .safetensors file (config from its header, else X.adapter_config.json, else
//          adapter_config.json in the same folder), or a PEFT folder (adapter_model.safetensors +
//          adapter_config.json).
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { AdapterError, type LoraAdapters } from "../lora.js";
import { writeOutputFile } from "./atomic-file.js";
import { decodeAdapters, encodeAdapters } from "../formats/lora.js";

/** The config written beside an adapter file: X.safetensors -> X.adapter_config.json. */
export function adapterConfigPath(file: string): string {
  return file.replace(/\.safetensors$/i, "") + ".adapter_config.json";
}

/** Writes adapters (and their config beside them); returns the config's path. */
export async function writeAdaptersFile(file: string, adapters: LoraAdapters, baseModel?: string): Promise<string> {
  const { safetensors, config } = encodeAdapters(adapters, baseModel);
  const configFile = adapterConfigPath(file);
  await writeOutputFile(file, safetensors);
  await writeOutputFile(configFile, config);
  return configFile;
}

/** Reads an adapter file or PEFT folder. Errors name the file and what is wrong with it. */
export async function readAdaptersFile(path: string): Promise<LoraAdapters> {
  let file = path;
  if (existsSync(path) && statSync(path).isDirectory()) file = join(path, "adapter_model.safetensors");
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch {
    throw new AdapterError(`--adapters: cannot read ${file}`);
  }
  let configText: string | undefined;
  for (const c of [adapterConfigPath(file), join(dirname(file), "adapter_config.json")]) {
    if (existsSync(c)) {
      configText = await readFile(c, "utf8");
      break;
    }
  }
  return decodeAdapters(bytes, file, configText);
}
