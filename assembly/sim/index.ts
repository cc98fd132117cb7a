// The Flash -> DRAM weight-cache simulator's wasm API (SIMULATOR.md). Everything is integer or f64
// math with total orders for every choice, so a run gives the same numbers on every runtime.
//
// Lifecycle:
//   simConfigure(layers, groups); simSetGroup(g, ...) for each group; simAllocate();
//   simSetCapacity(-1, g, entries); simSetPolicy(p); simSetBandwidth(...);
//   then per sequence either simReplay(...) (any policy) or
//   simBeginSequence() + simObserve(layer, group, ptr, count) per layer group per token (not Belady).
// Pointers are byte offsets into memory; masks are u32 column indices in ascending order.
import {
  C_CAPACITY, C_SIZE, C_CLOCK, C_FLAGS, C_NEEDED, C_HITS, C_FLASH, C_DRAM, C_SECONDS,
  POLICY_BELADY, configure, setGroup, allocate, setCapacity, setPolicy, setBandwidth,
  setAdmissionSeed, resetCaches, resetCounters, cacheRecord, validCache, currentPolicy,
  groupEntries, layerCount, groupCount, isAllocated,
} from "./state";
import { stepCache, checkMask } from "./cache";
import {
  replaySequence, traceBufferFor, lastErrorToken, lastErrorLayer, lastErrorGroup, lastErrorWord,
} from "./replay";

export {
  POLICY_NONE as SIM_POLICY_NONE, POLICY_LRU as SIM_POLICY_LRU, POLICY_LFU as SIM_POLICY_LFU,
  POLICY_BELADY as SIM_POLICY_BELADY,
} from "./state";
export { FULL_MASK as SIM_FULL_MASK } from "./replay";

/** Sets the model shape: layers x groups caches. Returns 0, or -1 on bad sizes (groups <= 8). */
export function simConfigure(layers: i32, groups: i32): i32 {
  return configure(layers, groups);
}

/** Describes mask group g: entries = columns one mask indexes, columnHeight = elements per column,
 *  nLin = linears sharing one entry, bytesPerWeight = bits / 8. Returns 0 or -1. */
export function simSetGroup(group: i32, entries: i32, columnHeight: i32, nLin: i32, bytesPerWeight: f64): i32 {
  return setGroup(group, entries, columnHeight, nLin, bytesPerWeight);
}

/** Lays out the caches (empty, capacity 0). Returns 0, -1 (group missing) or -2 (out of memory). */
export function simAllocate(): i32 {
  return allocate();
}

/** Capacity in entries of cache (layer, group); layer -1 = every layer. Returns 0 or -1. */
export function simSetCapacity(layer: i32, group: i32, entries: i32): i32 {
  return setCapacity(layer, group, entries);
}

/** 0 none, 1 lru, 2 lfu, 3 belady (replay only). Returns 0 or -1. */
export function simSetPolicy(policy: i32): i32 {
  return setPolicy(policy);
}

/** Bandwidths in bytes/s; concurrent != 0: Flash and DRAM reads overlap (time = max, else sum). */
export function simSetBandwidth(flashBytesPerSecond: f64, dramBytesPerSecond: f64, concurrent: i32): i32 {
  return setBandwidth(flashBytesPerSecond, dramBytesPerSecond, concurrent != 0);
}

/** Which new columns fit when a mask is larger than the cache: 0 = lowest indices, else a fixed
 *  pseudo-random ranking of the columns derived from the seed. */
export function simSetAdmissionSeed(seed: u32): void {
  setAdmissionSeed(seed);
}

/** Empties every cache: call at the start of each sequence. Counters are kept. */
export function simBeginSequence(): void {
  resetCaches();
}

/** Zeroes hit, byte and time counters. */
export function simResetCounters(): void {
  resetCounters();
}

/** Online step: mask of (layer, group) for the next token, count ascending u32 at idxPtr. Counts
 *  hits against the current cache, charges bytes and time, updates the cache. Returns the hits,
 *  -1 for a bad mask or cache, -2 for Belady (it needs the future: use simReplay). */
export function simObserve(layer: i32, group: i32, idxPtr: usize, count: i32): i32 {
  if (!validCache(layer, group)) return -1;
  if (currentPolicy() == POLICY_BELADY) return -2;
  if (checkMask(layer, group, idxPtr, count) != 0) return -1;
  const before = load<f64>(cacheRecord(layer, group), C_HITS);
  stepCache(layer, group, idxPtr, count, false);
  return <i32>(load<f64>(cacheRecord(layer, group), C_HITS) - before);
}

