// Column gather over columns scattered in memory (the streaming column cache, assembly/stream/).
//
//   out[o] += sum over k of x[idx[k]] * col_k[o]      col_k = ptrs[k] + partOffset, k ascending
//
// Same arithmetic, same order as gatherColumnsF32 (kernels/gather.ts): each out[o] adds the kept
// columns one after another in k order, four per pass, each add rounded on its own. It does not
// zero `out`, so a gather split into consecutive chunks of k gives bit-identical results to one
// gather over the resident matrix (the streamed and resident paths produce the same logits).

import { axpy4F32, axpyF32 } from "./axpy";

/** SIMD: four columns per pass; accumulates into out (nOut floats). */
export function gatherSlotsF32(out: usize, ptrs: usize, partOffset: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  let k = 0;
  for (; k + 4 <= nKept; k += 4) {
    axpy4F32(
      out,
      <usize>load<u32>(ptrs + (<usize>k << 2)) + partOffset,
      <usize>load<u32>(ptrs + (<usize>(k + 1) << 2)) + partOffset,
      <usize>load<u32>(ptrs + (<usize>(k + 2) << 2)) + partOffset,
      <usize>load<u32>(ptrs + (<usize>(k + 3) << 2)) + partOffset,
      load<f32>(x + (<usize>load<u32>(idx + (<usize>k << 2)) << 2)),
      load<f32>(x + (<usize>load<u32>(idx + (<usize>(k + 1) << 2)) << 2)),
      load<f32>(x + (<usize>load<u32>(idx + (<usize>(k + 2) << 2)) << 2)),
      load<f32>(x + (<usize>load<u32>(idx + (<usize>(k + 3) << 2)) << 2)),
      nOut,
    );
  }
  for (; k < nKept; k++) {
    const c = <usize>load<u32>(ptrs + (<usize>k << 2)) + partOffset;
    axpyF32(out, c, load<f32>(x + (<usize>load<u32>(idx + (<usize>k << 2)) << 2)), nOut);
  }
}
