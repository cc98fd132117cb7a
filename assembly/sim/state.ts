// Simulator state: the mask groups, one column cache per (layer, group), and the settings that
// turn bytes into seconds (SIMULATOR.md). Everything big lives in one arena block, allocated at
// configure time and reused by every sequence, so `resetCaches` is a single memory.fill.
import { arenaAlloc } from "../arena";
export { POLICY_NONE, POLICY_LRU, POLICY_LFU, POLICY_BELADY } from "../abi";
import { POLICY_NONE, POLICY_LRU, POLICY_BELADY } from "../abi";

export const MAX_GROUPS: i32 = 8;
/** next use of an entry that is never used again in the sequence (Belady's "infinity") */
export const NEVER: u32 = 0xffffffff;

// Group descriptor (GROUP_BYTES each): a mask group's entries all have the same shape.
const G_ENTRIES: usize = 0; //     i32  columns governed by the mask (D for the DIP input mask)
const G_HEIGHT: usize = 4; //      i32  elements per column (I for W_gate/W_up columns)
const G_NLIN: usize = 8; //        i32  linears sharing one entry (2: W_gate and W_up)
const G_ALWAYS_FULL: usize = 12; // i32  1: a method reads the group dense (its cache gets DRAM last)
const G_ENTRY_BYTES: usize = 16; // f64 bytes one entry costs to read = height * bytesPerWeight * nLin
const GROUP_BYTES: usize = 32;

// Cache record (CACHE_BYTES each), one per (layer, group), layer-major.
export const C_CAPACITY: usize = 0; //  i32  entries the cache may hold
export const C_SIZE: usize = 4; //      i32  entries it holds now
export const C_CLOCK: usize = 8; //     i32  masks observed since the sequence started (= token index)
export const C_ENTRIES: usize = 12; //  i32  columns in the group
export const C_FLAGS: usize = 16; //    u8[n]  1 if the column is cached (read by DIP-CA)
export const C_LAST_USE: usize = 20; // u32[n] token of last use + 1 (0 = never used)
export const C_USES: usize = 24; //     u32[n] uses so far in this sequence (LFU)
export const C_NEXT_USE: usize = 28; // u32[n] token of next use (Belady), NEVER if none
export const C_MEMBERS: usize = 32; //  u32[n] cached columns, unordered, first `size` valid
export const C_SLOT: usize = 36; //     u32[n] position of a cached column in members
export const C_NEEDED: usize = 40; //   f64  sum of |m| (counters, reset by resetCounters)
export const C_HITS: usize = 48; //     f64  sum of |m and c|
export const C_FLASH: usize = 56; //    f64  bytes read from Flash
export const C_DRAM: usize = 64; //     f64  bytes read from DRAM
export const C_SECONDS: usize = 72; //  f64  read time
export const C_FLASH_READS: usize = 80; // f64 Flash reads: runs of adjacent missed columns
export const C_FLASH_PAGED: usize = 88; // f64 bytes those reads move, whole pages each
const CACHE_BYTES: usize = 128;
// bytes of per-column state per cache entry: flags + 5 u32 arrays
const BYTES_PER_COLUMN: usize = 1 + 4 * 5;

let nLayers: i32 = 0;
let nGroups: i32 = 0;
let groupTable: usize = 0; // MAX_GROUPS descriptors
let cacheTable: usize = 0; // nLayers * nGroups cache records
let cacheTableBytes: usize = 0;
let columnState: usize = 0; // per-column arrays of every cache, contiguous
let columnStateBytes: usize = 0;
let columnStateUsed: usize = 0;
let allocated: bool = false;

let policy: i32 = POLICY_LRU;
let flashBytesPerSecond: f64 = 1e9;
let dramBytesPerSecond: f64 = 60e9;
let concurrentIO: bool = true;
let admissionSeed: u32 = 0;
// Flash read granularity (docs/simulator.md "Flash reads"): page 1 and latency 0 charge bytes only
let flashPageBytes: f64 = 1;
let flashReadSeconds: f64 = 0;

