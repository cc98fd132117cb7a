// Instantiates the engine's wasm module. The core takes bytes so it runs anywhere (Node, Deno,
// browsers); `loadEngineWasmFromDisk` is the Node adapter.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { projectRoot } from "./paths.js";

/** The raw exports of build/engine.wasm (pointers are u32 byte offsets into `memory`). */
export type EngineExports = WebAssembly.Exports & {
  memory: WebAssembly.Memory;
  [name: string]: unknown;
};

/** An abort inside wasm (a failed assertion in engine code): a bug, reported with its message. */
export class WasmAbort extends Error {}

function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return "";
  const u32 = new Uint32Array(memory.buffer);
  const bytes = u32[(ptr - 4) >>> 2] >>> 0; // AssemblyScript strings: UTF-16, byte length at ptr-4
  return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, bytes >>> 1));
}

export async function instantiateEngine(wasmBytes: BufferSource): Promise<EngineExports> {
  let memory: WebAssembly.Memory | undefined;
  const imports = {
    env: {
      abort(msg: number, file: number, line: number, col: number): never {
        const m = memory ? readAsString(memory, msg) : "";
        const f = memory ? readAsString(memory, file) : "";
        throw new WasmAbort(`engine assertion failed: ${m} (${f}:${line}:${col})`);
      },
      trace(): void {},
      seed(): number {
        return 0; // the engine owns its PRNG; Math.random is never used
      },
    },
  };
  const { instance } = await WebAssembly.instantiate(wasmBytes, imports);
  const exports = instance.exports as EngineExports;
  memory = exports.memory;
  return exports;
}

let cachedBytes: Uint8Array<ArrayBuffer> | undefined;
export async function loadEngineWasmFromDisk(): Promise<EngineExports> {
  cachedBytes ??= new Uint8Array(await readFile(resolve(projectRoot(), "build", "engine.wasm")));
  return instantiateEngine(cachedBytes);
}
