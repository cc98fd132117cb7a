// The orders that pick which cached columns to evict and, when a mask is larger than the cache,
// which new columns to admit. Each order is total (the column index breaks every tie), so any
// selection algorithm returns the same set: results are identical on every runtime.
import { POLICY_LRU, POLICY_LFU, POLICY_BELADY } from "./state";

export const ORDER_EVICT_LRU: i32 = POLICY_LRU;
export const ORDER_EVICT_LFU: i32 = POLICY_LFU;
export const ORDER_EVICT_BELADY: i32 = POLICY_BELADY;
/** admission of new columns when |m| > cap, ordered by a seeded bijective hash of the index */
export const ORDER_ADMIT_SEEDED: i32 = 100;
/** Belady's admission when |m| > cap: the new columns needed again soonest, then lower index */
export const ORDER_ADMIT_BELADY: i32 = 101;

let order: i32 = ORDER_EVICT_LRU;
let lastUse: usize = 0;
let uses: usize = 0;
let nextUse: usize = 0;
let hashSeed: u32 = 0;

/** murmur3's finalizer: a bijection on u32, so distinct columns never tie */
// @ts-ignore: decorator
@inline function fmix32(h: u32): u32 {
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  h ^= h >>> 16;
  return h;
}

/** true when column a comes before column b in the current order (is evicted / admitted first) */
// @ts-ignore: decorator
@inline function before(a: u32, b: u32): bool {
  if (order == ORDER_EVICT_BELADY) {
    // furthest next use first; NEVER (0xffffffff) is the furthest
    const na = load<u32>(nextUse + (<usize>a << 2));
    const nb = load<u32>(nextUse + (<usize>b << 2));
    if (na != nb) return na > nb;
    return a < b;
  }
  if (order == ORDER_ADMIT_BELADY) {
    const na = load<u32>(nextUse + (<usize>a << 2));
    const nb = load<u32>(nextUse + (<usize>b << 2));
    if (na != nb) return na < nb;
    return a < b;
  }
  if (order == ORDER_ADMIT_SEEDED) {
    return fmix32(a ^ hashSeed) < fmix32(b ^ hashSeed);
  }
  if (order == ORDER_EVICT_LFU) {
    // fewest uses first, ties: least recently used, then lower column
    const ua = load<u32>(uses + (<usize>a << 2));
    const ub = load<u32>(uses + (<usize>b << 2));
    if (ua != ub) return ua < ub;
  }
  // LRU (and LFU's tie-break): least recently used first, then lower column
  const la = load<u32>(lastUse + (<usize>a << 2));
  const lb = load<u32>(lastUse + (<usize>b << 2));
  if (la != lb) return la < lb;
  return a < b;
}

export function setOrder(o: i32, lastUsePtr: usize, usesPtr: usize, nextUsePtr: usize, seed: u32): void {
  order = o;
  lastUse = lastUsePtr;
  uses = usesPtr;
  nextUse = nextUsePtr;
  hashSeed = seed;
}

function siftDown(arr: usize, n: i32, i: i32): void {
  const x = load<u32>(arr + (<usize>i << 2));
  while (true) {
    let child = 2 * i + 1;
    if (child >= n) break;
    let cv = load<u32>(arr + (<usize>child << 2));
    if (child + 1 < n) {
      const rv = load<u32>(arr + (<usize>(child + 1) << 2));
      if (before(rv, cv)) { child++; cv = rv; }
    }
    if (!before(cv, x)) break;
    store<u32>(arr + (<usize>i << 2), cv);
    i = child;
  }
  store<u32>(arr + (<usize>i << 2), x);
}

/** Reorders the u32 columns arr[0..n) so that the k first in the current order end up in
 *  arr[n-k..n) (heap select: O(n + k log n)). */
export function selectFirst(arr: usize, n: i32, k: i32): void {
  if (k <= 0 || n <= 0) return;
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(arr, n, i);
  let size = n;
  for (let j = 0; j < k && size > 0; j++) {
    const last = arr + (<usize>(size - 1) << 2);
    const top = load<u32>(arr);
    store<u32>(arr, load<u32>(last));
    store<u32>(last, top);
    size--;
    siftDown(arr, size, 0);
  }
}
