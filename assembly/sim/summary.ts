// Bytes and counters into time (../shared/spec/SIMULATOR.md "Per token, per layer group"): the
// fixed part per token (static groups, streamed groups, overflow), time to first token, each
// sequence's figures, and means and spreads over sequences. The caches (cache.ts, replay.ts) count
// the dynamic part; this file adds the rest, once, for the host and the WASI replay.
//
//   per token: t = fixed + sum over layers and groups of t_group      throughput = 1 / t
//   t_group   = max(flash / BW_flash, dram / BW_dram) (concurrent I/O) or their sum (serial)
//   flash     = bytes the Flash reads move (whole pages) + reads * read latency (docs/simulator.md
//               "Flash reads"; page 1 and latency 0: the bytes needed, the paper's model)
//   fixed     = the same rule over the non-MLP reads: attention and lm_head whole, one embedding
//               row, the KV cache at the sequence's average live length, each split between DRAM
//               and Flash as placed by the partition (partition.ts); the Flash part of each
//               group is one read per layer (attention, KV cache), per row (embedding) or one
//               (LM head).
import { arenaAlloc } from "../arena";
import { WEIGHT_ATTENTION, WEIGHT_EMBEDDING, WEIGHT_KV_CACHE, embeddingRowBytes, groupBytes, kvCacheBytes, modelLayers } from "./footprint";
import {
  PART_STATIC_RESIDENT, PART_DENSE_FOOTPRINT, PART_MLP_FOOTPRINT, PLACEABLE_GROUPS, PLACEMENT_GROUP, PLACEMENT_DRAM_FRACTION,
  partitionField, placementField,
} from "./partition";
import {
  C_CAPACITY, C_NEEDED, C_HITS, C_FLASH, C_DRAM, C_SECONDS, C_FLASH_READS, C_FLASH_PAGED,
  cacheRecord, counterSum, groupCount, groupEntries, groupEntryBytes, layerCount, layerHitRate, pagedBytes, readSecondsOf,
} from "./state";

// A sequence row: f64 fields, then the hit rate of each layer, then of each mask group.
export const SEQ_PROMPT_TOKENS: i32 = 0;
export const SEQ_TOKENS: i32 = 1;
export const SEQ_TOK_S: i32 = 2;
/** byte-weighted: MLP bytes served from DRAM / MLP bytes needed (1 if none needed) */
export const SEQ_HIT_RATE: i32 = 3;
export const SEQ_FLASH_BYTES_PER_TOKEN: i32 = 4;
export const SEQ_DRAM_BYTES_PER_TOKEN: i32 = 5;
export const SEQ_MLP_FLASH_BYTES_PER_TOKEN: i32 = 6;
export const SEQ_MLP_DRAM_BYTES_PER_TOKEN: i32 = 7;
/** MLP bytes needed per token / dense MLP bytes */
export const SEQ_MLP_DENSITY: i32 = 8;
export const SEQ_FIXED_SECONDS_PER_TOKEN: i32 = 9;
export const SEQ_DYNAMIC_SECONDS_PER_TOKEN: i32 = 10;
export const SEQ_TTFT_S: i32 = 11;
/** the dense model with the same static placement and its whole MLP read from Flash every token */
export const SEQ_DENSE_FLASH_TOK_S: i32 = 12;
/** Flash reads per token (a run of adjacent missed columns is one read) */
export const SEQ_FLASH_READS_PER_TOKEN: i32 = 13;
/** bytes the Flash reads move (whole pages) / bytes needed from Flash (1 if none needed) */
export const SEQ_FLASH_BYTES_READ_PER_USEFUL_BYTE: i32 = 14;
/** layerCount() per-layer hit rates, then groupCount() per-group rates |m and c| / |m| */
export const SEQ_PER_LAYER_HIT_RATE: i32 = 15;

// Statistics over the sequences with tokens: population standard deviation.
export const STAT_MEAN: i32 = 0;
export const STAT_STD: i32 = 1;
export const STAT_MIN: i32 = 2;
export const STAT_MAX: i32 = 3;
export const STAT_N: i32 = 4;
export const STAT_FIELDS: i32 = 5;
/** the sequence fields whose spread the summary gives, in its order */
const SPREAD: StaticArray<i32> = [SEQ_TOK_S, SEQ_HIT_RATE, SEQ_FLASH_BYTES_PER_TOKEN, SEQ_DRAM_BYTES_PER_TOKEN, SEQ_TTFT_S, SEQ_MLP_DENSITY];
export const SPREAD_FIELDS: i32 = 6;

