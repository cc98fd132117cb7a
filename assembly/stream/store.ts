// The streaming weight store: a fixed number of column slots per (layer, mask group) in wasm
// memory, filled from storage by the host, governed by the simulator's cache policies
// (assembly/sim/cache.ts decides what is cached; this file decides where it lives).
//
// Per token and layer, once a mask is chosen, streamGather
//   1. steps the simulator's cache for (layer, group) with the mask: hits, evictions, admissions
//      are exactly what `dip simulate` would do with the same mask and capacity;
//   2. frees the slots of evicted columns, gives each admitted column a free slot;
//   3. walks the mask in chunks of as many columns (cached or not) as half the staging area
//      holds: missing columns admitted by the policy are read into their slots, the ones that do
//      not fit (mask larger than the cache) into the chunk's half of the staging area (the
//      halves alternate);
//   4. pipelines: it asks the host to start reading chunk c (env.streamIssue), then waits for
//      chunk c-1 (env.streamAwait) and gathers it with gatherSlotsF32, so the storage delivers one
//      chunk while the previous one is computed, as a device with its own DMA would. The gather
//      runs over the resident gatherColumnsF32's list (kernels/gather.ts gatherOrder: mask order
//      with blocks of consecutive columns interleaved), cut in the same two parts,
//      so the result is bit-identical to it.
// One entry of group 0 (input mask) is the W_gate column followed by the W_up column (2 x I
// values); one entry of group 1 (hidden mask) is the W_down column (D values). A stream's dtype
// (streamSetDtype) says how a column is stored: f32, a q8 stream column (int8 quants and an f16
// scale per 32 outputs, gather-q8.ts) or Q4_0 blocks along the column (gather-q4.ts); both
// quantized gathers are bit-identical to an f32 gather of the columns' values.
//
// When the static weights do not fit the DRAM budget (SIMULATOR.md: static overflow is streamed
// every token), the engine holds only the first rows of the LM head (and of an untied embedding):
// streamLinearRows reads the other rows in chunks through the same staging halves and pipeline,
// streamTableRow reads one embedding row. Host groups 2 and 3 name those row ranges.
import { arenaAlloc } from "../arena";
import { stepCache } from "../sim/cache";
import { cacheRecord, C_FLAGS, resetCaches } from "../sim/state";
import { gatherSlotsF32 } from "../kernels/gather-slots";
import { gatherBlock, gatherHalf, gatherOrder } from "../kernels/gather";
import { addInPlace } from "../kernels/elementwise";
import { gatherSlotsQ8 } from "./gather-q8";
import { gatherSlotsQ4 } from "./gather-q4";
import { dequantRowQ8 } from "../kernels/q8";
import { dequantRowQ4_0 } from "../kernels/q4";
import { DTYPE_Q4_0, DTYPE_Q8 } from "../abi";

/** out = W x for a row-major [rows x cols] W: the model's dtype-dispatching product (model/linear.ts
 *  linear), passed in so the store stays below the model layer (../shared/spec/ARCHITECTURE.md). */
export type RowsProduct = (out: usize, w: usize, x: usize, rows: i32, cols: i32) => void;

import { ROWS_LM_HEAD } from "../abi";
export { ROWS_LM_HEAD, ROWS_EMBEDDING } from "../abi";

/** Host import: start reading `count` columns listed at listPtr as (column u32, destination
 *  pointer u32) pairs, ascending by column, of (layer, group) into wasm memory. Returns a ticket
 *  for streamAwait. The list must stay untouched until then. Throws on an I/O or checksum error. */
// @ts-ignore: decorator
@external("env", "streamIssue")
declare function hostStreamIssue(layer: i32, group: i32, listPtr: usize, count: i32): i32;

/** Host import: returns once the read with this ticket (and every earlier one) has landed. */
// @ts-ignore: decorator
@external("env", "streamAwait")
declare function hostStreamAwait(ticket: i32): void;

export let streamOn: bool = false;

