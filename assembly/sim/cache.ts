// One token's step of one column cache (SIMULATOR.md, "Per token, per layer group" and "Cache
// update after each token"): count hits against the cache left by the previous token, charge the
// bytes and the read time, then update the cache:
//   old_inactive = c and not m ; old_active = c and m ; new = m and not c
//   n_evict = min(|old_inactive|, |m| + |old_inactive| - cap)   (if > 0)
//   evict n_evict of old_inactive in the policy's order, then insert new.
// When |m| > cap only cap - |old_active| new columns fit. Admission rule (docs/simulator.md):
// lru and lfu keep, with admission seed 0, the new columns with the lowest indices; with a
// nonzero seed, those with the smallest fmix32(index ^ seed), a fixed pseudo-random ranking.
// belady keeps the new columns needed again soonest (ties: lower index): it knows the future,
// and with a fixed rule it could fall below lru on such tokens.
import {
  C_CAPACITY, C_SIZE, C_CLOCK, C_ENTRIES, C_FLAGS, C_LAST_USE, C_USES, C_NEXT_USE, C_MEMBERS, C_SLOT,
  C_NEEDED, C_HITS, C_FLASH, C_DRAM, C_SECONDS, C_FLASH_READS, C_FLASH_PAGED,
  POLICY_NONE, POLICY_BELADY, cacheRecord, currentPolicy, groupEntryBytes, inMaskPtr, candidatesPtr, seed,
  byteExactFlash, pagedBytes, readSecondsOf,
} from "./state";
import { setOrder, selectFirst, ORDER_ADMIT_SEEDED, ORDER_ADMIT_BELADY } from "./order";

// @ts-ignore: decorator
@inline function column(idxPtr: usize, k: i32, full: bool): u32 {
  return full ? <u32>k : load<u32>(idxPtr + (<usize>k << 2));
}

// @ts-ignore: decorator
@inline function evict(flags: usize, members: usize, slot: usize, size: i32, col: u32): void {
  const s = load<u32>(slot + (<usize>col << 2));
  const moved = load<u32>(members + (<usize>(size - 1) << 2));
  store<u32>(members + (<usize>s << 2), moved);
  store<u32>(slot + (<usize>moved << 2), s);
  store<u8>(flags + <usize>col, 0);
}

// @ts-ignore: decorator
@inline function insert(flags: usize, members: usize, slot: usize, size: i32, col: u32): void {
  store<u32>(members + (<usize>size << 2), col);
  store<u32>(slot + (<usize>col << 2), <u32>size);
  store<u8>(flags + <usize>col, 1);
}

/** Observes mask m of cache (layer, g): `count` ascending columns at idxPtr (u32), or every column
 *  0..count-1 when `full`. The caller has validated the mask and, for Belady, set the next use of
 *  each column in m. Returns the read time of this layer group in seconds. */
