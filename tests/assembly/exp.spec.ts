// expF32x4 / expF32 (assembly/kernels/exp.ts) against f64 Math.exp, lane for lane against each
// other, at the ends of the range, and the softmax and SwiGLU built on them against f64 sums.
import { expF32, expF32x4 } from "../../assembly/kernels/exp";
import { softmax, swiglu } from "../../assembly/kernels/elementwise";
import { buf, f, setF } from "./buffers";

/** |a - b| in units of the last place of b (f32). */
function ulps(a: f32, b: f64): f64 {
  const bf = <f32>b;
  const ulp = <f64>(reinterpret<f32>(reinterpret<u32>(Mathf.abs(bf)) + 1) - Mathf.abs(bf));
  return Math.abs(<f64>a - b) / ulp;
}

describe("expF32", () => {
  it("is within 2 ulp of e^x over [-87.3, 88.3], and every lane of expF32x4 has the scalar's bits", () => {
    let worst: f64 = 0;
    let laneMismatches = 0;
    const x = buf(4);
    const step: f64 = 175.6 / 200000.0;
    for (let i = 0; i < 200000; i += 4) {
      for (let l = 0; l < 4; l++) {
        const v = <f32>(-87.3 + <f64>(i + l) * step);
        setF(x, l, v);
        worst = Math.max(worst, ulps(expF32(v), Math.exp(<f64>v)));
      }
      const e4 = expF32x4(v128.load(x));
      for (let l = 0; l < 4; l++) {
        const lane = l == 0 ? f32x4.extract_lane(e4, 0) : l == 1 ? f32x4.extract_lane(e4, 1) : l == 2 ? f32x4.extract_lane(e4, 2) : f32x4.extract_lane(e4, 3);
        if (reinterpret<u32>(lane) != reinterpret<u32>(expF32(f(x, l)))) laneMismatches++;
      }
    }
    expect(laneMismatches).toBe(0);
    expect(worst <= 2.0).toBe(true, "worst " + worst.toString() + " ulp");
  });

  it("is exact where it must be and saturates outside the range: e^0 = 1, 0 below, +inf above, NaN stays NaN", () => {
    expect(expF32(0)).toBe(1);
    expect(expF32(-88.0)).toBe(0);
    expect(expF32(-Infinity)).toBe(0);
    expect(expF32(89.0)).toBe(Infinity);
    expect(expF32(Infinity)).toBe(Infinity);
    expect(isNaN(expF32(NaN))).toBe(true);
    const v = expF32x4(f32x4(-Infinity, 89.0, NaN, 0));
    expect(f32x4.extract_lane(v, 0)).toBe(0);
    expect(f32x4.extract_lane(v, 1)).toBe(Infinity);
    expect(isNaN(f32x4.extract_lane(v, 2))).toBe(true);
    expect(f32x4.extract_lane(v, 3)).toBe(1);
  });
});

describe("softmax and swiglu on expF32", () => {
  it("softmax of 2..67 entries sums to 1 and matches the float64 softmax within 1e-6 relative", () => {
    for (let n = 1; n <= 67; n += 3) {
      const x = buf(n);
      for (let i = 0; i < n; i++) setF(x, i, <f32>(Math.sin(<f64>(i * 7 + n)) * 12.0));
      // the reference takes the same f32 differences x_i - max (their rounding is the input's, not the kernel's)
      let max: f32 = -Infinity;
      for (let i = 0; i < n; i++) max = Mathf.max(max, f(x, i));
      let sum: f64 = 0;
      for (let i = 0; i < n; i++) sum += Math.exp(<f64>(f(x, i) - max));
      const ref = new Array<f64>(n);
      for (let i = 0; i < n; i++) ref[i] = Math.exp(<f64>(f(x, i) - max)) / sum;
      softmax(x, n);
      let total: f64 = 0;
      for (let i = 0; i < n; i++) {
        total += <f64>f(x, i);
        expect(Math.abs(<f64>f(x, i) - ref[i]) <= 1e-6 * ref[i] + 1e-30).toBe(true, "n " + n.toString() + " i " + i.toString());
      }
      expect(Math.abs(total - 1.0) < 1e-5).toBe(true);
    }
  });

  it("swiglu: every element (SIMD body and tail) is silu(g) * u within 4e-7 relative of float64", () => {
    const n = 23;
    const g = buf(n), u = buf(n), h = buf(n);
    for (let i = 0; i < n; i++) {
      setF(g, i, <f32>(<f64>(i - 11) * 0.9));
      setF(u, i, <f32>(1.0 + <f64>i * 0.1));
    }
    swiglu(h, g, u, n);
    for (let i = 0; i < n; i++) {
      const gi = <f64>f(g, i);
      const want = gi / (1.0 + Math.exp(-gi)) * <f64>f(u, i);
      expect(Math.abs(<f64>f(h, i) - want) <= 4e-7 * Math.abs(want) + 1e-30).toBe(true, "i " + i.toString());
    }
  });
});
