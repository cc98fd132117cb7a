// The sampler (assembly/model/sampler.ts) against hand-worked distributions: greedy is the argmax
// (ties to the lower index); top-p draws only from the smallest most-probable set whose mass
// exceeds p, at the frequencies of the renormalized nucleus; the NLL is -log softmax in f64.
import { engineConfigure, logits } from "../../assembly/model/state";
import { argmax, nllOf, sample, seedRng } from "../../assembly/model/sampler";

const VOCAB = 5;
// dims: dim 4, hidden 4, 1 layer, 1 head of 4, vocab 5, seqLen 2
expect(engineConfigure(4, 4, 1, 1, 1, 4, VOCAB, 2, 1e-5, 0)).toBe(0);

/** logits = log p, so softmax(logits) = p. */
function setProbabilities(p: f64[]): void {
  for (let i = 0; i < VOCAB; i++) store<f32>(logits + (<usize>i << 2), <f32>Math.log(p[i]));
}

describe("sampler", () => {
  it("temperature 0 is the argmax, ties to the lower index", () => {
    const l: f32[] = [0.5, 2, -1, 2, 1];
    for (let i = 0; i < VOCAB; i++) store<f32>(logits + (<usize>i << 2), l[i]);
    expect(argmax()).toBe(1);
    expect(sample(0, 0.9)).toBe(1);
  });

  it("top-p draws only from the nucleus, at its renormalized frequencies", () => {
    // p = [0.05, 0.4, 0.05, 0.3, 0.2], top-p 0.6: sorted 0.4 (token 1), 0.3 (token 3) reach 0.7 > 0.6,
    // so the nucleus is {1, 3} with probabilities 4/7 and 3/7
    const draws = 3500;
    let ones = 0;
    let threes = 0;
    seedRng(42);
    for (let d = 0; d < draws; d++) {
      setProbabilities([0.05, 0.4, 0.05, 0.3, 0.2]);
      const t = sample(1.0, 0.6);
      if (t == 1) ones++;
      else if (t == 3) threes++;
    }
    expect(ones + threes).toBe(draws);
    // 4/7 of 3500 = 2000, standard deviation ~29: within 5 sigma
    expect(Math.abs(<f64>ones - 2000) < 150).toBe(true, "token 1 drawn " + ones.toString() + " times");
  });

  it("a token whose probability alone exceeds p is the only one drawn", () => {
    seedRng(7);
    for (let d = 0; d < 200; d++) {
      setProbabilities([0.1, 0.1, 0.65, 0.1, 0.05]);
      expect(sample(1.0, 0.5)).toBe(2);
    }
  });

  it("without top-p every token can be drawn, at its probability", () => {
    const counts = new StaticArray<i32>(VOCAB);
    seedRng(3);
    const draws = 4000;
    for (let d = 0; d < draws; d++) {
      setProbabilities([0.1, 0.2, 0.3, 0.25, 0.15]);
      const t = sample(1.0, 1.0);
      counts[t] = counts[t] + 1;
    }
    const p: f64[] = [0.1, 0.2, 0.3, 0.25, 0.15];
    for (let i = 0; i < VOCAB; i++) {
      // standard deviation at most sqrt(4000 * 0.25) ~ 32: within 5 sigma
      expect(Math.abs(<f64>counts[i] - p[i] * <f64>draws) < 160).toBe(true, "token " + i.toString() + " drawn " + counts[i].toString());
    }
  });

  it("the same seed draws the same tokens", () => {
    const first = new StaticArray<i32>(20);
    seedRng(99);
    for (let d = 0; d < 20; d++) {
      setProbabilities([0.1, 0.2, 0.3, 0.25, 0.15]);
      first[d] = sample(0.8, 0.9);
    }
    seedRng(99);
    for (let d = 0; d < 20; d++) {
      setProbabilities([0.1, 0.2, 0.3, 0.25, 0.15]);
      expect(sample(0.8, 0.9)).toBe(first[d]);
    }
  });

  it("nllOf is -log p of the target", () => {
    setProbabilities([0.1, 0.2, 0.3, 0.25, 0.15]);
    expect(Math.abs(nllOf(2) + Math.log(0.3)) < 1e-6).toBe(true);
    expect(Math.abs(nllOf(0) + Math.log(0.1)) < 1e-6).toBe(true);
  });
});
