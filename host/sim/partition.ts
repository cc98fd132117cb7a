// DRAM partitioning (SIMULATOR.md): static groups first, their overflow streamed from Flash every
// token; what remains is the dynamic capacity for the MLP column caches, split evenly over the
// sparsified linears of every layer.
//
// Per-linear share: a layer's DIP caches cover 3 linears (W_gate, W_up share the input cache,
// W_down has the hidden cache), so with dynamic capacity C over L layers each linear gets
// C_lin = C / (3 L) bytes. An entry of the input cache is one column in W_gate and one in W_up,
// each h = I elements, so the cache holds floor(C_lin / (I p)) entries and occupies
// 2 C_lin bytes; the hidden cache holds floor(C_lin / (H p)) W_down columns.
// A linear never gets more than its full size; bytes a cache cannot use go to the other caches
// (sparsified linears first, then linears a method reads dense, which then pin columns).
import { footprint, kvCacheBytes, type ModelDims, type Precision } from "./presets.js";
import type { MaskGroup } from "./groups.js";
import { SimSettingsError } from "./devices.js";

/** The default placement order: the KV cache must be writable DRAM; the embedding is read one
 *  row per token, so it is the cheapest to stream and goes last. */
export const STATIC_GROUPS = ["kv_cache", "attention", "lm_head", "embedding"] as const;
export type StaticGroup = (typeof STATIC_GROUPS)[number];

export interface GroupPlacement {
  group: StaticGroup;
  /** placed in DRAM when it fits (static), or streamed from Flash every token */
  isStatic: boolean;
  footprintBytes: number;
  /** resident in DRAM */
  dramBytes: number;
  /** streamed from Flash (not static, or static overflow) */
  flashBytes: number;
  /** dramBytes / footprintBytes: the share of each per-token read served by DRAM */
  dramFraction: number;
}

export interface CachePlan {
  group: string;
  linears: string[];
  nLin: number;
  nEntries: number;
  columnHeight: number;
  alwaysFull: boolean;
  /** bytes of one entry across its linears: h * p_mlp * nLin */
  entryBytes: number;
  /** capacity of each layer's cache, in entries */
  entriesPerLayer: number;
  /** DRAM of one layer's cache: entriesPerLayer * entryBytes */
  bytesPerLayer: number;
}

export interface DramPartition {
  dramBudgetBytes: number;
  kvSeqLen: number;
  placements: GroupPlacement[];
  staticResidentBytes: number;
  /** static footprint that did not fit and is streamed from Flash every token */
  overflowBytes: number;
  /** DRAM left for the MLP caches */
  dynamicCapacityBytes: number;
  caches: CachePlan[];
  /** DRAM the caches occupy over all layers (<= dynamic capacity) */
  cacheBytes: number;
  /** static resident + caches: the DRAM this configuration needs */
  residentBytes: number;
  /** every group's footprint, kv cache at kvSeqLen */
  denseFootprintBytes: number;
  mlpFootprintBytes: number;
  tiedEmbeddings: boolean;
}

export interface PartitionInput {
  dims: ModelDims;
  bits: Precision;
  groups: MaskGroup[];
  dramBytes: number;
  /** groups placed in DRAM, in placement order; the rest are streamed. Default STATIC_GROUPS. */
  staticGroups?: readonly string[];
  /** KV positions the cache must hold (default dims.seqLen) */
  kvSeqLen?: number;
  /** the embedding is the LM head's matrix (tied): held once, as lm_head; its row reads are
   *  served from wherever lm_head is placed. Default false: SIMULATOR.md's formulas count both. */
  tiedEmbeddings?: boolean;
}

export function checkStaticGroups(names: readonly string[]): StaticGroup[] {
  const seen = new Set<string>();
  for (const n of names) {
    if (n === "mlp") throw new SimSettingsError(`static groups: mlp is held by the column caches, not placed statically`);
    if (!(STATIC_GROUPS as readonly string[]).includes(n)) {
      throw new SimSettingsError(`static groups: unknown group "${n}"; choose from ${STATIC_GROUPS.join(", ")}`);
    }
    if (seen.has(n)) throw new SimSettingsError(`static groups: "${n}" given twice`);
    seen.add(n);
  }
  return names as StaticGroup[];
}

