// DRAM partitioning (SIMULATOR.md): static groups first, their overflow streamed from Flash every
// token; what remains is the dynamic capacity for the MLP column caches, split evenly over the
// sparsified linears of every layer (water filling). The arithmetic is assembly/sim/partition.ts;
// this file checks the settings and names the wasm record's fields.
import type { EngineExports } from "../wasm.js";
import { describeModel, PresetError, type ModelDims, type Precision } from "./presets.js";
import type { MaskGroup } from "./groups.js";
import { SimSettingsError } from "./devices.js";
import { simWasm, type SimLayout } from "./wasm-sim.js";

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

/** Places the static groups and plans the caches on the wasm cost model. Describes the model and
 *  its mask groups to the instance's simulator (simConfigure): caches there must be allocated again. */
export function partitionDram(exports: EngineExports, input: PartitionInput): DramPartition {
  const { dims, bits, groups } = input;
  const kvSeqLen = input.kvSeqLen ?? dims.seqLen;
  if (!Number.isFinite(input.dramBytes) || input.dramBytes < 0) throw new SimSettingsError(`DRAM capacity must be >= 0 bytes, got ${input.dramBytes}`);
  const sim = simWasm(exports);
  describeModel(sim, dims, bits);
  if (!Number.isFinite(kvSeqLen) || kvSeqLen < 0) throw new PresetError(`sequence length must be >= 0, got ${kvSeqLen}`);
  const order = checkStaticGroups(input.staticGroups ?? STATIC_GROUPS);
  const check = (rc: number, what: string) => {
    if (rc !== 0) throw new Error(`simulator: ${what} failed (code ${rc})`);
  };
  check(sim.simConfigure(dims.nLayers, groups.length), "configure");
  groups.forEach((g, i) => {
    check(sim.simSetGroup(i, g.nEntries, g.columnHeight, g.nLin, bits.mlp / 8), `group ${g.name}`);
    check(sim.simSetGroupAlwaysFull(i, g.alwaysFull ? 1 : 0), `group ${g.name}`);
  });
  // the static groups as WEIGHT_* ids + 1, four bits each, first in the lowest
  const { layout } = sim;
  const ids = weightIds(layout);
  const staticOrder = order.reduceRight((packed, group) => packed * 16 + ids[group] + 1, 0);
  const tied = input.tiedEmbeddings ?? false;
  const r = sim.record(sim.simPartition(input.dramBytes, kvSeqLen, staticOrder, tied ? 1 : 0), layout.PART_CACHES + groups.length * layout.CACHE_PLAN_FIELDS);
  const placements: GroupPlacement[] = [];
  for (let k = 0; k < layout.PLACEABLE_GROUPS; k++) {
    const at = layout.PART_PLACEMENTS + k * layout.PLACEMENT_FIELDS;
    placements.push({
      group: STATIC_GROUPS.find((g) => ids[g] === r[at + layout.PLACEMENT_GROUP])!,
      isStatic: r[at + layout.PLACEMENT_STATIC] !== 0,
      footprintBytes: r[at + layout.PLACEMENT_FOOTPRINT],
      dramBytes: r[at + layout.PLACEMENT_DRAM],
      flashBytes: r[at + layout.PLACEMENT_FLASH],
      dramFraction: r[at + layout.PLACEMENT_DRAM_FRACTION],
    });
  }
  const caches = groups.map((g, i): CachePlan => {
    const at = layout.PART_CACHES + i * layout.CACHE_PLAN_FIELDS;
    return {
      group: g.name,
      linears: g.linears,
      nLin: g.nLin,
      nEntries: g.nEntries,
      columnHeight: g.columnHeight,
      alwaysFull: g.alwaysFull,
      entryBytes: r[at + layout.CACHE_PLAN_ENTRY_BYTES],
      entriesPerLayer: r[at + layout.CACHE_PLAN_ENTRIES_PER_LAYER],
      bytesPerLayer: r[at + layout.CACHE_PLAN_BYTES_PER_LAYER],
    };
  });
  return {
    dramBudgetBytes: r[layout.PART_DRAM_BUDGET],
    kvSeqLen: r[layout.PART_KV_SEQ_LEN],
    placements,
    staticResidentBytes: r[layout.PART_STATIC_RESIDENT],
    overflowBytes: r[layout.PART_OVERFLOW],
    dynamicCapacityBytes: r[layout.PART_DYNAMIC_CAPACITY],
    caches,
    cacheBytes: r[layout.PART_CACHE_BYTES],
    residentBytes: r[layout.PART_RESIDENT],
    denseFootprintBytes: r[layout.PART_DENSE_FOOTPRINT],
    mlpFootprintBytes: r[layout.PART_MLP_FOOTPRINT],
    tiedEmbeddings: tied,
  };
}

/** The wasm ids (assembly/sim/footprint.ts WEIGHT_*) of the placeable groups. */
function weightIds(layout: SimLayout): Record<StaticGroup, number> {
  return { kv_cache: layout.WEIGHT_KV_CACHE, attention: layout.WEIGHT_ATTENTION, lm_head: layout.WEIGHT_LM_HEAD, embedding: layout.WEIGHT_EMBEDDING };
}
