// Replay of one recorded sequence of masks, for every policy including Belady, which needs the
// future: a backward pass over the sequence gives each use of a column the token of its next use.
//
// Trace buffer (u32 words, written by the host, see host/sim/trace.ts):
//   for token t, for layer l, for group g:  count, then `count` ascending column indices
//   count == FULL_MASK means every column of the group and no indices follow.
import { arenaAlloc } from "../arena";
import {
  C_ENTRIES, C_NEXT_USE, POLICY_BELADY,
  cacheRecord, currentPolicy, groupEntries, isAllocated, layerCount, groupCount, resetCaches,
} from "./state";
import { stepCache } from "./cache";
import { FULL_MASK } from "./trace";

export const REPLAY_OK: i32 = 0;
export const REPLAY_TRUNCATED: i32 = -1;
export const REPLAY_COUNT_TOO_LARGE: i32 = -2;
export const REPLAY_BAD_INDEX: i32 = -3;
export const REPLAY_TRAILING_WORDS: i32 = -4;
export const REPLAY_NOT_CONFIGURED: i32 = -5;
export const REPLAY_OUT_OF_MEMORY: i32 = -6;

// where the last replay error was found
let errorToken: i32 = -1;
let errorLayer: i32 = -1;
let errorGroup: i32 = -1;
let errorWord: i32 = -1;

// scratch, grown on demand and reused (the arena never frees)
let traceBuffer: usize = 0;
let traceBufferBytes: usize = 0;
let offsets: usize = 0; //   u32[T*L*G] word offset of each mask's count
let offsetsBytes: usize = 0;
let useBase: usize = 0; //   u32[T*L*G] first slot of each mask in nextUseAt (Belady)
let useBaseBytes: usize = 0;
let nextUseAt: usize = 0; // u32[slots] token of the next use, per use of a column (Belady)
let nextUseAtBytes: usize = 0;
let evicting: usize = 0; //  u8[L*G] 1 if some mask of the cache is not full (only those evict)
let evictingBytes: usize = 0;

export function lastErrorToken(): i32 { return errorToken; }
export function lastErrorLayer(): i32 { return errorLayer; }
export function lastErrorGroup(): i32 { return errorGroup; }
export function lastErrorWord(): i32 { return errorWord; }

/** A buffer of at least `words` u32 for the host to write one sequence into (reused). 0 if out of memory. */
export function traceBufferFor(words: i32): usize {
  const need = <usize>(words < 1 ? 1 : words) << 2;
  if (need > traceBufferBytes) {
    traceBuffer = arenaAlloc(need);
    traceBufferBytes = traceBuffer == 0 ? 0 : need;
  }
  return traceBuffer;
}

function fail(code: i32, t: i32, l: i32, g: i32, w: i32): i32 {
  errorToken = t;
  errorLayer = l;
  errorGroup = g;
  errorWord = w;
  return code;
}

/** Empties the caches and replays nTokens tokens of masks from `ptr` (`words` u32 long).
 *  Per-token read seconds go to perTokenSeconds (f64[nTokens]) unless it is 0. Counters accumulate
 *  (the host resets them). Returns REPLAY_OK or a negative REPLAY_* code (see lastError*). */
