// What a streamed run reports, in any runtime (the CLI's --stream --json and the web demo): the
// measured side (tok/s, bytes from storage per token, hit rate, memory) beside the simulator's
// prediction for the recorded masks with the same cache capacities and policy, on this machine
// (DRAM bandwidth probed in the same run, the paced Flash bandwidth, the per-read cost the stream's
// own counters measured, serial I/O) and on the mobile profile.
import type { Engine } from "../engine.js";
import type { WeightStream } from "./weights.js";
import { streamRowBytes, type StreamHeader } from "./format.js";
import { DEFAULT_DEVICE, hostDevice, resolveDevice, type DeviceProfile } from "../sim/devices.js";
import { footprint, kvCacheBytes } from "../sim/presets.js";
import { simulateTrace, type SequenceResult, type SimResult } from "../sim/simulate.js";
import { traceTokens, type MaskTrace } from "../sim/trace.js";

/**
 * Right before the measured run: probes the read bandwidth (returned, GB/s: pass it to
 * streamReport) and zeroes the stream's, the engine's byte and the real caches' counters.
 */
export function resetStreamCounters(engine: Engine, stream: WeightStream): number {
  const before = engine.measureReadBandwidth().gbps;
  stream.resetCounters();
  engine.resetBytes();
  engine.exports.simResetCounters();
  return before;
}

/** Byte-weighted hit rate of the engine's real column caches so far, overall and per layer. */
export function streamHitRates(engine: Engine): { overall: number; perLayer: number[] } {
  const x = engine.exports;
  const flash = x.simTotalFlashBytes();
  const dram = x.simTotalDramBytes();
  return {
    overall: flash + dram > 0 ? dram / (flash + dram) : 1,
    perLayer: Array.from({ length: engine.config.nLayers }, (_, l) => x.simLayerHitRate(l)),
  };
}

export const F32_BITS = { embedding: 32, lm_head: 32, attention: 32, mlp: 32, kv_cache: 32 };

/**
 * The simulator's bits per weight for a stream: what its file stores. q8: the static matrices in
 * q8 tiles (36 bytes per 32 weights = 9 bits); q4_0: Q4_0 rows (18 bytes per 32 = 4.5 bits); the
 * MLP at its column blocks' bytes (q8 8.5, q4_0 4.5 bits when the dimensions are multiples of 32;
 * one figure for both groups, so a model whose two groups pad differently is charged their mean);
 * the KV cache is f32 either way.
 */
export function streamBits(h: StreamHeader): typeof F32_BITS {
  if (h.dtype === "f32") return F32_BITS;
  const c = h.config;
  const mlp = (8 * (c.dim * h.groups[0].entry_bytes + c.hiddenDim * h.groups[1].entry_bytes)) / (3 * c.dim * c.hiddenDim);
  const table = (8 * streamRowBytes(c, h.dtype)) / c.dim;
  return { embedding: table, lm_head: table, attention: table, mlp, kv_cache: 32 };
}

/**
 * What one storage read cost the stream beyond moving its bytes at the paced bandwidth, in
 * microseconds: (fetch seconds - bytes / bandwidth) / reads (host call, positioned read, CRC, copy
 * and wake-up per request). The simulator charges it per read (docs/simulator.md "Flash reads").
 */
export function measuredReadLatencyUs(c: { reads: number; bytes: number; seconds: number }, flashGBps: number): number {
  return c.reads > 0 ? (Math.max(0, c.seconds - c.bytes / (flashGBps * 1e9)) / c.reads) * 1e6 : 0;
}

/**
 * The measured side (tok/s, bytes from storage per token, hit rate, memory) and the simulator's
 * prediction for the recorded masks with the same cache capacities and policy, on two devices:
 * this machine (host: DRAM bandwidth from the read-sum probe just before and after the run, the emulated
 * Flash bandwidth, serial I/O), which is the one to compare with, and the mobile profile with the
 * same Flash bandwidth. Without --flash-gbps the storage's speed is not a setting, so only the
 * mobile prediction (at 1 GB/s) is given.
 */
