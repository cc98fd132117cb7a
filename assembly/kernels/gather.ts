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
// The list is idx with each block of consecutive kept columns (gatherBlock: 128 or 256 of them)
// added in an interleaved order (gatherOrder), so that a pass of four columns reads four
// sequential streams through memory, like matvecF32's four rows a quarter apart, instead of
// columns a column apart or one stream one column per pass.

import { axpy4F32, axpy8F32, axpyF32 } from "./axpy";
import { addInPlace } from "./elementwise";

/** Where the kept list is cut: entries [0, h) and [h, nKept) are summed apart (a multiple of 8, so runs keep their eight-column groups). */
// @ts-ignore: decorator
@inline export function gatherHalf(nKept: i32): i32 {
  return (nKept >> 1) & ~7;
}

/** The streams an interleaved block is read as (gatherOrder). */
export const GATHER_STREAMS: i32 = 4;

/** Longest run of memory one stream of an interleaved block reads: longer streams read slower (below). */
const STREAM_BYTES_MAX: i32 = 640 << 10;

/**
 * Kept entries in a block gatherOrder may interleave, for outputs nOut wide: four streams of 64
 * columns, or of 32 when 64 columns would be over STREAM_BYTES_MAX (Qwen2.5-0.5B's 19 KiB
 * W_gate/W_up columns). Cold dense reads of four streams measured (bench/README.md, issue #16):
 * 19 KiB columns 31.7 GB/s at 32 a stream, 29.4 at 64; 8 KiB columns 24.6 at 128 (1 MiB a
 * stream), 33.7 at 64; 3-3.5 KiB columns 32.6-34.0 at 64, 30.1-31.2 at 32.
 */
// @ts-ignore: decorator
@inline export function gatherBlock(nOut: i32): i32 {
  const perStream = 64 * nOut * 4 <= STREAM_BYTES_MAX ? 64 : 32;
  return perStream * GATHER_STREAMS;
}

/**
 * The order a gather of nOut-wide columns adds its kept columns in: each block of gatherBlock(nOut)
 * list positions whose columns are consecutive (one contiguous run of memory) is interleaved: its
 * position 4t + s holds its entry perStream * s + t (s < 4 streams), so a pass of four columns
 * reads four sequential streams, each running on through perStream columns. Cold and dense, that
 * read 1.13-1.19x the eight streams of 16 columns before it on 3-8 KiB columns and as fast on
 * 19 KiB ones, within 0.9 of the read probe (bench/README.md, issue #16). Other blocks and the
 * tail keep idx order: scattered columns gained nothing from interleaving. Writes the list to
 * `ordered` (nKept u32s) and returns it. Every f32 gather (resident, threads, streamed, batched
 * prompt) sums over this list, so they stay bit-identical.
 */
export function gatherOrder(ordered: usize, idx: usize, nKept: i32, nOut: i32): usize {
  const block = gatherBlock(nOut);
  const perStream = block / GATHER_STREAMS;
  let b = 0;
  for (; b + block <= nKept; b += block) {
    const from = idx + (<usize>b << 2);
    const to = ordered + (<usize>b << 2);
    if (load<u32>(from + (<usize>(block - 1) << 2)) - load<u32>(from) == <u32>(block - 1)) {
      for (let t = 0; t < perStream; t++) {
        for (let s = 0; s < GATHER_STREAMS; s++) {
          store<u32>(to + (<usize>(t * GATHER_STREAMS + s) << 2), load<u32>(from + (<usize>(s * perStream + t) << 2)));
        }
      }
    } else memory.copy(to, from, <usize>block << 2);
  }
  memory.copy(ordered + (<usize>b << 2), idx + (<usize>b << 2), <usize>(nKept - b) << 2);
  return ordered;
}

/**
 * SIMD: out = run over entries [0, h) of the gather's list (gatherOrder) + run over [h, nKept).
 * scratch holds nOut floats (the second part) and then nKept u32s (the list).
 */
export function gatherColumnsF32(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32, scratch: usize): void {
  const list = gatherOrder(scratch + (<usize>nOut << 2), idx, nKept, nOut);
  const h = gatherHalf(nKept);
  gatherRunF32(out, wT, x, list, h, nOut);
  gatherRunF32(scratch, wT, x, list + (<usize>h << 2), nKept - h, nOut);
  addInPlace(out, scratch, nOut);
}

/** Scalar reference for gatherColumnsF32 (the same list: gatherOrder is a permutation, tested on its own). */
export function gatherColumnsF32Scalar(out: usize, wT: usize, x: usize, idx: usize, nKept: i32, nOut: i32, scratch: usize): void {
  const list = gatherOrder(scratch + (<usize>nOut << 2), idx, nKept, nOut);
  const h = gatherHalf(nKept);
  gatherRunF32Scalar(out, wT, x, list, h, nOut);
  gatherRunF32Scalar(scratch, wT, x, list + (<usize>h << 2), nKept - h, nOut);
  addInPlace(out, scratch, nOut);
}

