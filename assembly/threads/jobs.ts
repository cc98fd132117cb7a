// Work sharing for the threads build (build/engine-threads.wasm + build/thread-worker.wasm).
// One job at a time: the main instance writes a kernel id and its arguments into a job block in
// shared memory and wakes the workers; then every thread, the main one included, claims chunks of
// the job's OUTPUTS until none are left, and the main waits until every chunk is finished. An f32
// gather is two parts (the halves of its kept list, kernels/gather.ts), each cut into output
// ranges: a chunk is one range of one part.
// Each output element is computed by exactly the instructions a single thread would use, whichever
// thread runs its chunk: a split product is bit-identical to the unsplit one
// (tests/threads.test.ts, npm run test:builds).
//
// Chunks are claimed, not assigned: on a machine shared with other processes a worker may not run
// for a while, and then the main (or another worker) takes its chunks instead of waiting for it.
// A claim is a compare-exchange on one 64-bit word (job number << 32 | next chunk), so a worker
// that wakes after its job is over cannot claim anything of the next one.
//
// Both modules compile this file, so the kernels a worker runs are the same source as the main's.
//
// Making a kernel splittable: give it a range form that computes only outputs [from, to) of the
// whole product with the same per-output instruction sequence (gatherColumnsRangeF32 for a part of
// an f32 gather; an f32
// row-major matvec needs none, its rows are independent: offset out and W; the q8 one likewise,
// W at tile row from / 8, with x quantized once by the main instance since workers have no
// scratch: matvecQ8Quantized; the q8 gather's plan, x quantized and columns paired, is made by the
// main instance too: gatherSweepQ8). Chunk bounds are multiples of 32, so a
// q8 gather's range covers whole blocks. Then add a KERNEL_* id and a case in runRange below, call
// parallelFor (pool.ts) from the kernel's wrapper in model/linear.ts, and add the dtype to
// tests/threads.test.ts (bit-identical to one thread).

import { matvecF32 } from "../kernels/matvec";
import { gatherColumnsRangeF32, gatherHalf } from "../kernels/gather";
import { gatherSweepQ8, matvecQ8Quantized, q8BlockAt, q8Blocks } from "../kernels/q8";
import { gatherRunBatchF32, gatherSweepBatchQ8, matmatF32, matmatQ8Quantized } from "../kernels/matmat";
import { attentionHeadsF32 } from "../kernels/attention";

// Job block: byte offsets; the three words threads write on their own cache lines.
export const JOB_SEQ: usize = 0; // i32 job number, bumped by the main instance per job (workers wait on it)
export const JOB_CLAIM: usize = 64; // i64: job number << 32 | next unclaimed chunk
export const JOB_FINISHED: usize = 128; // i32 chunks finished (the main waits on it)
export const JOB_KERNEL: usize = 192;
export const JOB_OUT: usize = 196;
export const JOB_W: usize = 200;
export const JOB_X: usize = 204;
export const JOB_IDX: usize = 208;
export const JOB_COUNT: usize = 212; // kept inputs of a gather
export const JOB_N: usize = 216; // outputs (rows of a matvec, outputs of a gather)
export const JOB_COLS: usize = 220; // matvec: columns
export const JOB_CHUNK: usize = 224; // outputs per chunk
export const JOB_CHUNKS: usize = 228; // chunks of this job
export const JOB_RANGES: usize = 232; // output ranges per part (chunks = parts * ranges)
export const JOB_SCRATCH: usize = 236; // f32 gather: where the second part is summed
export const JOB_TOKENS: usize = 240; // batched kernels (a prompt block): tokens in the block
export const JOB_OUT_STRIDE: usize = 244; // batched kernels: floats from one token's outputs to the next's
export const JOB_X_STRIDE: usize = 248; // batched kernels: floats from one token's x to the next's
// Attention (KERNEL_ATTENTION_F32) puts q at JOB_X, the keys at JOB_W, the values at JOB_IDX, the
// positions at JOB_COUNT, the query heads at JOB_N (its outputs), headDim at JOB_COLS, the
// probabilities at JOB_SCRATCH, and these:
export const JOB_KV_HEADS: usize = 252;
export const JOB_KV_DIM: usize = 256;
export const JOB_PROBS_STRIDE: usize = 260;
export const JOB_BYTES: usize = 320;

export const KERNEL_STOP: i32 = -1;
export const KERNEL_MATVEC_F32: i32 = 1;
export const KERNEL_GATHER_F32: i32 = 2; // two parts: JOB_SCRATCH receives the second
export const KERNEL_MATVEC_Q8: i32 = 3; // x: already quantized (quantizeXQ8) by the main instance
export const KERNEL_GATHER_Q8: i32 = 4; // w: the plan (gatherPlanQ8) made by the main instance
// The prompt's batched forms (kernels/matmat.ts), split the same way by outputs:
export const KERNEL_MATMAT_F32: i32 = 5;
export const KERNEL_GATHER_BATCH_F32: i32 = 6; // two parts, as KERNEL_GATHER_F32; JOB_SCRATCH: the second's sums, nOut floats per token
export const KERNEL_MATMAT_Q8: i32 = 7; // x: every token's x quantized (quantizeBatchQ8) by the main instance
export const KERNEL_GATHER_BATCH_Q8: i32 = 8; // w: every token's plan (gatherPlansBatchQ8) made by the main instance
export const KERNEL_ATTENTION_F32: i32 = 9; // outputs: query heads (kernels/attention.ts attentionHeadsF32)

