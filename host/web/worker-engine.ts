// The worker-first browser API: the engine runs in a Web Worker (host/web/engine-worker.ts) so the
// page never blocks on a model; the page holds a proxy whose generate() streams text pieces and
// stops when its AbortSignal fires.
import type { GenerateResult } from "../generate.js";
import type { ModelConfig } from "../model.js";
import type { SparsitySpec } from "../sparsity.js";
import type { ProgressCallback } from "../formats/bytes.js";
import type { FromEngineWorker, ToEngineWorker, WorkerGenerateSettings, WorkerLoadOptions } from "./worker-protocol.js";

export type { WorkerGenerateSettings } from "./worker-protocol.js";

/** Options of createWorkerEngine: the engine's, where to find its files, and the download's. */
export interface WorkerEngineOptions extends Omit<WorkerLoadOptions, "wasmUrl" | "workerWasmUrl" | "tokenizerUrl"> {
  /**
   * The worker to run the engine in: a Worker running `dip-engine/worker` (or serveEngine), or its
   * script URL. Default: the package's build/browser/worker.js beside this module
   * (`new URL("./worker.js", import.meta.url)`, which Vite and webpack bundle; with esbuild, bundle
   * `dip-engine/worker` yourself and pass it here).
   */
  worker?: Worker | string | URL;
  /** where the worker fetches engine.wasm (default: beside the library the worker runs) */
  wasmUrl?: string | URL;
  /** with threads: where it fetches thread-worker.wasm */
  workerWasmUrl?: string | URL;
  /** a llama2.c checkpoint's tokenizer (URL or hf: name) */
  tokenizerUrl?: string | URL;
  /** download progress of the model (bytes so far, total when known) */
  onProgress?: ProgressCallback;
}

/** What generate() takes: the generation settings, a callback per piece, and a signal that stops it. */
export interface WorkerGenerateOptions extends WorkerGenerateSettings {
  /** stops the generation after the token being computed; the result then has `aborted: true` */
  signal?: AbortSignal;
}

/** The text of one generation as it is produced (`for await`), and its result once it ends. */
export interface TextStream extends AsyncIterable<string> {
  /** resolves with the whole result (also after an abort: `aborted: true`); rejects on an engine error */
  readonly result: Promise<GenerateResult>;
}

/** A model loaded in a worker. */
export interface WorkerEngine {
  /** the model's name (its file name) */
  readonly name: string;
  readonly config: ModelConfig;
  /** generates from a prompt; iterate the returned stream for the text pieces */
  generate(options?: WorkerGenerateOptions): TextStream;
  /** changes the sparsity method for the next generations (e.g. `{ method: "dip", keep: 0.5 }`) */
  setSparsity(spec: SparsitySpec): Promise<void>;
  /** ends the worker (any generation with it) */
  terminate(): void;
}

/** A URL made absolute against the page, since the worker resolves relative URLs against its own script. */
function absolute(url: string | URL): string {
  const s = String(url);
  if (s.startsWith("hf:")) return s;
  const base = typeof location !== "undefined" ? location.href : undefined;
  return new URL(s, base).href;
}

function startWorker(w: WorkerEngineOptions["worker"]): Worker {
  if (w instanceof Worker) return w;
  if (w !== undefined) return new Worker(absolute(w), { type: "module" });
  return new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
}

/**
 * Loads a model in a Web Worker and returns a proxy to it.
 *
 * @param model a URL (relative to the page), an `hf:OWNER/REPO[@REV]/FILE` name, a File/Blob, or the file's bytes
 * @example
 * const engine = await createWorkerEngine("hf:ggml-org/models/tinyllamas/stories260K.gguf", { cache: true, onProgress: (got, total) => console.log(got, total) });
 * for await (const piece of engine.generate({ prompt: "Once upon a time", steps: 64, signal })) out.textContent += piece;
 */
