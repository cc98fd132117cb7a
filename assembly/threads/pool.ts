// The main instance's side of the work sharing (jobs.ts): the job block, and parallelFor.
// Only the threads build calls into this (model/linear.ts checks ASC_FEATURE_THREADS, a
// compile-time constant, so other builds leave it out).

import { arenaAlloc } from "../arena";
import { JOB_BYTES, JOB_CHUNK, JOB_CHUNKS, JOB_CLAIM, JOB_COLS, JOB_COUNT, JOB_FINISHED, JOB_IDX, JOB_KERNEL, JOB_KV_DIM, JOB_KV_HEADS, JOB_N, JOB_OUT, JOB_OUT_STRIDE, JOB_PROBS_STRIDE, JOB_RANGES, JOB_SCRATCH, JOB_SEQ, JOB_TOKENS, JOB_W, JOB_X, JOB_X_STRIDE, KERNEL_ATTENTION_F32, KERNEL_GATHER_BATCH_F32, KERNEL_GATHER_F32, KERNEL_MATMAT_F32, KERNEL_MATMAT_Q8, KERNEL_MATVEC_F32, KERNEL_MATVEC_Q8, KERNEL_STOP, runChunks, SPINS } from "./jobs";

let job: usize = 0;
let seq: i32 = 0;
/** threads sharing each job, this one included (1: no pool) */
export let poolThreads: i32 = 1;
/** whether this thread may sleep in memory.atomic.wait (not on a browser page's main thread) */
let mayWait = false;

/** Work below this many weights per product runs on one thread (waking workers costs more). */
export const MIN_PARALLEL_WEIGHTS: i32 = 1 << 16;
/**
 * Outputs per chunk: at least 256 for a gather, whose chunk reads a run of each kept column that
 * long, and 64 rows for a matvec. One chunk per thread: more, smaller chunks cut a gather's column
 * runs shorter and measured slower (bench/README.md, issue #16); a thread that is held up still
 * leaves its chunk to the others if it has not claimed it.
 */
const MIN_GATHER_CHUNK: i32 = 256;
const MIN_MATVEC_CHUNK: i32 = 64;
/** Chunks start on multiples of 32 outputs: 128 bytes of f32 output, and whole q8 blocks. */
const CHUNK_ALIGN: i32 = 32;

/** Chunks run so far, all and by this thread (the workers' share is reported by benchmarks). */
let chunksAll: f64 = 0;
let chunksMain: f64 = 0;
/** Whether this thread claims chunks too (tests switch it off so every chunk runs on a worker). */
let mainWorks = true;

export function threadsChunks(): f64 {
  return chunksAll;
}

export function threadsChunksOnMain(): f64 {
  return chunksMain;
}

export function threadsMainWorks(on: i32): void {
  mainWorks = on != 0;
}

/** Makes the job block for `threads` threads; returns its address for the workers (0: out of memory). */
export function threadsSetup(threads: i32, canWait: i32): usize {
  if (!ASC_FEATURE_THREADS) return 0; // this build has no threads
  if (job == 0) job = arenaAlloc(JOB_BYTES);
  if (job == 0) return 0;
  poolThreads = threads;
  mayWait = canWait != 0;
  return job;
}

/** Tells the workers to return from workerLoop; later products run on this thread alone. */
export function threadsStop(): void {
  if (!ASC_FEATURE_THREADS || job == 0 || poolThreads <= 1) return;
  if (ASC_FEATURE_THREADS) {
    store<i32>(job + JOB_KERNEL, KERNEL_STOP);
    atomic.store<i32>(job + JOB_SEQ, ++seq);
    atomic.notify(job + JOB_SEQ, poolThreads - 1);
  }
  poolThreads = 1;
}

/**
 * Runs a kernel of jobs.ts over n outputs, in chunks claimed by this thread and the workers. The
 * f32 gathers have two parts (the second goes to `scratch`), so each part gets half the threads.
 * The batched kernels (a prompt block) also take the block's tokens and strides.
 */