export function partitionDram(input: PartitionInput): DramPartition {
  const { dims, bits, groups } = input;
  const kvSeqLen = input.kvSeqLen ?? dims.seqLen;
  if (!Number.isFinite(input.dramBytes) || input.dramBytes < 0) throw new SimSettingsError(`DRAM capacity must be >= 0 bytes, got ${input.dramBytes}`);
  const fp = footprint(dims, bits, kvSeqLen);
  if (input.tiedEmbeddings) {
    fp.total -= fp.embedding;
    fp.embedding = 0;
  }
  const order = checkStaticGroups(input.staticGroups ?? STATIC_GROUPS);

  let free = input.dramBytes;
  const placements: GroupPlacement[] = [];
  for (const group of order) {
    const bytes = group === "kv_cache" ? kvCacheBytes(dims, bits, kvSeqLen) : fp[group];
    const dram = Math.min(bytes, free);
    free -= dram;
    placements.push({ group, isStatic: true, footprintBytes: bytes, dramBytes: dram, flashBytes: bytes - dram, dramFraction: bytes > 0 ? dram / bytes : 1 });
  }
  for (const group of STATIC_GROUPS) {
    if (order.includes(group)) continue;
    const bytes = fp[group];
    placements.push({ group, isStatic: false, footprintBytes: bytes, dramBytes: 0, flashBytes: bytes, dramFraction: 0 });
  }
  if (input.tiedEmbeddings) {
    const head = placements.find((p) => p.group === "lm_head")!;
    placements.find((p) => p.group === "embedding")!.dramFraction = head.dramFraction;
  }
  const staticResidentBytes = placements.reduce((s, p) => s + p.dramBytes, 0);
  const overflowBytes = placements.filter((p) => p.isStatic).reduce((s, p) => s + p.flashBytes, 0);
  const dynamicCapacityBytes = Math.max(0, input.dramBytes - staticResidentBytes);

  const caches = splitCapacity(dims, bits, groups, dynamicCapacityBytes);
  const cacheBytes = caches.reduce((s, c) => s + c.bytesPerLayer * dims.nLayers, 0);
  return {
    dramBudgetBytes: input.dramBytes,
    kvSeqLen,
    placements,
    staticResidentBytes,
    overflowBytes,
    dynamicCapacityBytes,
    caches,
    cacheBytes,
    residentBytes: staticResidentBytes + cacheBytes,
    denseFootprintBytes: fp.total,
    mlpFootprintBytes: fp.mlp,
    tiedEmbeddings: input.tiedEmbeddings ?? false,
  };
}

/** Even split per linear, capped at each linear's size, leftovers re-split (water filling). */
function splitCapacity(dims: ModelDims, bits: Precision, groups: MaskGroup[], capacity: number): CachePlan[] {
  const p = bits.mlp / 8;
  const L = dims.nLayers;
  // bytes per linear (per layer) each group receives
  const share = new Array<number>(groups.length).fill(0);
  const full = groups.map((g) => g.nEntries * g.columnHeight * p);
  const sparsified = groups.map((_, i) => i).filter((i) => !groups[i].alwaysFull);
  const dense = groups.map((_, i) => i).filter((i) => groups[i].alwaysFull);
  let left = capacity;
  for (const tier of [sparsified, dense]) {
    let active = tier.slice();
    while (active.length > 0 && left > 0) {
      const linears = active.reduce((s, i) => s + groups[i].nLin * L, 0);
      const each = left / linears;
      const saturated = active.filter((i) => full[i] <= each);
      if (saturated.length === 0) {
        for (const i of active) share[i] = each;
        left = 0;
        break;
      }
      for (const i of saturated) {
        share[i] = full[i];
        left -= full[i] * groups[i].nLin * L;
      }
      active = active.filter((i) => !saturated.includes(i));
    }
    left = Math.max(0, left);
  }
  return groups.map((g, i) => {
    const entryBytes = g.columnHeight * p * g.nLin;
    const entries = share[i] >= full[i] ? g.nEntries : Math.min(g.nEntries, Math.floor(share[i] / (g.columnHeight * p)));
    return {
      group: g.name,
      linears: g.linears,
      nLin: g.nLin,
      nEntries: g.nEntries,
      columnHeight: g.columnHeight,
      alwaysFull: g.alwaysFull,
      entryBytes,
      entriesPerLayer: entries,
      bytesPerLayer: entries * entryBytes,
    };
  });
}
