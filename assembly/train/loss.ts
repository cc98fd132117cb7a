// Losses over a window's logits, and their gradients d loss / d logits (written to dLogits, times
// `scale`, which the host sets to 1 / (tokens per optimizer step) to average over the step).
// Sums run in f64 in token order; the per-token softmax is computed in f64 and rounded once.

import { vocabSize } from "../model/state";

export { LOSS_CE, LOSS_KD } from "../abi";

/** log sum_v exp(z_v) in f64 (max-subtracted). */
function logSumExp(z: usize, V: i32): f64 {
  let max = <f64>load<f32>(z);
  for (let v = 1; v < V; v++) max = Math.max(max, <f64>load<f32>(z + (<usize>v << 2)));
  let sum: f64 = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(<f64>load<f32>(z + (<usize>v << 2)) - max);
  return Math.log(sum) + max;
}

/** Sum over t of -log softmax(logits_t)[target_t]; dLogits_t = scale * (softmax(logits_t) - onehot(target_t)). */
export function crossEntropy(logits: usize, targets: usize, dLogits: usize, T: i32, scale: f32): f64 {
  const V = vocabSize;
  let loss: f64 = 0;
  for (let t = 0; t < T; t++) {
    const z = logits + (<usize>t * <usize>V << 2);
    const d = dLogits + (<usize>t * <usize>V << 2);
    const target = load<i32>(targets + (<usize>t << 2));
    const lse = logSumExp(z, V);
    loss += lse - <f64>load<f32>(z + (<usize>target << 2));
    for (let v = 0; v < V; v++) {
      const p = Math.exp(<f64>load<f32>(z + (<usize>v << 2)) - lse);
      store<f32>(d + (<usize>v << 2), <f32>((v == target ? p - 1.0 : p) * <f64>scale));
    }
  }
  return loss;
}

/**
 * Sum over t of KL(p_teacher_t || p_student_t) = sum_v p_T (log p_T - log p_S);
 * dLogits_t = scale * (p_S - p_T).
 */
export function distillation(logits: usize, teacher: usize, dLogits: usize, T: i32, scale: f32): f64 {
  const V = vocabSize;
  let loss: f64 = 0;
  for (let t = 0; t < T; t++) {
    const off = <usize>t * <usize>V << 2;
    const zs = logits + off;
    const zt = teacher + off;
    const d = dLogits + off;
    const lseS = logSumExp(zs, V);
    const lseT = logSumExp(zt, V);
    for (let v = 0; v < V; v++) {
      const o = <usize>v << 2;
      const lpS = <f64>load<f32>(zs + o) - lseS;
      const lpT = <f64>load<f32>(zt + o) - lseT;
      const pT = Math.exp(lpT);
      loss += pT * (lpT - lpS);
      store<f32>(d + o, <f32>((Math.exp(lpS) - pT) * <f64>scale));
    }
  }
  return loss;
}
