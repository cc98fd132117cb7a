// Hand-computed traces for every cache policy (SIMULATOR.md "Cache update after each token").
// One layer, one group of 4 columns unless said otherwise. Each entry: height 3 elements, 2
// linears, 0.5 bytes per weight (4-bit) => 3 bytes per entry. Flash 1 B/s, DRAM 10 B/s.
// Then the cost model (footprints, partition, a token's figures and the summary) against hand arithmetic.
import {
  simConfigure, simSetGroup, simAllocate, simSetCapacity, simSetPolicy, simSetBandwidth,
  simSetAdmissionSeed, simBeginSequence, simResetCounters, simObserve, simObserveFull,
  simCachedFlags, simTraceBuffer, simReplay, simReplayErrorToken, simReplayErrorLayer,
  simReplayErrorGroup, simReplayErrorWord, simNeeded, simHits, simFlashBytes, simDramBytes,
  simSeconds, simCacheSize, simTotalFlashBytes, simTotalDramBytes, simTotalSeconds,
  simLayerHitRate, simHitRate, simSetModel, simSetBits, simFootprint, simKvCacheBytes, simPartition,
  simStartRun, simRecordSequence, simSummarize, WEIGHT_EMBEDDING, WEIGHT_LM_HEAD, WEIGHT_ATTENTION, WEIGHT_MLP,
  WEIGHT_KV_CACHE, FOOTPRINT_TOTAL, PART_STATIC_RESIDENT, PART_OVERFLOW, PART_DYNAMIC_CAPACITY, PART_CACHES,
  CACHE_PLAN_FIELDS, CACHE_PLAN_ENTRIES_PER_LAYER, SEQ_TOK_S, SEQ_HIT_RATE, SEQ_MLP_DENSITY, SEQ_FIXED_SECONDS_PER_TOKEN,
  SEQ_DYNAMIC_SECONDS_PER_TOKEN, SEQ_TTFT_S, SEQ_DENSE_FLASH_TOK_S, STAT_STD, SUM_MEMORY_BYTES,
  SUM_MEMORY_REDUCTION, SUM_SPEEDUP_VS_DENSE_FLASH, simSetFlashReads, simFlashReads, simFlashBytesMoved,
  SEQ_FLASH_READS_PER_TOKEN, SEQ_FLASH_BYTES_READ_PER_USEFUL_BYTE, SUM_FLASH_READS_PER_TOKEN,
  SUM_FLASH_BYTES_READ_PER_USEFUL_BYTE,
} from "../../assembly/sim/index";
import { arenaAlloc } from "../../assembly/arena";

const NONE = 0;
const LRU = 1;
const LFU = 2;
const BELADY = 3;
const FULL: u32 = 0xffffffff;

function setup(policy: i32, capacity: i32, layers: i32 = 1, groups: i32 = 1, entries: i32 = 4): void {
  expect(simConfigure(layers, groups)).toBe(0);
  for (let g = 0; g < groups; g++) expect(simSetGroup(g, entries, 3, 2, 0.5)).toBe(0);
  expect(simAllocate()).toBe(0);
  for (let g = 0; g < groups; g++) expect(simSetCapacity(-1, g, capacity)).toBe(0);
  expect(simSetPolicy(policy)).toBe(0);
  expect(simSetBandwidth(1.0, 10.0, 1)).toBe(0);
  expect(simSetFlashReads(1, 0)).toBe(0);
  simSetAdmissionSeed(0);
  simBeginSequence();
  simResetCounters();
}

function putWord(ptr: usize, w: i32, v: u32): void {
  store<u32>(ptr + (<usize>w << 2), v);
}

/** Writes masks (one per token; single layer and group) into the trace buffer; returns words. */
function writeTrace(masks: u32[][]): i32 {
  let words = 0;
  for (let t = 0; t < masks.length; t++) words += 1 + (masks[t].length == 1 && masks[t][0] == FULL ? 0 : masks[t].length);
  const ptr = simTraceBuffer(words);
  let w = 0;
  for (let t = 0; t < masks.length; t++) {
    const m = masks[t];
    if (m.length == 1 && m[0] == FULL) { putWord(ptr, w++, FULL); continue; }
    putWord(ptr, w++, <u32>m.length);
    for (let k = 0; k < m.length; k++) putWord(ptr, w++, m[k]);
  }
  return words;
}

