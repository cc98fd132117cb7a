// What a streamed run reports, in any runtime (the CLI's --stream --json and the web demo): the
// measured side (tok/s, bytes from storage per token, hit rate, memory) beside the simulator's
// prediction for the recorded masks with the same cache capacities, policy and bandwidth.
import type { Engine } from "./engine.js";
import type { WeightStream } from "./stream.js";
import { DEFAULT_DEVICE, resolveDevice } from "./sim/devices.js";
import { simulateTrace } from "./sim/simulate.js";
import { traceTokens, type MaskTrace } from "./sim/trace.js";

interface LiveCounters {
  simTotalFlashBytes(): number;
  simTotalDramBytes(): number;
  simResetCounters(): void;
  simLayerHitRate(layer: number): number;
}

const live = (engine: Engine) => engine.exports as unknown as LiveCounters;

/** Zeroes the stream's counters and the engine's cache counters (before the measured run). */
export function resetStreamCounters(engine: Engine, stream: WeightStream): void {
  stream.resetCounters();
  live(engine).simResetCounters();
}

/** Byte-weighted hit rate of the engine's real column caches so far, overall and per layer. */
export function streamHitRates(engine: Engine): { overall: number; perLayer: number[] } {
  const x = live(engine);
  const flash = x.simTotalFlashBytes();
  const dram = x.simTotalDramBytes();
  return {
    overall: flash + dram > 0 ? dram / (flash + dram) : 1,
    perLayer: Array.from({ length: engine.config.nLayers }, (_, l) => x.simLayerHitRate(l)),
  };
}

/**
 * The report of a streamed run of `seconds` whose masks are `trace`. `flashGBps` is the pacing
 * bandwidth (undefined: not paced; the simulator then assumes the mobile profile's Flash).
 */
export async function streamReport(engine: Engine, stream: WeightStream, seconds: number, trace: MaskTrace, flashGBps: number | undefined) {
  const s = engine.streamSetup!;
  const c = stream.counters;
  const device = resolveDevice(DEFAULT_DEVICE, { dramBytes: s.dramBytes, flashGBps });
  const sim = await simulateTrace(trace, {
    policy: s.policy,
    device,
    bits: { embedding: 32, lm_head: 32, attention: 32, mlp: 32, kv_cache: 32 },
    cacheEntries: [...s.cacheEntries],
  });
  // every forward pass is one token for the simulator and here (prompt tokens included)
  const tokens = Math.max(1, traceTokens(trace));
  const memory = engine.exports.memory as WebAssembly.Memory;
  return {
    stream: true,
    policy: s.policy,
    dram_budget_bytes: s.dramBytes,
    minimum_dram_bytes: s.minimumBytes,
    cache_entries: { input: s.cacheEntries[0], hidden: s.cacheEntries[1] },
    cache_bytes: s.cacheBytes,
    stage_bytes: s.stageBytes,
    flash_gbps: flashGBps ?? null,
    tok_s: tokens / seconds,
    storage_bytes_per_token: c.bytes / tokens,
    storage_reads_per_token: c.reads / tokens,
    fetch_seconds_per_token: c.seconds / tokens,
    pacing_seconds_per_token: c.pacingSeconds / tokens,
    hit_rate: streamHitRates(engine).overall,
    arena_bytes: engine.memoryBytes(),
    peak_wasm_memory_bytes: memory.buffer.byteLength,
    /** wasm memory outside the budgeted arena: the runtime's own pages and data segments */
    runtime_overhead_bytes: memory.buffer.byteLength - engine.memoryBytes(),
    simulated_tok_s: sim.tok_s,
    simulated_hit_rate: sim.hit_rate.overall,
    simulated_flash_bytes_per_token: sim.flash_bytes_per_token,
    simulated_device: { name: device.name, flash_gbps: device.flashGBps, dram_gbps: device.dramGBps, concurrent_io: device.concurrentIO },
    note: "simulated_tok_s counts memory reads only (no compute); measured tok_s includes compute and the host's read path",
  };
}

export type StreamReport = Awaited<ReturnType<typeof streamReport>>;

export function formatStreamSummary(r: StreamReport): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(3)} MB`;
  return (
    `stream: ${r.tok_s.toFixed(1)} tok/s measured vs ${r.simulated_tok_s.toPrecision(4)} simulated (flash ${r.simulated_device.flash_gbps} GB/s${r.flash_gbps ? ", paced" : ", not paced"}); ` +
    `${mb(r.storage_bytes_per_token)} read from storage per token (simulated ${mb(r.simulated_flash_bytes_per_token)}), hit rate ${(100 * r.hit_rate).toFixed(2)}% (simulated ${(100 * r.simulated_hit_rate).toFixed(2)}%); ` +
    `peak wasm memory ${mb(r.peak_wasm_memory_bytes)} (arena ${mb(r.arena_bytes)}) for a ${mb(r.dram_budget_bytes)} budget (minimum ${mb(r.minimum_dram_bytes)})\n`
  );
}
