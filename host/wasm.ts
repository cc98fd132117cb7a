// Instantiates the engine's wasm module from bytes, so it runs anywhere (Node, Deno, browsers).
// Where the default bytes come from is the host's business: the Node adapter (host/node/wasm.ts)
// registers a loader that reads build/engine.wasm; elsewhere they are fetched from beside the built
// library (bundledEngineUrl), or a page passes `Engine.create(model, { wasmUrl })` or `{ wasmBytes }`.

import { engineExports, type EngineExports } from "./abi.js";

export type { EngineExports };

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
  /** starts filling the listed (column, destination) pairs of a streamed layer group; returns a ticket (host/stream/weights.ts) */
  streamIssue(layer: number, group: number, listPtr: number, count: number): number;
  /** returns once the read with this ticket, and every earlier one, has landed */
  streamAwait(ticket: number): void;
}

const HOOKS = new WeakMap<WebAssembly.Memory, EngineHostHooks>();

/** The host hooks of an instance made by instantiateEngine (assign its fields to handle calls). */
export function hostHooks(exports: EngineExports): EngineHostHooks {
  const hooks = HOOKS.get(exports.memory);
  if (!hooks) throw new Error("this engine instance was not made by instantiateEngine: no host hooks");
  return hooks;
}

/**
 * The engine builds (package.json build:wasm), all from the same sources:
 * default (build/engine.wasm): deterministic, bit-identical on every runtime;
 * relaxed (build/engine-relaxed.wasm): f32 kernels use relaxed-SIMD multiply-add, results may differ between machines;
 * threads (build/engine-threads.wasm): imports a shared memory and splits big products over worker
 * threads, each running thread-worker (build/thread-worker.wasm); results bit-identical to default.
 */
export type EngineBuild = "default" | "relaxed" | "threads" | "thread-worker";
export const ENGINE_BUILD_FILES: Record<EngineBuild, string> = {
  default: "engine.wasm",
  relaxed: "engine-relaxed.wasm",
  threads: "engine-threads.wasm",
  "thread-worker": "thread-worker.wasm",
};

/** Throws a clear error when this runtime cannot compile `bytes` (a build needing a wasm feature it lacks). */
export function checkRuntimeRuns(bytes: BufferSource, build: EngineBuild): void {
  if (WebAssembly.validate(bytes)) return;
  if (build === "relaxed") {
    throw new Error(
      "this runtime cannot run the relaxed-SIMD engine (build/engine-relaxed.wasm uses f32x4.relaxed_madd): " +
        "use Node >= 20 (the Node adapter turns on --experimental-wasm-relaxed-simd on Node 20), Deno >= 1.38, Chromium >= 114 or Firefox >= 120 (Safari and WebKitGTK do not have it), or run without --relaxed",
    );
  }
  if (build === "threads" || build === "thread-worker") {
    throw new Error(`this runtime cannot run the threads engine (build/${ENGINE_BUILD_FILES[build]} needs wasm threads: shared memory and atomics); run with --threads 1`);
  }
  throw new Error(`the engine wasm (build/${ENGINE_BUILD_FILES[build]}) does not validate in this runtime (does it support wasm SIMD?)`);
}

/** Instantiates an engine build; `memory` is the shared memory the threads build imports. */
export async function instantiateEngine(wasmBytes: BufferSource | WebAssembly.Module, sharedMemory?: WebAssembly.Memory): Promise<EngineExports> {
  let memory: WebAssembly.Memory | undefined;
  const hooks: EngineHostHooks = {
    streamIssue(): number {
      throw new Error("the engine asked for streamed weights but no weight stream is attached");
    },
    streamAwait(): void {
      throw new Error("the engine asked for streamed weights but no weight stream is attached");
    },
  };
  const imports = {
    env: {
      ...(sharedMemory ? { memory: sharedMemory } : {}),
      abort(msg: number, file: number, line: number, col: number): never {
        const m = memory ? readAsString(memory, msg) : "";
        const f = memory ? readAsString(memory, file) : "";
        throw new WasmAbort(`engine assertion failed: ${m} (${f}:${line}:${col})`);
      },
      trace(): void {},
      seed(): number {
        return 0; // the engine owns its PRNG; Math.random is never used
      },
      streamIssue(layer: number, group: number, listPtr: number, count: number): number {
        return hooks.streamIssue(layer, group, listPtr >>> 0, count);
      },
      streamAwait(ticket: number): void {
        hooks.streamAwait(ticket);
      },
    },
  };
  const instance =
    wasmBytes instanceof WebAssembly.Module
      ? await WebAssembly.instantiate(wasmBytes, imports)
      : (await WebAssembly.instantiate(wasmBytes, imports)).instance;
  const exports = engineExports(instance.exports);
  memory = exports.memory;
  HOOKS.set(memory, hooks);
  return exports;
}

/** Supplies the bytes of an engine build when a caller gives none (no argument: the default build). */
export type EngineWasmLoader = (build?: EngineBuild) => Promise<BufferSource>;

let defaultLoader: EngineWasmLoader | undefined;

/** Sets where `Engine.create(model)` without `wasmBytes` gets the engine (the Node adapter sets build/engine.wasm). */
export function setDefaultEngineWasm(loader: EngineWasmLoader | undefined): void {
  defaultLoader = loader;
}

/**
 * Where an engine build sits beside the built browser library (the package's build/browser/*.js;
 * the wasm files are in build/). Each URL is a literal `new URL("...", import.meta.url)` so that
 * bundlers (Vite, webpack, Parcel) see it and emit the file with the app; esbuild leaves it as is,
 * so an app bundled with esbuild copies the file (`dip-engine/engine.wasm`) or passes `wasmUrl`.
 */
export function bundledEngineUrl(build: EngineBuild): URL {
  switch (build) {
    case "default":
      return new URL("../engine.wasm", import.meta.url);
    case "relaxed":
      return new URL("../engine-relaxed.wasm", import.meta.url);
    case "threads":
      return new URL("../engine-threads.wasm", import.meta.url);
    case "thread-worker":
      return new URL("../thread-worker.wasm", import.meta.url);
  }
}

/** Fetches wasm bytes from a URL, naming the URL and the option to set when it fails. */
export async function fetchEngineWasm(url: string | URL, option = "wasmUrl"): Promise<Uint8Array<ArrayBuffer>> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`engine wasm ${String(url)}: ${(e as Error).message} (serve the file there or pass \`${option}\` / wasmBytes)`);
  }
  if (!res.ok) throw new Error(`engine wasm ${String(url)}: HTTP ${res.status} (serve the file there or pass \`${option}\` / wasmBytes)`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * The bytes of an engine build: from the registered loader (the Node adapter reads build/), else
 * fetched from beside the built library (bundledEngineUrl).
 */
export async function defaultEngineBytes(build: EngineBuild = "default"): Promise<BufferSource> {
  if (defaultLoader) return defaultLoader(build);
  return fetchEngineWasm(bundledEngineUrl(build));
}

/** A fresh instance of the default engine wasm (defaultEngineBytes). */
export async function loadDefaultEngineWasm(): Promise<EngineExports> {
  return instantiateEngine(await defaultEngineBytes());
}

/** @deprecated the old name of loadDefaultEngineWasm (on Node the adapter reads build/engine.wasm). */
export const loadEngineWasmFromDisk = loadDefaultEngineWasm;
