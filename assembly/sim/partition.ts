// DRAM partitioning (../shared/spec/SIMULATOR.md "DRAM partitioning"): static groups first, their
// overflow streamed from Flash every token; what remains is the dynamic capacity for the MLP
// column caches, split evenly over the sparsified linears of every layer.
//
// Per-linear share: a layer's DIP caches cover 3 linears (W_gate, W_up share the input cache,
// W_down has the hidden cache), so with dynamic capacity C over L layers each linear gets
// C_lin = C / (3 L) bytes. An entry of the input cache is one column in W_gate and one in W_up,
// each h = I elements, so the cache holds floor(C_lin / (I p)) entries and occupies
// 2 C_lin bytes; the hidden cache holds floor(C_lin / (H p)) W_down columns.
// A linear never gets more than its full size; bytes a cache cannot use go to the other caches
// (sparsified linears first, then linears a method reads dense, which then pin columns).
//
// Inputs: the model (footprint.ts setModel, setBits) and the mask groups (state.ts setGroup,
// setGroupAlwaysFull). The result is one f64 record (PART_* below) the host and the WASI replay read.
import { WEIGHT_EMBEDDING, WEIGHT_LM_HEAD, WEIGHT_ATTENTION, WEIGHT_MLP, WEIGHT_KV_CACHE, FOOTPRINT_TOTAL, bytesPerWeight, footprint, modelLayers } from "./footprint";
import { MAX_GROUPS, groupCount, groupEntries, groupHeight, groupLinears, groupAlwaysFull } from "./state";

/** Placement candidates in the default order (host/sim/partition.ts STATIC_GROUPS): the KV cache
 *  must be writable DRAM; the embedding is read one row per token, so it is the cheapest to stream. */
export const PLACEABLE_GROUPS: i32 = 4;
const DEFAULT_ORDER: StaticArray<i32> = [WEIGHT_KV_CACHE, WEIGHT_ATTENTION, WEIGHT_LM_HEAD, WEIGHT_EMBEDDING];

// The partition record: f64 fields.
export const PART_DRAM_BUDGET: i32 = 0;
export const PART_KV_SEQ_LEN: i32 = 1;
export const PART_STATIC_RESIDENT: i32 = 2;
/** static footprint that did not fit and is streamed from Flash every token */
export const PART_OVERFLOW: i32 = 3;
/** DRAM left for the MLP caches */
export const PART_DYNAMIC_CAPACITY: i32 = 4;
/** DRAM the planned caches occupy over all layers (<= dynamic capacity) */
export const PART_CACHE_BYTES: i32 = 5;
/** static resident + caches */
export const PART_RESIDENT: i32 = 6;
/** every group's footprint, KV cache at kvSeqLen (the embedding not counted when tied) */
export const PART_DENSE_FOOTPRINT: i32 = 7;
export const PART_MLP_FOOTPRINT: i32 = 8;
/** PLACEABLE_GROUPS placements of PLACEMENT_FIELDS each: the static ones in placement order, then the streamed */
export const PART_PLACEMENTS: i32 = 9;
export const PLACEMENT_GROUP: i32 = 0; //         WEIGHT_* id
export const PLACEMENT_STATIC: i32 = 1; //        1: placed in DRAM as far as it fits; 0: streamed
export const PLACEMENT_FOOTPRINT: i32 = 2;
export const PLACEMENT_DRAM: i32 = 3; //          resident bytes
export const PLACEMENT_FLASH: i32 = 4; //         streamed bytes (not static, or overflow)
export const PLACEMENT_DRAM_FRACTION: i32 = 5; // share of each per-token read served by DRAM
export const PLACEMENT_FIELDS: i32 = 6;
/** per mask group CACHE_PLAN_FIELDS: the caches the dynamic capacity pays for */
export const PART_CACHES: i32 = PART_PLACEMENTS + PLACEABLE_GROUPS * PLACEMENT_FIELDS;
export const CACHE_PLAN_ENTRY_BYTES: i32 = 0; //       h * p_mlp * nLin
export const CACHE_PLAN_ENTRIES_PER_LAYER: i32 = 1;
export const CACHE_PLAN_BYTES_PER_LAYER: i32 = 2;
export const CACHE_PLAN_FIELDS: i32 = 3;
const PART_FIELDS: i32 = PART_CACHES + MAX_GROUPS * CACHE_PLAN_FIELDS;

