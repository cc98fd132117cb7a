// `--stream --dram BYTES [--flash-gbps X] [--policy lru]` for generate and eval: run a .dipstream
// model with its MLP columns read from storage into a DRAM-budgeted cache, and report measured
// numbers beside the simulator's prediction for the same masks and settings (SIMULATOR.md).
import type { Argv } from "yargs";
import { Engine, type WeightDtype } from "../engine.js";
import { openStreamFile, type OpenStream } from "../node/stream-file.js";
import { resolveModelPath } from "../resolve.js";
import { STREAM_POLICIES, StreamBudgetError, type StreamPolicy } from "../stream.js";
import { parseSize, resolveDevice, hostDevice, DEFAULT_DEVICE, type DeviceProfile } from "../sim/devices.js";
import { simulateTrace, type SequenceResult, type SimResult } from "../sim/simulate.js";
import { kvCacheBytes } from "../sim/presets.js";
import { traceTokens, type MaskTrace } from "../sim/trace.js";
import { tokenizerFor, UsageError, type ModelArgs, type Opened } from "./common.js";

export interface StreamArgs {
  stream?: boolean;
  dram?: string;
  "flash-gbps"?: number;
  policy?: string;
  "stage-bytes"?: string;
}

export function withStream<T>(y: Argv<T>) {
  return y
    .option("stream", { type: "boolean", default: false, describe: "read MLP columns from the --model .dipstream file on demand (see dip convert --stream-layout)" })
    .option("dram", { type: "string", describe: "--stream: DRAM budget for everything in wasm memory, e.g. 700MB, 2e6 (powers of 10)" })
    .option("flash-gbps", { type: "number", describe: "--stream: pace reads to this Flash bandwidth, GB/s (default: the storage's own speed; the simulator then assumes the mobile profile)" })
    .option("policy", { type: "string", default: "lru", describe: `--stream: column cache policy: ${STREAM_POLICIES.join("|")}` })
    .option("stage-bytes", { type: "string", describe: "--stream: staging area for columns read but not cached (a mask larger than its cache), e.g. 4MB; default 1 MiB" });
}

export interface StreamOpened extends Opened {
  stream: OpenStream;
  /** the read-bandwidth probe just before the measured run (GB/s) */
  dramGBpsBefore?: number;
}

/** Opens a .dipstream model for streaming; null without --stream. */
export async function openStreamed(a: ModelArgs & StreamArgs): Promise<StreamOpened | null> {
  if (!a.stream) {
    if (a.dram !== undefined || a["flash-gbps"] !== undefined) throw new UsageError("--dram and --flash-gbps apply to --stream runs");
    return null;
  }
  if (a.dram === undefined) throw new UsageError("--stream needs a DRAM budget: --dram BYTES (e.g. 700MB)");
  if ((a.dtype ?? "f32") !== "f32") throw new UsageError("--stream runs f32 weights only in this version");
  const dramBytes = parseSize(a.dram, "--dram");
  const policy = a.policy ?? "lru";
  if (!(STREAM_POLICIES as string[]).includes(policy)) throw new UsageError(`--policy must be one of ${STREAM_POLICIES.join(", ")} with --stream`);
  const gbps = a["flash-gbps"];
  if (gbps !== undefined && !(gbps > 0)) throw new UsageError(`--flash-gbps must be > 0, got ${gbps}`);
  const path = resolveModelPath(a.model);
  if (!path.toLowerCase().endsWith(".dipstream")) throw new UsageError(`--stream reads a .dipstream file; convert first: dip convert --model ${path} --stream-layout --out model.dipstream`);
  const stream = openStreamFile(path);
  try {
    stream.stream.flashGBps = gbps;
    const engine = await Engine.create(stream.model, {
      dtype: "f32" as WeightDtype,
      stream: { source: stream.stream, dramBytes, policy: policy as StreamPolicy, stageBytes: a["stage-bytes"] !== undefined ? parseSize(a["stage-bytes"], "--stage-bytes") : undefined },
    });
    const tokenizer = await tokenizerFor(stream.model, path);
    return { model: stream.model, tokenizer, engine, path, stream };
  } catch (e) {
    stream.close();
    if (e instanceof StreamBudgetError) throw new UsageError(e.message);
    throw e;
  }
}

/** Sums the simulator counters of the engine's own (real) caches. */
function liveCounters(engine: Engine): { flash: number; dram: number } {
  const x = engine.exports as unknown as { simTotalFlashBytes(): number; simTotalDramBytes(): number };
  return { flash: x.simTotalFlashBytes(), dram: x.simTotalDramBytes() };
}

/** Probes the read bandwidth and zeroes the stream's counters, right before the measured run. */
export function resetStreamCounters(o: StreamOpened): void {
  o.dramGBpsBefore = o.engine.measureReadBandwidth().gbps;
  o.stream.stream.resetCounters();
  o.engine.resetBytes();
  (o.engine.exports as unknown as { simResetCounters(): void }).simResetCounters();
}

export const F32_BITS = { embedding: 32, lm_head: 32, attention: 32, mlp: 32, kv_cache: 32 };