// The summary record: the spreads (SPREAD_FIELDS x STAT_FIELDS), then these, then per layer and group.
export const SUM_DENSE_FLASH_TOK_S: i32 = SPREAD_FIELDS * STAT_FIELDS;
/** DRAM this configuration keeps resident: placed static groups + MLP caches */
export const SUM_MEMORY_BYTES: i32 = SUM_DENSE_FLASH_TOK_S + 1;
/** 1 - memory / dense footprint */
export const SUM_MEMORY_REDUCTION: i32 = SUM_DENSE_FLASH_TOK_S + 2;
export const SUM_SPEEDUP_VS_DENSE_FLASH: i32 = SUM_DENSE_FLASH_TOK_S + 3;
/** the caches at their set capacities, over all layers */
export const SUM_CACHE_BYTES: i32 = SUM_DENSE_FLASH_TOK_S + 4;
/** means over sequences of SEQ_FLASH_READS_PER_TOKEN and SEQ_FLASH_BYTES_READ_PER_USEFUL_BYTE */
export const SUM_FLASH_READS_PER_TOKEN: i32 = SUM_DENSE_FLASH_TOK_S + 5;
export const SUM_FLASH_BYTES_READ_PER_USEFUL_BYTE: i32 = SUM_DENSE_FLASH_TOK_S + 6;
/** mean hit rate of each layer, then of each group, then each group's cache bytes per layer */
export const SUM_PER_LAYER_HIT_RATE: i32 = SUM_DENSE_FLASH_TOK_S + 7;

let rows: usize = 0;
let rowsBytes: usize = 0;
let summary: usize = 0;
let summaryBytes: usize = 0;
let readFlash: f64 = 0; // fixedReads' result
let readDram: f64 = 0;
let readFlashMoved: f64 = 0; // readFlash in whole pages
let readFlashCount: f64 = 0; // Flash reads

// @ts-ignore: decorator
@inline function rowFields(): i32 { return SEQ_PER_LAYER_HIT_RATE + layerCount() + groupCount(); }
// @ts-ignore: decorator
@inline function rowAt(index: i32): usize { return rows + ((<usize>index * <usize>rowFields()) << 3); }
// @ts-ignore: decorator
@inline function field(row: usize, f: i32): f64 { return load<f64>(row + (<usize>f << 3)); }
// @ts-ignore: decorator
@inline function put(row: usize, f: i32, value: f64): void { store<f64>(row + (<usize>f << 3), value); }

/** Non-MLP bytes read per token, split by where they live (readFlash, readDram), and the Flash
 *  part as reads (readFlashCount) moving whole pages (readFlashMoved). */
function fixedReads(kvPositions: f64, embeddingRows: f64): void {
  readFlash = 0;
  readDram = 0;
  readFlashMoved = 0;
  readFlashCount = 0;
  for (let k = 0; k < PLACEABLE_GROUPS; k++) {
    const group = <i32>placementField(k, PLACEMENT_GROUP);
    const fraction = placementField(k, PLACEMENT_DRAM_FRACTION);
    const read =
      group == WEIGHT_KV_CACHE ? kvCacheBytes(kvPositions)
      : group == WEIGHT_EMBEDDING ? embeddingRowBytes(embeddingRows)
      : groupBytes(group, 0);
    readDram += read * fraction;
    const flash = read * (1 - fraction);
    readFlash += flash;
    if (flash > 0) {
      const reads = group == WEIGHT_KV_CACHE || group == WEIGHT_ATTENTION ? modelLayers() : group == WEIGHT_EMBEDDING ? embeddingRows : 1;
      readFlashCount += reads;
      readFlashMoved += pagedBytes(flash, reads);
    }
  }
}

/** The dense MLP read whole from Flash, once: per layer each group's columns are one read. */
function denseMlpReads(): f64 {
  return modelLayers() * <f64>groupCount();
}
/** The dense MLP bytes in whole pages: the page rounding of each group's read added to its footprint. */
function denseMlpMoved(mlpDense: f64): f64 {
  let rounding: f64 = 0;
  for (let g = 0; g < groupCount(); g++) {
    const bytes = <f64>groupEntries(g) * groupEntryBytes(g);
    rounding += pagedBytes(bytes, 1) - bytes;
  }
  return mlpDense + modelLayers() * rounding;
}