const record = memory.data(8 * PART_FIELDS);
const share = memory.data(8 * MAX_GROUPS); //  f64 bytes per linear (per layer) each group receives
const active = memory.data(MAX_GROUPS); //      u8  still taking a share in this round

// @ts-ignore: decorator
@inline function put(field: i32, value: f64): void { store<f64>(record + (<usize>field << 3), value); }
// @ts-ignore: decorator
@inline export function partitionField(field: i32): f64 { return load<f64>(record + (<usize>field << 3)); }
// @ts-ignore: decorator
@inline export function placementField(k: i32, field: i32): f64 { return partitionField(PART_PLACEMENTS + k * PLACEMENT_FIELDS + field); }

/** The cache capacity (entries per layer) the last partition planned for group g. */
export function plannedEntries(g: i32): f64 {
  return partitionField(PART_CACHES + g * CACHE_PLAN_FIELDS + CACHE_PLAN_ENTRIES_PER_LAYER);
}

/** Places the static groups and plans the caches. staticOrder lists the WEIGHT_* ids placed in
 *  DRAM, first in the lowest 4 bits, each stored as id + 1 (0 ends the list). tied: the embedding
 *  is the LM head's matrix, held once as lm_head; its row reads are served from wherever lm_head is. */
export function partitionDram(dramBytes: f64, kvSeqLen: f64, staticOrder: u32, tied: bool): usize {
  const fp = footprint(kvSeqLen);
  let total = load<f64>(fp, FOOTPRINT_TOTAL << 3);
  if (tied) total -= load<f64>(fp, WEIGHT_EMBEDDING << 3);
  let free = dramBytes;
  let k = 0;
  for (let order = staticOrder; order != 0; order >>>= 4) {
    const group = <i32>(order & 15) - 1;
    const bytes = tied && group == WEIGHT_EMBEDDING ? 0 : load<f64>(fp + (<usize>group << 3));
    const dram = Math.min(bytes, free);
    free -= dram;
    place(k++, group, true, bytes, dram, bytes > 0 ? dram / bytes : 1);
  }
  for (let i = 0; i < PLACEABLE_GROUPS; i++) {
    const group = DEFAULT_ORDER[i];
    if (isListed(staticOrder, group)) continue;
    place(k++, group, false, tied && group == WEIGHT_EMBEDDING ? 0 : load<f64>(fp + (<usize>group << 3)), 0, 0);
  }
  if (tied) {
    const embedding = placementOf(WEIGHT_EMBEDDING);
    put(PART_PLACEMENTS + embedding * PLACEMENT_FIELDS + PLACEMENT_DRAM_FRACTION, placementField(placementOf(WEIGHT_LM_HEAD), PLACEMENT_DRAM_FRACTION));
  }
  let resident: f64 = 0;
  let overflow: f64 = 0;
  for (let i = 0; i < PLACEABLE_GROUPS; i++) resident += placementField(i, PLACEMENT_DRAM);
  for (let i = 0; i < PLACEABLE_GROUPS; i++) if (placementField(i, PLACEMENT_STATIC) != 0) overflow += placementField(i, PLACEMENT_FLASH);
  const dynamic = Math.max(0, dramBytes - resident);
  const cacheBytes = splitCapacity(dynamic);
  put(PART_DRAM_BUDGET, dramBytes);
  put(PART_KV_SEQ_LEN, kvSeqLen);
  put(PART_STATIC_RESIDENT, resident);
  put(PART_OVERFLOW, overflow);
  put(PART_DYNAMIC_CAPACITY, dynamic);
  put(PART_CACHE_BYTES, cacheBytes);
  put(PART_RESIDENT, resident + cacheBytes);
  put(PART_DENSE_FOOTPRINT, total);
  put(PART_MLP_FOOTPRINT, load<f64>(fp, WEIGHT_MLP << 3));
  return record;
}