const GROUPS = 2;
let nLayers: i32 = 0;
let entries = new StaticArray<i32>(GROUPS);
let entryBytes = new StaticArray<i32>(GROUPS);
let capacity = new StaticArray<i32>(GROUPS);
// per (layer, group), layer-major: pointers to per-cache arrays
let slotOfTable: usize = 0; //    -> u32[entries]  slot + 1 of a resident column, 0 = not resident
let slotColTable: usize = 0; //   -> u32[entries]  column + 1 held by a slot, 0 = free (first cap used)
let freeTable: usize = 0; //      -> u32[entries]  stack of free slots
let freeCountTable: usize = 0; // i32 per cache
let slotBaseTable: usize = 0; //  usize per cache: cap * entryBytes bytes of column data
let ptrs: usize = 0; //           u32[maxEntries]  address of the k-th kept column
let fetchList: usize = 0; //      u32[2 * maxEntries] (column, destination) pairs
let staging: usize = 0; //        stageBytes: columns of either group that are read but not cached
let stageHalfBytes: usize = 0; // one chunk's half of the staging area
let chunkEntries = new StaticArray<i32>(GROUPS); // columns of group g one chunk reads at most
let columnsFetched: f64 = 0; // columns asked of storage since the start (the slot bookkeeping's spec reads it)
let rowBytes: usize = 0;
let chunkRows: i32 = 0;
let columnDtype: i32 = 0; // DTYPE_F32, DTYPE_Q8 or DTYPE_Q4_0: how the columns and streamed rows are stored

export function streamSetGroup(g: i32, entries_: i32, entryBytes_: i32): void {
  entries[g] = entries_;
  entryBytes[g] = entryBytes_;
}

/**
 * The stream's dtype (DTYPE_F32 or DTYPE_Q8) and the bytes of one embedding / LM head row as read
 * (f32: D floats; q8: an eighth of a group of 8 rows in the q8 tiles, which are read 8 rows at a
 * time). Before streamAllocate.
 */
export function streamSetDtype(dtype: i32, rowBytes_: i32): void {
  columnDtype = dtype;
  rowBytes = <usize>rowBytes_;
}

/** Bytes of n column blocks of group g as stored: what a gather of n kept columns reads. */
export function streamEntryBytes(g: i32, n: i32): f64 {
  return <f64>n * <f64>entryBytes[g];
}

/** Allocates everything but the slot data (bounded by the column counts). Returns 0 or -2. */
export function streamAllocate(layers: i32, stageBytes: i32): i32 {
  nLayers = layers;
  const caches = <usize>layers * GROUPS;
  slotOfTable = arenaAlloc(caches * 4);
  slotColTable = arenaAlloc(caches * 4);
  freeTable = arenaAlloc(caches * 4);
  freeCountTable = arenaAlloc(caches * 4);
  slotBaseTable = arenaAlloc(caches * 4);
  if (slotBaseTable == 0) return -2;
  let widest = 0;
  let widestBytes = 0;
  for (let g = 0; g < GROUPS; g++) {
    widest = max(widest, entries[g]);
    widestBytes = max(widestBytes, entryBytes[g]);
  }
  // a group's outputs are the other group's entries (W_gate/W_up: hidden; W_down: dim)
  secondPart0 = arenaAlloc(<usize>widest * 4);
  secondPart1 = arenaAlloc(<usize>widest * 4);
  gatherList = arenaAlloc(<usize>widest * 4);
  if (gatherList == 0) return -2;
  for (let g = 0; g < GROUPS; g++) {
    for (let l = 0; l < layers; l++) {
      const n = <usize>entries[g] * 4;
      const a = arenaAlloc(n);
      const b = arenaAlloc(n);
      const c = arenaAlloc(n);
      if (c == 0) return -2;
      store<u32>(slotOfTable + (cacheIndex(l, g) << 2), <u32>a);
      store<u32>(slotColTable + (cacheIndex(l, g) << 2), <u32>b);
      store<u32>(freeTable + (cacheIndex(l, g) << 2), <u32>c);
    }
  }
  // a chunk is half the staging area (at least one column, at least 8 rows of the LM head, whose
  // matvec groups rows by 8): one half is read while the other is gathered
  stageHalfBytes = <usize>max(max(stageBytes >> 1, widestBytes), 8 * <i32>rowBytes);
  // whole blocks of the gather's order when a half holds one (kernels/gather.ts gatherOrder): an
  // interleaved block is then one chunk, read as one range of the file
  for (let g = 0; g < GROUPS; g++) {
    const fit = max(1, <i32>stageHalfBytes / entryBytes[g]);
    const block = gatherBlock(entries[1 - g]); // a group's outputs are the other group's entries
    chunkEntries[g] = fit >= block ? fit - fit % block : fit;
  }
  // rows per LM head chunk: a multiple of 8 (bit-identical to one matvec over all rows); the
  // fetch list holds two chunks' lists (one in flight, one being written)
  chunkRows = max(8, <i32>(stageHalfBytes / rowBytes) & ~7);
  ptrs = arenaAlloc(<usize>widest * 4);
  fetchList = arenaAlloc(<usize>max(widest, 2 * chunkRows) * 8);
  staging = arenaAlloc(2 * stageHalfBytes);
  if (ptrs == 0 || fetchList == 0 || staging == 0) return -2;
  return 0;
}

