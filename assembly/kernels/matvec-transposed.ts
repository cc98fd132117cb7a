// Transposed products for backpropagation (assembly/train/): the gradient of x in y = W x is
// W^T dy. With W row-major [rows x cols] that is a sum of scaled rows,
//
//   out[c] += sum over r of W[r, c] * y[r]            (rows added in order r = 0, 1, ...)
//
// so it streams W once, row by row, like the forward matvec. The SIMD kernel takes four rows per
// pass but adds them in row order, so it is bit-identical to the scalar reference.

import { axpy4F32, axpyF32, axpyF32Scalar } from "./axpy";

export { axpyF32 };

/** SIMD: out += W^T y for a row-major [rows x cols] W (out has cols floats, y has rows). */
export function matvecTransposedAddF32(out: usize, w: usize, y: usize, rows: i32, cols: i32): void {
  scaledRowsAddF32(out, w, y, 1.0, rows, cols); // y * 1 is y exactly
}

/** Scalar reference for matvecTransposedAddF32. */
export function matvecTransposedAddF32Scalar(out: usize, w: usize, y: usize, rows: i32, cols: i32): void {
  scaledRowsAddF32Scalar(out, w, y, 1.0, rows, cols);
}

/** SIMD: out += sum over r of (y[r] * scale) * W[r, :], rows added in order, four per pass. */
// @ts-ignore: decorator
@inline export function scaledRowsAddF32(out: usize, w: usize, y: usize, scale: f32, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const wr = w + <usize>r * rowBytes;
    axpy4F32(
      out,
      wr,
      wr + rowBytes,
      wr + 2 * rowBytes,
      wr + 3 * rowBytes,
      load<f32>(y + (<usize>r << 2)) * scale,
      load<f32>(y + (<usize>(r + 1) << 2)) * scale,
      load<f32>(y + (<usize>(r + 2) << 2)) * scale,
      load<f32>(y + (<usize>(r + 3) << 2)) * scale,
      cols,
    );
  }
  for (; r < rows; r++) axpyF32(out, w + <usize>r * rowBytes, load<f32>(y + (<usize>r << 2)) * scale, cols);
}

/** Scalar reference for scaledRowsAddF32. */
// @ts-ignore: decorator
@inline export function scaledRowsAddF32Scalar(out: usize, w: usize, y: usize, scale: f32, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) axpyF32Scalar(out, w + <usize>r * rowBytes, load<f32>(y + (<usize>r << 2)) * scale, cols);
}
