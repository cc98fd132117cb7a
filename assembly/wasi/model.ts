// The host's simulator arithmetic (host/sim/presets.ts, partition.ts, simulate.ts), transcribed
// operation for operation in f64 so the standalone replay prints the numbers `dip simulate --trace`
// prints: footprints, the DRAM partition, fixed reads, and the per-sequence and summary figures.
// Keep the two in step: tests/wasi.test.ts compares them field by field.

export class Dims {
  nLayers: f64 = 0;
  vocabSize: f64 = 0;
  dim: f64 = 0;
  hiddenDim: f64 = 0;
  nHeads: f64 = 0;
  nKvHeads: f64 = 0;
  seqLen: f64 = 0;
  gated: bool = true;
}

export class Group {
  name: string = "";
  nEntries: f64 = 0;
  columnHeight: f64 = 0;
  nLin: f64 = 0;
  alwaysFull: bool = false;
}

export class Bits {
  embedding: f64 = 8;
  lm_head: f64 = 8;
  attention: f64 = 4;
  mlp: f64 = 4;
  kv_cache: f64 = 8;
}

export class Device {
  name: string = "mobile";
  dramBytes: f64 = 4e9;
  dramGBps: f64 = 60;
  flashGBps: f64 = 1;
  concurrentIO: bool = true;
}

export const STATIC_GROUPS: string[] = ["kv_cache", "attention", "lm_head", "embedding"];

export class Footprint {
  embedding: f64 = 0;
  lm_head: f64 = 0;
  attention: f64 = 0;
  mlp: f64 = 0;
  kv_cache: f64 = 0;
  total: f64 = 0;

  of(group: string): f64 {
    if (group == "embedding") return this.embedding;
    if (group == "lm_head") return this.lm_head;
    if (group == "attention") return this.attention;
    if (group == "mlp") return this.mlp;
    return this.kv_cache;
  }
}

// presets.ts
export function kvCacheBytes(d: Dims, bits: Bits, positions: f64): f64 {
  return (bits.kv_cache / 8) * positions * d.dim * 2 * d.nLayers * (d.nKvHeads / d.nHeads);
}

export function footprint(d: Dims, bits: Bits, seqLen: f64): Footprint {
  const H = d.dim;
  const L = d.nLayers;
  const fp = new Footprint();
  fp.embedding = (bits.embedding / 8) * H * d.vocabSize;
  fp.lm_head = (bits.lm_head / 8) * H * d.vocabSize;
  fp.attention = (bits.attention / 8) * H * H * (2 + 2 * (d.nKvHeads / d.nHeads)) * L;
  fp.mlp = (bits.mlp / 8) * H * d.hiddenDim * (d.gated ? 3.0 : 2.0) * L;
  fp.kv_cache = kvCacheBytes(d, bits, seqLen);
  fp.total = fp.embedding + fp.lm_head + fp.attention + fp.mlp + fp.kv_cache;
  return fp;
}

// partition.ts
export class Placement {
  group: string = "";
  isStatic: bool = false;
  footprintBytes: f64 = 0;
  dramBytes: f64 = 0;
  flashBytes: f64 = 0;
  dramFraction: f64 = 0;
}

export class CachePlan {
  entryBytes: f64 = 0;
  entriesPerLayer: f64 = 0;
  bytesPerLayer: f64 = 0;
}

export class Partition {
  dramBudgetBytes: f64 = 0;
  kvSeqLen: f64 = 0;
  placements: Placement[] = [];
  staticResidentBytes: f64 = 0;
  overflowBytes: f64 = 0;
  dynamicCapacityBytes: f64 = 0;
  caches: CachePlan[] = [];
  denseFootprintBytes: f64 = 0;
  mlpFootprintBytes: f64 = 0;
}

export function partitionDram(dims: Dims, bits: Bits, groups: Group[], dramBytes: f64, order: string[], kvSeqLen: f64): Partition {
  const p = new Partition();
  p.dramBudgetBytes = dramBytes;
  p.kvSeqLen = kvSeqLen;
  const fp = footprint(dims, bits, kvSeqLen);
  let free = dramBytes;
  for (let i = 0; i < order.length; i++) {
    const group = order[i];
    const bytes = group == "kv_cache" ? kvCacheBytes(dims, bits, kvSeqLen) : fp.of(group);
    const dram = Math.min(bytes, free);
    free -= dram;
    const x = new Placement();
    x.group = group;
    x.isStatic = true;
    x.footprintBytes = bytes;
    x.dramBytes = dram;
    x.flashBytes = bytes - dram;
    x.dramFraction = bytes > 0 ? dram / bytes : 1;
    p.placements.push(x);
  }
  for (let i = 0; i < STATIC_GROUPS.length; i++) {
    const group = STATIC_GROUPS[i];
    if (order.includes(group)) continue;
    const x = new Placement();
    x.group = group;
    x.footprintBytes = fp.of(group);
    x.flashBytes = x.footprintBytes;
    p.placements.push(x);
  }
  let resident: f64 = 0;
  let overflow: f64 = 0;
  for (let i = 0; i < p.placements.length; i++) resident += p.placements[i].dramBytes;
  for (let i = 0; i < p.placements.length; i++) if (p.placements[i].isStatic) overflow += p.placements[i].flashBytes;
  p.staticResidentBytes = resident;
  p.overflowBytes = overflow;
  p.dynamicCapacityBytes = Math.max(0, dramBytes - resident);
  p.caches = splitCapacity(dims, bits, groups, p.dynamicCapacityBytes);
  p.denseFootprintBytes = fp.total;
  p.mlpFootprintBytes = fp.mlp;
  return p;
}

