// Top-k selection (ties to the lower index, ../shared/spec/DIP.md) against hand-picked cases and a
// brute-force ranking; the order statistic and the threshold selection against hand-computed answers.
import { selectTopK, selectAbove, kthLargest, kthLargestQuickselect } from "../../assembly/kernels/topk";
import { seedRandom, rand, buf, f, u, setF } from "./buffers";

seedRandom(12347);

describe("selectTopK", () => {
  it("keeps the k largest, ascending, ties to the lower index", () => {
    // scores: [1, 3, 3, 2, 3, 0]; k = 2 -> the two 3s with the lowest indices: 1, 2
    const s = buf(6), idx = buf(6);
    const scratch = buf(6);
    const vals: f32[] = [1, 3, 3, 2, 3, 0];
    for (let i = 0; i < 6; i++) setF(s, i, vals[i]);
    expect(selectTopK(s, 6, 2, idx, scratch)).toBe(2);
    expect(u(idx, 0)).toBe(1);
    expect(u(idx, 1)).toBe(2);
    // k = 4 -> all three 3s and the 2: 1, 2, 3, 4
    expect(selectTopK(s, 6, 4, idx, scratch)).toBe(4);
    expect(u(idx, 0)).toBe(1);
    expect(u(idx, 1)).toBe(2);
    expect(u(idx, 2)).toBe(3);
    expect(u(idx, 3)).toBe(4);
    expect(selectTopK(s, 6, 0, idx, scratch)).toBe(0);
    expect(selectTopK(s, 6, 9, idx, scratch)).toBe(6);
  });

  it("agrees with a brute-force selection on random scores", () => {
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + (trial * 7) % 53;
      const k = (trial * 5) % (n + 1);
      const s = buf(n), idx = buf(n);
      const scratch = buf(n);
      // few distinct values, so ties are common
      for (let i = 0; i < n; i++) setF(s, i, <f32>(<i32>((rand() + 1.0) * 4.0)));
      const m = selectTopK(s, n, k, idx, scratch);
      expect(m).toBe(k);
      // brute force: entry i is kept iff fewer than k entries beat it in (score desc, index asc)
      let j = 0;
      for (let i = 0; i < n; i++) {
        let better = 0;
        for (let o = 0; o < n; o++) if (f(s, o) > f(s, i) || (f(s, o) == f(s, i) && o < i)) better++;
        if (better < k) {
          expect(u(idx, j)).toBe(i);
          j++;
        }
      }
      expect(j).toBe(k);
    }
  });

  it("kthLargest finds order statistics", () => {
    const s = buf(5), scratch = buf(5);
    const vals: f32[] = [5, 1, 4, 2, 3];
    for (let i = 0; i < 5; i++) setF(s, i, vals[i]);
    for (let k = 1; k <= 5; k++) expect(kthLargest(s, 5, k, scratch)).toBe(<f32>(<i32>6 - k));
  });

  it("selectAbove keeps strictly greater scores", () => {
    const s = buf(4), idx = buf(4);
    const vals: f32[] = [0.5, 0.2, 0.7, 0.5];
    for (let i = 0; i < 4; i++) setF(s, i, vals[i]);
    expect(selectAbove(s, 4, 0.5, idx)).toBe(1);
    expect(u(idx, 0)).toBe(2);
  });
});

describe("kthLargest (radix) against quickselect", () => {
  it("agrees on signed, tied, zero-signed and wide-ranged scores", () => {
    for (let trial = 0; trial < 60; trial++) {
      const n = 1 + (trial * 131) % 5000;
      const s = buf(n), scratch = buf(n);
      for (let i = 0; i < n; i++) {
        const r = <f64>rand(); // in [-1, 1]
        let x: f64;
        if (trial % 4 == 0) x = <f64>(<i32>(r * 3.0)); // few values, both signs, many ties
        else if (trial % 4 == 1) x = r * Math.pow(10.0, <f64>rand() * 30.0); // wide exponents
        else if (trial % 4 == 2) x = i % 3 == 0 ? -0.0 : (i % 3 == 1 ? 0.0 : r); // signed zeros
        else x = Math.abs(r); // |v| as DIP scores it
        setF(s, i, <f32>x);
      }
      for (let t = 0; t < 5; t++) {
        const k = 1 + (trial * 37 + t * (n / 5 + 1)) % n;
        const radix = kthLargest(s, n, k, scratch);
        const reference = kthLargestQuickselect(s, n, k, scratch);
        expect(radix == reference).toBe(true, "n " + n.toString() + " k " + k.toString());
      }
    }
  });
});
