// `dip simulate`: the Flash -> DRAM simulator fed by the engine's real masks (--model, --text), or
// replaying a recorded mask trace (--trace). Both paths end in the same replay of the same trace,
// so a live run and the replay of its --trace-out give identical JSON. With --stream the model runs
// on the streaming engine (host/stream/weights.ts) and the measured numbers are printed beside the simulated.
import type { Argv, ArgumentsCamelCase } from "yargs";
import { applySparsity, openModel, progress, readStories, UsageError, withModel, withSparsity, withStories, type ModelArgs, type SparsityArgs } from "./common.js";
import { formatSimSummary, settingsFromArgs, withSimulatorOptions, writeSimReport, type SimulateArgs } from "./sim-options.js";
import { perplexity, tokenStream } from "../../eval.js";
import { MaskRecorder, modelDims } from "../../sim/run.js";
import { simulateTrace, simulateTraceWith, type SimResult, type SimSettings } from "../../sim/simulate.js";
import { checkTraceMatchesModel, type MaskTrace } from "../../sim/trace.js";
import { readTraceFile, writeTraceFile } from "../trace-file.js";
import { readAdaptersFile } from "../adapters-file.js";
import { formatStreamSummary, openStreamed, resetStreamCounters, streamReport, type StreamReport } from "./stream-options.js";
import { parseBits } from "../../sim/devices.js";
import { adaptersByteSize } from "../../lora.js";

interface Args extends ModelArgs, SparsityArgs, SimulateArgs {
  stream?: boolean;
  "stage-bytes"?: string;
  text?: string;
  stories: number;
  "first-story": number;
  window?: number;
  "trace-out"?: string;
}

export type SimulateOutput = SimResult & { ppl: number | null; mean_nll: number | null; eval_tokens: number | null };

function withEvaluation(result: SimResult, trace: MaskTrace): SimulateOutput {
  const e = trace.header.evaluation;
  return { ...result, ppl: e?.ppl ?? null, mean_nll: e?.mean_nll ?? null, eval_tokens: e?.tokens ?? null };
}

/** LoRA adapters are read every token, so they stay resident: add them to the DRAM the configuration needs. */
function withAdapterMemory(r: SimResult, adapterBytes: number): SimResult & { adapter_bytes: number } {
  const memory = r.memory_bytes + adapterBytes;
  const reduction = r.dense_footprint_bytes > 0 ? 1 - memory / r.dense_footprint_bytes : 0;
  return { ...r, memory_bytes: memory, memory_reduction: reduction, adapter_bytes: adapterBytes };
}

/** A recorded run: its masks, and with --stream the measured side of the streamed engine. */
interface RecordedRun {
  trace: MaskTrace;
  stream?: StreamReport;
}

/**
 * Runs the model over the stories with the masks recorded. DIP-CA reads a live cache: the
 * simulator's (stepping along with the engine), or with --stream the engine's own column cache.
 */