/** Slot data for `cap` entries of group g in every layer (cap must equal the simulator's). Returns 0 or -2. */
export function streamSetCapacity(g: i32, cap: i32): i32 {
  capacity[g] = cap;
  for (let l = 0; l < nLayers; l++) {
    const base = cap > 0 ? arenaAlloc(<usize>cap * <usize>entryBytes[g]) : 0;
    if (cap > 0 && base == 0) return -2;
    store<u32>(slotBaseTable + (cacheIndex(l, g) << 2), <u32>base);
  }
  streamBeginSequence();
  return 0;
}

export function streamEnable(on: bool): void {
  streamOn = on;
}

/** Empties every cache (the simulator's and the slots), as the simulator does per sequence. */
export function streamBeginSequence(): void {
  resetCaches();
  for (let l = 0; l < nLayers; l++) {
    for (let g = 0; g < GROUPS; g++) {
      const i = cacheIndex(l, g);
      memory.fill(<usize>load<u32>(slotOfTable + (i << 2)), 0, <usize>entries[g] * 4);
      memory.fill(<usize>load<u32>(slotColTable + (i << 2)), 0, <usize>entries[g] * 4);
      const free = <usize>load<u32>(freeTable + (i << 2));
      const cap = capacity[g];
      for (let s = 0; s < cap; s++) store<u32>(free + (<usize>s << 2), <u32>(cap - 1 - s));
      store<i32>(freeCountTable + (i << 2), cap);
    }
  }
}

/** Columns read from storage since the start (both groups). */
export function streamColumnsFetched(): f64 {
  return columnsFetched;
}

// @ts-ignore: decorator
@inline function cacheIndex(l: i32, g: i32): usize {
  return <usize>l * GROUPS + <usize>g;
}

/**
 * out0 = sum over kept k of x[idx[k]] * part 0 of column idx[k]; with out1 != 0 also
 * out1 from part 1 (group 0: W_gate part then W_up part, nOut floats each).
 */