/**
 * The measured side (tok/s, bytes from storage per token, hit rate, memory) and the simulator's
 * prediction for the recorded masks with the same cache capacities and policy, on two devices:
 * this machine (host: DRAM bandwidth from the read-sum probe just before and after the run, the emulated
 * Flash bandwidth, serial I/O), which is the one to compare with, and the mobile profile with the
 * same Flash bandwidth. Without --flash-gbps the storage's speed is not a setting, so only the
 * mobile prediction (at 1 GB/s) is given.
 */
export async function streamReport(o: StreamOpened, seconds: number, trace: MaskTrace, a: StreamArgs) {
  const s = o.engine.streamSetup!;
  const c = o.stream.stream.counters;
  const live = liveCounters(o.engine);
  const engineBytes = o.engine.bytesRead();
  // the probe just before and just after the run: their mean stands for the run (other processes
  // sharing the machine change the bandwidth from one second to the next)
  const after = o.engine.measureReadBandwidth().gbps;
  const dramGBps = o.dramGBpsBefore !== undefined ? (o.dramGBpsBefore + after) / 2 : after;
  const paced = a["flash-gbps"];
  const predict = (device: DeviceProfile) =>
    simulateTrace(trace, { policy: s.policy, device, bits: F32_BITS, cacheEntries: [...s.cacheEntries], tiedEmbeddings: o.model.config.tiedEmbeddings });
  const mobileDevice = resolveDevice(DEFAULT_DEVICE, { dramBytes: s.dramBytes, flashGBps: paced });
  const mobile = await predict(mobileDevice);
  const host = paced !== undefined ? await predict(hostDevice(s.dramBytes, dramGBps, paced)) : undefined;
  const sim = host ?? mobile;
  // every forward pass is one token for the simulator and here (prompt tokens included)
  const tokens = Math.max(1, traceTokens(trace));
  const perToken = (x: number) => x / tokens;
  const p = pooled(sim);
  // the simulator's non-MLP DRAM reads: static weights plus the KV cache at the live length
  const kvBytes = p.sum((q) => kvCacheBytes(trace.header.dims, F32_BITS, q.prompt_tokens + (q.tokens + 1) / 2)) / p.tokens;
  const fixedDram = p.sum((q) => q.dram_bytes_per_token - q.mlp_dram_bytes_per_token) / p.tokens;
  const memory = o.engine.exports.memory as WebAssembly.Memory;
  const tokS = tokens / seconds;
  return {
    stream: true,
    policy: s.policy,
    dram_budget_bytes: s.dramBytes,
    minimum_dram_bytes: s.minimumBytes,
    cache_entries: { input: s.cacheEntries[0], hidden: s.cacheEntries[1] },
    cache_bytes: s.cacheBytes,
    stage_bytes: s.stageBytes,
    flash_gbps: paced ?? null,
    tied_embeddings: o.model.config.tiedEmbeddings,
    tok_s: tokS,
    storage_bytes_per_token: perToken(c.bytes),
    storage_reads_per_token: perToken(c.reads),
    fetch_seconds_per_token: perToken(c.seconds),
    pacing_seconds_per_token: perToken(c.pacingSeconds),
    hit_rate: live.flash + live.dram > 0 ? live.dram / (live.flash + live.dram) : 1,
    arena_bytes: o.engine.memoryBytes(),
    peak_wasm_memory_bytes: memory.buffer.byteLength,
    /** wasm memory outside the budgeted arena: the runtime's own pages and data segments */
    runtime_overhead_bytes: memory.buffer.byteLength - o.engine.memoryBytes(),
    /** read-sum probe over the resident weights: mean of just before and just after the run */
    dram_read_gbps: dramGBps,
    dram_read_gbps_before_after: [o.dramGBpsBefore ?? null, after],
    simulated_tok_s: p.tok_s,
    measured_over_simulated: tokS / p.tok_s,
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
  };
}

function deviceEcho(d: DeviceProfile) {
  return { name: d.name, flash_gbps: d.flashGBps, dram_gbps: d.dramGBps, concurrent_io: d.concurrentIO };
}

export type StreamReport = Awaited<ReturnType<typeof streamReport>>;

export function formatStreamSummary(r: StreamReport): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(3)} MB`;
  const host = r.flash_gbps !== null;
  return (
    `stream: ${r.tok_s.toFixed(2)} tok/s measured vs ${r.simulated_tok_s.toPrecision(4)} simulated on ${host ? `this machine (DRAM ${r.dram_read_gbps.toFixed(2)} GB/s measured, Flash ${r.flash_gbps} GB/s paced, serial I/O)` : "the mobile profile (Flash not paced)"}: ` +
    `measured / simulated ${r.measured_over_simulated.toFixed(3)}` +
    (host ? `; mobile profile ${r.mobile_simulated_tok_s.toPrecision(4)} tok/s` : "") +
    `\nstream: ${mb(r.storage_bytes_per_token)} read from storage per token in ${r.storage_reads_per_token.toFixed(0)} reads (simulated ${mb(r.simulated_flash_bytes_per_token)} from Flash), hit rate ${(100 * r.hit_rate).toFixed(2)}% (simulated ${(100 * r.simulated_hit_rate).toFixed(2)}%); ` +
    `peak wasm memory ${mb(r.peak_wasm_memory_bytes)} (arena ${mb(r.arena_bytes)}) for a ${mb(r.dram_budget_bytes)} budget (minimum ${mb(r.minimum_dram_bytes)})\n`
  );
}
