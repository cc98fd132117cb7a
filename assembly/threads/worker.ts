// The module a worker thread instantiates on the engine's shared memory (build/thread-worker.wasm):
// the kernels of jobs.ts and a wait loop, nothing else. It has no data segments and no allocator
// (runtime "stub", never called), so instantiating it cannot write to the live memory.

import { JOB_KERNEL, JOB_SEQ, KERNEL_STOP, runChunks, SPINS } from "./jobs";

/** Helps with every job posted in the block at `job` until a stop job. */
export function workerLoop(job: usize): void {
  let seen = 0; // the block starts zeroed: job 1 is the first
  while (true) {
    let seq = atomic.load<i32>(job + JOB_SEQ);
    for (let spins = 0; seq == seen; spins++) {
      if (spins >= SPINS) atomic.wait<i32>(job + JOB_SEQ, seen, -1);
      seq = atomic.load<i32>(job + JOB_SEQ);
    }
    seen = seq;
    if (load<i32>(job + JOB_KERNEL) == KERNEL_STOP) return;
    runChunks(job, seq);
  }
}
