// Weight footprints by group (../shared/spec/SIMULATOR.md "Footprints"): the one implementation the
// host (host/sim/presets.ts), the web demo and the WASI replay call. All f64, in the order of the
// spec's formulas, so every caller gets the same bytes.
//
//   lm_head, embedding : p * H * V
//   mlp                : p * H * I * (3 if gated else 2) * L
//   attention          : p * H^2 * (2 + 2g) * L       (q and o are H x H, k and v are H x gH)
//   kv_cache(seq)      : p * seq * H * 2 * L * g        (p = bits / 8, g = kv heads / heads)

// Weight groups, in the order of the footprint record and of host/sim/presets.ts PRECISION_GROUPS.
export const WEIGHT_EMBEDDING: i32 = 0;
export const WEIGHT_LM_HEAD: i32 = 1;
export const WEIGHT_ATTENTION: i32 = 2;
export const WEIGHT_MLP: i32 = 3;
export const WEIGHT_KV_CACHE: i32 = 4;
/** the footprint record: f64 bytes per weight group (index = WEIGHT_*), then their sum */
export const FOOTPRINT_TOTAL: i32 = 5;
const FOOTPRINT_FIELDS: i32 = 6;

// The model: dimensions (f64, as the formulas use them) and bits per weight group.
let nLayers: f64 = 0;
let vocabSize: f64 = 0;
let dim: f64 = 0;
let hiddenDim: f64 = 0;
let kvRatio: f64 = 1;
let gated: bool = true;
const bits = memory.data(8 * 5); // f64 per WEIGHT_*
const footprintRecord = memory.data(8 * FOOTPRINT_FIELDS);

/** Sets the model the footprint formulas describe (validated by the caller). */
export function setModel(layers: f64, vocab: f64, hidden: f64, intermediate: f64, heads: f64, kvHeads: f64, isGated: bool): void {
  nLayers = layers;
  vocabSize = vocab;
  dim = hidden;
  hiddenDim = intermediate;
  kvRatio = kvHeads / heads;
  gated = isGated;
}

/** Bits per weight (per cached element for the KV cache) of each group. */
export function setBits(embedding: f64, lmHead: f64, attention: f64, mlp: f64, kvCache: f64): void {
  store<f64>(bits, embedding, WEIGHT_EMBEDDING << 3);
  store<f64>(bits, lmHead, WEIGHT_LM_HEAD << 3);
  store<f64>(bits, attention, WEIGHT_ATTENTION << 3);
  store<f64>(bits, mlp, WEIGHT_MLP << 3);
  store<f64>(bits, kvCache, WEIGHT_KV_CACHE << 3);
}

/** Bytes per weight of a group: bits / 8. */
// @ts-ignore: decorator
@inline export function bytesPerWeight(group: i32): f64 {
  return load<f64>(bits + (<usize>group << 3)) / 8;
}

// @ts-ignore: decorator
@inline export function modelLayers(): f64 { return nLayers; }

/** KV cache bytes at `positions` cached tokens: p * seq * H * 2 * L * g. */
export function kvCacheBytes(positions: f64): f64 {
  return bytesPerWeight(WEIGHT_KV_CACHE) * positions * dim * 2 * nLayers * kvRatio;
}

/** One embedding row per token read: p * H * rows. */
export function embeddingRowBytes(rows: f64): f64 {
  return bytesPerWeight(WEIGHT_EMBEDDING) * dim * rows;
}

/** Bytes of one weight group with the KV cache at `seqLen` positions. */
export function groupBytes(group: i32, seqLen: f64): f64 {
  const H = dim;
  const L = nLayers;
  if (group == WEIGHT_EMBEDDING || group == WEIGHT_LM_HEAD) return bytesPerWeight(group) * H * vocabSize;
  if (group == WEIGHT_ATTENTION) return bytesPerWeight(group) * H * H * (2 + 2 * kvRatio) * L;
  if (group == WEIGHT_MLP) return bytesPerWeight(group) * H * hiddenDim * (gated ? 3.0 : 2.0) * L;
  return kvCacheBytes(seqLen);
}

/** Fills the footprint record (FOOTPRINT_FIELDS f64) and returns it. */
export function footprint(seqLen: f64): usize {
  let total: f64 = 0;
  for (let g = WEIGHT_EMBEDDING; g <= WEIGHT_KV_CACHE; g++) {
    const bytes = groupBytes(g, seqLen);
    store<f64>(footprintRecord + (<usize>g << 3), bytes);
    total += bytes;
  }
  store<f64>(footprintRecord + (<usize>FOOTPRINT_TOTAL << 3), total);
  return footprintRecord;
}