function isListed(staticOrder: u32, group: i32): bool {
  for (let order = staticOrder; order != 0; order >>>= 4) if (<i32>(order & 15) - 1 == group) return true;
  return false;
}

function place(k: i32, group: i32, isStatic: bool, bytes: f64, dram: f64, dramFraction: f64): void {
  const at = PART_PLACEMENTS + k * PLACEMENT_FIELDS;
  put(at + PLACEMENT_GROUP, <f64>group);
  put(at + PLACEMENT_STATIC, isStatic ? 1 : 0);
  put(at + PLACEMENT_FOOTPRINT, bytes);
  put(at + PLACEMENT_DRAM, dram);
  put(at + PLACEMENT_FLASH, bytes - dram);
  put(at + PLACEMENT_DRAM_FRACTION, dramFraction);
}

function placementOf(group: i32): i32 {
  for (let i = 0; i < PLACEABLE_GROUPS; i++) if (<i32>placementField(i, PLACEMENT_GROUP) == group) return i;
  return -1;
}

// @ts-ignore: decorator
@inline function fullBytes(g: i32): f64 {
  return <f64>groupEntries(g) * <f64>groupHeight(g) * bytesPerWeight(WEIGHT_MLP);
}

/** Even split per linear, capped at each linear's size, leftovers re-split (water filling).
 *  Fills the cache plans; returns the bytes they occupy over all layers. */
function splitCapacity(capacity: f64): f64 {
  const p = bytesPerWeight(WEIGHT_MLP);
  const L = modelLayers();
  const G = groupCount();
  memory.fill(share, 0, 8 * MAX_GROUPS);
  let left = capacity;
  for (let tier = 0; tier < 2; tier++) {
    // the sparsified groups first, then those a method reads dense
    let remaining = 0;
    for (let i = 0; i < G; i++) {
      const inTier = groupAlwaysFull(i) == (tier == 1);
      store<u8>(active + i, inTier ? 1 : 0);
      if (inTier) remaining++;
    }
    while (remaining > 0 && left > 0) {
      let linears: f64 = 0;
      for (let i = 0; i < G; i++) if (load<u8>(active + i)) linears += <f64>groupLinears(i) * L;
      const each = left / linears;
      let saturated = 0;
      for (let i = 0; i < G; i++) if (load<u8>(active + i) && fullBytes(i) <= each) saturated++;
      if (saturated == 0) {
        for (let i = 0; i < G; i++) if (load<u8>(active + i)) store<f64>(share + (<usize>i << 3), each);
        left = 0;
        break;
      }
      for (let i = 0; i < G; i++) {
        if (!load<u8>(active + i) || !(fullBytes(i) <= each)) continue;
        store<f64>(share + (<usize>i << 3), fullBytes(i));
        left -= fullBytes(i) * <f64>groupLinears(i) * L;
        store<u8>(active + i, 0);
        remaining--;
      }
    }
    left = Math.max(0, left);
  }
  let cacheBytes: f64 = 0;
  for (let i = 0; i < G; i++) {
    const h = <f64>groupHeight(i);
    const n = <f64>groupEntries(i);
    const s = load<f64>(share + (<usize>i << 3));
    const entryBytes = h * p * <f64>groupLinears(i);
    const entries = s >= fullBytes(i) ? n : Math.min(n, Math.floor(s / (h * p)));
    const at = PART_CACHES + i * CACHE_PLAN_FIELDS;
    put(at + CACHE_PLAN_ENTRY_BYTES, entryBytes);
    put(at + CACHE_PLAN_ENTRIES_PER_LAYER, entries);
    put(at + CACHE_PLAN_BYTES_PER_LAYER, entries * entryBytes);
    cacheBytes += entries * entryBytes * L;
  }
  return cacheBytes;
}
