// Typed access to GGUF metadata: a present key of the wrong type is an error, never silently the
// default. Shared by the model reader (gguf.ts) and the tokenizer reader (gguf-tokenizer.ts).
import { ModelFormatError } from "../model.js";

export type GgufValue = number | boolean | string | GgufValue[];
export type GgufMetadata = Map<string, GgufValue>;

export function metaNumber(meta: GgufMetadata, key: string, file: string, fallback?: number): number {
  const v = meta.get(key);
  if (v === undefined) {
    if (fallback === undefined) throw new ModelFormatError(file, `missing metadata ${key}`);
    return fallback;
  }
  if (typeof v !== "number") throw new ModelFormatError(file, `metadata ${key} is ${describe(v)}, expected a number`);
  return v;
}

export function metaInt(meta: GgufMetadata, key: string, file: string, fallback?: number): number {
  const v = metaNumber(meta, key, file, fallback);
  if (!Number.isInteger(v)) throw new ModelFormatError(file, `metadata ${key} is ${v}, expected an integer`);
  return v;
}

export function metaString(meta: GgufMetadata, key: string, file: string): string | undefined {
  const v = meta.get(key);
  if (v !== undefined && typeof v !== "string") throw new ModelFormatError(file, `metadata ${key} is ${describe(v)}, expected a string`);
  return v;
}

export function metaBool(meta: GgufMetadata, key: string, file: string): boolean | undefined {
  const v = meta.get(key);
  if (v !== undefined && typeof v !== "boolean") throw new ModelFormatError(file, `metadata ${key} is ${describe(v)}, expected true or false`);
  return v;
}

export function describe(v: GgufValue): string {
  return Array.isArray(v) ? `an array of ${v.length}` : `${typeof v} ${JSON.stringify(v)}`;
}
