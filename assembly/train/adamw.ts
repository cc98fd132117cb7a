// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"): Adam on the gradient, and
// the weight decay applied to the parameter directly, not folded into the gradient:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr * ( (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps) + weightDecay * p )
// Per element in f64, rounded to f32 once, in index order.

/** One AdamW update of n parameters; the gradient is read times gradScale (clipping, averaging). */
export function adamwUpdate(params: usize, grads: usize, m: usize, v: usize, n: i32, lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64, step: i32, gradScale: f64): void {
  const c1 = 1.0 - Math.pow(beta1, <f64>step);
  const c2 = 1.0 - Math.pow(beta2, <f64>step);
  for (let i = 0; i < n; i++) {
    const off = <usize>i << 2;
    const g = <f64>load<f32>(grads + off) * gradScale;
    const mi = beta1 * <f64>load<f32>(m + off) + (1.0 - beta1) * g;
    const vi = beta2 * <f64>load<f32>(v + off) + (1.0 - beta2) * g * g;
    store<f32>(m + off, <f32>mi);
    store<f32>(v + off, <f32>vi);
    const p = <f64>load<f32>(params + off);
    store<f32>(params + off, <f32>(p - lr * ((mi / c1) / (Math.sqrt(vi / c2) + eps) + weightDecay * p)));
  }
}

/** Euclidean norm of n floats, summed in f64 in index order. */
export function normF32(x: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    s += v * v;
  }
  return Math.sqrt(s);
}