export function stepCache(layer: i32, g: i32, idxPtr: usize, count: i32, full: bool): f64 {
  const c = cacheRecord(layer, g);
  const flags = load<usize>(c, C_FLAGS);
  const lastUse = load<usize>(c, C_LAST_USE);
  const uses = load<usize>(c, C_USES);
  const members = load<usize>(c, C_MEMBERS);
  const slot = load<usize>(c, C_SLOT);
  const inMask = inMaskPtr();
  const policy = currentPolicy();
  const cap = policy == POLICY_NONE ? 0 : load<i32>(c, C_CAPACITY);
  const clock = load<i32>(c, C_CLOCK);

  // a run of adjacent missed columns is one Flash read (the stream store coalesces neighbours:
  // host/stream/weights.ts); each read moves whole pages (docs/simulator.md "Flash reads")
  const entryBytes = groupEntryBytes(g);
  let hits: i32 = 0;
  let reads: i32 = 0;
  let moved: f64 = 0;
  let run: i32 = 0;
  let lastMiss: i64 = -2;
  for (let k = 0; k < count; k++) {
    const col = column(idxPtr, k, full);
    store<u8>(inMask + <usize>col, 1);
    if (load<u8>(flags + <usize>col) != 0) {
      hits++;
      continue;
    }
    if (<i64>col != lastMiss + 1) {
      if (run > 0) moved += pagedBytes(<f64>run * entryBytes, 1);
      run = 0;
      reads++;
    }
    run++;
    lastMiss = <i64>col;
  }
  if (run > 0) moved += pagedBytes(<f64>run * entryBytes, 1);
  const misses = count - hits;

  const flashBytes = <f64>misses * entryBytes;
  const dramBytes = <f64>hits * entryBytes;
  // byte-exact reads move the missed bytes: the same product as the bandwidth-only model
  const flashMoved = byteExactFlash() ? flashBytes : moved;
  const seconds = readSecondsOf(flashMoved, <f64>reads, dramBytes);
  store<f64>(c, load<f64>(c, C_NEEDED) + <f64>count, C_NEEDED);
  store<f64>(c, load<f64>(c, C_HITS) + <f64>hits, C_HITS);
  store<f64>(c, load<f64>(c, C_FLASH) + flashBytes, C_FLASH);
  store<f64>(c, load<f64>(c, C_DRAM) + dramBytes, C_DRAM);
  store<f64>(c, load<f64>(c, C_SECONDS) + seconds, C_SECONDS);
  store<f64>(c, load<f64>(c, C_FLASH_READS) + <f64>reads, C_FLASH_READS);
  store<f64>(c, load<f64>(c, C_FLASH_PAGED) + flashMoved, C_FLASH_PAGED);

  if (cap > 0) {
    let size = load<i32>(c, C_SIZE);
    const oldInactive = size - hits;
    let nEvict = count + oldInactive - cap;
    if (nEvict > oldInactive) nEvict = oldInactive;
    if (nEvict > 0) {
      const cand = candidatesPtr();
      let n: i32 = 0;
      for (let s = 0; s < size; s++) {
        const col = load<u32>(members + (<usize>s << 2));
        if (load<u8>(inMask + <usize>col) == 0) {
          store<u32>(cand + (<usize>n << 2), col);
          n++;
        }
      }
      setOrder(policy, lastUse, uses, load<usize>(c, C_NEXT_USE), 0);
      selectFirst(cand, n, nEvict);
      for (let j = n - nEvict; j < n; j++) {
        evict(flags, members, slot, size, load<u32>(cand + (<usize>j << 2)));
        size--;
      }
    }
    const room = cap - size;
    if (misses > 0 && room > 0) {
      const belady = policy == POLICY_BELADY;
      if (room >= misses || (seed() == 0 && !belady)) {
        // all new columns fit, or the lowest-index rule: the mask is ascending
        let left = room < misses ? room : misses;
        for (let k = 0; k < count && left > 0; k++) {
          const col = column(idxPtr, k, full);
          if (load<u8>(flags + <usize>col) == 0) {
            insert(flags, members, slot, size, col);
            size++;
            left--;
          }
        }
      } else {
        const cand = candidatesPtr();
        let n: i32 = 0;
        for (let k = 0; k < count; k++) {
          const col = column(idxPtr, k, full);
          if (load<u8>(flags + <usize>col) == 0) {
            store<u32>(cand + (<usize>n << 2), col);
            n++;
          }
        }
        setOrder(belady ? ORDER_ADMIT_BELADY : ORDER_ADMIT_SEEDED, lastUse, uses, load<usize>(c, C_NEXT_USE), seed());
        selectFirst(cand, n, room);
        for (let j = n - room; j < n; j++) {
          insert(flags, members, slot, size, load<u32>(cand + (<usize>j << 2)));
          size++;
        }
      }
    }
    store<i32>(c, size, C_SIZE);
  }

  // uses are recorded for every needed column, cached or not: LFU counts uses in the sequence
  const stamp = <u32>(clock + 1);
  for (let k = 0; k < count; k++) {
    const col = column(idxPtr, k, full);
    store<u8>(inMask + <usize>col, 0);
    store<u32>(lastUse + (<usize>col << 2), stamp);
    const u = uses + (<usize>col << 2);
    store<u32>(u, load<u32>(u) + 1);
  }
  store<i32>(c, clock + 1, C_CLOCK);
  return seconds;
}

/** 0 if the count columns at idxPtr are strictly ascending and below the group's entry count,
 *  else the position of the first bad one + 1. */
export function checkMask(layer: i32, g: i32, idxPtr: usize, count: i32): i32 {
  const n = <u32>load<i32>(cacheRecord(layer, g), C_ENTRIES);
  if (count < 0 || <u32>count > n) return 1;
  let prev: i64 = -1;
  for (let k = 0; k < count; k++) {
    const col = load<u32>(idxPtr + (<usize>k << 2));
    if (col >= n || <i64>col <= prev) return k + 1;
    prev = <i64>col;
  }
  return 0;
}