/** Writes row `index` from the counters of the sequence just run (partitionDram and the bandwidths
 *  must be set). Returns the row, or 0 when memory cannot hold it. */
export function recordSequence(index: i32, promptTokens: f64, tokens: f64): usize {
  const need = (<usize>(index + 1) * <usize>rowFields()) << 3;
  if (need > rowsBytes) {
    const bytes = need * 2;
    const grown = arenaAlloc(bytes);
    if (grown == 0) return 0;
    if (rows != 0) memory.copy(grown, rows, rowsBytes);
    rows = grown;
    rowsBytes = bytes;
  }
  const r = rowAt(index);
  const L = layerCount();
  const mlpFlash = counterSum(-1, C_FLASH);
  const mlpDram = counterSum(-1, C_DRAM);
  const mlpFlashMoved = counterSum(-1, C_FLASH_PAGED);
  const mlpFlashReads = counterSum(-1, C_FLASH_READS);
  const dynamicSeconds = counterSum(-1, C_SECONDS);
  for (let l = 0; l < L; l++) put(r, SEQ_PER_LAYER_HIT_RATE + l, layerHitRate(l));
  for (let g = 0; g < groupCount(); g++) {
    let needed: f64 = 0;
    let hits: f64 = 0;
    for (let l = 0; l < L; l++) {
      needed += load<f64>(cacheRecord(l, g), C_NEEDED);
      hits += load<f64>(cacheRecord(l, g), C_HITS);
    }
    put(r, SEQ_PER_LAYER_HIT_RATE + L + g, needed > 0 ? hits / needed : 1);
  }
  // KV live length averaged over the generated tokens: prompt + 1 ... prompt + T
  fixedReads(promptTokens + (tokens + 1) / 2, 1);
  const fixedFlash = readFlash;
  const fixedDram = readDram;
  const fixedFlashMoved = readFlashMoved;
  const fixedFlashReads = readFlashCount;
  const fixedSeconds = readSecondsOf(fixedFlashMoved, fixedFlashReads, fixedDram);
  const dynamicPerToken = tokens > 0 ? dynamicSeconds / tokens : 0;
  const mlpDense = partitionField(PART_MLP_FOOTPRINT);
  // prompt encoding: weights once (the MLP whole, from Flash: caches start empty and many
  // tokens' masks together need nearly every column), embedding rows and KV at prompt length
  fixedReads(promptTokens, Math.max(1, promptTokens));
  put(r, SEQ_PROMPT_TOKENS, promptTokens);
  put(r, SEQ_TOKENS, tokens);
  put(r, SEQ_TOK_S, 1 / (fixedSeconds + dynamicPerToken));
  put(r, SEQ_HIT_RATE, layerHitRate(-1));
  put(r, SEQ_FLASH_BYTES_PER_TOKEN, fixedFlash + (tokens > 0 ? mlpFlash / tokens : 0));
  put(r, SEQ_DRAM_BYTES_PER_TOKEN, fixedDram + (tokens > 0 ? mlpDram / tokens : 0));
  put(r, SEQ_MLP_FLASH_BYTES_PER_TOKEN, tokens > 0 ? mlpFlash / tokens : 0);
  put(r, SEQ_MLP_DRAM_BYTES_PER_TOKEN, tokens > 0 ? mlpDram / tokens : 0);
  put(r, SEQ_MLP_DENSITY, tokens > 0 && mlpDense > 0 ? (mlpFlash + mlpDram) / tokens / mlpDense : 0);
  put(r, SEQ_FIXED_SECONDS_PER_TOKEN, fixedSeconds);
  put(r, SEQ_DYNAMIC_SECONDS_PER_TOKEN, dynamicPerToken);
  const denseMoved = denseMlpMoved(mlpDense);
  const denseReads = denseMlpReads();
  put(r, SEQ_TTFT_S, readSecondsOf(readFlashMoved + denseMoved, readFlashCount + denseReads, readDram));
  put(r, SEQ_DENSE_FLASH_TOK_S, 1 / (fixedSeconds + readSecondsOf(denseMoved, denseReads, 0)));
  const flashNeeded = fixedFlash + (tokens > 0 ? mlpFlash / tokens : 0);
  const flashMoved = fixedFlashMoved + (tokens > 0 ? mlpFlashMoved / tokens : 0);
  put(r, SEQ_FLASH_READS_PER_TOKEN, fixedFlashReads + (tokens > 0 ? mlpFlashReads / tokens : 0));
  put(r, SEQ_FLASH_BYTES_READ_PER_USEFUL_BYTE, flashNeeded > 0 ? flashMoved / flashNeeded : 1);
  return r;
}

