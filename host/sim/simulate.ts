// Turns masks into bytes and time (SIMULATOR.md) by driving the wasm simulator: the caches count
// the MLP reads, and assembly/sim/summary.ts adds the fixed part, time to first token, memory, and
// means and spreads over sequences. This file checks the settings and names the results: the
// SimResult object, its notes and the echo of the configuration.
import { loadDefaultEngineWasm, type EngineExports } from "../wasm.js";
import { DEFAULT_BITS, type ModelDims, type Precision } from "./presets.js";
import { validateGroup, type MaskGroup } from "./groups.js";
import { SimSettingsError, checkFlashReads, type DeviceProfile } from "./devices.js";
import { partitionDram, STATIC_GROUPS, type DramPartition, type StaticGroup } from "./partition.js";
import { traceTokens, type MaskTrace, type TraceHeader } from "./trace.js";
import { simWasm, POLICY_ID, CACHE_POLICIES, ptr, type CachePolicy, type SimWasm } from "./wasm-sim.js";

export interface SimSettings {
  policy: CachePolicy;
  device: DeviceProfile;
  /** bits per group; missing groups keep DEFAULT_BITS */
  bits?: Partial<Precision>;
  /** groups placed in DRAM, in placement order (default kv_cache, attention, lm_head, embedding) */
  staticGroups?: readonly string[];
  /** KV positions reserved in DRAM (default: the model's context length) */
  kvSeqLen?: number;
  /** 0: when a mask is larger than its cache, the lowest new columns are admitted; else a
   *  pseudo-random ranking of the columns fixed by this seed */
  admissionSeed?: number;
  /** cache capacity per group in entries (each layer), instead of the DRAM partition's */
  cacheEntries?: number[];
  /** the embedding and the LM head are one matrix (a tied model run by this engine): count it once */
  tiedEmbeddings?: boolean;
}

export interface Stats {
  mean: number;
  /** population standard deviation over sequences */
  std: number;
  min: number;
  max: number;
  n: number;
}

/** A sequence's figures, in the order of assembly/sim/summary.ts's row (SEQ_<NAME>). */
const SEQUENCE_FIGURES = [
  "prompt_tokens", "tokens", "tok_s", "hit_rate", "flash_bytes_per_token", "dram_bytes_per_token",
  "mlp_flash_bytes_per_token", "mlp_dram_bytes_per_token", "mlp_density", "fixed_seconds_per_token",
  "dynamic_seconds_per_token", "ttft_s", "dense_flash_tok_s", "flash_reads_per_token", "flash_bytes_read_per_useful_byte",
] as const;

/**
 * hit_rate: byte-weighted, MLP bytes served from DRAM / MLP bytes needed (1 if none needed);
 * mlp_density: MLP bytes needed per token / dense MLP bytes; dense_flash_tok_s: the dense model
 * with the same static placement and its whole MLP read from Flash every token;
 * flash_reads_per_token: Flash reads (a run of adjacent missed columns is one read);
 * flash_bytes_read_per_useful_byte: bytes the reads move in whole pages / bytes needed from Flash.
 */
export type SequenceResult = Record<(typeof SEQUENCE_FIGURES)[number], number> & {
  per_layer_hit_rate: number[];
  /** per mask group: |m and c| / |m| over all tokens and layers */
  group_hit_rate: Record<string, number>;
};

export interface SimResult {
  /** mean over sequences of tokens / second */
  tok_s: number;
  hit_rate: { overall: number; per_layer: number[]; per_group: Record<string, number> };
  flash_bytes_per_token: number;
  /** Flash reads per token: a run of adjacent missed columns is one read (docs/simulator.md "Flash reads") */
  flash_reads_per_token: number;
  /** bytes the Flash reads move (whole pages of device.pageBytes) / bytes needed from Flash; 1 with page 1 */
  flash_bytes_read_per_useful_byte: number;
  dram_bytes_per_token: number;
  mlp_density: number;
  ttft_s: number;
  /** DRAM this configuration keeps resident: placed static groups + MLP caches */
  memory_bytes: number;
  dram_budget_bytes: number;
  /** every group's footprint (KV cache at kv_seq_len): what a fully resident dense model needs */
  dense_footprint_bytes: number;
  /** 1 - memory_bytes / dense_footprint_bytes */
  memory_reduction: number;
  /** the dense model with the same static placement and its whole MLP streamed from Flash */
  dense_flash_tok_s: number;
  speedup_vs_dense_flash: number;
  spread: {
    tok_s: Stats;
    hit_rate: Stats;
    flash_bytes_per_token: Stats;
    dram_bytes_per_token: Stats;
    ttft_s: Stats;
    mlp_density: Stats;
  };
  sequences: SequenceResult[];
  partition: PartitionReport;
  config: SimConfigEcho;
  notes: string[];
}

