// Node adapter: the default engine wasm is build/engine.wasm of this checkout (and the other builds
// beside it, host/wasm.ts EngineBuild). Importing this file registers them as the defaults for
// `Engine.create(model)` without `wasmBytes`, and the worker_threads spawner for `threads`.
import "./threads.js";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { setFlagsFromString } from "node:v8";
import { projectRoot } from "./paths.js";
import { ENGINE_BUILD_FILES, instantiateEngine, setDefaultEngineWasm, type EngineBuild, type EngineExports } from "../wasm.js";

const cachedBytes = new Map<EngineBuild, Promise<Uint8Array<ArrayBuffer>>>();

/** The bytes of build/engine.wasm, or of another build (read once). */
export function readEngineWasmBytes(build: EngineBuild = "default"): Promise<Uint8Array<ArrayBuffer>> {
  // Node 20's V8 validates relaxed SIMD only behind a flag (on by default from V8 11.4 / Node 22);
  // setting it before the module is compiled is enough
  if (build === "relaxed") setFlagsFromString("--experimental-wasm-relaxed-simd");
  let bytes = cachedBytes.get(build);
  if (!bytes) {
    bytes = readFile(resolve(projectRoot(), "build", ENGINE_BUILD_FILES[build])).then((b) => new Uint8Array(b));
    cachedBytes.set(build, bytes);
  }
  return bytes;
}

export async function loadEngineWasmFromDisk(): Promise<EngineExports> {
  return instantiateEngine(await readEngineWasmBytes());
}

setDefaultEngineWasm(readEngineWasmBytes);
