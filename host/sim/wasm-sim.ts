// Typed view of the simulator's wasm exports (assembly/sim/index.ts). The simulator shares the
// engine's instance and memory, so the engine's DIP-CA policy can read the cache flags directly.
// The cost model (footprints, DRAM partition, time, summaries) lives only in wasm; its results
// are f64 records whose field indices the module exports as constants (LAYOUT below), so the
// layout is defined once, in assembly/sim.
import type { EngineExports } from "../wasm.js";

export interface SimWasm {
  memory: WebAssembly.Memory;
  arenaAlloc(bytes: number): number;
  simConfigure(layers: number, groups: number): number;
  simSetGroup(group: number, entries: number, columnHeight: number, nLin: number, bytesPerWeight: number): number;
  simAllocate(): number;
  simSetCapacity(layer: number, group: number, entries: number): number;
  simSetPolicy(policy: number): number;
  simSetBandwidth(flashBytesPerSecond: number, dramBytesPerSecond: number, concurrent: number): number;
  simSetAdmissionSeed(seed: number): void;
  simBeginSequence(): void;
  simResetCounters(): void;
  simObserve(layer: number, group: number, idxPtr: number, count: number): number;
  simObserveFull(layer: number, group: number): number;
  simCachedFlags(layer: number, group: number): number;
  simTraceBuffer(words: number): number;
  simReplay(tracePtr: number, words: number, nTokens: number, perTokenSecondsPtr: number): number;
  simReplayErrorToken(): number;
  simReplayErrorLayer(): number;
  simReplayErrorGroup(): number;
  simReplayErrorWord(): number;
  simNeeded(layer: number, group: number): number;
  simHits(layer: number, group: number): number;
  simFlashBytes(layer: number, group: number): number;
  simDramBytes(layer: number, group: number): number;
  simSeconds(layer: number, group: number): number;
  simCacheSize(layer: number, group: number): number;
  simCacheCapacity(layer: number, group: number): number;
  simCacheClock(layer: number, group: number): number;
  simTotalFlashBytes(): number;
  simTotalDramBytes(): number;
  simTotalSeconds(): number;
  simLayerHitRate(layer: number): number;
  simHitRate(): number;
  simSetModel(layers: number, vocabSize: number, dim: number, hiddenDim: number, heads: number, kvHeads: number, gated: number): void;
  simSetBits(embedding: number, lmHead: number, attention: number, mlp: number, kvCache: number): void;
  simFootprint(seqLen: number): number;
  simKvCacheBytes(positions: number): number;
  simSetGroupAlwaysFull(group: number, alwaysFull: number): number;
  simPartition(dramBytes: number, kvSeqLen: number, staticOrder: number, tied: number): number;
  simStartRun(policy: number, flashGBps: number, dramGBps: number, concurrent: number, seed: number): number;
  simRecordSequence(index: number, promptTokens: number, tokens: number): number;
  simSequenceRow(index: number): number;
  simSummarize(count: number): number;
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
  "SEQ_DYNAMIC_SECONDS_PER_TOKEN", "SEQ_TTFT_S", "SEQ_DENSE_FLASH_TOK_S", "SEQ_PER_LAYER_HIT_RATE",
  "STAT_MEAN", "STAT_STD", "STAT_MIN", "STAT_MAX", "STAT_N", "STAT_FIELDS", "SPREAD_FIELDS",
  "SUM_DENSE_FLASH_TOK_S", "SUM_MEMORY_BYTES", "SUM_MEMORY_REDUCTION", "SUM_SPEEDUP_VS_DENSE_FLASH", "SUM_CACHE_BYTES",
  "SUM_PER_LAYER_HIT_RATE",
] as const;
export type SimLayout = Record<(typeof LAYOUT_NAMES)[number], number>;

const REQUIRED: (keyof SimWasm)[] = [
  "arenaAlloc", "simConfigure", "simSetGroup", "simAllocate", "simSetCapacity", "simSetPolicy", "simSetBandwidth",
  "simSetAdmissionSeed", "simBeginSequence", "simResetCounters", "simObserve", "simObserveFull", "simCachedFlags",
  "simTraceBuffer", "simReplay", "simReplayErrorToken", "simReplayErrorLayer", "simReplayErrorGroup",
  "simReplayErrorWord", "simNeeded", "simHits", "simFlashBytes", "simDramBytes", "simSeconds", "simCacheSize",
  "simCacheCapacity", "simCacheClock", "simTotalFlashBytes", "simTotalDramBytes", "simTotalSeconds",
  "simLayerHitRate", "simHitRate", "simSetModel", "simSetBits", "simFootprint", "simKvCacheBytes",
  "simSetGroupAlwaysFull", "simPartition", "simStartRun", "simRecordSequence", "simSequenceRow", "simSummarize",
];

const VIEWS = new WeakMap<EngineExports, SimWasm>();

/** The simulator's exports out of the engine's, checked so a stale build fails with a clear message. */
export function simWasm(exports: EngineExports): SimWasm {
  const cached = VIEWS.get(exports);
  if (cached) return cached;
  const missing: string[] = REQUIRED.filter((k) => typeof exports[k] !== "function");
  missing.push(...LAYOUT_NAMES.filter((k) => !(exports[k] instanceof WebAssembly.Global)));
  if (missing.length > 0) throw new Error(`build/engine.wasm lacks the simulator exports ${missing.join(", ")}: rebuild it (npm run build:wasm)`);
  const layout = Object.fromEntries(LAYOUT_NAMES.map((k) => [k, (exports[k] as WebAssembly.Global).value as number])) as SimLayout;
  const memory = exports.memory;
  const view = { ...exports, layout, record: (p: number, fields: number) => new Float64Array(memory.buffer, ptr(p), fields).slice() } as unknown as SimWasm;
  VIEWS.set(exports, view);
  return view;
}

export const POLICY_ID = { none: 0, lru: 1, lfu: 2, belady: 3 } as const;
export type CachePolicy = keyof typeof POLICY_ID;
export const CACHE_POLICIES = Object.keys(POLICY_ID) as CachePolicy[];

/** Unsigned pointer from an i32 export. */
export const ptr = (p: number): number => p >>> 0;
