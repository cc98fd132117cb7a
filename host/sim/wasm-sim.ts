// Typed view of the simulator's wasm exports (assembly/sim/index.ts). The simulator shares the
// engine's instance and memory, so the engine's DIP-CA policy can read the cache flags directly.
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
}

const REQUIRED: (keyof SimWasm)[] = [
  "arenaAlloc", "simConfigure", "simSetGroup", "simAllocate", "simSetCapacity", "simSetPolicy", "simSetBandwidth",
  "simSetAdmissionSeed", "simBeginSequence", "simResetCounters", "simObserve", "simObserveFull", "simCachedFlags",
  "simTraceBuffer", "simReplay", "simReplayErrorToken", "simReplayErrorLayer", "simReplayErrorGroup",
  "simReplayErrorWord", "simNeeded", "simHits", "simFlashBytes", "simDramBytes", "simSeconds", "simCacheSize",
  "simCacheCapacity", "simCacheClock", "simTotalFlashBytes", "simTotalDramBytes", "simTotalSeconds",
  "simLayerHitRate", "simHitRate",
];

/** The simulator's exports out of the engine's, checked so a stale build fails with a clear message. */
export function simWasm(exports: EngineExports): SimWasm {
  const missing = REQUIRED.filter((k) => typeof exports[k] !== "function");
  if (missing.length > 0) throw new Error(`build/engine.wasm lacks the simulator exports ${missing.join(", ")}: rebuild it (npm run build:wasm)`);
  return exports as unknown as SimWasm;
}

export const POLICY_ID = { none: 0, lru: 1, lfu: 2, belady: 3 } as const;
export type CachePolicy = keyof typeof POLICY_ID;
export const CACHE_POLICIES = Object.keys(POLICY_ID) as CachePolicy[];

/** Unsigned pointer from an i32 export. */
export const ptr = (p: number): number => p >>> 0;
