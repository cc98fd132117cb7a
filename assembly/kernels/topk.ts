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

/** The k-th largest value (1-based k) of v[0..n), found by quickselect on a copy in scratch. */
export function kthLargest(v: usize, n: i32, k: i32, scratch: usize): f32 {
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
  for (let i = 0; i < n; i++) if (at(scores, i) > threshold) above++;
  let tiesLeft = k - above; // how many entries equal to the threshold still fit, lowest index first
  let m = 0;
  for (let i = 0; i < n; i++) {
    const s = at(scores, i);
    if (s > threshold || (s == threshold && tiesLeft-- > 0)) {
      store<u32>(outIdx + (<usize>m << 2), i);
      m++;
    }
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