export function replaySequence(ptr: usize, words: i32, nTokens: i32, perTokenSeconds: usize): i32 {
  if (!isAllocated()) return fail(REPLAY_NOT_CONFIGURED, -1, -1, -1, -1);
  errorToken = -1; errorLayer = -1; errorGroup = -1; errorWord = -1;
  if (nTokens < 0 || words < 0) return fail(REPLAY_TRUNCATED, 0, 0, 0, 0);
  const L = layerCount();
  const G = groupCount();
  const masks = <usize>nTokens * <usize>(L * G);
  if (masks << 2 > offsetsBytes) {
    offsets = arenaAlloc(masks << 2);
    offsetsBytes = offsets == 0 ? 0 : masks << 2;
    if (offsets == 0) return fail(REPLAY_OUT_OF_MEMORY, -1, -1, -1, -1);
  }
  const caches = <usize>(L * G);
  if (caches > evictingBytes) {
    evicting = arenaAlloc(caches);
    evictingBytes = evicting == 0 ? 0 : caches;
    if (evicting == 0) return fail(REPLAY_OUT_OF_MEMORY, -1, -1, -1, -1);
  }
  memory.fill(evicting, 0, caches);

  // pass 1: find every mask and check it before touching any cache
  let w: i32 = 0;
  let m: usize = 0;
  for (let t = 0; t < nTokens; t++) {
    for (let l = 0; l < L; l++) {
      for (let g = 0; g < G; g++) {
        if (w >= words) return fail(REPLAY_TRUNCATED, t, l, g, w);
        const count = load<u32>(ptr + (<usize>w << 2));
        store<u32>(offsets + (m << 2), <u32>w);
        m++;
        w++;
        if (count == FULL_MASK) continue;
        store<u8>(evicting + <usize>(l * G + g), 1);
        const n = <u32>groupEntries(g);
        if (count > n) return fail(REPLAY_COUNT_TOO_LARGE, t, l, g, w - 1);
        if (<i64>w + <i64>count > <i64>words) return fail(REPLAY_TRUNCATED, t, l, g, w);
        let prev: i64 = -1;
        for (let k: u32 = 0; k < count; k++) {
          const col = load<u32>(ptr + (<usize>(w + <i32>k) << 2));
          if (col >= n || <i64>col <= prev) return fail(REPLAY_BAD_INDEX, t, l, g, w + <i32>k);
          prev = <i64>col;
        }
        w += <i32>count;
      }
    }
  }
  if (w != words) return fail(REPLAY_TRAILING_WORDS, nTokens, 0, 0, w);

  resetCaches();
  const belady = currentPolicy() == POLICY_BELADY;
  if (belady) {
    const r = prepareNextUse(ptr, nTokens, L, G);
    if (r != REPLAY_OK) return r;
  }

  m = 0;
  for (let t = 0; t < nTokens; t++) {
    let seconds: f64 = 0;
    for (let l = 0; l < L; l++) {
      for (let g = 0; g < G; g++) {
        const o = load<u32>(offsets + (m << 2));
        const count = load<u32>(ptr + (<usize>o << 2));
        const full = count == FULL_MASK;
        const n = full ? groupEntries(g) : <i32>count;
        const idx = ptr + (<usize>(o + 1) << 2);
        if (belady && load<u8>(evicting + <usize>(l * G + g)) != 0) {
          const next = load<usize>(cacheRecord(l, g), C_NEXT_USE);
          const base = nextUseAt + (<usize>load<u32>(useBase + (m << 2)) << 2);
          for (let k = 0; k < n; k++) {
            const col = full ? <u32>k : load<u32>(idx + (<usize>k << 2));
            store<u32>(next + (<usize>col << 2), load<u32>(base + (<usize>k << 2)));
          }
        }
        seconds += stepCache(l, g, idx, n, full);
        m++;
      }
    }
    if (perTokenSeconds != 0) store<f64>(perTokenSeconds + (<usize>t << 3), seconds);
  }
  return REPLAY_OK;
}

/** Belady's future: for every use of a column (in caches that can evict) the token of its next
 *  use, NEVER if none, found by walking the sequence backwards. */
function prepareNextUse(ptr: usize, nTokens: i32, L: i32, G: i32): i32 {
  const masks = <usize>nTokens * <usize>(L * G);
  if (masks << 2 > useBaseBytes) {
    useBase = arenaAlloc(masks << 2);
    useBaseBytes = useBase == 0 ? 0 : masks << 2;
    if (useBase == 0) return fail(REPLAY_OUT_OF_MEMORY, -1, -1, -1, -1);
  }
  let slots: usize = 0;
  let m: usize = 0;
  for (let t = 0; t < nTokens; t++) {
    for (let l = 0; l < L; l++) {
      for (let g = 0; g < G; g++) {
        if (load<u8>(evicting + <usize>(l * G + g)) != 0) {
          store<u32>(useBase + (m << 2), <u32>slots);
          const count = load<u32>(ptr + (<usize>load<u32>(offsets + (m << 2)) << 2));
          slots += count == FULL_MASK ? <usize>groupEntries(g) : <usize>count;
          if (slots > 0x3fffffff) return fail(REPLAY_OUT_OF_MEMORY, t, l, g, -1);
        }
        m++;
      }
    }
  }
  if (slots << 2 > nextUseAtBytes) {
    nextUseAt = arenaAlloc(slots << 2);
    nextUseAtBytes = nextUseAt == 0 ? 0 : slots << 2;
    if (nextUseAt == 0) return fail(REPLAY_OUT_OF_MEMORY, -1, -1, -1, -1);
  }
  // the caches' next-use arrays serve (filled with 0xff = NEVER) as "next token that needs this column" while walking back
  for (let l = 0; l < L; l++) {
    for (let g = 0; g < G; g++) {
      const c = cacheRecord(l, g);
      memory.fill(load<usize>(c, C_NEXT_USE), 0xff, <usize>load<i32>(c, C_ENTRIES) << 2);
    }
  }
  for (let t = nTokens - 1; t >= 0; t--) {
    for (let l = L - 1; l >= 0; l--) {
      for (let g = G - 1; g >= 0; g--) {
        if (load<u8>(evicting + <usize>(l * G + g)) == 0) continue;
        const mi = <usize>t * <usize>(L * G) + <usize>(l * G + g);
        const o = load<u32>(offsets + (mi << 2));
        const count = load<u32>(ptr + (<usize>o << 2));
        const full = count == FULL_MASK;
        const n = full ? groupEntries(g) : <i32>count;
        const idx = ptr + (<usize>(o + 1) << 2);
        const next = load<usize>(cacheRecord(l, g), C_NEXT_USE);
        const base = nextUseAt + (<usize>load<u32>(useBase + (mi << 2)) << 2);
        for (let k = 0; k < n; k++) {
          const col = full ? <u32>k : load<u32>(idx + (<usize>k << 2));
          const p = next + (<usize>col << 2);
          store<u32>(base + (<usize>k << 2), load<u32>(p));
          store<u32>(p, <u32>t);
        }
      }
    }
  }
  return REPLAY_OK;
}
