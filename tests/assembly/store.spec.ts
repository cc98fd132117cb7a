// The stream store's slot bookkeeping (assembly/stream/store.ts) with storage faked by
// as-pect.config.js (a column's data is the single float column + 1): admitted columns are read
// once and then served from their slot, an evicted column's slot is reused with the new column's
// data, columns the cache does not admit are read every time, and a new sequence starts empty.
// One layer; group 1 (W_down columns) of 6 columns of one float each; x = 2^c, so every gather
// sum is exact and names the columns (and data) it used.
import { streamAllocate, streamBeginSequence, streamColumnsFetched, streamGather, streamSetCapacity, streamSetDtype, streamSetGroup } from "../../assembly/stream/store";
import { DTYPE_F32 } from "../../assembly/abi";
import { simAllocate, simConfigure, simSetAdmissionSeed, simSetCapacity, simSetGroup, simSetPolicy } from "../../assembly/sim/index";
import { buf, f, setF } from "./buffers";

const LRU = 1;
const I = 6;
const HIDDEN = 1; // the hidden mask's group: W_down columns

function setup(capacity: i32): void {
  expect(simConfigure(1, 2)).toBe(0);
  expect(simSetGroup(0, 1, I, 2, 4)).toBe(0);
  expect(simSetGroup(HIDDEN, I, 1, 1, 4)).toBe(0);
  expect(simAllocate()).toBe(0);
  expect(simSetPolicy(LRU)).toBe(0);
  simSetAdmissionSeed(0);
  streamSetGroup(0, 1, 2 * I * 4);
  streamSetGroup(HIDDEN, I, 4);
  streamSetDtype(DTYPE_F32, 4); // f32 columns; an LM head row of D = 1 float
  expect(streamAllocate(1, 64)).toBe(0);
  expect(streamSetCapacity(0, 0)).toBe(0);
  expect(simSetCapacity(-1, 0, 0)).toBe(0);
  expect(streamSetCapacity(HIDDEN, capacity)).toBe(0);
  expect(simSetCapacity(-1, HIDDEN, capacity)).toBe(0);
}

const x = buf(I);
for (let c = 0; c < I; c++) setF(x, c, <f32>(1 << c));
const idx = buf(I);
const out = buf(1);

/** Gathers the mask (ascending columns); returns [the sum, the columns read for it]. */
function gather(mask: i32[]): f64[] {
  for (let k = 0; k < mask.length; k++) store<u32>(idx + (<usize>k << 2), mask[k]);
  const before = streamColumnsFetched();
  streamGather(0, HIDDEN, idx, mask.length, x, out, 0, 1);
  return [<f64>f(out, 0), streamColumnsFetched() - before];
}

/** sum over the mask of 2^c * (c + 1): what the gather must give from the right data. */
function want(mask: i32[]): f64 {
  let s: f64 = 0;
  for (let k = 0; k < mask.length; k++) s += <f64>(1 << mask[k]) * <f64>(mask[k] + 1);
  return s;
}

describe("stream store slots", () => {
  it("reads an admitted column once, reuses an evicted column's slot for the new column's data", () => {
    setup(2);
    let r = gather([1, 3]);
    expect(r[0]).toBe(want([1, 3]));
    expect(r[1]).toBe(2); // both missed, both admitted
    r = gather([1, 3]);
    expect(r[0]).toBe(want([1, 3]));
    expect(r[1]).toBe(0); // both served from their slots
    r = gather([3, 5]);
    expect(r[0]).toBe(want([3, 5]));
    expect(r[1]).toBe(1); // 5 evicts 1 and takes its slot
    r = gather([5]);
    expect(r[0]).toBe(want([5])); // 192: the reused slot holds 5's data, not 1's (which gives 64)
    expect(r[1]).toBe(0);
    r = gather([3, 5]);
    expect(r[0]).toBe(want([3, 5]));
    expect(r[1]).toBe(0);
    r = gather([1]);
    expect(r[0]).toBe(want([1]));
    expect(r[1]).toBe(1); // evicted earlier: read again
  });

  it("a new sequence starts with empty slots", () => {
    setup(2);
    gather([0, 4]);
    expect(gather([0, 4])[1]).toBe(0);
    streamBeginSequence();
    const r = gather([0, 4]);
    expect(r[0]).toBe(want([0, 4]));
    expect(r[1]).toBe(2);
  });

  it("without a cache every needed column is read every time (into the staging area)", () => {
    setup(0);
    for (let t = 0; t < 3; t++) {
      const r = gather([0, 2, 5]);
      expect(r[0]).toBe(want([0, 2, 5]));
      expect(r[1]).toBe(3);
    }
  });

  it("a mask larger than the cache gets every column's data: slots for the admitted, staging for the rest", () => {
    setup(2);
    const all: i32[] = [0, 1, 2, 3, 4, 5];
    let r = gather(all);
    expect(r[0]).toBe(want(all));
    expect(r[1]).toBe(6);
    r = gather(all);
    expect(r[0]).toBe(want(all));
    expect(r[1]).toBe(4); // the two cached columns are hits
  });
});