/**
 * Spins (atomic loads, well under a millisecond) before sleeping in memory.atomic.wait. Jobs follow
 * each other within tens of microseconds during a token, and a thread woken from sleep may wait
 * for the scheduler far longer than that when the machine is busy.
 */
export const SPINS: i32 = 1 << 18;

/** Claims and runs chunks of job number `seq` until none are left (or the job is over); returns how many it ran. */
export function runChunks(job: usize, seq: i32): i32 {
  const chunks = load<i32>(job + JOB_CHUNKS);
  let ran = 0;
  while (true) {
    const claim = atomic.load<i64>(job + JOB_CLAIM);
    const c = <i32>claim;
    if (<i32>(claim >>> 32) != seq || c >= chunks) return ran;
    if (atomic.cmpxchg<i64>(job + JOB_CLAIM, claim, claim + 1) != claim) continue; // another thread took it
    const n = load<i32>(job + JOB_N);
    const size = load<i32>(job + JOB_CHUNK);
    const ranges = load<i32>(job + JOB_RANGES);
    const r = c % ranges;
    runRange(job, c / ranges, r * size, min(n, (r + 1) * size));
    atomic.add<i32>(job + JOB_FINISHED, 1);
    atomic.notify(job + JOB_FINISHED, 1);
    ran++;
  }
}

/** Outputs [from, to) of part `part` of the job's kernel. */
function runRange(job: usize, part: i32, from: i32, to: i32): void {
  const out = <usize>load<u32>(job + JOB_OUT);
  const w = <usize>load<u32>(job + JOB_W);
  const x = <usize>load<u32>(job + JOB_X);
  const kernel = load<i32>(job + JOB_KERNEL);
  if (kernel == KERNEL_MATVEC_F32) {
    const cols = load<i32>(job + JOB_COLS);
    matvecF32(out + (<usize>from << 2), w + <usize>from * (<usize>cols << 2), x, to - from, cols);
  } else if (kernel == KERNEL_MATVEC_Q8) {
    const cols = load<i32>(job + JOB_COLS);
    matvecQ8Quantized(out + (<usize>from << 2), q8BlockAt(w, q8Blocks(cols), from, 0), x, to - from, cols);
  } else if (kernel == KERNEL_GATHER_Q8) {
    gatherSweepQ8(out, w, load<i32>(job + JOB_N), from, to);
  } else if (kernel == KERNEL_GATHER_F32) {
    // part 0: kept entries [0, h) into out; part 1: [h, count) into scratch (the main adds them)
    const idx = <usize>load<u32>(job + JOB_IDX);
    const count = load<i32>(job + JOB_COUNT);
    const h = gatherHalf(count);
    if (part == 0) gatherColumnsRangeF32(out, w, x, idx, h, load<i32>(job + JOB_N), from, to);
    else gatherColumnsRangeF32(<usize>load<u32>(job + JOB_SCRATCH), w, x, idx + (<usize>h << 2), count - h, load<i32>(job + JOB_N), from, to);
  } else if (kernel == KERNEL_MATMAT_F32) {
    const cols = load<i32>(job + JOB_COLS);
    matmatF32(out + (<usize>from << 2), w + <usize>from * (<usize>cols << 2), x, to - from, cols, load<i32>(job + JOB_TOKENS), load<i32>(job + JOB_OUT_STRIDE), load<i32>(job + JOB_X_STRIDE));
  } else if (kernel == KERNEL_MATMAT_Q8) {
    matmatQ8Quantized(out, w, x, load<i32>(job + JOB_COLS), load<i32>(job + JOB_TOKENS), load<i32>(job + JOB_OUT_STRIDE), from, to);
  } else if (kernel == KERNEL_GATHER_BATCH_Q8) {
    gatherSweepBatchQ8(out, w, load<i32>(job + JOB_COUNT), load<i32>(job + JOB_N), load<i32>(job + JOB_TOKENS), load<i32>(job + JOB_OUT_STRIDE), from, to);
  } else if (kernel == KERNEL_GATHER_BATCH_F32) {
    // as KERNEL_GATHER_F32, for every token of the block; the second part's token b at b * n floats
    const idx = <usize>load<u32>(job + JOB_IDX);
    const count = load<i32>(job + JOB_COUNT);
    const n = load<i32>(job + JOB_N);
    const tokens = load<i32>(job + JOB_TOKENS);
    const xStride = load<i32>(job + JOB_X_STRIDE);
    const h = gatherHalf(count);
    if (part == 0) gatherRunBatchF32(out, w, x, idx, h, n, tokens, load<i32>(job + JOB_OUT_STRIDE), xStride, from, to);
    else gatherRunBatchF32(<usize>load<u32>(job + JOB_SCRATCH), w, x, idx + (<usize>h << 2), count - h, n, tokens, n, xStride, from, to);
  } else if (kernel == KERNEL_ATTENTION_F32) {
    attentionHeadsF32(
      out, x, w, <usize>load<u32>(job + JOB_IDX), load<i32>(job + JOB_COUNT), load<i32>(job + JOB_N), load<i32>(job + JOB_KV_HEADS),
      load<i32>(job + JOB_COLS), load<i32>(job + JOB_KV_DIM), <usize>load<u32>(job + JOB_SCRATCH), load<i32>(job + JOB_PROBS_STRIDE), from, to,
    );
  } else {
    unreachable();
  }
}