/** Replays masks and returns the hits of each token (from the per-token seconds: with these
 *  bandwidths a token's time is max(misses * 3 / 1, hits * 3 / 10) = misses * 3). */
function replayHits(masks: u32[][]): i32[] {
  const words = writeTrace(masks);
  const perToken = arenaAlloc(<usize>masks.length * 8);
  simResetCounters();
  expect(simReplay(simTraceBuffer(words), words, masks.length, perToken)).toBe(0);
  const hits = new Array<i32>(masks.length);
  for (let t = 0; t < masks.length; t++) {
    const misses = <i32>(load<f64>(perToken + (<usize>t << 3)) / 3.0);
    const needed = masks[t].length == 1 && masks[t][0] == FULL ? 4 : masks[t].length;
    hits[t] = needed - misses;
  }
  return hits;
}

/** Steps masks through the online API; returns the hits of each token. */
function observeHits(masks: u32[][]): i32[] {
  const buf = arenaAlloc(64);
  const hits = new Array<i32>(masks.length);
  for (let t = 0; t < masks.length; t++) {
    for (let k = 0; k < masks[t].length; k++) store<u32>(buf + (<usize>k << 2), masks[t][k]);
    hits[t] = simObserve(0, 0, buf, masks[t].length);
  }
  return hits;
}

