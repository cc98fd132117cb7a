// The engine side of createWorkerEngine: runs inside a Web Worker, loads one model, and generates
// with generateAsync so an abort message from the page arrives between tokens and stops it.
// host/web/worker.ts starts it on `self`; an app's own worker may call serveEngine() too.
import { Engine } from "../engine.js";
import { generateAsync } from "../generate.js";
import { loadModel } from "../formats/bytes.js";
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

async function loadSource(source: WorkerModelSource, o: WorkerLoadOptions, onProgress: (loaded: number, total: number | undefined) => void): Promise<LoadedModel> {
  if (typeof source === "string") return fetchModel(source, { cache: o.cache ?? false, onProgress, hfBaseUrl: o.hfBaseUrl, tokenizerUrl: o.tokenizerUrl });
  return loadModel(source, o.name, onProgress);
}

/** Serves one engine on this worker: answers createWorkerEngine's messages until the worker ends. */
export function serveEngine(scope: WorkerScope): void {
  let loaded: { engine: Engine; tokenizer: Tokenizer } | undefined;
  const running = new Map<number, AbortController>();
  const post = (m: FromEngineWorker) => scope.postMessage(m);

  scope.addEventListener("message", async (ev) => {
    const m = ev.data;
    if (m.type === "load") {
      try {
        let lastPost = 0;
        const model = await loadSource(m.source, m.options, (done, total) => {
          const now = performance.now();
          if (now - lastPost < 50 && done !== total) return; // a few messages a second, not one per chunk
          lastPost = now;
          post({ type: "progress", loaded: done, total });
        });
        const tokenizer = tokenizerOf(model);
        const o = m.options;
        const engine = await Engine.create(model, { sparsity: o.sparsity, dtype: o.dtype, threads: o.threads, relaxed: o.relaxed, maxMemoryBytes: o.maxMemoryBytes, wasmUrl: o.wasmUrl, workerWasmUrl: o.workerWasmUrl });
        loaded?.engine.close();
        loaded = { engine, tokenizer };
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