export interface PartitionReport {
  static: { group: StaticGroup; static: boolean; footprint_bytes: number; dram_bytes: number; flash_bytes: number }[];
  static_resident_bytes: number;
  overflow_bytes: number;
  dynamic_capacity_bytes: number;
  caches: { group: string; linears: string[]; entries_per_layer: number; n_entries: number; entry_bytes: number; bytes_per_layer: number; always_full: boolean }[];
  cache_bytes: number;
}

export interface SimConfigEcho {
  policy: CachePolicy;
  device: DeviceProfile;
  bits: Precision;
  static_groups: string[];
  kv_seq_len: number;
  admission_seed: number;
  admission_rule: string;
  cache_entries_override: number[] | null;
  model: string | null;
  method: string;
  sparsity: Record<string, number | boolean | string> | null;
  dims: ModelDims;
  groups: MaskGroup[];
  sequences: number;
  tokens: number;
}

const REPLAY_ERRORS: Record<number, string> = {
  [-1]: "the masks end early (truncated)",
  [-2]: "a mask has more indices than its group has columns",
  [-3]: "an index is out of range or not ascending",
  [-4]: "there are words after the last mask",
  [-5]: "the simulator is not configured",
  [-6]: "wasm memory is exhausted",
};

/** Everything fixed for a run: shapes, settings and the DRAM partition. */
interface SimContext {
  sim: SimWasm;
  dims: ModelDims;
  groups: MaskGroup[];
  bits: Precision;
  device: DeviceProfile;
  policy: CachePolicy;
  admissionSeed: number;
  staticGroups: string[];
  partition: DramPartition;
  /** entries per layer, per group */
  capacities: number[];
  /** capacities are settings.cacheEntries, not the partition's */
  capacitiesOverridden: boolean;
}

function makeContext(exports: EngineExports, dims: ModelDims, groups: MaskGroup[], s: SimSettings): SimContext {
  if (!CACHE_POLICIES.includes(s.policy)) throw new SimSettingsError(`unknown policy "${s.policy}"; choose from ${CACHE_POLICIES.join(", ")}`);
  if (!(s.device.flashGBps > 0) || !(s.device.dramGBps > 0)) throw new SimSettingsError(`bandwidths must be > 0 GB/s (flash ${s.device.flashGBps}, dram ${s.device.dramGBps})`);
  checkFlashReads(s.device);
  groups.forEach((g, i) => validateGroup(g, `group ${i}`));
  const bits: Precision = { ...DEFAULT_BITS, ...(s.bits ?? {}) };
  const staticGroups = [...(s.staticGroups ?? STATIC_GROUPS)];
  const seed = s.admissionSeed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new SimSettingsError(`admission seed must be an integer in [0, 2^32), got ${seed}`);
  const sim = simWasm(exports);
  const partition = partitionDram(exports, { dims, bits, groups, dramBytes: s.device.dramBytes, staticGroups, kvSeqLen: s.kvSeqLen, tiedEmbeddings: s.tiedEmbeddings });
  let capacities = partition.caches.map((c) => c.entriesPerLayer);
  if (s.cacheEntries) {
    if (s.cacheEntries.length !== groups.length) throw new SimSettingsError(`cache entries: ${s.cacheEntries.length} given for ${groups.length} groups`);
    s.cacheEntries.forEach((e, i) => {
      if (!Number.isSafeInteger(e) || e < 0) throw new SimSettingsError(`cache entries of group ${groups[i].name} must be a non-negative integer, got ${e}`);
    });
    capacities = s.cacheEntries.map((e, i) => Math.min(e, groups[i].nEntries));
  }
  if (s.policy === "none") capacities = capacities.map(() => 0);
  const capacitiesOverridden = s.cacheEntries !== undefined && s.policy !== "none";
  return { sim, dims, groups, bits, device: s.device, policy: s.policy, admissionSeed: seed, staticGroups, partition, capacities, capacitiesOverridden };
}