/** Row `index` as recorded (valid until the next recordSequence). */
export function sequenceRow(index: i32): usize {
  return rowAt(index);
}

/** Statistics of row field f over rows [0, count) with tokens, into `out` (STAT_FIELDS f64). */
function stats(count: i32, f: i32, out: usize): void {
  let n: i32 = 0;
  let sum: f64 = 0;
  for (let i = 0; i < count; i++) if (field(rowAt(i), SEQ_TOKENS) > 0) { sum += field(rowAt(i), f); n++; }
  memory.fill(out, 0, STAT_FIELDS << 3);
  if (n == 0) return;
  const mean = sum / n;
  let sq: f64 = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < count; i++) {
    const r = rowAt(i);
    if (!(field(r, SEQ_TOKENS) > 0)) continue;
    const v = field(r, f);
    sq += (v - mean) * (v - mean);
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  put(out, STAT_MEAN, mean);
  put(out, STAT_STD, Math.sqrt(sq / n));
  put(out, STAT_MIN, lo);
  put(out, STAT_MAX, hi);
  put(out, STAT_N, n);
}

/** The summary of rows [0, count) (SUM_* fields), or 0 when memory cannot hold it. Sequences
 *  without tokens are left out of every mean and spread. */
export function summarize(count: i32): usize {
  const L = layerCount();
  const G = groupCount();
  const bytes = <usize>(SUM_PER_LAYER_HIT_RATE + L + 2 * G) << 3;
  if (bytes > summaryBytes) {
    summary = arenaAlloc(bytes);
    if (summary == 0) { summaryBytes = 0; return 0; }
    summaryBytes = bytes;
  }
  // per-layer, per-group, dense and Flash read means go through the 5 fields from SUM_DENSE_FLASH_TOK_S, written last
  const scratch = summary + (<usize>SUM_DENSE_FLASH_TOK_S << 3);
  for (let k = 0; k < SPREAD_FIELDS; k++) stats(count, SPREAD[k], summary + (<usize>(k * STAT_FIELDS) << 3));
  for (let f = 0; f < L + G; f++) {
    stats(count, SEQ_PER_LAYER_HIT_RATE + f, scratch);
    put(summary, SUM_PER_LAYER_HIT_RATE + f, field(scratch, STAT_MEAN));
  }
  let cacheBytes: f64 = 0;
  for (let g = 0; g < G; g++) {
    const capacity = <f64>load<i32>(cacheRecord(0, g), C_CAPACITY);
    cacheBytes += capacity * groupEntryBytes(g) * <f64>L;
    put(summary, SUM_PER_LAYER_HIT_RATE + L + G + g, capacity * groupEntryBytes(g));
  }
  stats(count, SEQ_FLASH_READS_PER_TOKEN, scratch);
  const readsPerToken = field(scratch, STAT_MEAN);
  stats(count, SEQ_FLASH_BYTES_READ_PER_USEFUL_BYTE, scratch);
  const bytesReadPerUseful = field(scratch, STAT_MEAN);
  stats(count, SEQ_DENSE_FLASH_TOK_S, scratch);
  const denseTokS = field(scratch, STAT_MEAN);
  const memoryBytes = partitionField(PART_STATIC_RESIDENT) + cacheBytes;
  const dense = partitionField(PART_DENSE_FOOTPRINT);
  put(summary, SUM_DENSE_FLASH_TOK_S, denseTokS);
  put(summary, SUM_MEMORY_BYTES, memoryBytes);
  put(summary, SUM_MEMORY_REDUCTION, dense > 0 ? 1 - memoryBytes / dense : 0);
  put(summary, SUM_SPEEDUP_VS_DENSE_FLASH, field(summary, STAT_MEAN) / denseTokS);
  put(summary, SUM_CACHE_BYTES, cacheBytes);
  put(summary, SUM_FLASH_READS_PER_TOKEN, readsPerToken);
  put(summary, SUM_FLASH_BYTES_READ_PER_USEFUL_BYTE, bytesReadPerUseful);
  return summary;
}