// Scratch shared by all caches (they are stepped one at a time): sized to the largest group.
let maxEntries: i32 = 0;
let scratchBytes: usize = 0;
let inMask: usize = 0; //    u8[maxEntries]  1 while a column is in the mask being observed
let candidates: usize = 0; // u32[maxEntries] eviction / admission candidates

/** Sets the model shape. Invalidates the caches until `allocate` runs. Returns 0, or -1 on bad sizes. */
export function configure(layers: i32, groups: i32): i32 {
  if (layers <= 0 || groups <= 0 || groups > MAX_GROUPS) return -1;
  if (groupTable == 0) groupTable = arenaAlloc(<usize>MAX_GROUPS * GROUP_BYTES);
  if (groupTable == 0) return -1;
  memory.fill(groupTable, 0, <usize>MAX_GROUPS * GROUP_BYTES);
  nLayers = layers;
  nGroups = groups;
  allocated = false;
  return 0;
}

/** Describes mask group g. Returns 0, or -1 on bad arguments. */
export function setGroup(g: i32, entries: i32, columnHeight: i32, nLin: i32, bytesPerWeight: f64): i32 {
  if (g < 0 || g >= nGroups || entries <= 0 || columnHeight <= 0 || nLin <= 0 || !(bytesPerWeight > 0)) return -1;
  const d = groupTable + <usize>g * GROUP_BYTES;
  store<i32>(d, entries, G_ENTRIES);
  store<i32>(d, columnHeight, G_HEIGHT);
  store<i32>(d, nLin, G_NLIN);
  store<f64>(d, <f64>columnHeight * bytesPerWeight * <f64>nLin, G_ENTRY_BYTES);
  allocated = false;
  return 0;
}

/** Marks group g as read dense by its method: the DRAM partition serves it after the sparsified
 *  groups (assembly/sim/partition.ts). Returns 0 or -1. */
export function setGroupAlwaysFull(g: i32, alwaysFull: bool): i32 {
  if (g < 0 || g >= nGroups) return -1;
  store<i32>(groupTable + <usize>g * GROUP_BYTES, alwaysFull ? 1 : 0, G_ALWAYS_FULL);
  return 0;
}

/** Lays out every cache. Reuses the previous block when it is big enough. Returns 0, or -1 (a group
 *  undescribed) or -2 (out of memory). Capacities start at 0 (no cache). */
export function allocate(): i32 {
  if (nLayers <= 0) return -1;
  let perLayerColumns: usize = 0;
  let widest: i32 = 0;
  for (let g = 0; g < nGroups; g++) {
    const n = groupEntries(g);
    if (n <= 0) return -1;
    perLayerColumns += <usize>n;
    if (n > widest) widest = n;
  }
  const records = <usize>(nLayers * nGroups) * CACHE_BYTES;
  if (records > cacheTableBytes) {
    cacheTable = arenaAlloc(records);
    if (cacheTable == 0) { cacheTableBytes = 0; return -2; }
    cacheTableBytes = records;
  }
  // one u32 block per array per cache, then the u8 flags; u32 arrays first keep them aligned
  const columns = perLayerColumns * <usize>nLayers;
  const need = columns * BYTES_PER_COLUMN + 64;
  if (need > columnStateBytes) {
    columnState = arenaAlloc(need);
    if (columnState == 0) { columnStateBytes = 0; return -2; }
    columnStateBytes = need;
  }
  const scratch = <usize>widest * 5;
  if (scratch > scratchBytes) {
    inMask = arenaAlloc(<usize>widest);
    candidates = arenaAlloc(<usize>widest * 4);
    if (inMask == 0 || candidates == 0) { scratchBytes = 0; return -2; }
    scratchBytes = scratch;
  }
  maxEntries = widest;
  memory.fill(cacheTable, 0, records);
  let u32Cursor = columnState;
  let u8Cursor = columnState + columns * 20;
  for (let l = 0; l < nLayers; l++) {
    for (let g = 0; g < nGroups; g++) {
      const c = cacheRecord(l, g);
      const n = groupEntries(g);
      const words = <usize>n * 4;
      store<i32>(c, n, C_ENTRIES);
      store<usize>(c, u32Cursor, C_LAST_USE); u32Cursor += words;
      store<usize>(c, u32Cursor, C_USES); u32Cursor += words;
      store<usize>(c, u32Cursor, C_NEXT_USE); u32Cursor += words;
      store<usize>(c, u32Cursor, C_MEMBERS); u32Cursor += words;
      store<usize>(c, u32Cursor, C_SLOT); u32Cursor += words;
      store<usize>(c, u8Cursor, C_FLAGS); u8Cursor += <usize>n;
    }
  }
  columnStateUsed = columns * BYTES_PER_COLUMN;
  allocated = true;
  resetCaches();
  return 0;
}