const START_ERRORS: Record<number, string> = { [-1]: "a mask group is undescribed", [-2]: "allocating the caches (wasm memory)", [-3]: "policy", [-4]: "bandwidth" };

/** Allocates the caches partitionDram described and starts a run; a cache size override replaces
 *  the partition's capacities. */
function configureWasm(ctx: SimContext): void {
  const { sim, device } = ctx;
  const rc = sim.simStartRun(POLICY_ID[ctx.policy], device.flashGBps, device.dramGBps, device.concurrentIO ? 1 : 0, ctx.admissionSeed);
  if (rc !== 0) throw new Error(`simulator: ${START_ERRORS[rc] ?? "start"} failed (code ${rc})`);
  if (sim.simSetFlashReads(device.pageBytes ?? 1, (device.readLatencyUs ?? 0) * 1e-6) !== 0) throw new Error("simulator: Flash page size or read latency rejected");
  if (!ctx.capacitiesOverridden) return;
  ctx.capacities.forEach((e, i) => {
    if (sim.simSetCapacity(-1, i, e) !== 0) throw new Error(`simulator: capacity of ${ctx.groups[i].name} failed`);
  });
}

/** Turns the counters of the sequence just run into row `index` of the wasm summary (assembly/sim/summary.ts). */
function recordSequence(ctx: SimContext, index: number, promptTokens: number, tokens: number): void {
  if (ptr(ctx.sim.simRecordSequence(index, promptTokens, tokens)) === 0) throw new Error("simulator: wasm memory exhausted recording a sequence");
}

/** Row `index` as the report names its fields. */
function sequenceResult(ctx: SimContext, index: number): SequenceResult {
  const { sim, dims, groups } = ctx;
  const l = sim.layout;
  const L = dims.nLayers;
  const r = sim.record(sim.simSequenceRow(index), l.SEQ_PER_LAYER_HIT_RATE + L + groups.length);
  const perLayer = Array.from(r.subarray(l.SEQ_PER_LAYER_HIT_RATE, l.SEQ_PER_LAYER_HIT_RATE + L));
  const groupHit: Record<string, number> = {};
  groups.forEach((g, i) => (groupHit[g.name] = r[l.SEQ_PER_LAYER_HIT_RATE + L + i]));
  // the report's key order: the per-layer and per-group rates follow hit_rate
  const figures: Partial<SequenceResult> = {};
  for (const name of SEQUENCE_FIGURES) {
    figures[name] = r[l[`SEQ_${name.toUpperCase() as Uppercase<typeof name>}`]];
    if (name === "hit_rate") Object.assign(figures, { per_layer_hit_rate: perLayer, group_hit_rate: groupHit });
  }
  return figures as SequenceResult;
}

function admissionRule(seed: number, policy: CachePolicy): string {
  if (policy === "belady") return "when a mask is larger than its cache, cap - |old_active| new columns fit: those needed again soonest (ties: lower index)";
  return seed === 0
    ? "when a mask is larger than its cache, cap - |old_active| new columns fit: the lowest column indices"
    : `when a mask is larger than its cache, cap - |old_active| new columns fit: those with the smallest fmix32(index ^ ${seed})`;
}

