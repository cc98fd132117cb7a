// Random q8 matrices for the specs that run the q8 kernels (q8.spec, matmat.spec): row-major tiles
// and input-major columns in the engine's layouts (assembly/kernels/q8.ts), values from buffers.ts's rand().
import { q8Bytes, q8BlockAt, q8ScaleAt, q8Blocks, q8InBytes, q8InScales } from "../../assembly/kernels/q8";
import { rand } from "./buffers";

/** A random row-major q8 matrix of rows x n: quants in [-127, 127], scales in (0, 0.02], padding 0. */
export function randomQ8(rows: i32, n: i32): usize {
  const bytes = q8Bytes(rows, n);
  const w = heap.alloc(bytes);
  memory.fill(w, 0, bytes);
  const nb = q8Blocks(n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) store<i8>(q8BlockAt(w, nb, r, i / 32) + <usize>(i % 32), <i8>(<i32>(rand() * 127.0)));
    for (let b = 0; b < nb; b++) store<f32>(q8ScaleAt(w, nb, r, b), 0.01 + 0.01 * rand());
  }
  return w;
}

/** f16 bits of a positive normal scale in [2^-7, 2^-6) (about 0.008-0.016), random mantissa. */
export function randomHalf(): u16 {
  return <u16>(0x2000 + (<i32>((rand() + 1.0) * 511.0) & 0x3ff));
}

/** A random input-major q8 matrix [nIn x nOut]: quants in [-127, 127], f16 scales. */
export function randomQ8In(nIn: i32, nOut: i32): usize {
  const w = heap.alloc(q8InBytes(nIn, nOut));
  for (let i = 0; i < nIn * nOut; i++) store<i8>(w + <usize>i, <i8>(<i32>(rand() * 127.0)));
  const sc = q8InScales(w, nIn, nOut);
  for (let i = 0; i < q8Blocks(nIn) * nOut; i++) store<u16>(sc + (<usize>i << 1), randomHalf());
  return w;
}