export async function createWorkerEngine(model: string | URL | Blob | ArrayBuffer | Uint8Array, options: WorkerEngineOptions = {}): Promise<WorkerEngine> {
  const { worker: workerOption, onProgress, wasmUrl, workerWasmUrl, tokenizerUrl, ...rest } = options;
  const worker = startWorker(workerOption);
  const send = (m: ToEngineWorker) => worker.postMessage(m);
  const pending = new Map<number, (m: FromEngineWorker) => void>();
  let nextId = 1;
  let failure: Error | undefined;

  const loaded = new Promise<{ name: string; config: ModelConfig }>((resolve, reject) => {
    worker.onmessage = (ev: MessageEvent<FromEngineWorker>) => {
      const m = ev.data;
      if (m.type === "progress") onProgress?.(m.loaded, m.total);
      else if (m.type === "loaded") resolve(m);
      else if (m.type === "load-error") reject(new Error(m.message));
      else pending.get(m.id)?.(m);
    };
    worker.onerror = (ev) => {
      failure = new Error(`the engine worker failed: ${ev.message || "it could not start (is its script served, as a module?)"}`);
      reject(failure);
      for (const deliver of pending.values()) deliver({ type: "error", id: 0, message: failure.message });
    };
  });
  const loadOptions: WorkerLoadOptions = {
    ...rest,
    ...(wasmUrl !== undefined ? { wasmUrl: absolute(wasmUrl) } : {}),
    ...(workerWasmUrl !== undefined ? { workerWasmUrl: absolute(workerWasmUrl) } : {}),
    ...(tokenizerUrl !== undefined ? { tokenizerUrl: absolute(tokenizerUrl) } : {}),
  };
  const source = typeof model === "string" || model instanceof URL ? absolute(model) : model;
  send({ type: "load", source, options: loadOptions });
  let info: { name: string; config: ModelConfig };
  try {
    info = await loaded;
  } catch (e) {
    worker.terminate();
    throw e;
  }

  return {
    name: info.name,
    config: info.config,
    generate(opts: WorkerGenerateOptions = {}): TextStream {
      const { signal, ...settings } = opts;
      const id = nextId++;
      const pieces: string[] = [];
      let wake: (() => void) | undefined;
      let finished = false;
      const result = new Promise<GenerateResult>((resolve, reject) => {
        pending.set(id, (m) => {
          if (m.type === "text") pieces.push(m.text);
          else {
            pending.delete(id);
            signal?.removeEventListener("abort", abort);
            finished = true;
            if (m.type === "done") resolve(m.result);
            else reject(new Error(m.type === "error" ? m.message : `unexpected answer ${m.type}`));
          }
          wake?.();
        });
      });
      result.catch(() => undefined); // a caller who only iterates sees the error there
      const abort = () => send({ type: "abort", id });
      if (failure) pending.get(id)!({ type: "error", id, message: failure.message });
      else {
        signal?.addEventListener("abort", abort, { once: true });
        send({ type: "generate", id, settings });
        if (signal?.aborted) abort();
      }
      return {
        result,
        async *[Symbol.asyncIterator]() {
          for (;;) {
            while (pieces.length > 0) yield pieces.shift()!;
            if (finished) break;
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
          }
          await result; // rethrows an engine error
        },
      };
    },
    setSparsity(spec: SparsitySpec): Promise<void> {
      const id = nextId++;
      return new Promise<void>((resolve, reject) => {
        pending.set(id, (m) => {
          pending.delete(id);
          if (m.type === "ok") resolve();
          else reject(new Error(m.type === "error" ? m.message : `unexpected answer ${m.type}`));
        });
        send({ type: "set-sparsity", id, sparsity: spec });
      });
    },
    terminate(): void {
      worker.terminate();
      failure ??= new Error("the engine worker was terminated");
      for (const deliver of [...pending.values()]) deliver({ type: "error", id: 0, message: failure.message });
    },
  };
}