/** Online step with the full mask (every column needed: dense-read groups). Returns hits or < 0. */
export function simObserveFull(layer: i32, group: i32): i32 {
  if (!validCache(layer, group)) return -1;
  if (currentPolicy() == POLICY_BELADY) return -2;
  const before = load<f64>(cacheRecord(layer, group), C_HITS);
  stepCache(layer, group, 0, groupEntries(group), true);
  return <i32>(load<f64>(cacheRecord(layer, group), C_HITS) - before);
}

/** u8[entries] of cache (layer, group): 1 if the column is in DRAM now (DIP-CA reads this before
 *  choosing its next mask). Valid until the next simAllocate. 0 for a bad cache. */
export function simCachedFlags(layer: i32, group: i32): usize {
  return validCache(layer, group) ? load<usize>(cacheRecord(layer, group), C_FLAGS) : 0;
}

/** A u32 buffer of at least `words` for one sequence of masks (reused between calls; 0 if out of memory). */
export function simTraceBuffer(words: i32): usize {
  return traceBufferFor(words);
}

/** Empties the caches and replays one sequence: for each token, layer, group: count then count
 *  ascending indices (count 0xffffffff = full mask, no indices). perTokenSecondsPtr: f64[nTokens]
 *  of read time per token, or 0. Returns 0, or a negative code (see simReplayError*). */
export function simReplay(tracePtr: usize, words: i32, nTokens: i32, perTokenSecondsPtr: usize): i32 {
  return replaySequence(tracePtr, words, nTokens, perTokenSecondsPtr);
}
export function simReplayErrorToken(): i32 { return lastErrorToken(); }
export function simReplayErrorLayer(): i32 { return lastErrorLayer(); }
export function simReplayErrorGroup(): i32 { return lastErrorGroup(); }
export function simReplayErrorWord(): i32 { return lastErrorWord(); }

// ---- counters (since the last simResetCounters) ----

function cacheF64(layer: i32, group: i32, field: usize): f64 {
  return validCache(layer, group) ? load<f64>(cacheRecord(layer, group) + field) : 0;
}
/** sum of |m| over observed tokens */
export function simNeeded(layer: i32, group: i32): f64 { return cacheF64(layer, group, C_NEEDED); }
/** sum of |m and c| */
export function simHits(layer: i32, group: i32): f64 { return cacheF64(layer, group, C_HITS); }
export function simFlashBytes(layer: i32, group: i32): f64 { return cacheF64(layer, group, C_FLASH); }
export function simDramBytes(layer: i32, group: i32): f64 { return cacheF64(layer, group, C_DRAM); }
export function simSeconds(layer: i32, group: i32): f64 { return cacheF64(layer, group, C_SECONDS); }

export function simCacheSize(layer: i32, group: i32): i32 {
  return validCache(layer, group) ? load<i32>(cacheRecord(layer, group), C_SIZE) : -1;
}
export function simCacheCapacity(layer: i32, group: i32): i32 {
  return validCache(layer, group) ? load<i32>(cacheRecord(layer, group), C_CAPACITY) : -1;
}
/** masks observed by cache (layer, group) since the sequence began */
export function simCacheClock(layer: i32, group: i32): i32 {
  return validCache(layer, group) ? load<i32>(cacheRecord(layer, group), C_CLOCK) : -1;
}

function sumOver(layer: i32, field: usize): f64 {
  if (!isAllocated()) return 0;
  let s: f64 = 0;
  const first = layer < 0 ? 0 : layer;
  const last = layer < 0 ? layerCount() - 1 : layer;
  for (let l = first; l <= last; l++) {
    for (let g = 0; g < groupCount(); g++) s += load<f64>(cacheRecord(l, g) + field);
  }
  return s;
}
export function simTotalFlashBytes(): f64 { return sumOver(-1, C_FLASH); }
export function simTotalDramBytes(): f64 { return sumOver(-1, C_DRAM); }
export function simTotalSeconds(): f64 { return sumOver(-1, C_SECONDS); }

/** Byte-weighted hit rate of a layer (-1: all layers): DRAM bytes / needed bytes, 1 if none needed. */
export function simLayerHitRate(layer: i32): f64 {
  if (layer >= layerCount()) return 0;
  const dram = sumOver(layer, C_DRAM);
  const needed = dram + sumOver(layer, C_FLASH);
  return needed > 0 ? dram / needed : 1.0;
}
export function simHitRate(): f64 {
  return simLayerHitRate(-1);
}