/** Empties every cache (start of a sequence): no column cached, no use recorded, clocks at 0. */
export function resetCaches(): void {
  if (!allocated) return;
  memory.fill(columnState, 0, columnStateUsed);
  for (let l = 0; l < nLayers; l++) {
    for (let g = 0; g < nGroups; g++) {
      const c = cacheRecord(l, g);
      store<i32>(c, 0, C_SIZE);
      store<i32>(c, 0, C_CLOCK);
    }
  }
}

/** Zeroes the hit, byte and time counters of every cache (cache contents are kept). */
export function resetCounters(): void {
  if (!allocated) return;
  for (let l = 0; l < nLayers; l++) {
    for (let g = 0; g < nGroups; g++) {
      const c = cacheRecord(l, g);
      memory.fill(c + C_NEEDED, 0, C_FLASH_PAGED + 8 - C_NEEDED);
    }
  }
}

/** Sets the capacity (entries) of cache (layer, group); layer -1 sets every layer. Clamped to
 *  [0, entries]. Takes effect for the next sequence (call resetCaches). Returns 0 or -1. */
export function setCapacity(layer: i32, g: i32, entries: i32): i32 {
  if (!allocated || g < 0 || g >= nGroups || layer < -1 || layer >= nLayers) return -1;
  const n = groupEntries(g);
  const cap = entries < 0 ? 0 : entries > n ? n : entries;
  const first = layer < 0 ? 0 : layer;
  const last = layer < 0 ? nLayers - 1 : layer;
  for (let l = first; l <= last; l++) store<i32>(cacheRecord(l, g), cap, C_CAPACITY);
  return 0;
}

export function setPolicy(p: i32): i32 {
  if (p < POLICY_NONE || p > POLICY_BELADY) return -1;
  policy = p;
  return 0;
}

export function setBandwidth(flashBps: f64, dramBps: f64, concurrent: bool): i32 {
  if (!(flashBps > 0) || !(dramBps > 0)) return -1;
  flashBytesPerSecond = flashBps;
  dramBytesPerSecond = dramBps;
  concurrentIO = concurrent;
  return 0;
}

/** Flash reads move whole pages of pageBytes (>= 1) and each costs readSeconds (>= 0) more.
 *  Returns 0, or -1 on a bad value (the settings are then unchanged). */
export function setFlashReads(pageBytes: f64, readSeconds: f64): i32 {
  if (!(pageBytes >= 1) || !isFinite(pageBytes) || !(readSeconds >= 0) || !isFinite(readSeconds)) return -1;
  flashPageBytes = pageBytes;
  flashReadSeconds = readSeconds;
  return 0;
}

export function setAdmissionSeed(seed: u32): void {
  admissionSeed = seed;
}

