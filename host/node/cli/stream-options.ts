// `--stream --dram BYTES [--flash-gbps X] [--policy lru]` for generate and eval: run a .dipstream
// model with its MLP columns read from storage into a DRAM-budgeted cache, and report measured
// numbers beside the simulator's prediction for the same masks and settings (SIMULATOR.md).
import type { Argv } from "yargs";
import { Engine, type WeightDtype } from "../../engine.js";
import { ENGINE_DTYPE_OF } from "../../stream/format.js";
import { openStreamFile, type OpenStream } from "../stream-file.js";
import { resolveModelPath } from "../resolve.js";
import { STREAM_POLICIES, StreamBudgetError, type StreamIO, type StreamPolicy } from "../../stream/weights.js";
import { parseSize } from "../../sim/devices.js";
import type { MaskTrace } from "../../sim/trace.js";
import { formatStreamSummary, resetStreamCounters as resetCounters, streamReport as report, F32_BITS, type StreamReport } from "../../stream/report.js";
import { buildOptions, tokenizerFor, UsageError, type ModelArgs, type Opened } from "./common.js";

export interface StreamArgs {
  stream?: boolean;
  dram?: string;
  "flash-gbps"?: number;
  policy?: string;
  "stage-bytes"?: string;
  "stream-io"?: string;
}

export function withStream<T>(y: Argv<T>) {
  return y
    .option("stream", { type: "boolean", default: false, describe: "read MLP columns from the --model .dipstream file on demand (see dip convert --stream-layout)" })
    .option("dram", { type: "string", describe: "--stream: DRAM budget for everything in wasm memory, e.g. 700MB, 2e6 (powers of 10)" })
    .option("flash-gbps", { type: "number", describe: "--stream: pace reads to this Flash bandwidth, GB/s (default: the storage's own speed; the simulator then assumes the mobile profile)" })
    .option("policy", { type: "string", default: "lru", describe: `--stream: column cache policy: ${STREAM_POLICIES.join("|")}` })
    .option("stage-bytes", { type: "string", describe: "--stream: staging area for columns read but not cached (a mask larger than its cache), e.g. 4MB; default 1 MiB" })
    .option("stream-io", { type: "string", choices: ["thread", "inline"], describe: "--stream: positioned reads on an I/O thread beside the engine (default) or on the engine thread" });
}

export interface StreamOpened extends Opened {
  stream: OpenStream;
  /** the read-bandwidth probe just before the measured run (GB/s) */
  dramGBpsBefore?: number;
}

/** Opens a .dipstream model for streaming; null without --stream. */
export async function openStreamed(a: ModelArgs & StreamArgs): Promise<StreamOpened | null> {
  if (!a.stream) {
    if (a.dram !== undefined || a["flash-gbps"] !== undefined || a["stream-io"] !== undefined) throw new UsageError("--dram, --flash-gbps and --stream-io apply to --stream runs");
    return null;
  }
  if (a.dram === undefined) throw new UsageError("--stream needs a DRAM budget: --dram BYTES (e.g. 700MB)");
  const dramBytes = parseSize(a.dram, "--dram");
  const policy = a.policy ?? "lru";
  if (!(STREAM_POLICIES as string[]).includes(policy)) throw new UsageError(`--policy must be one of ${STREAM_POLICIES.join(", ")} with --stream`);
  const gbps = a["flash-gbps"];
  if (gbps !== undefined && !(gbps > 0)) throw new UsageError(`--flash-gbps must be > 0, got ${gbps}`);
  const path = resolveModelPath(a.model);
  if (!path.toLowerCase().endsWith(".dipstream")) throw new UsageError(`--stream reads a .dipstream file; convert first: dip convert --model ${path} --stream-layout --out model.dipstream`);
  const stream = openStreamFile(path);
  try {
    const engineDtype = ENGINE_DTYPE_OF[stream.stream.header.dtype];
    if (a.dtype !== undefined && a.dtype !== engineDtype) throw new UsageError(`${path} stores its weights in ${stream.stream.header.dtype}: stream it with --dtype ${engineDtype} or without --dtype`);
    stream.stream.flashGBps = gbps;
    const engine = await Engine.create(stream.model, {
      ...(a.dtype !== undefined ? { dtype: a.dtype as WeightDtype } : {}),
      ...buildOptions(a),
      stream: { source: stream.stream, dramBytes, policy: policy as StreamPolicy, stageBytes: a["stage-bytes"] !== undefined ? parseSize(a["stage-bytes"], "--stage-bytes") : undefined, io: a["stream-io"] as StreamIO | undefined },
    });
    const tokenizer = await tokenizerFor(stream.model, path);
    return { model: stream.model, tokenizer, engine, path, stream };
  } catch (e) {
    stream.close();
    if (e instanceof StreamBudgetError) throw new UsageError(e.message);
    throw e;
  }
}

/** Probes the read bandwidth and zeroes the stream's counters, right before the measured run. */
export function resetStreamCounters(o: StreamOpened): void {
  o.dramGBpsBefore = resetCounters(o.engine, o.stream.stream);
}

/** The measured side and the simulator's prediction (host/stream/report.ts). */
export async function streamReport(o: StreamOpened, seconds: number, trace: MaskTrace, a: StreamArgs): Promise<StreamReport> {
  return report(o.engine, o.stream.stream, seconds, trace, a["flash-gbps"], o.dramGBpsBefore);
}

export { formatStreamSummary, F32_BITS, type StreamReport };
