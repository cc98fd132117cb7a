// The mask policies (assembly/sparsity/policy.ts, ../shared/spec/DIP.md) on hand-computed cases:
// DIP's top-k of |x|, the dense mask, the thresholds of dip-threshold and CATS, and DIP-CA's
// cache-aware top-k, whose gamma schedule is probed at the score where the choice must flip.
import {
  masksConfigure, sparsityAllocate, setMethod, setLayerThresholds, setCacheAware, setCachedFlags,
  inputMask, hiddenMask, catsMask, prunesInput, predictorConfigure, setPredictorLayer, predictorMask, predictorWeights,
  METHOD_DENSE, METHOD_GLU, METHOD_DIP, METHOD_CATS, METHOD_DIP_THRESHOLD, METHOD_DIP_CA, METHOD_PREDICTOR,
} from "../../assembly/sparsity/policy";
import { buf, setF, u } from "./buffers";

const N = 3; // dim = hiddenDim = 3, one layer
masksConfigure(1, N, N);
sparsityAllocate();
const x = buf(N), idx = buf(N);
const inputFlags = heap.alloc(N);
const hiddenFlags = heap.alloc(N);
setCachedFlags(0, inputFlags, hiddenFlags);

function values(a: f32, b: f32, c: f32): usize {
  setF(x, 0, a);
  setF(x, 1, b);
  setF(x, 2, c);
  return x;
}

function cached(flags: usize, a: u8, b: u8, c: u8): void {
  store<u8>(flags, a);
  store<u8>(flags + 1, b);
  store<u8>(flags + 2, c);
}

/** The kept indices as one number, e.g. [0, 2] -> 102 (each digit + 1, for short expectations). */
function kept(count: i32): i32 {
  let code = 0;
  for (let k = 0; k < count; k++) code = code * 10 + <i32>u(idx, k) + 1;
  return code;
}

describe("dense, dip, glu", () => {
  it("dense keeps every index of both masks", () => {
    setMethod(METHOD_DENSE, 1, 1);
    expect(kept(inputMask(0, values(0, 5, -1), 0, idx))).toBe(123);
    expect(kept(hiddenMask(0, x, 0, idx))).toBe(123);
    expect(prunesInput()).toBe(false);
  });

  it("dip keeps the k largest |x| (ascending indices), ties to the lower index", () => {
    setMethod(METHOD_DIP, 2, 1);
    expect(kept(inputMask(0, values(0.5, -3, 1), 0, idx))).toBe(23);
    expect(kept(inputMask(0, values(2, -2, 2), 0, idx))).toBe(12);
    expect(kept(hiddenMask(0, values(0.5, -3, 1), 0, idx))).toBe(2);
    expect(prunesInput()).toBe(true);
  });

  it("glu prunes only the hidden mask", () => {
    setMethod(METHOD_GLU, 1, 1);
    expect(kept(inputMask(0, values(0.5, -3, 1), 0, idx))).toBe(123);
    expect(kept(hiddenMask(0, x, 0, idx))).toBe(2);
    expect(prunesInput()).toBe(false);
  });

  it("setMethod clamps k to [0, n]", () => {
    setMethod(METHOD_DIP, 9, -4);
    expect(inputMask(0, values(1, 2, 3), 0, idx)).toBe(3);
    expect(hiddenMask(0, x, 0, idx)).toBe(0);
  });
});

describe("thresholds", () => {
  it("dip-threshold keeps |x| strictly above each layer's threshold", () => {
    setMethod(METHOD_DIP_THRESHOLD, 0, 0);
    setLayerThresholds(0, 1.0, 0.25);
    expect(kept(inputMask(0, values(1, -1.5, 0.5), 0, idx))).toBe(2);
    expect(kept(hiddenMask(0, values(0.25, -0.3, 0.5), 0, idx))).toBe(23);
  });

  it("cats keeps |silu(gate)| above the hidden threshold", () => {
    setMethod(METHOD_CATS, 0, 0);
    // silu(2) = 1.7616, silu(-1) = -0.2689, silu(0.5) = 0.3112
    setLayerThresholds(0, 0, 0.3);
    expect(kept(catsMask(0, values(2, -1, 0.5), idx))).toBe(13);
    setLayerThresholds(0, 0, 0.25);
    expect(kept(catsMask(0, x, idx))).toBe(123);
  });
});

/** DIP-CA's mask of x = (1, 0.9, 0.1) at gamma 0.05 (the input or the hidden one), keeping k. */
function cacheAwareKept(hidden: bool, k: i32, fixedTopN: i32, hiddenToo: bool): i32 {
  setMethod(METHOD_DIP_CA, k, k);
  setCacheAware(0.05, false, fixedTopN, hiddenToo);
  values(1, 0.9, 0.1);
  return kept(hidden ? hiddenMask(0, x, 3, idx) : inputMask(0, x, 3, idx));
}