export function parallelFor(kernel: i32, out: usize, w: usize, x: usize, idx: usize, count: i32, n: i32, cols: i32, scratch: usize = 0, tokens: i32 = 1, outStride: i32 = 0, xStride: i32 = 0): void {
  const parts = kernel == KERNEL_GATHER_F32 || kernel == KERNEL_GATHER_BATCH_F32 ? 2 : 1;
  const per = max(1, poolThreads / parts);
  const rowsPerChunk = kernel == KERNEL_MATVEC_F32 || kernel == KERNEL_MATVEC_Q8 || kernel == KERNEL_MATMAT_F32 || kernel == KERNEL_MATMAT_Q8;
  const minChunk = rowsPerChunk ? MIN_MATVEC_CHUNK : MIN_GATHER_CHUNK;
  const size = max(minChunk, ((n + per - 1) / per + CHUNK_ALIGN - 1) & ~(CHUNK_ALIGN - 1));
  storeArgs(out, w, x, idx, count, cols, scratch);
  store<i32>(job + JOB_TOKENS, tokens);
  store<i32>(job + JOB_OUT_STRIDE, outStride);
  store<i32>(job + JOB_X_STRIDE, xStride);
  run(kernel, n, size, parts);
}

/**
 * attentionF32 (kernels/attention.ts) with its query heads shared by the threads. A chunk is whole
 * groups of the heads that share a kv head when there are at least as many kv heads as threads,
 * so each thread reads its own keys and values; else (few kv heads) plain ranges of heads.
 */
export function parallelAttention(out: usize, q: usize, keys: usize, values: usize, n: i32, nHeads: i32, nKvHeads: i32, headDim: i32, kvDim: i32, probs: usize, probsStride: i32): void {
  const align = nKvHeads >= poolThreads ? nHeads / nKvHeads : 1;
  const size = ((nHeads + poolThreads - 1) / poolThreads + align - 1) / align * align;
  storeArgs(out, keys, q, values, n, headDim, probs); // attention's mapping onto the fields: jobs.ts
  store<i32>(job + JOB_KV_HEADS, nKvHeads);
  store<i32>(job + JOB_KV_DIM, kvDim);
  store<i32>(job + JOB_PROBS_STRIDE, probsStride);
  run(KERNEL_ATTENTION_F32, nHeads, size, 1);
}

/** Writes the arguments every kernel of jobs.ts reads into the job block. */
function storeArgs(out: usize, w: usize, x: usize, idx: usize, count: i32, cols: i32, scratch: usize): void {
  store<u32>(job + JOB_OUT, <u32>out);
  store<u32>(job + JOB_W, <u32>w);
  store<u32>(job + JOB_X, <u32>x);
  store<u32>(job + JOB_IDX, <u32>idx);
  store<i32>(job + JOB_COUNT, count);
  store<i32>(job + JOB_COLS, cols);
  store<u32>(job + JOB_SCRATCH, <u32>scratch);
}

/** Posts the job whose arguments are in the block (n outputs in chunks of `size`, `parts` parts), helps with it, and waits for every chunk. */
function run(kernel: i32, n: i32, size: i32, parts: i32): void {
  const ranges = (n + size - 1) / size;
  const chunks = parts * ranges;
  store<i32>(job + JOB_KERNEL, kernel);
  store<i32>(job + JOB_N, n);
  store<i32>(job + JOB_CHUNK, size);
  store<i32>(job + JOB_CHUNKS, chunks);
  store<i32>(job + JOB_RANGES, ranges);
  seq++;
  atomic.store<i32>(job + JOB_FINISHED, 0);
  atomic.store<i64>(job + JOB_CLAIM, (<i64>seq << 32) | 0); // claims of older jobs now fail
  atomic.store<i32>(job + JOB_SEQ, seq); // sequentially consistent: publishes everything above
  atomic.notify(job + JOB_SEQ, poolThreads - 1);
  if (mainWorks) chunksMain += runChunks(job, seq);
  chunksAll += chunks;
  let finished = atomic.load<i32>(job + JOB_FINISHED);
  for (let spins = 0; finished != chunks; spins++) {
    if (mayWait && spins >= SPINS) atomic.wait<i32>(job + JOB_FINISHED, finished, -1);
    finished = atomic.load<i32>(job + JOB_FINISHED);
  }
}