/**
 * SIMD run: out = sum of the kept columns added one after another in idx order from 0. Eight kept
 * columns per pass (one load/store of out per eight weight columns; eight weight streams in flight
 * keep the prefetchers busy when kept columns are short and scattered), then four, then one at a
 * time; inside gatherOrder's interleaved blocks four per pass (its four sequential streams).
 * Eight consecutive kept columns (outside gatherOrder's interleaved blocks: short runs, tails,
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
  // scattered whole columns over a page long: their pages are touched a pass ahead (touchPagesAhead)
  const touchAhead = colBytes == (<usize>nOut << 2) && colBytes > PAGE_BYTES;
  let k = 0;
  for (; k + 8 <= nKept; k += 8) {
    const ik = idx + (<usize>k << 2);
    const j0 = load<u32>(ik);
    if (runsOneStream && load<u32>(ik, 28) - j0 == 7) { // consecutive (idx ascending): one contiguous block
      oneColumnPassesF32(out, wT, x, ik, nOut, colBytes);
    } else if (load<u32>(ik, 16) == j0 + 1) { // inside an interleaved block (gatherOrder): four streams, two passes of four
      fourColumnPassesF32(out, wT, x, ik, 2, nOut, colBytes);
    } else {
      if (touchAhead && k + 16 <= nKept) touchPagesAhead(wT, ik + 32, colBytes);
      eightColumnsF32(out, wT, x, ik, nOut, colBytes);
    }
  }
  if (k + 4 <= nKept) {
    fourColumnPassesF32(out, wT, x, idx + (<usize>k << 2), 1, nOut, colBytes);
    k += 4;
  }
  for (; k < nKept; k++) {
    const j = load<u32>(idx + (<usize>k << 2));
    axpyF32(out, wT + <usize>j * colBytes, load<f32>(x + (<usize>j << 2)), nOut);
  }
}

// The passes are functions of their own, and an interleaved group's two four-column passes are
// one loop in one function (fourColumnPassesF32), called from one place in the run's loop: with
// two copies of the pass in that loop (two calls inlined, by asc or by V8's own wasm inlining,
// which Chromium and Deno do and Node 20 does not) cold dense gathers on 3-3.5 KiB columns read
// ~0.7x as fast, though the same code in cache ran at the same speed (bench/README.md, issue #16).
// Exported for the stream-layout experiments (scripts/profile-streams/variants.ts).

/** A wasm page of memory is 64 KiB, but the machine's pages, which the touches below are about, are 4 KiB. */
const PAGE_BYTES: usize = 4096;

/** Written by touchPagesAhead so that its loads are not optimized away; never read. */
let touchSink: u32 = 0;

/**
 * One load at every 4 KiB of the eight columns listed at ik (and at each column's last float):
 * the next pass's columns of a scattered gather, touched before this pass. A column longer than a
 * page starts a new page every 4 KiB, each a page walk and a new prefetch stream the next pass
 * would otherwise wait for; touched a pass ahead, DIP's cold W_gate/W_up gathers on 19 KiB columns
 * read ~1.08x as fast (Qwen2.5-0.5B; no change on 3-8 KiB columns, so it is skipped there;
 * bench/README.md, issue #16). The loaded values are not used: the sums are unchanged.
 */
function touchPagesAhead(wT: usize, ik: usize, colBytes: usize): void {
  let t: u32 = 0;
  for (let c = 0; c < 8; c++) {
    const column = wT + <usize>load<u32>(ik + (<usize>c << 2)) * colBytes;
    for (let at: usize = 0; at < colBytes; at += PAGE_BYTES) t ^= load<u32>(column + at);
    t ^= load<u32>(column + colBytes - 4);
  }
  touchSink ^= t;
}

/** Eight consecutive columns listed at ik, one per pass: a single sequential stream. */
export function oneColumnPassesF32(out: usize, wT: usize, x: usize, ik: usize, nOut: i32, colBytes: usize): void {
  for (let t = 0; t < 8; t++) {
    const j = load<u32>(ik + (<usize>t << 2));
    axpyF32(out, wT + <usize>j * colBytes, load<f32>(x + (<usize>j << 2)), nOut);
  }
}

/** nPasses passes of four columns each, listed from ik on. */
export function fourColumnPassesF32(out: usize, wT: usize, x: usize, ik: usize, nPasses: i32, nOut: i32, colBytes: usize): void {
  for (let p = 0; p < nPasses; p++) {
    const at = ik + (<usize>p << 4);
    const j0 = load<u32>(at);
    const j1 = load<u32>(at, 4);
    const j2 = load<u32>(at, 8);
    const j3 = load<u32>(at, 12);
    axpy4F32(out, wT + <usize>j0 * colBytes, wT + <usize>j1 * colBytes, wT + <usize>j2 * colBytes, wT + <usize>j3 * colBytes,
      load<f32>(x + (<usize>j0 << 2)), load<f32>(x + (<usize>j1 << 2)), load<f32>(x + (<usize>j2 << 2)), load<f32>(x + (<usize>j3 << 2)), nOut);
  }
}

/** One pass of the eight columns listed at ik. */
export function eightColumnsF32(out: usize, wT: usize, x: usize, ik: usize, nOut: i32, colBytes: usize): void {
  const j0 = load<u32>(ik);
  const j1 = load<u32>(ik, 4);
  const j2 = load<u32>(ik, 8);
  const j3 = load<u32>(ik, 12);
  const j4 = load<u32>(ik, 16);
  const j5 = load<u32>(ik, 20);
  const j6 = load<u32>(ik, 24);
  const j7 = load<u32>(ik, 28);
  axpy8F32(
    out,
    wT + <usize>j0 * colBytes, wT + <usize>j1 * colBytes, wT + <usize>j2 * colBytes, wT + <usize>j3 * colBytes,
    wT + <usize>j4 * colBytes, wT + <usize>j5 * colBytes, wT + <usize>j6 * colBytes, wT + <usize>j7 * colBytes,
    load<f32>(x + (<usize>j0 << 2)), load<f32>(x + (<usize>j1 << 2)), load<f32>(x + (<usize>j2 << 2)), load<f32>(x + (<usize>j3 << 2)),
    load<f32>(x + (<usize>j4 << 2)), load<f32>(x + (<usize>j5 << 2)), load<f32>(x + (<usize>j6 << 2)), load<f32>(x + (<usize>j7 << 2)),
    nOut,
  );
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
