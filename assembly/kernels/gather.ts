// Column-gather ("sparse input") matrix-vector product on input-major weights.
//
// The MLP matrices are stored transposed: WT is [nIn x nOut] row-major, so the column of W that
// multiplies input j is the contiguous run WT[j, :] (ARCHITECTURE.md). Pruning input j then skips
// nOut*4 contiguous bytes: the weights of pruned inputs are never read.
//
//   out[o] = sum over k of x[idx[k]] * WT[idx[k], o]      (idx ascending, nKept entries)
//
// Order (fixed, the same in every build, thread count and path, ARCHITECTURE.md "Determinism"):
// the kept list is cut at h = gatherHalf(nKept); each part is summed on its own, its columns added
// one after another in idx order starting from 0 (a "run", gatherRunF32), and then
// out[o] = first[o] + second[o]. The two parts are independent, so in the threads build two threads
// each read whole columns of their own part (a split by outputs gives each thread half of every
// column, short runs the prefetchers handle badly: bench/README.md, issue #16); one thread computes
// both parts one after the other, with the same bits. The streamed gather (stream/store.ts) and the
// batched prompt kernel (matmat.ts) cut at the same h. The SIMD run takes eight (then four, then
// one) columns per pass, or a run of eight consecutive columns one per pass, but adds them in that
// same order, so it is bit-identical to the scalar reference.
//
// The list is idx with each block of 128 consecutive kept columns added in an interleaved order
// (gatherOrder), so that the eight columns of a pass are eight sequential streams through memory
// instead of eight streams a column apart, or one stream one column per pass.

import { axpy4F32, axpy8F32, axpyF32 } from "./axpy";
import { addInPlace } from "./elementwise";

/** Where the kept list is cut: entries [0, h) and [h, nKept) are summed apart (a multiple of 8, so runs keep their eight-column groups). */
// @ts-ignore: decorator
@inline export function gatherHalf(nKept: i32): i32 {
  return (nKept >> 1) & ~7;
}

/** Kept entries in a block that gatherOrder may interleave, and the streams it reads them as. */
export const GATHER_BLOCK: i32 = 128;
export const GATHER_STREAMS: i32 = 8;

/**
 * The order a gather adds its kept columns in: each block of GATHER_BLOCK list positions
 * [128b, 128b + 128) whose columns are consecutive (one contiguous run of memory) is interleaved:
 * its position 8t + s holds its entry 16s + t (s < 8 streams, t < 16), so a pass of eight columns
 * reads eight sequential streams, each running on through 16 columns. Cold, on Qwen2.5-0.5B's
 * 19 KiB columns that read ~31 GB/s against ~21 for eight streams a column apart; on 3-8 KiB
 * columns (stories110M's MLP, Qwen2.5-0.5B's W_down) 1.03-1.10x the one-stream, one-column-per-
 * pass read (bench/README.md, issue #16). Other blocks and the tail keep idx order; scattered
 * columns gain nothing from the interleave. Writes the list to `ordered` (nKept u32s) and returns
 * it. Every f32 gather (resident, threads, streamed, batched prompt) sums over this list, so they
 * stay bit-identical.
 */
export function gatherOrder(ordered: usize, idx: usize, nKept: i32): usize {
  const perStream = GATHER_BLOCK / GATHER_STREAMS;
  let b = 0;
  for (; b + GATHER_BLOCK <= nKept; b += GATHER_BLOCK) {
    const from = idx + (<usize>b << 2);
    const to = ordered + (<usize>b << 2);
    if (load<u32>(from, (GATHER_BLOCK - 1) << 2) - load<u32>(from) == <u32>(GATHER_BLOCK - 1)) {
      for (let t = 0; t < perStream; t++) {
        for (let s = 0; s < GATHER_STREAMS; s++) {
          store<u32>(to + (<usize>(t * GATHER_STREAMS + s) << 2), load<u32>(from + (<usize>(s * perStream + t) << 2)));
        }
      }
    } else memory.copy(to, from, <usize>GATHER_BLOCK << 2);
  }
  memory.copy(ordered + (<usize>b << 2), idx + (<usize>b << 2), <usize>(nKept - b) << 2);
  return ordered;
}

/**
 * SIMD: out = run over entries [0, h) of the gather's list (gatherOrder) + run over [h, nKept).
 * scratch holds nOut floats (the second part) and then nKept u32s (the list).
 */
export function gatherColumnsF32(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32, scratch: usize): void {
  const list = gatherOrder(scratch + (<usize>nOut << 2), idx, nKept);
  const h = gatherHalf(nKept);
  gatherRunF32(out, wT, x, list, h, nOut);
  gatherRunF32(scratch, wT, x, list + (<usize>h << 2), nKept - h, nOut);
  addInPlace(out, scratch, nOut);
}

/** Scalar reference for gatherColumnsF32 (the same list: gatherOrder is a permutation, tested on its own). */
export function gatherColumnsF32Scalar(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32, scratch: usize): void {
  const list = gatherOrder(scratch + (<usize>nOut << 2), idx, nKept);
  const h = gatherHalf(nKept);
  gatherRunF32Scalar(out, wT, x, list, h, nOut);
  gatherRunF32Scalar(scratch, wT, x, list + (<usize>h << 2), nKept - h, nOut);
  addInPlace(out, scratch, nOut);
}

