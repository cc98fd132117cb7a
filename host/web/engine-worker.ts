// The engine side of createWorkerEngine: runs inside a Web Worker, loads one model, and generates
// with generateAsync so an abort message from the page arrives between tokens and stops it.
// host/web/worker.ts starts it on `self`; an app's own worker may call serveEngine() too.
import { Engine } from "../engine.js";
import { generateAsync } from "../generate.js";
import { loadModel, type ProgressCallback } from "../formats/bytes.js";
import type { LoadedModel } from "../model.js";
import type { Tokenizer } from "../tokenizer/types.js";
import { tokenizerOf } from "../tokenizer/for-model.js";
import { fetchModel } from "./model-cache.js";
import type { FromEngineWorker, ToEngineWorker, WorkerLoadOptions, WorkerModelSource } from "./worker-protocol.js";

/** The parts of a worker's global scope the engine uses (DedicatedWorkerGlobalScope). */
export interface WorkerScope {
  postMessage(message: FromEngineWorker): void;
  addEventListener(type: "message", listener: (ev: MessageEvent<ToEngineWorker>) => void): void;
}

const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** A model loaded with its tokenizer and an engine on it. */
export interface OpenedEngine {
  model: LoadedModel;
  tokenizer: Tokenizer;
  engine: Engine;
}

/**
 * Loads a model (a URL or hf: name, with the download cache if asked; a File/Blob; or bytes), its
 * tokenizer and an engine: what an engine worker does on "load" (serveEngine, and the web demo's).
 */
export async function openEngine(source: WorkerModelSource, o: WorkerLoadOptions, onProgress?: ProgressCallback): Promise<OpenedEngine> {
  const model =
    typeof source === "string"
      ? await fetchModel(source, { cache: o.cache ?? false, onProgress, hfBaseUrl: o.hfBaseUrl, tokenizerUrl: o.tokenizerUrl })
      : await loadModel(source, o.name, onProgress);
  const tokenizer = tokenizerOf(model);
  const engine = await Engine.create(model, { sparsity: o.sparsity, dtype: o.dtype, threads: o.threads, relaxed: o.relaxed, maxMemoryBytes: o.maxMemoryBytes, wasmUrl: o.wasmUrl, workerWasmUrl: o.workerWasmUrl });
  return { model, tokenizer, engine };
}

/** A progress callback that passes on a few calls a second (and the last), not one per chunk. */
export function throttledProgress(onProgress: ProgressCallback, everyMs = 50): ProgressCallback {
  let last = 0;
  return (loaded, total) => {
    const now = performance.now();
    if (now - last < everyMs && loaded !== total) return;
    last = now;
    onProgress(loaded, total);
  };
}

/** Serves one engine on this worker: answers createWorkerEngine's messages until the worker ends. */
export function serveEngine(scope: WorkerScope): void {
  let loaded: OpenedEngine | undefined;
  const running = new Map<number, AbortController>();
  const post = (m: FromEngineWorker) => scope.postMessage(m);

  scope.addEventListener("message", async (ev) => {
    const m = ev.data;
    if (m.type === "load") {
      try {
        const opened = await openEngine(m.source, m.options, throttledProgress((done, total) => post({ type: "progress", loaded: done, total })));
        loaded?.engine.close();
        loaded = opened;
        const { model } = opened;
        post({ type: "loaded", name: model.name, config: model.config });
      } catch (e) {
        post({ type: "load-error", message: errorMessage(e) });
      }
    } else if (m.type === "generate") {
      try {
        if (!loaded) throw new Error("no model loaded");
        if (running.size > 0) throw new Error("a generation is already running on this engine: wait for it or abort it");
        const controller = new AbortController();
        running.set(m.id, controller);
        try {
          const result = await generateAsync(loaded.engine, loaded.tokenizer, { ...m.settings, signal: controller.signal, onText: (text) => post({ type: "text", id: m.id, text }) });
          post({ type: "done", id: m.id, result });
        } finally {
          running.delete(m.id);
        }
      } catch (e) {
        post({ type: "error", id: m.id, message: errorMessage(e) });
      }
    } else if (m.type === "abort") {
      running.get(m.id)?.abort();
    } else if (m.type === "set-sparsity") {
      try {
        if (!loaded) throw new Error("no model loaded");
        loaded.engine.setSparsity(m.sparsity);
        post({ type: "ok", id: m.id });
      } catch (e) {
        post({ type: "error", id: m.id, message: errorMessage(e) });
      }
    }
  });
}
