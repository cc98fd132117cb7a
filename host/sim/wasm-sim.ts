// The simulator's view of the engine exports (functions typed in host/abi.ts, assembly/sim/index.ts). The simulator shares the
// engine's instance and memory, so the engine's DIP-CA policy can read the cache flags directly.
// The cost model (footprints, DRAM partition, time, summaries) lives only in wasm; its results
// are f64 records whose field indices the module exports as constants (LAYOUT below), so the
// layout is defined once, in assembly/sim.
import type { EngineExports } from "../wasm.js";
import type { EngineFunctions } from "../abi.js";
import { POLICY_BELADY, POLICY_LFU, POLICY_LRU, POLICY_NONE } from "../abi.js";

export interface SimWasm extends EngineFunctions {
  memory: WebAssembly.Memory;
  /** field indices of the f64 records */
  layout: SimLayout;
  /** a copy of `fields` f64 at ptr (a record pointer returned by the calls above) */
  record(ptr: number, fields: number): Float64Array;
}

/** The record field constants exported by assembly/sim/index.ts, read from the module. */
const LAYOUT_NAMES = [
  "WEIGHT_EMBEDDING", "WEIGHT_LM_HEAD", "WEIGHT_ATTENTION", "WEIGHT_MLP", "WEIGHT_KV_CACHE", "FOOTPRINT_TOTAL",
  "PLACEABLE_GROUPS", "PART_DRAM_BUDGET", "PART_KV_SEQ_LEN", "PART_STATIC_RESIDENT", "PART_OVERFLOW",
  "PART_DYNAMIC_CAPACITY", "PART_CACHE_BYTES", "PART_RESIDENT", "PART_DENSE_FOOTPRINT", "PART_MLP_FOOTPRINT",
  "PART_PLACEMENTS", "PLACEMENT_GROUP", "PLACEMENT_STATIC", "PLACEMENT_FOOTPRINT", "PLACEMENT_DRAM", "PLACEMENT_FLASH",
  "PLACEMENT_DRAM_FRACTION", "PLACEMENT_FIELDS", "PART_CACHES", "CACHE_PLAN_ENTRY_BYTES", "CACHE_PLAN_ENTRIES_PER_LAYER",
  "CACHE_PLAN_BYTES_PER_LAYER", "CACHE_PLAN_FIELDS",
  "SEQ_PROMPT_TOKENS", "SEQ_TOKENS", "SEQ_TOK_S", "SEQ_HIT_RATE", "SEQ_FLASH_BYTES_PER_TOKEN", "SEQ_DRAM_BYTES_PER_TOKEN",
  "SEQ_MLP_FLASH_BYTES_PER_TOKEN", "SEQ_MLP_DRAM_BYTES_PER_TOKEN", "SEQ_MLP_DENSITY", "SEQ_FIXED_SECONDS_PER_TOKEN",
  "SEQ_DYNAMIC_SECONDS_PER_TOKEN", "SEQ_TTFT_S", "SEQ_DENSE_FLASH_TOK_S", "SEQ_FLASH_READS_PER_TOKEN",
  "SEQ_FLASH_BYTES_READ_PER_USEFUL_BYTE", "SEQ_PER_LAYER_HIT_RATE",
  "STAT_MEAN", "STAT_STD", "STAT_MIN", "STAT_MAX", "STAT_N", "STAT_FIELDS", "SPREAD_FIELDS",
  "SUM_DENSE_FLASH_TOK_S", "SUM_MEMORY_BYTES", "SUM_MEMORY_REDUCTION", "SUM_SPEEDUP_VS_DENSE_FLASH", "SUM_CACHE_BYTES",
  "SUM_FLASH_READS_PER_TOKEN", "SUM_FLASH_BYTES_READ_PER_USEFUL_BYTE", "SUM_PER_LAYER_HIT_RATE",
] as const;
export type SimLayout = Record<(typeof LAYOUT_NAMES)[number], number>;

const VIEWS = new WeakMap<EngineExports, SimWasm>();

/** The simulator's exports out of the engine's, checked so a stale build fails with a clear message. */
export function simWasm(exports: EngineExports): SimWasm {
  const cached = VIEWS.get(exports);
  if (cached) return cached;
  // the functions were checked when the instance was made (host/abi.ts); the record layout here
  const missing = LAYOUT_NAMES.filter((k) => !(exports[k] instanceof WebAssembly.Global));
  if (missing.length > 0) throw new Error(`build/engine.wasm lacks the simulator exports ${missing.join(", ")}: rebuild it (npm run build:wasm)`);
  const layout = Object.fromEntries(LAYOUT_NAMES.map((k) => [k, (exports[k] as WebAssembly.Global).value as number])) as SimLayout;
  const memory = exports.memory;
  const view: SimWasm = { ...exports, layout, record: (p: number, fields: number) => new Float64Array(memory.buffer, ptr(p), fields).slice() };
  VIEWS.set(exports, view);
  return view;
}

/** Cache policy ids by name (the ids are assembly/abi.ts POLICY_*). */
export const POLICY_ID = { none: POLICY_NONE, lru: POLICY_LRU, lfu: POLICY_LFU, belady: POLICY_BELADY } as const;
export type CachePolicy = keyof typeof POLICY_ID;
export const CACHE_POLICIES = Object.keys(POLICY_ID) as CachePolicy[];

/** Unsigned pointer from an i32 export. */
export const ptr = (p: number): number => p >>> 0;
