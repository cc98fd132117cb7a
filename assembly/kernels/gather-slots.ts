// Column gather over columns scattered in memory (the streaming column cache, assembly/stream/).
//
//   out[o] += sum over k of x[idx[k]] * col_k[o]      col_k = ptrs[k] + partOffset, k ascending
//
// Same arithmetic, same order as gatherColumnsF32 (kernels/gather.ts): each out[o] adds the kept
// columns one after another in k order, four per pass, each add rounded on its own. It does not
// zero `out`, so a gather split into consecutive chunks of k gives bit-identical results to one
// gather over the resident matrix (the streamed and resident paths produce the same logits).

/** SIMD: four columns per pass; accumulates into out (nOut floats). */
export function gatherSlotsF32(out: usize, ptrs: usize, partOffset: usize, x: usize, idx: usize, nKept: i32, nOut: i32): void {
  const n4 = nOut & ~3;
  let k = 0;
  for (; k + 4 <= nKept; k += 4) {
    const c0 = <usize>load<u32>(ptrs + (<usize>k << 2)) + partOffset;
    const c1 = <usize>load<u32>(ptrs + (<usize>(k + 1) << 2)) + partOffset;
    const c2 = <usize>load<u32>(ptrs + (<usize>(k + 2) << 2)) + partOffset;
    const c3 = <usize>load<u32>(ptrs + (<usize>(k + 3) << 2)) + partOffset;
    const s0 = load<f32>(x + (<usize>load<u32>(idx + (<usize>k << 2)) << 2));
    const s1 = load<f32>(x + (<usize>load<u32>(idx + (<usize>(k + 1) << 2)) << 2));
    const s2 = load<f32>(x + (<usize>load<u32>(idx + (<usize>(k + 2) << 2)) << 2));
    const s3 = load<f32>(x + (<usize>load<u32>(idx + (<usize>(k + 3) << 2)) << 2));
    const v0 = f32x4.splat(s0);
    const v1 = f32x4.splat(s1);
    const v2 = f32x4.splat(s2);
    const v3 = f32x4.splat(s3);
    for (let o = 0; o < n4; o += 4) {
      const off = <usize>o << 2;
      let acc = v128.load(out + off);
      acc = f32x4.add(acc, f32x4.mul(v128.load(c0 + off), v0));
      acc = f32x4.add(acc, f32x4.mul(v128.load(c1 + off), v1));
      acc = f32x4.add(acc, f32x4.mul(v128.load(c2 + off), v2));
      acc = f32x4.add(acc, f32x4.mul(v128.load(c3 + off), v3));
      v128.store(out + off, acc);
    }
    for (let o = n4; o < nOut; o++) {
      const off = <usize>o << 2;
      let acc = load<f32>(out + off);
      acc += load<f32>(c0 + off) * s0;
      acc += load<f32>(c1 + off) * s1;
      acc += load<f32>(c2 + off) * s2;
      acc += load<f32>(c3 + off) * s3;
      store<f32>(out + off, acc);
    }
  }
  for (; k < nKept; k++) {
    const c = <usize>load<u32>(ptrs + (<usize>k << 2)) + partOffset;
    const s = load<f32>(x + (<usize>load<u32>(idx + (<usize>k << 2)) << 2));
    const v = f32x4.splat(s);
    for (let o = 0; o < n4; o += 4) {
      const off = <usize>o << 2;
      v128.store(out + off, f32x4.add(v128.load(out + off), f32x4.mul(v128.load(c + off), v)));
    }
    for (let o = n4; o < nOut; o++) {
      const off = <usize>o << 2;
      store<f32>(out + off, load<f32>(out + off) + load<f32>(c + off) * s);
    }
  }
}
