// Work sharing for the threads build (build/engine-threads.wasm + build/thread-worker.wasm).
// One job at a time: the main instance writes a kernel id and its arguments into a job block in
// shared memory, wakes the workers, computes share 0 itself and waits until the others are done.
// Worker t computes share t. Shares are ranges of OUTPUTS, so every output element is computed by
// exactly the instructions a single thread would use: a split product is bit-identical to the
// unsplit one (tests/threads.test.ts checks logits against the 1-thread build).
//
// Both modules compile this file, so the kernels a worker runs are the same source as the main's.
//
// Making a kernel splittable: give it a range form that computes only outputs [from, to) with the
// same per-output instruction sequence (gatherColumnsRangeF32; a row-major matvec needs none, its
// rows are independent: offset out and W), add a KERNEL_* id and a case in runShare below, and
// call parallelFor (pool.ts) from the kernel's wrapper in model/linear.ts.

import { matvecF32 } from "../kernels/matvec";
import { gatherColumnsRangeF32 } from "../kernels/gather";

// Job block: i32 words at byte offsets; the two counters on their own cache lines.
export const JOB_SEQ: usize = 0; // bumped by the main instance for every job (workers wait on it)
export const JOB_DONE: usize = 64; // workers that finished the current job (the main waits on it)
export const JOB_KERNEL: usize = 128;
export const JOB_OUT: usize = 132;
export const JOB_W: usize = 136;
export const JOB_X: usize = 140;
export const JOB_IDX: usize = 144;
export const JOB_COUNT: usize = 148; // kept inputs of a gather
export const JOB_N: usize = 152; // outputs (rows of a matvec, outputs of a gather)
export const JOB_COLS: usize = 156; // matvec: columns
export const JOB_PARTS: usize = 160; // threads sharing the job
export const JOB_BYTES: usize = 192;

export const KERNEL_STOP: i32 = -1;
export const KERNEL_MATVEC_F32: i32 = 1;
export const KERNEL_GATHER_F32: i32 = 2;

/** Shares are multiples of 16 outputs: 64 bytes of f32, so no two threads write one cache line. */
const SHARE_ALIGN: i32 = 16;

/** Spins (atomic loads) before sleeping in memory.atomic.wait32: jobs follow each other closely. */
export const SPINS: i32 = 4096;

/** First output of share `part` of n outputs split `parts` ways (part = parts gives n). */
// @ts-ignore: decorator
@inline export function shareStart(n: i32, parts: i32, part: i32): i32 {
  const chunk = ((n + parts - 1) / parts + SHARE_ALIGN - 1) & ~(SHARE_ALIGN - 1);
  return min(n, chunk * part);
}

/** Runs share `part` of the job in the block at `job`. */
export function runShare(job: usize, part: i32): void {
  const n = load<i32>(job + JOB_N);
  const parts = load<i32>(job + JOB_PARTS);
  const from = shareStart(n, parts, part);
  const to = shareStart(n, parts, part + 1);
  if (from >= to) return;
  const out = <usize>load<u32>(job + JOB_OUT);
  const w = <usize>load<u32>(job + JOB_W);
  const x = <usize>load<u32>(job + JOB_X);
  const kernel = load<i32>(job + JOB_KERNEL);
  if (kernel == KERNEL_MATVEC_F32) {
    const cols = load<i32>(job + JOB_COLS);
    matvecF32(out + (<usize>from << 2), w + <usize>from * (<usize>cols << 2), x, to - from, cols);
  } else if (kernel == KERNEL_GATHER_F32) {
    gatherColumnsRangeF32(out, w, x, <usize>load<u32>(job + JOB_IDX), load<i32>(job + JOB_COUNT), n, from, to);
  } else {
    unreachable();
  }
}