/** The result over sequence rows [0, count) (recorded with recordSequence). */
function summarize(ctx: SimContext, header: TraceHeader | null, method: string, count: number): SimResult {
  const { sim, groups } = ctx;
  const all = Array.from({ length: count }, (_, i) => sequenceResult(ctx, i));
  if (!all.some((s) => s.tokens > 0)) throw new SimSettingsError("no tokens to simulate: every sequence is empty");
  const l = sim.layout;
  const L = ctx.dims.nLayers;
  const G = groups.length;
  const summaryPtr = ptr(sim.simSummarize(count));
  if (summaryPtr === 0) throw new Error("simulator: wasm memory exhausted summarizing");
  const r = sim.record(summaryPtr, l.SUM_PER_LAYER_HIT_RATE + L + 2 * G);
  const stat = (k: number): Stats => {
    const at = k * l.STAT_FIELDS;
    return { mean: r[at + l.STAT_MEAN], std: r[at + l.STAT_STD], min: r[at + l.STAT_MIN], max: r[at + l.STAT_MAX], n: r[at + l.STAT_N] };
  };
  // in the order of assembly/sim/summary.ts SPREAD
  const spread = {
    tok_s: stat(0),
    hit_rate: stat(1),
    flash_bytes_per_token: stat(2),
    dram_bytes_per_token: stat(3),
    ttft_s: stat(4),
    mlp_density: stat(5),
  };
  const perLayer = Array.from(r.subarray(l.SUM_PER_LAYER_HIT_RATE, l.SUM_PER_LAYER_HIT_RATE + L));
  const perGroup: Record<string, number> = {};
  groups.forEach((g, i) => (perGroup[g.name] = r[l.SUM_PER_LAYER_HIT_RATE + L + i]));
  const cacheBytesPerLayer = (i: number) => r[l.SUM_PER_LAYER_HIT_RATE + L + G + i];
  const p = ctx.partition;
  const memory = r[l.SUM_MEMORY_BYTES];
  const notes = [
    "Compute time is not modelled: token time is weight and KV-cache read time only (the memory-bound regime of batch-1 generation).",
    "hit_rate is byte-weighted over the MLP caches (DRAM bytes / needed bytes, 1 when nothing is needed); per_group rates count entries.",
    "Per token the embedding is read one row, attention and lm_head whole, the KV cache at the sequence's average live length; norms and biases are ignored.",
    "dense_flash_tok_s: the dense model with the same static placement and its whole MLP read from Flash every token.",
    "ttft_s: every weight read once (the MLP from Flash, caches start empty) plus the KV cache at prompt length; prompt compute is not modelled.",
    `Admission rule: ${admissionRule(ctx.admissionSeed, ctx.policy)}.`,
  ];
  if (p.overflowBytes > 0) notes.push(`Static groups do not fit in DRAM: ${p.overflowBytes} bytes overflow and are streamed from Flash every token.`);
  const streamed = p.placements.filter((x) => !x.isStatic).map((x) => x.group);
  if (streamed.length > 0) notes.push(`Streamed from Flash every token (not static): ${streamed.join(", ")}.`);
  if (ctx.policy === "none") notes.push("Policy none: no MLP cache; every needed MLP byte comes from Flash.");
  if (p.tiedEmbeddings) notes.push("Tied embeddings: the LM head matrix is held and counted once; the embedding row is read from it.");
  return {
    tok_s: spread.tok_s.mean,
    hit_rate: { overall: spread.hit_rate.mean, per_layer: perLayer, per_group: perGroup },
    flash_bytes_per_token: spread.flash_bytes_per_token.mean,
    flash_reads_per_token: r[l.SUM_FLASH_READS_PER_TOKEN],
    flash_bytes_read_per_useful_byte: r[l.SUM_FLASH_BYTES_READ_PER_USEFUL_BYTE],
    dram_bytes_per_token: spread.dram_bytes_per_token.mean,
    mlp_density: spread.mlp_density.mean,
    ttft_s: spread.ttft_s.mean,
    memory_bytes: memory,
    dram_budget_bytes: p.dramBudgetBytes,
    dense_footprint_bytes: p.denseFootprintBytes,
    memory_reduction: r[l.SUM_MEMORY_REDUCTION],
    dense_flash_tok_s: r[l.SUM_DENSE_FLASH_TOK_S],
    speedup_vs_dense_flash: r[l.SUM_SPEEDUP_VS_DENSE_FLASH],
    spread,
    sequences: all,
    partition: {
      static: p.placements.map((x) => ({ group: x.group, static: x.isStatic, footprint_bytes: x.footprintBytes, dram_bytes: x.dramBytes, flash_bytes: x.flashBytes })),
      static_resident_bytes: p.staticResidentBytes,
      overflow_bytes: p.overflowBytes,
      dynamic_capacity_bytes: p.dynamicCapacityBytes,
      caches: p.caches.map((c, i) => ({
        group: c.group,
        linears: c.linears,
        entries_per_layer: ctx.capacities[i],
        n_entries: c.nEntries,
        entry_bytes: c.entryBytes,
        bytes_per_layer: cacheBytesPerLayer(i),
        always_full: c.alwaysFull,
      })),
      cache_bytes: r[l.SUM_CACHE_BYTES],
    },
    config: {
      policy: ctx.policy,
      device: ctx.device,
      bits: ctx.bits,
      static_groups: ctx.staticGroups,
      kv_seq_len: p.kvSeqLen,
      admission_seed: ctx.admissionSeed,
      admission_rule: admissionRule(ctx.admissionSeed, ctx.policy),
      cache_entries_override: null,
      model: header?.model ?? null,
      method,
      sparsity: header?.sparsity ?? null,
      dims: ctx.dims,
      groups: ctx.groups,
      sequences: all.length,
      tokens: all.reduce((s, q) => s + q.tokens, 0),
    },
    notes,
  };
}

