// Small per-vector kernels: RMSNorm, softmax, SiLU-gating, residual add. Scalar f32 in a fixed
// order; they touch D or I floats per call, so they are not where the bytes (or the time) go.

/** out = x / sqrt(mean(x^2) + eps) * weight */
export function rmsnorm(out: usize, x: usize, weight: usize, n: i32, eps: f32): void {
  let ss: f32 = 0;
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    ss += v * v;
  }
  const scale: f32 = 1.0 / Mathf.sqrt(ss / <f32>n + eps);
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(out + off, load<f32>(weight + off) * (scale * load<f32>(x + off)));
  }
}

/** In-place softmax over n entries (max-subtracted). */
export function softmax(x: usize, n: i32): void {
  let max = load<f32>(x);
  for (let i = 1; i < n; i++) max = Mathf.max(max, load<f32>(x + (<usize>i << 2)));
  let sum: f32 = 0;
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    const e = Mathf.exp(load<f32>(x + off) - max);
    store<f32>(x + off, e);
    sum += e;
  }
  const inv: f32 = 1.0 / sum;
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(x + off, load<f32>(x + off) * inv);
  }
}

// @ts-ignore: decorator
@inline export function silu(v: f32): f32 {
  return v / (1.0 + Mathf.exp(-v));
}

/** h = silu(g) * u, elementwise over n (SwiGLU). */
export function swiglu(h: usize, g: usize, u: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(h + off, silu(load<f32>(g + off)) * load<f32>(u + off));
  }
}

/** x += y over n floats. */
export function addInPlace(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    store<f32>(x + off, load<f32>(x + off) + load<f32>(y + off));
  }
}
