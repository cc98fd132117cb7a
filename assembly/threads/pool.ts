// The main instance's side of the work sharing (jobs.ts): the job block, and parallelFor.
// Only the threads build calls into this (model/linear.ts checks ASC_FEATURE_THREADS, a
// compile-time constant, so other builds leave it out).

import { arenaAlloc } from "../arena";
import { JOB_BYTES, JOB_COLS, JOB_COUNT, JOB_DONE, JOB_IDX, JOB_KERNEL, JOB_N, JOB_OUT, JOB_PARTS, JOB_SEQ, JOB_W, JOB_X, KERNEL_STOP, runShare, SPINS } from "./jobs";

let job: usize = 0;
/** threads sharing each job, this one included (1: no pool) */
export let poolThreads: i32 = 1;
/** whether this thread may sleep in memory.atomic.wait32 (not on a browser page's main thread) */
let mayWait = false;

/** Work below this many weights per product runs on one thread (waking workers costs more). */
export const MIN_PARALLEL_WEIGHTS: i32 = 1 << 16;

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
    atomic.add<i32>(job + JOB_SEQ, 1);
    atomic.notify(job + JOB_SEQ, poolThreads - 1);
  }
  poolThreads = 1;
}

/** Runs a kernel of jobs.ts over n outputs, split over the pool (this thread takes share 0). */
export function parallelFor(kernel: i32, out: usize, w: usize, x: usize, idx: usize, count: i32, n: i32, cols: i32): void {
  store<i32>(job + JOB_KERNEL, kernel);
  store<u32>(job + JOB_OUT, <u32>out);
  store<u32>(job + JOB_W, <u32>w);
  store<u32>(job + JOB_X, <u32>x);
  store<u32>(job + JOB_IDX, <u32>idx);
  store<i32>(job + JOB_COUNT, count);
  store<i32>(job + JOB_N, n);
  store<i32>(job + JOB_COLS, cols);
  store<i32>(job + JOB_PARTS, poolThreads);
  atomic.store<i32>(job + JOB_DONE, 0);
  atomic.add<i32>(job + JOB_SEQ, 1); // sequentially consistent: publishes the arguments above
  atomic.notify(job + JOB_SEQ, poolThreads - 1);
  runShare(job, 0);
  const others = poolThreads - 1;
  let done = atomic.load<i32>(job + JOB_DONE);
  for (let spins = 0; done != others; spins++) {
    if (mayWait && spins >= SPINS) atomic.wait<i32>(job + JOB_DONE, done, -1);
    done = atomic.load<i32>(job + JOB_DONE);
  }
}