/** Replays a trace on a wasm instance (its own or the engine's). Deterministic: same trace and
 *  settings give the same result, on any runtime. Empties the caches before every sequence. */
export function simulateTraceWith(exports: EngineExports, trace: MaskTrace, settings: SimSettings): SimResult {
  const sim = simWasm(exports);
  const { header } = trace;
  const ctx = makeContext(exports, header.dims, header.groups, settings);
  if (traceTokens(trace) === 0) throw new SimSettingsError("the trace has no tokens");
  configureWasm(ctx);
  trace.sequences.forEach((seq, s) => {
    sim.simResetCounters();
    const words = seq.words.length;
    const p = ptr(sim.simTraceBuffer(words));
    if (p === 0) throw new Error(`simulator: wasm memory exhausted holding sequence ${s} (${words * 4} bytes)`);
    new Uint32Array(sim.memory.buffer, p, words).set(seq.words); // view made after the call that may grow memory
    const rc = sim.simReplay(p, words, seq.tokens, 0);
    if (rc !== 0) {
      const at = `token ${sim.simReplayErrorToken()} layer ${sim.simReplayErrorLayer()} group ${sim.simReplayErrorGroup()} word ${sim.simReplayErrorWord()}`;
      throw new SimSettingsError(`sequence ${s}, ${at}: ${REPLAY_ERRORS[rc] ?? `replay failed (code ${rc})`}`);
    }
    recordSequence(ctx, s, seq.promptTokens, seq.tokens);
  });
  const result = summarize(ctx, header, header.method, trace.sequences.length);
  if (settings.cacheEntries) result.config.cache_entries_override = [...settings.cacheEntries];
  return result;
}

/** simulateTraceWith on a fresh instance of the default engine wasm (Node: build/engine.wasm). */
export async function simulateTrace(trace: MaskTrace, settings: SimSettings, exports?: EngineExports): Promise<SimResult> {
  return simulateTraceWith(exports ?? (await loadDefaultEngineWasm()), trace, settings);
}

export interface LiveSimOptions extends SimSettings {
  dims: ModelDims;
  groups: MaskGroup[];
  /** sparsity method, for the report */
  method?: string;
}

/**
 * The simulator stepping along with the engine (DIP-CA generation, live throughput estimates).
 * Shares the engine's wasm instance: the engine's DIP-CA policy reads `cachedFlagsPtr` before
 * choosing each mask, then the engine (or host) reports the mask with `observe`.
 * Belady needs the future; record a trace and replay it instead. The wasm instance holds one
 * simulator: another LiveSimulator, a simulateTraceWith, or a footprint or partitionDram call on
 * the same instance reconfigures it.
 */
export class LiveSimulator {
  private readonly sim: SimWasm;
  private readonly ctx: SimContext;
  private readonly scratch: number;
  /** sequences recorded (rows 0 .. finished - 1 of the wasm summary) */
  private finished = 0;
  private promptTokens = 0;
  private open = false;