export async function streamReport(engine: Engine, stream: WeightStream, seconds: number, trace: MaskTrace, flashGBps: number | undefined, dramGBpsBefore?: number) {
  const s = engine.streamSetup!;
  const c = stream.counters;
  const engineBytes = engine.bytesRead();
  // the probe just before and just after the run: their mean stands for the run (other processes
  // sharing the machine change the bandwidth from one second to the next)
  const after = engine.measureReadBandwidth().gbps;
  const dramGBps = dramGBpsBefore !== undefined ? (dramGBpsBefore + after) / 2 : after;
  // the simulator places the static groups in DRAM greedily (kv cache, attention, LM head, then an
  // untied embedding; SIMULATOR.md): when they overflow the budget, give it the DRAM the engine's
  // own placement holds them in, so both read the same LM head rows from Flash every token
  const dims = trace.header.dims;
  const V = engine.config.vocabSize;
  const rowBytes = streamRowBytes(engine.config, stream.header.dtype);
  const bits = streamBits(stream.header);
  const tied = engine.config.tiedEmbeddings;
  const rows = s.residentRows;
  const overflow = rows.lmHead < V || rows.embedding < V;
  const simDramBytes = overflow
    ? kvCacheBytes(engine.exports, dims, bits, dims.seqLen) + footprint(engine.exports, dims, bits, 0).attention + rows.lmHead * rowBytes + (tied ? 0 : rows.embedding * rowBytes)
    : s.dramBytes;
  const predict = (device: DeviceProfile) =>
    simulateTrace(trace, { policy: s.policy, device, bits, cacheEntries: [...s.cacheEntries], tiedEmbeddings: engine.config.tiedEmbeddings });
  const mobileDevice = resolveDevice(DEFAULT_DEVICE, { dramBytes: simDramBytes, flashGBps });
  const mobile = await predict(mobileDevice);
  const readLatencyUs = flashGBps !== undefined ? measuredReadLatencyUs(c, flashGBps) : 0;
  const host = flashGBps !== undefined ? await predict(hostDevice(simDramBytes, dramGBps, flashGBps, readLatencyUs)) : undefined;
  // the same machine charged for bandwidth only, as before reads had a cost: what the latency adds
  const bandwidthOnly = flashGBps !== undefined ? await predict(hostDevice(simDramBytes, dramGBps, flashGBps)) : undefined;
  const sim = host ?? mobile;
  // every forward pass is one token for the simulator and here (prompt tokens included)
  const tokens = Math.max(1, traceTokens(trace));
  const perToken = (x: number) => x / tokens;
  const p = pooled(sim);
  // the simulator's non-MLP DRAM reads: static weights plus the KV cache at the live length
  const kvBytes = p.sum((q) => kvCacheBytes(engine.exports, trace.header.dims, bits, q.prompt_tokens + (q.tokens + 1) / 2)) / p.tokens;
  const fixedDram = p.sum((q) => q.dram_bytes_per_token - q.mlp_dram_bytes_per_token) / p.tokens;
  const memory = engine.exports.memory;
  const tokS = tokens / seconds;
  return {
    stream: true,
    policy: s.policy,
    /** the stream's dtype and the bits per weight the simulator was given for it */
    dtype: stream.header.dtype,
    weight_bits: bits,
    dram_budget_bytes: s.dramBytes,
    minimum_dram_bytes: s.minimumBytes,
    cache_entries: { input: s.cacheEntries[0], hidden: s.cacheEntries[1] },
    cache_bytes: s.cacheBytes,
    stage_bytes: s.stageBytes,
    /** rows held in wasm memory; below the vocabulary size the static weights overflow the budget and the other rows are read every token */
    resident_rows: { embedding: rows.embedding, lm_head: rows.lmHead, vocab: V },
    /** the DRAM the simulator partitions: the budget, or with a static overflow the engine's own static placement */
    simulated_dram_bytes: simDramBytes,
    /** where the positioned reads ran: an I/O thread beside the engine, or the engine thread */
    stream_io: s.io,
    flash_gbps: flashGBps ?? null,
    tied_embeddings: engine.config.tiedEmbeddings,
    tok_s: tokS,
    storage_bytes_per_token: perToken(c.bytes),
    storage_reads_per_token: perToken(c.reads),
    fetch_seconds_per_token: perToken(c.seconds),
    pacing_seconds_per_token: perToken(c.pacingSeconds),
    hit_rate: streamHitRates(engine).overall,
    arena_bytes: engine.memoryBytes(),
    peak_wasm_memory_bytes: memory.buffer.byteLength,
    /** wasm memory outside the budgeted arena: the runtime's own pages and data segments */
    runtime_overhead_bytes: memory.buffer.byteLength - engine.memoryBytes(),
    /** read-sum probe over the resident weights: mean of just before and just after the run */
    dram_read_gbps: dramGBps,
    dram_read_gbps_before_after: [dramGBpsBefore ?? null, after],
    simulated_tok_s: p.tok_s,
    measured_over_simulated: tokS / p.tok_s,
    /** the host prediction without the per-read cost (bandwidth only); null without --flash-gbps */
    bandwidth_only_simulated_tok_s: bandwidthOnly ? pooled(bandwidthOnly).tok_s : null,
    /** per-read cost measured by the stream's counters and charged by the host prediction, microseconds */
    measured_read_latency_us: flashGBps !== undefined ? readLatencyUs : null,
    /** reads the simulator counts (runs of adjacent missed columns) next to storage_reads_per_token */
    simulated_flash_reads_per_token: p.flash_reads_per_token,
    simulated_hit_rate: p.hit_rate,
    simulated_flash_bytes_per_token: p.flash_bytes_per_token,
    simulated_dram_bytes_per_token: p.dram_bytes_per_token,
    simulated_device: deviceEcho(host ? host.config.device : mobileDevice),
    mobile_simulated_tok_s: pooled(mobile).tok_s,
    mobile_device: deviceEcho(mobileDevice),
    /** what the engine's byte counters saw per token next to what the simulator charges */
    bytes_per_token: {
      engine_embedding: perToken(engineBytes.embedding),
      engine_attention: perToken(engineBytes.attention),
      engine_lm_head: perToken(engineBytes.lm_head),
      engine_mlp: perToken(engineBytes.mlp),
      simulated_static_dram: fixedDram - kvBytes,
      simulated_kv_cache: kvBytes,
      simulated_mlp: p.flash_bytes_per_token + p.dram_bytes_per_token - fixedDram,
    },
    note: "simulated_tok_s counts memory reads only (no compute); measured tok_s includes compute and the host's read path",
  };
}

