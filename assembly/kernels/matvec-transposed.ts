// Transposed products for backpropagation (assembly/train/): the gradient of x in y = W x is
// W^T dy. With W row-major [rows x cols] that is a sum of scaled rows,
//
//   out[c] += sum over r of W[r, c] * y[r]            (rows added in order r = 0, 1, ...)
//
// so it streams W once, row by row, like the forward matvec. The SIMD kernel takes four rows per
// pass but adds them in row order, so it is bit-identical to the scalar reference.

/** SIMD: out += W^T y for a row-major [rows x cols] W (out has cols floats, y has rows). */
export function matvecTransposedAddF32(out: usize, w: usize, y: usize, rows: i32, cols: i32): void {
  const n4 = cols & ~3;
  const rowBytes = <usize>cols << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const s0 = load<f32>(y + (<usize>r << 2));
    const s1 = load<f32>(y + (<usize>(r + 1) << 2));
    const s2 = load<f32>(y + (<usize>(r + 2) << 2));
    const s3 = load<f32>(y + (<usize>(r + 3) << 2));
    const w0 = w + <usize>r * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    const v0 = f32x4.splat(s0);
    const v1 = f32x4.splat(s1);
    const v2 = f32x4.splat(s2);
    const v3 = f32x4.splat(s3);
    for (let c = 0; c < n4; c += 4) {
      const off = <usize>c << 2;
      let acc = v128.load(out + off);
      acc = f32x4.add(acc, f32x4.mul(v128.load(w0 + off), v0));
      acc = f32x4.add(acc, f32x4.mul(v128.load(w1 + off), v1));
      acc = f32x4.add(acc, f32x4.mul(v128.load(w2 + off), v2));
      acc = f32x4.add(acc, f32x4.mul(v128.load(w3 + off), v3));
      v128.store(out + off, acc);
    }
    for (let c = n4; c < cols; c++) {
      const off = <usize>c << 2;
      let acc = load<f32>(out + off);
      acc += load<f32>(w0 + off) * s0;
      acc += load<f32>(w1 + off) * s1;
      acc += load<f32>(w2 + off) * s2;
      acc += load<f32>(w3 + off) * s3;
      store<f32>(out + off, acc);
    }
  }
  for (; r < rows; r++) axpyF32(out, w + <usize>r * rowBytes, load<f32>(y + (<usize>r << 2)), cols);
}

/** Scalar reference for matvecTransposedAddF32. */
export function matvecTransposedAddF32Scalar(out: usize, w: usize, y: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const s = load<f32>(y + (<usize>r << 2));
    const wr = w + <usize>r * rowBytes;
    for (let c = 0; c < cols; c++) {
      const off = <usize>c << 2;
      store<f32>(out + off, load<f32>(out + off) + load<f32>(wr + off) * s);
    }
  }
}

/** SIMD: out += a * x over n floats (elementwise, so bit-identical to the plain loop). */
export function axpyF32(out: usize, x: usize, a: f32, n: i32): void {
  const n4 = n & ~3;
  const v = f32x4.splat(a);
  for (let i = 0; i < n4; i += 4) {
    const off = <usize>i << 2;
    v128.store(out + off, f32x4.add(v128.load(out + off), f32x4.mul(v128.load(x + off), v)));
  }
  for (let i = n4; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, load<f32>(out + off) + load<f32>(x + off) * a);
  }
}