/** Even split per linear, capped at each linear's size, leftovers re-split (water filling). */
function splitCapacity(dims: Dims, bits: Bits, groups: Group[], capacity: f64): CachePlan[] {
  const p = bits.mlp / 8;
  const L = dims.nLayers;
  const G = groups.length;
  const share = new Array<f64>(G).fill(0);
  const full = new Array<f64>(G);
  for (let i = 0; i < G; i++) full[i] = groups[i].nEntries * groups[i].columnHeight * p;
  let left = capacity;
  for (let tier = 0; tier < 2; tier++) {
    let active: i32[] = [];
    for (let i = 0; i < G; i++) if (groups[i].alwaysFull == (tier == 1)) active.push(i);
    while (active.length > 0 && left > 0) {
      let linears: f64 = 0;
      for (let k = 0; k < active.length; k++) linears = linears + groups[active[k]].nLin * L;
      const each = left / linears;
      const saturated: i32[] = [];
      for (let k = 0; k < active.length; k++) if (full[active[k]] <= each) saturated.push(active[k]);
      if (saturated.length == 0) {
        for (let k = 0; k < active.length; k++) share[active[k]] = each;
        left = 0;
        break;
      }
      for (let k = 0; k < saturated.length; k++) {
        const i = saturated[k];
        share[i] = full[i];
        left -= full[i] * groups[i].nLin * L;
      }
      const rest: i32[] = [];
      for (let k = 0; k < active.length; k++) if (!saturated.includes(active[k])) rest.push(active[k]);
      active = rest;
    }
    left = Math.max(0, left);
  }
  const plans: CachePlan[] = [];
  for (let i = 0; i < G; i++) {
    const g = groups[i];
    const c = new CachePlan();
    c.entryBytes = g.columnHeight * p * g.nLin;
    c.entriesPerLayer = share[i] >= full[i] ? g.nEntries : Math.min(g.nEntries, Math.floor(share[i] / (g.columnHeight * p)));
    c.bytesPerLayer = c.entriesPerLayer * c.entryBytes;
    plans.push(c);
  }
  return plans;
}

// simulate.ts
export class Context {
  dims: Dims = new Dims();
  groups: Group[] = [];
  bits: Bits = new Bits();
  device: Device = new Device();
  policy: i32 = 1;
  admissionSeed: f64 = 0;
  partition: Partition = new Partition();
  capacities: f64[] = [];
  cacheBytes: f64 = 0;
}

export function makeContext(dims: Dims, groups: Group[], bits: Bits, device: Device, policy: i32, order: string[], kvSeqLen: f64, seed: f64): Context {
  const ctx = new Context();
  ctx.dims = dims;
  ctx.groups = groups;
  ctx.bits = bits;
  ctx.device = device;
  ctx.policy = policy;
  ctx.admissionSeed = seed;
  ctx.partition = partitionDram(dims, bits, groups, device.dramBytes, order, kvSeqLen);
  for (let i = 0; i < groups.length; i++) ctx.capacities.push(policy == 0 ? 0 : ctx.partition.caches[i].entriesPerLayer);
  let sum: f64 = 0;
  for (let i = 0; i < groups.length; i++) sum = sum + ctx.capacities[i] * ctx.partition.caches[i].entryBytes * dims.nLayers;
  ctx.cacheBytes = sum;
  return ctx;
}

export function combine(ctx: Context, flashBytes: f64, dramBytes: f64): f64 {
  const f = flashBytes / (ctx.device.flashGBps * 1e9);
  const d = dramBytes / (ctx.device.dramGBps * 1e9);
  return ctx.device.concurrentIO ? Math.max(f, d) : f + d;
}

export class Reads {
  flash: f64 = 0;
  dram: f64 = 0;
}

export function fixedReads(ctx: Context, kvPositions: f64, embeddingRows: f64): Reads {
  const dims = ctx.dims;
  const bits = ctx.bits;
  const fp = footprint(dims, bits, 0);
  const r = new Reads();
  for (let i = 0; i < ctx.partition.placements.length; i++) {
    const p = ctx.partition.placements[i];
    const read =
      p.group == "kv_cache" ? kvCacheBytes(dims, bits, kvPositions)
      : p.group == "embedding" ? (bits.embedding / 8) * dims.dim * embeddingRows
      : fp.of(p.group);
    r.dram += read * p.dramFraction;
    r.flash += read * (1 - p.dramFraction);
  }
  return r;
}

export class SequenceResult {
  prompt_tokens: f64 = 0;
  tokens: f64 = 0;
  tok_s: f64 = 0;
  hit_rate: f64 = 0;
  per_layer_hit_rate: f64[] = [];
  group_hit_rate: f64[] = [];
  flash_bytes_per_token: f64 = 0;
  dram_bytes_per_token: f64 = 0;
  mlp_flash_bytes_per_token: f64 = 0;
  mlp_dram_bytes_per_token: f64 = 0;
  mlp_density: f64 = 0;
  fixed_seconds_per_token: f64 = 0;
  dynamic_seconds_per_token: f64 = 0;
  ttft_s: f64 = 0;
  dense_flash_tok_s: f64 = 0;
}

export class Stats {
  mean: f64 = 0;
  std: f64 = 0;
  min: f64 = 0;
  max: f64 = 0;
  n: f64 = 0;
}

export function stats(values: f64[]): Stats {
  const s = new Stats();
  const n = values.length;
  if (n == 0) return s;
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  let sq: f64 = 0;
  let lo = values[0];
  let hi = values[0];
  for (let i = 0; i < n; i++) {
    sq += (values[i] - mean) * (values[i] - mean);
    lo = Math.min(lo, values[i]);
    hi = Math.max(hi, values[i]);
  }
  s.mean = mean;
  s.std = Math.sqrt(sq / n);
  s.min = lo;
  s.max = hi;
  s.n = n;
  return s;
}
