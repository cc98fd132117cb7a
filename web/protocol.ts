// Messages between the demo page (app.ts) and its engine worker (worker.ts).
import type { ModelConfig, Method, CachePolicy, StreamPolicy, StreamReport } from "../host/web/index.js";

export interface RunSettings {
  prompt: string;
  /** new tokens to generate after the prompt */
  tokens: number;
  method: Method;
  keep: number;
  /** dip-ca penalty for uncached columns */
  gamma: number;
  policy: CachePolicy;
  /** DRAM the simulated device gives the model, as a fraction of the dense footprint (KV cache at this run's length) */
  dramFraction: number;
  temperature: number;
  seed: number;
}

/** Where a .dipstream comes from, and whether to keep a copy in OPFS (read with a sync access handle) or read the File/Blob in slices. */
export type StreamSource = { file: File; store: boolean } | { url: string; store: boolean } | { stored: string };

/** Streamed runs: the engine's DRAM budget, cache policy and Flash pacing. */
export interface StreamSettings {
  dramBytes: number;
  policy: StreamPolicy;
  /** GB/s to pace reads to; undefined: the storage's own speed */
  flashGBps: number | undefined;
}

export type ToWorker =
  | { type: "load"; url: string }
  | { type: "load"; file: File }
  | { type: "load-stream"; source: StreamSource }
  | { type: "generate"; settings: RunSettings; stream?: StreamSettings }
  /** chat mode: settings.prompt is the user's message, settings.tokens the most reply tokens; the conversation (and KV cache) goes on until "chat-reset" or another run */
  | { type: "chat"; settings: RunSettings }
  | { type: "chat-reset" }
  | { type: "list-stored" }
  /** the most wasm memory the engine may take (a webview's limit, emulated with the page's ?maxMemory=SIZE) */
  | { type: "memory-cap"; maxMemoryBytes: number };

/** Measured numbers of a streamed run after a step (the engine's real caches and reads). */
export interface StreamSnapshot {
  tokens: number;
  hitRate: number;
  perLayer: number[];
  /** bytes read from storage by this step */
  bytesThisToken: number;
  bytesPerToken: number;
}

/** A chat turn's end: why the reply stopped and the context left after it. */
export interface ChatTurnInfo {
  stop: "end" | "length" | "context";
  contextLeft: number;
  /** MLP weight bytes read over dense, this turn */
  mlpDensity: number;
}

/** Simulator numbers after a step (SimResult's fields, so the page shows what `dip simulate` reports). */
export interface SimSnapshot {
  tokens: number;
  hitRate: number;
  perLayer: number[];
  flashBytesPerToken: number;
  dramBytesPerToken: number;
  mlpDensity: number;
  tokS: number;
  denseFlashTokS: number;
  memoryBytes: number;
  dramBudgetBytes: number;
  denseFootprintBytes: number;
}

export type FromWorker =
  | { type: "progress"; loaded: number; total: number | undefined }
  | { type: "loaded"; name: string; config: ModelConfig; params: number; bytes: number; chatTemplate?: boolean; stream?: { via: "opfs" | "blob"; fileBytes: number; minimumDramBytes: number; tableBytes: number; mlpBytes: number; note?: string } }
  | { type: "text"; text: string }
  | { type: "step"; position: number; sim: SimSnapshot }
  | { type: "stored"; files: { name: string; bytes: number }[] }
  | { type: "stream-step"; position: number; stream: StreamSnapshot }
  | { type: "done"; text: string; tokens: number[]; generated: number; tokS: number; sim: SimSnapshot | null; stream?: StreamReport; summary?: string; chat?: ChatTurnInfo }
  /** loaded: the model still loaded after the error (a wrong file keeps the previous one) */
  | { type: "error"; message: string; loaded?: string };
