// Sampling from the logits, and the NLL used by perplexity evaluation, inside the engine so the
// host never does per-token math. The PRNG (xorshift64*) is owned and seeded by the engine, so a
// seed gives the same tokens on every runtime.

import { softmax } from "../kernels/elementwise";
import { candidates, logits, vocabSize } from "./state";

let rngState: u64 = 0x2545f4914f6cdd1d;

export function seedRng(seed: f64): void {
  rngState = <u64>seed ^ 0x9e3779b97f4a7c15;
  if (rngState == 0) rngState = 0x2545f4914f6cdd1d;
}

function randomU32(): u32 {
  rngState ^= rngState >> 12;
  rngState ^= rngState << 25;
  rngState ^= rngState >> 27;
  return <u32>((rngState * 0x2545f4914f6cdd1d) >> 32);
}

/** Uniform in [0, 1) with 24 bits, exactly representable in f32. */
function randomF32(): f32 {
  return <f32>(randomU32() >> 8) / 16777216.0;
}

// @ts-ignore: decorator
@inline function logitAt(i: i32): f32 {
  return load<f32>(logits + (<usize>i << 2));
}

/** Index of the largest logit; ties go to the lower index. */
export function argmax(): i32 {
  let best = 0;
  let bestV = logitAt(0);
  for (let i = 1; i < vocabSize; i++) {
    const v = logitAt(i);
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/**
 * Greedy at temperature 0; otherwise softmax(logits / temperature), restricted to the smallest
 * set of most probable tokens whose mass reaches topP (nucleus), then one draw. Overwrites logits.
 */
export function sample(temperature: f32, topP: f32): i32 {
  if (temperature <= 0) return argmax();
  for (let i = 0; i < vocabSize; i++) store<f32>(logits + (<usize>i << 2), logitAt(i) / temperature);
  softmax(logits, vocabSize);
  const r = randomF32();
  if (topP <= 0 || topP >= 1) {
    let cdf: f32 = 0;
    for (let i = 0; i < vocabSize; i++) {
      cdf += logitAt(i);
      if (r < cdf) return i;
    }
    return vocabSize - 1;
  }
  // Tokens below (1 - topP)/(n - 1) cannot be in the nucleus (llama2.c's cut), so sort fewer.
  const cutoff: f32 = (1.0 - topP) / <f32>(vocabSize - 1);
  let n = 0;
  for (let i = 0; i < vocabSize; i++) {
    if (logitAt(i) >= cutoff) {
      store<u32>(candidates + (<usize>n << 2), i);
      n++;
    }
  }
  sortByProbability(n);
  let mass: f32 = 0;
  let last = n - 1;
  for (let k = 0; k < n; k++) {
    mass += logitAt(<i32>load<u32>(candidates + (<usize>k << 2)));
    if (mass > topP) {
      last = k;
      break;
    }
  }
  const target = r * mass;
  let cdf: f32 = 0;
  for (let k = 0; k <= last; k++) {
    const i = <i32>load<u32>(candidates + (<usize>k << 2));
    cdf += logitAt(i);
    if (target < cdf) return i;
  }
  return <i32>load<u32>(candidates + (<usize>last << 2));
}

/** Insertion-merge free, deterministic sort: descending probability, then ascending index. */
function sortByProbability(n: i32): void {
  // shell sort: small code, no recursion, total order so the result is unique
  let gap = 1;
  while (gap < n / 3) gap = gap * 3 + 1;
  for (; gap > 0; gap = (gap - 1) / 3) {
    for (let i = gap; i < n; i++) {
      const c = load<u32>(candidates + (<usize>i << 2));
      const pc = logitAt(<i32>c);
      let j = i;
      while (j >= gap) {
        const p = load<u32>(candidates + (<usize>(j - gap) << 2));
        const pp = logitAt(<i32>p);
        if (pp > pc || (pp == pc && p < c)) break;
        store<u32>(candidates + (<usize>j << 2), p);
        j -= gap;
      }
      store<u32>(candidates + (<usize>j << 2), c);
    }
  }
}

/** -log softmax(logits)[target], in f64. */
export function nllOf(target: i32): f64 {
  let max = <f64>logitAt(0);
  for (let i = 1; i < vocabSize; i++) max = Math.max(max, <f64>logitAt(i));
  let sum: f64 = 0;
  for (let i = 0; i < vocabSize; i++) sum += Math.exp(<f64>logitAt(i) - max);
  return Math.log(sum) + max - <f64>logitAt(target);
}