function expectHits(actual: i32[], expected: i32[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBe(expected[i], "token " + i.toString());
}

function cached(layer: i32, group: i32, col: i32): u8 {
  return load<u8>(simCachedFlags(layer, group) + <usize>col);
}

// Trace A (cap 2): {0,1} {2} {0} {1,2} {3} {0,1}; needed 2+1+1+2+1+2 = 9 entries.
const traceA: u32[][] = [[0, 1], [2], [0], [1, 2], [3], [0, 1]];

describe("lru", () => {
  it("trace A, capacity 2", () => {
    setup(LRU, 2);
    // t0 {0,1}: empty cache, 0 hits; insert 0,1 -> c={0,1}
    // t1 {2}: 0 hits; n_evict = min(2, 1+2-2) = 1, lastUse 0 == 1 -> lower index 0; c={1,2}
    // t2 {0}: 0 hits; evict least recent of {1 (t0), 2 (t1)} = 1; c={0,2}
    // t3 {1,2}: 2 hits; old_inactive {0}, n_evict = 1 -> c={1,2}
    // t4 {3}: 0 hits; 1 and 2 both used at t3 -> lower index 1 goes; c={2,3}
    // t5 {0,1}: 0 hits; evict both; c={0,1}
    expectHits(replayHits(traceA), [0, 0, 0, 1, 0, 0]);
    expect(simNeeded(0, 0)).toBe(9.0);
    expect(simHits(0, 0)).toBe(1.0);
    // bytes: 8 misses * 3 bytes from Flash, 1 hit * 3 bytes from DRAM
    expect(simFlashBytes(0, 0)).toBe(24.0);
    expect(simDramBytes(0, 0)).toBe(3.0);
    // concurrent: t3 = max(1*3/1, 1*3/10) = 3; total = 8 misses * 3 s
    expect(simSeconds(0, 0)).toBe(24.0);
    expect(cached(0, 0, 0)).toBe(1);
    expect(cached(0, 0, 1)).toBe(1);
    expect(cached(0, 0, 2)).toBe(0);
    expect(simCacheSize(0, 0)).toBe(2);
  });

  it("online API gives the same hits as replay", () => {
    setup(LRU, 2);
    expectHits(observeHits(traceA), [0, 0, 0, 1, 0, 0]);
  });

  it("serial I/O sums the Flash and DRAM time", () => {
    setup(LRU, 2);
    expect(simSetBandwidth(1.0, 10.0, 0)).toBe(0);
    replayHits(traceA);
    // 24 bytes / 1 B/s + 3 bytes / 10 B/s
    expect(simSeconds(0, 0)).toBeCloseTo(24.3);
  });
});

describe("lfu", () => {
  it("trace A, capacity 2", () => {
    setup(LFU, 2);
    // t1 {2}: 0 and 1 both used once at t0 -> lower index 0 evicted; c={1,2}
    // t2 {0}: 1 and 2 used once; 1 less recent (t0) -> evicted; c={0,2}
    // t3 {1,2}: 2 hits; 0 evicted; c={1,2}
    // t4 {3}: 1 and 2 used twice, both at t3 -> lower index 1; c={2,3}
    // t5 {0,1}: 0 hits
    expectHits(replayHits(traceA), [0, 0, 0, 1, 0, 0]);
  });

  it("keeps the frequent column where lru drops it", () => {
    // trace B (cap 2): {0} {0} {1} {2} {0} {1}
    const traceB: u32[][] = [[0], [0], [1], [2], [0], [1]];
    setup(LFU, 2);
    // t0 insert 0; t1 hit 0 (uses 2); t2 insert 1 (room); t3 {2}: evict fewest uses of
    // {0 (2 uses), 1 (1 use)} = 1 -> c={0,2}; t4 {0} hit; t5 {1}: evict of {0 (3), 2 (1)} = 2
    expectHits(replayHits(traceB), [0, 1, 0, 0, 1, 0]);
    setup(LRU, 2);
    // lru: t3 evicts 0 (last used t1) -> c={1,2}; t4 {0} misses, evicts 1 (t2); t5 {1} misses
    expectHits(replayHits(traceB), [0, 1, 0, 0, 0, 0]);
  });
});

describe("belady", () => {
  it("trace A, capacity 2", () => {
    setup(BELADY, 2);
    // next uses: 0 at t0,t2,t5; 1 at t0,t3,t5; 2 at t1,t3; 3 at t4
    // t1 {2}: evict of {0 (next t2), 1 (next t3)} the furthest = 1; c={0,2}
    // t2 {0}: hit; room for nothing new, no eviction (n_evict = 1+1-2 = 0)
    // t3 {1,2}: 2 hits; evict 0 (only old_inactive); c={1,2}
    // t4 {3}: evict of {1 (next t5), 2 (never)} = 2; c={1,3}
    // t5 {0,1}: 1 hits; evict 3; c={0,1}
    expectHits(replayHits(traceA), [0, 0, 1, 1, 0, 1]);
    expect(simHits(0, 0)).toBe(3.0);
    expect(simFlashBytes(0, 0)).toBe(18.0);
    expect(simDramBytes(0, 0)).toBe(9.0);
  });

  it("ties among never-used-again columns go to the lower index", () => {
    setup(BELADY, 2);
    // t1 {2}: 0 and 1 never used again -> lower index 0 evicted; c={1,2}; t2 {1} hits
    expectHits(replayHits([[0, 1], [2], [1]]), [0, 0, 1]);
  });

  it("is refused by the online API", () => {
    setup(BELADY, 2);
    const buf = arenaAlloc(4);
    store<u32>(buf, 1);
    expect(simObserve(0, 0, buf, 1)).toBe(-2);
  });
});

describe("none", () => {
  it("reads every needed byte from Flash", () => {
    setup(NONE, 2);
    expectHits(replayHits(traceA), [0, 0, 0, 0, 0, 0]);
    expect(simFlashBytes(0, 0)).toBe(27.0);
    expect(simDramBytes(0, 0)).toBe(0.0);
    expect(simHitRate()).toBe(0.0);
  });

  it("capacity 0 under lru is the same as no cache", () => {
    setup(LRU, 0);
    expectHits(replayHits(traceA), [0, 0, 0, 0, 0, 0]);
  });
});

describe("masks larger than the cache", () => {
  it("admit the lowest new indices with seed 0", () => {
    setup(LRU, 2);
    // t0 {0,1,2}: only 2 fit: 0,1
    // t1 {1,2,3}: 1 hit (1); old_active {1}; old_inactive {0} all evicted; cap - 1 = 1 new fits:
    //             lowest of {2,3} = 2; c={1,2}
    // t2 {2}: hit
    expectHits(replayHits([[0, 1, 2], [1, 2, 3], [2]]), [0, 1, 1]);
    expect(cached(0, 0, 1)).toBe(1);
    expect(cached(0, 0, 2)).toBe(1);
  });

  it("admit a seeded ranking otherwise, the same for lru and lfu", () => {
    for (let p = LRU; p <= LFU; p++) {
      setup(p, 1);
      simSetAdmissionSeed(12345);
      replayHits([[0, 1, 2, 3]]);
      expect(simCacheSize(0, 0)).toBe(1);
      let first = -1;
      for (let c = 0; c < 4; c++) if (cached(0, 0, c)) first = c;
      expect(first).toBeGreaterThanOrEqual(0);
      // the kept column depends only on the seed, not on the policy
      setup(LRU, 1);
      simSetAdmissionSeed(12345);
      replayHits([[0, 1, 2, 3]]);
      expect(cached(0, 0, first)).toBe(1);
    }
  });

  it("belady admits the new columns needed soonest", () => {
    setup(BELADY, 2);
    // t0 {0,1,2,3}: 2 fit; next uses 0, 1 never, 2 at t2, 3 at t1 -> admit 3 and 2
    // t1 {3}: hit; t2 {2}: hit
    expectHits(replayHits([[0, 1, 2, 3], [3], [2]]), [0, 1, 1]);
    setup(LRU, 2);
    // lru admits the lowest, 0 and 1, and then misses both
    expectHits(replayHits([[0, 1, 2, 3], [3], [2]]), [0, 0, 0]);
  });

  it("full masks pin the lowest columns", () => {
    setup(LRU, 3);
    // every column every token: cap 3 -> columns 0..2 stay, 3 always misses
    expectHits(replayHits([[FULL], [FULL], [FULL]]), [0, 3, 3]);
    expect(simObserveFull(0, 0)).toBe(3);
  });
});

describe("everything fits", () => {
  it("hits 100% after the first use of each column, every policy", () => {
    for (let p = LRU; p <= BELADY; p++) {
      setup(p, 4);
      expectHits(replayHits(traceA), [0, 0, 1, 2, 0, 2]);
    }
  });

  it("Belady with full masks mixed with sparse ones", () => {
    setup(BELADY, 2);
    // t0 full, 2 of 4 fit: belady admits those needed soonest, 2 and 3 (both at t1; 0, 1 never)
    // t1 {2,3}: 2 hits; t2 {3}: hit (n_evict = 1+1-2 = 0, nothing evicted)
    expectHits(replayHits([[FULL], [2, 3], [3]]), [0, 2, 1]);
    setup(LRU, 2);
    // lru admits the lowest, 0 and 1; t1 evicts both for 2, 3; t2 hits 3
    expectHits(replayHits([[FULL], [2, 3], [3]]), [0, 0, 1]);
  });
});

describe("layers and groups", () => {
  it("keeps separate caches and counters", () => {
    setup(LRU, 1, 2, 2, 4);
    const words = 4 * 2 * 2; // 2 tokens x 2 layers x 2 groups, one column each: count + index
    const ptr = simTraceBuffer(words);
    // token 0: every cache needs column 0; token 1: layer 0 needs 0 again, layer 1 needs 1
    const cols: u32[] = [0, 0, 0, 0, 0, 0, 1, 1];
    for (let m = 0; m < 8; m++) {
      store<u32>(ptr + (<usize>(2 * m) << 2), 1);
      store<u32>(ptr + (<usize>(2 * m + 1) << 2), cols[m]);
    }
    expect(simReplay(ptr, words, 2, 0)).toBe(0);
    expect(simHits(0, 0)).toBe(1.0);
    expect(simHits(0, 1)).toBe(1.0);
    expect(simHits(1, 0)).toBe(0.0);
    expect(simLayerHitRate(0)).toBe(0.5);
    expect(simLayerHitRate(1)).toBe(0.0);
    expect(simHitRate()).toBe(0.25);
    expect(simTotalFlashBytes()).toBe(18.0);
    expect(simTotalDramBytes()).toBe(6.0);
    // 6 misses * 3 s + 2 hits * 0.3 s (each layer group is its own max)
    expect(simTotalSeconds()).toBeCloseTo(18.6);
  });

  it("hit rate is 1 when nothing was needed", () => {
    setup(LRU, 1);
    replayHits([[], []]);
    expect(simHitRate()).toBe(1.0);
  });
});

describe("replay errors", () => {
  it("names the token, layer, group and word", () => {
    setup(LRU, 2, 1, 2, 4);
    const ptr = simTraceBuffer(16);
    // token 0: group 0 {1, 0} (not ascending at word 2)
    store<u32>(ptr, 2); store<u32>(ptr + 4, 1); store<u32>(ptr + 8, 0);
    expect(simReplay(ptr, 3, 1, 0)).toBe(-3);
    expect(simReplayErrorToken()).toBe(0);
    expect(simReplayErrorGroup()).toBe(0);
    expect(simReplayErrorWord()).toBe(2);
    // count larger than the group
    store<u32>(ptr, 5);
    expect(simReplay(ptr, 8, 1, 0)).toBe(-2);
    // truncated: group 1 missing
    store<u32>(ptr, 1); store<u32>(ptr + 4, 3);
    expect(simReplay(ptr, 2, 1, 0)).toBe(-1);
    expect(simReplayErrorGroup()).toBe(1);
    expect(simReplayErrorLayer()).toBe(0);
    // trailing words
    store<u32>(ptr + 8, 0);
    expect(simReplay(ptr, 4, 1, 0)).toBe(-4);
    // index out of range
    store<u32>(ptr + 4, 4);
    expect(simReplay(ptr, 3, 1, 0)).toBe(-3);
  });

  it("online masks are checked too", () => {
    setup(LRU, 2);
    const buf = arenaAlloc(8);
    store<u32>(buf, 2); store<u32>(buf + 4, 2);
    expect(simObserve(0, 0, buf, 2)).toBe(-1);
    expect(simObserve(3, 0, buf, 1)).toBe(-1);
  });
});

// The cost model (assembly/sim/footprint.ts, partition.ts, summary.ts) against hand arithmetic.
function field(record: usize, f: i32): f64 {
  return load<f64>(record + (<usize>f << 3));
}
// kv_cache, attention, lm_head, embedding placed in that order: WEIGHT_* + 1, four bits each
const DEFAULT_STATIC: u32 = <u32>(WEIGHT_KV_CACHE + 1) | <u32>(WEIGHT_ATTENTION + 1) << 4 | <u32>(WEIGHT_LM_HEAD + 1) << 8 | <u32>(WEIGHT_EMBEDDING + 1) << 12;

/** L 1, V 10, H 4, I 8, one KV head per head, 8 bits everywhere (1 byte per weight):
 *  embedding = lm_head 40, attention 4 * 4 * 4 = 64, mlp 4 * 8 * 3 = 96, kv 8 per position;
 *  groups of 4 entries of 16 bytes and 8 of 4 bytes; DRAM partitioned at dramBytes (KV at 4
 *  positions), an LRU run with 1 B/s Flash, 10 B/s DRAM, serial I/O. */
function startOneLayerRun(dramBytes: f64): void {
  simSetModel(1, 10, 4, 8, 1, 1, 1);
  simSetBits(8, 8, 8, 8, 8);
  expect(simConfigure(1, 2)).toBe(0);
  expect(simSetGroup(0, 4, 8, 2, 1.0)).toBe(0); // entry 16 bytes
  expect(simSetGroup(1, 8, 4, 1, 1.0)).toBe(0); // entry 4 bytes
  simPartition(dramBytes, 4, DEFAULT_STATIC, 0);
  expect(simStartRun(LRU, 1, 10, 0, 0)).toBe(0);
  expect(simSetBandwidth(1.0, 10.0, 0)).toBe(0); // 1 B/s Flash, 10 B/s DRAM
}

describe("cost model", () => {
  it("phi-3-medium at 8/8/4/4/8 bits: footprint and the 4 GB DIP partition", () => {
    simSetModel(40, 32064, 5120, 17920, 40, 10, 1);
    simSetBits(8, 8, 4, 4, 8);
    const fp = simFootprint(4096);
    expect(field(fp, WEIGHT_EMBEDDING)).toBe(164167680.0); // 1 * 5120 * 32064
    expect(field(fp, WEIGHT_LM_HEAD)).toBe(164167680.0);
    expect(field(fp, WEIGHT_ATTENTION)).toBe(1310720000.0); // 0.5 * 5120^2 * 2.5 * 40
    expect(field(fp, WEIGHT_MLP)).toBe(5505024000.0); // 0.5 * 5120 * 17920 * 3 * 40
    expect(field(fp, WEIGHT_KV_CACHE)).toBe(419430400.0); // 1 * 4096 * 5120 * 2 * 40 * 0.25
    expect(field(fp, FOOTPRINT_TOTAL)).toBe(7563509760.0);
    expect(simKvCacheBytes(1)).toBe(102400.0);
    // DIP: the input cache's entry is a column of W_gate and W_up (height I), the hidden one of W_down
    expect(simConfigure(40, 2)).toBe(0);
    expect(simSetGroup(0, 5120, 17920, 2, 0.5)).toBe(0);
    expect(simSetGroup(1, 17920, 5120, 1, 0.5)).toBe(0);
    const p = simPartition(4e9, 4096, DEFAULT_STATIC, 0);
    expect(field(p, PART_STATIC_RESIDENT)).toBe(2058485760.0);
    expect(field(p, PART_OVERFLOW)).toBe(0.0);
    expect(field(p, PART_DYNAMIC_CAPACITY)).toBe(1941514240.0);
    // C_lin = 1,941,514,240 / 120 linears: floor(C_lin / 8960) and floor(C_lin / 2560)
    expect(field(p, PART_CACHES + CACHE_PLAN_ENTRIES_PER_LAYER)).toBe(1805.0);
    expect(field(p, PART_CACHES + CACHE_PLAN_FIELDS + CACHE_PLAN_ENTRIES_PER_LAYER)).toBe(6320.0);
  });

  it("one token of one layer, serial I/O: its figures and the summary", () => {
    startOneLayerRun(1e6); // everything fits: static 32 + 64 + 40 + 40, caches full
    const buf = arenaAlloc(8);
    store<u32>(buf, 0); store<u32>(buf + 4, 1);
    expect(simObserve(0, 0, buf, 2)).toBe(0); // 2 misses * 16 bytes
    expect(simObserve(0, 1, buf, 1)).toBe(0); // 1 miss * 4 bytes
    const row = simRecordSequence(0, 0, 1);
    // fixed: kv at 1 live position 8 + attention 64 + lm_head 40 + one embedding row 4, from DRAM
    expect(field(row, SEQ_FIXED_SECONDS_PER_TOKEN)).toBe(116.0 / 10.0);
    expect(field(row, SEQ_DYNAMIC_SECONDS_PER_TOKEN)).toBe(36.0);
    expect(field(row, SEQ_TOK_S)).toBe(1 / (116.0 / 10.0 + 36.0));
    expect(field(row, SEQ_HIT_RATE)).toBe(0.0);
    expect(field(row, SEQ_MLP_DENSITY)).toBe(36.0 / 96.0);
    // first token: the MLP whole from Flash, attention, lm_head and one embedding row from DRAM
    expect(field(row, SEQ_TTFT_S)).toBe(96.0 + 108.0 / 10.0);
    expect(field(row, SEQ_DENSE_FLASH_TOK_S)).toBe(1 / (116.0 / 10.0 + 96.0));
    const sum = simSummarize(1);
    expect(field(sum, 0)).toBe(field(row, SEQ_TOK_S)); // the mean tok/s of one sequence
    expect(field(sum, STAT_STD)).toBe(0.0);
    // resident: static 176 + caches 4 * 16 + 8 * 4 = the dense footprint with the KV at 4 positions
    expect(field(sum, SUM_MEMORY_BYTES)).toBe(272.0);
    expect(field(sum, SUM_MEMORY_REDUCTION)).toBe(0.0);
    expect(field(sum, SUM_SPEEDUP_VS_DENSE_FLASH)).toBe(field(row, SEQ_TOK_S) / field(row, SEQ_DENSE_FLASH_TOK_S));
  });
});

// Flash read granularity (docs/simulator.md "Flash reads"): a run of adjacent missed columns is one
// read moving whole pages, plus a fixed latency per read.
describe("Flash reads", () => {
  it("a run of adjacent misses is one read of whole pages", () => {
    setup(NONE, 0, 1, 1, 8); // 8 columns of 3 bytes, Flash 1 B/s, concurrent I/O
    expect(simSetFlashReads(4, 0)).toBe(0);
    const buf = arenaAlloc(20);
    const mask: u32[] = [0, 1, 2, 5, 7];
    for (let k = 0; k < mask.length; k++) store<u32>(buf + (<usize>k << 2), mask[k]);
    expect(simObserve(0, 0, buf, 5)).toBe(0);
    // runs {0,1,2} 9 bytes -> 3 pages, {5} 3 -> 1 page, {7} 3 -> 1 page
    expect(simFlashReads(0, 0)).toBe(3.0);
    expect(simFlashBytes(0, 0)).toBe(15.0);
    expect(simFlashBytesMoved(0, 0)).toBe(20.0);
    expect(simSeconds(0, 0)).toBe(20.0);
    // 0.5 s per read: 20 + 3 * 0.5
    expect(simSetFlashReads(4, 0.5)).toBe(0);
    simResetCounters();
    expect(simObserve(0, 0, buf, 5)).toBe(0);
    expect(simSeconds(0, 0)).toBe(21.5);
    // the full mask is one read: 24 bytes, 6 pages
    simResetCounters();
    expect(simObserveFull(0, 0)).toBe(0);
    expect(simFlashReads(0, 0)).toBe(1.0);
    expect(simFlashBytesMoved(0, 0)).toBe(24.0);
    expect(simSeconds(0, 0)).toBe(24.5);
    expect(simSetFlashReads(1, 0)).toBe(0);
  });

  it("cached columns split runs; page 1 moves exactly the missed bytes", () => {
    setup(LRU, 8, 1, 1, 8);
    expect(simSetFlashReads(4, 0)).toBe(0);
    // t0 {1}: one read, 3 bytes -> 4; t1 {0,1,2}: 1 hit, misses 0 and 2 are two reads -> 4 + 4
    expectHits(observeHits([[1], [0, 1, 2]]), [0, 1]);
    expect(simFlashReads(0, 0)).toBe(3.0);
    expect(simFlashBytes(0, 0)).toBe(9.0);
    expect(simFlashBytesMoved(0, 0)).toBe(12.0);
    setup(LRU, 8, 1, 1, 8);
    expectHits(observeHits([[1], [0, 1, 2]]), [0, 1]);
    expect(simFlashReads(0, 0)).toBe(3.0);
    expect(simFlashBytesMoved(0, 0)).toBe(9.0);
    expect(simSeconds(0, 0)).toBe(9.0);
  });

  it("rejects a page below one byte or a negative latency", () => {
    expect(simSetFlashReads(0.5, 0)).toBe(-1);
    expect(simSetFlashReads(4, -1)).toBe(-1);
    expect(simSetFlashReads(NaN, 0)).toBe(-1);
    expect(simSetFlashReads(1, 0)).toBe(0);
  });

  it("fixed reads and the dense MLP in pages: one token, everything from Flash, serial I/O", () => {
    startOneLayerRun(0); // no DRAM: every group read from Flash
    expect(simSetFlashReads(16, 0.5)).toBe(0);
    const buf = arenaAlloc(8);
    store<u32>(buf, 0); store<u32>(buf + 4, 1);
    expect(simObserve(0, 0, buf, 2)).toBe(0); // one run of 32 bytes: 2 pages
    expect(simObserve(0, 1, buf, 1)).toBe(0); // 4 bytes: 1 page
    const row = simRecordSequence(0, 0, 1);
    // fixed, one read each: kv 8 -> 16, attention 64 -> 64, lm_head 40 -> 48, embedding row 4 -> 16
    expect(field(row, SEQ_FIXED_SECONDS_PER_TOKEN)).toBe(144.0 + 4 * 0.5);
    expect(field(row, SEQ_DYNAMIC_SECONDS_PER_TOKEN)).toBe(48.0 + 2 * 0.5);
    expect(field(row, SEQ_FLASH_READS_PER_TOKEN)).toBe(6.0);
    expect(field(row, SEQ_FLASH_BYTES_READ_PER_USEFUL_BYTE)).toBe(192.0 / 152.0);
    // first token, KV empty: attention 64, lm_head 48, embedding 16 in 3 reads; the dense MLP 96
    // bytes (64 + 32, whole pages) in 2 reads
    expect(field(row, SEQ_TTFT_S)).toBe(224.0 + 5 * 0.5);
    expect(field(row, SEQ_DENSE_FLASH_TOK_S)).toBe(1 / (146.0 + 96.0 + 2 * 0.5));
    const sum = simSummarize(1);
    expect(field(sum, SUM_FLASH_READS_PER_TOKEN)).toBe(6.0);
    expect(field(sum, SUM_FLASH_BYTES_READ_PER_USEFUL_BYTE)).toBe(192.0 / 152.0);
    expect(simSetFlashReads(1, 0)).toBe(0);
  });
});
