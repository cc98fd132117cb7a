// RMSNorm and softmax against values worked out by hand.
import { rmsnorm, softmax } from "../../assembly/kernels/elementwise";
import { buf, f, setF } from "./buffers";

describe("elementwise", () => {
  it("rmsnorm of [3, 4] with weight [1, 2]", () => {
    // mean square = 12.5, 1/sqrt(12.5) = 0.28284..: [0.848528, 2.262742]
    const x = buf(2), w = buf(2);
    const out = buf(2);
    setF(x, 0, 3);
    setF(x, 1, 4);
    setF(w, 0, 1);
    setF(w, 1, 2);
    rmsnorm(out, x, w, 2, 0);
    expect(Mathf.abs(f(out, 0) - 0.8485281) < 1e-6).toBe(true);
    expect(Mathf.abs(f(out, 1) - 2.2627417) < 1e-6).toBe(true);
  });

  it("softmax of [0, ln 3] is [0.25, 0.75]", () => {
    const x = buf(2);
    setF(x, 0, 0);
    setF(x, 1, <f32>Math.log(3));
    softmax(x, 2);
    expect(Mathf.abs(f(x, 0) - 0.25) < 1e-6).toBe(true);
    expect(Mathf.abs(f(x, 1) - 0.75) < 1e-6).toBe(true);
  });
});