export function streamGather(l: i32, g: i32, idx: usize, n: i32, x: usize, out0: usize, out1: usize, nOut: i32): void {
  const i = cacheIndex(l, g);
  const slotOf = <usize>load<u32>(slotOfTable + (i << 2));
  const slotCol = <usize>load<u32>(slotColTable + (i << 2));
  const free = <usize>load<u32>(freeTable + (i << 2));
  let freeCount = load<i32>(freeCountTable + (i << 2));
  const base = <usize>load<u32>(slotBaseTable + (i << 2));
  const eb = <usize>entryBytes[g];
  const cap = capacity[g];
  const flags = load<usize>(cacheRecord(l, g), C_FLAGS);

  stepCache(l, g, idx, n, false);
  // from here on the mask in the resident gather's order (kernels/gather.ts gatherOrder): the
  // columns are read, cached and gathered in that order, so the sums match it bit for bit
  idx = gatherOrder(gatherList, idx, n, nOut);

  // slots of evicted columns (resident here, no longer cached there) become free
  for (let s = 0; s < cap; s++) {
    const c1 = load<u32>(slotCol + (<usize>s << 2));
    if (c1 != 0 && load<u8>(flags + <usize>(c1 - 1)) == 0) {
      store<u32>(slotOf + (<usize>(c1 - 1) << 2), 0);
      store<u32>(slotCol + (<usize>s << 2), 0);
      store<u32>(free + (<usize>freeCount << 2), <u32>s);
      freeCount++;
    }
  }

  const partBytes = <usize>nOut << 2;
  memory.fill(out0, 0, partBytes);
  if (out1) memory.fill(out1, 0, partBytes);
  gatherCut = gatherHalf(n);
  memory.fill(secondPart0, 0, partBytes);
  if (out1) memory.fill(secondPart1, 0, partBytes);
  // the open chunk: kept positions [start, k), its fetches at fetchList[firstFetch, nFetch)
  let start = 0;
  let firstFetch = 0;
  let nFetch = 0;
  let nStage = 0;
  let half: usize = 0;
  pendingStart = -1;
  for (let k = 0; k < n; k++) {
    const col = load<u32>(idx + (<usize>k << 2));
    const s1 = load<u32>(slotOf + (<usize>col << 2));
    let dest: usize;
    if (s1 != 0) {
      dest = base + <usize>(s1 - 1) * eb; // cached
    } else if (load<u8>(flags + <usize>col) != 0) {
      // admitted by the policy: it gets a slot
      freeCount--;
      const s = load<u32>(free + (<usize>freeCount << 2));
      store<u32>(slotOf + (<usize>col << 2), s + 1);
      store<u32>(slotCol + (<usize>s << 2), col + 1);
      dest = base + <usize>s * eb;
    } else {
      // needed but not admitted: read into this chunk's half of the staging area
      dest = staging + half * stageHalfBytes + <usize>nStage * eb;
      nStage++;
    }
    store<u32>(ptrs + (<usize>k << 2), <u32>dest);
    if (s1 == 0) {
      store<u32>(fetchList + (<usize>nFetch << 3), col);
      store<u32>(fetchList + (<usize>nFetch << 3) + 4, <u32>dest);
      nFetch++;
    }
    // a chunk is as many columns, cached or read, as half the staging area holds: small enough
    // that the gather starts soon after a group's first reads, whatever its hit rate
    if (k + 1 - start == chunkEntries[g]) {
      closeChunk(l, g, start, k + 1, firstFetch, nFetch, x, idx, out0, out1, nOut);
      start = k + 1;
      firstFetch = nFetch;
      half ^= 1;
      nStage = 0;
    }
  }
  closeChunk(l, g, start, n, firstFetch, nFetch, x, idx, out0, out1, nOut);
  gatherPending(x, idx, out0, out1, nOut);
  addInPlace(out0, secondPart0, nOut);
  if (out1) addInPlace(out1, secondPart1, nOut);
  store<i32>(freeCountTable + (i << 2), freeCount);
}

// The chunk waiting to be gathered: kept positions [pendingStart, pendingEnd), readable once the
// host's read with pendingTicket has landed (0: nothing was read for it).
let pendingStart: i32 = -1;
let pendingEnd: i32 = 0;
let pendingTicket: i32 = 0;
// The gather's cut (kernels/gather.ts gatherHalf of the kept count) and its second-part sums.
let gatherCut: i32 = 0;
let secondPart0: usize = 0; // (widest output) W_gate's or W_down's second part
let secondPart1: usize = 0; // (widest output) W_up's
let gatherList: usize = 0; // (widest mask) the kept list in the gather's order

/** Starts the reads of chunk [start, end) (fetches [firstFetch, nFetch)), then gathers the previous chunk. */
function closeChunk(l: i32, g: i32, start: i32, end: i32, firstFetch: i32, nFetch: i32, x: usize, idx: usize, out0: usize, out1: usize, nOut: i32): void {
  let ticket = 0;
  if (nFetch > firstFetch) {
    ticket = hostStreamIssue(l, g, fetchList + (<usize>firstFetch << 3), nFetch - firstFetch);
    columnsFetched += <f64>(nFetch - firstFetch);
  }
  gatherPending(x, idx, out0, out1, nOut);
  pendingStart = start;
  pendingEnd = end;
  pendingTicket = ticket;
}

/**
 * Waits for the pending chunk's reads and gathers it: kept entries before gatherCut accumulate
 * into out0, out1, the rest into the second-part sums (kernels/gather.ts's two parts).
 */
function gatherPending(x: usize, idx: usize, out0: usize, out1: usize, nOut: i32): void {
  if (pendingStart < 0) return;
  if (pendingTicket != 0) hostStreamAwait(pendingTicket);
  const start = pendingStart;
  const end = pendingEnd;
  pendingStart = -1;
  if (start < gatherCut) gatherSlots(x, idx, start, min(end, gatherCut), out0, out1, nOut);
  if (end > gatherCut) gatherSlots(x, idx, max(start, gatherCut), end, secondPart0, out1 ? secondPart1 : 0, nOut);
}

