// The Flash -> DRAM weight-cache simulator's wasm API (SIMULATOR.md). Everything is integer or f64
// math with total orders for every choice, so a run gives the same numbers on every runtime.
//
// Lifecycle:
//   simSetModel(...) and simSetBits(...) (footprints: simFootprint, simKvCacheBytes);
//   simConfigure(layers, groups); simSetGroup(g, ...) and simSetGroupAlwaysFull(g, ...) for each
//   group; simPartition(...) (the DRAM partition: cache capacities); simStartRun(...) (allocates
//   the caches at those capacities, sets policy, bandwidths and seed), or by hand simAllocate(),
//   simSetCapacity(-1, g, entries), simSetPolicy(p), simSetBandwidth(...);
//   then per sequence either simReplay(...) (any policy) or
//   simBeginSequence() + simObserve(layer, group, ptr, count) per layer group per token (not Belady);
//   after each sequence simRecordSequence(i, ...), at the end simSummarize(n).
// Records (footprint, partition, sequence rows, summary) are f64 arrays whose field indices are
// the exported constants below (FOOTPRINT_*, PART_*, SEQ_*, SUM_*): host/sim/wasm-sim.ts reads them.
// Pointers are byte offsets into memory; masks are u32 column indices in ascending order.
import {
  C_CAPACITY, C_SIZE, C_CLOCK, C_FLAGS, C_NEEDED, C_HITS, C_FLASH, C_DRAM, C_SECONDS, C_FLASH_READS, C_FLASH_PAGED,
  POLICY_BELADY, configure, setGroup, allocate, setCapacity, setPolicy, setBandwidth, setFlashReads,
  setAdmissionSeed, resetCaches, resetCounters, cacheRecord, validCache, currentPolicy,
  groupEntries, groupCount, counterSum, layerHitRate, setGroupAlwaysFull, POLICY_NONE,
} from "./state";
import { stepCache, checkMask } from "./cache";
import { setModel, setBits, footprint, kvCacheBytes } from "./footprint";
import { partitionDram, plannedEntries } from "./partition";
import { recordSequence, sequenceRow, summarize } from "./summary";
import {
  replaySequence, traceBufferFor, lastErrorToken, lastErrorLayer, lastErrorGroup, lastErrorWord,
} from "./replay";

export {
  WEIGHT_EMBEDDING, WEIGHT_LM_HEAD, WEIGHT_ATTENTION, WEIGHT_MLP, WEIGHT_KV_CACHE, FOOTPRINT_TOTAL,
} from "./footprint";
export {
  PLACEABLE_GROUPS, PART_DRAM_BUDGET, PART_KV_SEQ_LEN, PART_STATIC_RESIDENT, PART_OVERFLOW, PART_DYNAMIC_CAPACITY,
  PART_CACHE_BYTES, PART_RESIDENT, PART_DENSE_FOOTPRINT, PART_MLP_FOOTPRINT, PART_PLACEMENTS, PLACEMENT_GROUP,
  PLACEMENT_STATIC, PLACEMENT_FOOTPRINT, PLACEMENT_DRAM, PLACEMENT_FLASH, PLACEMENT_DRAM_FRACTION, PLACEMENT_FIELDS,
  PART_CACHES, CACHE_PLAN_ENTRY_BYTES, CACHE_PLAN_ENTRIES_PER_LAYER, CACHE_PLAN_BYTES_PER_LAYER, CACHE_PLAN_FIELDS,
} from "./partition";
export {
  SEQ_PROMPT_TOKENS, SEQ_TOKENS, SEQ_TOK_S, SEQ_HIT_RATE, SEQ_FLASH_BYTES_PER_TOKEN, SEQ_DRAM_BYTES_PER_TOKEN,
  SEQ_MLP_FLASH_BYTES_PER_TOKEN, SEQ_MLP_DRAM_BYTES_PER_TOKEN, SEQ_MLP_DENSITY, SEQ_FIXED_SECONDS_PER_TOKEN,
  SEQ_DYNAMIC_SECONDS_PER_TOKEN, SEQ_TTFT_S, SEQ_DENSE_FLASH_TOK_S, SEQ_FLASH_READS_PER_TOKEN,
  SEQ_FLASH_BYTES_READ_PER_USEFUL_BYTE, SEQ_PER_LAYER_HIT_RATE, STAT_MEAN, STAT_STD,
  STAT_MIN, STAT_MAX, STAT_N, STAT_FIELDS, SPREAD_FIELDS, SUM_DENSE_FLASH_TOK_S, SUM_MEMORY_BYTES,
  SUM_MEMORY_REDUCTION, SUM_SPEEDUP_VS_DENSE_FLASH, SUM_CACHE_BYTES, SUM_FLASH_READS_PER_TOKEN,
  SUM_FLASH_BYTES_READ_PER_USEFUL_BYTE, SUM_PER_LAYER_HIT_RATE,
} from "./summary";