/**
 * SIMD run: out = sum of the kept columns added one after another in idx order from 0. Eight kept
 * columns per pass (one load/store of out per eight weight columns; eight weight streams in flight
 * keep the prefetchers busy when kept columns are short and scattered), then four, then one at a
 * time. Eight consecutive kept columns (outside gatherOrder's interleaved blocks: short runs, tails,
 * and the LoRA update's list) are one contiguous block of memory: when out is small enough to stay
 * in L1 (RUN_OUT_BYTES_MAX) they are read one column per pass, a single sequential stream, which
 * read cold weights at ~0.8 of the read probe against ~0.55 for eight streams a column apart
 * (bench/README.md, issue #16). The LoRA update's t = (x*m) A (lowrank.ts) is one run.
 */
export function gatherRunF32(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  gatherColumnsStridedF32(out, wT, x, idx, nKept, nOut, <usize>nOut << 2);
}

/**
 * Outputs [from, to) of gatherRunF32 (a thread's share when there are more threads than parts,
 * assembly/threads/): every out[o] gets the same adds in the same order as in the whole run, so a
 * split run is bit-identical to an unsplit one.
 */
export function gatherColumnsRangeF32(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32, from: i32, to: i32): void {
  const skip = <usize>from << 2;
  gatherColumnsStridedF32(out + skip, wT + skip, x, idx, nKept, to - from, <usize>nOut << 2);
}

/**
 * Largest out (bytes) for which a run of eight consecutive columns is read one column per pass:
 * out is then loaded and stored once per column, which pays only while it stays in L1 beside the
 * weight stream (half of a 32 KiB L1d). On 19 KiB outputs (Qwen2.5-0.5B's W_gate/W_up) one
 * column per pass measured ~5-10% slower than eight; on 3-8 KiB outputs ~1.4x faster.
 */
const RUN_OUT_BYTES_MAX: usize = 16384;

/** The kernel: nOut outputs from columns colBytes apart (colBytes = 4 * nOut for a whole product). */
// @ts-ignore: decorator
@inline function gatherColumnsStridedF32(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32, colBytes: usize): void {
  memory.fill(out, 0, <usize>nOut << 2);
  // a thread's share reads a slice of each column: consecutive columns' slices are not one block
  const runsOneStream = colBytes == (<usize>nOut << 2) && colBytes <= RUN_OUT_BYTES_MAX;
  let k = 0;
  for (; k + 8 <= nKept; k += 8) {
    const ik = idx + (<usize>k << 2);
    const j0 = load<u32>(ik);
    const j7 = load<u32>(ik, 28);
    if (runsOneStream && j7 - j0 == 7) { // consecutive (idx ascending): one contiguous block
      for (let t = 0; t < 8; t++) {
        const j = load<u32>(ik + (<usize>t << 2));
        axpyF32(out, wT + <usize>j * colBytes, load<f32>(x + (<usize>j << 2)), nOut);
      }
      continue;
    }
    const j1 = load<u32>(ik, 4);
    const j2 = load<u32>(ik, 8);
    const j3 = load<u32>(ik, 12);
    const j4 = load<u32>(ik, 16);
    const j5 = load<u32>(ik, 20);
    const j6 = load<u32>(ik, 24);
    axpy8F32(
      out,
      wT + <usize>j0 * colBytes, wT + <usize>j1 * colBytes, wT + <usize>j2 * colBytes, wT + <usize>j3 * colBytes,
      wT + <usize>j4 * colBytes, wT + <usize>j5 * colBytes, wT + <usize>j6 * colBytes, wT + <usize>j7 * colBytes,
      load<f32>(x + (<usize>j0 << 2)), load<f32>(x + (<usize>j1 << 2)), load<f32>(x + (<usize>j2 << 2)), load<f32>(x + (<usize>j3 << 2)),
      load<f32>(x + (<usize>j4 << 2)), load<f32>(x + (<usize>j5 << 2)), load<f32>(x + (<usize>j6 << 2)), load<f32>(x + (<usize>j7 << 2)),
      nOut,
    );
  }
  for (; k + 4 <= nKept; k += 4) {
    const j0 = load<u32>(idx + (<usize>k << 2));
    const j1 = load<u32>(idx + (<usize>(k + 1) << 2));
    const j2 = load<u32>(idx + (<usize>(k + 2) << 2));
    const j3 = load<u32>(idx + (<usize>(k + 3) << 2));
    axpy4F32(
      out,
      wT + <usize>j0 * colBytes,
      wT + <usize>j1 * colBytes,
      wT + <usize>j2 * colBytes,
      wT + <usize>j3 * colBytes,
      load<f32>(x + (<usize>j0 << 2)),
      load<f32>(x + (<usize>j1 << 2)),
      load<f32>(x + (<usize>j2 << 2)),
      load<f32>(x + (<usize>j3 << 2)),
      nOut,
    );
  }
  for (; k < nKept; k++) {
    const j = load<u32>(idx + (<usize>k << 2));
    axpyF32(out, wT + <usize>j * colBytes, load<f32>(x + (<usize>j << 2)), nOut);
  }
}

/** Scalar reference for gatherRunF32. */
export function gatherRunF32Scalar(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  const colBytes = <usize>nOut << 2;
  memory.fill(out, 0, colBytes);
  for (let k = 0; k < nKept; k++) {
    const j = load<u32>(idx + (<usize>k << 2));
    const c = wT + <usize>j * colBytes;
    const s = load<f32>(x + (<usize>j << 2));
    for (let o = 0; o < nOut; o++) {
      const off = <usize>o << 2;
      store<f32>(out + off, load<f32>(out + off) + load<f32>(c + off) * s);
    }
  }
}
