// Messages between createWorkerEngine (host/web/worker-engine.ts, the page) and serveEngine
// (host/web/engine-worker.ts, the worker). Plain structured-cloneable data only.
import type { GenerateResult } from "../generate.js";
import type { ModelConfig } from "../model.js";
import type { SparsitySpec } from "../sparsity.js";
import type { WeightDtype } from "../engine.js";

/** A model: an absolute URL or an hf: name, a File/Blob, or the file's bytes. */
export type WorkerModelSource = string | Blob | ArrayBuffer | Uint8Array;

export interface WorkerLoadOptions {
  sparsity?: SparsitySpec;
  dtype?: WeightDtype;
  threads?: number;
  relaxed?: boolean;
  maxMemoryBytes?: number;
  /** absolute URLs of the wasm files (default: beside the worker's library) */
  wasmUrl?: string;
  workerWasmUrl?: string;
  /** keep a downloaded model in OPFS / the Cache API and reuse it */
  cache?: boolean;
  hfBaseUrl?: string;
  /** absolute URL of a llama2.c tokenizer, for a llama2.c checkpoint */
  tokenizerUrl?: string;
  /** the name a Blob or bytes model gets (errors, GenerateResult) */
  name?: string;
}

/** What one generation takes (GenerateOptions without the callbacks, which cannot cross threads). */
export interface WorkerGenerateSettings {
  prompt?: string;
  steps?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
}

export type ToEngineWorker =
  | { type: "load"; source: WorkerModelSource; options: WorkerLoadOptions }
  | { type: "generate"; id: number; settings: WorkerGenerateSettings }
  | { type: "abort"; id: number }
  | { type: "set-sparsity"; id: number; sparsity: SparsitySpec };

export type FromEngineWorker =
  | { type: "progress"; loaded: number; total: number | undefined }
  | { type: "loaded"; name: string; config: ModelConfig }
  | { type: "load-error"; message: string }
  | { type: "text"; id: number; text: string }
  | { type: "done"; id: number; result: GenerateResult }
  /** a request without a result (set-sparsity) succeeded */
  | { type: "ok"; id: number }
  | { type: "error"; id: number; message: string };
