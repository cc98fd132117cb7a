// Top-k selection by partial selection (quickselect, expected O(n)), not a full sort.
// Keeps the k largest scores; ties at the threshold go to the lower index (DIP.md). The kept
// indices are written ascending, which is also the order the gather kernels read columns in.

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline function swap(p: usize, i: i32, j: i32): void {
  const a = at(p, i);
  store<f32>(p + (<usize>i << 2), at(p, j));
  store<f32>(p + (<usize>j << 2), a);
}

// The k-th largest value is found by radix selection on the floats' bits, mapped to unsigned keys
// that sort as the floats do: three passes of 11, 11 and 10 bits, each a histogram of the entries
// still in the running and a walk down it from the top. The first pass reads all n; the others only
// the entries whose higher digits match, copied aside. No data-dependent branches, unlike
// quickselect's partition, whose mispredictions made it ~4% of a DIP token on stories110M
// (bench/README.md, issue #16).

/** Histogram of one radix pass; masks are chosen on one thread (the threads build shares only products). */
const HIST_BUCKETS: i32 = 2048;
const histogram = memory.data(HIST_BUCKETS * 4, 16);

/** The f32's bits as an unsigned key with the floats' order (negatives flipped whole, positives above them). */
// @ts-ignore: decorator
@inline function keyOf(x: f32): u32 {
  const b = reinterpret<u32>(x);
  return b ^ (<u32>(<i32>b >> 31) | 0x80000000);
}

/** Inverse of keyOf. */
// @ts-ignore: decorator
@inline function floatOfKey(key: u32): f32 {
  return reinterpret<f32>(key & 0x80000000 ? key ^ 0x80000000 : ~key);
}

/**
 * One radix pass over the m keys at `keys` whose digit is (key >>> shift) & mask: the digit that
 * holds the `need`-th largest key (1-based). Returns (digit << 32) | need within that digit.
 */
// @ts-ignore: decorator
@inline function radixPass(keys: usize, m: i32, shift: u32, mask: u32, need: i32): u64 {
  memory.fill(histogram, 0, <usize>(mask + 1) << 2);
  for (let i = 0; i < m; i++) {
    const slot = histogram + (<usize>((load<u32>(keys + (<usize>i << 2)) >>> shift) & mask) << 2);
    store<u32>(slot, load<u32>(slot) + 1);
  }
  let digit = <i32>mask;
  for (;;) {
    const count = <i32>load<u32>(histogram + (<usize>digit << 2));
    if (count >= need) break;
    need -= count;
    digit--;
  }
  return (<u64>digit << 32) | <u64>need;
}

/** Keeps (in place, in order) the m keys at `keys` whose bits above `shift` equal prefix; returns their count. */
// @ts-ignore: decorator
@inline function keepPrefix(keys: usize, m: i32, shift: u32, prefix: u32): i32 {
  let kept = 0;
  for (let i = 0; i < m; i++) {
    const key = load<u32>(keys + (<usize>i << 2));
    store<u32>(keys + (<usize>kept << 2), key);
    kept += <i32>(key >>> shift == prefix);
  }
  return kept;
}

/** The k-th largest value (1 <= k <= n) of v[0..n), by radix selection; scratch holds n keys. */
export function kthLargest(v: usize, n: i32, k: i32, scratch: usize): f32 {
  assert(k >= 1 && k <= n, "kthLargest: k out of [1, n]");
  for (let i = 0; i < n; i++) store<u32>(scratch + (<usize>i << 2), keyOf(load<f32>(v + (<usize>i << 2))));
  const first = radixPass(scratch, n, 21, 0x7ff, k);
  const high = <u32>(first >>> 32);
  let m = keepPrefix(scratch, n, 21, high);
  const second = radixPass(scratch, m, 10, 0x7ff, <i32>first);
  const middle = <u32>(second >>> 32);
  m = keepPrefix(scratch, m, 10, (high << 11) | middle);
  const third = radixPass(scratch, m, 0, 0x3ff, <i32>second);
  return floatOfKey((high << 21) | (middle << 10) | <u32>(third >>> 32));
}

/** Scalar reference for kthLargest: quickselect (median-of-three, three-way partition) on a copy in scratch. */
export function kthLargestQuickselect(v: usize, n: i32, k: i32, scratch: usize): f32 {
  memory.copy(scratch, v, <usize>n << 2);
  let lo = 0;
  let hi = n - 1;
  const target = k - 1; // position in descending order
  while (lo < hi) {
    // median of three as pivot, moved to hi
    const mid = lo + ((hi - lo) >> 1);
    if (at(scratch, mid) > at(scratch, lo)) swap(scratch, mid, lo);
    if (at(scratch, hi) > at(scratch, lo)) swap(scratch, hi, lo);
    if (at(scratch, mid) > at(scratch, hi)) swap(scratch, mid, hi);
    const pivot = at(scratch, hi);
    // three-way partition (descending): [lo, lt) > pivot, [lt, i) == pivot, (gt, hi] < pivot
    let lt = lo;
    let gt = hi;
    let i = lo;
    while (i <= gt) {
      const x = at(scratch, i);
      if (x > pivot) {
        swap(scratch, lt, i);
        lt++;
        i++;
      } else if (x < pivot) {
        swap(scratch, i, gt);
        gt--;
      } else {
        i++;
      }
    }
    if (target < lt) hi = lt - 1;
    else if (target > gt) lo = gt + 1;
    else return pivot;
  }
  return at(scratch, target);
}

/**
 * Writes the indices of the k largest scores (ties to the lower index) ascending into outIdx (u32)
 * and returns k (clamped to [0, n]). scratch holds n floats.
 */
export function selectTopK(scores: usize, n: i32, k: i32, outIdx: usize, scratch: usize): i32 {
  if (k <= 0) return 0;
  if (k >= n) {
    for (let i = 0; i < n; i++) store<u32>(outIdx + (<usize>i << 2), i);
    return n;
  }
  const threshold = kthLargest(scores, n, k, scratch);
  let above = 0;
  for (let i = 0; i < n; i++) above += <i32>(at(scores, i) > threshold);
  let tiesLeft = k - above; // how many entries equal to the threshold still fit, lowest index first
  // branch-free: every index is written at the next free slot, which advances only when it is kept
  let m = 0;
  for (let i = 0; m < k; i++) {
    const s = at(scores, i);
    const tie = s == threshold;
    store<u32>(outIdx + (<usize>m << 2), i);
    m += <i32>(s > threshold) | (<i32>tie & <i32>(tiesLeft > 0));
    tiesLeft -= <i32>tie;
  }
  return m;
}

/** Indices (ascending) of entries with score > threshold; returns their count. */
export function selectAbove(scores: usize, n: i32, threshold: f32, outIdx: usize): i32 {
  let m = 0;
  for (let i = 0; i < n; i++) {
    if (at(scores, i) > threshold) {
      store<u32>(outIdx + (<usize>m << 2), i);
      m++;
    }
  }
  return m;
}

/** scores[i] = |v[i]| */
export function absInto(scores: usize, v: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(scores + (<usize>i << 2), Mathf.abs(at(v, i)));
}