// ---- the cost model (footprint.ts, partition.ts, summary.ts) ----

/** The model's shape (dimensions as counts; gated != 0: W_gate, W_up, W_down). */
export function simSetModel(layers: f64, vocabSize: f64, dim: f64, hiddenDim: f64, heads: f64, kvHeads: f64, gated: i32): void {
  setModel(layers, vocabSize, dim, hiddenDim, heads, kvHeads, gated != 0);
}

/** Bits per weight of each group (per cached element for the KV cache). */
export function simSetBits(embedding: f64, lmHead: f64, attention: f64, mlp: f64, kvCache: f64): void {
  setBits(embedding, lmHead, attention, mlp, kvCache);
}

/** The footprint record (bytes per WEIGHT_* group, then FOOTPRINT_TOTAL) with the KV cache at seqLen. */
export function simFootprint(seqLen: f64): usize {
  return footprint(seqLen);
}

/** KV cache bytes at `positions` cached tokens. */
export function simKvCacheBytes(positions: f64): f64 {
  return kvCacheBytes(positions);
}

/** alwaysFull != 0: the method reads group g dense; the partition gives its cache DRAM last. */
export function simSetGroupAlwaysFull(group: i32, alwaysFull: i32): i32 {
  return setGroupAlwaysFull(group, alwaysFull != 0);
}

/** The DRAM partition record (PART_*) for the model, bits and groups set. staticOrder: the WEIGHT_*
 *  ids placed in DRAM, in order, as id + 1 per 4 bits from the lowest; tied != 0: tied embeddings. */
export function simPartition(dramBytes: f64, kvSeqLen: f64, staticOrder: u32, tied: i32): usize {
  return partitionDram(dramBytes, kvSeqLen, staticOrder, tied != 0);
}

/** Starts a run on the partition just made: allocates the caches at the planned capacities (0 for
 *  policy none), sets the policy, the bandwidths (GB/s, powers of 10), byte-exact Flash reads
 *  (page 1, no read latency: simSetFlashReads after this call changes them), the admission seed,
 *  and empties caches and counters. Returns 0, -1 (a group undescribed), -2 (out of memory), -3
 *  (bad policy) or -4 (bad bandwidth). */
export function simStartRun(policy: i32, flashGBps: f64, dramGBps: f64, concurrent: i32, seed: u32): i32 {
  const rc = allocate();
  if (rc != 0) return rc;
  for (let g = 0; g < groupCount(); g++) setCapacity(-1, g, policy == POLICY_NONE ? 0 : <i32>plannedEntries(g));
  if (setPolicy(policy) != 0) return -3;
  if (setBandwidth(flashGBps * 1e9, dramGBps * 1e9, concurrent != 0) != 0) return -4;
  setFlashReads(1, 0);
  setAdmissionSeed(seed);
  resetCaches();
  resetCounters();
  return 0;
}

/** Writes sequence row `index` (SEQ_*) from the counters of the sequence just run; 0 if out of memory. */
export function simRecordSequence(index: i32, promptTokens: f64, tokens: f64): usize {
  return recordSequence(index, promptTokens, tokens);
}

/** Sequence row `index` as last recorded. */
export function simSequenceRow(index: i32): usize {
  return sequenceRow(index);
}

/** The summary record (SUM_*) over sequence rows [0, count); 0 if out of memory. */
export function simSummarize(count: i32): usize {
  return summarize(count);
}

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

/** Flash reads move whole pages of pageBytes (>= 1; 1: bytes only) and each costs readSeconds
 *  (>= 0) more (docs/simulator.md "Flash reads"). Returns 0 or -1. */
export function simSetFlashReads(pageBytes: f64, readSeconds: f64): i32 {
  return setFlashReads(pageBytes, readSeconds);
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
/** Flash reads: runs of adjacent missed columns */
export function simFlashReads(layer: i32, group: i32): f64 { return cacheF64(layer, group, C_FLASH_READS); }
/** bytes those reads move, whole pages each (= simFlashBytes with page 1) */
export function simFlashBytesMoved(layer: i32, group: i32): f64 { return cacheF64(layer, group, C_FLASH_PAGED); }

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

export function simTotalFlashBytes(): f64 { return counterSum(-1, C_FLASH); }
export function simTotalDramBytes(): f64 { return counterSum(-1, C_DRAM); }
export function simTotalSeconds(): f64 { return counterSum(-1, C_SECONDS); }

/** Byte-weighted hit rate of a layer (-1: all layers): DRAM bytes / needed bytes, 1 if none needed. */
export function simLayerHitRate(layer: i32): f64 {
  return layerHitRate(layer);
}
export function simHitRate(): f64 {
  return simLayerHitRate(-1);
}