// Accessors for the other sim modules (AssemblyScript imports are read-only bindings).
// @ts-ignore: decorator
@inline export function layerCount(): i32 { return nLayers; }
// @ts-ignore: decorator
@inline export function groupCount(): i32 { return nGroups; }
// @ts-ignore: decorator
@inline export function isAllocated(): bool { return allocated; }
// @ts-ignore: decorator
@inline export function currentPolicy(): i32 { return policy; }
// @ts-ignore: decorator
@inline export function seed(): u32 { return admissionSeed; }
/** true with page 1: Flash reads move exactly the bytes asked for */
// @ts-ignore: decorator
@inline export function byteExactFlash(): bool { return flashPageBytes <= 1; }


/** Bytes `reads` equal Flash reads of `bytes` in all move: whole pages each (docs/simulator.md
 *  "Flash reads"); with page 1, `bytes` itself, so fractional sizes stay exact. */
export function pagedBytes(bytes: f64, reads: f64): f64 {
  return flashPageBytes > 1 ? reads * Math.ceil(bytes / reads / flashPageBytes) * flashPageBytes : bytes;
}

/** Read time of one layer group (SIMULATOR.md): Flash moves `flashMoved` bytes (whole pages) in
 *  `flashReads` reads, DRAM `dramBytes`; overlapped (max) with concurrent I/O, else the sum. */
export function readSecondsOf(flashMoved: f64, flashReads: f64, dramBytes: f64): f64 {
  const f = flashMoved / flashBytesPerSecond + flashReads * flashReadSeconds;
  const d = dramBytes / dramBytesPerSecond;
  return concurrentIO ? Math.max(f, d) : f + d;
}
// @ts-ignore: decorator
@inline export function inMaskPtr(): usize { return inMask; }
// @ts-ignore: decorator
@inline export function candidatesPtr(): usize { return candidates; }

// @ts-ignore: decorator
@inline export function groupEntries(g: i32): i32 {
  return load<i32>(groupTable + <usize>g * GROUP_BYTES, G_ENTRIES);
}
export function groupHeight(g: i32): i32 {
  return load<i32>(groupTable + <usize>g * GROUP_BYTES, G_HEIGHT);
}
export function groupLinears(g: i32): i32 {
  return load<i32>(groupTable + <usize>g * GROUP_BYTES, G_NLIN);
}
export function groupAlwaysFull(g: i32): bool {
  return load<i32>(groupTable + <usize>g * GROUP_BYTES, G_ALWAYS_FULL) != 0;
}
// @ts-ignore: decorator
@inline export function groupEntryBytes(g: i32): f64 {
  return load<f64>(groupTable + <usize>g * GROUP_BYTES, G_ENTRY_BYTES);
}
// @ts-ignore: decorator
@inline export function cacheRecord(layer: i32, g: i32): usize {
  return cacheTable + <usize>(layer * nGroups + g) * CACHE_BYTES;
}
/** true when (layer, group) names an allocated cache */
export function validCache(layer: i32, g: i32): bool {
  return allocated && layer >= 0 && layer < nLayers && g >= 0 && g < nGroups;
}

/** Sum of an f64 counter over the groups of a layer (-1: of every layer). */
export function counterSum(layer: i32, field: usize): f64 {
  if (!allocated) return 0;
  let s: f64 = 0;
  const first = layer < 0 ? 0 : layer;
  const last = layer < 0 ? nLayers - 1 : layer;
  for (let l = first; l <= last; l++) {
    for (let g = 0; g < nGroups; g++) s += load<f64>(cacheRecord(l, g) + field);
  }
  return s;
}

/** Byte-weighted hit rate of a layer (-1: all layers): DRAM bytes / needed bytes, 1 if none needed. */
export function layerHitRate(layer: i32): f64 {
  if (layer >= nLayers) return 0;
  const dram = counterSum(layer, C_DRAM);
  const needed = dram + counterSum(layer, C_FLASH);
  return needed > 0 ? dram / needed : 1.0;
}