  constructor(exports: EngineExports, readonly options: LiveSimOptions) {
    if (options.policy === "belady") throw new SimSettingsError("belady needs the whole sequence of masks: record a trace and replay it (simulate --trace)");
    this.sim = simWasm(exports);
    this.ctx = makeContext(exports, options.dims, options.groups, options);
    configureWasm(this.ctx);
    const widest = Math.max(...options.groups.map((g) => g.nEntries));
    this.scratch = ptr(this.sim.arenaAlloc(widest * 4));
    if (this.scratch === 0) throw new Error("simulator: wasm memory exhausted");
  }

  get partition(): DramPartition {
    return this.ctx.partition;
  }

  /** Cache capacity of each group (entries per layer) in use. */
  get capacities(): readonly number[] {
    return this.ctx.capacities;
  }

  /** Empties the caches: call before each sequence (closes the previous one). */
  beginSequence(promptTokens = 0): void {
    this.close();
    this.sim.simBeginSequence();
    this.sim.simResetCounters();
    this.promptTokens = promptTokens;
    this.open = true;
  }

  /** The mask of (layer, group) for this token, ascending column indices. Returns the hits. */
  observe(layer: number, group: number, indices: ArrayLike<number>): number {
    const n = indices.length;
    const columns = this.ctx.groups[group]?.nEntries ?? 0;
    if (n > columns) throw new SimSettingsError(`simulator: ${n} indices for layer ${layer} group ${group}, which has ${columns} columns`);
    new Uint32Array(this.sim.memory.buffer, this.scratch, n).set(indices);
    return this.observePtr(layer, group, this.scratch, n);
  }

  /** The mask is already in wasm memory (u32 at ptr), e.g. the engine's kept-index buffers. */
  observePtr(layer: number, group: number, maskPtr: number, count: number): number {
    if (!this.open) this.beginSequence(0);
    const hits = this.sim.simObserve(layer, group, maskPtr, count);
    if (hits < 0) throw new SimSettingsError(`simulator: bad mask for layer ${layer} group ${group} (indices must be ascending and below the group's ${this.ctx.groups[group]?.nEntries} columns)`);
    return hits;
  }

  /** A group read dense this token (every column). */
  observeFull(layer: number, group: number): number {
    if (!this.open) this.beginSequence(0);
    const hits = this.sim.simObserveFull(layer, group);
    if (hits < 0) throw new SimSettingsError(`simulator: no cache for layer ${layer} group ${group}`);
    return hits;
  }

  /** u8 flags (1 = cached) of cache (layer, group), one per column; stable until reconfigured. */
  cachedFlagsPtr(layer: number, group: number): number {
    return ptr(this.sim.simCachedFlags(layer, group));
  }

  isCached(layer: number, group: number, column: number): boolean {
    const p = this.cachedFlagsPtr(layer, group);
    const columns = this.ctx.groups[group]?.nEntries ?? 0;
    return p !== 0 && column >= 0 && column < columns && new Uint8Array(this.sim.memory.buffer, p, columns)[column] === 1;
  }

  /** Tokens observed in the open sequence (the most masks any cache has seen). */
  tokensInSequence(): number {
    let t = 0;
    for (let l = 0; l < this.ctx.dims.nLayers; l++) {
      for (let g = 0; g < this.ctx.groups.length; g++) t = Math.max(t, this.sim.simCacheClock(l, g));
    }
    return t;
  }

  /** Results over the finished sequences and the open one. */
  result(): SimResult {
    // the open sequence takes the next row without closing it
    if (this.open) recordSequence(this.ctx, this.finished, this.promptTokens, this.tokensInSequence());
    const r = summarize(this.ctx, null, this.options.method ?? "unknown", this.finished + (this.open ? 1 : 0));
    if (this.options.cacheEntries) r.config.cache_entries_override = [...this.options.cacheEntries];
    return r;
  }

  private close(): void {
    if (!this.open) return;
    const tokens = this.tokensInSequence();
    if (tokens > 0) recordSequence(this.ctx, this.finished++, this.promptTokens, tokens);
    this.open = false;
  }
}
