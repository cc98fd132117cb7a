// Column gather over columns scattered in memory (the streaming column cache, assembly/stream/).
//
//   out[o] += sum over k of x[idx[k]] * col_k[o]      col_k = ptrs[k] + partOffset, k ascending
//
// Same arithmetic, same order as a run of the resident gather (gatherRunF32, kernels/gather.ts):
// each out[o] adds the kept columns one after another in k order, eight (then four, then one) per
// pass, each add rounded on its own. It does not zero `out`, so a run split into consecutive
// chunks of k gives bit-identical results to one run over the resident matrix; the stream store
// sums the gather's two parts apart, as the resident one does (the streamed and resident paths
// produce the same logits).

import { axpy4F32, axpy8F32, axpyF32 } from "./axpy";

/** SIMD: eight columns per pass, then four, then one; accumulates into out (nOut floats). */
export function gatherSlotsF32(out: usize, ptrs: usize, partOffset: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  let k = 0;
  for (; k + 8 <= nKept; k += 8) {
    const pk = ptrs + (<usize>k << 2);
    const ik = idx + (<usize>k << 2);
    axpy8F32(
      out,
      <usize>load<u32>(pk) + partOffset, <usize>load<u32>(pk, 4) + partOffset, <usize>load<u32>(pk, 8) + partOffset, <usize>load<u32>(pk, 12) + partOffset,
      <usize>load<u32>(pk, 16) + partOffset, <usize>load<u32>(pk, 20) + partOffset, <usize>load<u32>(pk, 24) + partOffset, <usize>load<u32>(pk, 28) + partOffset,
      load<f32>(x + (<usize>load<u32>(ik) << 2)), load<f32>(x + (<usize>load<u32>(ik, 4) << 2)), load<f32>(x + (<usize>load<u32>(ik, 8) << 2)), load<f32>(x + (<usize>load<u32>(ik, 12) << 2)),
      load<f32>(x + (<usize>load<u32>(ik, 16) << 2)), load<f32>(x + (<usize>load<u32>(ik, 20) << 2)), load<f32>(x + (<usize>load<u32>(ik, 24) << 2)), load<f32>(x + (<usize>load<u32>(ik, 28) << 2)),
      nOut,
    );
  }
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