export async function recordRun(a: ArgumentsCamelCase<Args>): Promise<RecordedRun> {
  const { file, stories } = await readStories(a.text, a["first-story"], a.stories);
  const settings = settingsFromArgs(a);
  const streamed = a.stream ? await openStreamed(a) : null;
  const o = streamed ?? (await openModel(a));
  const spec = await applySparsity(o, a);
  if (spec.method === "dip-ca" && settings.policy === "belady") {
    throw new UsageError("dip-ca chooses masks from the live cache state, which belady (an offline policy) cannot provide: use --policy lru or lfu");
  }
  const recorder = new MaskRecorder(o.engine, { settings, live: spec.method === "dip-ca" && !streamed });
  const stream = tokenStream(o.tokenizer, stories);
  let sequence = -1;
  if (streamed) resetStreamCounters(streamed);
  const t0 = performance.now();
  const r = perplexity(o.engine, stream, {
    window: a.window,
    onProgress: progress("simulate"),
    onStep: ({ sequence: s }) => {
      if (s !== sequence) {
        recorder.beginSequence(0); // each evaluation window is one sequence: fresh KV and caches
        sequence = s;
      }
      recorder.afterStep();
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  recorder.detach();
  const trace = recorder.trace({ ppl: r.ppl, mean_nll: r.mean_nll, tokens: r.tokens, text: file, stories: stories.length });
  if (!streamed) return { trace };
  try {
    return { trace, stream: await streamReport(streamed, seconds, trace, a) };
  } finally {
    streamed.stream.close();
  }
}

/** --stream: the simulator sees the real caches (their capacities, the stream's bits per weight, one tied matrix). */
function streamedSettings(a: ArgumentsCamelCase<Args>, r: StreamReport, tied: boolean): SimSettings {
  const bits = a.bits !== undefined ? parseBits(a.bits, r.weight_bits) : r.weight_bits;
  return { ...settingsFromArgs(a), bits, cacheEntries: [r.cache_entries.input, r.cache_entries.hidden], tiedEmbeddings: tied };
}

export const simulateCommand = {
  command: "simulate",
  describe: "Flash -> DRAM cache simulation of the engine's real masks (tokens/s, hit rate, bytes, memory, ppl)",
  builder: (y: Argv) =>
    withStories(
      withSimulatorOptions(withSparsity(withModel(y)))
        .option("trace", { type: "string", describe: "replay this mask trace instead of running the model (docs/trace-format.md)" })
        .option("trace-out", { type: "string", describe: "also write the run's masks as a trace" }),
    )
      .option("stream", { type: "boolean", default: false, describe: "run the streaming engine: MLP columns read from the --model .dipstream file into a --dram cache (--flash-gbps paces the reads); prints measured next to simulated" })
      .option("stage-bytes", { type: "string", describe: "--stream: staging area for columns read but not cached, e.g. 4MB; default 1 MiB" }),
  handler: async (a: ArgumentsCamelCase<Args>) => {
    let trace: MaskTrace;
    let result: SimResult;
    let streamOut: StreamReport | undefined;
    if (a.stream && a.trace) throw new UsageError("--stream runs the model on the streaming engine; it cannot replay --trace");
    if (a.trace) {
      trace = await readTraceFile(a.trace);
      if (a.model) {
        const o = await openModel(a);
        checkTraceMatchesModel(trace.header, modelDims(o.engine), a.trace);
      }
      result = await simulateTrace(trace, settingsFromArgs(a));
    } else {
      const run = await recordRun(a);
      trace = run.trace;
      streamOut = run.stream;
      if (a["trace-out"]) await writeTraceFile(a["trace-out"], trace);
      result = await simulateTrace(trace, streamOut ? streamedSettings(a, streamOut, streamOut.tied_embeddings) : settingsFromArgs(a));
    }
    const adapterBytes = a.adapters ? adaptersByteSize(await readAdaptersFile(a.adapters)) : 0;
    if (a.adapters) result = withAdapterMemory(result, adapterBytes);
    const out = { ...withEvaluation(result, trace), ...(streamOut ? { stream: streamOut } : {}) };
    const adapterLine = a.adapters ? `adapters       ${(adapterBytes / 1e6).toFixed(3)} MB of LoRA weights, always resident (included in memory)\n` : "";
    process.stdout.write(
      a.json
        ? JSON.stringify(out, null, 2) + "\n"
        : formatSimSummary(result) + adapterLine + (out.ppl !== null ? `perplexity     ${out.ppl.toFixed(4)} over ${out.eval_tokens} tokens\n` : "") + (streamOut ? formatStreamSummary(streamOut) : ""),
    );
    if (a.report) {
      let accuracy = "";
      if (out.ppl !== null) {
        const e = trace.header.evaluation!;
        accuracy = `\n## Accuracy\n\nPerplexity ${out.ppl.toFixed(4)} (mean NLL ${out.mean_nll!.toFixed(5)}) over ${out.eval_tokens} predicted tokens of ${e.stories ?? "?"} stories${e.text ? ` of ${e.text}` : ""}, measured in the same run that produced the masks.\n`;
      }
      await writeSimReport(result, a.report, undefined, accuracy);
    }
  },
};

export { simulateTraceWith };
