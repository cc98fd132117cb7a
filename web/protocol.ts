// Messages between the demo page (app.ts) and its engine worker (worker.ts).
import type { ModelConfig } from "../host/model.js";
import type { Method } from "../host/sparsity.js";
import type { CachePolicy } from "../host/sim/wasm-sim.js";

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

export type ToWorker =
  | { type: "load"; url: string }
  | { type: "load"; file: File }
  | { type: "generate"; settings: RunSettings };

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
  | { type: "loaded"; name: string; config: ModelConfig; params: number; bytes: number }
  | { type: "text"; text: string }
  | { type: "step"; position: number; sim: SimSnapshot }
  | { type: "done"; text: string; tokens: number[]; generated: number; tokS: number; sim: SimSnapshot | null }
  | { type: "error"; message: string };