/** Accumulates kept entries [from, to) (their columns at ptrs) into out0 and, for W_up, out1. */
function gatherSlots(x: usize, idx: usize, from: i32, to: i32, out0: usize, out1: usize, nOut: i32): void {
  const count = to - from;
  if (count <= 0) return;
  const p = ptrs + (<usize>from << 2);
  const ix = idx + (<usize>from << 2);
  if (columnDtype == DTYPE_Q8) {
    gatherSlotsQ8(out0, p, 0, x, ix, count, nOut);
    if (out1) gatherSlotsQ8(out1, p, <usize>entryBytes[0] >> 1, x, ix, count, nOut); // the W_up part: second half of the block
    return;
  }
  if (columnDtype == DTYPE_Q4_0) {
    gatherSlotsQ4(out0, p, 0, x, ix, count, nOut);
    if (out1) gatherSlotsQ4(out1, p, <usize>entryBytes[0] >> 1, x, ix, count, nOut);
    return;
  }
  gatherSlotsF32(out0, p, 0, x, ix, count, nOut);
  if (out1) gatherSlotsF32(out1, p, <usize>nOut << 2, x, ix, count, nOut);
}

/**
 * out = row `token` of the embedding (host group g, `cols` values), read from storage: a row the
 * engine does not hold. A q8 row lives in a tile group of 8 rows: the group is read into staging
 * and the row dequantized from it, as the resident table does (tableRow).
 */
export function streamTableRow(out: usize, token: i32, g: i32, cols: i32): void {
  if (columnDtype == DTYPE_Q8) {
    const first = token & ~7;
    for (let k = 0; k < 8; k++) {
      store<u32>(fetchList + (<usize>k << 3), <u32>(first + k));
      store<u32>(fetchList + (<usize>k << 3) + 4, <u32>(staging + <usize>k * rowBytes));
    }
    hostStreamAwait(hostStreamIssue(0, g, fetchList, 8));
    dequantRowQ8(out, staging, token & 7, 8, cols);
    return;
  }
  if (columnDtype == DTYPE_Q4_0) {
    // a Q4_0 row is contiguous: read it into staging and dequantize it
    store<u32>(fetchList, <u32>token);
    store<u32>(fetchList + 4, <u32>staging);
    hostStreamAwait(hostStreamIssue(0, g, fetchList, 1));
    dequantRowQ4_0(out, staging, 0, cols);
    return;
  }
  store<u32>(fetchList, <u32>token);
  store<u32>(fetchList + 4, <u32>out);
  hostStreamAwait(hostStreamIssue(0, g, fetchList, 1));
}

/**
 * out = W x for a row-major [rows x cols] matrix whose first `resident` rows are at w (a multiple
 * of 8) and whose other rows are read from storage (host group ROWS_LM_HEAD) in chunks of
 * chunkRows, pipelined as the column chunks are: chunk c is issued, then chunk c-1 is multiplied
 * by `linear`.
 */
export function streamLinearRows(out: usize, w: usize, x: usize, resident: i32, rows: i32, cols: i32, linear: RowsProduct): void {
  if (resident > 0) linear(out, w, x, resident, cols);
  let half: usize = 0;
  let pendingRow = -1;
  let pendingRows = 0;
  let ticket = 0;
  for (let r0 = resident; r0 < rows; r0 += chunkRows) {
    const n = min(chunkRows, rows - r0);
    const list = fetchList + half * <usize>chunkRows * 8;
    const dest = staging + half * stageHalfBytes;
    for (let k = 0; k < n; k++) {
      store<u32>(list + (<usize>k << 3), <u32>(r0 + k));
      store<u32>(list + (<usize>k << 3) + 4, <u32>(dest + <usize>k * rowBytes));
    }
    const issued = hostStreamIssue(0, ROWS_LM_HEAD, list, n);
    if (pendingRow >= 0) {
      hostStreamAwait(ticket);
      linear(out + (<usize>pendingRow << 2), staging + (half ^ 1) * stageHalfBytes, x, pendingRows, cols);
    }
    pendingRow = r0;
    pendingRows = n;
    ticket = issued;
    half ^= 1;
  }
  if (pendingRow >= 0) {
    hostStreamAwait(ticket);
    linear(out + (<usize>pendingRow << 2), staging + (half ^ 1) * stageHalfBytes, x, pendingRows, cols);
  }
}
