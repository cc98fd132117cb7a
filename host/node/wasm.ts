// Node adapter: the default engine wasm is build/engine.wasm of this checkout. Importing this file
// registers it as the default for `Engine.create(model)` without `wasmBytes`.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { projectRoot } from "../paths.js";
import { instantiateEngine, setDefaultEngineWasm, type EngineExports } from "../wasm.js";

let cachedBytes: Promise<Uint8Array<ArrayBuffer>> | undefined;

/** The bytes of build/engine.wasm (read once). */
export function readEngineWasmBytes(): Promise<Uint8Array<ArrayBuffer>> {
  cachedBytes ??= readFile(resolve(projectRoot(), "build", "engine.wasm")).then((b) => new Uint8Array(b));
  return cachedBytes;
}

export async function loadEngineWasmFromDisk(): Promise<EngineExports> {
  return instantiateEngine(await readEngineWasmBytes());
}

setDefaultEngineWasm(readEngineWasmBytes);
