// The bump arena (assembly/arena.ts) against its contract: 64-byte aligned, zero-filled blocks that
// never overlap each other nor what the AssemblyScript allocator grew in between, a used-bytes
// count that covers them, and 0 (not a wrapped pointer) for a size past 4 GiB.
import { arenaAlloc, arenaUsedBytes } from "../../assembly/arena";

describe("arena", () => {
  it("hands out aligned, zeroed, disjoint blocks in increasing order", () => {
    const sizes: i32[] = [1, 7, 64, 65, 4096, 100003, 3];
    let end: usize = 0;
    for (let i = 0; i < sizes.length; i++) {
      const n = <usize>sizes[i];
      const p = arenaAlloc(n);
      expect(p).not.toBe(0);
      expect(p & 63).toBe(0, "block " + i.toString() + " is 64-byte aligned");
      expect(p >= end).toBe(true, "block " + i.toString() + " starts after the previous one");
      let zero = true;
      for (let b: usize = 0; b < n; b++) zero = zero && load<u8>(p + b) == 0;
      expect(zero).toBe(true, "block " + i.toString() + " is zero-filled");
      memory.fill(p, 0xab, n); // the next block must still come back zeroed
      end = p + n;
    }
    expect(<usize>memory.size() * 65536 >= end).toBe(true);
  });

  it("counts the bytes handed out, alignment included", () => {
    const before = arenaUsedBytes();
    const p = arenaAlloc(10);
    const q = arenaAlloc(10);
    expect(q - p).toBe(64);
    expect(arenaUsedBytes() - before >= 74).toBe(true);
    expect(arenaUsedBytes() - before <= 74 + 63).toBe(true);
  });

  it("skips pages the runtime's allocator grew in between", () => {
    const p = arenaAlloc(16);
    const big = heap.alloc(300000); // more than the free heap: the runtime grows memory itself
    const q = arenaAlloc(300000);
    expect(q).not.toBe(0);
    expect(q > p).toBe(true);
    expect(q >= big + 300000 || q + 300000 <= big).toBe(true, "no overlap with the heap block");
    heap.free(big);
  });

  it("returns 0 for a size that would wrap past 4 GiB", () => {
    expect(arenaAlloc(<usize>0xffffff00)).toBe(0);
  });
});