/**
 * The simulator's numbers over all tokens of all sequences, as the run measures them (its own
 * summaries are means over sequences, which differ when sequences differ in length).
 */
function pooled(r: SimResult) {
  const sum = (f: (q: SequenceResult) => number) => r.sequences.reduce((t, q) => t + (q.tokens > 0 ? f(q) * q.tokens : 0), 0);
  const tokens = r.sequences.reduce((t, q) => t + q.tokens, 0);
  const mlpDram = sum((q) => q.mlp_dram_bytes_per_token);
  const mlpNeeded = mlpDram + sum((q) => q.mlp_flash_bytes_per_token);
  return {
    tokens,
    /** sum over sequences of f(sequence) * its tokens */
    sum,
    tok_s: tokens / sum((q) => 1 / q.tok_s),
    hit_rate: mlpNeeded > 0 ? mlpDram / mlpNeeded : 1,
    flash_bytes_per_token: sum((q) => q.flash_bytes_per_token) / tokens,
    dram_bytes_per_token: sum((q) => q.dram_bytes_per_token) / tokens,
    flash_reads_per_token: sum((q) => q.flash_reads_per_token) / tokens,
  };
}

function deviceEcho(d: DeviceProfile) {
  return { name: d.name, flash_gbps: d.flashGBps, dram_gbps: d.dramGBps, concurrent_io: d.concurrentIO, read_latency_us: d.readLatencyUs ?? 0 };
}

export type StreamReport = Awaited<ReturnType<typeof streamReport>>;

export function formatStreamSummary(r: StreamReport): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(3)} MB`;
  const host = r.flash_gbps !== null;
  return (
    `stream: ${r.tok_s.toFixed(2)} tok/s measured vs ${r.simulated_tok_s.toPrecision(4)} simulated on ${host ? `this machine (DRAM ${r.dram_read_gbps.toFixed(2)} GB/s measured, Flash ${r.flash_gbps} GB/s paced, ${(r.measured_read_latency_us ?? 0).toFixed(1)} us per read measured, serial I/O)` : "the mobile profile (Flash not paced)"}: ` +
    `measured / simulated ${r.measured_over_simulated.toFixed(3)}` +
    (host ? `; mobile profile ${r.mobile_simulated_tok_s.toPrecision(4)} tok/s` : "") +
    `\nstream: ${mb(r.storage_bytes_per_token)} read from storage per token in ${r.storage_reads_per_token.toFixed(0)} reads (simulated ${mb(r.simulated_flash_bytes_per_token)} from Flash in ${r.simulated_flash_reads_per_token.toFixed(0)} reads), hit rate ${(100 * r.hit_rate).toFixed(2)}% (simulated ${(100 * r.simulated_hit_rate).toFixed(2)}%); ` +
    `peak wasm memory ${mb(r.peak_wasm_memory_bytes)} (arena ${mb(r.arena_bytes)}) for a ${mb(r.dram_budget_bytes)} budget (minimum ${mb(r.minimum_dram_bytes)})\n`
  );
}