describe("dip-ca (cache-aware top-k)", () => {
  it("gamma = 1 is plain DIP whatever is cached", () => {
    setMethod(METHOD_DIP_CA, 1, 1);
    setCacheAware(1.0, false, 0, true);
    cached(inputFlags, 0, 1, 1);
    expect(kept(inputMask(0, values(1, 0.9, 0.1), 5, idx))).toBe(1);
  });

  it("an uncached column's score is |x| * gamma, a cached one's |x|", () => {
    setMethod(METHOD_DIP_CA, 1, 1);
    setCacheAware(0.5, false, 0, false);
    cached(inputFlags, 0, 1, 0);
    // column 0 uncached (1 * 0.5), column 1 cached (|x|): 0.49 loses, 0.51 wins; at any position
    expect(kept(inputMask(0, values(1, 0.49, 0), 0, idx))).toBe(1);
    expect(kept(inputMask(0, values(1, 0.51, 0), 0, idx))).toBe(2);
    expect(kept(inputMask(0, values(1, 0.51, 0), 40, idx))).toBe(2);
    // ties go to the lower index: 0.5 vs 0.5 keeps column 0
    expect(kept(inputMask(0, values(1, 0.5, 0), 0, idx))).toBe(1);
  });

  it("follows the warm-up schedule gamma_t = 1 - (1 - gamma)(1 - gamma^(t/4))", () => {
    setMethod(METHOD_DIP_CA, 1, 1);
    setCacheAware(0.5, true, 0, false);
    cached(inputFlags, 0, 1, 0);
    // gamma_0 = 1, gamma_4 = 0.75, gamma_8 = 0.625, gamma_12 = 0.5625 (hand-computed); column 1
    // (cached, |x| = gamma_t -+ 0.01) wins just above gamma_t and loses just below
    const t: i32[] = [0, 4, 8, 12];
    const g: f32[] = [1.0, 0.75, 0.625, 0.5625];
    for (let i = 0; i < 4; i++) {
      expect(kept(inputMask(0, values(1, g[i] - 0.01, 0), t[i], idx))).toBe(1, "t " + t[i].toString());
      if (i > 0) expect(kept(inputMask(0, values(1, g[i] + 0.01, 0), t[i], idx))).toBe(2, "t " + t[i].toString());
    }
  });

  it("fixed_top_n exempts the n largest |x| from the penalty", () => {
    cached(inputFlags, 0, 0, 1);
    // gamma 0.05: scores 0.05, 0.045, 0.1 -> {0, 2}; with the top 2 exempt: 1, 0.9, 0.1 -> {0, 1}
    expect(cacheAwareKept(false, 2, 0, false)).toBe(13);
    expect(cacheAwareKept(false, 2, 2, false)).toBe(12);
  });

  it("re-weights the hidden mask only when asked to", () => {
    cached(hiddenFlags, 0, 0, 1);
    expect(cacheAwareKept(true, 1, 0, false)).toBe(1);
    expect(cacheAwareKept(true, 1, 0, true)).toBe(3);
  });
});

describe("predictor", () => {
  it("keeps the k largest scores B (A x) (signed: logits, not magnitudes), hand-computed at rank 2", () => {
    // A = [[1, 0, 0], [0, 1, 0]] picks (x0, x1); B = [[1, 0], [0, 1], [-1, -1]]: scores (x0, x1, -x0 - x1)
    expect(predictorConfigure(2)).toBe(0);
    const a = buf(6), b = buf(6);
    for (let i = 0; i < 6; i++) { setF(a, i, 0); setF(b, i, 0); }
    setF(a, 0, 1); setF(a, 4, 1);
    setF(b, 0, 1); setF(b, 3, 1); setF(b, 4, -1); setF(b, 5, -1);
    setPredictorLayer(0, a, b);
    setMethod(METHOD_PREDICTOR, N, 2);
    // x = (2, -1, 9): scores (2, -1, -1): keep 0 and the tie -1 at the lower index 1
    expect(kept(predictorMask(0, values(2, -1, 9), idx))).toBe(12);
    // x = (-2, -3, 0): scores (-2, -3, 5): keep 2 and 0; |score| would have kept 1 and 2
    expect(kept(predictorMask(0, values(-2, -3, 0), idx))).toBe(13);
    setMethod(METHOD_PREDICTOR, N, 1);
    expect(kept(predictorMask(0, values(-2, -3, 0), idx))).toBe(3);
    expect(predictorWeights()).toBe(2 * (N + N));
    expect(prunesInput()).toBe(false);
  });
});
