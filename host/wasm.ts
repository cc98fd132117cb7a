// Instantiates the engine's wasm module from bytes, so it runs anywhere (Node, Deno, browsers).
// Where the default bytes come from is the host's business: the Node adapter (host/node/wasm.ts)
// registers a loader that reads build/engine.wasm; a page passes `Engine.create(model, { wasmBytes })`.

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

/** Host functions the engine calls back (set per instance; see hostHooks). */
export interface EngineHostHooks {
  /** fills the listed (column, destination) pairs of a streamed layer group (host/stream.ts) */
  streamFetch(layer: number, group: number, listPtr: number, count: number): void;
}

const HOOKS = new WeakMap<WebAssembly.Memory, EngineHostHooks>();

/** The host hooks of an instance made by instantiateEngine (assign its fields to handle calls). */
export function hostHooks(exports: EngineExports): EngineHostHooks {
  const hooks = HOOKS.get(exports.memory);
  if (!hooks) throw new Error("this engine instance was not made by instantiateEngine: no host hooks");
  return hooks;
}

export async function instantiateEngine(wasmBytes: BufferSource | WebAssembly.Module): Promise<EngineExports> {
  let memory: WebAssembly.Memory | undefined;
  const hooks: EngineHostHooks = {
    streamFetch(): void {
      throw new Error("the engine asked for streamed weights but no weight stream is attached");
    },
  };
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
      streamFetch(layer: number, group: number, listPtr: number, count: number): void {
        hooks.streamFetch(layer, group, listPtr >>> 0, count);
      },
    },
  };
  const instance =
    wasmBytes instanceof WebAssembly.Module
      ? await WebAssembly.instantiate(wasmBytes, imports)
      : (await WebAssembly.instantiate(wasmBytes, imports)).instance;
  const exports = instance.exports as EngineExports;
  memory = exports.memory;
  HOOKS.set(memory, hooks);
  return exports;
}

/** Supplies the engine's wasm bytes when a caller gives none. */
export type EngineWasmLoader = () => Promise<BufferSource>;

let defaultLoader: EngineWasmLoader | undefined;

/** Sets where `Engine.create(model)` without `wasmBytes` gets the engine (the Node adapter sets build/engine.wasm). */
export function setDefaultEngineWasm(loader: EngineWasmLoader | undefined): void {
  defaultLoader = loader;
}

/** A fresh instance of the default engine wasm; throws when no loader is registered (browsers: pass wasmBytes). */
export async function loadDefaultEngineWasm(): Promise<EngineExports> {
  if (!defaultLoader) {
    throw new Error("no engine wasm: pass Engine.create(model, { wasmBytes }) with the bytes of build/engine.wasm (e.g. from fetch), or import the Node adapter (host/node)");
  }
  return instantiateEngine(await defaultLoader());
}

/** @deprecated the old name of loadDefaultEngineWasm (on Node the adapter reads build/engine.wasm). */
export const loadEngineWasmFromDisk = loadDefaultEngineWasm;
